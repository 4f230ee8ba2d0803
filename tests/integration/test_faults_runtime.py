"""Injected faults on the runtime's way from a sign-up to an email, through the local cloud
(infra/localcloud/faults.py): a Lambda timing out part-way through a stream batch, a crash
right after SES accepted an email, Step Functions faults (Lambda task throttling,
StartExecution throttling, SendTaskSuccess with an expired token, an execution name already
used with other input), a missing S3 object, SMS throttling. Each ends with the journey
complete or the failure recorded where an operator sees it, and nothing lost, sent twice or
counted twice."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from tests.integration.faults_helpers import (
    FORM,
    assert_nothing_lost_or_doubled,
    deploy_journey,
    deploy_program,
    sign_up,
    stats,
)
from tests.integration.test_local_cloud_failures import dead_letters

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration


@pytest.fixture
def journey(cloud: LocalCloud) -> LocalCloud:
    deploy_journey(cloud)
    return cloud


@pytest.mark.expect_function_errors
@pytest.mark.parametrize(
    "limit", [{"after_calls": 25}, {"budget": timedelta(milliseconds=500)}], ids=["calls", "time"]
)
def test_a_react_timeout_part_way_through_a_batch_reprocesses_it_without_doubles(
    journey: LocalCloud, tables: Tables, limit: dict[str, Any]
) -> None:
    # Given five sign-ups stored before the react function runs (one stream batch)
    pump = journey.run_until_idle
    journey.run_until_idle = lambda: None  # type: ignore[method-assign]
    people = [f"person{i}@example.com" for i in range(5)]
    for email in people:
        sign_up(journey, email)
    del journey.run_until_idle
    # and the react function's first invocation times out after 25 AWS requests, or
    # when 500 ms of virtual time are spent (20 ms a request, and the SDK's back-off)
    fault = journey.faults.timeout("ReactFunction", times=1, **limit)

    # When the stream is read
    pump()
    journey.advance(timedelta(minutes=1))

    # Then that invocation was stopped part-way, the batch retried, and each got welcome-1 once
    assert fault.injected == 1
    assert any("Sandbox.Timedout" in e or "timed out" in e for e in journey.errors)
    assert_nothing_lost_or_doubled(journey, tables, {p: ["welcome-1"] for p in people})


@pytest.mark.expect_function_errors
def test_a_crash_right_after_ses_accepted_the_email_sends_it_once(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given the steps function dies right after SES accepts welcome-1 (before it records it)
    fault = journey.faults.crash_after("sesv2", "SendEmail", function="StepsFunction", times=1)

    # When Ada signs up and the retries run their course
    sign_up(journey, "ada@example.com")
    journey.advance(timedelta(minutes=30))

    # Then the email went out once, and its send is recorded once (from the retry)
    assert fault.injected == 1
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})
    [sent] = [a for a in tables.activities() if a.name == "email.sent"]
    assert sent.properties["step_id"] == "welcome-1"


def test_a_throttled_lambda_task_is_retried_by_the_state_machine(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given Lambda refuses the steps function 3 times (Lambda.TooManyRequestsException)
    fault = journey.faults.throttle_invocations("StepsFunction", times=3)

    # When Ada signs up and a minute passes
    sign_up(journey, "ada@example.com")
    journey.advance(timedelta(minutes=1))

    # Then the compiled Retry ran the task again, and welcome-1 went out once
    assert fault.injected == 3
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})
    assert journey.errors == []


@pytest.mark.expect_function_errors
def test_start_execution_throttled_past_the_sdk_retries_enrols_once(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given StartExecution is throttled 6 times in a row (more than the SDK's 5 attempts)
    fault = journey.faults.throttle("stepfunctions", "StartExecution", times=6)

    # When Ada signs up
    sign_up(journey, "ada@example.com")

    # Then the react function failed once, its batch was retried, and she is enrolled once
    assert fault.injected == 6
    assert len(tables.executions("welcome")) == 1
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})


def test_send_task_success_with_an_expired_token_lets_the_deadline_path_finish(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given Ada got welcome-1 and the wait for her click will answer TaskTimedOut
    sign_up(journey, "ada@example.com")
    [welcome_1] = journey.outbox
    fault = journey.faults.fail("stepfunctions", "SendTaskSuccess", "TaskTimedOut")

    # When she clicks, and the 3-day deadline passes
    journey.click_email(welcome_1)
    journey.advance(timedelta(days=3, hours=1))

    # Then the click is stored, no function failed, and the deadline path sent welcome-2b once
    assert fault.injected >= 1
    assert any(a.name == "email.clicked" for a in tables.activities())
    assert journey.errors == []
    assert_nothing_lost_or_doubled(
        journey, tables, {"ada@example.com": ["welcome-1", "welcome-2b"]}
    )


def test_an_execution_name_taken_with_other_input_is_not_a_second_entry(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given Ada entered welcome (a `once` program: one execution name per contact)
    sign_up(journey, "ada@example.com")
    [execution] = tables.executions("welcome")
    sfn = journey.client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution["executionArn"])

    # When the same name is started again with other input, as a second entry would be
    machine = described["stateMachineArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(
            stateMachineArn=machine,
            name=execution["name"],
            input=json.dumps({"contact_id": "someone-else"}),
        )
    # and she submits the form again
    sign_up(journey, "ada@example.com", messageId="second-submission")

    # Then she is still in one execution, and welcome-1 went out once
    assert len(tables.executions("welcome")) == 1
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})
    assert journey.errors == []


@pytest.mark.expect_function_errors
def test_a_missing_template_is_a_recorded_skip_not_a_send_or_a_loss(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given S3 answers NoSuchKey for every object the steps function reads
    fault = journey.faults.fail(
        "s3", "GetObject", "NoSuchKey", 404, "The specified key does not exist.",
        function="StepsFunction",
    )  # fmt: skip

    # When Ada signs up
    sign_up(journey, "ada@example.com")
    journey.advance(timedelta(minutes=5))

    # Then nothing was sent, and the skip is recorded where an operator sees it: the
    # contact's activity (with its reason) and the step's `skipped` counter, once
    assert fault.injected >= 1
    assert journey.outbox == []
    skipped = [a for a in tables.activities() if a.name == "email.skipped"]
    assert [a.properties["reason"] for a in skipped] == ["template_error"]
    assert stats(journey)["welcome-1"]["skipped"] == 1
    assert_nothing_lost_or_doubled(journey, tables, {})


SMS_PROGRAM = """id: text-hello
name: Text hello
trigger:
  form: faults-signup
