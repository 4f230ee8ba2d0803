"""When and how often: send windows in the contact's time zone, the frequency cap across
programs, a retried step sending once, templates checked at deploy, engagement counters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.integration.delivery_helpers import (
    activities,
    contact,
    program,
    send,
    setup,
    sign_up,
    stats,
)

pytestmark = pytest.mark.integration
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the local cloud's Monday morning


@pytest.fixture
def helsinki() -> Iterator[LocalCloud]:
    """A site in Helsinki: contacts without a time zone get Europe/Helsinki."""
    cloud = LocalCloud(parameters={"DefaultTimezone": "Europe/Helsinki"}).start()
    try:
        yield cloud
    finally:
        cloud.__exit__()


def test_a_send_due_at_night_waits_for_the_window_in_the_contacts_time_zone(
    helsinki: LocalCloud,
) -> None:
    cloud = helsinki
    setup(
        cloud,
        {"news": program("news", send("n1", "t-a") + send("receipt", "t-b", purpose="service"))},
    )

    # Given Ada in Auckland, where 09:00 UTC is 22:00, and Bea with no zone (Helsinki: 11:00)
    sign_up(cloud, "ada@example.com", timezone="Pacific/Auckland", news="on")
    sign_up(cloud, "bea@example.com", news="on")

    # Bea gets both at once; Ada's marketing email waits, so her service email waits behind it
    assert sorted((e.to[0], e.subject) for e in cloud.outbox) == [
        ("bea@example.com", "Subject t-a"),
        ("bea@example.com", "Subject t-b"),
    ]
    ada = contact(cloud)
    [deferred] = activities(cloud, ada.contact_id, "email.deferred")
    assert deferred["properties"]["reason"] == "quiet_hours"
    # 08:00 on Tuesday in Auckland (NZDT, UTC+13) is 19:00 on Monday UTC
    assert deferred["properties"]["retry_at"] == "2026-01-05T19:00:00Z"

    cloud.advance(timedelta(hours=12))
    ada_mail = [e for e in cloud.outbox if e.to == ["ada@example.com"]]
    assert [(e.subject, e.sent_at) for e in ada_mail] == [
        ("Subject t-a", datetime(2026, 1, 5, 19, 0, tzinfo=UTC)),
        ("Subject t-b", datetime(2026, 1, 5, 19, 0, tzinfo=UTC)),
    ]
    assert cloud.errors == []


def test_the_frequency_cap_counts_marketing_across_programs(cloud: LocalCloud) -> None:
    # Given three programs on one form; the cap is 3 marketing emails per 7 days
    day = "  - id: wait-{n}\n    type: wait\n    duration: {n} days\n"
    setup(
        cloud,
        {
            "prog-a": program("prog-a", send("a1", "t-a") + day.format(n=1) + send("a2", "t-a")),
            "prog-b": program("prog-b", send("b1", "t-b") + day.format(n=2) + send("b2", "t-b")),
            "prog-c": program(
                "prog-c", day.format(n=3) + send("c1", "t-c", extra="    when_capped: skip\n")
            ),
        },
    )
    sign_up(cloud, news="on")
    cloud.advance(timedelta(days=8))

    sent = [(e.tags["step_id"], e.sent_at - START) for e in cloud.outbox]
    # a1, b1 now; a2 a day later (3rd); b2 (4th) waits until a1 and b1 leave the 7 days
    assert sent == [
        ("a1", timedelta(0)),
        ("b1", timedelta(0)),
        ("a2", timedelta(days=1)),
        ("b2", timedelta(days=7)),
    ]
    ada = contact(cloud)
    [skipped] = activities(cloud, ada.contact_id, "email.skipped")
    assert (skipped["properties"]["step_id"], skipped["properties"]["reason"]) == (
        "c1",
        "frequency_cap",
    )
    [deferred] = activities(cloud, ada.contact_id, "email.deferred")
    assert (deferred["properties"]["step_id"], deferred["properties"]["reason"]) == (
        "b2",
        "frequency_cap",
    )
    assert cloud.errors == []


def _request(contact_id: str, execution: str = "manual-1") -> dict[str, Any]:
    return {
        "action": "send_email",
        "program_id": "news",
        "step_id": "n1",
        "contact_id": contact_id,
        "execution": execution,
        "params": {
            "template": "t-a",
            "purpose": "marketing",
            "topic": "newsletter",
            "when_capped": "defer",
        },
    }


def test_a_retried_step_sends_once(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(cloud, {})
    sign_up(cloud, news="on")
    ada = contact(cloud)

    # Step Functions retries the task (e.g. the first answer was lost): one email
    first = cloud.invoke("StepsFunction", _request(ada.contact_id))
    again = cloud.invoke("StepsFunction", _request(ada.contact_id))
    assert (first["status"], again["status"]) == ("sent", "already_sent")
    assert again["message_id"] == first["message_id"]
    assert len(cloud.outbox) == 1

    # The crash window: SES accepted the email but the function died before recording it
    store = cloud.functions["StepsFunction"].module.runner.delivery.store

    def die(send_id: str, message_id: str) -> None:
        raise RuntimeError("the function died here")

    monkeypatch.setattr(store, "ledger_sent", die)
    with pytest.raises(RuntimeError):
        cloud.invoke("StepsFunction", _request(ada.contact_id, "manual-2"))
    monkeypatch.undo()
    assert len(cloud.outbox) == 2
    # SES's Send event (tagged with the send id) settles the ledger: the retry does not resend
    cloud.run_until_idle()
    retry = cloud.invoke("StepsFunction", _request(ada.contact_id, "manual-2"))
    assert retry["status"] == "already_sent"
    assert retry["message_id"] == cloud.outbox[1].message_id
    assert len(cloud.outbox) == 2


def test_a_template_with_an_undefined_variable_fails_the_deploy(cloud: LocalCloud) -> None:
    setup(cloud, {})
    cloud.upload(
        "templates/email/t-bad.yaml",
        'subject: "Hi {{ contact.nickname }}"\nhtml: "<p>x</p>"\ntext: "x"\n',
    )
    cloud.upload(
        "templates/email/t-broken.yaml",
        'subject: "Hi"\nhtml: "<p>{% if contact.first_name %}x</p>"\ntext: "x"\n',
    )
    cloud.upload("programs/bad.yaml", program("bad", send("b1", "t-bad") + send("b2", "t-broken")))

    status = json.loads(cloud.read("programs/bad.status.json") or "{}")
    assert status["status"] == "invalid"
    problems = " | ".join(p["problem"] for p in status["problems"])
    assert (
        "email template 't-bad'" in problems and "undefined variable 'contact.nickname'" in problems
    )
    assert "email template 't-broken'" in problems and "syntax error on line 1" in problems
    assert cloud.read("programs/bad.yaml") is not None and cloud.outbox == []


def test_opens_and_clicks_are_counted_per_step_and_resume_a_waiting_run(cloud: LocalCloud) -> None:
    steps = (
        send("e1", "t-a")
        + "  - id: wait-open\n    type: wait_for_event\n    event: email.opened\n    email: e1\n"
        "    timeout: 3 days\n    on_event: e2\n    on_timeout: done\n"
        + send("e2", "t-b")
        + "    next: done\n"
        + "  - id: done\n    type: end\n"
    )
    setup(cloud, {"engage": program("engage", steps)})
    sign_up(cloud, news="on")
    [e1] = cloud.outbox

    # An open resumes the waiting run at once; SNS delivering the same event twice counts once
    cloud.ses_event(e1, "Open", {"userAgent": "x", "ipAddress": "192.0.2.1"})
    cloud.ses_event(e1, "Open", {"userAgent": "x", "ipAddress": "192.0.2.1"})
    cloud.run_until_idle()
    assert [e.subject for e in cloud.outbox] == ["Subject t-a", "Subject t-b"]
    assert cloud.outbox[1].sent_at == START

    # Later: another open and two clicks
    cloud.advance(timedelta(hours=1))
    cloud.open_email(e1)
    cloud.click_email(e1)
    cloud.advance(timedelta(minutes=5))
    cloud.click_email(e1)

    assert stats(cloud, "engage", "e1") == {
        "sent": 1,
        "delivered": 1,
        "opened": 2,
        "opened_unique": 1,
        "clicked": 2,
        "clicked_unique": 1,
    }
    assert stats(cloud, "engage", "e2") == {"sent": 1, "delivered": 1}
    clicks = activities(cloud, contact(cloud).contact_id, "email.clicked")
    assert {c["properties"]["link"] for c in clicks} == {"https://example.com/t-a"}
    assert cloud.errors == []
