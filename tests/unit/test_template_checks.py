"""AWS's and others' own checkers on template.yaml: checkov (security), cfn-lint with its
informational rules, and SAM CLI's `sam validate --lint`; and the template, the layer build
and these tests on one Python. checkov and SAM CLI live in venvs of their own
(.venv/tools/*, from tools/*.txt: their pins clash with the project's); `make test` makes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from localcloud.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.prefix) / "tools"


def _tool(venv: str, command: str) -> Path:
    path = TOOLS / venv / "bin" / command
    assert path.exists(), f"{path} is missing: `make test` installs it from tools/{venv}.txt"
    return path


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **env},
    )


def test_checkov_finds_nothing_that_is_not_fixed_or_skipped_with_a_reason() -> None:
    result = _run(
        [
            str(_tool("checkov", "checkov")),
            "--file",
            "template.yaml",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",  # no Prisma Cloud look-ups: offline, same result
        ]
    )
    report: Any = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov:\n" + "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0
    assert len(report["results"]["skipped_checks"]) == report["summary"]["skipped"]
    for check in report["results"]["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 20, f"{check['check_id']} on {check['resource']} needs a reason"


def test_cfn_lint_with_informational_rules_is_clean() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = _run([str(cfn_lint), "--include-checks", "I", "--", "template.yaml"])
    assert result.returncode == 0, f"cfn-lint -I:\n{result.stdout}{result.stderr}"


def test_sam_validate_lint_accepts_the_template() -> None:
    result = _run(
        [str(_tool("sam", "sam")), "validate", "--lint", "--template", "template.yaml"],
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
    )
    assert result.returncode == 0, f"sam validate --lint:\n{result.stdout}{result.stderr}"
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_lambda_the_layer_build_and_the_tests_run_one_python() -> None:
    template = load_template(ROOT / "template.yaml")
    runtime = template["Globals"]["Function"]["Runtime"]
    layer = template["Resources"]["SharedLayer"]
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    # The layer's Makefile (BuildMethod: makefile) builds with, and for, the runtime's Python.
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert f"PYTHON ?= {runtime}\n" in makefile
    assert f"--python-version {runtime.removeprefix('python')} " in makefile
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            assert res["Properties"].get("Runtime", runtime) == runtime, name
    tests_python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert tests_python == runtime, (
        f"the tests run on {tests_python}, Lambda on {runtime}: rebuild the venv "
        "(rm -rf .venv && make test) so they agree"
    )
