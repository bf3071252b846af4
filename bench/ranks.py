"""`ratings import` throughput and peak memory on a synthetic domain-ranks file.

    .venv/bin/python bench/ranks.py [--lines 100000000] [--keep FILE]

Writes a gzip file in Common Crawl's published format (cc-webgraph's header, harmonic
centrality order, PageRank positions and values, reversed names of registered domains under
a mix of TLDs), then runs `linkatlas ratings import` on it as a subprocess and samples its
resident memory (RSS of the process tree) every 50 ms. Prints lines/s and the peak.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

HEADER = "#harmonicc_pos\t#harmonicc_val\t#pr_pos\t#pr_val\t#host_rev\t#n_hosts\n"
TLDS = ["com", "org", "net", "de", "co.uk", "com.au", "fr", "ru", "jp", "io", "com.br", "nl"]


def generate(path: Path, lines: int, seed: int = 0) -> float:
    """Write the file with a level-1 gzip (fast); returns seconds spent."""
    started = time.perf_counter()
    rng = random.Random(seed)
    pr_positions = list(range(1, min(lines, 1_000_000) + 1))
    rng.shuffle(pr_positions)  # (permuted within each block of a million: cheap, realistic)
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(deflate.compress(HEADER.encode()))
        block = 1_000_000
        for start in range(0, lines, block):
            rows = []
            for i in range(start, min(lines, start + block)):
                pos = start + pr_positions[(i - start) % len(pr_positions)]
                tld = TLDS[i % len(TLDS)]
                name = ".".join(reversed(f"d{i:x}x{pos % 9973}.{tld}".split(".")))
                rows.append(f"{i + 1}\t{3.0e7 / (i + 1):.7E}\t{pos}\t{1e-3 / pos ** 1.2!r}\t"
                            f"{name}\t{1 + i % 7}\n")
            out.write(deflate.compress("".join(rows).encode()))
        out.write(deflate.flush())
    return time.perf_counter() - started


def _tree_rss(pid: int) -> int:
    """Resident bytes of pid and its children (Linux /proc)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pending.extend(int(c) for c in children)
        except OSError:
            continue
    return total


def run_import(path: Path, data: Path) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS bytes, what the command said)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "linkatlas.cli", "--data", str(data),
                                "ratings", "import", str(path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"import failed: {err.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - started, cpu, peak, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000_000)
    parser.add_argument("--keep", type=Path, help="write/reuse the synthetic file here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ranks-") as tmp:
        path = args.keep or Path(tmp) / "domain-ranks.txt.gz"
        if not path.exists():
            seconds = generate(path, args.lines)
            print(f"generated {args.lines:,} lines, {path.stat().st_size / 1e6:,.0f} MB gz "
                  f"in {seconds:.0f} s")
        seconds, cpu, peak, said = run_import(path, Path(tmp) / "data")
        print(said)
        print("| lines | gz MB | wall s | CPU s | lines/s (wall) | lines per CPU-s | peak RSS MB |"
              "\n|---:|---:|---:|---:|---:|---:|---:|\n"
              f"| {args.lines:,} | {path.stat().st_size / 1e6:,.0f} | {seconds:.0f} | {cpu:.0f} |"
              f" {args.lines / seconds:,.0f} | {args.lines / cpu:,.0f} | {peak / 1e6:,.0f} |")
        print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
