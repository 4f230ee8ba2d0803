"""The layer `sam build` makes ships bytecode Lambda can use as it is.

Built by the same Makefile target `sam build` runs (layers/nurture/Makefile,
build-SharedLayer), for this machine. Lambda's filesystem is read-only, so a module without
its .pyc would be compiled again at every cold start; and the .pyc must be valid without the
sources' timestamps (a zip does not keep them): hash-based and unchecked (PEP 552).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.lambda_layout import shipped_layer

pytestmark = pytest.mark.integration

UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, do not check the source


@pytest.fixture(scope="module")
def layer() -> Path:
    return shipped_layer()


def _pyc(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def test_every_module_of_the_layer_has_its_bytecode(layer: Path) -> None:
    sources = [p for p in layer.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 500  # boto3, botocore, pydantic, powertools, nurture ...
    missing = [str(p.relative_to(layer)) for p in sources if not _pyc(p).exists()]
    assert missing == []
    assert (layer / "nurture" / "tracking" / "__pycache__").is_dir()


def test_the_bytecode_is_unchecked_and_matches_this_python(layer: Path) -> None:
    for source in [
        layer / "nurture" / "adapters" / "dynamodb.py",
        layer / "boto3" / "__init__.py",
        layer / "pydantic" / "main.py",
    ]:
        header = _pyc(source).read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, source


def test_a_cold_import_from_the_layer_compiles_nothing(layer: Path) -> None:
    # Python run as Lambda runs it (no site-packages), not writing bytecode: the import
    # system compiles a module's source (SourceLoader.source_to_code) only when it has no
    # .pyc it may use, so no call of it for a file in the layer means none was compiled.
    code = (
        "import sys; from importlib import _bootstrap_external as ext\n"
        "compiled = []\n"
        "original = ext.SourceLoader.source_to_code\n"
        "def source_to_code(self, data, path, **kw):\n"
        "    compiled.append(path)\n"
        "    return original(self, data, path, **kw)\n"
        "ext.SourceLoader.source_to_code = source_to_code\n"
        "sys.path[:0] = [sys.argv[1]]\n"
        "import boto3, pydantic, aws_lambda_powertools, nurture.adapters.dynamodb\n"
        "import nurture.tracking.ingest\n"
        "layer = [m for m in list(sys.modules.values())\n"
        "         if (getattr(m, '__file__', '') or '').startswith(sys.argv[1])]\n"
        "print(len(layer), [p for p in compiled if p.startswith(sys.argv[1])])\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(layer)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported, compiled = result.stdout.strip().split(" ", 1)
    assert int(imported) > 100  # the modules did come from the layer
    assert compiled == "[]"
