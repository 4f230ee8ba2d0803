"""Every handler imports (a cold start) in the layout Lambda gives it, and nothing else: the
function's directory (with its own requirements.txt installed, as `sam build` does) and the
layer's `python/` folder (layers/nurture/requirements.txt installed with pip --target, plus
the nurture package), in a fresh interpreter without site-packages, with the template's
environment. AWS is a moto server on loopback (AWS_ENDPOINT_URL) holding the stack's
secrets, so the import-time reads (secrets, clients) run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.lambda_layout import (
    function_dir,
    function_environment,
    secrets_server,
    shipped_layer,
    zip_functions,
)
from localcloud.template import load_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = zip_functions(TEMPLATE)
STACK, REGION, ACCOUNT = "nurture", "eu-west-1", "123456789012"


@pytest.fixture(scope="module")
def layer() -> Path:
    """/opt/python: the layer as `make build-SharedLayer` (what sam build runs) leaves it."""
    return shipped_layer()


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """A moto server on loopback with the stack's secrets in Parameter Store."""
    with secrets_server(STACK, REGION) as endpoint:
        yield endpoint


def _environment(props: dict[str, Any], endpoint: str) -> dict[str, str]:
    """The function's variables as the template sets them and Lambda adds, with AWS pointed
    at the loopback moto server (and no X-Ray daemon here)."""
    env = function_environment(
        props, TEMPLATE, stack=STACK, region=REGION, account=ACCOUNT, tracing=False
    )
    return {**env, "AWS_ENDPOINT_URL": endpoint}


IMPORT = """
import importlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]   # /var/task, /opt/python
module = importlib.import_module(sys.argv[3])
handler = getattr(module, sys.argv[4])
assert callable(handler)
# nothing may come from outside the two folders and the standard library
stdlib = sys.base_prefix
outside = sorted(
    name for name, m in list(sys.modules.items())
    if getattr(m, "__file__", None)
    and not m.__file__.startswith((sys.argv[1], sys.argv[2], stdlib))
)
print(json.dumps(outside))
"""


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_handler_imports_from_its_folder_and_the_layer_only(
    name: str, layer: Path, aws: str
) -> None:
    props = FUNCTIONS[name]
    module, handler = props["Handler"].rsplit(".", 1)
    task = function_dir(name, props["CodeUri"])
    result = subprocess.run(
        # -I: no PYTHON* variables, no user site; -S: no site-packages (Lambda's sys.path)
        [sys.executable, "-I", "-S", "-c", IMPORT, str(task), str(layer), module, handler],
        env=_environment(props, aws),
        cwd=task,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} does not import as Lambda runs it:\n{result.stderr}"
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_layer_holds_only_what_its_requirements_and_package_bring(layer: Path) -> None:
    # The venv's dev tools (moto, pytest, ...) never reach the layer.
    top = {p.name.split("-")[0].lower() for p in layer.iterdir()}
    assert "nurture" in top and "aws_lambda_powertools" in top
    assert not top & {"moto", "pytest", "localcloud", "duckdb"}


# What the report engine (REPORT_ENGINE: duckdb or athena) imports on a function's first query:
# DuckDB for the embedded engine, sqlglot to write one SQL text for either. The layer leaves
# them out (DuckDB alone is ~60 MB), so each function that queries ships them in its folder.
REPORT_MODULES = ("duckdb", "sqlglot")


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, props in FUNCTIONS.items()
        if "REPORT_ENGINE" in props.get("Environment", {}).get("Variables", {})
    ),
)
def test_each_function_that_queries_the_lake_ships_the_report_engine(
    name: str, layer: Path
) -> None:
    task = function_dir(name, FUNCTIONS[name]["CodeUri"])
    code = "import sys; sys.path[:0] = sys.argv[1:3]\n" + "".join(
        f"import {module}\n" for module in REPORT_MODULES
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(task), str(layer)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} cannot run a report query:\n{result.stderr}"
