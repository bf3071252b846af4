"""WAT throughput: `ingest` + `build` on WAT files against a limit measured in the same run.

    .venv/bin/python bench/wat.py [--mb 300] [--repeat 1]

Corpus: every WAT record of the real WAT files in ../shared/data/real/warc (*.wat*), written
again and again under new page URLs (the JSON's WARC-Target-URI and the record's) into gzip
WAT files until they hold --mb MB of WAT JSON, as bench/extract.py does for WARC pages.
  limit  fastwarc iterating the metadata records + orjson parsing each and listing its
         links (Head.Link and Links), nothing else, one core;
  ours   `linkatlas ingest` + `linkatlas build` in a subprocess (every core).
Then the cost per link, in this process (one core), of each step of our WAT path on the same
files: reading the records (fastwarc + orjson + capture_from_wat), listing the links
(wat_links), and the whole capture_rows (URL normalization, keys, registered domains, rows);
and URL normalization alone next to compiled URL parsers from PyPI (ada-url, yarl, rfc3986,
when installed) on the corpus's links, with how many of their results equal ours.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
from fastwarc.warc import ArchiveIterator, WarcRecordType
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.shared import locate  # noqa: E402  (the one rule that finds shared/)

REAL = locate("data", "real")
sys.path.insert(0, str(Path(__file__).parent))

from extract import ours_run  # noqa: E402  (bench/extract.py: ingest + build, timed)


def real_wat() -> list[tuple[str, dict]]:
    """(WARC-Date, parsed JSON) of every JSON metadata record of the real WAT files."""
    found = []
    for path in sorted((REAL / "warc").glob("*.wat*")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.metadata):
                if "json" in record.headers.get("Content-Type", ""):
                    found.append((record.headers.get("WARC-Date", ""),
                                  orjson.loads(record.reader.read())))
    return found


def write_corpus(folder: Path, megabytes: int, files_wanted: int) -> tuple[list[Path], int]:
    """files_wanted gzip WAT files holding megabytes MB of WAT JSON; returns them and the
    number of records."""
    records = real_wat()
    target = megabytes * 1024 * 1024
    per_file = -(-target // files_wanted)
    written = count = 0
    files: list[Path] = []
    while written < target:
        file_end = min(target, written + per_file)
        path = folder / f"corpus-{len(files):03d}.warc.wat.gz"
        with path.open("wb") as stream:
            writer = WARCWriter(stream, gzip=True)
            while written < file_end:
                date, doc = records[count % len(records)]
                url = f"http://site{count % 997}.bench.test/page/{count}.html"
                header = doc["Envelope"]["WARC-Header-Metadata"]
                if "WARC-Target-URI" in header and "://" in header["WARC-Target-URI"]:
                    header["WARC-Target-URI"] = url
                body = orjson.dumps(doc)
                record = writer.create_warc_record(
                    url, "metadata", payload=io.BytesIO(body), length=len(body),
                    warc_content_type="application/json",
                    warc_headers_dict={"WARC-Date": date})
                writer.write_record(record)
                written += len(body)
                count += 1
        files.append(path)
    return files, count


def _links(doc: dict) -> list:
    meta = (doc.get("Envelope", {}).get("Payload-Metadata", {})
            .get("HTTP-Response-Metadata", {}).get("HTML-Metadata") or {})
    return list((meta.get("Head") or {}).get("Link") or []) + list(meta.get("Links") or [])


def limit_run(files: list[Path]) -> tuple[float, int, int]:
    started = time.perf_counter()
    records = links = 0
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.metadata):
                links += len([e.get("url") for e in _links(orjson.loads(record.reader.read()))])
                records += 1
    return time.perf_counter() - started, records, links


def breakdown(files: list[Path]) -> dict[str, float]:
    """Seconds of each cumulative step of our WAT path, one core, and the pages and links."""
    from linkatlas.extract.capture import Capture
    from linkatlas.extract.records import read_archive
    from linkatlas.extract.rows import capture_rows
    from linkatlas.extract.wat import wat_links

    out: dict[str, float] = {}
    started = time.perf_counter()
    captures = [c for path in files for c in read_archive(path) if isinstance(c, Capture)]
    out["read"] = time.perf_counter() - started
    started = time.perf_counter()
    listed = [wat_links(c.wat or {}) for c in captures]
    out["wat_links"] = time.perf_counter() - started
    started = time.perf_counter()
    rows = [capture_rows(c) for c in captures]
    out["capture_rows"] = time.perf_counter() - started
    out["pages"] = sum(1 for c in captures if c.wat)
    out["links_listed"] = sum(map(len, listed))
    out["link_rows"] = sum(len(r[1]) for r in rows if r)
    return out


def url_parsers(files: list[Path], sample: int) -> list[tuple[str, float, float]]:
    """(parser, µs per link, share of results equal to urls.normalize) on the corpus's
    (link, page URL) pairs."""
    from linkatlas import urls
    from linkatlas.extract.capture import Capture
    from linkatlas.extract.records import read_archive
    from linkatlas.extract.wat import wat_links

    pairs: list[tuple[str, str]] = []
    for path in files:
        for c in read_archive(path):
            if isinstance(c, Capture) and c.wat:
                pairs += [(raw, c.url) for raw, *_ in wat_links(c.wat)]
            if len(pairs) >= sample:
                break
        if len(pairs) >= sample:
            break
    ours = [urls.normalize(raw, base) for raw, base in pairs]
    candidates = {"linkatlas urls.normalize": lambda raw, base: urls.normalize(raw, base)}
    try:
        import ada_url

        candidates["ada-url join_url"] = lambda raw, base: ada_url.join_url(base, raw)
    except ImportError:
        pass
    try:
        import yarl

        candidates["yarl URL.join"] = lambda raw, base: str(yarl.URL(base).join(yarl.URL(raw)))
    except ImportError:
        pass
    try:
        import rfc3986

        candidates["rfc3986 resolve+normalize"] = lambda raw, base: (
            rfc3986.uri_reference(raw).resolve_with(base).normalize().unsplit())
    except ImportError:
        pass
    results = []
    for name, parse in candidates.items():
        got: list[str | None] = []
        started = time.perf_counter()
        for raw, base in pairs:
            try:
                got.append(parse(raw, base))
            except Exception:  # noqa: BLE001 - a parser's refusal is a result too
                got.append(None)
        seconds = time.perf_counter() - started
        same = sum(a == b for a, b in zip(got, ours, strict=True)) / max(len(pairs), 1)
        results.append((name, 1e6 * seconds / max(len(pairs), 1), same))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--url-sample", type=int, default=200_000)
    parser.add_argument("--memory", action="store_true",
                        help="one more run of ours, sampling its peak memory")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="la-wat-"))
    try:
        files, records = write_corpus(folder, args.mb, args.files)
        gz = sum(f.stat().st_size for f in files) / 1e6
        print(f"corpus: {records} WAT records, {args.mb} MB of WAT JSON in {len(files)} files, "
              f"{gz:.0f} MB gzip; {os.cpu_count()} cores", flush=True)
        limit, ours = [], []
        for _ in range(args.repeat):
            seconds, seen, links = limit_run(files)
            limit.append(seen / seconds)
            seconds, _ = ours_run(files)
            ours.append(seen / seconds)
        print(f"links listed by the limit: {links}")
        print(f"{'pipeline':50} {'records/s':>10}")
        for name, rate in [("limit (fastwarc + orjson + links, 1 core)", statistics.median(limit)),
                           ("linkatlas ingest + build (all cores)", statistics.median(ours))]:
            print(f"{name:50} {rate:10.0f}")
        print(f"ratio ours / limit: {statistics.median(ours) / statistics.median(limit):.2f} "
              f"(target ≥ 0.5)", flush=True)
        steps = breakdown(files)
        links = max(int(steps["links_listed"]), 1)
        print(f"our WAT path, one core: {int(steps['pages'])} pages, {links} links listed, "
              f"{int(steps['link_rows'])} link rows")
        previous = 0.0
        for step in ("read", "wat_links", "capture_rows"):
            print(f"  {step:14} {steps[step]:7.1f} s  {1e6 * steps[step] / links:6.2f} µs/link")
            previous += steps[step]
        print(f"  {'total':14} {previous:7.1f} s  {1e6 * previous / links:6.2f} µs/link")
        print("URL normalization of the corpus's links (µs/link, share equal to ours):")
        for name, micro, same in url_parsers(files, args.url_sample):
            print(f"  {name:28} {micro:6.2f} µs  {100 * same:5.1f} %")
        if args.memory:
            _, peak = ours_run(files, sampled=True)
            print(f"peak memory of ingest+build (PSS of all its processes): {peak:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
