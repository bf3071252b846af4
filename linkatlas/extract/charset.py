"""Turning a page body into text: the encoding decision and the `encoding` column name.

Order (docs/language-encoding.md): BOM, HTTP header charset, a prescan of the first bytes for
`<meta charset>` / `<meta http-equiv=content-type>` (then an `<?xml encoding?>` declaration),
then detection. A declared label is mapped to one canonical, lower-case name (spec/COLUMNS.md
`encoding`); a bogus or unknown label is skipped, never trusted.
"""

from __future__ import annotations

import codecs
import re

from resiliparse.parse.encoding import EncodingDetector

__all__ = ["canonical_name", "decode"]

# Reported name -> Python codec used to decode. Where WHATWG decodes a label with a superset
# (Encoding Standard §4.2/§5), we decode with that superset but keep the declared family's name:
# iso-8859-1 and iso-8859-9 pages are decoded as windows-1252/-1254, gbk as gb18030,
# shift_jis as windows-31j (cp932), euc-kr as windows-949, big5 as big5-hkscs.
_CODEC: dict[str, str] = {
    "utf8": "utf-8",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-32le": "utf-32-le",
    "utf-32be": "utf-32-be",
    "iso-8859-1": "cp1252",
    "windows-1252": "cp1252",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "koi8-r": "koi8_r",
    "koi8-u": "koi8_u",
    "ibm866": "cp866",
    "macintosh": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "euc-jp": "euc_jp",
    "iso-2022-jp": "iso2022_jp",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
}
for _n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16):
    _CODEC[f"iso-8859-{_n}"] = f"iso8859_{_n}"
for _n in range(1250, 1259):
    _CODEC[f"windows-{_n}"] = f"cp{_n}"

# Labels (WHATWG Encoding Standard §4.2 "Names and labels", lower-cased) -> reported name.
# WHATWG folds latin1/iso-8859-9/tis-620 labels into windows-125x/874; we keep their own name.
_LABEL_GROUPS: dict[str, tuple[str, ...]] = {
    "utf8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8",
             "x-unicode20utf8"),
    "utf-16le": ("utf-16", "utf-16le", "ucs-2", "unicode", "csunicode", "iso-10646-ucs-2",
                 "unicodefeff"),
    "utf-16be": ("utf-16be", "unicodefffe"),
    "utf-32le": ("utf-32", "utf-32le"),
    "utf-32be": ("utf-32be",),
    "iso-8859-1": ("iso-8859-1", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987",
                   "iso-ir-100", "l1", "latin1", "csisolatin1", "ibm819", "cp819", "ascii",
                   "us-ascii", "ansi_x3.4-1968", "iso646-us"),
    "windows-1252": ("windows-1252", "cp1252", "x-cp1252"),
    "iso-8859-9": ("iso-8859-9", "iso8859-9", "iso88599", "iso_8859-9", "iso_8859-9:1989",
                   "iso-ir-148", "l5", "latin5", "csisolatin5"),
    "tis-620": ("tis-620", "iso-8859-11", "iso8859-11", "iso885911", "dos-874"),
    "windows-874": ("windows-874",),
    "iso-8859-2": ("iso-8859-2", "iso8859-2", "iso88592", "iso_8859-2", "latin2", "l2",
                   "csisolatin2", "iso-ir-101"),
    "iso-8859-5": ("iso-8859-5", "iso8859-5", "iso88595", "iso_8859-5", "cyrillic",
                   "csisolatincyrillic", "iso-ir-144"),
    "iso-8859-6": ("iso-8859-6", "iso8859-6", "iso88596", "iso_8859-6", "arabic", "asmo-708",
                   "ecma-114", "csisolatinarabic", "iso-ir-127"),
    "iso-8859-7": ("iso-8859-7", "iso8859-7", "iso88597", "iso_8859-7", "greek", "greek8",
                   "elot_928", "ecma-118", "csisolatingreek", "iso-ir-126", "sun_eu_greek"),
    "iso-8859-8": ("iso-8859-8", "iso8859-8", "iso88598", "iso_8859-8", "hebrew", "visual",
                   "iso-8859-8-i", "logical", "csiso88598i", "csisolatinhebrew", "iso-ir-138"),
    "iso-8859-15": ("iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9", "latin9",
                    "csisolatin9"),
    "koi8-r": ("koi8-r", "koi8", "koi", "koi8_r", "cskoi8r"),
    "koi8-u": ("koi8-u", "koi8-ru"),
    "ibm866": ("ibm866", "866", "cp866", "csibm866"),
    "macintosh": ("macintosh", "mac", "x-mac-roman", "csmacintosh"),
    "x-mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "gbk": ("gbk", "gb2312", "gb_2312", "gb_2312-80", "x-gbk", "chinese", "csgb2312",
            "csiso58gb231280", "iso-ir-58", "euc-cn", "cp936", "windows-936"),
    "gb18030": ("gb18030",),
    "big5": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5", "cp950"),
    "euc-jp": ("euc-jp", "cseucpkdfmtjapanese", "x-euc-jp"),
    "iso-2022-jp": ("iso-2022-jp", "csiso2022jp"),
    "shift_jis": ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms932", "ms_kanji", "csshiftjis",
                  "windows-31j", "cp932"),
    "euc-kr": ("euc-kr", "cseuckr", "csksc56011987", "iso-ir-149", "korean", "ks_c_5601-1987",
               "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949", "cp949", "uhc"),
}
_LABELS: dict[str, str] = {lab: name for name, labs in _LABEL_GROUPS.items() for lab in labs}
for _name in _CODEC:
    _LABELS.setdefault(_name, _name)
