"""Hard bounces, complaints and repeated soft bounces suppress an address everywhere;
SMS goes through SNS, and a STOP reply opts the number out."""

from __future__ import annotations

from datetime import timedelta

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

LATER = "  - id: pause\n    type: wait\n    duration: 1 day\n"


def _bounce(bounce_type: str, subtype: str = "General") -> dict[str, object]:
    return {
        "bounceType": bounce_type,
        "bounceSubType": subtype,
        "bouncedRecipients": [{"emailAddress": "ada@example.com"}],
    }


def test_a_hard_bounce_suppresses_the_address_in_every_program(cloud: LocalCloud) -> None:
    # Given two programs that write to Ada, the second a day later (and a service message)
    setup(
        cloud,
        {
            "news": program("news", send("n1", "t-a")),
            "later": program("later", LATER + send("receipt", "t-b", purpose="service")),
        },
    )
    sign_up(cloud, news="on")
    [email] = cloud.outbox

    # When SES reports a permanent bounce
    cloud.ses_event(email, "Bounce", _bounce("Permanent"))
    cloud.run_until_idle()
    cloud.advance(timedelta(days=2))

    # Then nothing is sent to the address again, not even a service message
    assert [e.subject for e in cloud.outbox] == ["Subject t-a"]
    ada = contact(cloud)
    assert (ada.suppressed["email"].reason, ada.suppressed["email"].detail) == (
        "hard_bounce",
        "General",
    )
    [skipped] = activities(cloud, ada.contact_id, "email.skipped")
    assert skipped["properties"]["reason"] == "suppressed_hard_bounce"
    assert stats(cloud, "news", "n1")["bounced"] == 1
    assert activities(cloud, ada.contact_id, "contact.suppressed")
    assert cloud.errors == []


def test_a_complaint_suppresses_the_address(cloud: LocalCloud) -> None:
    setup(cloud, {"two": program("two", send("n1", "t-a") + LATER + send("n2", "t-b"))})
    sign_up(cloud, news="on")
    cloud.ses_event(
        cloud.outbox[0],
        "Complaint",
        {
            "complainedRecipients": [{"emailAddress": "ada@example.com"}],
            "complaintFeedbackType": "abuse",
        },
    )
    cloud.run_until_idle()
    cloud.advance(timedelta(days=2))

    assert len(cloud.outbox) == 1
    assert contact(cloud).suppressed["email"].reason == "complaint"
    assert stats(cloud, "two", "n1")["complained"] == 1


def test_three_soft_bounces_within_30_days_suppress_but_one_does_not(cloud: LocalCloud) -> None:
    setup(cloud, {"news": program("news", send("n1", "t-a"))})
    sign_up(cloud, news="on")
    [email] = cloud.outbox
    for day in range(3):
        cloud.ses_event(email, "Bounce", _bounce("Transient", "MailboxFull"))
        cloud.run_until_idle()
        if day == 0:
            assert "email" not in contact(cloud).suppressed
            # SNS delivering the same event twice counts it once
            cloud.ses_event(email, "Bounce", _bounce("Transient", "MailboxFull"))
        cloud.advance(timedelta(days=1))
    assert contact(cloud).suppressed["email"].reason == "soft_bounces"
    assert stats(cloud, "news", "n1")["bounced"] == 3


SMS_PROGRAM = """\
  - id: text-1
    type: send_sms
    text: "Hi {{ contact.first_name }}, 20% off everything today!"
    topic: offers
  - id: pause
    type: wait
    duration: 1 day
  - id: text-2
    type: send_sms
    text: "Last day of the sale, {{ contact.first_name }}."
    topic: offers
"""


def test_sms_goes_through_sns_and_stop_opts_the_number_out(cloud: LocalCloud) -> None:
    setup(cloud, {"sale": program("sale", SMS_PROGRAM)})
    sign_up(cloud, phone="+358 40 123 4567", texts="on")

    # The number is sent to in E.164, as promotional, with the opt-out hint
    [sms] = cloud.sms_outbox
    assert sms.to == "+358401234567"
    assert sms.sms_type == "Promotional"
    assert sms.text == "Hi Ada, 20% off everything today!\nReply STOP to opt out"
    ada = contact(cloud)
    [sent] = activities(cloud, ada.contact_id, "sms.sent")
    assert (sent["properties"]["segments"], sent["properties"]["encoding"]) == (1, "GSM-7")

    # When Ada replies "stop" (any case, any of the usual words)
    cloud.sms_reply("+358401234567", "Stop")

    # Then the number is opted out: the next text is skipped, and the contact shows why
    cloud.advance(timedelta(days=2))
    assert len(cloud.sms_outbox) == 1
    ada = contact(cloud)
    assert ada.suppressed["sms"].reason == "sms_stop"
    assert ada.consent["sms:offers"].status == "withdrawn"
    [skipped] = activities(cloud, ada.contact_id, "sms.skipped")
    assert skipped["properties"]["reason"] == "suppressed_sms_stop"
    assert stats(cloud, "sale", "text-1")["sms_sent"] == 1
    assert cloud.errors == []


def test_an_sms_without_consent_or_a_valid_number_is_skipped(cloud: LocalCloud) -> None:
    setup(cloud, {"sale": program("sale", SMS_PROGRAM)})
    sign_up(cloud, "bea@example.com", phone="+358 40 765 4321")  # no SMS consent
    # "12" is no number in any plan: the form refuses it by field, so no contact is texted
    # (the sender's `invalid_number` skip remains for numbers stored before phones were
    # checked at ingest)
    body = {"email": "cid@example.com", "first_name": "Cid", "phone": "12", "texts": "on"}
    status, _, answer = cloud.http("POST", "/v1/forms/t-signup", body)
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["phone"]
    assert cloud.sms_outbox == []
    reasons = {
        activities(cloud, contact(cloud, e).contact_id, "sms.skipped")[0]["properties"]["reason"]
        for e in ("bea@example.com",)
    }
    assert reasons == {"no_consent"}
