"""Predictive scoring on the local cloud: the training function (functions/model_train,
run in-process on moto) trains on the lake in the content bucket, keeps the version with
its card, scores the contacts; the score change starts a program whose trigger is
`score_crossed` with `model: predictive` (and not one on the hand-made score)."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from care import Person

from localcloud import LocalCloud
from localcloud.commands.explain import explain_local
from nurture import clock
from nurture.predictive.demo_data import Options, write

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HOT = """id: hot-lead
name: Hot leads by the predictive score
trigger:
  score_crossed: 20
  model: predictive
entry:
  once: true
  conditions: [{field: predictive_score, gte: 20}]
steps:
  - id: tag
    type: update_contact
    add_tags: [likely-buyer]
  - id: check
    type: branch
    branches:
      - when: {field: predictive_score, gte: 20}
        next: tag-high
    default: done
  - id: tag-high
    type: update_contact
    add_tags: [checked-high]
  - id: done
    type: end
"""
# the same trigger, but an entry condition pat does not meet
LOW = """id: low-lead
name: Low predictive scores only
trigger:
  score_crossed: 1
  model: predictive
entry:
  once: true
  conditions: [{field: predictive_score, lt: 5}]
steps:
  - id: tag
    type: update_contact
    add_tags: [low]
"""
RULES = """id: warm-rules
name: Warm by the hand-made score
trigger:
  score_crossed: 1
entry: every_time
steps:
  - id: tag
    type: update_contact
    add_tags: [warm]
"""


def _train_function(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> Any:
    env = cloud.functions["ReactFunction"].env
    for name in ("CONTACTS_TABLE", "ACTIVITIES_TABLE", "STATE_TABLE", "CONTENT_BUCKET"):
        monkeypatch.setenv(name, env[name])
    path = ROOT / "functions" / "model_train" / "app.py"
    spec = importlib.util.spec_from_file_location("nurture_function_train", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["nurture_function_train"] = module
    spec.loader.exec_module(module)
    return module


def _context() -> Any:
    return SimpleNamespace(
        function_name="train",
        memory_limit_in_mb=3008,
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:train",
        aws_request_id="req-1",
    )


def test_a_predictive_score_starts_a_program(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a year of history in the lake (the demo generator, up to yesterday)
    yesterday = (clock.now() - timedelta(days=1)).date().isoformat()
    write(tmp_path, Options(contacts=2500, seed=5, until=yesterday))
    bucket = cloud.functions["ReactFunction"].env["CONTENT_BUCKET"]
    s3 = cloud.client("s3")
    for path in sorted((tmp_path / "lake").rglob("*.json.gz")):
        s3.put_object(Bucket=bucket, Key=str(path.relative_to(tmp_path)), Body=path.read_bytes())
    # and programs on the predictive score and on the hand-made one
    cloud.sync_content(only=[])
    cloud.upload("programs/hot-lead.yaml", HOT)
    cloud.upload("programs/warm-rules.yaml", RULES)
    cloud.upload("programs/low-lead.yaml", LOW)
    cloud.run_until_idle()
    for program in ("hot-lead", "warm-rules", "low-lead"):
        status = json.loads(cloud.read(f"programs/{program}.status.json") or "{}")
        assert status.get("status") == "live", status

    # and a contact who looks at prices and asks for a demo, known for over a week
    pat = Person(cloud, "pat@example.com")
    pat.form("newsletter-signup", consent_newsletter="on")
    for _day in range(3):
        pat.page("https://example.com/pricing", "Pricing")
        pat.page("https://example.com/case-studies/acme", "Acme")
        cloud.advance(timedelta(days=3))
    pat.track("demo_requested")
    cloud.advance(timedelta(days=1))
    cloud.run_until_idle()

    # When the weekly training function runs
    function = _train_function(cloud, monkeypatch)
    summary = function.lambda_handler({}, _context())
    cloud.run_until_idle()

    # Then a model went live with its card, and pat has an explained score
    assert summary["version"] == 1 and summary["live"] is True, summary
    live = json.loads(cloud.read("models/predictive/live.json") or "{}")
    assert live["version"] == 1
    assert "# Predictive model v1" in (cloud.read("models/predictive/v1/card.md") or "")
    contact = pat.contact()
    assert contact.predictive_model == 1
    assert contact.predictive_score is not None and contact.predictive_score >= 20
    assert contact.predictive_factors and all(
        set(f) == {"text", "points"} for f in contact.predictive_factors
    )
    assert any("pricing" in f["text"] for f in contact.predictive_factors)
    status, explained = explain_local(cloud, "pat@example.com", {})
    assert status == 200 and explained["predictive"]["score"] == contact.predictive_score
    assert f"Predictive score {contact.predictive_score}/100 (model v1):" in explained["lines"]
    [changed] = pat.activities("contact.predictive_score_changed")
    assert changed.properties["new"] == contact.predictive_score
    # and the program on the predictive score started (its entry condition and branch read
    # the score); the one whose entry condition wants a low score and the one on the
    # hand-made score did not
    entered = [a.properties["program_id"] for a in pat.activities("program.entered")]
    assert entered == ["hot-lead"]
    assert sorted(contact.tags) == ["checked-high", "likely-buyer"]

    # When it runs again on the same data: the new version is kept, not live (it does not
    # beat v1), and nothing is scored twice
    summary = function.lambda_handler({}, _context())
    cloud.run_until_idle()
    assert summary["version"] == 2 and summary["live"] is False
    assert "does not beat the live model v1" in summary["decision"]
    assert len(pat.activities("contact.predictive_score_changed")) == 1
    assert [a.properties["program_id"] for a in pat.activities("program.entered")] == ["hot-lead"]

    # and the daily re-score (no training) scores with the live model
    cloud.advance(timedelta(days=1))
    summary = function.lambda_handler({"train": False}, _context())
    cloud.run_until_idle()
    assert summary["model"] == 1 and summary["scored"] > 0 and "version" not in summary
    assert pat.contact().predictive_model == 1
    assert cloud.errors == []
