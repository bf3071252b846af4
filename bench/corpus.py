"""What the pipeline benchmarks share: real records written again and again under new page
URLs into gzip archives of a chosen size (bench/extract.py's WARC pages, bench/wat.py's WAT
records, bench/scale.py), and `ingest` + `build` run on them as subprocesses, timed, with
their CPU seconds and (sampled) peak memory.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.shared import locate  # noqa: E402  (the one rule that finds shared/)

REAL = locate("data", "real")
LINKATLAS = [str(ROOT / ".venv" / "bin" / "linkatlas")]

# Writes record number `count` under `url` with the writer; returns the bytes it counts.
WriteOne = Callable[[WARCWriter, int, str], int]


def page_url(count: int) -> str:
    """The new URL of the count-th record written: 997 sites, one page each time."""
    return f"http://site{count % 997}.bench.test/page/{count}.html"


def replicate(folder: Path, megabytes: int, suffix: str, write_one: WriteOne,
              per_file: int) -> tuple[list[Path], int, int]:
    """gzip archives `corpus-NNN{suffix}` of about per_file counted bytes each, until they
    hold megabytes MB; returns them, the records written and the bytes counted."""
    target = megabytes * 1024 * 1024
    written = count = 0
    files: list[Path] = []
    while written < target:
        file_end = min(target, written + per_file)
        path = folder / f"corpus-{len(files):03d}{suffix}"
        with path.open("wb") as stream:
            writer = WARCWriter(stream, gzip=True)
            while written < file_end:
                written += write_one(writer, count, page_url(count))
                count += 1
        files.append(path)
    return files, count, written


def tree_pss(root: int) -> int:
    """Summed PSS in bytes of root and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def run_tree(command: list[str], sampled: bool) -> int:
    """Run command to its end; the peak of its process tree's summed PSS in bytes if sampled."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, tree_pss(process.pid))

    sampler = threading.Thread(target=sample)
    if sampled:
        sampler.start()
    try:
        if process.wait() != 0:
            raise SystemExit(f"{' '.join(command[:4])}… failed")
    finally:
        done.set()
        if sampled:
            sampler.join()
    return peak


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ours_run(files: list[Path], sampled: bool = False) -> tuple[float, float, float]:
    """`ingest` + `build` of files from an empty data directory: (wall seconds, CPU seconds
    of all their processes, peak PSS in MB when sampled)."""
    data = Path(tempfile.mkdtemp(prefix="la-bench-"))
    try:
        cpu = _children_cpu()
        started = time.perf_counter()
        peak = run_tree([*LINKATLAS, "--data", str(data), "ingest", *map(str, files)], sampled)
        peak = max(peak, run_tree([*LINKATLAS, "--data", str(data), "build"], sampled))
        seconds = time.perf_counter() - started
        cpu = _children_cpu() - cpu
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return seconds, cpu, peak / 1e6
