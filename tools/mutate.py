"""`make mutate`: mutation testing (mutmut) of the domain modules whose rules users rely on,
against the unit tests. Not part of `make test`: a full run takes minutes.

mutmut 3 imports the mutated package from `mutants/src`, so this stages the project in
`.mutate/` with the package under `src/` (the layer's `layers/nurture` root does not fit
that layout), runs `mutmut run` there and prints the score per module. Survivors that are
equivalent mutants (no test could tell them apart) are listed in MUTATE_EQUIVALENT.md."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / ".mutate"
MODULES = [
    "delivery/sender.py",
    "delivery/tokens.py",
    "delivery/windows.py",
    "delivery/caps.py",
    "delivery/consent.py",
    "programs/conditions.py",
    "programs/durations.py",
    "tracking/calls.py",
    "tracking/events.py",
]
# Unit tests that need tools outside Python (SAM, cfn-lint, node) or the whole template.
SKIP_TESTS = ("test_template_", "test_asl_")
DATA = ["programs", "templates", "forms", "scoring", "sales", "schemas", "examples"]


def stage() -> None:
    """Stage the committed tree (HEAD), so work in progress in the checkout can't skew it."""
    STAGE.mkdir(exist_ok=True)
    head = STAGE / "head"
    if head.exists():
        shutil.rmtree(head)
    head.mkdir()
    archive = subprocess.run(  # noqa: S603 (git, our own arguments)
        ["git", "archive", "HEAD", "layers/nurture/nurture", "tests", *DATA, "template.yaml"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(head, filter="data")
    src = STAGE / "src" / "nurture"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(head / "layers/nurture/nurture", src)
    tests = STAGE / "tests"
    if tests.exists():
        shutil.rmtree(tests)
    (tests / "unit").mkdir(parents=True)
    shutil.copy(head / "tests/conftest.py", tests / "conftest.py")
    for test in (head / "tests/unit").glob("*.py"):
        if not test.name.startswith(SKIP_TESTS):
            shutil.copy(test, tests / "unit" / test.name)
    for name in [*DATA, "template.yaml"]:
        link = STAGE / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(head / name)
    paths = [f"src/nurture/{m}" for m in MODULES]
    also = ["src/", *[f"{d}/" for d in DATA], "template.yaml"]
    (STAGE / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        f"source_paths = {json.dumps(paths)}\n"
        'pytest_add_cli_args_test_selection = ["tests/unit/"]\n'
        f"also_copy = {json.dumps(also)}\n"
    )


def score() -> int:
    """Per module: killed / all mutants (timeouts count as killed: the test run noticed)."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=STAGE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status: dict[str, Counter[str]] = {}
    survivors = []
    for line in out.splitlines():
        name, _, state = line.strip().rpartition(": ")
        if not name:
            continue
        module = name.split(".x_")[0].split(".xǁ")[0]
        status.setdefault(module, Counter())[state] += 1
        if state == "survived":
            survivors.append(name)
    total = Counter[str]()
    print(f"{'module':<36} {'killed':>7} {'survived':>9} {'score':>7}")
    for module, counts in sorted(status.items()):
        total += counts
        killed = counts["killed"] + counts["timeout"]
        n = sum(counts.values())
        print(f"{module:<36} {killed:>7} {counts['survived']:>9} {killed / n:>7.1%}")
    killed = total["killed"] + total["timeout"]
    n = sum(total.values())
    print(f"{'all':<36} {killed:>7} {total['survived']:>9} {killed / n:>7.1%}")
    for name in survivors:
        print("survived:", name)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("mutants", nargs="*", help="mutant names or globs to (re)run")
    args = parser.parse_args()
    stage()
    run = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            *("-m", "mutmut", "run", "--max-children", str(args.max_children)),
            *args.mutants,
        ],
        cwd=STAGE,
        check=False,
        stdout=(STAGE / "run.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    if run.returncode:
        print((STAGE / "run.log").read_text()[-3000:])
        return run.returncode
    return score()


if __name__ == "__main__":
    sys.exit(main())
