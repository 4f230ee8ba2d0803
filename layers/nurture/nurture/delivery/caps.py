"""Frequency caps across all programs: at most N marketing messages per channel per period."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nurture.delivery.ports import CapDecision

_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([dh])\s*$")


@dataclass(frozen=True)
class FrequencyCap:
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> FrequencyCap | None:
        """'3/7d' = at most 3 per 7 days; '2/12h'; 'none' = no cap."""
        if text.strip().lower() in ("", "none", "off"):
            return None
        match = _PATTERN.match(text.lower())
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise ValueError(
                f"{text!r} is not a frequency cap; write e.g. '3/7d' (3 per 7 days) or '2/12h'"
            )
        unit = 86400 if match[3] == "d" else 3600
        return cls(int(match[1]), int(match[2]) * unit)


def evaluate(
    sends: list[tuple[int, str]], now: int, send_id: str, limit: int, window_seconds: int
) -> CapDecision:
    """Decide one send against the sends already counted: (epoch, send id) pairs.

    Allowed sends come back with the new list (pruned, with this send added); a send that
    is already counted (a retry) is allowed again without counting twice.
    """
    recent = sorted(s for s in sends if s[0] > now - window_seconds)
    if any(sid == send_id for _, sid in recent):
        return CapDecision(allowed=True, counted=recent)
    if len(recent) >= limit:
        # The send becomes allowed when enough of the oldest ones have left the window.
        release = recent[len(recent) - limit][0] + window_seconds
        return CapDecision(allowed=False, release_at=release, counted=recent)
    return CapDecision(allowed=True, counted=[*recent, (now, send_id)])
