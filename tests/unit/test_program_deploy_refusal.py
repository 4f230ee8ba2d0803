"""deploy_program asks Step Functions to validate the compiled definition before it publishes:
a FAIL (or an InvalidDefinition on create/update) becomes a problem at the line of the step the
failing state comes from, nothing is published and the live version stays."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nurture.ports import DefinitionRefused, ProgramRecord
from nurture.programs.deploy import deploy_program

pytestmark = pytest.mark.unit

SOURCE = """\
id: greet
name: Greet
trigger: {form: signup}
steps:
  - id: hello
    type: send_email
    template: hello
    topic: newsletter
  - {id: pause, type: wait, duration: 2 days}
"""
TEMPLATE = 'subject: "Hi"\nhtml: "<p>Hi</p>"\ntext: "Hi"\n'


class Blobs:
    def __init__(self) -> None:
        self.files = {"programs/greet.yaml": SOURCE, "templates/email/hello.yaml": TEMPLATE}

    def get_text(self, key: str) -> str | None:
        return self.files.get(key)

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        self.files[key] = text


class State:
    def __init__(self) -> None:
        self.programs: dict[str, ProgramRecord] = {
            "greet": ProgramRecord("greet", "live", "arn:live", "3", [], {})
        }

    def get_program(self, program_id: str) -> ProgramRecord | None:
        return self.programs.get(program_id)

    def register_program(self, record: ProgramRecord) -> None:
        self.programs[record.program_id] = record


class Machines:
    def __init__(self, answer: dict[str, Any], refuse: str | None = None) -> None:
        self.answer, self.refuse = answer, refuse
        self.validated: list[dict[str, Any]] = []
        self.published: list[str] = []

    def validate(self, definition: dict[str, Any]) -> dict[str, Any]:
        self.validated.append(definition)
        return self.answer

    def publish(self, name: str, definition: dict[str, Any], description: str) -> tuple[str, str]:
        if self.refuse:
            raise DefinitionRefused(self.refuse)
        self.published.append(name)
        return "arn:new", "4"

    def stop_running(self, name: str, cause: str) -> int:
        return 0


def deploy(machines: Machines) -> tuple[dict[str, Any], State]:
    blobs, state = Blobs(), State()
    deploy_program("programs/greet.yaml", blobs, machines, state, "arn:steps")  # type: ignore[arg-type]
    return json.loads(blobs.files["programs/greet.status.json"]), state


def fail(location: str) -> dict[str, Any]:
    diagnostic = {
        "severity": "ERROR",
        "code": "SCHEMA_VALIDATION_FAILED",
        "message": "The state cannot be reached.",
        "location": location,
    }
    return {"result": "FAIL", "diagnostics": [diagnostic]}


def test_a_valid_definition_is_validated_then_published() -> None:
    machines = Machines({"result": "OK", "diagnostics": []})
    report, state = deploy(machines)
    assert report["status"] == "live" and report["version"] == "4"
    assert len(machines.validated) == 1 and machines.published == ["greet"]
    assert state.programs["greet"].version == "4"


@pytest.mark.parametrize(
    ("location", "line", "step"),
    [
        ("/States/hello: deferred?/Next", 5, "hello"),  # a helper state: its step's line
        ("/States/pause", 9, "pause"),
        ("/States/hello/Parameters/Payload/params/topic", 8, "hello"),  # the step's own field
        ("/States/resume?", 4, None),  # the machine's own states: the steps list
    ],
)
def test_a_fail_is_a_problem_at_the_line_and_nothing_is_published(
    location: str, line: int, step: str | None
) -> None:
    machines = Machines(fail(location))
    report, state = deploy(machines)
    assert machines.published == []
    assert report["status"] == "invalid" and report["live_version"] == "3"
    assert state.programs["greet"].version == "3"
    (problem,) = report["problems"]
    assert problem["line"] == line
    assert problem.get("step") == step
    assert "SCHEMA_VALIDATION_FAILED: The state cannot be reached." in problem["problem"]
    assert location in problem["problem"]


def test_an_invalid_definition_refused_on_create_is_reported_too() -> None:
    machines = Machines({"result": "OK", "diagnostics": []}, refuse="Invalid State Machine")
    report, state = deploy(machines)
    assert report["status"] == "invalid" and report["live_version"] == "3"
    assert "Invalid State Machine" in report["problems"][0]["problem"]
    assert state.programs["greet"].version == "3"
