"""The measured inputs of docs/scale.md's cost model, on a WAT corpus (bench/wat.py's).

    .venv/bin/python bench/scale.py [--mb 100] [--spark local[2]]

Ingests the corpus, then writes a check log that finds every link target broken (a 404), so
the serve table holds every link and the snapshot's bytes per link are those of a snapshot
that serves everything (an upper bound: a real one serves the broken backlinks only). Builds
with DuckDB (and, with --spark MASTER, once more with the Spark engine on a copy) and prints,
per 1,000 WAT pages (response records): each stage's wall seconds and the build's CPU
seconds (all its processes); bytes per link of the WAT input, the extraction cache and the
snapshot; the peak memory (PSS of all processes) of ingest and build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import LINKATLAS  # noqa: E402  (bench/corpus.py)
from corpus import run_tree as _run  # noqa: E402
from wat import write_corpus  # noqa: E402  (bench/wat.py)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _broken_targets(data: Path) -> int:
    """A check log finding every link target of the extraction cache broken (but the pages
    themselves: a page found dead has no live links)."""
    import duckdb

    from linkatlas.observations import CheckLog, Observation

    con = duckdb.connect()
    targets = [row[0] for row in con.execute(
        f"SELECT DISTINCT url_to FROM read_parquet('{data}/extract/*/links-*.parquet') "
        f"WHERE url_to NOT IN (SELECT url FROM read_parquet('{data}/extract/*/visits-*.parquet'))"
    ).fetchall()]
    with CheckLog(data, name="bench.jsonl") as log:
        for url in targets:
            log.append(Observation(url, "2024-02-01T00:00:00Z", 404, ""))
    return len(targets)


def _build(data: Path, *extra: str) -> tuple[dict, float, float]:
    """report.json, CPU seconds and peak PSS (MB) of one build."""
    before = _cpu_children()
    peak = _run([*LINKATLAS, "--data", str(data), "build", *extra], sampled=True)
    cpu = _cpu_children() - before
    report = json.loads((data / "current" / "report.json").read_text())
    return report, cpu, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--synthetic-rows", type=int, default=1_000_000)
    parser.add_argument("--spark", default="", help="also build with --engine spark on MASTER")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="la-scale-"))
    try:
        files, records = write_corpus(root, args.mb, args.files)
        data = root / "data"
        started, before = time.perf_counter(), _cpu_children()
        ingest_peak = _run([*LINKATLAS, "--data", str(data), "ingest", *map(str, files)],
                           sampled=True)
        ingest = time.perf_counter() - started, _cpu_children() - before
        # A first build fills the extraction cache; the check log then breaks every target.
        first, extract_cpu, _ = _build(data)
        targets = _broken_targets(data)
        report, cpu, peak = _build(data)
        pages = sum(v for k, v in report["records"].items() if not k.startswith("ignored"))
        links = report["counts"]["links"]
        per = 1000 / max(pages, 1)
        print(f"corpus: {records} WAT records, {pages} captures (WAT pages), {links} live links, "
              f"{targets} distinct targets; {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.1f}")
        print(f"ingest: {ingest[0] * per:.2f} s wall, {ingest[1] * per:.2f} CPU s per 1,000 "
              f"pages; peak {ingest_peak / 1e6:.0f} MB")
        print(f"first build (extraction + stages): {first['seconds']['total'] * per:.2f} s "
              f"wall, {extract_cpu * per:.2f} CPU s per 1,000 pages")
        print("build with every target broken (extraction cached), per 1,000 pages:")
        for stage, seconds in report["seconds"].items():
            print(f"  {stage:10} {seconds * per:8.3f} s wall")
        print(f"  CPU, all processes: {cpu * per:.2f} s; peak memory {peak:.0f} MB")
        for name, size in [("WAT input (gzip)", sum(f.stat().st_size for f in files)),
                           ("extraction cache", _size(data / "extract")),
                           ("snapshot (every link served)", _size(data / "current"))]:
            print(f"bytes per link, {name:30} {size / max(links, 1):8.1f}  ({size / 1e6:.1f} MB)")
        print(f"snapshot rows: {report['counts']['broken_backlinks']}")
        # The replicated corpus repeats its rows, which Parquet compresses unrealistically well:
        # the serve table's bytes per row also from distinct synthetic rows (bench/api.py's).
        from linkatlas.sample.snapshot import write_synthetic

        synthetic = root / "synthetic"
        write_synthetic(synthetic, args.synthetic_rows, max(args.synthetic_rows // 100, 1))
        size = _size(synthetic / "current")
        print(f"bytes per served row, {args.synthetic_rows:,} distinct synthetic rows: "
              f"{size / args.synthetic_rows:.1f}  ({size / 1e6:.1f} MB)")
        if args.spark:
            copy = shutil.copytree(data, root / "spark")
            shutil.rmtree(copy / "extract")
            spark, spark_cpu, spark_peak = _build(copy, "--engine", "spark",
                                                  "--spark-master", args.spark)
            print(f"Spark ({args.spark}), extraction included, per 1,000 pages:")
            for stage, seconds in spark["seconds"].items():
                print(f"  {stage:10} {seconds * per:8.3f} s wall")
            print(f"  CPU, all processes: {spark_cpu * per:.2f} s; peak memory "
                  f"{spark_peak:.0f} MB (driver and executors in one JVM in local mode)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
