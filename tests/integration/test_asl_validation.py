"""Step Functions' definition checks on the local cloud, as AWS makes them: the local cloud
answers ValidateStateMachineDefinition and refuses (InvalidDefinition) what AWS's own ASL
validation fails; the deploy function validates before it publishes, reports a refusal at the
program's line and keeps the live version; program machines log errors and are traced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

import nurture.programs.deploy as deploy_module
from localcloud import LocalCloud
from localcloud.constants import ACCOUNT, REGION

pytestmark = pytest.mark.integration

ROLE = f"arn:aws:iam::{ACCOUNT}:role/nurture-ProgramRole"
GOOD = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
# "C" is referenced by no state: AWS refuses the definition.
UNREACHABLE = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Succeed"},
        "C": {"Type": "Succeed"},
    },
}
PROGRAM = """\
id: greet
name: Greet
trigger: {form: newsletter-signup}
steps:
  - {id: hello, type: send_email, template: welcome-1, topic: newsletter, purpose: service}
  - {id: pause, type: wait, duration: 2 days}
  - {id: again, type: send_email, template: welcome-2a, topic: newsletter, purpose: service}
"""


@pytest.fixture
def local() -> Iterator[LocalCloud]:
    cloud = LocalCloud().start()
    try:
        cloud.sync_content(only=[])
        yield cloud
    finally:
        cloud.__exit__()


def machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def status(cloud: LocalCloud, program_id: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cloud.read(f"programs/{program_id}.status.json") or "{}")
    return result


def test_validate_state_machine_definition_answers_as_aws(local: LocalCloud) -> None:
    sfn = local.client("stepfunctions")
    ok = sfn.validate_state_machine_definition(definition=json.dumps(GOOD), type="STANDARD")
    assert ok["result"] == "OK" and ok["diagnostics"] == []

    failed = sfn.validate_state_machine_definition(definition=json.dumps(UNREACHABLE))
    assert failed["result"] == "FAIL"
    assert failed["truncated"] is False
    (diagnostic,) = failed["diagnostics"]
    assert diagnostic["severity"] == "ERROR"
    assert diagnostic["location"] == "/States/C"
    assert "cannot be reached" in diagnostic["message"]

    missing = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    answer = sfn.validate_state_machine_definition(definition=json.dumps(missing))
    codes = {(d["code"], d["location"]) for d in answer["diagnostics"]}
    assert ("MISSING_TRANSITION_TARGET", "/States/A/Next") in codes
    assert ("MISSING_END_STATE", "/States") in codes

    syntax = sfn.validate_state_machine_definition(definition='{"StartAt": "A",}')
    assert syntax["result"] == "FAIL"
    assert {d["code"] for d in syntax["diagnostics"]} == {"INVALID_JSON_DESCRIPTION"}


def test_create_and_update_refuse_what_aws_refuses(local: LocalCloud) -> None:
    sfn = local.client("stepfunctions")
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(name="bad", definition=json.dumps(UNREACHABLE), roleArn=ROLE)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert "/States/C" in error["Message"]
    with pytest.raises(ClientError):
        sfn.describe_state_machine(stateMachineArn=machine_arn("bad"))  # nothing was created

    arn = sfn.create_state_machine(name="good", definition=json.dumps(GOOD), roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError) as refused:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(UNREACHABLE))
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == GOOD


def test_program_machines_log_errors_without_data_and_are_traced(local: LocalCloud) -> None:
    local.upload("programs/greet.yaml", PROGRAM)
    assert status(local, "greet")["status"] == "live"
    sfn, logs = local.client("stepfunctions"), local.client("logs")
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn("nurture-program-greet"))
    group = local.resolver.refs["ProgramLogGroup"]
    assert machine["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": False,
        "destinations": [
            {
                "cloudWatchLogsLogGroup": {
                    "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
                }
            }
        ],
    }
    assert machine["tracingConfiguration"] == {"enabled": True}
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] > 0


def test_deploy_reports_a_refused_definition_at_the_program_line(
    local: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.upload("programs/greet.yaml", PROGRAM)
    first = status(local, "greet")
    assert first["status"] == "live" and first["version"] == "1"
    sfn = local.client("stepfunctions")
    live_definition = sfn.describe_state_machine(
        stateMachineArn=machine_arn("nurture-program-greet")
    )["definition"]

    # A compiler bug, forced: the pause step gets a helper state nothing goes to.
    real_compile = deploy_module.compile_program

    def compile_with_orphan(program: Any, steps_arn: str, **options: Any) -> Any:
        compiled = real_compile(program, steps_arn, **options)
        compiled.definition["States"]["pause: orphan"] = {"Type": "Succeed"}
        return compiled

    monkeypatch.setattr(deploy_module, "compile_program", compile_with_orphan)
    local.upload("programs/greet.yaml", PROGRAM.replace("2 days", "3 days"))

    report = status(local, "greet")
    assert report["status"] == "invalid"
    assert report["live_version"] == "1"
    (problem,) = report["problems"]
    assert problem["step"] == "pause"
    assert problem["line"] == 6  # the pause step's line in the file
    assert "Step Functions refuses" in problem["problem"]
    assert "/States/pause: orphan" in problem["problem"]
    # Nothing was published: the live alias and the machine are as they were.
    alias = sfn.describe_state_machine_alias(
        stateMachineAliasArn=machine_arn("nurture-program-greet") + ":live"
    )
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"].endswith(":1")
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn("nurture-program-greet"))
    assert machine["definition"] == live_definition
