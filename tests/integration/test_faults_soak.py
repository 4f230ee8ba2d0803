"""Soak: the welcome journey for 200 contacts while 10% of the AWS requests the functions
and the state machines make fail at random (throttling or an internal error, seeded), through
the local cloud. Every third contact clicks welcome-1; the others let the 3-day deadline
pass. Each gets exactly the emails the program says, once, and the counters match the
outbox. The sign-up client retries a 5xx with the same messageId, as the SDKs do."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud
from tests.integration.faults_helpers import (
    assert_nothing_lost_or_doubled,
    deploy_journey,
    sign_up,
    stats,
)
from tests.integration.test_local_cloud_failures import dead_letters

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = [pytest.mark.integration, pytest.mark.soak, pytest.mark.expect_function_errors]

CONTACTS = int(os.environ.get("NURTURE_SOAK_CONTACTS", "200"))
FAILURE_RATE = 0.10
SEED = 13


def test_welcome_for_200_contacts_with_10_percent_of_aws_requests_failing(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given the welcome journey, and 10% of AWS requests failing from now on (seeded)
    cpu = time.process_time()
    deploy_journey(cloud)
    cloud.faults.seed(SEED)
    cloud.faults.random(FAILURE_RATE)

    # When 200 people sign up, every third clicks welcome-1, and the deadline passes
    people = [f"soak{i:03d}@example.com" for i in range(CONTACTS)]
    for email in people:
        sign_up(cloud, email, name=f"P{email[4:7]}")
    cloud.advance(timedelta(minutes=30))
    clickers = set(people[::3])
    for email in cloud.outbox[:]:
        if email.to[0] in clickers and email.tags.get("step_id") == "welcome-1":
            cloud.click_email(email)
    cloud.advance(timedelta(days=3, hours=1))

    # Then many requests failed, and each person got exactly what the program says, once
    injected = cloud.faults.count()
    assert injected > CONTACTS, injected
    expected = {p: ["welcome-1", "welcome-2a" if p in clickers else "welcome-2b"] for p in people}
    assert_nothing_lost_or_doubled(cloud, tables, expected)
    # and the click counters match the clicks, and nothing went to the dead letters
    assert stats(cloud)["welcome-1"].get("clicked", 0) == len(clickers)
    assert dead_letters(cloud) == []
    print(
        f"\nsoak: {CONTACTS} contacts, {len(cloud.outbox)} emails, {injected} faults injected, "
        f"{len(cloud.errors)} function errors recorded, {time.process_time() - cpu:.0f} s CPU"
    )
