"""Cold import time of each Lambda handler, in the layout Lambda gives it, against `import boto3`.

A Lambda cold start runs the handler module's top level before the first event is served:
the imports, the settings check, whatever clients and powertools objects it makes. The
ingest function sits behind every page view on a customer's site, so its cold start is
latency a visitor's browser (and the Lambda bill) pays whenever traffic grows or an idle
function is recycled; the other functions pay it on every burst of work.

Measured as Lambda runs it (infra/localcloud/lambda_layout.py):

* the layer is what `sam build` ships: `layers/nurture/Makefile`'s build-SharedLayer (the
  pinned requirements, the nurture package, and the bytecode the layer ships), built for
  this machine; each function's folder is its code plus its own requirements;
* `python -I -S -B` (no site-packages, no PYTHON* variables, no bytecode written: Lambda's
  filesystem is read-only), the function's folder and the layer first on sys.path;
* the template's environment for each function (Globals and its own variables) and tracing
  as deployed (`Tracing: Active`: the X-Ray daemon's variables, powertools' tracer on);
  AWS is a moto server on loopback (AWS_ENDPOINT_URL) holding the stack's secrets, so a
  handler that calls AWS at import pays for it (nothing leaves the machine).

Each row is the CPU time (user + system) of a whole fresh interpreter - on a shared machine
wall time is stretched by other work, CPU time much less - median of ROUNDS runs after a
warm-up. Every run of a row is paired with a run of the baseline (`import boto3` from the same
layer) moments before or after it (the order alternates round by round, so drift favours
neither), and 'x boto3' is the median of the ROUNDS per-pair ratios, with their spread
(min-max) beside it: a ratio of two medians taken minutes apart swung by 0.1-0.25 on a shared
machine, more than the margin to the goal. Each handler is shown beside the goal (<= 1.5x);
its import rows, the goal's, take two pairs a round, one in each order (2 x ROUNDS ratios):
on a busy machine single ratios still spread by +-0.3.
The floor (`pass`) is in the same run. The same baseline and handler are also shown without the
shipped bytecode (`-X pycache_prefix=` an empty folder: what a layer without .pyc costs),
still as a ratio to the baseline with bytecode. A final `-X importtime` run per handler splits
`import app` by package (self times).

CPU time moves with the machine's load even when paired; the number of instructions an import
executes does not. So, where valgrind is installed, the baseline and each handler's import are
also counted once in instructions (cachegrind, no cache simulation: about 5 s a count; the
same count within 0.2% run to run, busy machine or idle) and shown as a ratio: what a change
to the imports saves, and how far each handler stands from the baseline, without the noise.
`COLD_INSTRUCTIONS=0` skips it. (Instructions are not time: boto3's import executes fewer
instructions per millisecond than the handlers', so its instruction ratio reads higher than
its CPU-time ratio.)

What a cold start costs in all is the import and the first invocation, which pays for what
the import leaves to it (boto3 and the clients the call uses, X-Ray's botocore patch, models
built on first use, jinja2 where it renders): each handler is also timed importing and
serving one first event (bench/cold_first_events.json: the first event each function was
invoked with in the local cloud's welcome-journey and sales-digest tests) against the
stack's tables and bucket, empty, on the loopback moto server, with an X-Ray trace header
as Lambda sets it. The moto server's own work runs in this process, not in the timed one.

Run from the repository root: `.venv/bin/python bench/cold_import.py`;
`BENCH_SMOKE=1` runs a short pass: one round, no warm-up, the ingest handler only;
`COLD_ONLY=SalesFunction,ReactFunction` times only those handlers (with the floor and the
baseline), for working on one function's cold start.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from localcloud.lambda_layout import (
    function_dir,
    function_environment,
    secrets_server,
    shipped_layer,
    zip_functions,
)
from localcloud.template import load_template

ROOT = Path(__file__).resolve().parent.parent
SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
ROUNDS = 1 if SMOKE else int(os.environ.get("COLD_ROUNDS", "7"))  # fewer on a busy machine
ONLY = {name for name in os.environ.get("COLD_ONLY", "").split(",") if name}
VALGRIND = shutil.which("valgrind")
INSTRUCTIONS = bool(VALGRIND) and not SMOKE and os.environ.get("COLD_INSTRUCTIONS", "1") != "0"
GOAL_RATIO = 1.5
STACK, REGION = "nurture", "eu-west-1"

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

RUN = "import sys; sys.path[:0] = sys.argv[1:]; {code}"
EVENTS = ROOT / "bench" / "cold_first_events.json"
FIRST_CALL = """
import json
event = json.loads(open({events!r}).read())[{name!r}]

