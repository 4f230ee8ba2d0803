"""Signed link tokens at their edges: the wire format, each refusal's reason, the size and
expiry boundaries, and which secret signs after a rotation."""

from __future__ import annotations

import pytest

from nurture.delivery.tokens import (
    CLICK,
    CONFIRM,
    UNSUBSCRIBE,
    InvalidToken,
    LinkToken,
    sign,
    verify,
)

pytestmark = pytest.mark.unit
SECRET = ["s" * 32]
NOW = 1_767_600_000

# The documented format, computed once by hand from the module docstring: base64url(compact,
# key-sorted JSON) "." base64url(HMAC-SHA256(secret, "nurture-link-v1." + payload)), no padding.
VECTOR = (
    "eyJjIjoiYy0xIiwicCI6InVuc3Vic2NyaWJlIiwidCI6Im5ld3MiLCJ4IjoxNzY3NjAwMDYwfQ"
    ".Xe87u6MRi7IuUA43Rt_ZDB111qEJprSenNVdMYqAf9g"
)


def test_a_token_is_exactly_the_documented_wire_format() -> None:
    token = LinkToken("c-1", UNSUBSCRIBE, 1_767_600_060, {"t": "news"})
    assert sign(SECRET, token) == VECTOR
    assert "=" not in VECTOR
    assert verify(SECRET, VECTOR, UNSUBSCRIBE, NOW) == token


def test_verify_returns_every_field_of_the_token() -> None:
    text = sign(SECRET, LinkToken("c-9", CLICK, NOW + 5, {"u": "https://x.example/"}))
    token = verify(SECRET, text, CLICK, NOW)
    assert token.contact_id == "c-9"
    assert token.purpose == CLICK
    assert token.expires_at == NOW + 5
    assert token.scope == {"u": "https://x.example/"}


def test_an_unknown_purpose_cannot_be_signed_and_the_error_names_it() -> None:
    with pytest.raises(ValueError, match=r"^unknown token purpose 'coupon'$"):
        sign(SECRET, LinkToken("c-1", "coupon", NOW))


def _reason(
    text: str, purpose: str = UNSUBSCRIBE, now: int = NOW, secrets: list[str] = SECRET
) -> str:
    with pytest.raises(InvalidToken) as refused:
        verify(secrets, text, purpose, now)
    return str(refused.value)


def test_each_refusal_says_why() -> None:
    good = sign(SECRET, LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    payload, mac = good.split(".")
    assert _reason("no-dot-at-all") == "malformed token"
    assert _reason("." + mac) == "malformed token"  # no payload
    assert _reason(payload + ".") == "malformed token"  # no MAC
    assert _reason(payload + ".A") == "malformed token"  # a MAC that is not base64
    assert _reason(payload + "." + mac[::-1]) == "bad signature"
    assert _reason(good, secrets=["t" * 32]) == "bad signature"
    assert _reason(good, purpose=CONFIRM) == "token is for another purpose"
    assert _reason(good, now=NOW + 61) == "token has expired"


def test_the_mac_is_everything_after_the_first_dot() -> None:
    good = sign(SECRET, LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    # "<payload>.<mac>.A": the MAC read is "<mac>.A" (a wrong MAC), not "A" (no MAC at all)
    assert _reason(good + ".A") == "bad signature"


def test_a_correctly_signed_payload_that_is_not_a_token_is_malformed() -> None:
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'{"c":"c-1"}').decode().rstrip("=")
    mac = hmac.new(SECRET[0].encode(), b"nurture-link-v1." + payload.encode(), hashlib.sha256)
    forged = payload + "." + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
    assert _reason(forged) == "malformed token"  # no purpose, no expiry


def test_tokens_up_to_2048_characters_are_read_and_longer_ones_are_not() -> None:
    good = sign(SECRET, LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    payload, mac = good.split(".")
    at_limit = "A" * (2048 - len(mac) - 1) + "." + mac
    assert len(at_limit) == 2048
    assert _reason(at_limit) == "bad signature"  # read, and refused for its MAC
    assert _reason("A" + at_limit) == "malformed token"  # 2049: refused unread


def test_a_token_is_valid_through_its_expiry_second() -> None:
    text = sign(SECRET, LinkToken("c-1", UNSUBSCRIBE, NOW))
    assert verify(SECRET, text, UNSUBSCRIBE, NOW).contact_id == "c-1"
    assert _reason(text, now=NOW + 1) == "token has expired"


def test_after_a_rotation_the_newest_secret_signs_and_every_listed_one_verifies() -> None:
    new, old = "n" * 32, "o" * 32
    text = sign([new, old], LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    assert verify([new], text, UNSUBSCRIBE, NOW).contact_id == "c-1"
    assert _reason(text, secrets=[old]) == "bad signature"
    from_old = sign([old], LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    assert verify([new, old], from_old, UNSUBSCRIBE, NOW).contact_id == "c-1"


def _reference(secret: str, body: dict[str, object]) -> str:
    """The documented format, written independently of the module."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    payload = b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), b"nurture-link-v1." + payload.encode(), hashlib.sha256)
    return f"{payload}.{b64(mac.digest())}"


def test_every_token_matches_the_documented_format() -> None:
    # 900 tokens: payloads of every length modulo 3 and every last base64 character
    for n in range(300):
        for pad in ("", "n", "nn"):  # every payload length modulo 3
            scope = {"t": "news" + pad}
            token = LinkToken(f"c-{n}", CONFIRM, NOW + n, scope)
            expected = _reference(SECRET[0], {"c": f"c-{n}", "p": CONFIRM, "x": NOW + n, **scope})
            assert sign(SECRET, token) == expected
            assert verify(SECRET, expected, CONFIRM, NOW) == token
