"""Identifiers and keys that must be stable across retries."""

from __future__ import annotations

import hashlib
import re
import uuid

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def new_contact_id() -> str:
    return uuid.uuid4().hex


def stable_id(*parts: str, length: int = 32) -> str:
    """A deterministic id from its parts, so a retry produces the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]


def tag_safe(value: str) -> str:
    """SES message tags allow only letters, digits, '_' and '-'."""
    return _UNSAFE.sub("_", value)[:256]