for _n in range(1250, 1259):
    _LABELS[f"cp{_n}"] = _LABELS[f"x-cp{_n}"] = f"windows-{_n}"


def _squash(label: str) -> str:
    return re.sub(r"[\s_.:-]", "", label)


# Labels with separators dropped ("iso_8859_1", "windows1251", "shift jis"), and common typos.
_SQUASHED: dict[str, str] = {_squash(lab): name for lab, name in _LABELS.items()}
_TYPOS = (("8559", "8859"), ("8895", "8859"), ("uft", "utf"), ("iso8858", "iso8859"),
          ("win1", "windows1"), ("cp1", "windows1"))

# Python codec names (codecs.lookup(x).name) that we accept, mapped to reported names. Anything
# else Python knows (rot13, base64, hz, …) is not a web encoding and is ignored.
_PY_CODECS: dict[str, str] = {codecs.lookup(c).name: n for n, c in _CODEC.items()} | {
    "latin-1": "iso-8859-1", "ascii": "iso-8859-1", "iso8859-9": "iso-8859-9",
    "iso8859-11": "tis-620", "gbk": "gbk", "gb2312": "gbk", "big5": "big5",
    "shift_jis": "shift_jis", "euc_kr": "euc-kr", "euc_jis_2004": "euc-jp",
    "euc_jisx0213": "euc-jp", "utf-16": "utf-16le", "utf-32": "utf-32le",
}

_BOMS = ((codecs.BOM_UTF8, "utf8"), (codecs.BOM_UTF32_LE, "utf-32le"),
         (codecs.BOM_UTF32_BE, "utf-32be"), (codecs.BOM_UTF16_LE, "utf-16le"),
         (codecs.BOM_UTF16_BE, "utf-16be"))

# Detected names are folded to WHATWG's decoding (a detector cannot tell iso-8859-1 from
# windows-1252); a detected gb18030 is nearly always plain GBK text.
_DETECTED_FOLD = {"iso-8859-1": "windows-1252", "iso-8859-9": "windows-1254", "gb18030": "gbk"}

_PRESCAN_BYTES = 4096  # WHATWG says 1024; real heads put <meta charset> later (docs)
_SAMPLE_BYTES = 65536  # bytes fed to UTF-8 validation and to uchardet
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^\s;"',]*)""", re.I)
_META = re.compile(rb"<meta[\s/]([^>]*)>?", re.I)
_ATTR = re.compile(rb"""([^\s=/>]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_CONTENT_CHARSET = re.compile(rb"""charset\s*=\s*["']?([^\s;"'>]*)""", re.I)
_COMMENT = re.compile(rb"<!--.*?(?:-->|$)", re.S)
_XML_DECL = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']?([^\s"'?>]+)""", re.I)


def canonical_name(label: str) -> str | None:
    """The reported name for an encoding label, or None when the label names no web encoding."""
    lab = label.strip().strip("\"'").strip(" \t;,.").lower()
    if not lab:
        return None
    name = _LABELS.get(lab)
    if name is None:
        squashed = _squash(lab)
        name = _SQUASHED.get(squashed)
        if name is None:
            for wrong, right in _TYPOS:
                squashed = squashed.replace(wrong, right)
            name = _SQUASHED.get(squashed)
    if name is None and len(lab) < 40:
        try:
            name = _PY_CODECS.get(codecs.lookup(lab).name)
        except (LookupError, ValueError):
            return None
    return name


def decode(body: bytes, content_type: str | None) -> tuple[str, str]:
    """(text, encoding). Order: BOM, HTTP header charset (content_type is the raw Content-Type
    header value or None), <meta charset> / <meta http-equiv content-type> prescan of the first
    bytes, then detection. encoding is the canonical lower-case name (see canonical_name).
    Bogus or unknown labels are skipped. Never raises; invalid bytes are replaced."""
    try:
        skip, name = _encoding(body, content_type)
        return _decode(body[skip:], name), name
    except Exception:  # the contract is "never raises": a page is never lost to a codec bug
        return body.decode("utf-8", "replace"), "utf8"


def utf8_html(body: bytes, content_type: str | None) -> tuple[bytes, str]:
    """(UTF-8 bytes of the page, encoding) for an HTML parser, by the rules of decode(): a page
    in UTF-8 is returned as it is (without a BOM), saving a decode and an encode; the parser
    reads its invalid sequences as U+FFFD, as decode() does."""
    try:
        skip, name = _encoding(body, content_type)
        body = body[skip:]
        return (body if name == "utf8" else _decode(body, name).encode("utf-8")), name
    except Exception:  # the contract is "never raises", as decode()'s
        return body, "utf8"


def _encoding(body: bytes, content_type: str | None) -> tuple[int, str]:
    """(length of the BOM or 0, encoding name), by decode()'s order."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return len(bom), name
    return 0, _choose(body, content_type)


