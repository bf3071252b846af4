"""HTTP codings undone with a byte cap: the one decoder table of the crawler and of extraction.

Content codings (RFC 9110 §8.4): `gzip` and `x-gzip`, `deflate` (zlib-wrapped by the RFC, raw
by some servers; gzip bytes are read too), `br`, `identity`; a list is undone from its last
coding. Transfer coding: `chunked` (RFC 9112 §7.1).

A coding is undone only when the bytes really are coded that way (a decoder that fails before
its first byte of output leaves them as they are): Common Crawl (until 2018) and node-warc
stored decoded payloads but kept the headers. Output is decoded in steps of 256 KiB: at most
`keep` bytes are kept, at most `count` are decoded and counted, and then the decoder stops
(`CAPPED`: a decompression bomb costs `keep` bytes of memory and `count` bytes of work).
Damaged or cut-short data keeps what came before the damage (`CORRUPT`), as a browser shows it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import NamedTuple

import brotli

__all__ = ["CAPPED", "CORRUPT", "DECODED", "PLAIN", "UNKNOWN", "Decoded", "decode_body",
           "decode_content", "dechunk", "undo_transfer_coding"]

PLAIN = "plain"  # nothing undone: no coding, identity, or bytes not coded as labelled
DECODED = "decoded"  # every coding undone, to the end
CAPPED = "capped"  # decoding stopped at `count` bytes (a bomb): the rest is not decoded
CORRUPT = "corrupt"  # damaged or cut short: what was decoded before the damage
UNKNOWN = "unknown"  # a coding not in the table: the bytes as they are

_IN = 1 << 16  # bytes of input per decoder call
_OUT = 1 << 18  # bytes of output per decoder call


class Decoded(NamedTuple):
    """A body with its codings undone: at most `keep` bytes, `size` bytes decoded in all."""

    body: bytes
    size: int
    outcome: str  # PLAIN, DECODED, CAPPED, CORRUPT or UNKNOWN

    @property
    def coded(self) -> bool:
        """Whether a coding was undone (else `body` is the input, cut at `keep`)."""
        return self.outcome not in (PLAIN, UNKNOWN)


class _Sink:
    """Decoded output: the first `keep` bytes kept, up to `count` counted."""

    def __init__(self, keep: int, count: int) -> None:
        self.keep, self.count = keep, count
        self.chunks: list[bytes] = []
        self.kept = self.total = 0

    def add(self, piece: bytes) -> bool:
        """Take a piece; True when `count` bytes are reached (decoding must stop)."""
        if self.kept < self.keep:
            self.chunks.append(piece[:self.keep - self.kept])
            self.kept += len(self.chunks[-1])
        self.total += len(piece)
        return self.total >= self.count

    def result(self, outcome: str) -> Decoded:
        return Decoded(b"".join(self.chunks), min(self.total, self.count), outcome)


# A decoder: (data, keep, count) → Decoded, or None when data is not coded its way.
_Decoder = Callable[[bytes, int, int], "Decoded | None"]


def _zlib(wbits: int) -> _Decoder:
    """gzip (wbits 16 + 15), zlib (15), either (32 + 15) or raw deflate (-15)."""

    def decode(data: bytes, keep: int, count: int) -> Decoded | None:
        decoder = zlib.decompressobj(wbits)
        sink = _Sink(keep, count)
        view = memoryview(data)
        try:
            for start in range(0, len(data), _IN):
                pending: bytes | memoryview = view[start:start + _IN]
                while pending:
                    capped = sink.add(decoder.decompress(pending, _OUT))
                    if decoder.eof:
                        return sink.result(DECODED)
                    if capped:
                        return sink.result(CAPPED)
                    pending = decoder.unconsumed_tail
            sink.add(decoder.flush())  # (what the last call held back: less than a window)
        except zlib.error:
            return sink.result(CORRUPT) if sink.total else None
        if decoder.eof:
            return sink.result(DECODED)
        return sink.result(CORRUPT) if sink.total else None

    return decode


def _brotli(data: bytes, keep: int, count: int) -> Decoded | None:
    """brotli 1.2's output_buffer_limit bounds each step (to about twice the limit)."""
    decoder = brotli.Decompressor()
    sink = _Sink(keep, count)
    try:
        for start in range(0, len(data), _IN):
            piece = decoder.process(data[start:start + _IN], output_buffer_limit=_OUT)
            while True:
                capped = sink.add(piece)
                if decoder.is_finished():
                    return sink.result(DECODED)
                if capped:
                    return sink.result(CAPPED)
                if decoder.can_accept_more_data():
                    break
                piece = decoder.process(b"", output_buffer_limit=_OUT)
    except brotli.error:
        return sink.result(CORRUPT) if sink.total else None
    return sink.result(CORRUPT) if sink.total else None


# The decoder table: coding → decoders tried in order (the first that applies decodes).
_CODINGS: dict[str, tuple[_Decoder, ...]] = {
    "gzip": (_zlib(16 + zlib.MAX_WBITS),),
    "x-gzip": (_zlib(16 + zlib.MAX_WBITS),),
    "deflate": (_zlib(32 + zlib.MAX_WBITS), _zlib(-zlib.MAX_WBITS)),
    "br": (_brotli,),
}


def decode_content(data: bytes, content_encoding: str, keep: int, count: int | None = None
                   ) -> Decoded:
    """`data` with the codings of a Content-Encoding undone: at most `keep` bytes kept and
    `count` (default `keep`) decoded. A list is undone from its last coding; a layer before the
    last is kept up to `keep` bytes only."""
    limit = keep if count is None else max(count, keep)
    body, size, outcome = data, len(data), PLAIN
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("", "identity"):
            continue
        decoders = _CODINGS.get(coding)
        if decoders is None:
            return Decoded(body[:keep], size, UNKNOWN)
        for decoder in decoders:
            layer = decoder(body, keep, limit)
            if layer is not None:
                body, size = layer.body, layer.size
                outcome = layer.outcome if outcome in (PLAIN, DECODED) else outcome
                break
    return Decoded(body[:keep], size, outcome)


def decode_body(body: bytes, content_encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most `limit` bytes (the crawler's use)."""
    return decode_content(body, content_encoding, limit).body


_CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]+)[^\r\n]*\r?\n")


def dechunk(raw: bytes) -> bytes | None:
    """RFC 9112 §7.1 chunked coding undone (never longer than raw), or None when raw is not
    chunked."""
    parts: list[bytes] = []
    position = 0
    while True:
        match = _CHUNK_SIZE.match(raw, position)
        if match is None:
            return None if not parts else b"".join(parts)  # a truncated tail is kept as is
        length = int(match.group(1), 16)
        if length == 0:
            return b"".join(parts)
        start = match.end()
        parts.append(raw[start : start + length])
        position = start + length
        if raw.startswith(b"\r\n", position):
            position += 2
        elif raw.startswith(b"\n", position):
            position += 1


def undo_transfer_coding(raw: bytes, transfer_encoding: str) -> bytes | None:
    """raw with a `chunked` Transfer-Encoding undone, or None when there is none to undo (not
    listed, or the bytes are not chunked: stored decoded)."""
    return dechunk(raw) if "chunked" in transfer_encoding.lower() else None
