"""The admin API after a scripted journey on the local cloud: five people sign up through the
public form (double opt-in), the welcome program and a task program run, one complains, one
bounces, and days pass. Each route's answer is compared with what the tables hold (read
here directly, as an auditor would), not with figures written into the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from admin_helpers import admin

from localcloud import LocalCloud
from nurture.adapters.dynamodb import DynamoContacts
from nurture.contacts import Contact
from tests.integration.signup import marketing, sign_up

pytestmark = pytest.mark.integration

CALL_TASK = """\
id: call-task
name: Call each new subscriber
trigger: {event: consent.confirmed, where: {form: newsletter-signup}}
steps:
  - {id: call, type: create_task, assignee: sam@example.com, title: Call the new subscriber, due: 2 days}
"""
PEOPLE = [
    # email, first, last, stage, grade, score, tags, account
    ("ada@example.com", "Ada", "Lovelace", "lead", "A", 80, ["vip", "math"], "acme"),
    ("alan@example.com", "Alan", "Turing", "lead", "B", 55, ["math"], "acme"),
    ("grace@example.com", "Grace", "Hopper", "mql", "A", 95, ["navy"], None),
    ("kay@example.com", "Alan", "Kay", "subscriber", "C", 20, [], "parc"),
    ("barbara@example.com", "Barbara", "Liskov", "subscriber", None, 5, ["vip"], None),
]


def _profile_setup(person: tuple[Any, ...]) -> Any:
    _, _, last, stage, grade, score, tags, account = person

    def change(contact: Contact) -> dict[str, Any]:
        contact.last_name, contact.stage, contact.grade = last, stage, grade
        contact.score, contact.tags, contact.account_id = score, tags, account
        return {"setup": True}

    return change


@pytest.fixture(scope="module")
def journey() -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    cloud = LocalCloud(frequent_schedules=False).start()
    try:
        cloud.sync_content(only=["welcome"])
        cloud.upload("programs/call-task.yaml", CALL_TASK)
        ids: dict[str, str] = {}
        contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
        for i, person in enumerate(PEOPLE):
            email, first = person[0], person[1]
            sign_up(
                cloud,
                {
                    "email": email,
                    "first_name": first,
                    "consent_newsletter": True,
                    "anonymousId": f"a{i}",
                },
            )
            found = contacts.contact_for_actor(f"email:{email}")
            assert found
            ids[email] = found
            # what scoring, sales and a group call would have set: through the contact store
            contacts.apply_once(found, "admin-test-setup", _profile_setup(person))
        cloud.advance(timedelta(hours=2))
        sent = {e.to[0]: e for e in marketing(cloud)}
        cloud.ses_event(
            sent["ada@example.com"],
            "Complaint",
            {
                "complainedRecipients": [{"emailAddress": "ada@example.com"}],
                "complaintFeedbackType": "abuse",
            },
        )
        cloud.ses_event(
            sent["alan@example.com"],
            "Bounce",
            {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": "alan@example.com"}],
            },
        )
        cloud.run_until_idle()
        cloud.advance(timedelta(days=4))  # the click waits time out; the runs finish
        yield cloud, ids
    finally:
        cloud.__exit__()


def _items(cloud: LocalCloud, table: str) -> list[dict[str, Any]]:
    db = cloud.client("dynamodb")
    out = []
    for page in db.get_paginator("scan").paginate(TableName=cloud.resolver.refs[table]):
        out.extend(page["Items"])
    return out


def _profiles(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    return {
        i["pk"]["S"].removeprefix("CONTACT#"): json.loads(i["doc"]["S"])
        for i in _items(cloud, "ContactsTable")
        if i["pk"]["S"].startswith("CONTACT#") and i["sk"]["S"] == "PROFILE"
    }


def _search_all(cloud: LocalCloud, body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        status, page = admin(
            cloud, "POST", "/admin/contacts/search", {**body, "cursor": cursor} if cursor else body
        )
        assert status == 200, page
        assert len(page["contacts"]) <= body.get("limit", 25)
        found += page["contacts"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the search never ended")


def test_search_finds_exactly_what_the_table_holds(
    journey: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, ids = journey
    profiles = _profiles(cloud)

    def expected(check: Any) -> set[str]:
        return {cid for cid, p in profiles.items() if check(p)}

    status, page = admin(cloud, "POST", "/admin/contacts/search", {"email": " ADA@example.com "})
    assert status == 200 and [c["contact_id"] for c in page["contacts"]] == [ids["ada@example.com"]]
    ada = page["contacts"][0]
    assert ada["name"] == "Ada Lovelace" and ada["grade"] == "A" and ada["score"] == 80
    assert ada["tags"] == ["vip", "math"] and ada["account_id"] == "acme"

    cases = [
        ({"stage": "lead"}, lambda p: p["stage"] == "lead"),
        ({"stage": "subscriber", "limit": 1}, lambda p: p["stage"] == "subscriber"),
        ({"grade": "A"}, lambda p: p.get("grade") == "A"),
        ({"grade": "A", "score_min": 90}, lambda p: p.get("grade") == "A" and p["score"] >= 90),
        ({"score_min": 20, "score_max": 80, "limit": 2}, lambda p: 20 <= p["score"] <= 80),
        ({"tag": "vip", "limit": 1}, lambda p: "vip" in p["tags"]),
        (
            {"account": "acme", "tag": "math"},
            lambda p: p.get("account_id") == "acme" and "math" in p["tags"],
        ),
        ({"name": "al"}, lambda p: (p.get("first_name") or "").lower().startswith("al")),
        (
            {"name": "Alan T"},
            lambda p: p.get("first_name") == "Alan" and p.get("last_name") == "Turing",
        ),
        ({}, lambda p: True),
    ]
    for body, check in cases:
        found = _search_all(cloud, body)
        got = [c["contact_id"] for c in found]
        assert len(got) == len(set(got)), body  # no contact twice across pages
        assert set(got) == expected(check), body
        for c in found:  # each row is the profile as stored
            p = profiles[c["contact_id"]]
            assert (c["email"], c["stage"], c["score"]) == (p["email"], p["stage"], p["score"])
    # within one index (a stage), highest score first
    leads = _search_all(cloud, {"stage": "lead"})
    assert [c["score"] for c in leads] == sorted((c["score"] for c in leads), reverse=True)


def test_search_refuses_bad_criteria_with_the_field(
    journey: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, _ = journey
    for body, field in [
        ({"stage": "champion"}, "stage"),
        ({"grade": "Z"}, "grade"),
        ({"limit": 101}, "limit"),
        ({"name": "a"}, "name"),
        ({"score_min": 5, "score_max": 1}, "body"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"unknown": 1}, "unknown"),
        ([1, 2], "body"),
    ]:
        status, answer = admin(cloud, "POST", "/admin/contacts/search", body)
        assert status == 400, (body, answer)
        assert answer["field"] == field, (body, answer)
    # a cursor from a stage search is refused by a grade search
    _, page = admin(cloud, "POST", "/admin/contacts/search", {"stage": "subscriber", "limit": 1})
    status, answer = admin(
        cloud, "POST", "/admin/contacts/search", {"grade": "A", "cursor": page["next_cursor"]}
    )
    assert status == 400 and answer["field"] == "cursor"


def test_a_contacts_profile_matches_the_tables(journey: tuple[LocalCloud, dict[str, str]]) -> None:
    cloud, ids = journey
    ada = ids["ada@example.com"]
    status, page = admin(cloud, "GET", f"/admin/contacts/{ada}")
    assert status == 200, page
    stored = _profiles(cloud)[ada]
    assert page["contact"]["email"] == "ada@example.com"
    assert f"contact:{ada}" in page["identities"] and "email:ada@example.com" in page["identities"]
    [consent] = page["consents"]
    held = stored["consent"]["email:newsletter"]
    assert (consent["status"], consent["source"], consent["wording"], consent["at"]) == (
        held["status"],
        held["source"],
        held["text"],
        held["at"],
    )
    assert consent["proof"]["activity"]["name"] == "consent.confirmed"
    # the complaint suppressed her address, with its reason and time
    assert page["suppression"]["suppressed"] is True
    assert page["suppression"]["reason"] == "complaint"
    assert page["suppression"]["at"] == stored["suppressed"]["email"]["at"]
    assert page["scores"]["score"] == 80 and page["scores"]["grade"] == "A"
    # runs: one per enrolment item, with the execution's status from Step Functions
    enrolments = [i for i in _items(cloud, "StateTable") if i["pk"]["S"] == f"ENROL#{ada}"]
    assert {r["program_id"] for r in page["runs"]} == {
        i["sk"]["S"].removeprefix("PROGRAM#") for i in enrolments
    }
    sfn = cloud.client("stepfunctions")
    for run in page["runs"]:
        item = next(i for i in enrolments if i["sk"]["S"] == f"PROGRAM#{run['program_id']}")
        assert run["execution_name"] == item["execution"]["S"]
        if run["status"] in ("running", "finished", "stopped"):
            status_now = sfn.describe_execution(executionArn=item["execution_arn"]["S"])["status"]
            assert (
                run["status"]
                == {"RUNNING": "running", "SUCCEEDED": "finished", "ABORTED": "stopped"}[status_now]
            )
    # the task the call-task program made for her
    tasks = [
        json.loads(i["doc"]["S"])
        for i in _items(cloud, "StateTable")
        if i["pk"]["S"] == "TASKS#sam@example.com"
    ]
    assert [t["task_id"] for t in page["tasks"]] == [
        t["task_id"] for t in tasks if t["contact_id"] == ada
    ]
    status, answer = admin(cloud, "GET", "/admin/contacts/no-such-contact")
    assert status == 404 and answer["field"] == "contact_id"


def test_the_timeline_pages_through_every_activity_once_newest_first(
    journey: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, ids = journey
    ada = ids["ada@example.com"]
    stored = Contact.model_validate(_profiles(cloud)[ada])
    actors = {*stored.actors, f"contact:{ada}"}
    docs = [
        json.loads(i["doc"]["S"])
        for i in _items(cloud, "ActivitiesTable")
        if i["pk"]["S"] in actors
    ]
    # newest first by time, then message id (whatever the table's key shape)
    held = sorted((f"{d['occurred_at']}#{d['message_id']}" for d in docs), reverse=True)
    assert len(held) > 8
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        path = f"/admin/contacts/{ada}/timeline?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = admin(cloud, "GET", path)
        assert status == 200, page
        assert len(page["activities"]) <= 3
        seen += page["activities"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert "@" not in cursor and "ada" not in cursor.lower()
    assert len(seen) == len(held)
    assert [a["at"] for a in seen] == [sk.split("#", 1)[0] for sk in held]
    assert sorted(a["name"] for a in seen) == sorted(d["name"] for d in docs)


def test_programs_list_and_detail_count_what_the_activity_table_holds(
    journey: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, _ = journey
    acts = [json.loads(i["doc"]["S"]) for i in _items(cloud, "ActivitiesTable")]

    def runs(name: str, program: str, **where: str) -> set[str]:
        return {
            a["properties"]["execution"]
            for a in acts
            if a["name"] == name
            and a["properties"].get("program_id") == program
            and all(a["properties"].get(k) == v for k, v in where.items())
        }

    status, listed = admin(cloud, "GET", "/admin/programs")
    assert status == 200, listed
    by_id = {p["program_id"]: p for p in listed["programs"]}
    assert set(by_id) == {"welcome", "call-task"}
    for program_id, row in by_id.items():
        record = next(
            i for i in _items(cloud, "StateTable") if i["pk"]["S"] == f"PROGRAM#{program_id}"
        )
        assert row["version"] == json.loads(record["doc"]["S"])["version"]
        assert row["status"] == "active"
        entered = runs("program.entered", program_id)
        exited = runs("program.exited", program_id)
        assert row["counts"]["entered"] == len(entered) == 5
        assert row["counts"]["exited"] == len(exited)
        assert row["counts"]["completed"] == len(
            runs("program.exited", program_id, reason="finished")
        )
        assert row["counts"]["running"] == len(entered - exited)
    status, detail = admin(cloud, "GET", "/admin/programs/welcome")
    assert status == 200, detail
    # the graph is the deployed state machine: its states, its transitions
    record = json.loads(
        next(i for i in _items(cloud, "StateTable") if i["pk"]["S"] == "PROGRAM#welcome")["doc"][
            "S"
        ]
    )
    version_arn = record["alias_arn"].rsplit(":", 1)[0] + ":" + record["version"]
    deployed = json.loads(
        cloud.client("stepfunctions").describe_state_machine(stateMachineArn=version_arn)[
            "definition"
        ]
    )
    assert [n["id"] for n in detail["graph"]["nodes"]] == list(deployed["States"])
    assert detail["graph"]["start"] == deployed["StartAt"]
    for edge in detail["graph"]["edges"]:
        state = deployed["States"][edge["from"]]
        targets = [state.get("Next"), state.get("Default")] + [
            c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])
        ]
        assert edge["to"] in targets
    # node counts and the funnel: runs that reached each step, emails each step sent
    sends = [e for e in marketing(cloud) if e.tags.get("program_id") == "welcome"]
    nodes = {n["id"]: n for n in detail["graph"]["nodes"]}
    funnel = {f["step"]: f for f in detail["funnel"]}
    for step in ("welcome-1", "welcome-2a", "welcome-2b"):
        reached = {
            a["properties"]["execution"]
            for a in acts
            if a["properties"].get("program_id") == "welcome"
            and a["properties"].get("step_id") == step
            and a["properties"].get("execution")
        }
        assert nodes[step]["count"] == funnel[step]["entered"] == len(reached)
        assert funnel[step]["sent"] == sum(1 for e in sends if e.tags.get("step_id") == step)
    assert funnel["welcome-1"]["sent"] >= 4  # every consenting person but a suppressed one
    assert [v["version"] for v in detail["versions"]] == [record["version"]]
    entries = runs("program.entered", "welcome")
    assert len(detail["recent"]["entries"]) == len(entries)
    assert len(detail["recent"]["exits"]) == len(runs("program.exited", "welcome"))
    assert detail["ab"] == []  # welcome has no split
    status, answer = admin(cloud, "GET", "/admin/programs/nope")
    assert status == 404
    status, answer = admin(cloud, "GET", "/admin/programs/welcome?since=2026-13-01")
    assert status == 400 and answer["field"] == "since"


def test_tasks_are_listed_by_assignee_and_status_and_completed(
    journey: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, ids = journey
    held = [
        json.loads(i["doc"]["S"])
        for i in _items(cloud, "StateTable")
        if i["pk"]["S"] == "TASKS#sam@example.com"
    ]
    assert len(held) == 5
    status, page = admin(cloud, "GET", "/admin/tasks?assignee=sam@example.com&status=open")
    assert status == 200
    assert sorted(t["task_id"] for t in page["tasks"]) == sorted(
        t["task_id"] for t in held if t["status"] == "open"
    )
    task = page["tasks"][0]
    status, answer = admin(
        cloud, "POST", f"/admin/tasks/{task['task_id']}/complete", {"assignee": "sam@example.com"}
    )
    assert (status, answer) == (200, {"task_id": task["task_id"], "status": "done"})
    item = next(i for i in _items(cloud, "StateTable") if i["sk"]["S"] == f"TASK#{task['task_id']}")
    assert json.loads(item["doc"]["S"])["status"] == "done"
    done = [json.loads(i["doc"]["S"]) for i in _items(cloud, "ActivitiesTable")]
    assert any(
        a["name"] == "task.completed" and a["properties"]["task_id"] == task["task_id"]
        for a in done
    )
    status, page = admin(cloud, "GET", "/admin/tasks?assignee=sam@example.com&status=done")
    assert [t["task_id"] for t in page["tasks"]] == [task["task_id"]]
    # again: still done, one activity
    status, _ = admin(
        cloud, "POST", f"/admin/tasks/{task['task_id']}/complete", {"assignee": "sam@example.com"}
    )
    assert status == 200
    status, answer = admin(
        cloud, "POST", "/admin/tasks/nope/complete", {"assignee": "sam@example.com"}
    )
    assert status == 404
    status, answer = admin(cloud, "GET", "/admin/tasks?status=late")
    assert status == 400 and answer["field"] == "status"


def test_suppressions_are_listed_and_lifted_with_a_reason(
    journey: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, ids = journey
    held = {
        i["pk"]["S"]: json.loads(i["doc"]["S"])
        for i in _items(cloud, "StateTable")
        if i["pk"]["S"].startswith("SUPPRESS#email#")
    }
    status, page = admin(cloud, "GET", "/admin/suppressions?channel=email")
    assert status == 200, page
    listed = {s["address"]: s for s in page["suppressions"]}
    assert set(listed) == {"ada@example.com", "alan@example.com"} and len(held) == 2
    assert {(s["reason"], s["at"]) for s in listed.values()} == {
        (d["reason"], d["at"]) for d in held.values()
    }
    complaint, bounce = listed["ada@example.com"], listed["alan@example.com"]
    assert complaint["reason"] == "complaint" and bounce["reason"] == "hard_bounce"
    assert "@" not in complaint["suppression_id"]
    lift = "/admin/suppressions/lift"
    status, answer = admin(cloud, "POST", lift, {"suppression_id": bounce["suppression_id"]})
    assert status == 400 and answer["field"] == "reason"
    status, answer = admin(
        cloud,
        "POST",
        lift,
        {"suppression_id": complaint["suppression_id"], "reason": "asked us by phone"},
    )
    assert status == 409 and answer["field"] == "override_complaint"
    status, answer = admin(
        cloud,
        "POST",
        lift,
        {
            "suppression_id": complaint["suppression_id"],
            "reason": "asked us by phone",
            "override_complaint": True,
        },
    )
    assert status == 200 and answer["lifted"] is True
    ada = ids["ada@example.com"]
    assert "email" not in _profiles(cloud)[ada]["suppressed"]
    assert not [
        k
        for k in _items(cloud, "StateTable")
        if k["pk"]["S"] in held and "complaint" in k["doc"]["S"]
    ]
    acts = [json.loads(i["doc"]["S"]) for i in _items(cloud, "ActivitiesTable")]
    [recorded] = [a for a in acts if a["name"] == "contact.unsuppressed" and a["contact_id"] == ada]
    assert recorded["properties"]["reason"] == "asked us by phone"
    assert recorded["properties"]["previous_reason"] == "complaint"
    audits = [
        json.loads(i["doc"]["S"])
        for i in _items(cloud, "StateTable")
        if i["pk"]["S"] == "AUDIT#suppression-lift"
    ]
    assert len(audits) == 1 and "ada@" not in json.dumps(audits)
    status, _ = admin(
        cloud,
        "POST",
        lift,
        {
            "suppression_id": complaint["suppression_id"],
            "reason": "again",
            "override_complaint": True,
        },
    )
    assert status == 404
    # an erased person is listed but cannot be lifted
    status, _ = admin(cloud, "POST", "/admin/privacy/erase", {"email": "barbara@example.com"})
    assert status == 200
    status, page = admin(cloud, "GET", "/admin/suppressions?channel=email")
    erased = [s for s in page["suppressions"] if s["reason"] == "erased"]
    assert len(erased) == 1 and erased[0]["address"] is None and erased[0]["liftable"] is False
    status, answer = admin(
        cloud,
        "POST",
        lift,
        {
            "suppression_id": erased[0]["suppression_id"],
            "reason": "mistake",
            "override_complaint": True,
        },
    )
    assert status == 409 and answer["field"] == "suppression_id"
    status, answer = admin(cloud, "GET", "/admin/suppressions?channel=fax")
    assert status == 400 and answer["field"] == "channel"