def _decode(body: bytes, name: str) -> str:
    return body.decode(_CODEC[name], "replace")


def _choose(body: bytes, content_type: str | None) -> str:
    sample = body[:_SAMPLE_BYTES]
    for label in _declared(body, content_type):
        name = canonical_name(label)
        if name is not None and _plausible(name, sample):
            return name
    return _detect(sample)


def _declared(body: bytes, content_type: str | None) -> list[str]:
    """Declared labels in precedence order: HTTP header, meta prescan, XML declaration."""
    labels = []
    if content_type:
        labels += _HEADER_CHARSET.findall(content_type)
    head = _COMMENT.sub(b"", body[:_PRESCAN_BYTES])
    for meta in _META.finditer(head):
        attrs = {k.lower(): v.strip(b"\"'") for k, v in _ATTR.findall(meta.group(1))}
        if b"charset" in attrs:
            labels.append(attrs[b"charset"].decode("latin-1"))
        elif b"http-equiv" in attrs and b"content" in attrs:
            # any http-equiv, not only "content-type": real pages write "Content Type" etc.
            found = _CONTENT_CHARSET.search(attrs[b"content"])
            if found:
                labels.append(found.group(1).decode("latin-1"))
    xml = _XML_DECL.match(body, 0, 512)
    if xml:
        labels.append(xml.group(1).decode("latin-1"))
    return labels


def _plausible(name: str, sample: bytes) -> bool:
    """Whether a declared encoding survives the checks that catch misconfigured servers."""
    if name.startswith(("utf-16", "utf-32")):
        # a label readable as ASCII cannot be right for a body in UTF-16/32 (WHATWG prescan)
        return _sniff_wide(sample) == name
    if name == "utf8":
        return _utf8_mostly_valid(sample)
    # a legacy label on a body that is valid UTF-8 with non-ASCII text: the label is stale
    return not (_utf8_valid(sample) and not sample.isascii())


def _detect(sample: bytes) -> str:
    wide = _sniff_wide(sample)
    if wide:
        return wide
    if _utf8_valid(sample):
        return "utf8"  # includes pure ASCII: decoding is the same
    detector = EncodingDetector()
    detector.update(sample)
    found = detector.encoding(html5_compatible=False)
    name = canonical_name(found) if found else None
    if name is None or name.startswith(("utf-16", "utf-32")):
        name = "utf8" if _utf8_mostly_valid(sample) else "windows-1252"
    name = _DETECTED_FOLD.get(name, name)
    if name == "windows-1252":
        name = _short_cjk(sample) or name
    return name


def _utf8_valid(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as err:
        # a sample cut inside the last character is still valid
        return err.reason == "unexpected end of data" and err.start >= len(sample) - 3
    return True


def _utf8_mostly_valid(sample: bytes) -> bool:
    """At most one bad sequence per 20 good multi-byte characters (a stray byte is tolerated)."""
    text = sample.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    if bad == 0:
        return True
    extra = len(text.encode("utf-8")) - len(text) - 2 * bad  # ~ count of multi-byte chars
    return bad * 20 <= extra


def _sniff_wide(sample: bytes) -> str | None:
    """UTF-16/32 without a BOM, from where the zero bytes of ASCII markup fall."""
    n = min(len(sample), 1024) // 4 * 4
    if n < 16:
        return None
    full = n // 4
    zero = [sample[i:n:4].count(0) / full >= 0.8 for i in range(4)]
    some = [sample[i:n:4].count(0) / full >= 0.2 for i in range(4)]
    if zero[1] and zero[2] and zero[3] and not some[0]:
        return "utf-32le"
    if zero[0] and zero[1] and zero[2] and not some[3]:
        return "utf-32be"
    if zero[0] and zero[2] and not some[1] and not some[3]:
        return "utf-16be"
    if zero[1] and zero[3] and not some[0] and not some[2]:
        return "utf-16le"
    return None


_EUC_PAIR = re.compile(rb"[\xa1-\xfe]{2}")
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _short_cjk(sample: bytes) -> str | None:
    """A few EUC-coded CJK characters that uchardet, lacking context, took for windows-1252.

    Latin text has isolated high bytes; here every high byte is in A1-FE and paired. Rows A4/A5
    are kana both in JIS X 0208 and GB 2312: mostly kana reads as Japanese, else Chinese."""
    high = len(sample) - len(sample.translate(None, _HIGH_BYTES))
    pairs = _EUC_PAIR.findall(sample)
    if not high or len(pairs) * 2 != high:
        return None
    kana = sum(1 for p in pairs if p[0] in (0xA4, 0xA5))
    name = "euc-jp" if kana * 2 >= len(pairs) else "gbk"
    try:
        sample.decode(_CODEC[name])
    except UnicodeDecodeError:
        return None
    return name
