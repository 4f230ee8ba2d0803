"""Request bodies as tracking SDKs send them: JSON whatever the Content-Type says (the
browser SDK sends `text/plain` so that no CORS preflight is needed), optionally gzip-encoded
(the RudderStack server SDKs do it by default). Size limits apply to the decompressed body,
and a gzip body is inflated only up to the limit, so a decompression bomb costs nothing."""

from __future__ import annotations

import json
import zlib
from typing import Any


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


def parse_json(data: bytes) -> Any:
    """The JSON document in a body (any Content-Type); raises BadBody."""
    if not data.strip():
        raise BadBody("body is empty; send a JSON object")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadBody(f"body is not valid JSON: {exc}") from exc