class Context:
    function_name = {function!r}
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:" + function_name
    memory_limit_in_mb = 512
    aws_request_id = "cold-start-1"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "cold"

    def get_remaining_time_in_millis(self):
        return 30000

try:
    {module}.{handler}(event, Context())
except Exception as exc:  # reported by first_call_outcome, timed all the same
    print("first call raised", type(exc).__name__, str(exc)[:200], file=sys.stderr)
"""
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


class Case:
    def __init__(
        self,
        label: str,
        code: str,
        path: list[Path],
        env: dict[str, str],
        bytecode: bool = True,
    ):
        self.label, self.code, self.path, self.env = label, code, path, env
        self.flags = ["-I", "-S", "-B"]
        if not bytecode:  # look for .pyc in an empty folder: every module is compiled
            self.flags += [
                "-X",
                f"pycache_prefix={tempfile.gettempdir()}/no-bytecode-{os.getpid()}",
            ]
        self.times: list[float] = []
        self.ratios: list[float] = []  # to the baseline run paired with each run

    def first_call_outcome(self) -> str:
        """'ok', or what the first call raised (it is timed all the same)."""
        done = self.run()
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("first call raised")]
        if done.returncode != 0:
            return f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
        return lines[-1].removeprefix("first call ") if lines else "ok"

    def argv(self, *flags: str) -> list[str]:
        """This interpreter running the case's code, in the case's layout."""
        code = ["-c", RUN.format(code=self.code)]
        return [sys.executable, *self.flags, *flags, *code, *(str(p) for p in self.path)]

    def run(
        self, *flags: str, under: tuple[str, ...] = (), timeout: int = 300
    ) -> subprocess.CompletedProcess[str]:
        """The case run to the end, its output captured (`under`: a tool that runs it)."""
        return subprocess.run(  # noqa: S603 - this interpreter (or a tool on it), our code
            [*under, *self.argv(*flags)],
            cwd=self.path[0],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def timed(self) -> None:
        """The CPU time (user + system) of the whole interpreter run: what a cold start
        costs, and, unlike wall time, not stretched by other work on a shared machine."""
        child = subprocess.Popen(  # noqa: S603 - this interpreter, our code
            self.argv(),
            cwd=self.path[0],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert child.stderr is not None
        stderr = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-8:])
            raise SystemExit(f"{self.label} failed (exit {child.returncode}):\n{tail}")
        self.times.append((usage.ru_utime + usage.ru_stime) * 1000)

    def instructions(self) -> int:
        """Instructions the whole interpreter run executes (valgrind's cachegrind, without
        its cache simulation): deterministic, unlike time."""
        assert VALGRIND is not None
        cachegrind = ("--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
        done = self.run(under=(VALGRIND, *cachegrind), timeout=600)
        found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"{self.label} under valgrind failed: {done.stderr[-2000:]}")
        return int(found.group(1).replace(",", ""))

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def paired(self, baseline: Case, first: bool) -> None:
        """One run of this case beside one of the baseline (`first`: the baseline runs first),
        and the ratio of the two."""
        runs = (baseline, self) if first else (self, baseline)
        for case in runs:
            case.timed()
        self.ratios.append(self.times[-1] / baseline.times[-1])

    def ratio(self) -> str:
        """'x boto3': the median of the per-pair ratios, and their spread (min-max)."""
        low, high = min(self.ratios), max(self.ratios)
        return f"{statistics.median(self.ratios):7.2f}x {low:5.2f}-{high:4.2f}"


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
    template: dict[str, Any] = load_template(ROOT / "template.yaml")
    functions = zip_functions(template)
    layer = shipped_layer()
    with secrets_server(STACK, REGION, template=template) as endpoint:
        plain = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_DEFAULT_REGION": REGION,
            "HOME": tempfile.gettempdir(),
        }
        floor = Case("python -c pass", "pass", [layer], plain)
        boto = Case("import boto3 (the baseline)", "import boto3", [layer], plain)
        boto_source = Case("  without bytecode", "import boto3", [layer], plain, bytecode=False)
        handlers: list[Case] = []
        first_calls: list[Case] = []
        for name, props in functions.items():
            if SMOKE and name != "IngestFunction":
                continue  # tests/integration/test_lambda_layout.py imports every handler
            if ONLY and name not in ONLY:
                continue
            task = function_dir(name, props["CodeUri"])
            env = function_environment(props, template, stack=STACK, region=REGION, task_root=task)
            env["AWS_ENDPOINT_URL"] = endpoint
            module, handler = props["Handler"].rsplit(".", 1)
            handlers.append(Case(name, f"import {module}", [task, layer], env))
            code = f"import {module}\n" + FIRST_CALL.format(
                events=str(EVENTS),
                name=name,
                function=env["AWS_LAMBDA_FUNCTION_NAME"],
                module=module,
                handler=handler,
            )
            first = {**env, "_X_AMZN_TRACE_ID": TRACE_HEADER}
            first_calls.append(Case("  import + first call", code, [task, layer], first))
        no_bytecode = [boto_source] + [
            Case("  without bytecode", h.code, h.path, h.env, bytecode=False)
            for h in handlers
            if not SMOKE or h.label == "IngestFunction"
        ]
        cases = [floor, *handlers, *first_calls, *no_bytecode]
        outcomes = {
            h.label: f.first_call_outcome() for h, f in zip(handlers, first_calls, strict=True)
        }
        for case in [] if SMOKE else [boto, *cases]:  # warm-up: the page cache
            case.timed()
            case.times.clear()
        for round_ in range(ROUNDS):  # interleaved, so drift hits every case alike
            for index, case in enumerate(cases):
                # each run beside a baseline run; which goes first alternates
                case.paired(boto, first=(round_ + index) % 2 == 0)
                if case in handlers:  # the goal's rows: a second pair, in the other order
                    case.paired(boto, first=(round_ + index) % 2 == 1)
        breakdowns = {} if SMOKE else {h.label: importtime_breakdown(h) for h in handlers}
        counted = {c.label: c.instructions() for c in [boto, *handlers]} if INSTRUCTIONS else {}

    print(
        f"Python {sys.version.split()[0]}; median of {ROUNDS} fresh interpreters per row "
        f"({2 * ROUNDS} for each handler's import) "
        "(after a warm-up run); CPU time of the whole run, python -I -S -B in the Lambda "
        f"layout, the template's environment, tracing on{' (smoke pass)' if SMOKE else ''}"
    )
    print()
    header = (
        f"{'CPU time':34} {'median ms':>9} {'best ms':>8} {'x boto3':>8} {'min-max':>9} {'goal':>7}"
    )
    print(header)
    print(f"{floor.label:34} {floor.median:9.0f} {min(floor.times):8.0f} {floor.ratio()}")
    print(f"{boto.label:34} {boto.median:9.0f} {min(boto.times):8.0f} {1:7.2f}x")
    print(
        f"{boto_source.label:34} {boto_source.median:9.0f} {min(boto_source.times):8.0f} "
        f"{boto_source.ratio()}"
    )
    sources = {c.code + str(c.path): c for c in no_bytecode[1:]}
    for case in handlers:
        verdict = "ok" if statistics.median(case.ratios) <= GOAL_RATIO else "MISSED"
        print(
            f"{case.label:34} {case.median:9.0f} {min(case.times):8.0f} {case.ratio()} "
            f"{'<= ' + str(GOAL_RATIO) + 'x':>7} {verdict}"
        )
        first = first_calls[handlers.index(case)]
        outcome = outcomes[case.label]
        print(
            f"{first.label:34} {first.median:9.0f} {min(first.times):8.0f} {first.ratio()}"
            + ("" if outcome == "ok" else f"  ({outcome})")
        )
        source = sources.get(case.code + str(case.path))
        if source:
            print(
                f"{source.label:34} {source.median:9.0f} {min(source.times):8.0f} {source.ratio()}"
            )
    print(
        "('x boto3': the median of the row's per-pair ratios, each run's CPU time over that of"
        "\n an `import boto3` (same layer, with bytecode) run moments before or after it;"
        "\n min-max: the spread of those ratios)"
    )

    if counted:
        print()
        print("Instructions executed (valgrind cachegrind, one count each: deterministic):")
        base = counted[boto.label]
        for label, count in counted.items():
            print(f"{label:34} {count / 1e6:7.0f} M {count / base:7.2f}x")
    if breakdowns:
        print()
        print("Where `import app` spends its time (-X importtime self times, ms, one run):")
        columns = [*GROUPS, "other", "stdlib", "app body"]
        print(f"{'':28}" + "".join(f"{c:>11}" for c in columns) + f"{'total':>8}")
        for label, groups in breakdowns.items():
            cells = "".join(f"{groups.get(c, 0.0):11.0f}" for c in columns)
            print(f"{label:28}{cells}{sum(groups.values()):8.0f}")
        print(
            "'app body': the handler's own top level (settings, clients, powertools objects);"
            "\n'boto' includes s3transfer, urllib3, jmespath, dateutil; 'other': other"
            " third-party packages (e.g. duckdb in the reports function's folder)"
        )


if __name__ == "__main__":
    main()
