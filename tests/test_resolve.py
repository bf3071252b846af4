"""The remembered resolution of link targets equals urls.normalize, for every kind of reference
and whatever another base remembered before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkatlas.extract.resolve import base_parts, resolve
from linkatlas.urls import normalize


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
                               "HTTP:", "a:", " ", "\t/", "mailto:"]),
       body=st.text(alphabet="ab/.?#:%7e\\ \té", max_size=12),
       base=st.sampled_from(_BASES))
def test_cached_resolution_equals_normalize_everywhere(prefix: str, body: str, base: str) -> None:
    raw = prefix + body
    assert resolve(raw, base_parts(base)) == normalize(raw, base)
    for other in _BASES:  # what one base remembered must hold for every other
        assert resolve(raw, base_parts(other)) == normalize(raw, other)
