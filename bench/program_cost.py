"""What programs cost on AWS, from counts measured on the local cloud (`nurture cost`).

For every shipped program (programs/*.yaml) one contact runs the compiled machines along the
main path (it does nothing: waits time out, branches take their default); the state
transitions are counted from the executions' own histories.

Rows:
* per program: transitions per enrolment beside the program's own steps entered, against
  the goal (own steps + 1), and the cost per 1,000 contacts without SES for one contact
  alone (the upper bound: every stream batch it makes is its own lake PUT and invocation);
* a 5-email program (5 sends, 4 waits: 9 steps): cost per 1,000 contacts without SES against
  the goal ($0.30), SES beside it, measured as `nurture cost` measures it by default: AT_ONCE
  contacts entering at the same moment, sharing stream batches as Lambda's event source
  mappings batch them (BatchSize, batching window); the same program with one contact alone
  beside it. The baseline is the same run priced with the transitions of the machines as
  compiled before (a `resume?` Choice per execution and a `deferred?` Choice after every
  send: 16 for this program).

BENCH_SMOKE=1: only welcome and the 5-email program, SMOKE_AT_ONCE contacts at once.
Run from the repository root: `.venv/bin/python bench/program_cost.py`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from localcloud.commands.cost import AT_ONCE, PRICES, estimate, measure, memory_mb

ROOT = Path(__file__).resolve().parent.parent
GOAL_PER_1000 = 0.30
SMOKE_AT_ONCE = 3
FIVE_EMAILS = """\
id: five-emails
name: Five emails a week apart
trigger: {event: trial_started}
steps:
  - {id: e1, type: send_email, template: welcome-1, purpose: service}
  - {id: w1, type: wait, duration: 7 days}
  - {id: e2, type: send_email, template: welcome-2a, purpose: service}
  - {id: w2, type: wait, duration: 7 days}
  - {id: e3, type: send_email, template: welcome-2b, purpose: service}
  - {id: w3, type: wait, duration: 7 days}
  - {id: e4, type: send_email, template: welcome-1, purpose: service}
  - {id: w4, type: wait, duration: 7 days}
  - {id: e5, type: send_email, template: welcome-2a, purpose: service}
"""


def main() -> int:
    smoke = bool(os.environ.get("BENCH_SMOKE"))
    shipped = sorted((ROOT / "programs").glob("*.yaml"))
    if smoke:
        shipped = [p for p in shipped if p.stem == "welcome"]
    failed = False
    print("Step Functions transitions per enrolment (measured, main path; $ for 1 contact alone)")
    print(f"  {'program':<26}{'steps':>6}{'transitions':>13}{'goal <=':>9}{'$/1k w/o SES':>14}")
    for path in shipped:
        try:
            run, est = measure(path, ROOT, at_once=1)
        except ValueError as exc:
            print(f"  {path.stem:<26}not measured: {exc}")
            failed = True
            continue
        ok = run.transitions <= run.steps + 1
        failed |= bool(run.errors)
        print(
            f"  {run.program_id:<26}{run.steps:>6g}{run.transitions:>13g}{run.steps + 1:>9g}"
            f"{est.total_excluding_messages:>14.4f}  {'ok' if ok else 'OVER'}"
        )
    at_once = SMOKE_AT_ONCE if smoke else AT_ONCE
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "five-emails.yaml"
        path.write_text(FIVE_EMAILS)
        alone_run, alone = measure(path, ROOT, at_once=1)
        run, est = measure(path, ROOT, at_once=at_once)
    # The machines as compiled before: "resume?" and a closing Succeed ("Finished" or
    # "continues later") once per execution, and "deferred?" after every send.
    before = replace(run, transitions=run.transitions + 2 * run.executions + run.emails)
    old = estimate(before, 1000, memory_mb(ROOT))
    print()
    print("A 5-email program (5 sends, 4 waits), per 1,000 contacts, USD without SES")
    print(f"  baseline (machines as compiled before, {before.transitions:g} transitions, ", end="")
    print(f"{at_once} contacts at once): {old.total_excluding_messages:.4f}", end="")
    print(f" (Step Functions {old.cost['step_functions']:.4f})")
    print(
        f"  now ({run.transitions:g} transitions, {at_once} contacts at once, as `nurture cost`):"
    )
    print(f"    total {est.total_excluding_messages:.4f}  goal <= {GOAL_PER_1000:.2f}", end="")
    print(
        f"  ratio {est.total_excluding_messages / old.total_excluding_messages:.2f}"
        f"  {'ok' if est.total_excluding_messages <= GOAL_PER_1000 else 'OVER'}"
    )
    print(f"    {'':<15}{f'{at_once} at once':>11}{'1 alone':>11}")
    for service, value in est.cost.items():
        print(f"    {service:<15}{value:>11.4f}{alone.cost[service]:>11.4f}")
    print(f"    {'total':<15}{est.total_excluding_messages:>11.4f}", end="")
    print(f"{alone.total_excluding_messages:>11.4f}  (1 alone: the upper bound)")
    print(
        f"  SES, apart: {est.ses:.4f} ({run.emails:g} emails x ${PRICES['ses_email'] * 1000:.2f}/1k)"
    )
    for label, r, e in ((f"{at_once} at once", run, est), ("1 alone", alone_run, alone)):
        print(
            f"  measured per contact ({label}): {r.transitions:g} transitions,"
            f" {e.invocations:g} invocations, {r.write_units:g} WRU, {r.read_units:g} RRU"
            f" ({r.strong_reads:g} strong reads), {e.lake_records:g} lake records in"
            f" {e.lake_puts:g} S3 PUTs"
        )
    failed |= bool(run.errors) or bool(alone_run.errors)
    return 1 if failed else 0  # a run that failed; figures over their goal are printed


if __name__ == "__main__":
    sys.exit(main())
