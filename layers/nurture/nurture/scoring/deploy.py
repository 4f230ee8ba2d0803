"""Deploying a scoring model file: validate, register, and report next to the file
(scoring/<id>.status.json). An invalid file never replaces the live model; its report names
each problem with its line and column, as program reports do."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from nurture import clock
from nurture.ports import BlobStore
from nurture.programs.conditions import Did, describe
from nurture.programs.source import (
    Located,
    load_with_lines,
    parse_mapping,
    problem_entry,
    validation_problems,
)
from nurture.scoring.model import ScoringModel, check_model


class ScoringRegistry(Protocol):
    def live_models(self) -> list[dict[str, Any]]: ...

    def get_model(self, model_id: str) -> dict[str, Any] | None: ...

    def put_model(self, model_id: str, status: str, definition: dict[str, Any]) -> None: ...


@dataclass
class ScoringDeployResult:
    model_id: str
    ok: bool
    problems: list[dict[str, Any]]


def status_key(key: str) -> str:
    return key.removesuffix(".yaml").removesuffix(".yml") + ".status.json"


def _uses_history(condition: Any) -> bool:
    if isinstance(condition, Did):
        return True
    for child in ("all", "any"):
        if any(_uses_history(c) for c in getattr(condition, child, None) or []):
            return True
    inner = getattr(condition, "not_", None)
    return inner is not None and _uses_history(inner)


def _scoring_names() -> list[str]:
    from pydantic import BaseModel

    from nurture.scoring import model as scoring_model

    names: set[str] = set()
    for value in vars(scoring_model).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
            names.update(info.alias or name for name, info in value.model_fields.items())
    return sorted(names)


def _hint(entry: dict[str, Any]) -> dict[str, Any]:
    """Programs' "did you mean" knows program words; add the scoring ones (`behavior`...)."""
    problem = entry["problem"]
    if problem.endswith("is not a setting here") and problem.startswith("`"):
        name = problem[1:].split("`", 1)[0]
        close = difflib.get_close_matches(name, _scoring_names(), n=1)
        if close:
            return {**entry, "problem": f"{problem}; did you mean `{close[0]}`?"}
    return entry


def validate_source(source: str) -> tuple[ScoringModel | None, list[dict[str, Any]]]:
    """The model in `source` and every problem with it (each with where/line/column/problem)."""
    located, problems = parse_mapping(
        source, "a scoring model is a mapping with id, name, behaviour and grade"
    )
    if located is None:
        return None, problems
    try:
        model = ScoringModel.model_validate(located.data)
    except ValidationError as exc:
        return None, problems + [_hint(p) for p in validation_problems(exc, located)]
    problems += [problem_entry(located, loc, message) for loc, message in check_model(model)]
    for index, rule in enumerate(model.grade_rules):
        if _uses_history(rule.when):
            problems.append(
                problem_entry(
                    located,
                    ("grade", "rules", index, "when"),
                    "a grade is about who the contact is, not what they did: use behaviour "
                    "rules for `did`",
                )
            )
    return model, problems


def summary(model: ScoringModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "primary": model.primary,
        "decay": model.decay.model_dump(exclude_none=True) if model.decay else None,
        "behaviour_rules": [
            {
                "id": r.id,
                "event": r.event,
                "points": r.points,
                "frequency": r.frequency
                if isinstance(r.frequency, str)
                else f"once per {r.frequency.once_per}",
                "daily_cap": r.daily_cap,
            }
            for r in model.behaviour
        ],
        "grade_rules": [
            {"id": r.id, "when": describe(r.when), "points": r.points} for r in model.grade_rules
        ],
        "grades": model.grade.thresholds if model.grade else None,
        "mql": model.mql.describe() if model.mql else None,
    }


def _primary_conflict(
    model: ScoringModel, registry: ScoringRegistry, located: Located
) -> list[dict[str, Any]]:
    if not (model.primary and model.status == "live"):
        return []
    others = [
        d.get("id")
        for d in registry.live_models()
        if d.get("id") != model.id and d.get("primary", True) and d.get("status") == "live"
    ]
    if not others:
        return []
    return [
        problem_entry(
            located,
            ("primary",) if "primary" in located.data else ("id",),
            f"the live model {others[0]!r} is already primary (it sets the contact's score and "
            "grade); set `primary: false` here or pause that one",
        )
    ]


def deploy_model(key: str, blobs: BlobStore, registry: ScoringRegistry) -> ScoringDeployResult:
    file_id = key.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
    source = blobs.get_text(key)
    if source is None:
        return ScoringDeployResult(file_id, False, [{"where": key, "problem": "file not found"}])
    model, problems = validate_source(source)
    if model is not None:
        located = load_with_lines(source)
        if model.id != file_id:
            problems.append(
                problem_entry(
                    located, ("id",), f"id {model.id!r} must match the file name {file_id!r}"
                )
            )
        problems += _primary_conflict(model, registry, located)
    report: dict[str, Any] = {"file": key, "checked_at": clock.iso(clock.now())}
    if model is None or problems:
        previous = registry.get_model(file_id)
        report.update(
            status="invalid",
            problems=problems,
            live=previous is not None and previous.get("status") == "live",
            note="Nothing was deployed: the model in use, if any, is unchanged.",
        )
        blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
        return ScoringDeployResult(file_id, False, problems)
    definition = model.model_dump(mode="json", by_alias=True)
    registry.put_model(model.id, model.status, definition)
    report.update(status=model.status, summary=summary(model))
    blobs.put_text(status_key(key), json.dumps(report, indent=2), "application/json")
    return ScoringDeployResult(model.id, True, [])
