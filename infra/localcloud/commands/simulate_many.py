"""`nurture simulate PROGRAM --contacts N --days D`: a program run for many synthetic
contacts in virtual time, with a summary. Two engines run what production runs, the
program's compiled state machines and the same step code: `--engine fast` (the default,
localcloud.simulation: an ASL interpreter on a queue of virtual time, in-memory ports; 10,000
contacts in well under a minute) and `--engine cloud` (the moto-based local cloud: Step
Functions' interpreter, DynamoDB, SES capture; about 0.3 s of CPU per contact). A
differential test (tests/integration/test_simulate_engines.py) shows both give every
shipped program's contacts the same timeline. From 2,000 contacts the fast engine shares
them between two processes (`--workers`, localcloud.simulation.shards).

The contacts are made from a mix: the share that has the consent the program's marketing
sends need, their time zones, and how they engage with each email (open, click, and
convert: do the program's first event goal). Contacts enter spread over the first day; an
email they open is opened 1-12 hours after it is sent, a click follows the open, and a
conversion follows the click. The same seed gives the same run.

The summary: entries, sends per step, skips and deferrals with their reasons, frequency-cap
hits, conversions, Step Functions state transitions (every state entered, as AWS bills them)
and the estimated AWS cost (the `nurture cost` model's prices on the run's counts).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nurture.programs.durations import parse_duration

if TYPE_CHECKING:
    from localcloud.simulation.drivers import CloudDriver, FastDriver

    Driver = CloudDriver | FastDriver

# How often the outbox is looked at, at least (virtual time): less than the soonest an
# email is opened (an hour after it is sent).
LOOK = timedelta(minutes=50)
DEFAULT_ZONES = "Europe/London=0.4,America/New_York=0.35,Asia/Tokyo=0.25"


@dataclass
class Mix:
    consent: float = 0.9  # share with the consent the program's marketing sends need
    zones: list[tuple[str, float]] = field(default_factory=list)
    open: float = 0.4  # per email sent
    click: float = 0.25  # per opened email
    convert: float = 0.2  # per click
    seed: int = 1

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Mix:
        zones = []
        for part in str(args.zones).split(","):
            name, _, weight = part.partition("=")
            zones.append((name.strip(), float(weight or 1)))
        mix = cls(args.consent, zones, args.open, args.click, args.convert, args.seed)
        for name in ("consent", "open", "click", "convert"):
            if not 0.0 <= getattr(mix, name) <= 1.0:
                raise ValueError(f"--{name} is a probability between 0 and 1")
        return mix


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("many contacts (--contacts N)")
    group.add_argument("--contacts", type=int, help="simulate N synthetic contacts")
    group.add_argument("--days", type=float, default=30.0, help="virtual days to run (30)")
    group.add_argument("--consent", type=float, default=0.9, help="share with consent (0.9)")
    group.add_argument("--zones", default=DEFAULT_ZONES, help="time zones=weights")
    group.add_argument("--open", type=float, default=0.4, help="P(open) per email (0.4)")
    group.add_argument("--click", type=float, default=0.25, help="P(click) per open (0.25)")
    group.add_argument("--convert", type=float, default=0.2, help="P(convert) per click (0.2)")
    group.add_argument("--seed", type=int, default=1, help="random seed (1)")
    group.add_argument("--spread", default="1 day", help="contacts enter over this (1 day)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument(
        "--engine",
        choices=("fast", "cloud"),
        default="fast",
        help="fast: the compiled machines and step code in memory (default); "
        "cloud: the moto-based local cloud (slow; what the fast engine is tested against)",
    )
    group.add_argument(
        "--workers",
        type=int,
        default=0,
        help="fast engine: processes to share the contacts (default: one per core, "
        "at most 2, from 2,000 contacts)",
    )


@dataclass
class Tally:
    entries: int = 0
    not_entered: int = 0
    sends: Counter[str] = field(default_factory=Counter)
    skips: Counter[str] = field(default_factory=Counter)
    deferrals: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    clicks: int = 0
    conversions: int = 0
    transitions: int = 0
    executions: int = 0
    counts: Any = None  # the engine's Counts (localcloud.simulation.drivers)


def count_activity(tally: Tally, program_id: str, name: str, props: dict[str, Any]) -> None:
    """Count one stored activity of the program (each is seen once, as it is stored)."""
    if props.get("program_id") != program_id:
        return
    step = props.get("step_id")
    if name == "program.entered":
        tally.entries += 1
    elif name == "program.converted":
        tally.conversions += 1
    elif name in ("email.skipped", "sms.skipped", "email.failed", "sms.failed"):
        tally.skips[f"{step}: {props.get('reason')}"] += 1
    elif name in ("email.deferred", "sms.deferred"):
        tally.deferrals[f"{step}: {props.get('reason')}"] += 1


def _goal_event(program: Any) -> tuple[str, dict[str, Any]] | None:
    for goal in program.goals:
        if goal.event:
            where = {
                k: (v[0] if isinstance(v, list) and v else v)
                for k, v in (goal.where or {}).items()
                if not isinstance(v, dict)
            }
            return goal.event, where
    return None


def synthetic_contacts(mix: Mix, program: Any, n: int) -> list[dict[str, Any]]:
    """The contacts of a run: the same seed and mix give the same contacts."""
    from localcloud.commands.simulate import assumed_consent

    rng = random.Random(mix.seed)
    consent = assumed_consent(program)
    zones, weights = zip(*mix.zones, strict=True) if mix.zones else (("UTC",), (1.0,))
    return [
        {
            "email": f"sim-{mix.seed}-{number}@example.com",
            "first_name": f"Sim{number}",
            "timezone": rng.choices(zones, weights)[0],
            "consent": consent if rng.random() < mix.consent else [],
        }
        for number in range(n)
    ]


def run_many(
    args: argparse.Namespace,
    driver: Driver,
    program: Any,
    contacts: list[dict[str, Any]],
    shard: tuple[int, int] = (0, 1),
    progress: Callable[[float], None] | None = None,
) -> Tally:
    """Enter the contacts over the spread, let virtual time pass, and let each email be
    opened, clicked and converted on by the mix's chances. Each email's fate is drawn from
    its own seeded generator (seed, contact, execution, step), so it is the same on either
    engine whatever order two emails of one instant are looked at in.

    `shard` (number, of how many): only every how-many-th contact, from the number-th, at
    the same moments as in the whole run (localcloud.simulation.shards runs shards side by
    side: no contact's run touches another's). `progress` hears the virtual seconds done
    (instead of the progress bar)."""
    from localcloud.commands.simulate import _make_contact

    mix = Mix.from_args(args)
    tally = Tally()
    driver.watch(program.id, lambda name, props: count_activity(tally, program.id, name, props))
    goal = _goal_event(program)
    start = driver.now()
    end = start + timedelta(days=args.days)
    spacing = timedelta(seconds=parse_duration(args.spread)) / max(1, len(contacts))
    # what contacts do, in virtual time: (when, order, action, subject, detail)
    plan: list[tuple[datetime, int, str, Any, Any]] = []
    order = itertools.count()  # ties at one moment: in the order they were planned
    for number, data in enumerate(contacts):
        if number % shard[1] == shard[0]:
            moment = _whole(start + spacing * number)
            heapq.heappush(plan, (moment, next(order), "enter", data, None))
    seen_emails = 0
    with _progress(args, quiet=progress is not None) as bar:
        task = bar.add_task("simulating", total=(end - start).total_seconds())
        done = progress or (lambda seconds: bar.update(task, completed=seconds))
        while True:
            # look at the outbox at least every LOOK of virtual time, so each email's fate
            # is planned before it comes due, whatever the other contacts do
            look = min(driver.now() + LOOK, end)
            if not plan or plan[0][0] > look:
                driver.advance_to(look)
                action = "look"
            else:
                at, _, action, subject, detail = heapq.heappop(plan)
                driver.advance_to(at)
            if action == "enter":
                contact = _make_contact(subject, _iso(driver.now()))
                if not driver.enter(program, contact):
                    tally.not_entered += 1
            elif action == "open":
                tally.opens += 1
                driver.open(subject)
            elif action == "click":
                tally.clicks += 1
                driver.click(subject)
            elif action == "convert" and goal is not None:
                event, where = goal
                driver.track(
                    {
                        "userId": subject,
                        "messageId": f"sim-convert-{detail}",
                        "event": event,
                        "properties": where,
                    }
                )
            # emails sent since the last look: decide what their contacts do
            outbox = driver.outbox
            for email in outbox[seen_emails:]:
                if email.tags.get("program_id") != program.id:
                    continue
                tally.sends[email.tags.get("step_id", "?")] += 1
                _engage(mix, email, plan, order)
            seen_emails = len(outbox)
            done((driver.now() - start).total_seconds())
            if driver.now() >= end and not (plan and plan[0][0] <= end):
                break
        done((end - start).total_seconds())
    for email in driver.outbox[seen_emails:]:
        if email.tags.get("program_id") == program.id:
            tally.sends[email.tags.get("step_id", "?")] += 1
    counts = driver.counts()
    tally.transitions, tally.executions = counts.transitions, counts.executions
    tally.counts = counts
    return tally


def _engage(
    mix: Mix, email: Any, plan: list[tuple[datetime, int, str, Any, Any]], order: Iterator[int]
) -> None:
    tags = email.tags
    rng = random.Random(
        f"{mix.seed}:{tags.get('contact_id')}:{tags.get('execution')}:{tags.get('step_id')}"
    )
    if rng.random() >= mix.open:
        return
    opened = _whole(email.sent_at + timedelta(hours=rng.uniform(1, 12)))
    heapq.heappush(plan, (opened, next(order), "open", email, None))
    if rng.random() >= mix.click:
        return
    clicked = _whole(opened + timedelta(minutes=rng.uniform(1, 30)))
    heapq.heappush(plan, (clicked, next(order), "click", email, None))
    if rng.random() < mix.convert:
        converts = _whole(clicked + timedelta(hours=rng.uniform(0.5, 48)))
        key = f"{tags.get('contact_id')}-{tags.get('step_id')}-{tags.get('execution')}"
        heapq.heappush(plan, (converts, next(order), "convert", tags.get("contact_id"), key))


def _whole(moment: datetime) -> datetime:
    """What contacts do happens on whole seconds. (A Wait until a timestamp ends at that
    moment on AWS and on the fast engine; the local cloud waits whole seconds from now,
    so from a fraction of a second it would end that fraction later.)"""
    return moment.replace(microsecond=0)


def _progress(args: argparse.Namespace, quiet: bool = False) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}% of virtual time"),
        TimeElapsedColumn(),
        console=Console(file=getattr(args, "progress_to", None) or sys.stderr),
        disable=quiet or bool(args.no_progress) or args.contacts < 50,
        transient=True,
    )


def _iso(moment: datetime) -> str:
    from nurture import clock

    return clock.iso(moment)


def report(
    program: Any, args: argparse.Namespace, tally: Tally, wall: float, out: Any, cpu: float = 0.0
) -> None:
    print(
        f"Program {program.id!r}: {args.contacts} synthetic contacts over {args.days:g} days "
        f"(seed {args.seed}; {args.engine} engine; {wall:.1f} s, {cpu:.1f} s CPU)",
        file=out,
    )
    print(f"  entries: {tally.entries} (did not enter: {tally.not_entered})", file=out)
    print(f"  sends: {sum(tally.sends.values())}", file=out)
    for step, count in sorted(tally.sends.items()):
        print(f"    {step}: {count}", file=out)
    print(f"  skips: {sum(tally.skips.values())}", file=out)
    for reason, count in tally.skips.most_common():
        print(f"    {reason}: {count}", file=out)
    caps = sum(c for r, c in tally.skips.items() if r.endswith("frequency_cap")) + sum(
        c for r, c in tally.deferrals.items() if r.endswith("frequency_cap")
    )
    print(f"  deferrals: {sum(tally.deferrals.values())}", file=out)
    for reason, count in tally.deferrals.most_common():
        print(f"    {reason}: {count}", file=out)
    print(f"  frequency-cap hits: {caps}", file=out)
    print(f"  opens: {tally.opens}, clicks: {tally.clicks}", file=out)
    print(f"  conversions: {tally.conversions}", file=out)
    per = tally.transitions / tally.entries if tally.entries else 0.0
    print(
        f"  state transitions: {tally.transitions} in {tally.executions} executions "
        f"({per:.1f} per entry)",
        file=out,
    )
    print(f"  estimated AWS cost: {_cost(program, tally, args.root)}", file=out)


def _cost(program: Any, tally: Tally, root: Any = None) -> str:
    """The `nurture cost` model's prices (localcloud.commands.cost) on this run's counts:
    state transitions, Lambda requests and GB-seconds (its BASE_MS per invocation plus
    CALL_MS per AWS call, at each function's memory), DynamoDB request units (one per port
    call the functions made; a recorded activity is a marker and the activity, two write
    units, and a guarded change a two-item transaction, four), Scheduler and S3; SES apart. Only transitions and sends are known
    on the cloud engine."""
    from pathlib import Path

    from localcloud.commands.cost import BASE_MS, CALL_MS, PRICES, memory_mb
    from localcloud.simulation.engine import READS

    sends = sum(tally.sends.values())
    steps = tally.transitions * PRICES["stepfunctions_transition"]
    ses = sends * PRICES["ses_email"]
    counts = tally.counts
    if counts is None or not counts.invocations:
        return f"${steps:,.2f} Step Functions (+ ${ses:,.2f} SES); others not measured here"
    memory = memory_mb(Path(root) if root else _root())
    calls = counts.port_calls
    aws_calls = sum(c for name, c in calls.items() if name not in ("send",))
    requests = sum(counts.invocations.values())
    ms = BASE_MS * requests + CALL_MS * aws_calls
    mean_mb = sum(memory.get(f, 128) * n for f, n in counts.invocations.items()) / requests
    lambda_cost = requests * PRICES["lambda_request"] + (
        ms / 1000 * mean_mb / 1024 * PRICES["lambda_gb_second_arm64"]
    )
    reads = sum(c for name, c in calls.items() if name in READS and name != "get_text")
    extra_units = calls.get("put_new", 0) + 3 * calls.get("apply_once", 0)
    writes = sum(c for name, c in calls.items() if name not in READS and name != "send")
    dynamodb = (
        reads * PRICES["dynamodb_read_unit"]
        + (writes + extra_units) * PRICES["dynamodb_write_unit"]
    )
    s3 = calls.get("get_text", 0) * PRICES["s3_get"]
    scheduler = counts.schedules * PRICES["scheduler_invocation"]
    total = steps + lambda_cost + dynamodb + s3 + scheduler
    return (
        f"${total:,.2f} (Step Functions ${steps:,.2f}, Lambda ${lambda_cost:,.2f} for "
        f"{requests} invocations, DynamoDB ${dynamodb:,.2f}, Scheduler ${scheduler:,.2f}, "
        f"S3 ${s3:,.2f}) + SES ${ses:,.2f} for {sends} emails"
    )


def _root() -> Any:
    from localcloud.cloud import ROOT

    return ROOT


def main(args: argparse.Namespace) -> int:
    """`nurture simulate PROGRAM --contacts N`: deploy, run, summarise."""
    import contextlib
    import io
    import logging
    import os
    import time
    from pathlib import Path

    from localcloud.commands.simulate import _report_invalid
    from localcloud.simulation.drivers import CloudDriver, FastDriver

    out = sys.stdout
    if args.contacts < 1 or args.days <= 0:
        print("simulate: --contacts needs N >= 1 and --days more than 0", file=sys.stderr)
        return 2
    try:
        mix = Mix.from_args(args)
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(
        logging.DEBUG if args.verbose else logging.CRITICAL
    )
    args.progress_to = sys.stderr  # the terminal, whatever the engine's noise goes to

    def quiet() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        if not args.verbose:
            noise = io.StringIO()
            stack.enter_context(contextlib.redirect_stdout(noise))
            stack.enter_context(contextlib.redirect_stderr(noise))
        return stack

    started, cpu = time.perf_counter(), time.process_time()
    from localcloud.cloud import DEFAULT_START, ROOT

    begin = datetime.fromisoformat(args.start.replace("Z", "+00:00")) if args.start else None
    workers = args.workers or (min(2, os.cpu_count() or 1) if args.contacts >= 2000 else 1)
    driver: Driver
    if args.engine == "cloud":
        driver, workers = CloudDriver(args.root, begin, args.program), 1
    else:
        driver = FastDriver(Path(args.root or ROOT), begin or DEFAULT_START)
    with quiet(), driver.running():
        program, status = driver.deploy(args.program)
        if program is None:
            return _report_invalid(args.program, status, out)
        if workers == 1:
            contacts = synthetic_contacts(mix, program, args.contacts)
            tally = run_many(args, driver, program, contacts)
    errors = list(driver.errors)
    workers_cpu = 0.0
    if workers > 1:
        from localcloud.simulation.shards import run_sharded

        with quiet():
            tally, errors, workers_cpu = run_sharded(
                args, Path(args.root or ROOT), begin or DEFAULT_START, workers
            )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu + workers_cpu
    report(program, args, tally, wall, out, cpu)
    if errors:
        print(f"Errors ({len(errors)}):", file=out)
        for error in errors[:10]:
            print(f"  {error.strip().splitlines()[-1][:300]}", file=out)
    return 1 if errors else 0
