"""Scoring on the local cloud: a lead warms up, crosses the MQL rule (stage `mql`, the stage
trigger fires, `lead.mql` is recorded), decays over virtual months, and a retried stream
batch counts nothing twice; bad model files are reported by line."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from care import Person, table, tasks

from localcloud import LocalCloud
from localcloud.commands.explain import explain_local
from nurture.scoring import explain_contact

pytestmark = pytest.mark.integration


def deploy_scoring(cloud: LocalCloud, *programs: str) -> None:
    cloud.sync_content(only=["b2b", *programs])
    status = json.loads(cloud.read("scoring/b2b.status.json") or "{}")
    assert status.get("status") == "live", status
    for program in programs:
        report = json.loads(cloud.read(f"programs/{program}.status.json") or "{}")
        assert report.get("status") == "live", report


def warm_lead(cloud: LocalCloud) -> Person:
    """Ann: a VP at a 250-person software company in the UK (grade A), reading up on us."""
    ann = Person(cloud, "ann@acme.example")
    ann.form(
        "guide-download", first_name="Ann", company="Acme", guide="pricing", consent_marketing="on"
    )  # +10
    # the CRM (a server, with the secret write key) says who she is and who owns her
    status, _, answer = cloud.http(
        "POST",
        "/v1/identify",
        {
            "userId": "crm-ann",
            "messageId": "crm-ann-1",
            "traits": {
                "email": ann.email,
                "job_title": "VP Marketing",
                "industry": "software",
                "employees": 250,
                "country": "GB",
                "owner": "sam@sales.example.com",
            },
        },
        write_key="local-secret-key",
    )
    assert status == 200, answer
    ann.page("https://acme.example/blog/what-is-nurture")  # +1
    ann.page("https://acme.example/pricing")  # +15
    ann.page("https://acme.example/pricing")  # the same day: nothing
    ann.page("https://acme.example/careers")  # -10
    cloud.advance(timedelta(days=1))
    ann.page("https://acme.example/case-studies/globex")  # +8
    ann.page("https://acme.example/pricing")  # +15
    return ann


def test_a_lead_warms_up_and_crossing_the_mql_rule_fires_the_stage_trigger(
    cloud: LocalCloud,
) -> None:
    # Given the b2b model and the sales-ready program (stage changed to mql -> call task)
    deploy_scoring(cloud, "sales-ready")
    start = cloud.clock.now()
    ann = warm_lead(cloud)
    contact = ann.contact()
    assert contact.grade == "A" and contact.stage == "subscriber"
    # 10 + 1 + 15 - 10 a day ago (halved every 30 days: a little less now) + 8 + 15 today
    behaviour = explain_contact(contact, cloud.clock.now()).behaviour
    assert behaviour == pytest.approx(16 * 2 ** (-1 / 30) + 23) and contact.score == 39
    assert ann.activities("lead.mql") == []

    # When she requests a demo
    cloud.advance(timedelta(hours=3))
    ann.track("demo_requested", plan="team")

    # Then she is an MQL, with why, and the stage trigger started the sales-ready program
    contact = ann.contact()
    assert contact.stage == "mql" and contact.score >= 50
    [mql] = ann.activities("lead.mql")
    assert mql.properties["grade"] == "A" and mql.properties["behaviour"] == contact.score
    assert mql.properties["reasons"][:3] == [
        "requested a demo",
        "viewed the pricing page",
        "read a case study",
    ]
    [stage] = ann.activities("contact.stage_changed")
    assert (stage.properties["from"], stage.properties["to"]) == ("subscriber", "mql")
    assert stage.properties["reason"] == "mql: behaviour >= 50 and grade B or better"
    entered = ann.activities("program.entered")
    assert [a.properties["program_id"] for a in entered] == ["sales-ready"]
    [task] = tasks(cloud, "sam@sales.example.com")
    assert task.title == f"Call Ann (new MQL, score {contact.score})"
    assert task.due == (start + timedelta(days=1, hours=4)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # Scoring itself started no workflow: the only execution is the program the stage started
    sfn = cloud.client("stepfunctions")
    runs = [
        e
        for m in sfn.list_state_machines()["stateMachines"]
        for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
    ]
    assert len(runs) == 1
    assert cloud.errors == []


def test_the_score_decays_exactly_over_virtual_months_and_explain_says_why(
    cloud: LocalCloud,
) -> None:
    deploy_scoring(cloud)
    ann = warm_lead(cloud)
    scored_at = cloud.clock.now()
    stored = ann.contact()
    base = explain_contact(stored, scored_at).behaviour
    writes = stored.updated_at

    # Months pass with no activity: nothing rewrites her, and the score halves every 30 days
    for days in (15, 30, 45, 90, 120):
        cloud.advance(timedelta(days=days) - (cloud.clock.now() - scored_at))
        status, answer = explain_local(cloud, "ann@acme.example", {})
        assert status == 200
        assert answer["behaviour"] == pytest.approx(base * 2 ** (-days / 30), rel=1e-9)
    assert ann.contact().updated_at == writes

    # `nurture explain` (as the local API answers it): newest first, with the fit reasons
    status, answer = explain_local(cloud, "ann@acme.example", {})
    lines = answer["lines"]
    assert lines[1].startswith(f"behaviour score {answer['score']} (")
    assert "half-life 30 days" in lines[1]
    assert lines[2] == "grade A (85 fit points)"
    assert "viewed the pricing page [pricing]" in lines[4]
    assert any("looked at job openings" in line and "-10 ->" in line for line in lines)
    assert explain_local(cloud, "nobody@example.com", {})[0] == 404
    assert cloud.errors == []


def _stream_event(cloud: LocalCloud, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ActivitiesTable stream records for these items, as Lambda gets them."""
    arn = cloud.functions["ReactFunction"].events["Activity"]["Properties"]["Stream"]
    return {
        "Records": [
            {
                "eventID": f"retry-{n}",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": item["pk"], "sk": item["sk"]},
                    "NewImage": item,
                    "SequenceNumber": str(10_000 + n),
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": arn,
            }
            for n, item in enumerate(items)
        ]
    }


