"""WAT throughput: `ingest` + `build` on WAT files against a limit measured in the same run.

    .venv/bin/python bench/wat.py [--mb 300] [--files 4] [--repeat 1] [--memory] [--url-parsers]

Corpus: every WAT record of the real WAT files in ../shared/data/real/warc (*.wat*), written
again and again under new page URLs (the JSON's WARC-Target-URI and the record's) into gzip
WAT files until they hold --mb MB of WAT JSON (bench/corpus.py, as bench/extract.py does for
WARC pages).
  limit  fastwarc iterating the metadata records + orjson parsing each and listing its
         links (Head.Link and Links), nothing else, one core;
  ours   `linkatlas ingest` + `linkatlas build` in subprocesses (every core).
Both as wall seconds (the issue's ratio) and CPU seconds (ours: every process of ingest and
build), which the load of a shared machine disturbs less. Then the CPU cost per link of each
step of our WAT path, in this process (one core, the best of --step-repeat runs): reading the
records, parsing their JSON, listing the links, resolving and normalizing the link URLs, the
rest of the rows (keys, registered domains, dedup, visit), and writing the Parquet parts.
--url-parsers adds URL normalization alone next to compiled URL parsers from PyPI (ada-url,
yarl, rfc3986, when installed), with how many of their results equal ours.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from fastwarc.warc import ArchiveIterator, WarcRecordType
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).parent))
from corpus import REAL, ours_run, replicate  # noqa: E402  (bench/corpus.py)


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

    def write_one(writer: WARCWriter, count: int, url: str) -> int:
        date, doc = records[count % len(records)]
        header = doc["Envelope"]["WARC-Header-Metadata"]
        if "WARC-Target-URI" in header and "://" in header["WARC-Target-URI"]:
            header["WARC-Target-URI"] = url
        body = orjson.dumps(doc)
        writer.write_record(writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(body), length=len(body),
            warc_content_type="application/json", warc_headers_dict={"WARC-Date": date}))
        return len(body)

    per_file = -(-megabytes * 1024 * 1024 // files_wanted)
    files, count, _ = replicate(folder, megabytes, ".warc.wat.gz", write_one, per_file)
    return files, count


def _links(doc: dict) -> list:
    return _entries(doc.get("Envelope", {}).get("Payload-Metadata", {})
                    .get("HTTP-Response-Metadata", {}).get("HTML-Metadata") or {})


def _entries(meta: dict) -> list:
    """The link entries of a WAT's HTML-Metadata: Head.Link and Links."""
    return list((meta.get("Head") or {}).get("Link") or []) + list(meta.get("Links") or [])


def limit_run(files: list[Path]) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, records, links) of the limit."""
    started, cpu = time.perf_counter(), time.process_time()
    records = links = 0
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.metadata):
                links += len([e.get("url") for e in _links(orjson.loads(record.reader.read()))])
                records += 1
    return time.perf_counter() - started, time.process_time() - cpu, records, links


def _best(repeat: int, step: Callable[[], Any]) -> tuple[float, Any]:
    """The least CPU seconds of repeat runs of step, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        gc.disable()  # as in the workers, which collect rarely (extract/run.py _tune_memory)
        cpu = time.process_time()
        result = step()
        best = min(best, time.process_time() - cpu)
        gc.enable()
    return best, result


def breakdown(files: list[Path], repeat: int) -> tuple[dict[str, float], dict[str, int]]:
    """CPU seconds of each step of our WAT path on one core, and the counts it saw."""
    try:
        from linkatlas.extract.capture import Capture
        from linkatlas.extract.records import read_archive
    except ImportError:  # the code before extract/capture.py (for a before/after run)
        from linkatlas.extract.archive import Capture, read_archive  # type: ignore[no-redef]
    from linkatlas import urls
    from linkatlas.extract import run
    from linkatlas.extract.resolve import base_parts
    from linkatlas.extract.rows import capture_rows
    from linkatlas.extract.wat import wat_links

    bodies = []
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.metadata):
                bodies.append(record.reader.read())
    # The JSON our reader parses: only records that can describe a response (the test of
    # wat.capture_from_wat; until session 5 it parsed every record's)
    parsed = [body for body in bodies if b'"response"' in body]
    steps: dict[str, float] = {}
    json_seconds, _ = _best(repeat, lambda: [orjson.loads(body) and None for body in parsed])
    read_seconds, items = _best(repeat, lambda: [c for path in files
                                                 for c in read_archive(path)])
    captures = [c for c in items if isinstance(c, Capture)]
    steps["read: fastwarc, WARC headers, captures"] = read_seconds - json_seconds
    steps["parse the JSON (orjson)"] = json_seconds
    pages = [base_parts(urls.normalize(c.url) or "http://x.test/") for c in captures]
    links_seconds, listed = _best(repeat, lambda: [
        wat_links(c.wat or {}, base) for c, base in zip(captures, pages, strict=True)])
    steps["list, resolve and normalize the links (wat_links)"] = links_seconds
    rows_seconds, rows = _best(repeat, lambda: [capture_rows(c) for c in captures])
    steps["rest of the rows: keys, domains, dedup, visit"] = rows_seconds - links_seconds

    def write() -> None:
        folder = Path(tempfile.mkdtemp(prefix="la-wat-parts-"))
        parts = run._Parts(folder, 0, "bench")  # the workers' writer
        for row in rows:
            if row:
                parts.add(*row)
        parts.close()
        shutil.rmtree(folder)

    steps["write the Parquet parts"], _ = _best(repeat, write)
    counts = {"records": len(items), "pages": len(captures),
              "links": sum(map(len, listed)), "link_rows": sum(len(r[1]) for r in rows if r)}
    return steps, counts


