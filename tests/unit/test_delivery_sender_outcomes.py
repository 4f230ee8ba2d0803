"""Every outcome of a send step, asserted on what it leaves behind: the message handed to
SES or SNS, the ledger, the activity recorded (with its properties), the counters and the
cap. One test per rule of the order of checks in nurture.delivery.sender."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from delivery_support import JOB, NOW, Blobs, Clock, Mailer, State, Store, frozen_clock

from localcloud.fakes import InMemoryActivities
from nurture.contacts import Consent, Contact
from nurture.delivery.caps import FrequencyCap
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.errors import DeliveryThrottled
from nurture.delivery.ports import LedgerEntry, OutgoingSms, SuppressionRecord
from nurture.delivery.sender import DeliveryService, SendJob
from nurture.delivery.tokens import UNSUBSCRIBE, verify
from nurture.delivery.windows import SendWindow

pytestmark = pytest.mark.unit
EPOCH = int(NOW.timestamp())


@pytest.fixture
def now() -> Iterator[Clock]:
    yield from frozen_clock()


@dataclass
class Texter:
    sent: list[OutgoingSms] = field(default_factory=list)

    def send(self, sms: OutgoingSms) -> str:
        self.sent.append(sms)
        return f"sns-{len(self.sent)}"


class Contacts:
    def __init__(self, contact: Contact | None):
        self.contact = contact

    def get(self, contact_id: str) -> Contact | None:
        return self.contact


@dataclass
class World:
    service: DeliveryService
    store: Store
    mailer: Mailer
    texter: Texter
    activities: InMemoryActivities

    def recorded(self, name: str) -> list[dict[str, Any]]:
        return [a.properties for a in self.activities.items.values() if a.name == name]


def _consent(key: str) -> Consent:
    channel, topic = key.split(":")
    return Consent(channel=channel, topic=topic, status="granted", at="t", source="api")  # type: ignore[arg-type]


def world(
    contact: Contact | None | str = "default",
    window: str = "always",
    email_cap: FrequencyCap | None = None,
    sms_cap: FrequencyCap | None = None,
    definition: dict[str, Any] | None = None,
    texter: bool = True,
    default_timezone: str = "UTC",
    country: str = "",
) -> World:
    if contact == "default":
        contact = Contact(
            contact_id="c-1",
            created_at="t",
            updated_at="t",
            email="ada@example.com",
            phone="+358401234567",
            first_name="Ada",
            consent={k: _consent(k) for k in ("email:news", "sms:news")},
        )
    policy = DeliveryPolicy(
        secrets=["s" * 32],
        public_base_url="https://x.example",
        default_timezone=default_timezone,
        default_country_code=country,
        send_window=SendWindow.parse(window),
        email_cap=email_cap,
        sms_cap=sms_cap,
        sms_sender_id="Nurture",
    )
    store, mailer, sms, activities = Store(), Mailer(), Texter(), InMemoryActivities()
    service = DeliveryService(
        contacts=Contacts(contact),  # type: ignore[arg-type]
        activities=activities,  # type: ignore[arg-type]
        state=State(definition or {}),
        blobs=Blobs(),
        store=store,  # type: ignore[arg-type]
        mailer=mailer,
        policy=policy,
        sender="hello@example.com",
        configuration_tags={"site": "main"},
        texter=sms if texter else None,
    )
    return World(service, store, mailer, sms, activities)


JOB_PROPS = {
    "program_id": "p",
    "step_id": "s1",
    "execution": "p--c-1",
    "send_id": JOB.send_id,
    "purpose": "marketing",
    "topic": "news",
}
SMS_JOB = replace(JOB, params={"text": "Hi {{ contact.first_name }}", "topic": "news"})


# --- sent ---------------------------------------------------------------------------------
def test_a_sent_email_its_tags_ledger_and_activity(now: Clock) -> None:
    w = world()
    assert w.service.send_email(JOB) == {"status": "sent", "message_id": "ses-1", "retry_at": None}
    [email] = w.mailer.sent
    assert "<p>x</p>" in email.html and email.text.startswith("x")
    # the one-click unsubscribe link is signed for this program's step
    token = email.headers["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    scope = verify(["s" * 32], token, UNSUBSCRIBE, EPOCH).scope
    assert (scope["pg"], scope["st"]) == ("p", "s1")
    assert (email.to, email.sender, email.subject) == (
        "ada@example.com",
        "hello@example.com",
        "Hi Ada",
    )
    assert email.tags == {
        "contact_id": "c-1",
        "program_id": "p",
        "step_id": "s1",
        "execution": "p--c-1",
        "send_id": JOB.send_id,
        "purpose": "marketing",
        "topic": "news",
        "site": "main",
    }
    assert w.store.ledger[JOB.send_id] == LedgerEntry(
        status="sent", claimed_at=EPOCH, message_id="ses-1"
    )
    assert w.recorded("email.sent") == [
        {
            **JOB_PROPS,
            "provider_message_id": "ses-1",
            "ses_message_id": "ses-1",
            "subject": "Hi Ada",
            "template": "t",
        }
    ]
    [activity] = w.activities.items.values()
    assert (activity.actor, activity.contact_id, activity.kind) == ("contact:c-1", "c-1", "email")
    assert w.store.counts == {}  # SES's own events count emails


def test_a_job_without_purpose_or_topic_is_marketing_about_marketing(now: Clock) -> None:
    job = replace(JOB, params={"template": "t"})
    assert (job.purpose, job.topic) == ("marketing", "marketing")
    w = world()
    # consent for "news" only: the generic marketing topic is not covered
    assert w.service.send_email(job) == {
        "status": "skipped",
        "reason": "no_consent",
        "retry_at": None,
    }


def test_a_send_the_ledger_knows_is_recorded_once_and_not_sent_again(now: Clock) -> None:
    w = world()
    w.store.ledger[JOB.send_id] = LedgerEntry(status="sent", message_id="ses-9")
    for _ in range(2):
        assert w.service.send_email(JOB) == {
            "status": "already_sent",
            "message_id": "ses-9",
            "retry_at": None,
        }
    assert w.mailer.sent == []
    assert w.recorded("email.sent") == [
        {
            **JOB_PROPS,
            "provider_message_id": "ses-9",
            "ses_message_id": "ses-9",
            "template": "t",
            "recovered": True,
        }
    ]


def test_a_failed_send_stays_skipped_with_its_reason(now: Clock) -> None:
    w = world()
    w.store.ledger[JOB.send_id] = LedgerEntry(status="failed", reason="rejected_MessageRejected")
    assert w.service.send_email(JOB) == {
        "status": "skipped",
        "reason": "rejected_MessageRejected",
        "retry_at": None,
    }
    assert w.mailer.sent == [] and w.activities.items == {}


# --- skipped ------------------------------------------------------------------------------
def _skipped(w: World, job: SendJob = JOB, channel: str = "email") -> dict[str, Any]:
    send = w.service.send_email if channel == "email" else w.service.send_sms
    result = send(job)
    assert result["status"] == "skipped" and result["retry_at"] is None
    [props] = w.recorded(f"{channel}.skipped")
    assert w.store.counts == {"skipped": 1}
    assert w.mailer.sent == [] and w.texter.sent == []
    return {"reason": result["reason"], **{k: v for k, v in props.items() if k not in JOB_PROPS}}


def test_skip_reasons(now: Clock) -> None:
    assert _skipped(world(contact=None)) == {"reason": "contact_missing"}
    nameless = Contact(contact_id="c-1", created_at="t", updated_at="t")
    assert _skipped(world(contact=nameless)) == {"reason": "no_address"}
    bounced = world()
    bounced.store.suppressed["email:ada@example.com"] = SuppressionRecord(
        channel="email", reason="hard_bounce", at="t"
    )
    assert _skipped(bounced) == {"reason": "suppressed_hard_bounce"}
    missing = replace(JOB, params={**JOB.params, "template": "nope"})
    skipped = _skipped(world(), missing)
    assert skipped["reason"] == "template_error" and "nope" in skipped["detail"]


def test_a_skip_is_recorded_and_counted_once_however_often_it_is_retried(now: Clock) -> None:
    w = world(contact=None)
    for _ in range(3):
        w.service.send_email(JOB)
    assert w.store.counts == {"skipped": 1}
    assert len(w.recorded("email.skipped")) == 1


def test_a_long_detail_is_cut_to_500_characters(now: Clock) -> None:
    w = world()
    long = replace(SMS_JOB, params={**SMS_JOB.params, "text": "x" * 2000})
    props = _skipped(w, long, "sms")
    assert props["reason"] == "too_long" and props["detail"] == "14 segments; at most 10"
    w2 = world()
    job = replace(JOB, params={**JOB.params, "template": "n" * 600})
    assert len(_skipped(w2, job)["detail"]) == 500


# --- deferred -----------------------------------------------------------------------------
def test_quiet_hours_defer_to_the_opening_and_note_the_first_deferral(now: Clock) -> None:
    w = world(window="10:00-20:00")
    result = w.service.send_email(JOB)
    assert result == {
        "status": "deferred",
        "reason": "quiet_hours",
        "retry_at": "2026-01-05T10:00:00Z",
    }
    assert w.recorded("email.deferred") == [
        {**JOB_PROPS, "reason": "quiet_hours", "retry_at": "2026-01-05T10:00:00Z"}
    ]
    assert w.store.ledger[JOB.send_id] == LedgerEntry(status=None, first_deferred_at=EPOCH)
    now.at += timedelta(minutes=30)  # deferred again: the first deferral is kept
    w.service.send_email(JOB)
    assert w.store.ledger[JOB.send_id].first_deferred_at == EPOCH
    assert w.mailer.sent == [] and w.store.counts == {}


def test_over_the_cap_defers_until_the_oldest_send_leaves_inside_the_window(now: Clock) -> None:
    w = world(window="08:00-20:00", email_cap=FrequencyCap(2, 86400))
    w.store.caps["c-1"] = [(EPOCH - 3600, "a"), (EPOCH - 60, "b")]
    result = w.service.send_email(JOB)
    # the oldest (08:00) leaves the 24-hour window at 08:00 tomorrow, when the window is open
    assert result == {
        "status": "deferred",
        "reason": "frequency_cap",
        "retry_at": "2026-01-06T08:00:00Z",
    }


def test_a_release_in_quiet_hours_waits_for_the_window(now: Clock) -> None:
    w = world(window="08:00-20:00", email_cap=FrequencyCap(1, 12 * 3600))
    w.store.caps["c-1"] = [(EPOCH - 60, "a")]  # leaves at 20:59, after the window closes
    result = w.service.send_email(JOB)
    assert result == {
        "status": "deferred",
        "reason": "frequency_cap",
        "retry_at": "2026-01-06T08:00:00Z",
    }


def test_over_the_cap_a_step_can_skip_instead(now: Clock) -> None:
    w = world(email_cap=FrequencyCap(1, 7 * 86400))
    w.store.caps["c-1"] = [(EPOCH - 60, "a")]
    job = replace(JOB, params={**JOB.params, "when_capped": "skip"})
    assert _skipped(w, job) == {"reason": "frequency_cap", "detail": "at most 1 per 168 hours"}


def test_under_the_cap_the_send_is_counted_in_it(now: Clock) -> None:
    w = world(email_cap=FrequencyCap(2, 86400))
    assert w.service.send_email(JOB)["status"] == "sent"
    assert w.store.caps["c-1"] == [(EPOCH, JOB.send_id)]


def test_throttling_defers_by_what_the_provider_asks_and_never_to_the_past(now: Clock) -> None:
    w = world()
    w.mailer.fail_with = DeliveryThrottled("Throttling", retry_after_seconds=0)
    result = w.service.send_email(JOB)
    assert result == {
        "status": "deferred",
        "reason": "throttled",
        "retry_at": "2026-01-05T09:00:01Z",
    }


def test_an_invalid_program_window_falls_back_to_the_sites(now: Clock) -> None:
    w = world(window="10:00-20:00", definition={"send_window": "9 to 5"})
    assert w.service.send_email(JOB)["retry_at"] == "2026-01-05T10:00:00Z"
    step = replace(JOB, params={**JOB.params, "send_window": "09:00-09:30"})
    assert world(window="10:00-20:00").service.send_email(step)["status"] == "sent"


# --- SMS ----------------------------------------------------------------------------------
def test_a_marketing_sms_carries_the_opt_out_and_is_counted(now: Clock) -> None:
    w = world()
    assert w.service.send_sms(SMS_JOB) == {
        "status": "sent",
        "message_id": "sns-1",
        "retry_at": None,
    }
    assert w.texter.sent == [
        OutgoingSms(
            to="+358401234567",
            text="Hi Ada\nReply STOP to opt out",
            sender_id="Nurture",
            transactional=False,
        )
    ]
    assert w.recorded("sms.sent") == [
        {
            **JOB_PROPS,
            "provider_message_id": "sns-1",
            "segments": 1,
            "encoding": "GSM-7",
            "characters": len("Hi Ada\nReply STOP to opt out"),
        }
    ]
    assert w.store.counts == {"sms_sent": 1}


def test_an_sms_that_says_stop_already_or_a_service_one_gets_no_opt_out(now: Clock) -> None:
    w = world()
    says_stop = replace(SMS_JOB, params={**SMS_JOB.params, "text": "Text stop to end"})
    w.service.send_sms(says_stop)
    service = replace(SMS_JOB, step_id="s2", params={**SMS_JOB.params, "purpose": "service"})
    w.service.send_sms(service)
    assert [(s.text, s.transactional) for s in w.texter.sent] == [
        ("Text stop to end", False),
        ("Hi Ada", True),
    ]


def test_sms_skip_reasons(now: Clock) -> None:
    assert _skipped(world(texter=False), SMS_JOB, "sms") == {"reason": "sms_not_configured"}
    empty = replace(SMS_JOB, params={**SMS_JOB.params, "text": "  ", "purpose": "service"})
    assert _skipped(world(), empty, "sms") == {"reason": "empty_message"}
    no_phone = Contact(contact_id="c-1", created_at="t", updated_at="t", email="a@x.example")
    assert _skipped(world(contact=no_phone), SMS_JOB, "sms") == {"reason": "no_address"}


# --- the edges of the ledger, deferrals and counters ------------------------------------
def test_a_claim_taken_by_another_invocation_waits_without_starting_the_deferral_clock(
    now: Clock,
) -> None:
    w = world()
    w.store.refuse_claims = True
    assert w.service.send_email(JOB) == {
        "status": "deferred",
        "reason": "send_in_progress",
        "retry_at": "2026-01-05T09:10:00Z",
    }
    assert JOB.send_id not in w.store.ledger  # no first_deferred_at noted
    assert w.recorded("email.deferred") == [
        {**JOB_PROPS, "reason": "send_in_progress", "retry_at": "2026-01-05T09:10:00Z"}
    ]
    assert w.mailer.sent == []


def test_a_fresh_claim_is_waited_on_until_its_grace_second(now: Clock) -> None:
    w = world()
    w.store.ledger[JOB.send_id] = LedgerEntry(status="claimed", claimed_at=EPOCH - 599)
    assert w.service.send_email(JOB)["reason"] == "send_in_progress"
    assert w.store.ledger[JOB.send_id].first_deferred_at == 0
    w.store.ledger[JOB.send_id] = LedgerEntry(status="claimed", claimed_at=EPOCH - 600)
    assert w.service.send_email(JOB)["status"] == "sent"


def test_each_deferral_to_a_new_time_is_its_own_activity(now: Clock) -> None:
    w = world()
    w.mailer.fail_with = DeliveryThrottled("Throttling", retry_after_seconds=60)
    w.service.send_email(JOB)
    w.service.send_email(JOB)  # a retry deferred to the same time: the same activity
    now.at += timedelta(minutes=1)
    w.service.send_email(JOB)
    retries = [p["retry_at"] for p in w.recorded("email.deferred")]
    assert sorted(retries) == ["2026-01-05T09:01:00Z", "2026-01-05T09:02:00Z"]


def test_a_message_may_wait_exactly_30_days(now: Clock) -> None:
    w = world(window="mon 03:00-03:01")
    w.store.ledger[JOB.send_id] = LedgerEntry(status=None, first_deferred_at=EPOCH - 30 * 86400)
    assert w.service.send_email(JOB)["status"] == "deferred"
    w.store.ledger[JOB.send_id] = LedgerEntry(status=None, first_deferred_at=EPOCH - 30 * 86400 - 1)
    assert _skipped(w) == {"reason": "deferred_too_long", "detail": "quiet_hours"}


def test_counters_are_kept_per_program_step_and_once_per_send(now: Clock) -> None:
    w = world(contact=None)
    w.service.send_email(JOB)
    assert w.store.count_calls == [("p", "s1", {"skipped": 1}, f"skipped#{JOB.send_id}")]
    sms = world()
    sms.service.send_sms(SMS_JOB)
    assert sms.store.count_calls == [("p", "s1", {"sms_sent": 1}, f"sms.sent#{JOB.send_id}")]
    assert sms.store.phones == [("+358401234567", "c-1")]  # so a STOP reply finds them


def test_sms_edges(now: Clock) -> None:
    bad = Contact(contact_id="c-1", created_at="t", updated_at="t", phone="12")
    skipped = _skipped(world(contact=bad), SMS_JOB, "sms")
    assert skipped == {
        "reason": "invalid_number",
        "detail": "has no country code (+<country> <number>) and no default country is set",
    }
    broken = replace(SMS_JOB, params={**SMS_JOB.params, "text": "Hi {{ contact.first_name "})
    skipped = _skipped(world(), broken, "sms")
    assert skipped == {
        "reason": "template_error",
        "detail": "text: syntax error on line 1: unexpected end of template, expected 'end of"
        " print statement'.",
    }
    # ten GSM-7 segments (153 characters each) is the most an SMS may have
    ten = replace(SMS_JOB, params={"text": "x" * 1530, "purpose": "service"})
    assert world().service.send_sms(ten)["status"] == "sent"
    eleven = replace(SMS_JOB, params={"text": "x" * 1531, "purpose": "service"})
    assert _skipped(world(), eleven, "sms")["reason"] == "too_long"


def test_two_sends_are_two_activities(now: Clock) -> None:
    w = world()
    w.service.send_email(JOB)
    w.service.send_email(replace(JOB, step_id="s2"))
    assert [p["step_id"] for p in w.recorded("email.sent")] == ["s1", "s2"]


def test_an_sms_the_ledger_knows_is_recorded_without_a_template(now: Clock) -> None:
    w = world()
    w.store.ledger[JOB.send_id] = LedgerEntry(status="sent", message_id="sns-9")
    assert w.service.send_sms(SMS_JOB)["status"] == "already_sent"
    [props] = w.recorded("sms.sent")
    assert "template" not in props and props["recovered"] is True


def test_a_program_that_is_gone_leaves_the_sites_window(now: Clock) -> None:
    w = world(window="10:00-20:00")
    w.service.state.known = "other"  # type: ignore[attr-defined]
    assert w.service.send_email(JOB)["retry_at"] == "2026-01-05T10:00:00Z"


def test_a_contact_without_a_zone_is_in_the_sites_zone(now: Clock) -> None:
    now.at = NOW.replace(hour=6, minute=30)  # 08:30 in Helsinki, 06:30 in UTC
    w = world(window="08:00-20:00", default_timezone="Europe/Helsinki")
    assert w.service.send_email(JOB)["status"] == "sent"
    capped = world(
        window="08:00-20:00", default_timezone="Europe/Helsinki", email_cap=FrequencyCap(1, 3600)
    )
    capped.store.caps["c-1"] = [(int(now.at.timestamp()) - 60, "a")]
    capped.store.cap_calls.clear()
    # the cap frees at 07:29 UTC (09:29 in Helsinki): inside Helsinki's window
    assert capped.service.send_email(JOB)["retry_at"] == "2026-01-05T07:29:00Z"
    assert capped.store.cap_calls == [("reserve", "email")]


def test_a_national_number_is_read_in_the_sites_country(now: Clock) -> None:
    national = Contact(
        contact_id="c-1",
        created_at="t",
        updated_at="t",
        phone="040 1234567",
        consent={"sms:news": _consent("sms:news")},
    )
    w = world(contact=national, country="358")
    assert w.service.send_sms(SMS_JOB)["status"] == "sent"
    assert w.texter.sent[0].to == "+358401234567"


def test_a_throttled_service_message_touches_no_cap(now: Clock) -> None:
    w = world(email_cap=FrequencyCap(3, 86400))
    w.mailer.fail_with = DeliveryThrottled("Throttling", retry_after_seconds=60)
    service = replace(JOB, params={**JOB.params, "purpose": "service"})
    assert w.service.send_email(service)["status"] == "deferred"
    assert w.store.cap_calls == []
    marketing = world(email_cap=FrequencyCap(3, 86400))
    marketing.mailer.fail_with = DeliveryThrottled("Throttling", retry_after_seconds=60)
    marketing.service.send_email(JOB)
    assert marketing.store.cap_calls == [("reserve", "email"), ("release", "email")]


OLD = EPOCH - 31 * 86400  # a first deferral 31 days ago


@pytest.mark.parametrize("case", ["throttled", "capped", "claimed", "claim_refused"])
def test_every_kind_of_deferral_counts_toward_the_30_days(now: Clock, case: str) -> None:
    w = world(email_cap=FrequencyCap(1, 86400) if case == "capped" else None)
    entry = LedgerEntry(status=None, first_deferred_at=OLD)
    if case == "throttled":
        w.mailer.fail_with = DeliveryThrottled("Throttling", retry_after_seconds=60)
    elif case == "capped":
        w.store.caps["c-1"] = [(EPOCH - 60, "a")]
    elif case == "claimed":
        entry = LedgerEntry(status="claimed", claimed_at=EPOCH - 10, first_deferred_at=OLD)
    else:
        w.store.refuse_claims = True
    w.store.ledger[JOB.send_id] = entry
    result = w.service.send_email(JOB)
    assert (result["status"], result["reason"]) == ("skipped", "deferred_too_long")


def test_an_sms_knows_its_program(now: Clock) -> None:
    w = world()
    job = replace(SMS_JOB, params={"text": "From {{ program.id }}", "purpose": "service"})
    w.service.send_sms(job)
    assert w.texter.sent[0].text == "From p"
