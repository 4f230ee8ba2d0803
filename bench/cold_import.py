"""Cold import time of each Lambda handler module, against importing boto3 alone.

A Lambda cold start runs the handler module's top level before the first event is served:
the imports, the settings check, the boto3 clients, the powertools objects. The ingest
function sits behind every page view and tracked event on a customer's site, so its cold
start is latency a visitor's browser (and the Lambda bill) pays whenever traffic grows or
an idle function is recycled; the other functions pay it on every burst of work.

Each handler (`functions/*/app.py`) is imported as Lambda does (`import app` with the
function's directory first on sys.path, the layer on PYTHONPATH) in a fresh interpreter
(`sys.executable`), with a Lambda-like environment: dummy values for the variables its
settings model in `nurture/settings.py` requires, fake credentials, LAMBDA_TASK_ROOT set
and tracing left on, as deployed. Nothing reaches the network or AWS. The wall time of the
whole interpreter run is taken over several rounds (after one warm-up run that also writes
the .pyc files) and the median is reported, next to `python -c pass` (the interpreter
floor) and `python -c "import boto3"` (the baseline every boto3 Lambda pays), with ratios.
A final `-X importtime` run per handler splits the import of `app` by package (self times,
so a package's module-level work, e.g. creating clients, counts towards that package).

Run from the repository root: `.venv/bin/python bench/cold_import.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from nurture import settings as nurture_settings

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "nurture"
ROUNDS = 7

# Dummy values for every variable a function's settings model may require.
DUMMIES = {
    "CONTACTS_TABLE": "bench-contacts",
    "ACTIVITIES_TABLE": "bench-activities",
    "STATE_TABLE": "bench-state",
    "CONTENT_BUCKET": "bench-content",
    "SECRETS_PATH": "/nurture/bench",
    "ALLOWED_ORIGINS": "https://www.example.com",
    "SENDER_EMAIL": "hello@example.com",
    "SES_CONFIGURATION_SET": "bench",
    "STEPS_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:bench-steps",
    "PROGRAM_ROLE_ARN": "arn:aws:iam::123456789012:role/bench-program",
    "PROGRAM_ARN_PREFIX": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-program-",
}

# Groups for the -X importtime breakdown, by top-level package.
GROUPS = {
    "boto": {
        "boto3",
        "botocore",
        "s3transfer",
        "urllib3",
        "jmespath",
        "dateutil",
        "six",
        "certifi",
    },
    "xray": {"aws_xray_sdk", "wrapt"},
    "powertools": {"aws_lambda_powertools"},
    "pydantic": {
        "pydantic",
        "pydantic_core",
        "annotated_types",
        "typing_inspection",
        "typing_extensions",
    },
    "nurture": {"nurture"},
    "yaml+jinja": {"yaml", "_yaml", "jinja2", "markupsafe"},
}


def settings_model(function: str) -> type[BaseModel]:
    """The settings model a function loads: IngestSettings for functions/ingest, and so on."""
    model = getattr(nurture_settings, f"{function.capitalize()}Settings", None)
    if model is None:
        raise SystemExit(f"no {function.capitalize()}Settings in nurture/settings.py")
    return model


def required_env(function: str) -> dict[str, str]:
    env = {}
    for name, info in settings_model(function).model_fields.items():
        if info.is_required():
            alias = info.alias or name
            if alias not in DUMMIES:
                raise SystemExit(f"{function}: add a dummy value for {alias} to DUMMIES")
            env[alias] = DUMMIES[alias]
    return env


def base_env(home: str) -> dict[str, str]:
    """A clean environment: no inherited AWS profile or config, fake credentials."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,  # empty, so no ~/.aws/config or credentials are read
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(LAYER),  # like the layer's /opt/python
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def lambda_env(function: str, home: str) -> dict[str, str]:
    return {
        **base_env(home),
        **required_env(function),
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
        "AWS_LAMBDA_FUNCTION_NAME": f"nurture-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "POWERTOOLS_SERVICE_NAME": "nurture",
        "POWERTOOLS_METRICS_NAMESPACE": "Nurture",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    }


