"""The compiler: ASL shape per step type (the runtime contract), resume points for long
waits, transition counts, cfn-lint on every shipped program, and the exported JSON Schema."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from nurture.programs import schema
from nurture.programs.compiler import (
    LONG_WAIT_SECONDS,
    compile_program,
    resume_points,
    step_params,
)
from nurture.programs.model import Program

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
STEPS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:nurture-StepsFunction"


def program(steps: str, **extra: Any) -> Program:
    data = {"id": "demo", "name": "Demo", "trigger": {"form": "signup"}, **extra}
    data["steps"] = yaml.safe_load(textwrap.dedent(steps))
    return Program.model_validate(data)


def states(p: Program) -> dict[str, Any]:
    result: dict[str, Any] = compile_program(p, STEPS_ARN).definition["States"]
    return result


def payload(state: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = state["Parameters"]["Payload"]
    return result


def test_a_fresh_run_starts_at_the_first_step() -> None:
    compiled = compile_program(program("- {id: e, type: end}"), STEPS_ARN)
    assert compiled.definition["StartAt"] == "e" and "resume?" not in compiled.definition["States"]
    assert compiled.resume_definition is None  # nothing to resume


LONG = """
    - {id: bought, type: score, add: 1}
    - {id: cycle, type: wait, duration: 4 years}
    - {id: offer, type: score, add: 2}
