"""Deploying programs on the local cloud: invalid files never replace the live version and
are reported with line numbers; running contacts finish on their version; waits of years
resume through EventBridge Scheduler; paused and archived programs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.integration.signup import marketing
from tests.integration.signup import sign_up as sign_up_and_confirm

pytestmark = pytest.mark.integration

# Both start as the shipped welcome program does: when a newsletter sign-up is confirmed
# (the form has double opt-in; its newsletter consent counts from then).
REPURCHASE = """\
id: repurchase
name: Repurchase cycle
trigger: {event: consent.confirmed, where: {form: newsletter-signup}}
steps:
  - {id: thanks, type: send_email, template: welcome-1, topic: newsletter}
  - {id: cycle, type: wait, duration: 4 years}
  - {id: renew, type: send_email, template: welcome-2a, topic: newsletter}
"""

SLOW = """\
id: slow
name: Slow
trigger: {event: consent.confirmed, where: {form: newsletter-signup}}
steps:
  - {id: hello, type: send_email, template: welcome-1, topic: newsletter}
  - {id: pause, type: wait, duration: 10 days}
  - {id: later, type: send_email, template: TEMPLATE, topic: newsletter}
"""


@pytest.fixture
def local() -> Iterator[LocalCloud]:
    cloud = LocalCloud(frequent_schedules=False).start()
    try:
        cloud.sync_content(only=[])  # forms and templates; each test uploads its programs
        yield cloud
    finally:
        cloud.__exit__()


def status(cloud: LocalCloud, program_id: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cloud.read(f"programs/{program_id}.status.json") or "{}")
    return result


def sign_up(cloud: LocalCloud, email: str = "ada@example.com") -> None:
    body = {"email": email, "first_name": "Ada", "consent_newsletter": True, "anonymousId": "v-1"}
    sign_up_and_confirm(cloud, body)


def alias_version(cloud: LocalCloud, program_id: str) -> str:
    sfn = cloud.client("stepfunctions")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:nurture-program-{program_id}:live"
    routing = sfn.describe_state_machine_alias(stateMachineAliasArn=arn)["routingConfiguration"]
    return str(routing[0]["stateMachineVersionArn"].rsplit(":", 1)[-1])


def test_an_invalid_file_is_reported_with_lines_and_the_live_version_stays(
    local: LocalCloud,
) -> None:
    local.upload("programs/slow.yaml", SLOW.replace("TEMPLATE", "welcome-2a"))
    assert status(local, "slow")["status"] == "live"
    assert alias_version(local, "slow") == "1"

    broken = (
        SLOW.replace("TEMPLATE", "welcome-2a").replace(
            "type: wait, duration: 10 days", "type: wait, duration: 10 days, next: nowhere"
        )
        + "  - {id: x, type: teleport}\n"
    )
    local.upload("programs/slow.yaml", broken)
    report = status(local, "slow")
    assert report["status"] == "invalid"
    assert report["live_version"] == "1"
    problems = {p["where"]: p for p in report["problems"]}
    assert problems["steps[3] (x)"]["line"] == 8
    assert "unknown step type 'teleport'" in problems["steps[3] (x)"]["problem"]
    assert alias_version(local, "slow") == "1"  # nothing was published

    local.upload("programs/slow.yaml", SLOW.replace("TEMPLATE", "nope"))
    report = status(local, "slow")
    assert report["problems"] == [
        {
            "where": "steps[2] (later).template",
            "line": 7,
            "column": 35,
            "step": "later",
            "problem": "email template 'nope' not found at templates/email/nope.yaml",
        }
    ]
    # The live version still runs for new contacts.
    sign_up(local)
    local.advance(timedelta(days=11))
    assert [e.tags["step_id"] for e in marketing(local)] == ["hello", "later"]
    assert local.errors == []


def test_running_contacts_finish_on_the_version_they_started_on(local: LocalCloud) -> None:
    local.upload("programs/slow.yaml", SLOW.replace("TEMPLATE", "welcome-2a"))
    sign_up(local)
    local.advance(timedelta(days=1))
    local.upload("programs/slow.yaml", SLOW.replace("TEMPLATE", "welcome-2b"))
    assert status(local, "slow")["version"] == "2"
    local.advance(timedelta(days=10))
    subjects = {e.tags["step_id"]: e.subject for e in marketing(local)}
    assert subjects["later"] == "Glad you liked it - here is the next step"  # welcome-2a, v1
    assert local.errors == []


def test_a_four_year_wait_resumes_through_a_one_time_schedule(local: LocalCloud) -> None:
    local.upload("programs/repurchase.yaml", REPURCHASE)
    report = status(local, "repurchase")
    assert report["status"] == "live" and report["resume_points"] == ["renew"]
    sign_up(local)
    scheduler = local.client("scheduler")
    group = local.resolver.refs["ResumeScheduleGroup"]
    pending = scheduler.list_schedules(GroupName=group)["Schedules"]
    assert [s["Name"].split(".")[0] for s in pending] == ["repurchase"]
    detail = scheduler.get_schedule(Name=pending[0]["Name"], GroupName=group)
    assert detail["ScheduleExpression"] == "at(2030-01-04T09:00:00)"
    assert detail["ActionAfterCompletion"] == "DELETE"
    # resumed runs go to the resume machine (they enter through "resume?"; fresh runs
    # start at the first step): the version published with this program version
    # Scheduler's universal target StartExecution, so the resumed run has the name the step
    # chose (a goal or an erase finds and stops it; a retried delivery is the same run)
    assert detail["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
    call = json.loads(detail["Target"]["Input"])
    assert call["StateMachineArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:stateMachine:nurture-program-repurchase_resume:"
    )
    assert call["Name"].startswith("repurchase-r") and "--" in call["Name"]
    execution_input = json.loads(call["Input"])
    assert execution_input["resume_at"] == "renew"
    assert execution_input["program_id"] == "repurchase"
    assert execution_input["run"]  # the first execution of this run

    local.advance(timedelta(days=365 * 4 - 1))
    assert [e.tags["step_id"] for e in marketing(local)] == ["thanks"]
    local.advance(timedelta(days=2))
    sent = [(e.tags["step_id"], e.sent_at.date().isoformat()) for e in marketing(local)]
    assert sent == [("thanks", "2026-01-05"), ("renew", "2030-01-04")]
    resumed = local.client("stepfunctions").describe_execution(
        executionArn=call["StateMachineArn"]
        .replace(":stateMachine:", ":execution:", 1)
        .rsplit(":", 1)[0]
        + ":"
        + call["Name"]
    )
    assert resumed["name"] == call["Name"]
    assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
    assert any("paused for a long wait" in t.what for t in local.timeline)
    assert local.errors == []


def test_archiving_stops_running_contacts_and_their_resumes(local: LocalCloud) -> None:
    local.upload("programs/repurchase.yaml", REPURCHASE)
    local.upload("programs/slow.yaml", SLOW.replace("TEMPLATE", "welcome-2a"))
    sign_up(local)
    sfn = local.client("stepfunctions")
    slow_arn = status(local, "slow")["alias_arn"].rsplit(":", 1)[0]
    running = sfn.list_executions(stateMachineArn=slow_arn, statusFilter="RUNNING")["executions"]
    assert len(running) == 1

    local.upload(
        "programs/slow.yaml", SLOW.replace("TEMPLATE", "welcome-2a") + "status: archived\n"
    )
    local.upload("programs/repurchase.yaml", REPURCHASE + "status: archived\n")
    assert status(local, "slow")["status"] == "archived"
    assert status(local, "slow")["stopped_runs"] == 1
    assert status(local, "repurchase")["cancelled_resumes"] == 1
    assert sfn.list_executions(stateMachineArn=slow_arn, statusFilter="RUNNING")["executions"] == []
    local.advance(timedelta(days=365 * 5))
    assert [e.tags["step_id"] for e in marketing(local)] == ["thanks", "hello"]


def test_paused_is_recorded_for_the_runtime(local: LocalCloud) -> None:
    local.upload("programs/slow.yaml", SLOW.replace("TEMPLATE", "welcome-2a") + "status: paused\n")
    report = status(local, "slow")
    assert report["status"] == "paused" and report["version"] == "1"
    from nurture.adapters.dynamodb import DynamoState

    record = DynamoState(local.client("dynamodb"), local.resolver.refs["StateTable"]).get_program(
        "slow"
    )
    assert record is not None and record.status == "paused"
    assert record.triggers == ["event:consent.confirmed"]
