"""Pause, resume and archive from the admin API, as the runtime honours them: a paused
program takes no new entries while its running contacts carry on to the end; resumed, it
takes entries again; archived, its running executions are stopped and nobody enters until
it is resumed. The runtime caches program records for up to a minute
(PROGRAM_CACHE_SECONDS), so each step lets two virtual minutes pass."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from admin_helpers import admin

from localcloud import LocalCloud
from nurture.runtime.react import PROGRAM_CACHE_SECONDS
from tests.integration.signup import marketing, sign_up

pytestmark = pytest.mark.integration


def _join(cloud: LocalCloud, email: str) -> None:
    sign_up(cloud, {"email": email, "first_name": "Pat", "consent_newsletter": True})


def _enrolment(cloud: LocalCloud, email: str) -> dict[str, Any] | None:
    db = cloud.client("dynamodb")
    actor = db.get_item(
        TableName=cloud.resolver.refs["ContactsTable"],
        Key={"pk": {"S": f"ACTOR#email:{email}"}, "sk": {"S": "CONTACT"}},
    )["Item"]
    item = db.get_item(
        TableName=cloud.resolver.refs["StateTable"],
        Key={"pk": {"S": f"ENROL#{actor['contact_id']['S']}"}, "sk": {"S": "PROGRAM#welcome"}},
    ).get("Item")
    return item


def _status(cloud: LocalCloud) -> str:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.resolver.refs["StateTable"],
        Key={"pk": {"S": "PROGRAM#welcome"}, "sk": {"S": "META"}},
    )["Item"]
    return str(json.loads(item["doc"]["S"])["status"])


def _triggers(cloud: LocalCloud) -> list[str]:
    db = cloud.client("dynamodb")
    items = db.scan(TableName=cloud.resolver.refs["StateTable"])["Items"]
    return [
        i["pk"]["S"]
        for i in items
        if i["sk"]["S"] == "PROGRAM#welcome" and i["pk"]["S"].startswith("TRIGGER#")
    ]


def _control(cloud: LocalCloud, action: str) -> dict[str, Any]:
    status, answer = admin(cloud, "POST", f"/admin/programs/welcome/{action}")
    assert status == 200, answer
    cloud.advance(timedelta(seconds=2 * PROGRAM_CACHE_SECONDS))
    return dict(answer)


def _sent_to(cloud: LocalCloud, email: str) -> list[str]:
    return [e.tags.get("step_id", "") for e in marketing(cloud) if e.to == [email]]


def test_pause_stops_entries_but_not_running_contacts_and_resume_lets_them_in(
    cloud: LocalCloud,
) -> None:
    cloud.sync_content(only=["welcome"])
    _join(cloud, "early@example.com")
    assert _enrolment(cloud, "early@example.com") is not None
    assert _control(cloud, "pause") == {"program_id": "welcome", "status": "paused"}
    assert _status(cloud) == "paused"
    _join(cloud, "paused@example.com")
    assert _enrolment(cloud, "paused@example.com") is None  # no entry while paused
    cloud.advance(timedelta(days=4))  # the early contact's run goes on: the timeout's email
    assert _sent_to(cloud, "early@example.com") == ["welcome-1", "welcome-2b"]
    assert _sent_to(cloud, "paused@example.com") == []
    status, listed = admin(cloud, "GET", "/admin/programs")
    assert listed["programs"][0]["status"] == "paused"
    assert _control(cloud, "resume") == {"program_id": "welcome", "status": "active"}
    _join(cloud, "later@example.com")
    assert _enrolment(cloud, "later@example.com") is not None
    assert _sent_to(cloud, "later@example.com") == ["welcome-1"]
    assert _sent_to(cloud, "paused@example.com") == []  # nothing missed is replayed


def test_archive_stops_running_executions_and_entries_until_resumed(cloud: LocalCloud) -> None:
    cloud.sync_content(only=["welcome"])
    _join(cloud, "runner@example.com")
    arn = _enrolment(cloud, "runner@example.com")["execution_arn"]["S"]  # type: ignore[index]
    sfn = cloud.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert _triggers(cloud)
    answer = _control(cloud, "archive")
    assert answer["status"] == "archived" and answer["stopped_runs"] == 1
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert _status(cloud) == "archived" and _triggers(cloud) == []
    _join(cloud, "after@example.com")
    assert _enrolment(cloud, "after@example.com") is None
    cloud.advance(timedelta(days=4))
    assert _sent_to(cloud, "runner@example.com") == ["welcome-1"]  # stopped: no follow-up
    # resumed: the triggers are back and new people enter; the stopped run stays stopped
    assert _control(cloud, "resume")["status"] == "active"
    assert _triggers(cloud)
    _join(cloud, "back@example.com")
    assert _enrolment(cloud, "back@example.com") is not None
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    status, answer = admin(cloud, "POST", "/admin/programs/nope/pause")
    assert status == 404
    status, answer = admin(cloud, "POST", "/admin/programs/NOT_AN_ID/pause")
    assert status == 400 and answer["field"] == "program_id"