"""
RESUME_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:nurture-program-demo_resume:3"


def test_resumed_runs_enter_through_the_resume_choice_of_the_resume_machine() -> None:
    compiled = compile_program(program(LONG), STEPS_ARN, resume_arn=RESUME_ARN)
    assert compiled.definition["StartAt"] == "bought"
    assert "resume?" not in compiled.definition["States"]
    schedule = payload(compiled.definition["States"]["cycle"])["params"]
    assert schedule["resume_arn"] == RESUME_ARN
    assert compiled.resume_definition is not None
    resume = compiled.resume_definition
    assert resume["StartAt"] == "resume?"
    choice = resume["States"]["resume?"]
    assert choice["Type"] == "Choice" and choice["Default"] == "bought"
    assert choice["Choices"][-1] == {
        "Variable": "$.resume_at",
        "IsPresent": True,
        "Next": "resume: unknown step",
    }
    # the resume machine's own long waits resume on its own version (the runtime asks)
    assert "resume_arn" not in payload(resume["States"]["cycle"])["params"]


def test_without_a_resume_machine_every_run_enters_through_the_resume_choice() -> None:
    compiled = compile_program(program(LONG), STEPS_ARN)
    assert compiled.definition["StartAt"] == "resume?" and compiled.resume_definition is None


def test_action_step_payload_is_the_contract() -> None:
    s = states(program("- {id: up, type: update_contact, add_tags: [vip], stage: customer}"))
    task = s["up"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert payload(task) == {
        "action": "update_contact",
        "program_id": "demo",
        "step_id": "up",
        "contact_id.$": "$.contact_id",
        "execution.$": "$$.Execution.Name",
        "params": {"set": {}, "add_tags": ["vip"], "remove_tags": [], "stage": "customer"},
    }
    assert task["ResultSelector"] == {"Payload.$": "$.Payload"} and task["ResultPath"] == "$.last"
    assert task["End"] is True  # the last step ends the run itself: no Choice, no Finished
    assert set(s) == {"up"}


def test_a_send_goes_straight_on_and_a_deferral_fails_its_token() -> None:
    s = states(
        program("""
        - {id: hello, type: send_email, template: welcome-1}
        - {id: done, type: end}
    """)
    )
    task = s["hello"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert payload(task)["task_token.$"] == "$$.Task.Token"
    assert task["Next"] == "done" and task["ResultPath"] == "$.last"
    assert task["Catch"] == [
        {
            "ErrorEquals": ["Nurture.Deferred"],
            "ResultPath": "$.deferral",
            "Next": "hello: wait for send window",
        }
    ]
    assert s["hello: wait for send window"] == {
        "Type": "Wait",
        "TimestampPath": "$.deferral.Cause",
        "Next": "hello",
    }


def test_branch_compiles_to_a_choice_over_declared_targets() -> None:
    p = program("""
        - id: check
          type: branch
          branches:
            - {when: {field: score, gte: 50}, next: hot}
            - {when: {not: {has_tag: vip}}, next: cold}
          default: cold
        - {id: hot, type: notify_sales, message: hot lead, next: done}
        - {id: cold, type: score, add: -5}
        - {id: done, type: end}
    """)
    s = states(p)
    params = payload(s["check"])["params"]
    assert params["branches"][1]["when"] == {"not": {"has_tag": "vip"}}
    assert params["branches"][0]["when"] == {"field": "score", "gte": 50}
    choice = s["check: which?"]
    targets = [r["Next"] for r in choice["Choices"]]
    assert targets == ["check: stopped", "hot", "cold"]  # straight to the target
    assert choice["Default"] == "check: unknown choice"
    assert s["check: unknown choice"]["Type"] == "Fail"


def test_split_variants_are_named_in_the_history() -> None:
    p = program("""
        - id: ab
          type: split
          variants:
            - {name: A, percent: 50, next: a}
            - {name: B, percent: 40, next: b}
            - {name: holdout, percent: 10, next: done}
        - {id: a, type: score, add: 1, next: done}
        - {id: b, type: score, add: 2, next: done}
        - {id: done, type: end}
    """)
    s = states(p)
    assert {"ab: variant A to a", "ab: variant B to b", "ab: variant holdout to done"} <= set(s)


def test_wait_until_waits_on_the_returned_time_or_resumes_by_schedule_when_far() -> None:
    s = states(
        program("""
        - {id: renewal, type: wait_until, field: renewal_date, offset: 30 days before}
        - {id: remind, type: score, add: 1}
    """)
    )
    task = s["renewal"]
    assert task["Resource"].endswith(".waitForTaskToken") and task["Next"] == "remind"
    assert [(c["ErrorEquals"], c["Next"]) for c in task["Catch"]] == [
        (["Nurture.Stop"], "renewal: stopped"),
        (["Nurture.ResumeLater"], "renewal: resume by schedule"),
        (["States.Timeout"], "remind"),
    ]
    assert task["TimeoutSeconds"] == LONG_WAIT_SECONDS + 86400
    schedule = payload(s["renewal: resume by schedule"])
    assert schedule["action"] == "schedule_resume"
    assert schedule["params"]["resume_at"] == "remind"
    assert schedule["params"]["at.$"] == "$.far.Cause"
    assert payload(s["renewal"])["params"]["offset"] == "30 days before"


def test_a_wait_longer_than_the_limit_resumes_by_schedule() -> None:
    p = program(LONG)
    assert resume_points(p) == {"cycle": True}
    s = states(p)
    call = payload(s["cycle"])
    assert call["action"] == "schedule_resume"
    assert call["params"]["delay_seconds"] == 4 * 365 * 86400 > LONG_WAIT_SECONDS
    assert call["params"]["state.$"] == "$"
    assert s["cycle"]["End"] is True  # the run ends; the schedule starts the next
    first = s["resume?"]["Choices"][0]
    assert first["Next"] == "offer"
    assert first["And"][1] == {"Variable": "$.resume_at", "StringEquals": "offer"}


def test_the_wait_closing_a_loop_resumes_by_schedule() -> None:
    p = program("""
        - {id: content, type: score, add: 1}
        - {id: pause, type: wait, duration: 30 days, next: content}
    """)
    assert resume_points(p) == {"pause": True}
    compiled = compile_program(p, STEPS_ARN)
    assert compiled.resume_points == ["content"]
    assert compiled.transitions_per_run["max"] is not None


def test_short_waits_stay_native() -> None:
    s = states(program("- {id: w, type: wait, duration: 3 days}"))
    assert s["w"] == {"Type": "Wait", "Seconds": 259200, "End": True}


def test_webhook_retries_with_backoff_and_goes_on_after_failure() -> None:
    s = states(
        program("""
        - {id: call, type: webhook, url: 'https://crm.example.com/x', on_failure: fallback}
        - {id: next-one, type: score, add: 1, next: done}
        - {id: fallback, type: create_task, title: Call them, assignee: owner, due: 1 day}
        - {id: done, type: end}
    """)
    )
    retry = s["call"]["Retry"][-1]
    assert retry["ErrorEquals"] == ["WebhookRetryable"] and retry["BackoffRate"] == 2.0
    assert s["call"]["Catch"][0]["Next"] == "call: failed"
    assert s["call: failed"]["Next"] == "fallback"
    assert s["call"]["Next"] == "next-one"


def test_wait_for_event_passes_filters_and_event_key() -> None:
    s = states(
        program("""
        - id: buy
          type: wait_for_event
          event: purchase
          where: {category: insurance}
          timeout: 14 days
          on_event: done
          on_timeout: done
        - {id: done, type: end}
    """)
    )
    params = payload(s["buy"])["params"]
    assert params["event_key"] == "track:purchase"
    assert params["where"] == {"category": "insurance"}
    assert s["buy"]["TimeoutSeconds"] == 14 * 86400
    assert payload(s["buy"])["task_token.$"] == "$$.Task.Token"


def test_transitions_count_the_normal_path() -> None:
    welcome = Program.model_validate(yaml.safe_load((ROOT / "programs/welcome.yaml").read_text()))
    counts = compile_program(welcome, STEPS_ARN).transitions_per_run
    # send + wait task + send + end: one transition a step, nothing else
    assert counts == {"min": 4, "max": 4}


def test_step_params_drop_unset_operators() -> None:
    p = program("""
        - id: check
          type: branch
          branches: [{when: {field: stage, in: [lead, mql]}, next: done}]
          default: done
        - {id: done, type: end}
    """)
    assert step_params(p.steps[0])["branches"][0]["when"] == {
        "field": "stage",
        "in": ["lead", "mql"],
    }


def _all_programs() -> list[Path]:
    return sorted((ROOT / "programs").glob("*.yaml"))


def test_compiled_programs_pass_cfn_lint(tmp_path: Path) -> None:
    """Every shipped program, compiled, in a tiny template cfn-lint checks (ASL included)."""
    resources: dict[str, Any] = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        }
    }
    extra = [
        program("""
            - {id: check, type: branch, branches: [{when: {has_tag: x}, next: a}], default: b}
            - {id: a, type: webhook, url: 'https://x.example.com/h', next: b}
            - {id: b, type: split, variants: [{percent: 50, next: c}, {percent: 50, next: d}]}
            - {id: c, type: wait_until, at: '2027-01-01T09:00:00Z', next: d}
            - {id: d, type: wait, duration: 2 years}
            - {id: e, type: start_program, program: other}
        """)
    ]
    programs = [Program.model_validate(yaml.safe_load(p.read_text())) for p in _all_programs()]
    for index, p in enumerate([*programs, *extra]):
        definition = compile_program(p, STEPS_ARN).definition
        resources[f"Program{index}"] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"Definition": definition, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}},
        }
    template = tmp_path / "programs.json"
    template.write_text(
        json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})
    )
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(template)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_schema_is_up_to_date() -> None:
    path = ROOT / "schemas" / "program.schema.json"
    assert path.read_text() == schema.render(), (
        "schemas/program.schema.json is stale: run python -m nurture.programs.schema --write"
    )


def test_shipped_programs_match_the_json_schema() -> None:
    import jsonschema  # a dev dependency: the schema editors use must accept our programs

    validator = jsonschema.Draft202012Validator(json.loads(schema.render()))
    for path in _all_programs():
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], f"{path.name}: {[e.message for e in errors]}"
    bad = {"id": "x", "name": "x", "trigger": {"form": "f"}, "steps": [{"id": "a", "type": "fax"}]}
    assert list(validator.iter_errors(bad))
