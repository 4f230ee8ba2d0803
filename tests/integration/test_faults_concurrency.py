"""Concurrent writers, as AWS runs them: the same messageId in several concurrent ingest
invocations, and two reactions to one contact at the same moment, their invocations made to
meet just before their first transaction (infra/localcloud/concurrency.py). Each activity
is stored once, each contact made once, enrolled once and sent one email."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud
from localcloud.capture import _sns_event
from localcloud.concurrency import deliver_stream_concurrently, http_event, invoke_concurrently
from tests.integration.faults_helpers import (
    FORM_ID,
    SECRET_KEY,
    assert_nothing_lost_or_doubled,
    deploy_journey,
    sign_up,
    stats,
)

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

SIGNUP = {"email": "ada@example.com", "first_name": "Ada", "consent_newsletter": "on"}


@pytest.fixture
def journey(cloud: LocalCloud) -> LocalCloud:
    deploy_journey(cloud)
    return cloud


@pytest.mark.parametrize("meet_at", [None, ("dynamodb", "*")])
def test_one_message_id_in_four_concurrent_ingest_invocations_is_stored_once(
    journey: LocalCloud, tables: Tables, meet_at: tuple[str, str] | None
) -> None:
    # Given the same form post (one messageId) reaching four ingest instances at once
    function, event = http_event(
        journey, "POST", f"/v1/forms/{FORM_ID}", {**SIGNUP, "messageId": "m-1"}, SECRET_KEY
    )

    # When they run together (meeting before their first DynamoDB call)
    outcomes = invoke_concurrently(journey, function, [event] * 4, meet_at=meet_at)
    journey.run_until_idle()

    # Then (they met, when asked to) each answered 202, one activity is stored, one
    # contact made, one email sent
    assert journey.faults.meetings == (4 if meet_at else 0)
    assert [o.error for o in outcomes] == [None] * 4
    assert [o.result["statusCode"] for o in outcomes] == [202] * 4
    assert len([a for a in tables.activities() if a.kind == "form"]) == 1
    assert [c.email for c in tables.contacts()] == ["ada@example.com"]
    assert len(tables.executions("welcome")) == 1
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})
    assert journey.errors == []


@pytest.mark.parametrize("meet_at", [("dynamodb", "TransactWriteItems"), ("dynamodb", "*")])
def test_two_reactions_to_one_new_contact_at_once_make_one_contact_one_entry_one_email(
    journey: LocalCloud, tables: Tables, meet_at: tuple[str, str]
) -> None:
    # Given two submissions of the form by one person (two messageIds), stored before any
    # reaction runs
    pump = journey.run_until_idle
    journey.run_until_idle = lambda: None  # type: ignore[method-assign]
    sign_up(journey, "ada@example.com", messageId="first")
    sign_up(journey, "ada@example.com", messageId="second")
    del journey.run_until_idle

    # When the react function handles both at the same moment, in two instances
    outcomes = deliver_stream_concurrently(journey, "ReactFunction", meet_at=meet_at)
    pump()

    # Then both reactions met and ran, and there is one contact, one entry, one welcome-1
    assert len(outcomes) == 2
    assert journey.faults.meetings == 2
    assert [o.error for o in outcomes] == [None, None]
    assert [c.email for c in tables.contacts()] == ["ada@example.com"]
    assert len(tables.executions("welcome")) == 1
    assert_nothing_lost_or_doubled(journey, tables, {"ada@example.com": ["welcome-1"]})
    assert journey.errors == []


def test_one_click_delivered_to_two_engagement_instances_at_once_sends_the_follow_up_once(
    journey: LocalCloud, tables: Tables
) -> None:
    # Given Ada got welcome-1, and SNS delivers the SES click event for it twice, at once
    sign_up(journey, "ada@example.com")
    [welcome_1] = journey.outbox
    published: list[tuple[str, str]] = []
    journey.publish = lambda topic, message: published.append((topic, message))  # type: ignore[method-assign]
    journey.ses_event(welcome_1, "Click", {"link": welcome_1.links()[0], "linkTags": {}})
    del journey.publish
    [(topic, message)] = published
    event = _sns_event(topic, message, journey.clock.now())
    function = next(
        fn.logical_id
        for fn in journey.functions.values()
        for ev in fn.events.values()
        if ev["Type"] == "SNS" and ev["Properties"]["Topic"] == topic
    )

    # When two instances handle it together (meeting before their first DynamoDB write)
    outcomes = invoke_concurrently(
        journey, function, [event, event], meet_at=("dynamodb", "PutItem")
    )
    journey.run_until_idle()

    # Then (they met) the click is stored once, counted once, and welcome-2a went out once
    assert journey.faults.meetings == 2
    assert [o.error for o in outcomes] == [None, None]
    clicks = [a for a in tables.activities() if a.name == "email.clicked"]
    assert len(clicks) == 1
    assert stats(journey)["welcome-1"]["clicked"] == 1
    assert_nothing_lost_or_doubled(
        journey, tables, {"ada@example.com": ["welcome-1", "welcome-2a"]}
    )
    assert journey.errors == []
