"""Scoring model files: problems located by line and column, the exported JSON Schema, and
the deploy report (status.json) next to the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from nurture.scoring import schema
from nurture.scoring.deploy import deploy_model, validate_source

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


class Blobs:
    def __init__(self, files: dict[str, str]):
        self.files = dict(files)

    def get_text(self, key: str) -> str | None:
        return self.files.get(key)

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        self.files[key] = text


class Registry:
    def __init__(self) -> None:
        self.models: dict[str, tuple[str, dict[str, Any]]] = {}

    def live_models(self) -> list[dict[str, Any]]:
        return [d for status, d in self.models.values() if status == "live"]

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        found = self.models.get(model_id)
        return found[1] if found else None

    def put_model(self, model_id: str, status: str, definition: dict[str, Any]) -> None:
        self.models[model_id] = (status, definition)


BROKEN = """id: broken
name: Broken
decay: {half_life: 30 days, window: 7 days}
behaviour:
  - id: pricing
    event: page
    where: {url: {glob: "*/pricing*"}}
    points: 0
  - id: pricing
    event: demo_requested
    points: 10
    frequency: twice
  - id: mql-loop
    event: lead.mql
    points: 5
grade:
  rules:
    - {id: senior, when: {feild: job_title, eq: VP}, points: 10}
  thresholds: {A: 10, B: 20}
mql: {behavior: 50}
"""


def _where(problems: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(p["line"], p["where"]) for p in problems]


def test_problems_name_their_line_and_column() -> None:
    model, problems = validate_source(BROKEN)
    assert model is None
    by_line = {p["line"]: p["problem"] for p in problems}
    assert "one of half_life or window" in by_line[3]
    assert "points must not be zero" in by_line[8]
    assert "frequency" in [p["where"] for p in problems if p["line"] == 12][0]
    assert "recorded by the system itself" in by_line[14]
    assert "condition needs one of the keys" in by_line[18] or "feild" in by_line[18]
    assert "a better grade needs more points" in by_line[19]
    assert by_line[20] == "`behavior` is not a setting here; did you mean `behaviour`?"
    assert all(p["column"] >= 1 for p in problems)


def test_cross_rule_problems_are_located_too() -> None:
    source = """id: dupes
name: Dupes
behaviour:
  - {id: a, event: x, points: 5}
  - {id: a, event: y, points: 5, daily_cap: 3}
grade:
  rules:
    - {id: g, when: {did: page}, points: 5}
  thresholds: {A: 5}
mql: {grade: A}
"""
    model, problems = validate_source(source)
    assert model is not None
    assert [(p["line"], p["problem"][:40]) for p in problems] == [
        (5, "the behaviour rule id 'a' is used twice"),
        (5, "daily_cap 3 is less than the rule's 5 po"),
        (8, "a grade is about who the contact is, not"),
    ]


def test_invalid_yaml_is_located() -> None:
    model, problems = validate_source("id: x\nbehaviour: [\n")
    assert model is None
    assert problems[0]["problem"].startswith("not valid YAML") and problems[0]["line"] == 3


def test_deploy_writes_status_and_keeps_the_live_model_on_a_bad_upload() -> None:
    good = (ROOT / "scoring" / "b2b.yaml").read_text()
    blobs, registry = Blobs({"scoring/b2b.yaml": good}), Registry()
    assert deploy_model("scoring/b2b.yaml", blobs, registry).ok
    status = json.loads(blobs.files["scoring/b2b.status.json"])
    assert status["status"] == "live"
    assert status["summary"]["mql"] == "behaviour >= 50 and grade B or better"
    assert {r["id"] for r in status["summary"]["behaviour_rules"]} >= {"pricing", "careers"}

    blobs.files["scoring/b2b.yaml"] = good.replace("points: 15", "points: fifteen", 1)
    result = deploy_model("scoring/b2b.yaml", blobs, registry)
    assert not result.ok
    status = json.loads(blobs.files["scoring/b2b.status.json"])
    assert status["status"] == "invalid" and status["live"] is True
    [problem] = status["problems"]
    line = good.splitlines().index("    points: 15") + 1
    assert problem["where"] == "behaviour[1].points" and problem["line"] == line
    assert registry.live_models()[0]["behaviour"][1]["points"] == 15  # unchanged


def test_id_must_match_the_file_and_only_one_model_is_primary() -> None:
    one = "id: one\nname: One\nbehaviour: [{id: a, event: x, points: 1}]\n"
    blobs, registry = Blobs({"scoring/one.yaml": one, "scoring/two.yaml": one}), Registry()
    assert deploy_model("scoring/one.yaml", blobs, registry).ok
    result = deploy_model("scoring/two.yaml", blobs, registry)
    assert [p["problem"] for p in result.problems] == ["id 'one' must match the file name 'two'"]
    blobs.files["scoring/two.yaml"] = one.replace("one", "two").replace("One", "Two")
    [problem] = deploy_model("scoring/two.yaml", blobs, registry).problems
    assert problem["line"] == 1 and "the live model 'one' is already primary" in problem["problem"]
    blobs.files["scoring/two.yaml"] += "primary: false\n"
    assert deploy_model("scoring/two.yaml", blobs, registry).ok


def test_json_schema_is_up_to_date() -> None:
    path = ROOT / "schemas" / "scoring.schema.json"
    assert path.read_text() == schema.render(), (
        "schemas/scoring.schema.json is stale: run python -m nurture.scoring.schema --write"
    )


def test_shipped_models_match_the_json_schema() -> None:
    import jsonschema  # editors validate with the schema; it must accept what we ship

    validator = jsonschema.Draft202012Validator(json.loads(schema.render()))
    shipped = sorted((ROOT / "scoring").glob("*.yaml"))
    assert shipped
    for path in shipped:
        data = yaml.safe_load(path.read_text())
        assert list(validator.iter_errors(data)) == [], path.name
        assert validate_source(path.read_text())[1] == [], path.name
    bad = {"id": "x", "name": "x", "behaviour": [{"id": "a", "event": "x", "points": "many"}]}
    assert list(validator.iter_errors(bad))
