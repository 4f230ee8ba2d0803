"""The folders Lambda gives a function, built here as `sam build` builds them.

* the layer (/opt/python): `layers/nurture/Makefile`'s `build-SharedLayer`, the target
  `sam build` runs (template.yaml: BuildMethod makefile) - the pinned requirements, the
  nurture package and the bytecode it ships - built for this machine's platform so it can be
  imported here;
* a function's folder (/var/task): its code, plus its own requirements.txt when it has one.

Both are cached under .pytest_cache/lambda-layout, keyed by what goes into them, so the
tests and bench/cold_import.py rebuild only when a requirement, the Makefile or the package
changed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "nurture"
CACHE = ROOT / ".pytest_cache" / "lambda-layout"


def _digest(*paths: Path) -> str:
    h = hashlib.sha256(sys.version.encode())
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                h.update(str(file.relative_to(ROOT)).encode())
                h.update(file.read_bytes())
    return h.hexdigest()[:16]


def _make(target: str, artifacts: Path) -> None:
    subprocess.run(  # noqa: S603 - our Makefile, our arguments
        ["make", "--no-print-directory", "-C", str(LAYER_SOURCE), target]
        + [f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}", "PIP_PLATFORM="],
        check=True,
        timeout=900,
        stdout=subprocess.DEVNULL,
    )


def shipped_layer(cache: Path = CACHE) -> Path:
    """The layer's python/ folder as `make build-SharedLayer` leaves it (bytecode included)."""
    artifacts = cache / "shipped-layer"
    requirements = _digest(LAYER_SOURCE / "requirements.txt", LAYER_SOURCE / "Makefile")
    package = _digest(LAYER_SOURCE / "nurture", LAYER_SOURCE / "Makefile")
    dependencies_done = artifacts / f".dependencies-{requirements}"
    package_done = artifacts / f".package-{package}-{requirements}"
    if not dependencies_done.exists():
        shutil.rmtree(artifacts, ignore_errors=True)
        _make("build-SharedLayer", artifacts)
        dependencies_done.touch()
    elif not package_done.exists():
        _make("layer-package", artifacts)
    for stale in artifacts.glob(".package-*"):
        stale.unlink()
    package_done.touch()
    return artifacts / "python"


def function_dir(name: str, code_uri: str, cache: Path = CACHE) -> Path:
    """/var/task: the function's code, plus its own requirements when it has some (pip
    --target, as sam build installs them)."""
    source = ROOT / code_uri
    requirements = source / "requirements.txt"
    if not requirements.exists():
        return source
    target = cache / "functions" / name
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    done = target / f".installed-{digest}"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(  # noqa: S603 - pip on the repository's requirements file
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            + ["--target", str(target), "-r", str(requirements)],
            check=True,
            timeout=600,
        )
        done.touch()
    shutil.copy2(source / "app.py", target / "app.py")
    return target
