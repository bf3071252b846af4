"""`ratings import`: Common Crawl's published domain ranks → DIR/ranks/domain-ranks.parquet.

A web graph release of Common Crawl publishes `…-domain-ranks.txt.gz`: tab-separated, one
domain per line, sorted by harmonic centrality, after a `#`-prefixed header:

    #harmonicc_pos  #harmonicc_val  #pr_pos  #pr_val  #host_rev  [#n_hosts]

(`host_rev` is the reversed domain name, `com.example`; cc-webgraph's process_webgraph.sh
and JoinSortRanks.java write it.) The file is read in blocks by Arrow's streaming CSV reader
and written a row group per block, so memory stays at a few blocks whatever the file's size;
docs/ratings.md says how the build uses the ranks, bench/ranks.py measures the import.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import LinkatlasError, UsageError
from ..urls import is_public_suffix, registered_domain

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Imported", "RanksError", "import_ranks", "remove", "stored"]

HEADER = ("#harmonicc_pos", "#harmonicc_val", "#pr_pos", "#pr_val", "#host_rev")
_COLUMNS = ("hc_pos", "hc_val", "pr_pos", "pr_val", "name", "n_hosts")
_BLOCK = 2 << 20  # bytes of text per Arrow block (≈ 60,000 lines; 8 MB doubled the peak)


class RanksError(LinkatlasError):
    """A ranks file that cannot be read, or a download that failed."""


@dataclass(frozen=True)
class Imported:
    lines: int
    domains: int
    skipped: int
    seconds: float
    path: Path


def stored(data: Path) -> Path:
    """Where the imported ranks live; the build uses them while this file exists."""
    return data / "ranks" / "domain-ranks.parquet"


@lru_cache(maxsize=1 << 16)
def _suffix(name: str) -> bool:
    return is_public_suffix(name)


def _domain(name: str) -> str:
    """`com.example.www` → the registered domain of `www.example.com`, as urls computes it.

    Common Crawl's domain graph names registered domains, so most names are `label.SUFFIX`;
    when SUFFIX is a public suffix, registered_domain returns the name unchanged (the label
    is the one label above the suffix, or the whole is itself public and kept as it is), so
    the per-name PSL walk is skipped for a cached check of the few thousand suffixes.
    """
    host = ".".join(reversed(name.strip().lower().split(".")))
    if not host or not host.isascii():
        return ""
    label, _, rest = host.partition(".")
    if label and rest and _suffix(rest):
        return host
    return registered_domain(host)


def _mapped(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """One block of lines as (domain, pr_pos, pr_val, hc_pos) rows; lines without a name
    that maps to a registered domain, or without a PageRank, are left out."""
    import pyarrow as pa

    names = batch.column("name").to_pylist()
    mapped = [_domain(n) if n else "" for n in names]
    pos = batch.column("pr_pos").to_numpy(zero_copy_only=False)
    val = batch.column("pr_val").to_numpy(zero_copy_only=False)
    keep = np.fromiter((bool(d) for d in mapped), bool, len(mapped))
    keep &= ~np.isnan(val.astype(np.float64)) & (np.nan_to_num(pos.astype(np.float64)) > 0)
    kept = np.flatnonzero(keep)
    return pa.table({
        "domain": pa.array([mapped[i] for i in kept], pa.string()),
        "pr_pos": pa.array(pos[kept].astype(np.int64), pa.int64()),
        "pr_val": pa.array(val[kept].astype(np.float64), pa.float64()),
        "hc_pos": batch.column("hc_pos").take(pa.array(kept)),
    }, schema=schema)


def _local_copy(source: str, folder: Path) -> tuple[Path, bool]:
    """A local path for source: the file itself, or a verified download of a URL."""
    if source.startswith(("http://", "https://")):
        from ..commoncrawl.download import DownloadError, download

        # Named by the URL, so an interrupted download resumes only into the same file.
        target = folder / f".download-{hashlib.sha256(source.encode()).hexdigest()[:16]}"
        try:
            return download(source, target, gzipped=source.endswith(".gz")), True
        except DownloadError as exc:
            raise RanksError(str(exc)) from None
    path = Path(source)
    if path.is_dir():
        raise UsageError(f"{source}: is a directory (give the domain-ranks file)")
    if not path.is_file():
        raise UsageError(f"{source}: no such file")
    return path, False


def _check_header(path: Path, compressed: bool) -> tuple[int, int]:
    """(number of columns, lines to skip) from the header, or a RanksError."""
    import pyarrow as pa

    with pa.input_stream(str(path), compression="gzip" if compressed else None) as stream:
        try:
            first = stream.read(4096).split(b"\n", 1)[0].decode("utf-8", "replace")
        except (OSError, pa.ArrowException):
            raise RanksError(f"{path}: not a readable gzip file") from None
    fields = tuple(first.rstrip("\r").split("\t"))
    if fields[:5] != HEADER or len(fields) > 6:
        raise RanksError(f"{path}: not a Common Crawl domain-ranks file (its first line "
                         f"should be the header {chr(9).join(HEADER)!r})")
    return len(fields), 1


def import_ranks(data: Path, source: str,
                 on_lines: Callable[[int], None] = lambda n: None) -> Imported:
    """Import a domain-ranks file or URL; replaces an earlier import only when complete.
    on_lines hears the number of lines read so far, after each block."""
    import pyarrow as pa
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    started = time.perf_counter()
    folder = stored(data).parent
    folder.mkdir(parents=True, exist_ok=True)
    path, downloaded = _local_copy(source, folder)
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        width, skip = _check_header(path, compressed)
        invalid = []

        def bad_row(row: object) -> str:
            invalid.append(1)  # (list.append is atomic across Arrow's reader threads)
            return "skip"

        reader_options = csv.ReadOptions(column_names=list(_COLUMNS[:width]),
                                         skip_rows=skip, block_size=_BLOCK)
        parse = csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False,
                                 invalid_row_handler=bad_row)
        convert = csv.ConvertOptions(
            include_columns=["pr_pos", "pr_val", "hc_pos", "name"],
            column_types={"pr_pos": pa.int64(), "pr_val": pa.float64(),
                          "hc_pos": pa.int64(), "name": pa.string()},
            null_values=["---", ""], strings_can_be_null=True)
        schema = pa.schema([("domain", pa.string()), ("pr_pos", pa.int64()),
                            ("pr_val", pa.float64()), ("hc_pos", pa.int64())])
        lines = domains = skipped = 0
        handle, temp_name = tempfile.mkstemp(prefix=".domain-ranks-", suffix=".tmp",
                                             dir=folder)
        os.close(handle)
        temp = Path(temp_name)
        try:
            with pa.input_stream(str(path), compression="gzip" if compressed else None
                                 ) as stream, pq.ParquetWriter(temp, schema,
                                                               compression="zstd") as writer:
                reader = csv.open_csv(stream, read_options=reader_options,
                                      parse_options=parse, convert_options=convert)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    lines += batch.num_rows
                    table = _mapped(batch, schema)
                    skipped += batch.num_rows - table.num_rows
                    domains += table.num_rows
                    writer.write_table(table)
                    on_lines(lines)
                if not domains:
                    raise RanksError(f"{source}: no domain ranks in the file")
            os.replace(temp, stored(data))
        except pa.ArrowInvalid as exc:
            raise RanksError(f"{source}: not in the domain-ranks format "
                             f"({str(exc).splitlines()[0][:200]})") from None
        except OSError as exc:
            raise RanksError(f"{source}: cannot import: {exc.strerror or exc}") from None
        finally:
            temp.unlink(missing_ok=True)
    finally:
        if downloaded:
            path.unlink(missing_ok=True)
    return Imported(lines + len(invalid), domains, skipped + len(invalid),
                    time.perf_counter() - started, stored(data))


def remove(data: Path) -> bool:
    """Forget the imported ranks: the next build rates every domain from the local graph."""
    path = stored(data)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
