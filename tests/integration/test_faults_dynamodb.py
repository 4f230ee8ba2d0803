"""Injected DynamoDB faults, through the local cloud (infra/localcloud/faults.py): throttling
the SDK absorbs, throttling that outlasts the SDK's retries (the function fails and its
event source retries it), transaction conflicts, and a Lambda timing out part-way through a
stream batch. Each ends with the journey complete: nothing lost, nothing sent or counted
twice."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud
from tests.integration.faults_helpers import (
    assert_nothing_lost_or_doubled,
    deploy_journey,
    sign_up,
)
from tests.integration.test_local_cloud_failures import put_poison, react_letters

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

WELCOME_1 = ["welcome-1"]


@pytest.fixture
def journey(cloud: LocalCloud) -> LocalCloud:
    deploy_journey(cloud)
    return cloud


def test_throttling_the_sdk_absorbs_changes_nothing(journey: LocalCloud, tables: Tables) -> None:
    # Given every function's first DynamoDB attempts are throttled (3 in a row per call kind)
    fault = journey.faults.throttle("dynamodb", "*", times=40, rate=0.5)

    # When two people sign up
    sign_up(journey, "ada@example.com")
    sign_up(journey, "grace@example.com")

    # Then faults were injected, the SDK's retries absorbed them, and both got welcome-1 once
    assert fault.injected > 0
    assert journey.faults.count(code="ProvisionedThroughputExceededException") == fault.injected
    assert_nothing_lost_or_doubled(
        journey, tables, {"ada@example.com": WELCOME_1, "grace@example.com": WELCOME_1}
    )
    assert journey.errors == []


@pytest.mark.expect_function_errors
def test_throttling_that_outlasts_the_sdk_fails_the_batch_which_is_retried(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given the react function's DynamoDB calls are throttled long enough that one call
    # fails after all of the SDK's attempts (DynamoDB: 10)
    fault = journey.faults.throttle("dynamodb", function="ReactFunction", times=12)

    # When Ada signs up
    sign_up(journey, "ada@example.com")

    # Then the react function failed, its stream batch was retried, and she got welcome-1 once
    assert fault.injected == 12
    assert any(e.startswith("ReactFunction: ") for e in journey.errors)
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": WELCOME_1})


@pytest.mark.expect_function_errors
def test_ingest_throttled_for_good_answers_5xx_and_the_client_retry_stores_once(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given the ingest function's writes fail for good on the first request
    journey.faults.throttle("dynamodb", function="IngestFunction", times=10)

    # When the backend posts the sign-up (and posts it again on the 5xx, same messageId)
    sign_up(journey, "ada@example.com")

    # Then one form activity is stored, one contact made, one welcome-1 sent
    forms = [a for a in tables.activities() if a.kind == "form"]
    assert len(forms) == 1
    assert [c.email for c in tables.contacts()] == ["ada@example.com"]
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": WELCOME_1})


@pytest.mark.expect_function_errors
# The steps function has no transaction left (#9: its activities are a conditional marker
# put and the activity put; tests/integration/test_recorded_activities.py): react has.
@pytest.mark.parametrize("function", ["ReactFunction"])
def test_transaction_conflicts_are_retried_and_applied_once(
    journey: LocalCloud, tables: Tables, function: str
) -> None:
    # Given the function's transactions are cancelled by a conflicting transaction, 3 times
    conflict = journey.faults.fail(
        "dynamodb",
        "TransactWriteItems",
        "TransactionCanceledException",
        message="Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[TransactionConflict]",
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}]},
        function=function,
        times=3,
    )

    # When Ada signs up (and a minute passes: a state machine retries a task after seconds)
    sign_up(journey, "ada@example.com")
    journey.advance(timedelta(minutes=1))

    # Then the conflicts happened, and every write landed once: one contact, one entry, one email
    assert conflict.injected == 3
    assert [c.email for c in tables.contacts()] == ["ada@example.com"]
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": WELCOME_1})


@pytest.mark.expect_function_errors
def test_a_poison_record_among_throttled_batches_is_dead_lettered_once_and_the_rest_react(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given a stored activity the react function cannot read, and a third of the react
    # function's DynamoDB requests throttled (seeded)
    journey.faults.seed(7)
    throttled = journey.faults.throttle("dynamodb", function="ReactFunction", rate=0.3)
    put_poison(journey)

    # When three people sign up
    people = ["ada@example.com", "grace@example.com", "mary@example.com"]
    for email in people:
        sign_up(journey, email)

    # Then only the poison record went to the dead letters, once, and everyone else's
    # reaction happened once
    assert throttled.injected > 0
    [letter] = react_letters(journey)
    assert letter["body"]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert_nothing_lost_or_doubled(journey, tables, {p: WELCOME_1 for p in people})


@pytest.mark.expect_function_errors
def test_a_steps_write_conflicting_with_a_transaction_is_retried_by_the_state_machine(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given the steps function's plain writes collide with another caller's transaction, 3
    # times (DynamoDB answers TransactionConflictException; the SDK does not retry it)
    conflict = journey.faults.fail(
        "dynamodb",
        "PutItem",
        "TransactionConflictException",
        message="Transaction is ongoing for the item",
        function="StepsFunction",
        times=3,
    )

    # When Ada signs up (and a minute passes: the compiled Task retries after seconds)
    sign_up(journey, "ada@example.com")
    journey.advance(timedelta(minutes=1))

    # Then the conflicts happened and the run went on: one contact, one welcome-1
    assert conflict.injected == 3
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": WELCOME_1})
