"""Consent rules, asserted on the stored records: what each answer says, and exactly what
withdrawing and saving preferences leave on the contact."""

from __future__ import annotations

import pytest

from nurture.contacts import Consent, Contact
from nurture.delivery.consent import (
    Permission,
    marketing_permission,
    permission,
    set_preferences,
    withdraw_all,
)

pytestmark = pytest.mark.unit
AT = "2026-03-01T10:00:00Z"


def _consent(key: str, status: str, text: str = "") -> Consent:
    channel, topic = key.split(":", 1)
    return Consent.model_validate(
        {
            "channel": channel,
            "topic": topic,
            "status": status,
            "at": "t0",
            "source": "form",
            "text": text,
        }
    )


def _contact(**records: str) -> Contact:
    consent = {k.replace("__", ":"): _consent(k.replace("__", ":"), v) for k, v in records.items()}
    return Contact(
        contact_id="c-1", created_at="t", updated_at="t", email="a@x.example", consent=consent
    )


def _state(contact: Contact) -> dict[str, tuple[str, str, str, str, str]]:
    return {k: (c.channel, c.topic, c.status, c.source, c.text) for k, c in contact.consent.items()}


# --- permission ---------------------------------------------------------------------------
def test_each_answer_and_its_reason() -> None:
    nobody = _contact()
    assert marketing_permission(nobody, "email", "news") == Permission(False, "no_consent")
    assert marketing_permission(_contact(email__news="granted"), "email", "news") == Permission(
        True, ""
    )
    assert marketing_permission(_contact(email__news="pending"), "email", "news") == Permission(
        False, "consent_pending"
    )
    assert marketing_permission(_contact(email__news="withdrawn"), "email", "news") == Permission(
        False, "consent_withdrawn"
    )
    assert permission(nobody, "email", "service", "orders") == Permission(True, "")
    assert permission(nobody, "email", "marketing", "news") == Permission(False, "no_consent")


def test_the_generic_consent_covers_topics_without_their_own_record() -> None:
    generic = _contact(email__marketing="granted")
    assert marketing_permission(generic, "email", "news").allowed
    assert not marketing_permission(generic, "sms", "news").allowed  # another channel
    opted_out = _contact(email__marketing="granted", email__news="withdrawn")
    assert marketing_permission(opted_out, "email", "news") == Permission(
        False, "consent_withdrawn"
    )
    assert marketing_permission(
        _contact(email__marketing="withdrawn"), "email", "marketing"
    ) == Permission(False, "consent_withdrawn")


# --- withdraw_all -------------------------------------------------------------------------
def test_withdrawing_one_channel_leaves_the_other_and_keeps_the_wording() -> None:
    contact = _contact(email__news="granted", email__offers="withdrawn", sms__news="granted")
    contact.consent["email:news"] = _consent("email:news", "granted", "Send me the news")
    changed = withdraw_all(contact, "email", AT, "unsubscribe")
    assert changed == ["email:marketing", "email:news"]  # offers was withdrawn already
    assert _state(contact) == {
        "email:news": ("email", "news", "withdrawn", "unsubscribe", "Send me the news"),
        "email:offers": ("email", "offers", "withdrawn", "form", ""),
        "email:marketing": ("email", "marketing", "withdrawn", "unsubscribe", ""),
        "sms:news": ("sms", "news", "granted", "form", ""),
    }
    assert contact.consent["email:news"].at == AT
    assert contact.consent["email:offers"].at == "t0"  # untouched


def test_withdrawing_every_channel() -> None:
    contact = _contact(email__news="granted", sms__alerts="pending")
    changed = withdraw_all(contact, None, AT, "complaint")
    assert changed == ["email:marketing", "email:news", "sms:alerts", "sms:marketing"]
    assert {k: c.status for k, c in contact.consent.items()} == dict.fromkeys(changed, "withdrawn")


def test_a_topic_with_a_colon_keeps_all_of_it() -> None:
    contact = _contact(**{"email__events:berlin": "granted"})
    withdraw_all(contact, "email", AT, "unsubscribe")
    assert contact.consent["email:events:berlin"].topic == "events:berlin"
    saved = _contact()
    set_preferences(saved, {"email:events:berlin": True}, AT, "preferences", {})
    assert saved.consent["email:events:berlin"].topic == "events:berlin"


# --- set_preferences ----------------------------------------------------------------------
def test_saving_preferences_stores_each_choice_as_chosen() -> None:
    contact = _contact(email__news="granted", email__offers="withdrawn")
    wording = {"email:offers": "Offers, twice a month", "sms:news": "News by SMS"}
    changed = set_preferences(
        contact,
        {"email:news": False, "email:offers": True, "sms:news": True, "email:tips": False},
        AT,
        "preferences",
        wording,
    )
    assert changed == ["email:news", "email:offers", "sms:news"]  # tips: not wanted, not had
    assert _state(contact) == {
        "email:news": ("email", "news", "withdrawn", "preferences", ""),
        "email:offers": ("email", "offers", "granted", "preferences", "Offers, twice a month"),
        "sms:news": ("sms", "news", "granted", "preferences", "News by SMS"),
    }


def test_a_choice_already_in_effect_changes_nothing() -> None:
    contact = _contact(email__marketing="granted")
    assert set_preferences(contact, {"email:news": True, "sms:news": False}, AT, "p", {}) == []
    assert list(contact.consent) == ["email:marketing"]


@pytest.mark.parametrize("key", ["post:news", "email:", "email", ":news"])
def test_keys_that_are_not_channel_and_topic_are_skipped_and_the_rest_saved(key: str) -> None:
    contact = _contact()
    changed = set_preferences(contact, {key: True, "sms:zz": True}, AT, "p", {})
    assert changed == ["sms:zz"]
    assert list(contact.consent) == ["sms:zz"]


def test_a_topic_withdrawn_already_does_not_stop_the_others_being_withdrawn() -> None:
    contact = _contact(email__alerts="withdrawn", email__news="granted")
    assert withdraw_all(contact, "email", AT, "unsubscribe") == ["email:marketing", "email:news"]
    assert contact.consent["email:news"].status == "withdrawn"
