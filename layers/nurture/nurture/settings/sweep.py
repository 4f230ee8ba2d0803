"""The sweep function's settings."""

from __future__ import annotations

from nurture.settings import Tables


class SweepSettings(Tables):
    pass