entry:
  once: true
steps:
  - id: hello
    type: send_sms
    purpose: service
    text: "Hi {{ contact.first_name }}, thanks for signing up."
"""


@pytest.mark.expect_function_errors
def test_sms_throttling_defers_the_text_and_sends_it_once(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given a program that texts each sign-up, and SNS throttling its SMS 7 times in a row
    # (the steps function's SNS client makes 6 attempts a call)
    deploy_program(journey, "text-hello", SMS_PROGRAM)
    fault = journey.faults.throttle("sns", "Publish", function="StepsFunction", times=7)

    # When Ada signs up with her phone, and a few hours pass
    sign_up(journey, "ada@example.com", phone="+447400123456", texts="on")
    journey.advance(timedelta(hours=3))

    # Then the first send was deferred as throttled, the text went out once on the retry,
    # and is recorded and counted once
    assert fault.injected == 7
    assert any(a.name == "sms.deferred" for a in tables.activities())
    assert [s.to for s in journey.sms_outbox] == ["+447400123456"]
    assert [a.name for a in tables.activities() if a.name == "sms.sent"] == ["sms.sent"]
    assert stats(journey, "text-hello")["hello"]["sms_sent"] == 1


LONG_WAIT_PROGRAM = """id: long-wait
name: Hello, and again in four months
trigger:
  form: faults-signup
entry:
  once: true
steps:
  - id: hello
    type: send_email
    template: welcome-1
    purpose: service
  - id: pause
    type: wait
    duration: 120 days
  - id: again
    type: send_email
    template: welcome-2b
    purpose: service
