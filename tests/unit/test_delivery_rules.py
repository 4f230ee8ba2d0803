"""Pure delivery rules: tokens, send windows, caps, SMS numbers and segments, consent,
template messages and email composition."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from nurture.contacts import Consent, Contact
from nurture.delivery.caps import FrequencyCap, evaluate
from nurture.delivery.compose import compose_email
from nurture.delivery.config import DeliveryPolicy, DeliverySettings, check_link_secrets
from nurture.delivery.consent import confirm_pending, permission, set_preferences, withdraw_all
from nurture.delivery.sms import (
    InvalidNumber,
    is_start,
    is_stop,
    measure,
    normalise_phone,
    parse_inbound,
)
from nurture.delivery.tokens import CONFIRM, UNSUBSCRIBE, InvalidToken, LinkToken, sign, verify
from nurture.delivery.windows import SendWindow, zone_for
from nurture.rendering import (
    EmailTemplate,
    TemplateProblem,
    check_sms_text,
    render_email,
    sample_context,
)

pytestmark = pytest.mark.unit
SECRET = ["s" * 32]
NOW = 1_767_600_000


def _contact(**consent: str) -> Contact:
    records = {
        k: Consent(channel=k.split(":")[0], topic=k.split(":")[1], status=v, at="t", source="api")  # type: ignore[arg-type]
        for k, v in consent.items()
    }
    return Contact(
        contact_id="c-1",
        created_at="t",
        updated_at="t",
        email="ada@example.com",
        first_name="Ada",
        consent=records,
    )


# --- tokens -------------------------------------------------------------------------------
def test_a_signed_token_verifies_and_carries_its_scope() -> None:
    text = sign(SECRET, LinkToken("c-1", UNSUBSCRIBE, NOW + 60, {"t": "news"}))
    token = verify(SECRET, text, UNSUBSCRIBE, NOW)
    assert (token.contact_id, token.scope) == ("c-1", {"t": "news"})
    assert "c-1" not in text.split(".")[1]  # the MAC part is opaque


@pytest.mark.parametrize("change", ["payload", "mac", "purpose", "expired", "secret", "garbage"])
def test_a_tampered_expired_or_foreign_token_is_refused(change: str) -> None:
    text = sign(SECRET, LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    payload, mac = text.split(".")
    bad = {
        "payload": sign(SECRET, LinkToken("c-2", UNSUBSCRIBE, NOW + 60)).split(".")[0] + "." + mac,
        "mac": payload + "." + mac[::-1],
        "purpose": text,
        "expired": text,
        "secret": text,
        "garbage": "not-a-token",
    }[change]
    purpose = CONFIRM if change == "purpose" else UNSUBSCRIBE
    now = NOW + 61 if change == "expired" else NOW
    secrets = ["t" * 32] if change == "secret" else SECRET
    with pytest.raises(InvalidToken):
        verify(secrets, bad, purpose, now)


def test_a_rotated_secret_still_verifies_old_links() -> None:
    old = sign(["old" * 11], LinkToken("c-1", UNSUBSCRIBE, NOW + 60))
    assert verify(["new" * 11, "old" * 11], old, UNSUBSCRIBE, NOW).contact_id == "c-1"


# --- windows --------------------------------------------------------------------------------
def test_a_window_is_parsed_with_days_and_over_midnight() -> None:
    window = SendWindow.parse("mon-fri 09:00-17:00")
    assert window and (window.start, window.end, window.days) == (
        time(9),
        time(17),
        frozenset(range(5)),
    )
    assert SendWindow.parse("always") is None
    with pytest.raises(ValueError, match="not a send window"):
        SendWindow.parse("9 to 5")


@pytest.mark.parametrize(
    ("now", "zone", "window", "opening"),
    [
        ("2026-01-05T09:00:00", "Europe/Helsinki", "08:00-20:00", None),  # 11:00 local: open
        (
            "2026-01-05T01:00:00",
            "Europe/Helsinki",
            "08:00-20:00",
            "2026-01-05T06:00:00",
        ),  # 03:00 local
        (
            "2026-01-05T19:00:00",
            "Europe/Helsinki",
            "08:00-20:00",
            "2026-01-06T06:00:00",
        ),  # 21:00 local
        (
            "2026-01-05T09:00:00",
            "Pacific/Auckland",
            "08:00-20:00",
            "2026-01-05T19:00:00",
        ),  # 22:00 NZDT
        (
            "2026-01-09T17:00:00",
            "UTC",
            "mon-fri 09:00-17:00",
            "2026-01-12T09:00:00",
        ),  # Friday evening
        ("2026-01-05T23:30:00", "UTC", "20:00-02:00", None),  # over midnight
        ("2026-01-06T03:00:00", "UTC", "20:00-02:00", "2026-01-06T20:00:00"),
        # 03:30 does not exist on the spring-forward night: it moves forward by the gap (04:30)
        ("2026-03-29T00:30:00", "Europe/Helsinki", "03:30-20:00", "2026-03-29T01:30:00"),
    ],
)
def test_the_next_opening_is_in_the_contacts_zone(
    now: str, zone: str, window: str, opening: str | None
) -> None:
    parsed = SendWindow.parse(window)
    assert parsed is not None
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    found = parsed.next_opening(moment, ZoneInfo(zone))
    assert found == (datetime.fromisoformat(opening).replace(tzinfo=UTC) if opening else None)


def test_an_unknown_zone_falls_back_to_the_default() -> None:
    assert zone_for("Mars/Olympus", "Europe/Helsinki").key == "Europe/Helsinki"
    assert zone_for(None, "").key == "UTC"


# --- caps -------------------------------------------------------------------------------------
def test_the_cap_allows_up_to_the_limit_and_says_when_the_next_is_allowed() -> None:
    cap = FrequencyCap.parse("3/7d")
    assert cap == FrequencyCap(3, 7 * 86400)
    sends = [(100, "a"), (200, "b"), (300, "c")]
    decision = evaluate(sends, 400, "d", cap.limit, cap.window_seconds)
    assert (decision.allowed, decision.release_at) == (False, 100 + 7 * 86400)
    assert evaluate(sends, 400, "b", 3, 7 * 86400).allowed  # a retry of a counted send
    later = evaluate(sends, 100 + 7 * 86400, "d", 3, 7 * 86400)
    assert later.allowed and [s for _, s in later.counted] == ["b", "c", "d"]
    assert FrequencyCap.parse("none") is None
    with pytest.raises(ValueError):
        FrequencyCap.parse("three a week")


# --- SMS ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+358 40 123 4567", "", "+358401234567"),
        ("00358401234567", "", "+358401234567"),
        ("040-123 4567", "358", "+358401234567"),
        ("(425) 555-0100", "1", "+14255550100"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, country: str, e164: str) -> None:
    assert normalise_phone(raw, country) == e164


@pytest.mark.parametrize(
    "raw", ["040 123 4567", "+0123456789", "+358", "call me", "+35840123456789012"]
)
def test_bad_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        normalise_phone(raw)


def test_segments_follow_gsm7_and_ucs2_limits() -> None:
    assert (measure("a" * 160).encoding, measure("a" * 160).segments) == ("GSM-7", 1)
    assert measure("a" * 161).segments == 2
    assert measure("a" * 306).segments == 2 and measure("a" * 307).segments == 3
    assert (
        measure("€" * 80).units == 160 and measure("€" * 80).segments == 1
    )  # extension: 2 septets
    assert measure("a" * 152 + "€" + "a" * 152).segments == 3  # the escape pair is not split
    assert (measure("ä" * 160).encoding, measure("ä" * 160).segments) == ("GSM-7", 1)
    assert (measure("ő" * 70).encoding, measure("ő" * 70).segments) == ("UCS-2", 1)
    assert measure("ő" * 71).segments == 2 and measure("ő" * 134).segments == 2
    assert measure("😀" * 35).units == 70 and measure("😀" * 35).segments == 1


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop. ", "STOPALL", "unsubscribe me", "Cancel", "END", "quit"]
)
def test_stop_and_its_variants_opt_out(body: str) -> None:
    assert is_stop(body)


def test_other_replies_do_not_opt_out() -> None:
    assert not is_stop("don't stop") and not is_stop("") and is_start("START")
    inbound = parse_inbound(
        '{"originationNumber": "+358401234567", "messageBody": "STOP", "inboundMessageId": "i"}'
    )
    assert inbound is not None and inbound.from_number == "+358401234567"
    assert parse_inbound("not json") is None


# --- consent ------------------------------------------------------------------------------------
def test_marketing_needs_consent_for_the_topic_or_a_generic_one() -> None:
    assert not permission(_contact(), "email", "marketing", "news").allowed
    assert permission(_contact(), "email", "service", "news").allowed
    assert permission(_contact(**{"email:news": "granted"}), "email", "marketing", "news").allowed
    assert permission(
        _contact(**{"email:marketing": "granted"}), "email", "marketing", "offers"
    ).allowed
    topic_out = _contact(**{"email:marketing": "granted", "email:offers": "withdrawn"})
    assert permission(topic_out, "email", "marketing", "offers").reason == "consent_withdrawn"
    assert (
        permission(_contact(**{"email:news": "pending"}), "email", "marketing", "news").reason
        == "consent_pending"
    )
    assert not permission(_contact(**{"email:news": "granted"}), "sms", "marketing", "news").allowed


def test_withdrawing_all_and_saving_preferences_and_confirming() -> None:
    contact = _contact(**{"email:news": "granted", "sms:offers": "granted"})
    assert withdraw_all(contact, "email", "now", "x") == ["email:marketing", "email:news"]
    assert contact.consent["sms:offers"].status == "granted"
    assert set_preferences(
        contact, {"email:offers": True, "email:news": False}, "now", "page", {}
    ) == ["email:offers"]
    pending = _contact(**{"email:news": "pending"})
    assert confirm_pending(pending, ["email:news", "email:other"], "later") == ["email:news"]
    assert (pending.consent["email:news"].status, pending.consent["email:news"].at) == (
        "granted",
        "later",
    )


# --- templates and composition ------------------------------------------------------------------
def test_template_errors_name_the_part_and_the_variable() -> None:
    template = EmailTemplate(subject="Hi {{ contact.nickname }}", html="<p/>", text="x")
    with pytest.raises(
        TemplateProblem, match=r"'t-1': subject: undefined variable 'contact.nickname'"
    ):
        render_email(template, sample_context(), strict=True, template_id="t-1")
    broken = EmailTemplate(subject="Hi", html="<p>{% if x %}</p>", text="x")
    with pytest.raises(TemplateProblem, match="html: syntax error on line 1"):
        render_email(broken, sample_context(), strict=True)
    with pytest.raises(TemplateProblem, match="undefined variable 'shop'"):
        check_sms_text("Hi {{ shop.name }}")
    check_sms_text("Hi {{ contact.first_name | default('there') }}")


def _policy() -> DeliveryPolicy:
    return DeliveryPolicy(
        secrets=SECRET,
        public_base_url="https://news.example.com",
        send_window=None,
        default_timezone="UTC",
        email_cap=None,
        sms_cap=None,
    )


def test_a_marketing_email_carries_one_click_headers_and_a_visible_link() -> None:
    template = EmailTemplate(
        subject="Hi {{ contact.first_name }}", html="<html><body><p>x</p></body></html>", text="x"
    )
    email = compose_email(
        template,
        _contact(),
        _policy(),
        datetime(2026, 1, 5, tzinfo=UTC),
        program_id="p",
        step_id="s",
        purpose="marketing",
        topic="news",
    )
    assert email.unsubscribe_url and email.unsubscribe_url.startswith("https://news.example.com/u/")
    assert email.headers == {
        "List-Unsubscribe": f"<{email.unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert email.html.endswith("</p></body></html>") and email.unsubscribe_url in email.html
    assert email.unsubscribe_url in email.text
    service = compose_email(
        template,
        _contact(),
        _policy(),
        datetime(2026, 1, 5, tzinfo=UTC),
        program_id="p",
        step_id="s",
        purpose="service",
        topic="news",
    )
    assert service.headers == {} and "/u/" not in service.html


def test_a_template_that_places_the_link_itself_gets_no_footer() -> None:
    template = EmailTemplate(
        subject="s",
        html='<a href="{{ unsubscribe_url }}">leave</a>',
        text="leave: {{ unsubscribe_url }}",
    )
    email = compose_email(
        template,
        _contact(),
        _policy(),
        datetime(2026, 1, 5, tzinfo=UTC),
        program_id="p",
        step_id="s",
        purpose="marketing",
        topic="news",
    )
    assert email.html.count("/u/") == 1 and email.text.count("/u/") == 1


def test_settings_refuse_plain_http_and_short_secrets() -> None:
    good = {"PUBLIC_BASE_URL": "https://news.example.com/"}
    secrets = ["x" * 32]
    policy = DeliverySettings.model_validate(good).policy(secrets)
    assert policy.public_base_url == "https://news.example.com"
    assert DeliverySettings.model_validate({**good, "PUBLIC_BASE_URL": "http://localhost:3000"})
    for bad in (
        {"PUBLIC_BASE_URL": "http://news.example.com"},
        {"DEFAULT_TIMEZONE": "Europe/Atlantis"},
        {"SEND_WINDOW": "nine to five"},
    ):
        with pytest.raises(ValueError):
            DeliverySettings.model_validate({**good, **bad}).policy(secrets)
    assert check_link_secrets(["x" * 16, "y" * 32]) == ["x" * 16, "y" * 32]
    for short in ([], ["x" * 32, "short"]):
        with pytest.raises(ValueError, match="link-signing-secrets"):
            check_link_secrets(short)
