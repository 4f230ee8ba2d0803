"""`make demo ARGS=--once`: the scripted welcome journey on the local cloud runs to its end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_once_demo_runs_the_welcome_program_to_its_end() -> None:
    # When the demo runs its scenario once, as a newcomer would
    result = subprocess.run(
        [sys.executable, "-m", "localcloud.demo", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,  # the scenario, then a predictive model trained on 1,500 contacts
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
    )
    output = result.stdout + result.stderr

    # Then it exits cleanly, having watched the program finish
    assert result.returncode == 0, output[-4000:]
    assert "program 'welcome' finished" in output, output[-4000:]
    # every request to the local server is logged (method, path, status, time)
    assert "POST /v1/forms/newsletter-signup 202 " in result.stderr, result.stderr[-4000:]
    # it says where the console is (served by the same local server, tests/e2e/test_console.py)
    assert "Console on http://127.0.0.1:" in output and "/console/" in output, output[:2000]
    # and moto's interpreter has no error to report for the compiled program
    assert "NoSuchJsonPathError" not in output, output[-4000:]
    # the predictive model's card and one explained score (localcloud/demo_predictive.py)
    assert "# Predictive model v1" in output and "**LIVE**" in output, output[-4000:]
    assert "One contact's explained score:" in output, output[-4000:]
