"""The send path with in-memory ports: throttling defers, a rejection skips for good, the
ledger's crash window, per-program send windows, and the deferral limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from delivery_support import JOB, NOW, Clock, Mailer, Store, _service, frozen_clock

from nurture.delivery.errors import DeliveryRejected, DeliveryThrottled
from nurture.delivery.ports import LedgerEntry
from nurture.delivery.sender import CLAIM_GRACE_SECONDS

pytestmark = pytest.mark.unit


@pytest.fixture
def now() -> Iterator[Clock]:
    yield from frozen_clock()


def test_throttling_defers_and_frees_the_claim_and_the_cap(now: Clock) -> None:
    store, mailer = Store(), Mailer(fail_with=DeliveryThrottled("TooManyRequestsException"))
    service, _ = _service(mailer, store)
    result = service.send_email(JOB)
    assert result == {
        "status": "deferred",
        "reason": "throttled",
        "retry_at": "2026-01-05T09:02:00Z",
    }
    assert store.ledger[JOB.send_id].status is None and store.caps["c-1"] == []
    mailer.fail_with = None
    now.at += timedelta(minutes=2)
    assert service.send_email(JOB)["status"] == "sent"
    assert len(mailer.sent) == 1 and mailer.sent[0].headers["List-Unsubscribe-Post"]


def test_a_rejection_is_recorded_and_skipped_for_good(now: Clock) -> None:
    store, mailer = (
        Store(),
        Mailer(fail_with=DeliveryRejected("MessageRejected", "Email address is not verified")),
    )
    service, activities = _service(mailer, store)
    first = service.send_email(JOB)
    assert first == {"status": "skipped", "reason": "rejected_MessageRejected", "retry_at": None}
    [failed] = [a for a in activities.items.values() if a.name == "email.failed"]
    assert "not verified" in failed.properties["detail"]
    mailer.fail_with = None
    assert service.send_email(JOB)["reason"] == "rejected_MessageRejected"  # a retry does not send
    assert mailer.sent == [] and store.caps["c-1"] == []


def test_a_fresh_claim_waits_for_evidence_and_a_stale_one_is_sent_again(now: Clock) -> None:
    store, mailer = Store(), Mailer()
    service, _ = _service(mailer, store)
    claimed_at = int(NOW.timestamp())
    store.ledger[JOB.send_id] = LedgerEntry(status="claimed", claimed_at=claimed_at)
    waiting = service.send_email(JOB)
    assert (waiting["status"], waiting["reason"]) == ("deferred", "send_in_progress")
    assert waiting["retry_at"] == "2026-01-05T09:10:00Z" and mailer.sent == []
    # SES's Send event never came: after the grace period the message is sent again, once
    now.at += timedelta(seconds=CLAIM_GRACE_SECONDS + 1)
    assert service.send_email(JOB)["status"] == "sent"
    assert service.send_email(JOB)["status"] == "already_sent"
    assert len(mailer.sent) == 1


def test_a_programs_own_window_overrides_the_global_one(now: Clock) -> None:
    # 09:00 UTC is 11:00 in Helsinki: inside the global window, outside the program's
    store = Store()
    service, _ = _service(
        Mailer(), store, window="08:00-20:00", definition={"send_window": "13:00-15:00"}
    )
    result = service.send_email(JOB)
    assert (result["status"], result["retry_at"]) == ("deferred", "2026-01-05T11:00:00Z")


def test_a_message_deferred_for_more_than_30_days_is_skipped(now: Clock) -> None:
    store = Store()
    service, _ = _service(Mailer(), store, window="mon 03:00-03:01")
    assert service.send_email(JOB)["status"] == "deferred"
    now.at += timedelta(days=31)
    assert service.send_email(JOB) == {
        "status": "skipped",
        "reason": "deferred_too_long",
        "retry_at": None,
    }


def test_service_messages_ignore_quiet_hours_and_the_cap(now: Clock) -> None:
    store, mailer = Store(), Mailer()
    service, _ = _service(mailer, store, window="mon 03:00-03:01")
    job = replace(JOB, params={**JOB.params, "purpose": "service"})
    assert service.send_email(job)["status"] == "sent"
    assert "List-Unsubscribe" not in mailer.sent[0].headers and store.caps == {}
