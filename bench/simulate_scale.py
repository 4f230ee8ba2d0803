"""`nurture simulate PROGRAM --contacts 10000 --days 30` on the fast engine, against the goal
(< 60 s on 2 cores) and against the local cloud's engine measured in the same run.

Programs: welcome (a send, a wait for a click with a 3-day deadline, a branch's send) and a
5-email program (bench/program_cost.py's FIVE_EMAILS: 5 sends a week apart; its waits are
long, so each contact's run goes on in the resume machine). The mix is the command's default
(90% consent, three time zones, 40% open, 25% of them click, 20% of those convert).

Rows: wall and CPU seconds of the whole run (deploy, entering, 30 virtual days, summary
counts) and per contact; the baseline: the cloud engine (moto) on a few contacts of the same
program, per contact, and what 10,000 would take at that pace.

BENCH_SMOKE=1: 300 contacts on the fast engine, 2 on the cloud.
Run from the repository root: `.venv/bin/python bench/simulate_scale.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from program_cost import FIVE_EMAILS  # noqa: E402

from localcloud.cloud import DEFAULT_START  # noqa: E402
from localcloud.commands.simulate_many import Mix, run_many, synthetic_contacts  # noqa: E402
from localcloud.simulation.drivers import CloudDriver, FastDriver  # noqa: E402
from localcloud.simulation.shards import run_sharded  # noqa: E402

GOAL_SECONDS = 60.0
DAYS = 30


def arguments(contacts: int) -> argparse.Namespace:
    return argparse.Namespace(
        contacts=contacts,
        days=DAYS,
        consent=0.9,
        zones="Europe/London=0.4,America/New_York=0.35,Asia/Tokyo=0.25",
        open=0.4,
        click=0.25,
        convert=0.2,
        seed=1,
        spread="1 day",
        no_progress=True,
        engine="fast",
    )


def timed(
    driver: CloudDriver | FastDriver, path: Path, contacts: int
) -> tuple[float, float, float, int]:
    """Wall and CPU seconds of one run, CPU seconds after the deploy (the contacts' own
    share), and the emails it sent."""
    args = arguments(contacts)
    noise = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise), driver.running():
        program, status = driver.deploy(path)
        assert program is not None, status
        deployed = time.process_time()
        tally = run_many(
            args, driver, program, synthetic_contacts(Mix.from_args(args), program, contacts)
        )
    assert not driver.errors, driver.errors[:3]
    done = time.process_time()
    return time.perf_counter() - wall, done - cpu, done - deployed, sum(tally.sends.values())


def main() -> int:
    smoke = bool(os.environ.get("BENCH_SMOKE"))
    fast_n, cloud_n = (300, 2) if smoke else (10_000, 10)
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(
        logging.CRITICAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        five = Path(tmp) / "five-emails.yaml"
        five.write_text(FIVE_EMAILS)
        programs = [ROOT / "programs/welcome.yaml", five]
        print(
            f"nurture simulate --contacts {fast_n} --days {DAYS} (goal: 10,000 in < {GOAL_SECONDS:.0f} s)"
        )
        print(
            f"  {'program':<14}{'engine':<8}{'contacts':>9}{'emails':>8}{'wall s':>9}"
            f"{'CPU s':>8}{'CPU ms/contact':>16}{'10,000 at this pace, CPU s':>28}"
            "  (per contact: CPU after the deploy)"
        )
        for path in programs:
            rows = []
            for engine, n in (("cloud", cloud_n), ("fast", fast_n)):
                driver = (
                    CloudDriver(ROOT, DEFAULT_START, path)
                    if engine == "cloud"
                    else FastDriver(ROOT, DEFAULT_START)
                )
                wall, cpu, contacts_cpu, emails = timed(driver, path, n)
                per = contacts_cpu / n
                rows.append(per)
                print(
                    f"  {path.stem:<14}{engine:<8}{n:>9}{emails:>8}{wall:>9.1f}{cpu:>8.1f}"
                    f"{per * 1000:>16.2f}{per * 10_000:>28.0f}"
                )
            print(f"  {'':<14}fast / cloud CPU per contact: {rows[1] / rows[0]:.4f}")
            # as `nurture simulate` runs it from 2,000 contacts: one process per core (2)
            args = arguments(fast_n)
            args.program = path
            wall = time.perf_counter()
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                tally, errors, cpu = run_sharded(args, ROOT, DEFAULT_START, 2)
            assert not errors, errors[:3]
            wall = time.perf_counter() - wall
            print(
                f"  {path.stem:<14}{'fast x2':<8}{fast_n:>9}{sum(tally.sends.values()):>8}"
                f"{wall:>9.1f}{cpu:>8.1f}   (2 worker processes: CPU is theirs, added up)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
