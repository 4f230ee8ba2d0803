"""`nurture cost PROGRAM`: what running a program costs on AWS per 1,000 contacts, from
counts measured on the local cloud (contacts through the program's main path: they do
nothing, so waits time out and branches take their default), priced at AWS's list prices.

    nurture cost programs/welcome.yaml
    nurture cost programs/win-back.yaml --contacts 100000 --json
    nurture cost programs/welcome.yaml --at-once 1   # the upper bound: nobody shares a batch

`--at-once N` (default AT_ONCE) contacts enter at the same moment and every count is per
contact. The stream functions (react, lake) get their records in batches, as Lambda's event
source mappings deliver them (up to BatchSize, within the batching window): N contacts that
move in the same minute share the lake's objects (one S3 PUT per batch and day) and those
invocations. The assumption is printed with the figures; N=1 prices every small batch as
its own PUT and invocation (the upper bound).

Measured (localcloud.metering): Step Functions state transitions from the executions'
histories, Lambda invocations and the AWS calls made in each, DynamoDB read/write request
units, one-time schedules. Modelled: a Lambda invocation's billed time (BASE_MS plus
CALL_MS per AWS call it makes; the local cloud's own timings say nothing about AWS's) at the
function's memory from template.yaml. SES and SMS are listed apart: they are the messages
themselves, the same whatever runs them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# AWS list prices, us-east-1, on-demand (checked 2026): per unit, in USD.
PRICES = {
    "stepfunctions_transition": 0.025 / 1000,  # Standard workflows
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm64": 0.0000133334,  # the template's functions are arm64
    "dynamodb_write_unit": 0.625 / 1_000_000,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1_000_000,  # on-demand read request unit
    "scheduler_invocation": 1.00 / 1_000_000,  # EventBridge Scheduler
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST requests (S3 Standard)
    "s3_get": 0.0004 / 1000,  # GET and other requests
    "ses_email": 0.10 / 1000,  # listed apart
}
AT_ONCE = 50  # contacts entering in the same minute (see above)
BASE_MS = 20  # a warm invocation's own work
CALL_MS = 8  # one AWS call from Lambda (DynamoDB, Step Functions, SES) in the same region


@dataclass
class Estimate:
    program_id: str
    contacts: int
    transitions: float
    steps: float
    executions: float
    invocations: float
    gb_seconds: float
    read_units: float
    write_units: float
    strong_reads: float
    schedules: float
    emails: float
    sms: float
    cost: dict[str, float]  # per `contacts`, by service
    total_excluding_messages: float
    ses: float
    at_once: int = 1  # contacts measured entering together (they share stream batches)
    lake_records: float = 0.0  # per contact
    lake_puts: float = 0.0  # per contact


def memory_mb(root: Path) -> dict[str, int]:
    """Each function's MemorySize from template.yaml (Globals if it sets none)."""
    from localcloud.template import load_template

    template = load_template(root / "template.yaml")
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {
        name: int(res.get("Properties", {}).get("MemorySize", default))
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def estimate(run: Any, contacts: int, memory: dict[str, int]) -> Estimate:
    gb_seconds = 0.0
    for function, count in run.invocations.items():
        calls = run.api_calls_in.get(function, 0)
        billed_ms = BASE_MS * count + CALL_MS * calls
        gb_seconds += billed_ms / 1000 * memory.get(function, 128) / 1024
    invocations = sum(run.invocations.values())
    fired = run.schedules
    cost = {
        "step_functions": run.transitions * PRICES["stepfunctions_transition"],
        "lambda": invocations * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_gb_second_arm64"],
        "dynamodb": run.write_units * PRICES["dynamodb_write_unit"]
        + run.read_units * PRICES["dynamodb_read_unit"],
        "scheduler": fired * PRICES["scheduler_invocation"],
        # the lake writes an object per stream batch and day, measured with `at_once`
        # contacts moving together (one contact alone: every small batch its own PUT)
        "s3": run.api_calls.get("s3.PutObject", 0) * PRICES["s3_put"]
        + run.api_calls.get("s3.GetObject", 0) * PRICES["s3_get"],
    }
    cost = {k: v * contacts for k, v in cost.items()}
    return Estimate(
        program_id=run.program_id,
        contacts=contacts,
        transitions=run.transitions,
        steps=run.steps,
        executions=run.executions,
        invocations=round(invocations, 3),
        gb_seconds=round(gb_seconds, 4),
        read_units=run.read_units,
        write_units=run.write_units,
        strong_reads=run.strong_reads,
        schedules=fired,
        emails=run.emails,
        sms=run.sms,
        cost={k: round(v, 4) for k, v in cost.items()},
        total_excluding_messages=round(sum(cost.values()), 4),
        ses=round(run.emails * PRICES["ses_email"] * contacts, 4),
        at_once=getattr(run, "contacts", 1),
        lake_records=round(getattr(run, "lake_records", 0.0), 3),
        lake_puts=round(run.api_calls.get("s3.PutObject", 0), 4),
    )


def measure(
    path: Path, root: Path | None = None, contacts: int = 1000, at_once: int = AT_ONCE
) -> tuple[Any, Estimate]:
    """Run the program on a local cloud (quietly), `at_once` contacts entering together,
    and price it per contact."""
    from localcloud.cloud import ROOT
    from localcloud.metering import run_program

    root = root or ROOT
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(
        logging.CRITICAL
    )
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
        run = run_program(path, root, contacts=at_once)
    return run, estimate(run, contacts, memory_mb(root))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", type=Path, help="the program file, e.g. programs/welcome.yaml")
    parser.add_argument(
        "--contacts", type=int, default=1000, help="price this many contacts (1000)"
    )
    parser.add_argument(
        "--at-once",
        type=int,
        default=AT_ONCE,
        help=f"contacts entering at the same moment, sharing stream batches ({AT_ONCE})",
    )
    parser.add_argument("--root", type=Path, default=None, help="the repository")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    if args.contacts < 1 or args.at_once < 1:
        print("cost: --contacts and --at-once must be at least 1", file=sys.stderr)
        return 2
    try:
        result, est = measure(args.program, args.root, args.contacts, args.at_once)
    except (OSError, ValueError) as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**asdict(est), "states": result.states}, indent=2))
        return 1 if result.errors else 0
    out = sys.stdout
    print(
        f"Program {est.program_id!r}: {est.at_once} contact(s) entering at once along its main"
        " path, measured; per contact:",
        file=out,
    )
    print(
        f"  Step Functions: {est.transitions:g} state transitions over {est.executions:g} "
        f"execution(s), {est.steps:g} of them the program's own steps",
        file=out,
    )
    print(f"  Lambda: {est.invocations:g} invocations, {est.gb_seconds} GB-s (modelled)", file=out)
    print(
        f"  DynamoDB: {est.write_units:g} write units, {est.read_units:g} read units "
        f"({est.strong_reads:g} strongly consistent reads)",
        file=out,
    )
    print(
        f"  S3: {est.lake_records:g} lake records in {est.lake_puts:g} PUTs (stream batches"
        f" shared by the {est.at_once} contacts; --at-once 1 is the upper bound)",
        file=out,
    )
    print(f"  Scheduler: {est.schedules:g} one-time schedule(s)", file=out)
    print(f"  Messages: {est.emails:g} email(s), {est.sms:g} SMS", file=out)
    print(f"Cost per {est.contacts:,} contacts (USD, AWS list prices):", file=out)
    for service, value in est.cost.items():
        print(f"  {service:<15} {value:>10.4f}", file=out)
    print(f"  {'total':<15} {est.total_excluding_messages:>10.4f}  (excluding messages)", file=out)
    print(f"  {'SES (apart)':<15} {est.ses:>10.4f}", file=out)
    for error in result.errors:
        print(f"error: {error.strip().splitlines()[-1][:300]}", file=sys.stderr)
    return 1 if result.errors else 0