def url_parsers(files: list[Path], sample: int) -> list[tuple[str, float, float]]:
    """(parser, µs per link, share of results equal to urls.normalize) on the corpus's
    (link, page URL) pairs."""
    from linkatlas import urls
    from linkatlas.extract.capture import Capture
    from linkatlas.extract.records import read_archive

    pairs: list[tuple[str, str]] = []
    for path in files:
        for c in read_archive(path):
            if isinstance(c, Capture) and c.wat:
                pairs += [(str(entry.get("url")), c.url) for entry in _entries(c.wat)
                          if isinstance(entry, dict) and "url" in entry]
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
    parser.add_argument("--step-repeat", type=int, default=3)
    parser.add_argument("--step-mb", type=int, default=20,
                        help="the per-step costs are measured on the first files up to this")
    parser.add_argument("--url-parsers", action="store_true")
    parser.add_argument("--url-sample", type=int, default=200_000)
    parser.add_argument("--memory", action="store_true",
                        help="one more run of ours, sampling its peak memory")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="la-wat-"))
    try:
        files, records = write_corpus(folder, args.mb, args.files)
        gz = sum(f.stat().st_size for f in files) / 1e6
        print(f"corpus: {records} WAT records, {args.mb} MB of WAT JSON in {len(files)} files, "
              f"{gz:.0f} MB gzip; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}",
              flush=True)
        limit, limit_cpu, ours, ours_cpu = [], [], [], []
        for _ in range(args.repeat):
            seconds, cpu, seen, links = limit_run(files)
            limit.append(seen / seconds)
            limit_cpu.append(cpu)
            seconds, cpu, _ = ours_run(files)
            ours.append(seen / seconds)
            ours_cpu.append(cpu)
        print(f"links listed by the limit: {links}; load {os.getloadavg()[0]:.1f}")
        print(f"{'pipeline':50} {'records/s':>10} {'CPU s':>7}")
        for name, rate, cpu in [
                ("limit (fastwarc + orjson + links, 1 core)", statistics.median(limit),
                 statistics.median(limit_cpu)),
                ("linkatlas ingest + build (all cores)", statistics.median(ours),
                 statistics.median(ours_cpu))]:
            print(f"{name:50} {rate:10.0f} {cpu:7.2f}")
        print(f"ratio ours / limit: {statistics.median(ours) / statistics.median(limit):.2f} "
              f"(target ≥ 0.5); CPU seconds, limit / ours: "
              f"{statistics.median(limit_cpu) / statistics.median(ours_cpu):.2f}", flush=True)
        sample, size = [], 0
        for path in files:  # the first files, up to --step-mb of gzip
            if sample and size + path.stat().st_size > args.step_mb * 1e6:
                break
            sample.append(path)
            size += path.stat().st_size
        steps, counts = breakdown(sample, args.step_repeat)
        per_link = max(counts["links"], 1)
        print(f"our WAT path, one core, CPU, best of {args.step_repeat} ({len(sample)} files): "
              f"{counts['records']} records, {counts['pages']} pages, {counts['links']} links "
              f"listed, {counts['link_rows']} link rows")
        for step, seconds in steps.items():
            print(f"  {step:48} {seconds:7.3f} s {1e6 * seconds / per_link:7.2f} µs/link")
        total = sum(steps.values())
        print(f"  {'total':48} {total:7.3f} s {1e6 * total / per_link:7.2f} µs/link")
        if args.url_parsers:
            print("URL normalization of the corpus's links (µs/link, share equal to ours):")
            for name, micro, same in url_parsers(files, args.url_sample):
                print(f"  {name:28} {micro:6.2f} µs  {100 * same:5.1f} %")
        if args.memory:
            _, _, peak = ours_run(files, sampled=True)
            print(f"peak memory of ingest+build (PSS of all its processes): {peak:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
