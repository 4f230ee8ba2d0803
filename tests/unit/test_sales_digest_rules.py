"""The digest's rules without the cloud: what is meaningful, when each owner's digest is due
(their own time zone, summer time and half-hour offsets included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nurture.sales.digest import DigestSender
from nurture.sales.team import DigestSettings, Owner, Team, parse_team
from nurture.tracking.events import Activity

pytestmark = pytest.mark.unit


def _activity(
    kind: str,
    name: str,
    properties: dict[str, Any] | None = None,
    page: dict[str, Any] | None = None,
) -> Activity:
    return Activity(
        actor="user:u1",
        message_id=f"{kind}-{name}",
        kind=kind,
        name=name,
        occurred_at="2026-01-05T09:00:00.000Z",
        received_at="2026-01-05T09:00:00.000Z",
        properties=properties or {},
        page=page or {},
    )


@pytest.mark.parametrize(
    ("activity", "meaningful"),
    [
        (_activity("page", "Pricing", page={"url": "https://example.com/pricing"}), True),
        (_activity("form", "guide-download"), True),
        (_activity("track", "demo_requested"), True),
        (_activity("email", "email.clicked", {"topic": "offers"}), True),
        (_activity("email", "email.clicked", {"topic": "newsletter"}), False),
        (_activity("email", "email.opened"), False),
        (_activity("email", "email.delivered"), False),
        (_activity("email", "email.sent"), False),
        (_activity("page", "Issue 12", page={"url": "https://example.com/newsletter/12"}), False),
        (
            _activity(
                "page",
                "Spring",
                page={"url": "https://example.com/blog/spring", "utm": {"medium": "newsletter"}},
            ),
            False,
        ),
        (_activity("contact", "contact.score_changed"), False),
        (_activity("lead", "lead.mql"), False),
        (_activity("sales", "sales.notified"), False),
        (_activity("program", "program.entered"), False),
    ],
)
def test_default_meaningful_activity(activity: Activity, meaningful: bool) -> None:
    assert DigestSettings().meaningful(activity) is meaningful


def test_meaningful_is_configurable() -> None:
    team = parse_team("digest: {exclude: [{event: page, where: {url: {glob: '*/careers*'}}}]}")
    careers = _activity("page", "Jobs", page={"url": "https://example.com/careers"})
    opened = _activity("email", "email.opened")
    assert team.digest.meaningful(careers) is False
    assert team.digest.meaningful(opened) is True  # the default list was replaced


class _Desk:
    def __init__(self, team: Team):
        self.team = team


@pytest.mark.parametrize(
    ("zone", "utc", "due"),
    [
        ("Europe/Helsinki", datetime(2026, 1, 6, 6, 0, tzinfo=UTC), "2026-01-06"),  # UTC+2
        ("Europe/Helsinki", datetime(2026, 1, 6, 5, 0, tzinfo=UTC), None),
        ("Europe/Helsinki", datetime(2026, 7, 6, 5, 0, tzinfo=UTC), "2026-07-06"),  # summer, UTC+3
        ("Europe/Helsinki", datetime(2026, 1, 6, 7, 0, tzinfo=UTC), "2026-01-06"),  # catch-up run
        ("Europe/Helsinki", datetime(2026, 1, 6, 8, 0, tzinfo=UTC), None),
        ("Asia/Kolkata", datetime(2026, 1, 6, 2, 0, tzinfo=UTC), None),  # 07:30
        ("Asia/Kolkata", datetime(2026, 1, 6, 3, 0, tzinfo=UTC), "2026-01-06"),  # 08:30
        ("America/Los_Angeles", datetime(2026, 1, 6, 16, 0, tzinfo=UTC), "2026-01-06"),
        ("Pacific/Auckland", datetime(2026, 1, 5, 19, 0, tzinfo=UTC), "2026-01-06"),  # UTC+13
    ],
)
def test_the_digest_is_due_at_the_owners_local_hour(
    zone: str, utc: datetime, due: str | None
) -> None:
    owner = Owner(email="x@example.com", timezone=zone)
    sender = DigestSender(desk=_Desk(Team(owners=[owner])), state=None)  # type: ignore[arg-type]
    assert sender.due(owner, utc) == due
