"""The `language` column: the main language of a page's visible text, as ISO 639-1.

CLD2 (pycld2) decides; the choice, the text cap and the "unsure" rule are measured in
docs/language-encoding.md (bench/detectors.py prints the table).
"""

from __future__ import annotations

import re

import pycld2

__all__ = ["detect_language"]

# Characters of visible text given to CLD2. CLD2's cost is linear in its input; 2,000 characters
# was as accurate as the whole page on the real pages and costs a fraction (docs).
CAP_CHARS = 2000
# Below this many letters only a language with a script of its own (kana, hangul, Thai, …) is
# taken from CLD2: short Latin text is too often misread ("Tour de Pologne Etappe" -> Danish).
MIN_LETTERS = 12
_OWN_SCRIPT = frozenset(
    ["ja", "ko", "th", "el", "he", "ka", "hy", "km", "lo", "my", "si", "bo", "am", "dv", "iu"])
# "Unsure" (docs): CLD2 flags the answer unreliable and its language covers < 60% of the
# scored text, or it is reliable but covers < 40% (a mixed page with no main language).
MIN_PERCENT = 40
MIN_PERCENT_UNRELIABLE = 60

# CLD2 rejects some code points ("invalid UTF-8"): C0/C1 controls, surrogates, noncharacters.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_LETTER = re.compile(r"[^\W\d_]")
# CLD2 codes that are not ISO 639-1 or are old ones.
_CLD2_CODES = {"iw": "he", "jw": "jv", "zh-Hant": "zh", "sr-ME": "sr", "in": "id", "ji": "yi"}
_DECLARED = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_].*)?\s*$")


def detect_language(text: str, declared: str = "") -> str:
    """ISO 639-1 code of the main language of the visible page text, or "" when unknown/unsure.

    `declared` (the page's <html lang>) is only a tie-break: it is taken when the text is too
    short to measure, or when CLD2 is unsure but lists it among its candidates. Measurement
    showed declarations are wrong too often (templates say "en") to let them override CLD2."""
    sample = _UNSAFE.sub(" ", text[:CAP_CHARS])
    try:
        reliable, _, details = pycld2.detect(sample, isPlainText=True)
    except pycld2.error:  # still possible on odd input; unknown beats a lost page
        return _iso_declared(declared)
    top = _iso(details[0][1])
    percent = details[0][2]
    # the first 200 characters usually settle it; count the rest only for short or odd text
    short = len(_LETTER.findall(sample, 0, 200)) < MIN_LETTERS and len(
        _LETTER.findall(sample)) < MIN_LETTERS
    if short:
        sure = reliable and top in _OWN_SCRIPT
    else:
        sure = percent >= (MIN_PERCENT if reliable else MIN_PERCENT_UNRELIABLE)
    if top and sure:
        return top
    hint = _iso_declared(declared)
    if short or hint in {_iso(d[1]) for d in details if d[2] > 0}:
        return hint
    return ""


def _iso(code: str) -> str:
    code = _CLD2_CODES.get(code, code)
    return code if len(code) == 2 and code.isalpha() and code != "un" else ""


def _iso_declared(declared: str) -> str:
    found = _DECLARED.match(declared)
    if not found:
        return ""
    return _iso(found.group(1).lower())
