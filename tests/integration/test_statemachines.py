"""Fixed workflows (`statemachines/*.asl.json`, `AWS::Serverless::StateMachine` in the
template): the local cloud fills DefinitionSubstitutions through the template's resolver,
creates the machine through Step Functions' API (so AWS's ASL validation refuses what AWS
would) and runs it on virtual time. Every shipped workflow passes the validator."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.asl_validation import validate_definition
from localcloud.cloud import ROOT
from localcloud.statemachines import TemplateError, definition_text
from localcloud.template import load_template

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statemachines"
SUBSTITUTIONS = {
    "StateTableName": {"Ref": "StateTable"},
    "StepsFunctionArn": {"Fn::GetAtt": ["StepsFunction", "Arn"]},
}


def fixture_root(tmp_path: Path, workflow: str) -> Path:
    """A copy of the repository's layout whose template adds one fixed workflow."""
    for name in ("functions", "forms", "templates", "programs", "layers"):
        (tmp_path / name).symlink_to(ROOT / name)
    # The template keeps its CloudFormation tags: add the resource as text.
    resource = {
        "FixtureWorkflow": {
            "Type": "AWS::Serverless::StateMachine",
            "Properties": {
                "Name": "nurture-fixture",
                "DefinitionUri": os.path.relpath(FIXTURES / workflow, tmp_path),
                "DefinitionSubstitutions": SUBSTITUTIONS,
                "Tracing": {"Enabled": True},
            },
        }
    }
    text = (ROOT / "template.yaml").read_text()
    head, marker, rest = text.partition("\nResources:\n")
    added = yaml.safe_dump(resource, sort_keys=False)
    indented = "".join(f"  {line}\n" for line in added.splitlines())
    (tmp_path / "template.yaml").write_text(head + marker + indented + rest)
    return tmp_path


@pytest.fixture
def fixture_cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(root=fixture_root(tmp_path, "fixture.asl.json")).start()
    try:
        yield cloud
    finally:
        cloud.__exit__()


def test_a_fixed_workflow_is_provisioned_with_its_substitutions_and_runs(
    fixture_cloud: LocalCloud,
) -> None:
    arn = fixture_cloud.state_machines["FixtureWorkflow"]
    sfn = fixture_cloud.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    assert machine["name"] == "nurture-fixture"
    assert machine["tracingConfiguration"] == {"enabled": True}
    definition = json.loads(machine["definition"])
    parameters = definition["States"]["Note the table"]["Parameters"]
    assert parameters["table"] == fixture_cloud.resolver.refs["StateTable"]
    assert parameters["steps"] == fixture_cloud.functions["StepsFunction"].arn
    assert validate_definition(machine["definition"])["result"] == "OK"

    run = sfn.start_execution(stateMachineArn=arn, name="first", input="{}")["executionArn"]
    fixture_cloud.advance(timedelta(minutes=30))
    assert sfn.describe_execution(executionArn=run)["status"] == "RUNNING"  # in its Wait
    fixture_cloud.advance(timedelta(hours=1))
    done = sfn.describe_execution(executionArn=run)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["run"] == "first"


def test_a_fixed_workflow_aws_would_refuse_stops_the_local_cloud(tmp_path: Path) -> None:
    cloud = LocalCloud(root=fixture_root(tmp_path, "unreachable.asl.json"))
    with pytest.raises(ClientError) as refused:
        cloud.start()
    try:
        assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
        assert "/States/Forgotten" in refused.value.response["Error"]["Message"]
    finally:
        cloud.__exit__()


def test_a_placeholder_without_a_substitution_is_named() -> None:
    class Resolver:
        def resolve(self, value: Any) -> Any:
            return value

    props = {
        "DefinitionUri": str(FIXTURES / "fixture.asl.json"),
        "DefinitionSubstitutions": {"StateTableName": "t"},
    }
    with pytest.raises(TemplateError, match="StepsFunctionArn"):
        definition_text(ROOT, "FixtureWorkflow", props, Resolver())  # type: ignore[arg-type]


def test_every_shipped_workflow_passes_aws_validation() -> None:
    """Each statemachines/*.asl.json belongs to a template resource, and with its
    substitutions filled (as the local cloud provisions it) passes the validator."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    used = {
        (ROOT / res["Properties"]["DefinitionUri"]).resolve()
        for res in resources.values()
        if res["Type"] == "AWS::Serverless::StateMachine"
        and isinstance(res["Properties"].get("DefinitionUri"), str)
    }
    shipped = {p.resolve() for p in (ROOT / "statemachines").glob("*.asl.json")}
    assert shipped <= used, f"not in template.yaml: {sorted(map(str, shipped - used))}"
    if not used:
        return  # no fixed workflow yet; the fixture tests above cover the machinery
    cloud = LocalCloud().start()  # provisioning validates; check again, explicitly
    try:
        sfn = cloud.client("stepfunctions")
        for logical, arn in cloud.state_machines.items():
            text = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
            answer = validate_definition(text)
            assert answer["result"] == "OK", (logical, answer["diagnostics"])
    finally:
        cloud.__exit__()
