"""Every real archive of shared/data imports and builds; extraction matches independent parses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from linkatlas import urls
from linkatlas.extract.capture import Capture
from linkatlas.extract.charset import decode
from linkatlas.extract.ingest import ingest
from linkatlas.extract.records import read_archive
from linkatlas.extract.rows import LINK_FIELDS, capture_rows

from .conftest import build_quietly
from .shared import shared


def _all_files() -> list[Path]:
    return sorted(p for p in shared("data", "real", "warc").rglob("*") if p.is_file())


def _pages(name: str) -> Iterator[tuple[Capture, dict[str, object], list[dict[str, object]]]]:
    for item in read_archive(shared("data", "real", "warc", name)):
        if isinstance(item, Capture):
            result = capture_rows(item)
            if result and result[0]["kind"] == "page":
                yield item, result[0], [dict(zip(LINK_FIELDS, row, strict=True))
                                        for row in result[1]]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = tmp_path_factory.mktemp("real") / "data"
    ingest(data, _all_files())
    return build_quietly(data)


def test_every_real_archive_builds(report: dict[str, object]) -> None:
    assert report["archives"] == len(_all_files())
    records = report["records"]
    assert isinstance(records, dict) and records["page"] >= 120 and records["redirect"] >= 28
    skipped = report["skipped"]
    assert isinstance(skipped, dict) and sum(skipped.values()) <= 5, skipped
    counts = report["counts"]
    assert isinstance(counts, dict) and counts["links"] > 5000


@pytest.mark.parametrize(("archive", "url", "title", "language", "encoding"), [
    ("jwat-virtualbox.arc", "http://www.rebels.dk/", "Rebels - The Amiga Scene Group", "en",
     "iso-8859-1"),
    ("netarchivesuite-withredirects.arc", "http://ing.dk/", "Ingeniøren", "da", "iso-8859-1"),
    ("edge/alexa_charset_in_header.arc.gz", "http://free.allocine.fr/tv/cineaction.asp",
     "Cinéma d'action (AlloCiné TV)", "fr", "iso-8859-1"),
    ("resiliparse-cc-sample.warc.gz", "http://01spb.ru/company/",
     "О компании - Стратегия пожарной безопасности", "ru", "windows-1251"),
    ("dolma-sample-0000.warc.gz", "https://soldaini.net/", "Luca Soldaini", "en", "utf8"),
])
def test_page_facts_of_real_pages(archive: str, url: str, title: str, language: str,
                                  encoding: str) -> None:
    visit = next(v for _, v, _ in _pages(archive) if v["url"] == url)
    assert (visit["language"], visit["encoding"]) == (language, encoding)
    assert str(visit["title"]).startswith(title)


def _independent_hrefs(capture: Capture, url: str) -> set[str]:
    text, _ = decode(capture.body, capture.header("Content-Type") or None)
    soup = BeautifulSoup(text, "lxml")
    base = soup.find("base", href=True)
    base_url = urls.normalize(str(base["href"]), url) if base else url
    found = set()
    for tag in soup.find_all(["a", "area"], href=True):
        target = urls.normalize(str(tag["href"]), base_url or url)
        if target:
            found.add(target)
    return found


@pytest.mark.parametrize("archive", ["dolma-sample-0000.warc.gz", "dolma-sample-0001.warc.gz",
                                     "resiliparse-cc-sample.warc.gz", "jwat-virtualbox.arc"])
def test_href_links_match_an_independent_parse(archive: str) -> None:
    ours_total = theirs_total = common = 0
    for capture, visit, links in _pages(archive):
        ours = {str(link["url_to"]) for link in links if link["link_type"] == "href"}
        theirs = _independent_hrefs(capture, str(visit["url"]))
        ours_total, theirs_total = ours_total + len(ours), theirs_total + len(theirs)
        common += len(ours & theirs)
    assert theirs_total > 100
    assert common >= 0.98 * theirs_total and common >= 0.98 * ours_total


def test_wat_links_agree_with_links_from_the_warc() -> None:
    """Common Crawl's own link extraction (the WAT) against ours on the same capture."""
    wat = {str(v["url"]): {str(link["url_to"]) for link in links if link["link_type"] == "href"}
           for _, v, links in _pages("cc-2014-35-sample.warc.wat")}
    warc = {str(v["url"]): {str(link["url_to"]) for link in links if link["link_type"] == "href"}
            for _, v, links in _pages("cc-2014-35-sample.warc")}
    shared = [url for url in wat if url in warc and wat[url]]
    assert shared
    for url in shared:
        assert wat[url] <= warc[url]
