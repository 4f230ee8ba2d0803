"""SES engagement events (via the configuration set's SNS destination) as activities."""

from __future__ import annotations

from typing import Any

from nurture import clock
from nurture.events import Activity
from nurture.ids import stable_id
from nurture.ports import ActivityStore

# SES eventType -> our activity name
SES_EVENTS = {
    "Send": "email.send_accepted",
    "Delivery": "email.delivered",
    "Open": "email.opened",
    "Click": "email.clicked",
    "Bounce": "email.bounced",
    "Complaint": "email.complained",
    "Reject": "email.rejected",
    "Rendering Failure": "email.rendering_failed",
    "DeliveryDelay": "email.delayed",
    "Subscription": "email.subscription",
}
_DETAIL_KEYS = {"Open": "open", "Click": "click", "Bounce": "bounce", "Complaint": "complaint",
                "Delivery": "delivery", "Reject": "reject", "Rendering Failure": "failure",
                "DeliveryDelay": "deliveryDelay"}


def _tag(tags: dict[str, list[str]], name: str) -> str | None:
    values = tags.get(name) or []
    return values[0] if values else None


def activity_from_ses_event(event: dict[str, Any]) -> Activity | None:
    """Map one SES event to an activity, or None for a message Nurture did not send."""
    event_type = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail") or {}
    tags = mail.get("tags") or {}
    contact_id = _tag(tags, "contact_id")
    if event_type not in SES_EVENTS or not contact_id:
        return None
    detail = event.get(_DETAIL_KEYS.get(event_type, ""), {}) or {}
    occurred = detail.get("timestamp") or mail.get("timestamp")
    properties: dict[str, Any] = {
        "program_id": _tag(tags, "program_id"),
        "step_id": _tag(tags, "step_id"),
        "execution": _tag(tags, "execution"),
        "ses_message_id": mail.get("messageId"),
    }
    if event_type == "Click":
        properties["link"] = detail.get("link")
    if event_type == "Bounce":
        properties["bounce_type"] = detail.get("bounceType")
        properties["bounce_subtype"] = detail.get("bounceSubType")
    now = clock.iso(clock.now())
    occurred_iso = occurred if isinstance(occurred, str) else now
    return Activity(
        actor=f"contact:{contact_id}", contact_id=contact_id,
        # The same SES event delivered twice by SNS is one activity.
        message_id=stable_id("ses", str(mail.get("messageId")), event_type, occurred_iso,
                             str(properties.get("link"))),
        kind="email", name=SES_EVENTS[event_type],
        occurred_at=occurred_iso.replace("+00:00", "Z"), received_at=now, properties=properties,
    )


def record_ses_event(event: dict[str, Any], activities: ActivityStore) -> Activity | None:
    activity = activity_from_ses_event(event)
    if activity is not None:
        activities.put_new(activity)
    return activity