"""


@pytest.mark.expect_function_errors
def test_scheduler_throttled_past_the_sdk_retries_still_resumes_the_run_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given a program whose wait is too long for one execution (a one-time schedule
    # resumes it), and EventBridge Scheduler throttling CreateSchedule 6 times in a row
    cloud.sync_content(only=[])
    cloud.upload("forms/faults-signup.yaml", FORM)
    deploy_program(cloud, "long-wait", LONG_WAIT_PROGRAM)
    fault = cloud.faults.throttle("scheduler", "CreateSchedule", times=6)

    # When Ada signs up and four months pass
    sign_up(cloud, "ada@example.com")
    cloud.advance(timedelta(days=121))

    # Then the schedule was made despite the throttling, and the run resumed once
    assert fault.injected == 6
    assert_nothing_lost_or_doubled(
        cloud, tables, {"ada@example.com": ["hello", "again"]}, program="long-wait"
    )


@pytest.mark.expect_function_errors
def test_scheduler_throttled_starting_the_resume_retries_it_and_resumes_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given a run paused for a long wait, and Step Functions throttling Scheduler's
    # StartExecution 7 times in a row (past the first attempt's own SDK retries)
    cloud.sync_content(only=[])
    cloud.upload("forms/faults-signup.yaml", FORM)
    deploy_program(cloud, "long-wait", LONG_WAIT_PROGRAM)
    fault = cloud.faults.throttle("stepfunctions", "*", source="scheduler", times=7)

    # When Ada signs up and four months pass
    sign_up(cloud, "ada@example.com")
    cloud.advance(timedelta(days=121))

    # Then Scheduler retried later, and the run resumed once
    assert fault.injected == 7
    assert any("retried later" in e.what for e in cloud.timeline)
    assert_nothing_lost_or_doubled(
        cloud, tables, {"ada@example.com": ["hello", "again"]}, program="long-wait"
    )


@pytest.mark.expect_function_errors
def test_scheduler_refused_starting_the_resume_dead_letters_it_for_an_operator(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given a run paused for a long wait, and its resume refused with a client error
    cloud.sync_content(only=[])
    cloud.upload("forms/faults-signup.yaml", FORM)
    deploy_program(cloud, "long-wait", LONG_WAIT_PROGRAM)
    cloud.faults.fail("stepfunctions", "*", "ValidationException", source="scheduler")

    # When Ada signs up and four months pass
    sign_up(cloud, "ada@example.com")
    cloud.advance(timedelta(days=121))

    # Then the resume is on the dead-letter queue, with why, and nothing was sent twice
    [letter] = [
        d for d in dead_letters(cloud) if d["attributes"].get("ERROR_CODE") == "ValidationException"
    ]
    assert letter["attributes"]["EXHAUSTED_RETRY_CONDITION"] == "NonRetryableError"
    assert_nothing_lost_or_doubled(
        cloud, tables, {"ada@example.com": ["hello"]}, program="long-wait"
    )


@pytest.mark.expect_function_errors
@pytest.mark.parametrize(
    ("function", "service", "operation"),
    [
        ("ReactFunction", "dynamodb", "TransactWriteItems"),  # the contact made
        ("ReactFunction", "stepfunctions", "StartExecution"),  # the entry started
        ("StepsFunction", "dynamodb", "UpdateItem"),  # the send's ledger claimed
        ("StepsFunction", "dynamodb", "UpdateItem=sent"),  # the ledger says sent
        ("StepsFunction", "dynamodb", "PutItem:contact:"),  # email.sent's activity put
        ("StepsFunction", "stepfunctions", "SendTaskSuccess"),  # the step reported done
    ],
)
def test_a_crash_right_after_a_write_is_recovered_by_the_retry_once(
    journey: LocalCloud, tables: Tables, function: str, service: str, operation: str
) -> None:
    # Given the function dies right after its first such request succeeded (PutItem:<prefix>:
    # the first PutItem of an item whose key starts so; UpdateItem=<value>: the first update
    # that sets that value (`:sent`), e.g. the ledger's status "sent")
    operation, _, prefix = operation.partition(":")
    operation, _, value = operation.partition("=")
    where = (lambda params: params["Item"]["pk"]["S"].startswith(prefix)) if prefix else None
    if value:
        where = lambda params: f":{value}" in params.get("ExpressionAttributeValues", {})  # noqa: E731
    fault = journey.faults.crash_after(service, operation, function=function, times=1, where=where)

    # When Ada signs up and the retries run their course
    sign_up(journey, "ada@example.com")
    journey.advance(timedelta(minutes=30))

    # Then the retry finished the work: one contact, one entry, one welcome-1, recorded once
    assert fault.injected == 1
    assert [c.email for c in tables.contacts()] == ["ada@example.com"]
    assert len(tables.executions("welcome")) == 1
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})
