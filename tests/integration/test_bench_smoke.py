"""`make bench` keeps working: every benchmark runs as a short pass (BENCH_SMOKE=1).

The figures of a smoke pass mean little (a few repetitions); what is checked is that each
benchmark still runs the production code it times to the end - their own sanity checks
(events accepted, nothing stored twice, no transaction on the ingest path, every handler
importable in the Lambda layout) fail the run - and prints its goals."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_make_bench_runs_green_as_a_smoke_pass() -> None:
    result = subprocess.run(
        # -o: take the venv as installed (the suite runs in it); do not reinstall it
        ["make", "--no-print-directory", "-o", ".venv/.installed", "bench", "BENCH_SMOKE=1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    out = result.stdout
    assert "ingest handler, /v1/batch (real adapter)" in out and "<= 3x" in out
    assert "write units (goal <= 1" in out
    assert "IngestFunction" in out and "<= 1.5x" in out
