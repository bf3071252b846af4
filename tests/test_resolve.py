"""The remembered resolution of link targets equals urls.normalize, for every kind of reference
and whatever another base remembered before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkatlas.extract import resolve as memo
from linkatlas.extract.resolve import base_parts, resolve
from linkatlas.urls import normalize


@pytest.fixture(autouse=True)
def _cold_memos() -> None:
    """Each test starts with empty memos, so that it runs the path that fills them: what an
    earlier test (or a mutation tool's first run) remembered must not answer for it."""
    memo._SHAPES.clear()
    memo._RESOLVED.clear()


# What a reference's remembered suffix depends on (resolve._shape): a wrong kind that is too
# narrow answers from another page's memo entry, one too wide only remembers less.
SHAPES = [
    ("/a/b?c", "ROOT"), ("/", "ROOT"), ("//cdn.test/x", "SCHEME"), ("//", "URL"),
    ("///x", "URL"), ("http://a.test/x", "SCHEME"), ("https://a.test", "SCHEME"),
    ("http:///x", "URL"), ("http://", "URL"), ("HTTP://a.test/", "URL"), ("http:x", "URL"),
    ("mailto:a@b.test", "OTHER_SCHEME"), ("javascript:void(0)", "OTHER_SCHEME"),
    ("git+ssh:x", "OTHER_SCHEME"), ("1a:x", "URL"), ("a b:c", "URL"),
    ("a/b:c", "DIRECTORY"), ("?q=1", "PATH"), ("?", "PATH_QUERY"), ("?#f", "PATH_QUERY"),
    ("x/y", "DIRECTORY"), ("../z", "DIRECTORY"), ("", "SELF"), ("#top", "SELF"),
    (" /x", "URL"), ("/x ", "URL"), ("/a\\b", "URL"), ("/a\tb", "URL"), ("/a\nb", "URL"),
    ("/a\rb", "URL"),
]


@pytest.mark.parametrize(("raw", "shape"), SHAPES)
def test_the_kind_of_a_reference(raw: str, shape: str) -> None:
    assert memo._shape(raw) == getattr(memo, f"_{shape}")


@pytest.mark.parametrize("raw", [
    "/a/../b?q", "//cdn.test/x", "http://a.test", "https://A.test:443/x#f", "http:///x", "///x",
    "//", "/", "", "?q", "#f", "x/y", "../z", "/\t/x", "http:x", "HTTP://b.test/", "/\\h.test/x",
    "//\\x", "http:\\\\h.test", " //h.test/", "https://h.test:8443/a?b#c", "//[::1]:81/",
    "a:b/c", "./a:b", "mailto:x@y.test", "HTTP:x", "?", "?#f", "?a#f", "..", "a/./b/../%7e?x y",
])
def test_cached_resolution_equals_normalize(raw: str) -> None:
    bases = ["https://site.test/dir/page.html", "https://site.test/other/", "http://site.test/a",
             "https://other.test/q?x", "http://site.test:8080/", "https://other.test/dir/page.html",
             "http://[::1]:8080/dir/page.html", "http://xn--bcher-kva.test/other/",
             "https://other.test/a/b?x=/y/z", "https://site.test/dir/page.html?a=1"]
    for base in bases:
        assert resolve(raw, base_parts(base)) == normalize(raw, base)
    for base in reversed(bases):
        assert resolve(raw, base_parts(base)) == normalize(raw, base)


_BASES = ["https://site.test/dir/page.html", "https://site.test/dir/other.html?q=1",
          "http://site.test:8080/", "https://other.test/a/b?x=/y/z", "http://[::1]/d/"]


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from(["", "/", "//", "?", "#", "./", "../", "http://", "https://h.test",
                               "HTTP:", "a:", " ", "\t/", "mailto:", "javascript:", "hTtPs:",
                               "git+ssh:", "a.b-c:", "1a:", "é:", "a b:", "_x:", "tel:+1"]),
       body=st.text(alphabet="ab/.?#:%7e\\ \té", max_size=12),
       base=st.sampled_from(_BASES))
def test_cached_resolution_equals_normalize_everywhere(prefix: str, body: str, base: str) -> None:
    raw = prefix + body
    assert resolve(raw, base_parts(base)) == normalize(raw, base)
    for other in _BASES:  # what one base remembered must hold for every other
        assert resolve(raw, base_parts(other)) == normalize(raw, other)


# Page URLs as normalize leaves them, odd ones too: an empty `;` parameter, a bracketed host
# written long, a full stop IDNA maps, a stray "%" before an escape.
_ODD_PAGES = ["http://a.test/p;", "http://a.test/p;?x=1", "http://[0:0::1]/", "http://[::1]:81/;",
              "http://bücher.test。/d/", "http://a.test/%%32e/p", "https://a.test:8443/%7e/x;"]


@pytest.mark.parametrize("page", _ODD_PAGES)
@pytest.mark.parametrize("raw", ["", "#", "#top", "#a b", "#a\x00b", "#é", "#" + "f" * 300,
                                 "#?x", "#/../x", "#:x", "?", "?#f", "/#f", "x#f"])
def test_a_fragment_resolves_to_the_page_itself(raw: str, page: str) -> None:
    """An empty reference and a fragment are the page (resolve answers its URL at once)."""
    base = normalize(page)
    assert base is not None
    assert resolve(raw, base_parts(base)) == normalize(raw, base)
    if raw[:1] in ("", "#"):
        assert resolve(raw, base_parts(base)) == base


@settings(max_examples=300, deadline=None)
@given(page=st.text(alphabet="ab/.;%2e。é[]:1?=", max_size=12),
       fragment=st.text(alphabet="ab #\x00é/:?", max_size=6))
def test_resolution_against_any_normalized_page(page: str, fragment: str) -> None:
    base = normalize("http://h.test/" + page)
    if base is not None:
        for raw in ("", "#" + fragment, "?" + fragment, fragment):
            assert resolve(raw, base_parts(base)) == normalize(raw, base)


def test_a_long_reference_is_resolved_and_not_remembered() -> None:
    """A hostile archive of long distinct references must not fill a worker's memos."""
    from linkatlas.extract import resolve as memo

    page = "https://site.test/dir/page.html"
    for raw in ("/" + "a" * 5_000, "x" * 5_000 + "#f", "#" + "f" * 5_000, "mailto:" + "m" * 5_000):
        before = (len(memo._SHAPES), len(memo._RESOLVED))
        assert resolve(raw, base_parts(page)) == normalize(raw, page)
        assert (len(memo._SHAPES), len(memo._RESOLVED)) == before
