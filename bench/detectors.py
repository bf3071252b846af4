"""Compare encoding and language detectors on the real pages; prints the tables of
docs/language-encoding.md.

    .venv/bin/python bench/detectors.py            # needs shared/data/real beside the repo
    .venv/bin/pip install faust-cchardet           # optional rows: cchardet
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linkatlas.extract import language  # noqa: E402
from linkatlas.extract.charset import _CODEC, canonical_name, decode  # noqa: E402
from tests.test_charset_language import (  # noqa: E402
    ENCODING_TRUTH,
    LANGUAGE_TRUTH,
    REAL,
    read_page,
    visible_text,
)

REPEAT = 20  # timing runs per page


def _timed(fn: Callable[[], str], repeat: int = REPEAT) -> tuple[str, float]:
    out = fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return out, (time.perf_counter() - start) / repeat * 1e6


# ---- encoding ------------------------------------------------------------------------------

def _folded(name: str | None) -> str:
    if not name:
        return "?"
    canon = canonical_name(name)
    return {"gb18030": "gbk"}.get(canon, canon) if canon else name.lower()


def _encoding_detectors() -> dict[str, Callable[[bytes], str]]:
    from resiliparse.parse.encoding import detect_encoding

    dets: dict[str, Callable[[bytes], str]] = {
        "linkatlas decode()": lambda b: decode(b, None)[1],
        "resiliparse uchardet (raw names)": lambda b: _folded(
            detect_encoding(b, html5_compatible=False)),
        "resiliparse detect_encoding() default": lambda b: _folded(detect_encoding(b)),
    }
    try:
        import cchardet

        dets["cchardet (faust-cchardet)"] = lambda b: _folded(cchardet.detect(b)["encoding"])
    except ImportError:
        pass
    try:
        import charset_normalizer

        def _cn(b: bytes) -> str:
            best = charset_normalizer.from_bytes(b).best()
            return _folded(best.encoding if best else None)

        dets["charset-normalizer"] = _cn
    except ImportError:
        pass
    return dets


def _truth_codec(folder: str) -> str:
    names = sorted(ENCODING_TRUTH[folder], key=lambda n: (n not in folder.lower(), n))
    return _CODEC[names[0]]


def encoding_table() -> None:
    files = sorted((REAL / "html" / "chardet").glob("*/*"))
    print(f"## Encoding detection: {len(files)} chardet pages, no declared charset\n")
    print("| detector | right name (or equivalent) | same text as truth | µs/page | misses |")
    print("|---|---|---|---|---|")
    for label, det in _encoding_detectors().items():
        right = same = 0
        total_us = 0.0
        misses = []
        for path in files:
            body = path.read_bytes()
            got, us = _timed(lambda body=body, det=det: det(body), 5)
            total_us += us
            folder = path.parent.name
            truth_text = body.decode(_truth_codec(folder), "replace")
            codec = _CODEC.get(got)
            text = body.decode(codec, "replace") if codec else None
            same += text is not None and text.lstrip("\ufeff") == truth_text.lstrip("\ufeff")
            if got in ENCODING_TRUTH[folder]:
                right += 1
            else:
                misses.append(f"{folder}→{got}")
        print(f"| {label} | {right}/{len(files)} | {same}/{len(files)} "
              f"| {total_us / len(files):.0f} | {', '.join(misses) or '—'} |")
    print()


# ---- language ------------------------------------------------------------------------------

def _cld2_raw(text: str) -> str:
    import pycld2

    try:
        reliable, _, details = pycld2.detect(language._UNSAFE.sub(" ", text), isPlainText=True)
    except pycld2.error:
        return "!"
    return language._iso(details[0][1]) if reliable else ""


def _resiliparse(text: str) -> str:
    from resiliparse.parse.lang import detect_fast

    lang, _rank = detect_fast(text)
    return "" if lang == "unknown" else lang


def _py3langid(text: str) -> str:
    import py3langid

    return py3langid.classify(text)[0]


def _ours(cap: int, use_declared: bool = False) -> Callable[[str, str], str]:
    def run(text: str, declared: str) -> str:
        language.CAP_CHARS = cap
        return language.detect_language(text, declared if use_declared else "")

    return run


def _capped(fn: Callable[[str], str], cap: int) -> Callable[[str, str], str]:
    return lambda text, _declared: fn(text[:cap])


def _whole(fn: Callable[[str], str]) -> Callable[[str, str], str]:
    return lambda text, _declared: fn(text)


def _declared_only(_text: str, declared: str) -> str:
    return language._iso_declared(declared)


_HTML_LANG = re.compile(r"<html[^>]*?\blang\s*=\s*[\"']?([-\w]+)", re.I)


def language_table() -> None:
    pages = []
    for key, (group, lang) in LANGUAGE_TRUTH.items():
        body, ctype = read_page(key)
        html = decode(body, ctype)[0]
        found = _HTML_LANG.search(html, 0, 20000)
        pages.append((group, lang, visible_text(html), found.group(1) if found else ""))
    groups = sorted({p[0] for p in pages})
    counts = {g: sum(1 for p in pages if p[0] == g) for g in groups}
    dets: dict[str, Callable[[str, str], str]] = {
        "**linkatlas: cld2, 2000 chars, rules, declared tie-break**": _ours(2000, True),
        "linkatlas without declared": _ours(2000),
        "linkatlas, cap 500": _ours(500),
        "linkatlas, cap 1000": _ours(1000),
        "linkatlas, cap 4000": _ours(4000),
        "linkatlas, no cap": _ours(10**9),
        "pycld2 raw (reliable flag only), whole text": _whole(_cld2_raw),
        "resiliparse detect_fast, 2000 chars": _capped(_resiliparse, 2000),
        "resiliparse detect_fast, whole text": _whole(_resiliparse),
        "py3langid, 500 chars": _capped(_py3langid, 500),
        "py3langid, 2000 chars": _capped(_py3langid, 2000),
        "py3langid, whole text": _whole(_py3langid),
        "declared <html lang> alone": _declared_only,
    }
    mean_len = sum(len(p[2]) for p in pages) / len(pages)
    print(f"## Language: {len(pages)} real pages, mean visible text {mean_len:.0f} chars\n")
    head = " | ".join(f"{g} ({counts[g]})" for g in groups)
    print(f"| detector | all ({len(pages)}) | {head} | \"\" answers | µs/page |")
    print("|---|---|" + "---|" * len(groups) + "---|---|")
    for label, det in dets.items():
        right = dict.fromkeys(groups, 0)
        unsure = 0
        total_us = 0.0
        wrong = []
        for group, lang, text, declared in pages:
            got, us = _timed(lambda det=det, text=text, declared=declared: det(text, declared))
            total_us += us
            right[group] += got == lang
            unsure += got == ""
            if got not in (lang, ""):
                wrong.append(f"{lang}→{got}")
        cells = " | ".join(f"{right[g]}" for g in groups)
        print(f"| {label} | {sum(right.values())} | {cells} | {unsure} "
              f"| {total_us / len(pages):.0f} |")
        print(f"{label}: wrong (not unsure): {', '.join(wrong) or '—'}", file=sys.stderr)
    language.CAP_CHARS = 2000
    print()


def main() -> None:
    if not REAL.is_dir():
        sys.exit(f"no test data at {REAL}")
    encoding_table()
    language_table()


if __name__ == "__main__":
    main()