def test_a_retried_stream_batch_counts_nothing_twice(cloud: LocalCloud) -> None:
    deploy_scoring(cloud, "sales-ready")
    ann = warm_lead(cloud)
    ann.track("demo_requested")
    cloud.advance(timedelta(hours=1))

    def snapshot() -> dict[str, Any]:
        contact = ann.contact()
        names = ("contact.score_changed", "contact.grade_changed", "lead.mql", "program.entered")
        return {
            "score": contact.score,
            "stage": contact.stage,
            "scoring": contact.scoring,
            "recorded": {n: len(ann.activities(n)) for n in names},
            "stage_changes": len(ann.activities("contact.stage_changed")),
            "tasks": len(tasks(cloud, "sam@sales.example.com")),
            "emails": len(cloud.outbox),
        }

    before = snapshot()
    assert before["stage"] == "mql" and before["recorded"]["lead.mql"] == 1

    # When Lambda delivers the whole stream again (a batch retried after a timeout)
    ddb = cloud.client("dynamodb")
    items = ddb.scan(TableName=table(cloud, "ActivitiesTable"))["Items"]
    items.sort(key=lambda i: i["sk"]["S"])
    for start in range(0, len(items), 50):
        answer = cloud.invoke("ReactFunction", _stream_event(cloud, items[start : start + 50]))
        assert answer == {"batchItemFailures": []}
    cloud.run_until_idle()

    # Then nothing is counted, recorded, started or sent twice
    assert snapshot() == before
    assert cloud.errors == []


BROKEN = """id: b2b
name: B2B with mistakes
decay: {half_life: 30 days}
behaviour:
  - id: pricing
    event: page
    where: {url: {glob: "*/pricing*"}}
    points: 15
    frequency: {once_per: soon}
grade:
  rules:
    - {id: senior, when: {field: job_title, regex: "(?i)vp"}, points: 30}
  thresholds: {A: 70, B: 80}
"""


def test_a_bad_model_upload_is_reported_by_line_and_the_live_one_keeps_scoring(
    cloud: LocalCloud,
) -> None:
    deploy_scoring(cloud)
    cloud.upload("scoring/b2b.yaml", BROKEN)
    status = json.loads(cloud.read("scoring/b2b.status.json") or "{}")
    assert status["status"] == "invalid" and status["live"] is True
    assert [(p["line"], p["where"]) for p in status["problems"]] == [
        (9, "behaviour[0].frequency.once_per"),
        (13, "grade.thresholds"),
    ]
    assert "'soon' is not a duration" in status["problems"][0]["problem"]
    # the deployed model still scores
    bob = Person(cloud, "bob@example.com")
    bob.form("newsletter-signup", consent_newsletter="on")
    bob.page("https://example.com/pricing")
    assert bob.contact().score == 15
    assert cloud.errors == []


def test_what_a_visitor_did_before_identifying_counts_once_from_when_it_happened(
    cloud: LocalCloud,
) -> None:
    deploy_scoring(cloud)
    # Given a visitor who looks at prices and a case study before anyone knows who she is
    eve = Person(cloud, "eve@example.com")
    eve.page("https://example.com/pricing")  # +15 (once a day)
    eve.page("https://example.com/case-studies/globex")  # +8
    eve.page("https://example.com/docs/setup")  # nothing
    cloud.advance(timedelta(days=30))

    # When she downloads a guide a month later (the form joins her visits to her)
    eve.form("guide-download", first_name="Eve", guide="pricing", consent_marketing="on")

    # Then her earlier visits count, from when they happened: half of them, a half-life on
    contact = eve.contact()
    behaviour = explain_contact(contact, cloud.clock.now()).behaviour
    assert behaviour == pytest.approx(10 + (15 + 8) / 2)
    rules = [a.properties["rules"] for a in eve.activities("contact.score_changed")]
    assert sorted(r for rs in rules for r in rs) == ["case-study", "guide-download", "pricing"]

    # and a retry of the identification (or a second sign-up) counts none of them again
    eve.form("newsletter-signup", consent_newsletter="on")
    cloud.advance(timedelta(days=1))
    assert len(eve.activities("contact.score_changed")) == 3
    assert cloud.errors == []
