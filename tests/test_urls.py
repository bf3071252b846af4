"""URL rules (spec/COLUMNS.md Normalization, spec/API.md Modes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkatlas import urls
from linkatlas.errors import QueryError

CASES = Path(__file__).parent / "cases" / "normalize.txt"


@pytest.fixture(autouse=True)
def _uncached() -> None:
    """Each test sees the rules, not answers cached by an earlier one (the memoized helpers)."""
    for helper in (urls._host, urls._origin, urls._netloc_key, urls.registered_domain):
        helper.cache_clear()


def _cases() -> list[tuple[str, str | None, str | None]]:
    rows = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if not line or (line.startswith("#") and "\t" not in line):  # (`#top<TAB>…`: a case)
            continue
        url, base, expected = line.split("\t")
        for escape, char in (("\\t", "\t"), ("\\n", "\n"), ("\\r", "\r"), ("\\x01", "\x01")):
            url = url.replace(escape, char)
        rows.append((url, None if base == "-" else base,
                     None if expected == "None" else expected))
    return rows


@pytest.mark.parametrize(("url", "base", "expected"), _cases())
def test_normalize(url: str, base: str | None, expected: str | None) -> None:
    assert urls.normalize(url, base) == expected


@pytest.mark.parametrize(("url", "key"), [
    ("http://blog.example.com/a?b", "com,example,blog)/a?b"),
    ("https://example.com/", "com,example)/"),
    ("http://example.com:8080/x", "com,example):8080/x"),
    ("http://127.0.0.1/x", "127.0.0.1)/x"),
    ("http://[::1]:81/", "[::1]):81/"),
])
def test_key_of(url: str, key: str) -> None:
    assert urls.key_of(url) == key


@pytest.mark.parametrize(("host", "domain"), [
    ("blog.alpha.test", "alpha.test"),      # default rule: unlisted TLD is one label
    ("a.b.example.co.uk", "example.co.uk"),
    ("example.com", "example.com"),
    ("co.uk", "co.uk"),
    ("127.0.0.1", "127.0.0.1"),
])
def test_registered_domain(host: str, domain: str) -> None:
    assert urls.registered_domain(host) == domain


def _matches(target: str, mode: str, url: str) -> bool:
    low, high = urls.mode_range(target, mode)
    return low <= urls.key_of(url) < high


@pytest.mark.parametrize(("target", "mode", "url", "hit"), [
    ("example.com/blog/", "exact", "https://example.com/blog/", True),
    ("example.com/blog/", "exact", "http://example.com/blog/x", False),
    ("example.com", "exact", "http://example.com/", True),
    ("example.com/blog/", "domain", "http://example.com/other", True),
    ("example.com", "domain", "http://www.example.com/", False),
    ("example.com", "domain", "http://example.com:8080/", True),
    ("example.com", "subdomains", "http://www.example.com/x", True),
    ("example.com", "subdomains", "http://a.b.example.com/x", True),
    ("example.com", "subdomains", "http://notexample.com/", False),
    ("example.com", "subdomains", "http://example.com.evil.test/", False),
    ("example.com/blog/", "prefix", "http://example.com/blog/post", True),
    ("example.com/blog/", "prefix", "http://example.com/blogger", False),
    ("shop.example.com", "prefix", "http://shop.example.com/x", True),
    ("Bücher.test", "domain", "http://xn--bcher-kva.test/", True),
    ("a.test/x)y", "domain", "http://a.test/other", True),  # the host ends at the first ")"
    ("a.test/x", "exact", "http://a.test/x!", False),
    ("a.test/x", "exact", "http://a.test/x", True),
    ("example.com/a", "prefix", "http://example.com/b", False),
])
def test_mode_ranges(target: str, mode: str, url: str, hit: bool) -> None:
    assert _matches(target, mode, url) is hit


@pytest.mark.parametrize(("target", "mode", "message"), [
    ("", "exact", "target: missing"),
    ("example.com", "full",
     "mode: invalid value 'full'; expected exact, domain, subdomains or prefix"),  # spec/API.md
    ("mailto:x@y", "exact", "target: not a valid domain, directory or URL: 'mailto:x@y'"),
    ("http://a.test:99999/", "exact",
     "target: not a valid domain, directory or URL: 'http://a.test:99999/'"),
])
def test_bad_targets(target: str, mode: str, message: str) -> None:
    with pytest.raises(QueryError) as error:
        urls.mode_range(target, mode)
    assert str(error.value) == message


# SURT keys (scheme-less, host labels reversed, IPs kept) and hosts of normalized URLs.
@pytest.mark.parametrize(("url", "key", "host"), [
    ("http://blog.example.com:8080/a?b=1", "com,example,blog):8080/a?b=1", "blog.example.com"),
    ("https://example.com/", "com,example)/", "example.com"),
    ("http://example.com", "com,example)/", "example.com"),
    ("http://127.0.0.1/x", "127.0.0.1)/x", "127.0.0.1"),
    ("http://[::1]:8080/x", "[::1]):8080/x", "[::1]"),
    ("http://localhost/", "localhost)/", "localhost"),
    ("http://a.test/b/c:d", "test,a)/b/c:d", "a.test"),
    ("http://a.test/r?u=http://b.test/x", "test,a)/r?u=http://b.test/x", "a.test"),
])
def test_keys_and_hosts(url: str, key: str, host: str) -> None:
    assert (urls.key_of(url), urls.host_of(url)) == (key, host)


@pytest.mark.parametrize(("target", "url"), [
    ("example.com", "http://example.com/"),
    ("  Example.COM/a  ", "http://example.com/a"),
    ("localhost:8080", "http://localhost:8080/"),
    ("HTTPS://Example.com/a b", "https://example.com/a%20b"),
])
def test_target_urls(target: str, url: str) -> None:
    assert urls.target_url(target) == url


# Pieces of hostile URLs: other full stops and ignorable characters IDNA maps, stray "%",
# escapes of hex digits and of dots, brackets, userinfo, ports, parameters.
_PIECES = ["a", "E", "2", "/", ".", "..", "?", "#", ":", ";", "@", "[", "]", "%", "%2e", "%32",
           "%7E", "%25", "%2F", "\\", " ", "\t", "é", "ü", "。", "．", "｡", "\u200b", "\xad",
           "K", "ﬁ", ":0080", ":443", "[::1]", "[1]", "F", "f", "%3", "%6", "%61"]


@settings(max_examples=600, deadline=None)
@given(scheme=st.sampled_from(["http://", "HTTPS://", "//", "http:/", ""]),
       host=st.sampled_from(["a.test", "Bücher.test", "[::1]", "u@a.test", "a.test:8080", ""]),
       rest=st.lists(st.sampled_from(_PIECES), max_size=10))
def test_a_normalized_url_normalizes_to_itself(scheme: str, host: str, rest: list[str]) -> None:
    """Keys are normalized once (extraction) and compared with URLs normalized again (an API
    target, a link resolved against a page's normalized URL): normalize must be idempotent."""
    url = urls.normalize(scheme + host + "".join(rest), "http://base.test/d/p;")
    if url is not None:
        assert urls.normalize(url) == url
        assert urls.normalize("", url) == url
        assert urls.normalize("#f", url) == url


def test_nested_stray_escapes_take_linear_time() -> None:
    """`%%3%3…%32e` decodes one layer per pass: decoding again until nothing changes took
    minutes on a link of a megabyte, and a WAT record's links run without a page timer."""
    nested = "%" + "%3" * 100_000 + "2e"
    started = time.process_time()
    assert urls.normalize("http://a.test/x/" + nested) == "http://a.test/x/"
    assert time.process_time() - started < 5
