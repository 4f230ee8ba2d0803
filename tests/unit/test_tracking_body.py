"""Request bodies: gzip inflated only up to the limit (a bomb costs nothing), limits on the
decompressed size, and clear reasons for what cannot be read."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from nurture.tracking.body import BadBody, BodyTooLarge, UnsupportedEncoding, decode, parse_json

pytestmark = pytest.mark.unit

LIMIT = 32 * 1024  # Segment's 32 KB per call


def test_a_gzip_body_is_inflated() -> None:
    raw = b'{"event": "Order Completed"}'
    assert decode(gzip.compress(raw), "gzip", LIMIT) == raw
    assert decode(gzip.compress(raw), "x-gzip", LIMIT) == raw
    # several gzip members one after another are one body (RFC 1952)
    assert decode(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", LIMIT) == b"abcd"


def test_the_limit_is_on_the_decompressed_size() -> None:
    exactly = b"x" * LIMIT
    assert decode(gzip.compress(exactly), "gzip", LIMIT) == exactly
    with pytest.raises(BodyTooLarge, match="decompressed body is larger than 32 KB"):
        decode(gzip.compress(exactly + b"x"), "gzip", LIMIT)


def test_a_decompression_bomb_is_refused_without_inflating_it() -> None:
    # 200 MB of zeros compress to about 200 KB
    inflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    bomb = b"".join(inflater.compress(chunk) for _ in range(200)) + inflater.flush()
    assert len(bomb) < 500 * 1024

    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            decode(bomb, "gzip", 500 * 1024)  # Segment's 500 KB per batch
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # at most about the limit was ever inflated, not 200 MB
    assert peak < 4 * 1024 * 1024, peak


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b'{"a": 1}')[:-12], "ends too soon"),
    ],
    ids=["garbage", "truncated"],
)
def test_a_broken_gzip_body_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(BadBody, match=reason):
        decode(data, "gzip", LIMIT)


def test_an_unknown_encoding_is_refused_and_identity_is_none() -> None:
    with pytest.raises(UnsupportedEncoding, match="'br' is not supported"):
        decode(b"...", "br", LIMIT)
    assert decode(b"{}", "identity", LIMIT) == b"{}"


def test_a_plain_body_over_the_limit_is_too_large() -> None:
    with pytest.raises(BodyTooLarge, match="the limit is 32 KB"):
        decode(b"x" * (LIMIT + 1), None, LIMIT)


def test_json_is_read_whatever_the_content_type() -> None:
    assert parse_json(b' {"batch": []} ') == {"batch": []}
    with pytest.raises(BadBody, match="empty"):
        parse_json(b"  ")
    with pytest.raises(BadBody, match="not valid JSON"):
        parse_json(b"\xff\xfe")
