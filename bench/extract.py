"""Pipeline throughput (`ingest` + `build`, pages/s) against two peers, in one run.

    .venv/bin/python bench/extract.py [--mb 104] [--repeat 3]

Corpus: every HTML page of the real archives in ../shared/data/real/warc (as the issue
asks; add --with-html for the loose pages of real/html too), written again and again under
new URLs into gzip WARCs until it holds --mb MB of HTML. Peers, on the same records:
  limit     fastwarc iterating the records + resiliparse parsing each page and listing its
            <a href> (nothing else), one core;
  warcio+bs4  warcio + BeautifulSoup (html.parser) listing <a href>, the usual WARC link tool
            (timed on a sample of pages: it is slow).
Ours: `linkatlas ingest` + `linkatlas build` in a subprocess (every core), and its peak memory:
the sum of the proportional set sizes (PSS) of every process of the tree, sampled every 20 ms
in one more run (sampling takes CPU, so the timed runs are not sampled; forked workers share
pages, which PSS counts once). --files 1 writes one archive, as a single
big WARC from a crawl would be.
Prints medians over --repeat runs and the ratios the issue sets (≥ 0.5× limit, ≥ 10× bs4).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.parse.html import HTMLTree
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).parent))
from corpus import REAL, ROOT, ours_run, replicate  # noqa: E402  (bench/corpus.py)


def real_pages(with_html: bool = False) -> list[tuple[str, bytes]]:
    """(content type, body) of every HTML page of the real archives (and of real/html)."""
    sys.path.insert(0, str(ROOT))
    from linkatlas.extract.capture import Capture
    from linkatlas.extract.records import read_archive

    pages: list[tuple[str, bytes]] = []
    for path in sorted((REAL / "warc").rglob("*")):
        if path.is_file():
            for item in read_archive(path):
                if (isinstance(item, Capture) and item.status == 200 and item.body
                        and "html" in item.header("Content-Type").lower()):
                    pages.append((item.header("Content-Type"), item.body))
    for path in sorted((REAL / "html").rglob("*.html*")) if with_html else []:
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        pages.append(("text/html", body))
    return pages


def write_corpus(folder: Path, megabytes: int, with_html: bool = False, files_wanted: int = 0
                 ) -> tuple[list[Path], int, int]:
    """A WARC per pass over the real pages, or files_wanted WARCs of about equal size."""
    pages = real_pages(with_html)
    target = megabytes * 1024 * 1024
    per_file = -(-target // files_wanted) if files_wanted else sum(len(b) for _, b in pages)

    def write_one(writer: WARCWriter, count: int, url: str) -> int:
        content_type, body = pages[count % len(pages)]
        http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Date": "2024-01-01T00:00:00Z",
                               "WARC-IP-Address": "203.0.113.9"}))
        return len(body)

    return replicate(folder, megabytes, ".warc.gz", write_one, per_file)


def limit_run(files: list[Path]) -> tuple[float, int]:
    started = time.perf_counter()
    links = 0
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response,
                                          parse_http=True):
                tree = HTMLTree.parse_from_bytes(record.reader.read())
                if tree.body is None:
                    continue
                # .values() once: iterating the live collection re-runs the query per item
                anchors = tree.body.query_selector_all("a[href]").values()
                links += len([a.getattr("href") for a in anchors])
    return time.perf_counter() - started, links


def bs4_run(files: list[Path], sample: int) -> tuple[float, int]:
    from bs4 import BeautifulSoup
    from warcio.archiveiterator import ArchiveIterator as WarcioIterator

    started = time.perf_counter()
    done = 0
    for path in files:
        with path.open("rb") as stream:
            for record in WarcioIterator(stream):
                if record.rec_type != "response":
                    continue
                soup = BeautifulSoup(record.content_stream().read(), "html.parser")
                [a["href"] for a in soup.find_all("a", href=True)]
                done += 1
                if done >= sample:
                    return time.perf_counter() - started, done
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=104)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bs4-sample", type=int, default=400)
    parser.add_argument("--with-html", action="store_true")
    parser.add_argument("--files", type=int, default=0,
                        help="write the corpus into this many WARCs (default: one per pass)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="la-corpus-"))
    try:
        files, pages, size = write_corpus(folder, args.mb, args.with_html, args.files)
        print(f"corpus: {pages} pages, {size / 1e6:.0f} MB of HTML in {len(files)} WARC files, "
              f"{sum(f.stat().st_size for f in files) / 1e6:.0f} MB gzip; {os.cpu_count()} cores")
        limit, bs4, ours = [], [], []
        for _ in range(args.repeat):
            seconds, _ = limit_run(files)
            limit.append(pages / seconds)
            seconds, done = bs4_run(files, args.bs4_sample)
            bs4.append(done / seconds)
            seconds, _, _ = ours_run(files)
            ours.append(pages / seconds)
        rows = [("limit (fastwarc + resiliparse a[href], 1 core)", statistics.median(limit)),
                ("warcio + BeautifulSoup", statistics.median(bs4)),
                ("linkatlas ingest + build (all cores)", statistics.median(ours))]
        print(f"{'pipeline':50} {'pages/s':>10}")
        for name, rate in rows:
            print(f"{name:50} {rate:10.0f}")
        print(f"ratio ours / limit: {statistics.median(ours) / statistics.median(limit):.2f} "
              f"(target ≥ 0.5)")
        print(f"ratio ours / warcio+bs4: {statistics.median(ours) / statistics.median(bs4):.1f} "
              f"(target ≥ 10)")
        _, _, peak = ours_run(files, sampled=True)
        print(f"peak memory of ingest+build (PSS of all its processes): {peak:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
