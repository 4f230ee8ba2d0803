"""SES engagement events (via the configuration set's SNS destination): activities on the
contact, per-step counters, suppression of bounced and complaining addresses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nurture import clock
from nurture.contacts import Contact, Suppression, normalise_email
from nurture.delivery.caps import FrequencyCap
from nurture.delivery.clicks import without_token
from nurture.delivery.ports import DeliveryStore, EngagementActivities, SuppressionRecord
from nurture.ids import stable_id
from nurture.ports import ActivityStore
from nurture.tracking.events import Activity

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
_DETAIL_KEYS = {
    "Open": "open",
    "Click": "click",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Reject": "reject",
    "Rendering Failure": "failure",
    "DeliveryDelay": "deliveryDelay",
}


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
        link = detail.get("link")
        # the link as written: a click token says whose email it was, not where it led
        properties["link"] = without_token(link) if isinstance(link, str) else link
    if event_type == "Bounce":
        properties["bounce_type"] = detail.get("bounceType")
        properties["bounce_subtype"] = detail.get("bounceSubType")
    now = clock.iso(clock.now())
    occurred_iso = occurred if isinstance(occurred, str) else now
    return Activity(
        actor=f"contact:{contact_id}",
        contact_id=contact_id,
        # The same SES event delivered twice by SNS is one activity.
        message_id=stable_id(
            "ses", str(mail.get("messageId")), event_type, occurred_iso, str(properties.get("link"))
        ),
        kind="email",
        name=SES_EVENTS[event_type],
        occurred_at=occurred_iso.replace("+00:00", "Z"),
        received_at=now,
        properties=properties,
    )


def record_ses_event(event: dict[str, Any], activities: ActivityStore) -> Activity | None:
    activity = activity_from_ses_event(event)
    if activity is not None:
        activities.put_new(activity)
    return activity


# --- what an event changes besides the contact's timeline ----------------------------------

# Per program and step counters, by SES event type.
COUNTERS = {
    "Send": "sent",
    "Delivery": "delivered",
    "Open": "opened",
    "Click": "clicked",
    "Bounce": "bounced",
    "Complaint": "complained",
    "Reject": "rejected",
    "Rendering Failure": "rendering_failed",
    "DeliveryDelay": "delayed",
}
# The first open/click of a message also counts as a unique one.
UNIQUE_COUNTERS = {"Open": "opened_unique", "Click": "clicked_unique"}


@dataclass
class EngagementRecorder:
    """One SES event: the activity, the step's counters, the send ledger and suppression.

    Each effect is idempotent on the event's identity (the activity's message id), so SNS
    delivering an event twice changes nothing the second time.
    """

    activities: EngagementActivities
    store: DeliveryStore
    soft_bounce_limit: FrequencyCap = field(default_factory=lambda: FrequencyCap(3, 30 * 86400))

    def handle(self, event: dict[str, Any]) -> Activity | None:
        activity = activity_from_ses_event(event)
        if activity is None:
            return None
        event_type = str(event.get("eventType") or event.get("notificationType"))
        mail = event.get("mail") or {}
        detail = event.get(_DETAIL_KEYS.get(event_type, ""), {}) or {}
        if isinstance(detail.get("timestamp") or mail.get("timestamp"), str):
            # its time is the event's own: every copy has the same key, one conditional put
            self.activities.put_once(activity)
        else:  # dated on arrival: the message id's marker finds a copy
            self.activities.put_new(activity)
        tags = mail.get("tags") or {}
        program_id, step_id = _tag(tags, "program_id"), _tag(tags, "step_id")
        send_id = _tag(tags, "send_id")
        if event_type == "Send" and send_id and mail.get("messageId"):
            # SES accepted it: resolves a send whose function died before recording it.
            self.store.ledger_confirm(send_id, str(mail["messageId"]))
        if program_id and step_id and event_type in COUNTERS:
            self.store.count(program_id, step_id, {COUNTERS[event_type]: 1}, activity.message_id)
            if event_type in UNIQUE_COUNTERS:
                self.store.count(
                    program_id,
                    step_id,
                    {UNIQUE_COUNTERS[event_type]: 1},
                    f"{event_type}#{mail.get('messageId')}",
                )
        if event_type == "Bounce":
            self._bounce(event, activity)
        elif event_type == "Complaint":
            detail = event.get("complaint") or {}
            for address in _recipients(detail.get("complainedRecipients"), mail):
                self._suppress(
                    activity, address, "complaint", str(detail.get("complaintFeedbackType") or "")
                )
        return activity

    def _bounce(self, event: dict[str, Any], activity: Activity) -> None:
        detail = event.get("bounce") or {}
        mail = event.get("mail") or {}
        hard = detail.get("bounceType") == "Permanent"
        for address in _recipients(detail.get("bouncedRecipients"), mail):
            if hard:
                self._suppress(
                    activity, address, "hard_bounce", str(detail.get("bounceSubType") or "")
                )
                continue
            at = int(_parse_time(activity.occurred_at).timestamp())
            limit = self.soft_bounce_limit
            seen = self.store.soft_bounces(address, activity.message_id, at, limit.window_seconds)
            if seen >= limit.limit:
                self._suppress(
                    activity,
                    address,
                    "soft_bounces",
                    f"{seen} soft bounces within {limit.window_seconds // 86400} days",
                )

    def _suppress(self, activity: Activity, address: str, reason: str, detail: str) -> None:
        contact_id = activity.contact_id or ""
        now = clock.iso(clock.now())
        self.store.suppress(
            address,
            SuppressionRecord(
                channel="email", reason=reason, at=now, contact_id=contact_id, detail=detail
            ),
        )
        if not contact_id:
            return

        def change(contact: Contact) -> bool:
            if contact.email is None or normalise_email(contact.email) != normalise_email(address):
                return False
            if "email" in contact.suppressed:
                return False
            contact.suppressed["email"] = Suppression(
                channel="email", reason=reason, at=now, detail=detail
            )
            return True

        if self.store.update_contact(contact_id, change) is not None:
            self.activities.put_new(
                Activity(
                    actor=f"contact:{contact_id}",
                    contact_id=contact_id,
                    message_id=stable_id("contact.suppressed", contact_id, "email", reason),
                    kind="contact",
                    name="contact.suppressed",
                    occurred_at=now,
                    received_at=now,
                    properties={
                        "channel": "email",
                        "reason": reason,
                        "detail": detail,
                        "program_id": activity.properties.get("program_id"),
                        "step_id": activity.properties.get("step_id"),
                    },
                )
            )


def _recipients(listed: Any, mail: dict[str, Any]) -> list[str]:
    found = [r.get("emailAddress") for r in listed or [] if isinstance(r, dict)]
    addresses = [a for a in found if isinstance(a, str)] or [
        a for a in mail.get("destination") or [] if isinstance(a, str)
    ]
    # "Ada <ada@example.com>" -> ada@example.com
    return [normalise_email(a.rsplit("<", 1)[-1].rstrip(">")) for a in addresses]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
