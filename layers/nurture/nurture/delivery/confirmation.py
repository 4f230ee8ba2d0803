"""Double opt-in: the confirmation email for consents a form left pending.

The reactor calls `ConfirmationSender.request(contact_id, activity)` after recording a form
submission whose consents are pending (the form has `double_opt_in: true`). The email is a
service message (no consent needed, no frequency cap, no quiet hours) carrying a signed
/c/<token> link; the consent counts only once that link is followed and confirmed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nurture import clock
from nurture.delivery.compose import compose_email
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.errors import DeliveryRejected, DeliveryThrottled
from nurture.delivery.ports import DeliveryStore
from nurture.delivery.tokens import CONFIRM, LinkToken, sign
from nurture.ids import stable_id
from nurture.ports import ActivityStore, BlobStore, ContactStore, Mailer, OutgoingEmail
from nurture.rendering import TemplateProblem, load_template
from nurture.tracking.events import Activity

logger = logging.getLogger(__name__)
DEFAULT_TEMPLATE = "double-opt-in"


def pending_keys(activity: Activity) -> list[str]:
    consents: list[Any] = list(activity.properties.get("consent") or [])
    return [
        f"{c.get('channel')}:{c.get('topic', 'marketing')}"
        for c in consents
        if isinstance(c, dict) and c.get("status") == "pending"
    ]


@dataclass
class ConfirmationSender:
    contacts: ContactStore
    activities: ActivityStore
    blobs: BlobStore
    store: DeliveryStore
    mailer: Mailer
    policy: DeliveryPolicy
    sender: str

    def request(self, contact_id: str, activity: Activity) -> str:
        """Send the confirmation email once per submission; returns what happened."""
        contact = self.contacts.get(contact_id)
        keys = pending_keys(activity)
        if contact is None or not contact.email:
            return "no_address"
        keys = [
            k for k in keys if (c := contact.consent.get(k)) is not None and c.status == "pending"
        ]
        if not keys:
            return "nothing_pending"
        if self.store.suppression_for("email", contact.email) is not None:
            return "suppressed"
        send_id = stable_id("confirm", activity.message_id, contact_id)
        entry = self.store.ledger_get(send_id)
        if entry is not None and entry.status in ("sent", "failed", "claimed"):
            return "already_sent"
        now = clock.now()
        template_id = next(
            (
                str(c["confirmation_template"])
                for c in activity.properties.get("consent", [])
                if isinstance(c, dict) and c.get("confirmation_template")
            ),
            DEFAULT_TEMPLATE,
        )
        token = sign(
            self.policy.secrets,
            LinkToken(
                contact_id=contact_id,
                purpose=CONFIRM,
                expires_at=int(now.timestamp()) + self.policy.confirm_link_days * 86400,
                scope={"k": keys, "f": activity.name},
            ),
        )
        try:
            email = compose_email(
                load_template(self.blobs, template_id),
                contact,
                self.policy,
                now,
                program_id="",
                step_id="",
                purpose="service",
                topic="",
                extra_links={"confirm_url": self.policy.link("c", token)},
            )
        except TemplateProblem:
            logger.exception("double opt-in template is broken", extra={"template": template_id})
            raise
        if not self.store.ledger_claim(send_id, int(now.timestamp())):
            return "already_sent"
        try:
            message_id = self.mailer.send(
                OutgoingEmail(
                    to=contact.email,
                    sender=self.sender,
                    subject=email.subject,
                    html=email.html,
                    text=email.text,
                    headers={},
                    tags={
                        "contact_id": contact_id,
                        "send_id": send_id,
                        "purpose": "service",
                        "kind": "double_opt_in",
                    },
                )
            )
        except DeliveryThrottled:
            self.store.ledger_release(send_id)
            raise  # the stream record is retried
        except DeliveryRejected as exc:
            self.store.ledger_failed(send_id, exc.code)
            return "rejected"
        self.store.ledger_sent(send_id, message_id)
        at = clock.iso(now)
        self.activities.put_new(
            Activity(
                actor=f"contact:{contact_id}",
                contact_id=contact_id,
                message_id=stable_id("email.confirmation_sent", send_id),
                kind="email",
                name="email.confirmation_sent",
                occurred_at=at,
                received_at=at,
                properties={
                    "keys": keys,
                    "form": activity.name,
                    "ses_message_id": message_id,
                    "template": template_id,
                },
            )
        )
        return "sent"
