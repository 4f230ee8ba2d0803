"""The reports: run a query (nurture.reporting.queries) on an engine and shape the answer.

Every report takes a period of whole UTC days, `since` to `until` inclusive."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from nurture.reporting import queries
from nurture.reporting.ports import ProgramInfo, SqlEngine
from nurture.reporting.stats import holm, two_proportion_p

MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
DIMENSIONS = ("program", "campaign", "channel", "content")
FURTHEST = ("entered", "sent", "opened", "clicked", "converted")
Model = Literal["first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay"]
Dimension = Literal["program", "campaign", "channel", "content"]


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError("until must not be before since")

    @property
    def ts_from(self) -> str:
        return f"{self.since.isoformat()} 00:00:00"

    @property
    def ts_to(self) -> str:
        return f"{(self.until + timedelta(days=1)).isoformat()} 00:00:00"

    def dt_from(self, back: timedelta = timedelta(0)) -> str:
        return (self.since - back).isoformat()

    def as_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


def _run(engine: SqlEngine, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return engine.query(queries.render(name, params, engine.dialect))


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    return None if value is None else str(value)


def _step_order(program: ProgramInfo | None) -> list[str]:
    return [str(s.get("id")) for s in program.steps()] if program else []


def holdout_variants(program: ProgramInfo | None, split_step: str) -> set[str]:
    """Variants of a split that go straight to an `end` step: holdout groups."""
    if program is None:
        return set()
    ends = {s.get("id") for s in program.steps() if s.get("type") == "end"}
    for step in program.steps():
        if step.get("id") == split_step:
            return {
                str(v.get("name") or v.get("next"))
                for v in step.get("variants") or []
                if v.get("next") in ends
            }
    return set()


def _variant_order(program: ProgramInfo | None, split_step: str) -> list[str]:
    for step in program.steps() if program else []:
        if step.get("id") == split_step:
            return [str(v.get("name") or v.get("next")) for v in step.get("variants") or []]
    return []


# --- funnel ------------------------------------------------------------------------------
def funnel(
    engine: SqlEngine, program_id: str, period: Period, program: ProgramInfo | None = None
) -> dict[str, Any]:
    rows = _run(
        engine,
        "funnel",
        {
            "program": program_id,
            "dt_from": period.dt_from(),
            "ts_from": period.ts_from,
            "ts_to": period.ts_to,
        },
    )
    order = _step_order(program)
    versions: dict[str, dict[str, Any]] = {}
    for row in rows:
        version = str(row["version"])
        v = versions.setdefault(
            version,
            {
                "version": version,
                "entered": 0,
                "converted": 0,
                "goals": {},
                "exited": 0,
                "exit_reasons": {},
                "steps": {},
            },
        )
        metric, step, detail, runs = row["metric"], row["step_id"], row["detail"], row["runs"]
        if metric == "entered":
            v["entered"] = runs
        elif metric == "converted":
            v["converted"] += runs
            v["goals"][detail or "goal"] = runs
        elif metric == "exited":
            v["exited"] += runs
            v["exit_reasons"][detail] = runs
        else:
            s = v["steps"].setdefault(
                step,
                {
                    "step_id": step,
                    "reached": 0,
                    "sent": 0,
                    "delivered": 0,
                    "opened": 0,
                    "clicked": 0,
                    "skipped": 0,
                    "skip_reasons": {},
                    "variants": {},
                },
            )
            if metric == "skipped":
                s["skipped"] += runs
                s["skip_reasons"][detail] = runs
            elif metric == "variant":
                s["variants"][detail] = runs
            else:
                s[metric] = runs
    out = []
    for v in sorted(versions.values(), key=lambda x: _version_key(x["version"])):
        steps = sorted(
            v["steps"].values(),
            key=lambda s: (
                order.index(s["step_id"]) if s["step_id"] in order else len(order),
                s["step_id"],
            ),
        )
        for s in steps:
            if not s["variants"]:
                del s["variants"]
        v["steps"] = steps
        v["conversion_rate"] = _rate(v["converted"], v["entered"])
        out.append(v)
    return {
        "report": "funnel",
        "program": program_id,
        "period": period.as_dict(),
        "versions": out,
        "holdout": _holdout_lift(engine, program_id, period, program),
    }


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _holdout_lift(
    engine: SqlEngine, program_id: str, period: Period, program: ProgramInfo | None
) -> list[dict[str, Any]]:
    """Incremental lift of each split with a holdout: treated conversion rate minus the
    holdout's (absolute, and relative to the holdout)."""
    out = []
    for split in ab(engine, program_id, period, program)["splits"]:
        held = [v for v in split["variants"] if v["holdout"]]
        treated = [v for v in split["variants"] if not v["holdout"]]
        if not held or not treated:
            continue
        h_n = sum(v["entrants"] for v in held)
        h_c = sum(v["conversions"] for v in held)
        t_n = sum(v["entrants"] for v in treated)
        t_c = sum(v["conversions"] for v in treated)
        h_rate, t_rate = _rate(h_c, h_n), _rate(t_c, t_n)
        lift = None if h_rate is None or t_rate is None else round(t_rate - h_rate, 6)
        out.append(
            {
                "step_id": split["step_id"],
                "treated": {"entrants": t_n, "conversions": t_c, "rate": t_rate},
                "holdout": {"entrants": h_n, "conversions": h_c, "rate": h_rate},
                "lift": lift,
                "relative_lift": round(lift / h_rate, 6) if lift is not None and h_rate else None,
                "incremental_conversions": round(lift * t_n, 3) if lift is not None else None,
                "confidence": round(1 - two_proportion_p(t_c, t_n, h_c, h_n), 6),
            }
        )
    return out


