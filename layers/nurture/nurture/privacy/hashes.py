"""The hash an erased address is kept under (no other import: the send path reads it)."""

from __future__ import annotations

import hashlib

from nurture.contacts import normalise_email


def erased_hash(channel: str, address: str) -> str:
    """SHA-256 of the normalised address: what an erase leaves, so it is never sent to."""
    value = normalise_email(address) if channel == "email" else address.strip().lower()
    return hashlib.sha256(f"erased:{channel}:{value}".encode()).hexdigest()
