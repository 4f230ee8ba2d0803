""" "Interested, but not now": the lead goes back to nurturing for N days, crossings in that
time are held, and when behaviour rises again after it the lead is handed back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sales_helpers import button, contact_by_email, emails_to, named, post, sales_cloud, warm_up

pytestmark = pytest.mark.integration

ANNA = "anna@sales.example.com"


def _not_now(cloud, days: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    [mail] = emails_to(cloud, ANNA)
    status, _, page = cloud.http(
        "POST",
        button(mail, "Interested, but not now"),
        f"days={days}&reason={reason}".encode(),
        {"content-type": "application/x-www-form-urlencoded"},
        write_key=None,
    )
    assert status == 200, page


def _page(cloud, user: str, url: str, message_id: str) -> None:  # type: ignore[no-untyped-def]
    post(
        cloud,
        "/v1/page",
        {"userId": user, "properties": {"url": url, "title": url}, "messageId": message_id},
    )


def test_not_now_then_reactivation_hands_the_lead_back() -> None:
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        cloud.advance(timedelta(hours=2))
        _not_now(cloud, 6, "next+week")
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "recycled"
        [recycled] = named(cloud, ada, "lead.recycled")
        assert recycled.properties["reason"] == "next week"
        assert recycled.properties["recycle_until"] == "2026-01-11T11:00:00.000Z"
        assert recycled.properties["mql_to_first_touch_seconds"] == 2 * 3600

        # Still around within the recycle period: nobody is bothered.
        cloud.advance(timedelta(days=2))
        _page(cloud, "u-ada", "https://example.com/blog/roadmap", "b2")
        assert contact_by_email(cloud, "ada@engines.example").stage == "recycled"
        assert len(emails_to(cloud, ANNA)) == 1

        # After it the score has decayed below the MQL line (half-life 30 days: 55 -> 47);
        # she comes back to the pricing page and crosses it again: handed back.
        cloud.advance(timedelta(days=5))
        _page(cloud, "u-ada", "https://example.com/pricing", "p3")
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "mql"
        assert named(cloud, ada, "lead.reactivated") == []  # the crossing did it
        first, second = emails_to(cloud, ANNA)
        assert second.subject.startswith("Sales-ready lead: Ada")
        assert "Accept:" in second.text
        # a fresh hand-off: its links work, the first email's (an earlier hand-off) do not
        assert cloud.http("POST", button(first, "Accept"), b"", write_key=None)[0] == 409
        assert cloud.http("POST", button(second, "Accept"), b"", write_key=None)[0] == 200
        assert contact_by_email(cloud, "ada@engines.example").stage == "sql"
        assert cloud.errors == []


def test_reactivation_without_a_new_crossing() -> None:
    """The score never fell below the MQL line, so scoring does not cross it again: the
    re-activation watch hands the lead back on meaningful activity after the period."""
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        _not_now(cloud, 1, "call+me+tomorrow")
        cloud.advance(timedelta(days=2))
        _page(cloud, "u-ada", "https://example.com/case-studies/acme", "cs1")
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "mql"
        [reactivated] = named(cloud, ada, "lead.reactivated")
        assert reactivated.properties["score"] >= 50
        second = emails_to(cloud, ANNA)[1]
        assert second.subject.startswith("Back in the market: Ada")


def test_a_crossing_within_the_recycle_period_is_held() -> None:
    with sales_cloud() as cloud:
        warm_up(cloud, "u-ada", "ada@engines.example")
        _not_now(cloud, 30, "")
        # Five days later the score has decayed below the line (49); a demo request crosses it.
        cloud.advance(timedelta(days=5))
        post(cloud, "/v1/track", {"userId": "u-ada", "event": "demo_requested", "messageId": "d2"})
        _page(cloud, "u-ada", "https://example.com/pricing", "p2")
        ada = contact_by_email(cloud, "ada@engines.example")
        assert ada.stage == "recycled"
        [held] = named(cloud, ada, "lead.held")
        assert held.properties["reason"] == "recycled"
        assert len(emails_to(cloud, ANNA)) == 1
