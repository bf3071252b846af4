"""`ratings import`: Common Crawl's domain ranks decide DR and rank for the domains they cover."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from linkatlas.extract.ingest import ingest
from linkatlas.index import build
from linkatlas.ranks import RanksError, import_ranks, remove, stored

from .ports import free_port
from .shared import shared
from .test_spark import _snapshot, observations  # noqa: F401 (a fixture)

HEADER = "#harmonicc_pos\t#harmonicc_val\t#pr_pos\t#pr_val\t#host_rev\t#n_hosts\n"


def _ranks_file(path: Path, names: list[str], *, floor: int = 0) -> Path:
    """A domain-ranks file as cc-webgraph writes it: sorted by harmonic centrality, PageRank
    positions by value; the last `floor` names share the lowest PageRank (nobody links in)."""
    lines = [HEADER]
    n = len(names)
    values = [1e-3 / (i + 1) ** 1.5 for i in range(n - floor)] + [1e-9] * floor
    hc_order = sorted(range(n), key=lambda i: (i % 3, i))  # another order than PageRank's
    for hc_pos, i in enumerate(hc_order, 1):
        reversed_name = ".".join(reversed(names[i].split(".")))
        lines.append(f"{hc_pos}\t{3.0e7 / hc_pos:.7E}\t{i + 1}\t{values[i]!r}\t"
                     f"{reversed_name}\t{1 + i % 5}\n")
    with gzip.open(path, "wt", encoding="ascii") as out:
        out.writelines(lines)
    return path


def _stored(data: Path) -> dict[str, tuple[int, float]]:
    rows = duckdb.sql(f"SELECT domain, pr_pos, pr_val FROM '{stored(data)}'").fetchall()
    return {d: (p, v) for d, p, v in rows}


def test_import_maps_reversed_names_to_registered_domains(tmp_path: Path) -> None:
    path = tmp_path / "ranks.txt.gz"
    _ranks_file(path, ["google.com", "www.example.co.uk", "bbc.co.uk", "example.com"])
    with gzip.open(path, "at") as out:  # damage cc-webgraph's join can leave, and a bad line
        out.write("5\t1.0\t---\t---\tcom.nopr\t1\nnot a line\n6\t1.0\t9\t1e-12\t\t1\n")
    done = import_ranks(tmp_path / "data", str(path))
    assert (done.lines, done.domains, done.skipped) == (7, 4, 3)
    ranks = _stored(tmp_path / "data")
    assert set(ranks) == {"google.com", "example.co.uk", "bbc.co.uk", "example.com"}
    assert ranks["google.com"][0] == 1 and ranks["example.co.uk"][0] == 2


def test_a_file_not_in_the_format_keeps_the_earlier_import(tmp_path: Path) -> None:
    data = tmp_path / "data"
    import_ranks(data, str(_ranks_file(tmp_path / "a.gz", ["a.com", "b.com"])))
    before = stored(data).read_bytes()
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"#domain\trank\nexample.com\t1\n"))
    with pytest.raises(RanksError, match="not a Common Crawl domain-ranks file"):
        import_ranks(data, str(bad))
    garbled = tmp_path / "garbled.gz"
    garbled.write_bytes(gzip.compress(HEADER.encode() + b"1\t2.0\tx\t0.5\tcom.a\t1\n"))
    with pytest.raises(RanksError, match="not in the domain-ranks format"):
        import_ranks(data, str(garbled))
    assert stored(data).read_bytes() == before
    assert [p.name for p in stored(data).parent.iterdir()] == [stored(data).name]


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    port = free_port()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{port}/"
    server.shutdown()
    server.server_close()


def test_import_from_a_url_equals_the_file(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    names = [f"site{i}.org" for i in range(50)]
    _ranks_file(root / "cc-main-domain-ranks.txt.gz", names)
    import_ranks(tmp_path / "url", base + "cc-main-domain-ranks.txt.gz")
    import_ranks(tmp_path / "file", str(root / "cc-main-domain-ranks.txt.gz"))
    assert _stored(tmp_path / "url") == _stored(tmp_path / "file")
    assert len(_stored(tmp_path / "url")) == 50
    assert not any(p.name.startswith(".") for p in stored(tmp_path / "url").parent.iterdir())


# The build -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("ranks") / "data"
    ingest(data, sorted(p for p in shared("data", "real", "warc").iterdir() if p.is_file()))
    build(data, workers=1)
    return data


def _ratings(data: Path) -> dict[str, tuple[int, int, bool]]:
    """domain → (DR, rank, imported), by re-running the stages the build ran."""
    from linkatlas.index import connect, extract_inputs, load
    from linkatlas.index.ratings import rate
    from linkatlas.index.stages import STAGES

    con = connect(data)
    inputs = extract_inputs(data, workers=1)
    load(con, inputs)
    for _, stage in STAGES:
        stage(con)
    rate(con, inputs.ranks)
    rows = con.execute("SELECT domain, domain_rating, ahrefs_top, imported FROM domain_rating")
    return {d: (dr, top, imp) for d, dr, top, imp in rows.fetchall()}


def test_build_takes_dr_and_rank_from_the_import(real_index: Path, tmp_path: Path) -> None:
    data = shutil.copytree(real_index, tmp_path / "data", symlinks=True)
    local = _ratings(data)
    # Cover half the index's domains, in the reverse of the local order, the weakest 5 of
    # them at the file's floor; plus domains this index has never seen.
    by_local = sorted(local, key=lambda d: local[d][1])
    covered = by_local[::2][::-1]
    names = [*covered[:-5], *[f"only-in-cc-{i}.com" for i in range(30)], *covered[-5:]]
    _ranks_file(tmp_path / "ranks.gz", names, floor=5)
    import_ranks(data, str(tmp_path / "ranks.gz"))
    report = build(data, workers=1).to_json()
    merged = _ratings(data)

    assert report["counts"]["domains_rated_imported"] == len(covered)
    assert report["counts"]["domains_rated_local"] == len(local) - len(covered)
    position = {name: i + 1 for i, name in enumerate(names)}
    for domain in covered:
        assert merged[domain][1] == position[domain] or domain in covered[-5:]
        assert merged[domain][2]
    # The file decides: its strongest is DR 100 and rank 1, its floor DR 0.
    assert merged[covered[0]][:2] == (100, 1)
    assert all(merged[d][0] == 0 for d in covered[-5:])
    # One order: rank ascending ⇒ DR never rises; ranks distinct.
    ranked = sorted(merged.values(), key=lambda v: v[1])
    assert all(a[0] >= b[0] for a, b in zip(ranked, ranked[1:], strict=False))
    assert len({v[1] for v in merged.values()}) == len(merged)
    # Local-only domains sit beneath the file's linked domains and above its floor: DR 1 if
    # the local graph links to them, else 0.
    linked_in_file = len(names) - 5
    for domain, (dr, top, imported) in merged.items():
        if not imported:
            assert dr == min(local[domain][0], 1)
            assert top > linked_in_file
            if dr == 1:
                assert all(top < merged[f][1] for f in covered[-5:])

    # The served snapshot carries them; removing the import restores the local ratings.
    assert remove(data) and not remove(data)
    assert _ratings(data) == local


def test_cli_import_and_remove(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = _ranks_file(tmp_path / "r.gz", ["a.com", "b.com", "c.com"])
    run = partial(subprocess.run, capture_output=True, text=True, timeout=60)
    result = run([sys.executable, "-m", "linkatlas.cli", "--data", str(data), "ratings",
                  "import", str(path)])
    assert result.returncode == 0 and "imported 3 domains from 3 lines" in result.stdout
    result = run([sys.executable, "-m", "linkatlas.cli", "--data", str(data), "ratings",
                  "import", str(tmp_path / "missing.gz")])
    assert result.returncode == 2 and result.stderr.strip().endswith("missing.gz: no such file")
    assert "Traceback" not in result.stderr
    result = run([sys.executable, "-m", "linkatlas.cli", "--data", str(data), "ratings",
                  "remove"])
    assert result.returncode == 0 and not stored(data).exists()


def test_spark_and_duckdb_agree_with_imported_ranks(
        observations: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    pytest.importorskip("pyspark")
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
    names = ["example.com", "wikipedia.org", "alpha.test", "github.io", "creativecommons.org",
             "dead.test", "ok.test"]
    ranks = _ranks_file(tmp_path / "r.gz", names, floor=2)
    on_duckdb = shutil.copytree(observations, tmp_path / "duckdb")
    on_spark = shutil.copytree(observations, tmp_path / "spark")
    for data in (on_duckdb, on_spark):
        import_ranks(data, str(ranks))
    expected = build(on_duckdb, workers=1).to_json()
    got = build(on_spark, spark_master="local[2]").to_json()
    assert got["counts"] == expected["counts"]
    assert expected["counts"]["domains_rated_imported"] >= 3
    rows, files, _ = _snapshot(on_spark)
    expected_rows, expected_files, _ = _snapshot(on_duckdb)
    assert rows == expected_rows and files == expected_files


@pytest.mark.parametrize("name", [
    "com.example", "com.example.www", "uk.co.example", "uk.co", "com.blogspot.foo", "ck.www",
    "ck.foo", "ck.foo.bar", "jp.kawasaki.city", "jp.kawasaki.city.foo", "io.github.user",
    "4.3.2.1", "2.1", "com", "test.alpha.blog", "br.com.site", "xn--p1ai.xn--80aswg"])
def test_name_mapping_is_registered_domain(name: str) -> None:
    from linkatlas.ranks import _domain
    from linkatlas.urls import registered_domain

    assert _domain(name) == registered_domain(".".join(reversed(name.split("."))))