# --- A/B/n -------------------------------------------------------------------------------
def ab(
    engine: SqlEngine, program_id: str, period: Period, program: ProgramInfo | None = None
) -> dict[str, Any]:
    rows = _run(
        engine,
        "ab",
        {
            "program": program_id,
            "dt_from": period.dt_from(),
            "ts_from": period.ts_from,
            "ts_to": period.ts_to,
        },
    )
    by_step: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_step[row["step_id"]].append(row)
    splits = [split_result(step, found, program) for step, found in sorted(by_step.items())]
    return {"report": "ab", "program": program_id, "period": period.as_dict(), "splits": splits}


def split_result(
    step_id: str, rows: list[dict[str, Any]], program: ProgramInfo | None = None
) -> dict[str, Any]:
    """Per variant: entrants, conversions, clickers, rates, uplift against the control (the
    first variant listed in the program) and the Holm-corrected confidence."""
    order = _variant_order(program, step_id)
    held = holdout_variants(program, step_id)
    rows = sorted(
        rows,
        key=lambda r: (
            order.index(r["variant"]) if r["variant"] in order else len(order),
            str(r["variant"]),
        ),
    )
    control = rows[0]
    others = rows[1:]
    p_values = [
        two_proportion_p(
            r["conversions"], r["entrants"], control["conversions"], control["entrants"]
        )
        for r in others
    ]
    adjusted = dict(zip((r["variant"] for r in others), holm(p_values), strict=True))
    c_raw = control["conversions"] / control["entrants"] if control["entrants"] else None
    variants = []
    for r in rows:
        raw = r["conversions"] / r["entrants"] if r["entrants"] else None
        is_control = r is control
        variants.append(
            {
                "variant": r["variant"],
                "control": is_control,
                "holdout": r["variant"] in held,
                "entrants": r["entrants"],
                "conversions": r["conversions"],
                "clickers": r["clickers"],
                "rate": _rate(r["conversions"], r["entrants"]),
                "click_rate": _rate(r["clickers"], r["entrants"]),
                "uplift": None
                if is_control or raw is None or not c_raw
                else round((raw - c_raw) / c_raw, 6),
                "confidence": None if is_control else round(1 - adjusted[r["variant"]], 6),
                "first_entry": _iso(r.get("first_entry")),
            }
        )
    return {
        "step_id": step_id,
        "method": "two-sided pooled two-proportion z-test vs control, Holm-corrected",
        "variants": variants,
    }


# --- attribution -------------------------------------------------------------------------
def attribution(
    engine: SqlEngine,
    period: Period,
    group_by: Dimension = "channel",
    lookback_days: int = 90,
    half_life_days: float = 7.0,
) -> dict[str, Any]:
    if group_by not in DIMENSIONS:
        raise ValueError(f"group_by must be one of {', '.join(DIMENSIONS)}")
    rows = _run(
        engine,
        "attribution",
        {
            "dt_from": period.dt_from(timedelta(days=lookback_days)),
            "ts_from": period.ts_from,
            "ts_to": period.ts_to,
            "lookback_seconds": lookback_days * 86400,
            "half_life_seconds": half_life_days * 86400.0,
        },
    )
    groups: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MODELS, 0.0))
    revenue = 0.0
    for row in rows:
        key = row[group_by] if row[group_by] is not None else "(none)"
        if row["channel"] == "(direct)" and group_by != "channel":
            key = "(direct)"
        for model in MODELS:
            groups[key][model] += float(row[model] or 0)
        revenue += float(row["first_touch"] or 0)  # first-touch credits add up to the revenue
    return {
        "report": "attribution",
        "period": period.as_dict(),
        "group_by": group_by,
        "lookback_days": lookback_days,
        "half_life_days": half_life_days,
        "revenue": round(revenue, 2),
        "rows": [
            {group_by: key, **{m: round(v, 2) for m, v in credits.items()}}
            for key, credits in sorted(groups.items(), key=lambda kv: -kv[1]["linear"])
        ],
    }