class Case:
    def __init__(self, label: str, code: str, env: dict[str, str], cwd: Path = ROOT):
        self.label = label
        self.code = code
        self.env = env
        self.cwd = cwd
        self.walls: list[float] = []

    def run(self, *flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *flags, "-c", self.code],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def timed(self) -> None:
        started = time.perf_counter()
        done = self.run()
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise SystemExit(f"{self.label} failed (exit {done.returncode}):\n{tail}")
        self.walls.append(elapsed * 1000)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def importtime_breakdown(case: Case) -> dict[str, float]:
    """Milliseconds of self time per package group within the import of `app`."""
    done = case.run("-X", "importtime")
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("import time:")][1:]
    tree: list[tuple[str, float]] = []
    for line in lines:
        _, self_us, _cumulative, name = (part for part in line.replace("|", ":").split(":"))
        name_stripped = name[1:]  # one separator space
        level = (len(name_stripped) - len(name_stripped.lstrip())) // 2
        tree.append((name_stripped.strip(), float(self_us) / 1000))
        if level == 0:
            if name_stripped.strip() == "app":
                break
            tree = []  # a tree from interpreter start-up, paid by `python -c pass` too
    out: dict[str, float] = defaultdict(float)
    for module, ms in tree:
        top = module.split(".")[0]
        group = "stdlib" if top in sys.stdlib_module_names else "other"
        group = "app body" if module == "app" else group
        for name, members in GROUPS.items():
            if top in members:
                group = name
        out[group] += ms
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        functions = sorted(p.parent.name for p in ROOT.glob("functions/*/app.py"))
        floor = Case("python -c pass", "pass", base_env(home))
        boto = Case("python -c 'import boto3'", "import boto3", base_env(home))
        one_client = Case(
            "  + boto3.client('dynamodb')",
            "import boto3; boto3.client('dynamodb')",
            base_env(home),
        )
        handlers = [
            Case(f"{fn}/app.py", "import app", lambda_env(fn, home), ROOT / "functions" / fn)
            for fn in functions
        ]
        cases = [floor, boto, one_client, *handlers]
        for case in cases:  # warm-up: page cache and .pyc files
            case.timed()
            case.walls.clear()
        for _ in range(ROUNDS):  # interleaved, so drift hits every case alike
            for case in cases:
                case.timed()
        breakdowns = {case.label: importtime_breakdown(case) for case in handlers}

    print(
        f"Python {sys.version.split()[0]}; median of {ROUNDS} fresh interpreters per row "
        "(after a warm-up run); wall time of the whole run"
    )
    print()
    print(f"{'':28} {'median ms':>9} {'best ms':>8} {'-floor ms':>10} {'x boto3':>8} {'net x':>6}")
    net_boto = boto.median - floor.median
    for case in cases:
        net = case.median - floor.median
        ratio = f"{case.median / boto.median:7.1f}x" if case is not floor else ""
        net_ratio = f"{net / net_boto:5.1f}x" if case is not floor else ""
        print(
            f"{case.label:28} {case.median:9.0f} {min(case.walls):8.0f} {net:10.0f}"
            f" {ratio:>8} {net_ratio:>6}"
        )
    print("('x boto3': median wall / boto3's; 'net x': the same, less the `pass` floor, for both)")

    print()
    print("Where `import app` spends its time (-X importtime self times, ms, one run):")
    columns = [*GROUPS, "other", "stdlib", "app body"]
    print(f"{'':28}" + "".join(f"{c:>11}" for c in columns) + f"{'total':>8}")
    for label, groups in breakdowns.items():
        cells = "".join(f"{groups.get(c, 0.0):11.0f}" for c in columns)
        print(f"{label:28}{cells}{sum(groups.values()):8.0f}")
    print(
        "'app body': the handler's own top level (settings, boto3 clients, powertools objects);"
        "\n'boto' includes s3transfer, urllib3, jmespath, dateutil; 'other': other third-party"
        "\npackages (in this dev venv, e.g. requests, which the tracer's auto-patching imports)"
    )


if __name__ == "__main__":
    main()
