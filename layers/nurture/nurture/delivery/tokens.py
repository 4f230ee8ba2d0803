"""Signed link tokens: HMAC-SHA256 over contact id, purpose, expiry and scope.

A token is `<payload>.<mac>`, both base64url without padding. The payload is compact JSON
({"c": contact id, "p": purpose, "x": expiry epoch, ...scope}); nothing in it is guessable
or useful without the MAC. Several secrets may be configured (comma-separated): the
first signs, every one verifies, so a secret can be rotated without breaking old links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

UNSUBSCRIBE = "unsubscribe"
CONFIRM = "confirm"
SALES_ANSWER = "sales"  # a salesperson's answer to a hand-off (nurture.sales)
SALES_TASKS = "tasks"  # a salesperson's task list (the contact id is the assignee)
CLICK = "click"  # a tracked link to the site: the visit is this contact (nurture.tracking.trust)
PURPOSES = (UNSUBSCRIBE, CONFIRM, SALES_ANSWER, SALES_TASKS, CLICK)


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True)
class LinkToken:
    contact_id: str
    purpose: str
    expires_at: int
    scope: dict[str, Any] = field(default_factory=dict)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(
        secret.encode(), b"nurture-link-v1." + payload.encode(), hashlib.sha256
    ).digest()


def sign(secrets: Sequence[str], token: LinkToken) -> str:
    if token.purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {token.purpose!r}")
    body = {"c": token.contact_id, "p": token.purpose, "x": token.expires_at, **token.scope}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_mac(secrets[0], payload))}"


def verify(secrets: Sequence[str], text: str, purpose: str, now: int) -> LinkToken:
    """The token's content if its MAC is right, it is for `purpose` and not expired."""
    payload, _, mac = text.partition(".")
    if not payload or not mac or len(text) > 2048:
        raise InvalidToken("malformed token")
    try:
        given = _unb64(mac)
    except ValueError:
        raise InvalidToken("malformed token") from None
    if not any(hmac.compare_digest(given, _mac(s, payload)) for s in secrets):
        raise InvalidToken("bad signature")
    try:
        body = json.loads(_unb64(payload))
        contact_id, token_purpose, expires = (
            str(body.pop("c")),
            str(body.pop("p")),
            int(body.pop("x")),
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed token") from None
    if token_purpose != purpose:
        raise InvalidToken("token is for another purpose")
    if expires < now:
        raise InvalidToken("token has expired")
    return LinkToken(contact_id=contact_id, purpose=token_purpose, expires_at=expires, scope=body)