def created_by(
    engine: SqlEngine, period: Period, group_by: Dimension = "channel", lookback_days: int = 90
) -> dict[str, Any]:
    rows = _run(
        engine,
        "created_by",
        {
            "dt_from": period.dt_from(timedelta(days=lookback_days)),
            "ts_from": period.ts_from,
            "ts_to": period.ts_to,
            "lookback_seconds": lookback_days * 86400,
        },
    )
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        key = row[group_by] if row[group_by] is not None else "(none)"
        if row["channel"] == "(direct)":
            key = "(direct)"
        counts[key] += int(row["contacts"])
    return {
        "report": "created_by",
        "period": period.as_dict(),
        "group_by": group_by,
        "rows": [
            {group_by: k, "contacts": n} for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
        ],
    }


# --- statuses, pipeline, review ------------------------------------------------------------
def statuses(
    engine: SqlEngine, program_id: str, period: Period, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    rows = _run(
        engine,
        "statuses",
        {
            "program": program_id,
            "dt_from": period.dt_from(),
            "ts_from": period.ts_from,
            "ts_to": period.ts_to,
        },
    )
    counts = dict.fromkeys(FURTHEST, 0)
    for row in rows:
        counts[row["status"]] += 1
    return {
        "report": "statuses",
        "program": program_id,
        "period": period.as_dict(),
        "counts": counts,
        "total": len(rows),
        "contacts": [
            {
                "contact_id": r["contact_id"],
                "status": r["status"],
                "last_activity": _iso(r["last_activity"]),
            }
            for r in rows[offset : offset + limit]
        ],
    }


def pipeline(engine: SqlEngine, period: Period, lookback_days: int = 90) -> dict[str, Any]:
    rows = _run(
        engine,
        "pipeline",
        {
            "dt_from": period.dt_from(timedelta(days=lookback_days)),
            "ts_from": period.ts_from,
            "ts_to": period.ts_to,
            "lookback_seconds": lookback_days * 86400,
        },
    )
    return {
        "report": "pipeline",
        "period": period.as_dict(),
        "rows": [
            {
                **{
                    k: r[k]
                    for k in (
                        "source",
                        "new_contacts",
                        "leads",
                        "mqls",
                        "sqls",
                        "customers",
                        "leads_accepted",
                    )
                },
                "week": str(r["week"]),
                "avg_response_seconds": None
                if r["avg_response_seconds"] is None
                else round(float(r["avg_response_seconds"]), 1),
            }
            for r in rows
        ],
    }


def review(
    engine: SqlEngine,
    programs: list[ProgramInfo],
    today: date,
    stale_days: int = 90,
    edited_stale_days: int = 365,
    history_days: int = 730,
) -> dict[str, Any]:
    """Per program: last edited, last entry, last conversion; a live program is flagged
    stale when nobody entered for `stale_days`, entrants stopped converting for as long, or
    its file was not edited for `edited_stale_days` (a changed business must not leave old
    programs running)."""
    recent = today - timedelta(days=stale_days)
    rows = _run(
        engine,
        "review",
        {
            "dt_from": (today - timedelta(days=history_days)).isoformat(),
            "ts_recent": f"{recent.isoformat()} 00:00:00",
        },
    )
    seen = {r["program_id"]: r for r in rows}
    known = {p.program_id: p for p in programs}
    out = []
    for program_id in sorted(set(seen) | set(known)):
        info = known.get(program_id)
        row = seen.get(program_id, {})
        status = info.status if info else "unknown"
        reasons = []
        if status == "live":
            if not row.get("recent_entries"):
                reasons.append(f"no entries in {stale_days} days")
            elif info and info.definition.get("goals") and not row.get("recent_conversions"):
                reasons.append(f"no conversions in {stale_days} days")
            edited = info.last_edited if info else None
            if edited and edited[:10] < (today - timedelta(days=edited_stale_days)).isoformat():
                reasons.append(f"not edited in {edited_stale_days} days")
        out.append(
            {
                "program": program_id,
                "status": status,
                "version": info.version if info else None,
                "last_edited": info.last_edited if info else None,
                "last_entry": _iso(row.get("last_entry")),
                "last_conversion": _iso(row.get("last_conversion")),
                "recent_entries": row.get("recent_entries", 0),
                "recent_conversions": row.get("recent_conversions", 0),
                "stale": bool(reasons),
                "stale_reasons": reasons,
            }
        )
    return {
        "report": "review",
        "today": today.isoformat(),
        "stale_days": stale_days,
        "programs": out,
    }
