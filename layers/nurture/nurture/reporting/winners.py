"""Automatic A/B winners (opt-in on a split step, `auto_winner:`).

On a schedule, for each live program whose split steps opted in and have no decision yet:
once the stated time has passed since the split's first entrant and every competing
variant has the minimum number of entrants, the variant with the best rate on the chosen
metric (the program's goal, or email clicks) wins (ties: the one listed first; a variant
that beats the control must also reach `min_confidence` against it, else the control
wins). The decision is stored once, with its figures, and recorded as a
`program.split_decided` activity; from then on the split step sends every later entrant
to the winner, except holdout variants, which keep their share to go on measuring lift.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from nurture import clock
from nurture.ids import stable_id
from nurture.programs.durations import parse_duration
from nurture.reporting import reports
from nurture.reporting.ports import ProgramCatalog, ProgramInfo, SplitDecisions, SqlEngine
from nurture.reporting.stats import two_proportion_p
from nurture.tracking.events import Activity

# How far back a split's entrants are counted from (a test starts when its version does).
HISTORY_DAYS = 730


def auto_splits(program: ProgramInfo) -> list[dict[str, Any]]:
    return [
        s
        for s in program.steps()
        if s.get("type") == "split" and isinstance(s.get("auto_winner"), dict)
    ]


def choose(
    split: dict[str, Any], figures: dict[str, Any], now: datetime, holdouts: set[str]
) -> dict[str, Any] | None:
    """The decision for one split, or None while it is too early or too small."""
    rule = split["auto_winner"]
    metric = rule.get("metric", "goal")
    declared = [str(v.get("name") or v.get("next")) for v in split.get("variants", [])]
    found = {v["variant"]: v for v in figures["variants"]}
    names = [d for d in declared if d not in holdouts]
    if len(names) < 2 or any(n not in found for n in names):
        return None  # a competing variant nobody has entered yet
    competing = [found[n] for n in names]
    starts = [v["first_entry"] for v in figures["variants"] if v["first_entry"]]
    if not starts:
        return None
    started = datetime.fromisoformat(min(starts).replace("Z", "+00:00"))
    if now < started + timedelta(seconds=parse_duration(rule["after"])):
        return None
    if any(v["entrants"] < int(rule.get("min_per_variant", 100)) for v in competing):
        return None
    key = "rate" if metric == "goal" else "click_rate"
    control = competing[0]
    best = control
    for v in competing[1:]:
        if (v[key] or 0) > (best[key] or 0):
            best = v
    confidence = None
    if best is not control:
        successes = "conversions" if metric == "goal" else "clickers"
        confidence = 1 - two_proportion_p(
            best[successes], best["entrants"], control[successes], control["entrants"]
        )
        if confidence < float(rule.get("min_confidence", 0)):
            best = control
    return {
        "winner": best["variant"],
        "next": next(
            (
                v.get("next")
                for v in split["variants"]
                if (v.get("name") or v.get("next")) == best["variant"]
            ),
            None,
        ),
        "metric": metric,
        "decided_at": clock.iso(now),
        "confidence_vs_control": None if confidence is None else round(confidence, 6),
        "figures": [
            {
                k: v[k]
                for k in (
                    "variant",
                    "entrants",
                    "conversions",
                    "clickers",
                    "rate",
                    "click_rate",
                    "confidence",
                    "holdout",
                )
            }
            for v in figures["variants"]
        ],
    }


def decide_winners(
    engine_for: Callable[[], SqlEngine],
    catalog: ProgramCatalog,
    decisions: SplitDecisions,
    record: Callable[[str, str, dict[str, Any]], object],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Decide every pending split that is due; `record(program_id, step_id, decision)`
    writes the activity. The engine is made only when some split waits for a decision.
    Returns the decisions made in this run."""
    now = now or clock.now()
    pending = decisions.pending()
    if not pending:
        return []
    engine = engine_for()
    made = []
    by_program: dict[str, list[str]] = {}
    for program_id, step_id in pending:
        by_program.setdefault(program_id, []).append(step_id)
    for program_id, step_ids in sorted(by_program.items()):
        program = catalog.get(program_id)
        splits = {s["id"]: s for s in auto_splits(program)} if program else {}
        if program is None or program.status != "live":
            for step_id in step_ids:
                decisions.forget_pending(program_id, step_id)
            continue
        period = reports.Period(now.date() - timedelta(days=HISTORY_DAYS), now.date())
        by_step = {
            s["step_id"]: s for s in reports.ab(engine, program_id, period, program)["splits"]
        }
        for step_id in step_ids:
            split = splits.get(step_id)
            if split is None or decisions.get(program_id, step_id) is not None:
                decisions.forget_pending(program_id, step_id)
                continue
            figures = by_step.get(step_id)
            held = reports.holdout_variants(program, step_id)
            decision = choose(split, figures, now, held) if figures else None
            if not decision:
                continue
            decision.update(
                program_id=program_id,
                step_id=step_id,
                version=program.version,
                holdouts=sorted(held),
            )
            if decisions.put_once(program_id, step_id, decision):
                record(program_id, step_id, decision)
                made.append(decision)
            decisions.forget_pending(program_id, step_id)
    return made


def decision_activity(program_id: str, step_id: str, decision: dict[str, Any]) -> Activity:
    """The decision as an activity of the program itself (actor `program:<id>`), so it is
    in the lake and the timeline next to what the contacts did."""
    now = clock.iso(clock.now())
    return Activity(
        actor=f"program:{program_id}",
        message_id=stable_id("program.split_decided", program_id, step_id),
        kind="program",
        name="program.split_decided",
        occurred_at=now,
        received_at=now,
        properties={"program_id": program_id, "step_id": step_id, **decision},
    )
