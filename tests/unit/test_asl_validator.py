"""The wrapper around AWS's ASL language service answers in ValidateStateMachineDefinition's
shape: result, diagnostics (severity, code, message, location), truncated; it adds only the
limits AWS documents and the service leaves out (1 MB, 80-character state names)."""

from __future__ import annotations

import json

import pytest

from localcloud.asl_validation import MAX_DEFINITION_BYTES, refusal_message, validate_definition

pytestmark = pytest.mark.unit


def states(count: int) -> dict[str, object]:
    """`count` states nothing goes to, after a valid start: one error each."""
    body: dict[str, object] = {"start": {"Type": "Succeed"}}
    body.update({f"orphan-{i}": {"Type": "Succeed"} for i in range(count)})
    return {"StartAt": "start", "States": body}


def test_each_error_is_located_and_the_list_is_limited() -> None:
    answer = validate_definition(states(3))
    assert answer["result"] == "FAIL" and answer["truncated"] is False
    assert [d["location"] for d in answer["diagnostics"]] == [
        "/States/orphan-0",
        "/States/orphan-1",
        "/States/orphan-2",
    ]
    assert set(answer["diagnostics"][0]) == {"severity", "code", "message", "location"}
    limited = validate_definition(states(3), max_results=2)
    assert len(limited["diagnostics"]) == 2 and limited["truncated"] is True


def test_empty_oversized_and_long_names_are_refused() -> None:
    assert validate_definition("  ")["diagnostics"][0]["code"] == "MISSING_DESCRIPTION"
    huge = {
        "StartAt": "a",
        "States": {"a": {"Type": "Pass", "Result": "x" * MAX_DEFINITION_BYTES, "End": True}},
    }
    assert validate_definition(huge)["result"] == "FAIL"
    name = "n" * 81
    long_name = {"StartAt": name, "States": {name: {"Type": "Succeed"}}}
    (diagnostic,) = validate_definition(long_name)["diagnostics"]
    assert (
        diagnostic["code"] == "INVALID_STATE_NAME" and diagnostic["location"] == f"/States/{name}"
    )
    fits = "n" * 80
    assert (
        validate_definition({"StartAt": fits, "States": {fits: {"Type": "Succeed"}}})["result"]
        == "OK"
    )


def test_the_refusal_message_names_each_error_and_where() -> None:
    message = refusal_message(validate_definition(states(1)))
    assert message.startswith("Invalid State Machine Definition: '")
    assert "SCHEMA_VALIDATION_FAILED" in message and "at /States/orphan-0" in message


def test_a_path_in_a_parameter_must_be_a_valid_path() -> None:
    bad = {
        "StartAt": "a",
        "States": {"a": {"Type": "Pass", "Parameters": {"x.$": "not a path"}, "End": True}},
    }
    answer = validate_definition(json.dumps(bad))
    assert answer["result"] == "FAIL"
    assert answer["diagnostics"][0]["location"] == "/States/a/Parameters/x.$"
