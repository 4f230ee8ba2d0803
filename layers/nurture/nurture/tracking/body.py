"""Request bodies as tracking SDKs send them: JSON whatever the Content-Type says (the
browser SDK sends `text/plain` so that no CORS preflight is needed), optionally gzip-encoded
(the RudderStack server SDKs do it by default). Size limits apply to the decompressed body,
and a gzip body is inflated only up to the limit, so a decompression bomb costs nothing.

JSON is read by pydantic-core's parser (jiter), which refuses what Python's `json` lets
through and later breaks: lone UTF-16 surrogates (`"\\ud800"`, which no UTF-8 encoder can
write back), `NaN`/`Infinity`, integers over 4,300 digits (Python's int limit, a ValueError
at conversion) and nesting deeper than its recursion limit (about 200 levels); each is a
400 with the position it was found at, never a RecursionError.
"""

from __future__ import annotations

import zlib
from typing import Any
from urllib.parse import parse_qsl

from pydantic_core import from_json


class BodyTooLarge(ValueError):
    """413: the body, once decompressed, is larger than the limit."""


class BadBody(ValueError):
    """400: the body cannot be read (bad gzip, not JSON)."""


class UnsupportedEncoding(ValueError):
    """415: a Content-Encoding other than gzip."""


def _limit_text(limit: int) -> str:
    return f"{limit // 1024} KB"


def _gunzip(data: bytes, limit: int) -> bytes:
    out = bytearray()
    pending = data
    while pending:  # a gzip file may hold several members, one after the other
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            # Never ask for more than one byte past the limit: the rest is not inflated.
            out += inflater.decompress(pending, limit + 1 - len(out))
            while len(out) <= limit and inflater.unconsumed_tail:
                out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
        except zlib.error as exc:
            raise BadBody(f"body is not valid gzip: {exc}") from exc
        if len(out) > limit:
            raise BodyTooLarge(f"decompressed body is larger than {_limit_text(limit)}")
        if not inflater.eof:
            raise BadBody("body is not valid gzip: the compressed data ends too soon")
        pending = inflater.unused_data
    return bytes(out)


def decode(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body's bytes, decompressed; raises BodyTooLarge, BadBody or UnsupportedEncoding."""
    encodings = [
        e.strip().lower()
        for e in (content_encoding or "").split(",")
        if e.strip().lower() not in ("", "identity")
    ]
    if not encodings:
        if len(data) > limit:
            raise BodyTooLarge(f"body is {len(data)} bytes; the limit is {_limit_text(limit)}")
        return data
    if encodings not in (["gzip"], ["x-gzip"]):
        raise UnsupportedEncoding(
            f"Content-Encoding {content_encoding!r} is not supported; send gzip or none"
        )
    if len(data) > limit:  # JSON compresses; a compressed body this big is no tracking call
        raise BodyTooLarge(f"compressed body is larger than {_limit_text(limit)}")
    return _gunzip(data, limit)


_BOM = b"\xef\xbb\xbf"
# jiter's own words for what it refuses, in ours (the position follows them).
_REASONS = {
    "recursion limit exceeded": "it is nested too deeply",
    "number out of range": "a number is out of range",
    "lone leading surrogate in hex escape": "a string holds a lone UTF-16 surrogate",
    "unexpected end of hex escape": "a string holds a lone UTF-16 surrogate",
    "invalid unicode code point": "it is not UTF-8",
}


def parse_json(data: bytes) -> Any:
    """The JSON document in a body (any Content-Type); raises BadBody."""
    if not data.strip():
        raise BadBody("body is empty; send a JSON object")
    try:
        return from_json(data.removeprefix(_BOM), allow_inf_nan=False)
    except ValueError as exc:
        detail = str(exc)
        for words, reason in _REASONS.items():
            if detail.startswith(words):
                detail = f"{reason} ({detail})"
                break
        raise BadBody(f"body is not valid JSON: {detail}") from exc


def parse_form(data: bytes) -> dict[str, str]:
    """A url-encoded form (`application/x-www-form-urlencoded`), every name and value UTF-8:
    a byte sequence that is not (an encoded lone surrogate, Latin-1) is refused by name
    rather than turned into replacement characters that could pass as an address."""
    form: dict[str, str] = {}
    # Latin-1 maps each byte to one character and back, so the bytes survive unquoting.
    pairs = parse_qsl(data.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    for raw_name, raw_value in pairs:
        try:
            name = raw_name.encode("latin-1").decode()
        except UnicodeDecodeError:
            raise BadBody("a field name is not UTF-8") from None
        try:
            form[name] = raw_value.encode("latin-1").decode()
        except UnicodeDecodeError:
            shown = name.encode("unicode_escape").decode()[:100]
            raise BadBody(f"field {shown!r} is not UTF-8") from None
    return form
