"""Shared by the predictive tests: a small demo lake, made once per session."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from nurture.predictive.demo_data import Options, write

AS_OF = "2026-12-01 00:00:00"
SMALL = Options(contacts=3000, seed=11)


@cache
def demo_lake() -> Path:
    """A demo lake (read-only: copy it before changing anything)."""
    root = Path(__file__).resolve().parents[2] / ".pytest_cache" / f"predictive-{SMALL.seed}"
    if not (root / "truth" / "README.md").exists():
        shutil.rmtree(root, ignore_errors=True)
        write(root, SMALL)
    return root


def copy_of(tmp: Path) -> Path:
    target = tmp / "lake-copy"
    shutil.copytree(demo_lake(), target)
    return target
