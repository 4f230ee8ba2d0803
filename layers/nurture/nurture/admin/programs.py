"""Programs in the console: the list with status, version and run counts; one program's graph
(the compiled state machine's states, with the runs that reached each), funnel, A/B results,
versions and recent entries and exits; and pause, resume and archive.

What the controls do (the same as a program file's `status:`, applied at once):

- **pause**: no new entries (the runtime's entry check refuses any program not `live`);
  runs already going carry on to their end, waits and sends included.
- **resume**: entries again, from the next triggering activity (nothing missed while
  paused is replayed).
- **archive**: no entries (the trigger index entries are removed), every running execution
  is stopped (cause "program <id> archived") and its pending resume schedules are deleted.
  Resuming an archived program puts its triggers back; stopped runs stay stopped.

The status is the live record's (StateTable `PROGRAM#<id>`/META): the next deploy of the
program's file applies the file's own `status:` again. The runtime caches program records
for up to a minute (PROGRAM_CACHE_SECONDS), so a pause reaches every react container within
that time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from nurture.admin.errors import AdminError
from nurture.admin.ports import ProgramFacts
from nurture.ports import ProgramRecord, StateStore
from nurture.programs.model import Program, trigger_keys
from nurture.reporting.ports import ProgramCatalog, SplitDecisions, SqlEngine

SHOWN_STATUS = {"live": "active", "paused": "paused", "archived": "archived"}
CONTROLS = {"pause": "paused", "resume": "live", "archive": "archived"}
COUNT_DAYS = 400  # runs entered in this many days are counted (a run lasts at most a year)
PROGRAM_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"
STEPS_ARN = "arn:aws:lambda:us-east-1:000000000000:function:steps"  # names only the graph


@cache
def _sql(name: str) -> str:
    text = (resources.files("nurture.admin") / "sql" / f"{name}.sql").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def _query(engine: SqlEngine, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    import sqlglot
    from sqlglot import exp

    parsed = sqlglot.parse_one(_sql(name), read="duckdb")
    bound = exp.replace_placeholders(parsed, **params)
    return engine.query(bound.sql(dialect=engine.dialect))


def run_counts(engine: SqlEngine, today: date) -> dict[str, dict[str, int]]:
    since = (today - timedelta(days=COUNT_DAYS)).isoformat()
    out = {}
    for row in _query(engine, "counts", {"dt_from": since}):
        entered, exited = int(row["entered"]), int(row["exited"])
        out[str(row["program_id"])] = {
            "running": max(entered - exited, 0),
            "completed": int(row["completed"]),
            "exited": exited,
            "entered": entered,
        }
    return out


def programs_list(catalog: ProgramCatalog, engine: SqlEngine, today: date) -> dict[str, Any]:
    counts = run_counts(engine, today)
    empty = {"running": 0, "completed": 0, "exited": 0, "entered": 0}
    listed = []
    for info in sorted(catalog.programs(), key=lambda p: p.program_id):
        listed.append(
            {
                "program_id": info.program_id,
                "name": str(info.definition.get("name") or info.program_id),
                "status": SHOWN_STATUS.get(info.status, info.status),
                "version": info.version,
                "last_edited": info.last_edited,
                "counts": counts.get(info.program_id, empty),
            }
        )
    return {"programs": listed}


def _record(state: StateStore, program_id: str) -> ProgramRecord:
    record = state.get_program(program_id)
    if record is None:
        raise AdminError(404, "no such program (or it was never deployed)", "program_id")
    return record


def graph(program: Program, reached: dict[str, int]) -> dict[str, Any]:
    """The compiled state machine's states and transitions; each step's state carries how
    many runs reached it (other states - send-window waits, resume entries, end steps - carry
    null)."""
    from nurture.programs.compiler import compile_program

    states: dict[str, Any] = compile_program(program, STEPS_ARN).definition["States"]
    steps = {s.id: s for s in program.steps}
    nodes, edges = [], []
    for name, state in states.items():
        step = steps.get(name)
        nodes.append(
            {
                "id": name,
                "kind": str(getattr(step, "type", None) or state["Type"]),
                "label": name,
                "state_type": state["Type"],
                # an `end` step runs no task, so nothing records who reached it: no count
                # rather than a false 0 (finished runs are the program's `completed`)
                "count": (
                    reached.get(name, 0) if step is not None and step.type != "end" else None
                ),
            }
        )
        targets: list[tuple[str, str]] = []
        if state.get("Next"):
            targets.append((state["Next"], ""))
        targets += [(c["Next"], "choice") for c in state.get("Choices", []) if c.get("Next")]
        if state.get("Default"):
            targets.append((state["Default"], "otherwise"))
        targets += [
            (c["Next"], ", ".join(c.get("ErrorEquals", []))) for c in state.get("Catch", [])
        ]
        for target, label in targets:
            edge = {"from": name, "to": target, "label": label}
            if edge not in edges:
                edges.append(edge)
    return {"start": next(iter(states)), "nodes": nodes, "edges": edges}


def _funnel_rows(
    funnel: dict[str, Any], program: Program
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    per_step: dict[str, dict[str, int]] = {}
    converted = 0
    for version in funnel["versions"]:
        converted += int(version["converted"])
        for s in version["steps"]:
            row = per_step.setdefault(
                s["step_id"], {"entered": 0, "sent": 0, "opened": 0, "clicked": 0}
            )
            row["entered"] += int(s["reached"])
            for metric in ("sent", "opened", "clicked"):
                row[metric] += int(s[metric])
    rows = []
    for step in program.steps:
        found = per_step.get(step.id, {"entered": 0, "sent": 0, "opened": 0, "clicked": 0})
        rows.append(
            {
                "step": step.id,
                "label": f"{step.type}: {step.id}",
                **found,
                "converted": converted,
            }
        )
    return rows, {k: v["entered"] for k, v in per_step.items()}


def _ab_rows(
    ab: dict[str, Any], decisions: SplitDecisions, program_id: str
) -> list[dict[str, Any]]:
    out = []
    for split in ab["splits"]:
        decided = decisions.get(program_id, split["step_id"])
        confidences = [v["confidence"] for v in split["variants"] if v["confidence"] is not None]
        out.append(
            {
                "step": split["step_id"],
                "variants": [
                    {
                        "name": v["variant"],
                        "sent": v["entrants"],
                        "converted": v["conversions"],
                        "rate": v["rate"],
                        "uplift": v["uplift"],
                        "confidence": v["confidence"],
                        "holdout": v["holdout"],
                    }
                    for v in split["variants"]
                ],
                "winner": decided.get("winner") if decided else None,
                "decided": decided is not None,
                "confidence": decided.get("confidence_vs_control")
                if decided
                else (max(confidences) if confidences else None),
                "method": split["method"],
            }
        )
    return out


def program_detail(
    program_id: str,
    state: StateStore,
    catalog: ProgramCatalog,
    engine: SqlEngine,
    decisions: SplitDecisions,
    facts: ProgramFacts,
    today: date,
    params: dict[str, str],
) -> dict[str, Any]:
    from nurture.reporting import reports, service

    record = _record(state, program_id)
    program = Program.model_validate(record.definition)
    try:
        parsed = service.parse("funnel", {**params, "program": program_id})
    except service.ReportError as exc:
        first = exc.errors[0]
        raise AdminError(400, f"{first['field']}: {first['reason']}", first["field"]) from None
    assert isinstance(parsed, service.ProgramParams)
    period = parsed.period(today)
    info = catalog.get(program_id)
    funnel, reached = _funnel_rows(reports.funnel(engine, program_id, period, info), program)
    ab = _ab_rows(reports.ab(engine, program_id, period, info), decisions, program_id)
    since = (today - timedelta(days=COUNT_DAYS)).isoformat()
    recent: dict[str, list[dict[str, Any]]] = {}
    for key, name in (("entries", "program.entered"), ("exits", "program.exited")):
        rows = _query(engine, "recent", {"dt_from": since, "program": program_id, "name": name})
        recent[key] = [
            {"contact_id": r["contact_id"], "at": reports._iso(r["ts"])}
            | ({"reason": r["reason"]} if key == "exits" else {})
            for r in rows
        ]
    versions = facts.versions(record.alias_arn) or [
        {"version": record.version, "deployed_at": None}
    ]
    return {
        "program": {
            "program_id": program_id,
            "name": program.name,
            "status": SHOWN_STATUS.get(record.status, record.status),
            "version": record.version,
            "trigger": record.triggers,
            "steps": [{"id": s.id, "type": s.type} for s in program.steps],
        },
        "period": period.as_dict(),
        "graph": graph(program, reached),
        "funnel": funnel,
        "ab": ab,
        "versions": versions,
        "recent": recent,
    }


def control(program_id: str, action: str, state: StateStore, facts: ProgramFacts) -> dict[str, Any]:
    """Pause, resume or archive (see the module's text for what each does)."""
    if action not in CONTROLS:
        raise AdminError(404, f"no action {action!r}", "action")
    record = _record(state, program_id)
    status = CONTROLS[action]
    program = Program.model_validate(record.definition)
    triggers = [] if status == "archived" else trigger_keys(program)
    if record.status != status or record.triggers != triggers:
        state.register_program(replace(record, status=status, triggers=triggers))
    answer: dict[str, Any] = {"program_id": program_id, "status": SHOWN_STATUS[status]}
    if status == "archived":
        cause = f"program {program_id} archived"
        answer["stopped_runs"] = facts.stop_running(record.alias_arn, program_id, cause)
        answer["cancelled_resumes"] = facts.cancel_resumes(program_id)
    return answer
