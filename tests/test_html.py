"""Tests for linkatlas.extract.html: link types, base, nofollow, snippets, text and robustness."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, SoupStrainer

from linkatlas.extract import html as html_module
from linkatlas.extract.html import HtmlFacts, Link, parse_html
from linkatlas.rules.links import robots_nofollow
from linkatlas.urls import normalize

from .shared import shared

URL = "https://site.test/dir/page.html"


def _page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def _links(markup: str, **kwargs: str) -> list[Link]:
    return parse_html(markup, URL, **kwargs).links


def _pairs(markup: str, **kwargs: str) -> list[tuple[str, str]]:
    return [(link.url_to, link.link_type) for link in _links(markup, **kwargs)]


# --- link types -------------------------------------------------------------------------------

@pytest.mark.parametrize(("markup", "expected"), [
    (_page('<a href="/a">x</a>'), [("https://site.test/a", "href")]),
    (_page('<map><area href="b.html" alt="B"></map>'), [("https://site.test/dir/b.html", "href")]),
    (_page('<iframe src="//cdn.test/f"></iframe>'), [("https://cdn.test/f", "frame")]),
    ('<html><frameset><frame src="/fr"></frameset></html>', [("https://site.test/fr", "frame")]),
    (_page('<form action="/post"><input name=q></form>'), [("https://site.test/post", "form")]),
    (_page("", '<link rel="canonical" href="https://site.test/c">'),
     [("https://site.test/c", "canonical")]),
    (_page("", '<link rel="alternate" type="application/rss+xml" href="/rss">'),
     [("https://site.test/rss", "rss")]),
    (_page("", '<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="/atom">'),
     [("https://site.test/atom", "rss")]),
    (_page("", '<link rel="alternate" hreflang="de" href="/de/">'),
     [("https://site.test/de/", "alternate")]),
    (_page("", '<link rel="alternate stylesheet" href="/dark.css">'), []),
    (_page("", '<link rel="stylesheet" href="/s.css"><link rel="icon" href="/i.png">'), []),
    (_page('<a href="mailto:a@b.test">m</a><a href="javascript:void(0)">j</a>'
           '<a href="tel:123">t</a><iframe src="about:blank"></iframe><a>no href</a>'), []),
    (_page('<a href="/x#frag">x</a>'), [("https://site.test/x", "href")]),
])
def test_link_types(markup: str, expected: list[tuple[str, str]]) -> None:
    assert _pairs(markup) == expected


def test_every_occurrence_in_document_order() -> None:
    markup = _page('<a href="/1">a</a><form action="/2"><a href="/1">a</a></form>'
                   '<iframe src="/3"></iframe>', '<link rel=canonical href="/0">')
    assert [url.rsplit("/", 1)[1] for url, _ in _pairs(markup)] == ["0", "1", "2", "1", "3"]


@pytest.mark.parametrize(("header", "expected"), [
    ('<https://site.test/c>; rel="canonical"', ["https://site.test/c"]),
    ("</rel>; rel=canonical", ["https://site.test/rel"]),
    ('<https://cdn.test/x.js>; rel=preload; as=script, <https://site.test/c2>; rel="canonical"',
     ["https://site.test/c2"]),
    ('<https://site.test/p>; rel="alternate canonical"', ["https://site.test/p"]),
    ('<https://site.test/n>; rel="next"', []),
    ("<mailto:a@b.test>; rel=canonical", []),
    ("garbage <<;;", []),
])
def test_link_header_canonical(header: str, expected: list[str]) -> None:
    links = _links(_page('<a href="/a">a</a>'), link_header=header)
    found = [link.url_to for link in links if link.link_type == "canonical"]
    assert found == expected


def test_link_header_canonical_ignores_base_href() -> None:
    markup = _page("", '<base href="https://other.test/">')
    links = _links(markup, link_header="</c>; rel=canonical")
    assert links[0].url_to == "https://site.test/c"


# --- base href --------------------------------------------------------------------------------

def test_base_href_changes_the_base_of_all_links() -> None:
    markup = _page('<a href="x">x</a>', '<link rel=canonical href="c"><base href="/other/">'
                   '<base href="https://ignored.test/">')
    assert _pairs(markup) == [("https://site.test/other/c", "canonical"),
                              ("https://site.test/other/x", "href")]


def test_unusable_base_href_is_ignored() -> None:
    assert _pairs(_page('<a href="x">x</a>', '<base href="javascript:0">')) == [
        ("https://site.test/dir/x", "href")]


# --- nofollow ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "nofollow"), [
    ("nofollow", True), ("UGC", True), ("noopener Sponsored", True), ("external nofollow", True),
    ("noopener", False), ("nofollowed", False), ("", False),
])
def test_rel_nofollow(rel: str, nofollow: bool) -> None:
    assert _links(_page(f'<a href="/a" rel="{rel}">a</a>'))[0].nofollow is nofollow


@pytest.mark.parametrize(("meta", "nofollow"), [
    ('<meta name="robots" content="nofollow">', True),
    ('<meta name="ROBOTS" content="noindex, NoFollow">', True),
    ('<meta name="robots" content="none">', True),
    ('<meta name="robots" content="index, follow">', False),
    ('<meta name="googlebot" content="nofollow">', False),
    ('<meta name="description" content="nofollow">', False),
])
def test_meta_robots(meta: str, nofollow: bool) -> None:
    facts = parse_html(_page('<a href="/a">a</a><iframe src="/f"></iframe>', meta), URL)
    assert facts.nofollow_page is nofollow
    assert [link.nofollow for link in facts.links] == [nofollow, nofollow]


def test_x_robots_tag_makes_every_link_nofollow() -> None:
    facts = parse_html(_page('<a href="/a">a</a>', '<link rel=canonical href="/c">'), URL,
                       robots_header="noarchive, nofollow", link_header="</h>; rel=canonical")
    assert facts.nofollow_page
    assert [link.nofollow for link in facts.links] == [True, True, True]


@pytest.mark.parametrize(("value", "nofollow"), [
    ("nofollow", True), ("NONE", True), ("noindex,nofollow", True), ("noindex nofollow", True),
    ("max-snippet:-1, nofollow", True), ("unavailable_after: 2030-01-01, none", True),
    ("noindex", False), ("", False), ("follow", False),
    ("googlebot: nofollow", False), ("googlebot: noindex, nofollow", False),
    ("nofollow, googlebot: noindex", True), ("otherbot: none", False),
])
def test_robots_nofollow(value: str, nofollow: bool) -> None:
    assert robots_nofollow(value) is nofollow


# --- anchors, alt, snippets -------------------------------------------------------------------

def test_anchor_whitespace_and_entities() -> None:
    link = _links(_page('<a href="/a">\n  Fish &amp;\t<b>Chips</b>&nbsp;&lt;3\n</a>'))[0]
    assert link.anchor == "Fish & Chips <3"
    assert link.alt == ""


def test_image_only_link_has_alt_and_empty_anchor() -> None:
    links = _links(_page('<a href="/i"><img src="i.png" alt="  A  logo "></a>'
                         '<a href="/j">Text <img src="j.png" alt=""><img src="k.png" alt="K"></a>'
                         '<a href="/n"><img src="n.png"></a>'))
    assert [(link.anchor, link.alt) for link in links] == [("", "A logo"), ("Text", "K"),
                                                           ("", "")]


def test_area_alt() -> None:
    assert _links(_page('<map><area href="/a" alt="Region"></map>'))[0].alt == "Region"


def test_snippets_around_anchor() -> None:
    markup = _page('<p>Read the <b>full</b> story <a href="/s">here</a>, then comment.</p>')
    link = _links(markup)[0]
    assert (link.text_pre, link.anchor, link.text_post) == ("Read the full story", "here",
                                                            ", then comment.")


def test_snippets_cut_at_word_boundaries() -> None:
    words = " ".join(f"word{i:03d}" for i in range(60))  # 8 characters per word and space
    link = _links(_page(f"<p>{words} <a href='/a'>anchor</a> {words}</p>"))[0]
    assert len(link.text_pre) <= 100 and len(link.text_post) <= 100
    assert link.text_pre.endswith("word059") and link.text_pre.split()[0] in words.split()
    assert link.text_post.startswith("word000") and link.text_post.split()[-1] in words.split()
    assert len(link.text_pre) > 90 and len(link.text_post) > 90


def test_snippets_in_spaceless_script_are_cut_hard() -> None:
    text = "漢字" * 100
    link = _links(_page(f"<p>{text}<a href='/a'>リンク</a>{text}</p>"))[0]
    assert link.text_pre == text[-100:] and link.text_post == text[:100]


def test_snippets_skip_other_links_and_hidden_text() -> None:
    links = _links(_page("<ul><li><a href=/1>One</a></li><li><a href=/2>Two</a></li></ul>"
                         "<script>var a = '<a href=/js>js</a>';</script><p>Tail</p>"))
    assert [(link.text_pre, link.anchor, link.text_post) for link in links] == [
        ("", "One", "Two Tail"), ("One", "Two", "Tail")]


def test_link_without_end_tag_and_unclosed_markup() -> None:
    # The parser closes the first <a> at the second, and copies the open <a> into the <div>
    # (HTML adoption agency), as browsers do: three links, each with its own text.
    links = _links("<p>before <a href=/1>one <a href=/2>two<div>after")
    assert [(link.url_to[-1], link.anchor, link.text_pre) for link in links] == [
        ("1", "one", "before"), ("2", "two", "before one"), ("2", "after", "before one two")]


def test_frame_and_form_snippets() -> None:
    links = _links(_page("<p>Search:</p><form action=/s><label>Query</label></form><p>End</p>"))
    assert (links[0].text_pre, links[0].anchor) == ("Search:", "")


# --- page facts -------------------------------------------------------------------------------

@pytest.mark.parametrize(("markup", "title"), [
    (_page("", "<title>  Fish &amp; Chips\n &ndash; Menu </title>"), "Fish & Chips – Menu"),
    (_page("<svg><title>icon</title></svg>", "<title>Real</title>"), "Real"),
    (_page("<svg><title>icon</title></svg><p>x</p>"), ""),
    (_page("x"), ""),
    ("<title>only</title>", "only"),
    ("<title>Use <a href=x> and </a> tags</title>", "Use <a href=x> and </a> tags"),
])
def test_title(markup: str, title: str) -> None:
    assert parse_html(markup, URL).title == title


def test_declared_language_and_text() -> None:
    facts = parse_html('<html lang="pt-BR"><head><title>T</title><style>p{}</style></head><body>'
                       "<p>Olá   mundo</p><script>var x;</script><noscript>ns</noscript>"
                       "<template>tpl</template><iframe src=/f><a href=x>fallback</a></iframe>"
                       "<noembed>ne</noembed><div>fim</div></body></html>", URL)
    assert facts.declared_language == "pt-BR"
    assert facts.text == "Olá mundo fim"


def test_text_is_capped() -> None:
    facts = parse_html(_page("<p>" + "palavra " * 10_000 + "</p>"), URL)
    assert len(facts.text) == html_module.MAX_TEXT


def test_links_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_module, "MAX_LINKS", 5)
    assert len(_links(_page("<a href=/a>a</a>" * 20))) == 5


# --- robustness -------------------------------------------------------------------------------

@pytest.mark.parametrize("markup", [
    "",
    "plain text, no markup",
    "<a href=",
    "<<<>>><a href='/a'<<b>></a></</",
    "<html><body><a href='/a'>x</a><!-- <a href='/c'> -->\x00\x00<a\x00 href=/n>n\x00</a>",
    "<table><a href=/t>t</a><tr><td><form action=/f></td></tr></table>",
    "\x02\x03\x04<a href=/ctl>\x0212\x03x\x04</a>",
    "<a href='/s'>\udcff lone surrogate</a>",
    "<svg><a href='/svg'><text>s</text></a></svg><math><a href=/m>m</a></math>",
    "<a href='http://[bad'>b</a><a href='http://exa mple.test/'>c</a><a href='http://x:99999/'>d</a>",
    "<textarea><a href=/ta>x</a></textarea><title><a href=/ti></title>",
    '<div title="<a href=/attr>"><a href=/real>r</a></div>',
    "<a/href=/slash>s</a><A HREF=/upper>U</A><a\nhref=/nl>n</a>",
])
def test_broken_markup_never_raises(markup: str) -> None:
    facts = parse_html(markup, URL)
    assert isinstance(facts, HtmlFacts)
    for link in facts.links:
        assert link.url_to.startswith("https://site.test/")
        for text in (link.anchor, link.alt, link.text_pre, link.text_post):
            assert not any(ch in text for ch in "\x02\x03\x04")


def test_markup_corners_keep_the_right_links() -> None:
    markup = ('<div title="<a href=/attr>"><a href=/real>r</a></div>'
              "<a/href=/slash>s</a><A HREF=/upper>U</A><a\nhref=/nl>n</a>"
              "<script>document.write('<a href=/js>')</script><!-- <a href=/c> -->")
    assert [url for url, _ in _pairs(markup)] == [
        "https://site.test/real", "https://site.test/slash", "https://site.test/upper",
        "https://site.test/nl"]
    assert [link.anchor for link in _links(markup)] == ["r", "s", "U", "n"]


def test_markup_shown_as_text_is_unchanged() -> None:
    facts = parse_html(_page('<xmp>Use <a href="/x">, <iframe src=y></xmp>'
                             '<a href=/i><img alt="<a href=z>" src=i.png></a>'), URL)
    assert facts.text == 'Use <a href="/x">, <iframe src=y>'
    assert [(link.url_to, link.alt) for link in facts.links] == [
        ("https://site.test/i", "<a href=z>")]


def test_control_characters_in_page_are_not_markers() -> None:
    link = _links("<p>a\x02 7\x03b</p><a href=/x>\x04x\x04</a>")[0]
    assert (link.text_pre, link.anchor) == ("a 7b", "x")


def test_markers_forged_by_character_references_lose_no_link() -> None:
    links = _links("<p>a&#3;b &#2;0&#3; c &#2;99&#3; &#4;&#3;</p><a href=/x>x</a>tail")
    assert [(link.url_to, link.text_post) for link in links] == [("https://site.test/x", "tail")]
    for text in (links[0].anchor, links[0].text_pre, links[0].text_post):
        assert not any(ch in text for ch in "\x02\x03\x04")


def test_no_control_character_reaches_a_column() -> None:
    facts = parse_html(_page("<p>pre\x07&#8;text&#10;line</p>"
                             "<a href=/x>an&#x0B;ch\x1bor<img alt='a\x05lt'></a>post&#9;tab",
                             head="<title>T\x01i&#1;t&#x1F;l&#127;e</title>"), URL)
    (link,) = facts.links
    assert (facts.title, link.anchor, link.alt) == ("Title", "anchor", "alt")
    assert (link.text_pre, link.text_post) == ("pretext line", "post tab")


def test_huge_attribute_and_anchor() -> None:
    huge = "x" * 2_000_000
    facts = parse_html(_page(f'<a href="/{huge}" title="{huge}">{huge}</a><a href="/b">b</a>'
                             f'<img alt="{huge}">'), URL)
    assert [len(link.anchor) for link in facts.links] == [html_module.MAX_ANCHOR, 1]
    assert facts.links[1].url_to == "https://site.test/b"


def test_many_links_page() -> None:
    facts = parse_html(_page("<p>t <a href='/a'>a</a></p>" * 20_000), URL)
    assert len(facts.links) == 20_000
    pre = facts.links[-1].text_pre
    assert 95 <= len(pre) <= 100 and pre.endswith("t a t") and set(pre) == {"t", "a", " "}


def test_parser_failure_yields_empty_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(html: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(html_module, "LexborHTMLParser", fail)
    assert parse_html("<a href=/a>a</a>", URL) == HtmlFacts()


# --- real pages -------------------------------------------------------------------------------

def _real_pages() -> list[Path]:
    real = shared("data", "real", "html")
    return sorted([*real.glob("readability/*/source.html.gz"), *real.glob("newspaper/*.html.gz")])


def _reference_targets(markup: str, url: str) -> set[str]:
    """`<a href>`/`<area href>` targets by an independent parser (BeautifulSoup over lxml)."""
    soup = BeautifulSoup(markup, "lxml", parse_only=SoupStrainer(["a", "area", "base"]))
    base_tag = soup.find("base", href=True)
    base = (normalize(str(base_tag["href"]), url) if base_tag else None) or url
    targets = {normalize(str(tag["href"]), base) for tag in soup.find_all(["a", "area"], href=True)}
    return {target for target in targets if target is not None}


def test_real_pages_agree_with_beautifulsoup() -> None:
    pages = _real_pages()
    assert len(pages) >= 30
    common = union = 0
    for path in pages:
        markup = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        url = "https://www.example.com/news/article.html"
        ours = {link.url_to for link in parse_html(markup, url).links if link.link_type == "href"}
        reference = _reference_targets(markup, url)
        common += len(ours & reference)
        union += len(ours | reference)
    assert union > 4000
    assert common / union >= 0.995  # 1.0 on the 34 pages at the time of writing
