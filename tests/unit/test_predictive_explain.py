"""The predictive score in plain words where people read it: `nurture explain`, the sales
notification and the digest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from localcloud.commands.explain import explain_with
from nurture.contacts import Contact
from nurture.rendering import EmailTemplate, render_email
from nurture.sales.summary import predictive_summary

ROOT = Path(__file__).resolve().parents[2]
FACTORS = [
    {"text": "viewed pricing 3× in the last 14 days", "points": 12},
    {"text": "asked for a demo", "points": 9},
    {"text": "reads no blog posts", "points": -2},
    {"text": "role: student", "points": -14},
]


def contact(**extra: Any) -> Contact:
    return Contact(
        contact_id="c1",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        email="ann@example.com",
        first_name="Ann",
        **extra,
    )


class Store:
    def __init__(self, found: Contact):
        self.found = found

    def contact_for_actor(self, actor: str) -> str | None:
        return "c1" if actor == "email:ann@example.com" else None

    def get(self, contact_id: str) -> Contact | None:
        return self.found if contact_id == "c1" else None


def test_explain_prints_the_predictive_factors() -> None:
    scored = contact(predictive_score=72, predictive_factors=FACTORS, predictive_model=3)
    status, answer = explain_with(Store(scored), "ann@example.com", None)
    assert status == 200
    assert answer["predictive"] == {"score": 72, "model_version": 3, "factors": FACTORS}
    lines = answer["lines"]
    at = lines.index("Predictive score 72/100 (model v3):")
    assert lines[at + 1 : at + 5] == [
        "  viewed pricing 3× in the last 14 days (+12)",
        "  asked for a demo (+9)",
        "  reads no blog posts (−2)",
        "  role: student (−14)",
    ]
    # not scored: no predictive part
    status, answer = explain_with(Store(contact()), "c1", None)
    assert "predictive" not in answer and not any("Predictive" in x for x in answer["lines"])


def _template(name: str) -> EmailTemplate:
    data = yaml.safe_load((ROOT / "templates" / "email" / f"{name}.yaml").read_text())
    return EmailTemplate.model_validate(data)


def _lead(predictive: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "lead": {"name": "Ann", "email": "ann@example.com", "account": {}},
        "contact": {},
        "owner": {"email": "sam@sales.example", "name": "Sam"},
        "score": {"score": 55, "grade": "B", "reasons": []},
        "predictive": predictive,
        "activities": [],
        "buttons": {},
        "recycle_days": 30,
        "handoff": {"status": "", "mql_at": ""},
        "cause": "mql",
    }


def test_the_sales_notification_and_digest_show_the_factors() -> None:
    summary = predictive_summary(
        contact(predictive_score=72, predictive_factors=FACTORS, predictive_model=3)
    )
    assert summary is not None and summary["score"] == 72
    mql = render_email(_template("sales-mql"), _lead(summary))
    for text in (mql.html, mql.text):
        assert "72" in text and "asked for a demo (+9)" in text and "role: student (−14)" in text
    digest = render_email(
        _template("sales-digest"),
        {"owner": {"name": "Sam"}, "leads": [_lead(summary)], "tasks": [], "tasks_url": "u"},
    )
    assert "Predictive 72/100" in digest.html and "viewed pricing 3× in the last 14 days (+12)" in (
        digest.html
    )
    assert "predictive 72/100" in digest.text
    # a contact without a predictive score: nothing about it
    assert predictive_summary(contact()) is None
    plain = render_email(_template("sales-mql"), _lead(None))
    assert "Predictive" not in plain.html and "Predictive" not in plain.text
