"""What a salesperson reads about a lead: who it is, one line per thing it did, its score."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from nurture.contacts import Contact
from nurture.sales.team import DigestSettings
from nurture.tracking.events import Activity


def display_name(contact: Contact) -> str:
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    return name or contact.email or contact.contact_id


def owner_of(contact: Contact) -> str | None:
    """The contact's owner: the `owner` field (an email), as the CRM and rules set it."""
    value = contact.fields.get("owner")
    return value.strip().lower() if isinstance(value, str) and "@" in value else None


def describe(activity: Activity) -> str:
    """One line for a salesperson."""
    props = activity.properties
    if activity.kind == "page":
        where = activity.page.get("title") or activity.page.get("url") or activity.name
        return f"viewed {where}"
    if activity.kind == "form":
        return f"submitted the form {activity.name!r}"
    if activity.name == "email.clicked":
        return f"clicked {props.get('link') or 'a link'} in an email"
    if activity.name == "email.opened":
        return "opened an email"
    details = ", ".join(f"{k}: {v}" for k, v in props.items() if isinstance(v, (str, int, float)))
    return activity.name + (f" ({details[:120]})" if details else "")


def meaningful_lines(
    history: Iterable[Activity],
    digest: DigestSettings,
    limit: int,
    since: str | None = None,
) -> list[dict[str, str]]:
    """The newest meaningful activities (from `since`, an ISO time, on), newest first."""
    lines: list[dict[str, str]] = []
    for activity in history:
        if since is not None and activity.occurred_at < since:
            break  # history is newest first
        if digest.meaningful(activity):
            lines.append(
                {
                    "at": activity.occurred_at[:16].replace("T", " "),
                    "event": activity.name,
                    "what": describe(activity),
                }
            )
            if len(lines) >= limit:
                break
    return lines


def score_summary(explained: dict[str, Any]) -> dict[str, Any]:
    """The score explanation as templates and the CRM payload use it."""
    reasons = []
    for reason in explained.get("reasons", [])[:10]:
        at = reason.get("at")
        if isinstance(at, datetime):
            at = at.isoformat()
        reasons.append({**reason, "at": at})
    return {"score": explained.get("score", 0), "grade": explained.get("grade"), "reasons": reasons}


def predictive_summary(contact: Contact) -> dict[str, Any] | None:
    """The predictive score with its factors in plain words (nurture.predictive), or None."""
    if contact.predictive_score is None:
        return None
    from nurture.predictive.model import factor_line

    return {
        "score": contact.predictive_score,
        "version": contact.predictive_model,
        "factors": [{**f, "line": factor_line(f)} for f in contact.predictive_factors],
    }
