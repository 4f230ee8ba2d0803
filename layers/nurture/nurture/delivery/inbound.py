"""SMS replies: STOP (and STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ...) opts the number out
of every SMS, START opts it back in (to service messages; marketing needs a new consent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nurture import clock
from nurture.contacts import Contact, Suppression
from nurture.delivery.consent import withdraw_all
from nurture.delivery.ports import DeliveryStore, SuppressionRecord
from nurture.delivery.sms import (
    InvalidNumber,
    is_start,
    is_stop,
    keyword,
    normalise_phone,
    parse_inbound,
)
from nurture.ids import stable_id
from nurture.ports import ActivityStore
from nurture.tracking.events import Activity


@dataclass
class SmsReplies:
    store: DeliveryStore
    activities: ActivityStore

    def handle(self, message: str) -> str:
        """One SNS notification; returns what happened (opted_out, opted_in, received, ignored)."""
        inbound = parse_inbound(message)
        if inbound is None:
            return "ignored"
        try:
            number = normalise_phone(inbound.from_number)
        except InvalidNumber:
            return "ignored"
        now = clock.iso(clock.now())
        contact_ids = self.store.contacts_for_phone(number)
        if is_stop(inbound.body):
            self.store.suppress(
                number,
                SuppressionRecord(
                    channel="sms",
                    reason="sms_stop",
                    at=now,
                    contact_id=",".join(contact_ids),
                    detail=keyword(inbound.body),
                ),
            )

            def opt_out(contact: Contact) -> bool:
                changed = bool(withdraw_all(contact, "sms", now, "sms-reply:STOP"))
                if "sms" not in contact.suppressed:
                    contact.suppressed["sms"] = Suppression(
                        channel="sms", reason="sms_stop", at=now, detail=keyword(inbound.body)
                    )
                    changed = True
                return changed

            self._each(
                contact_ids,
                opt_out,
                "sms.opted_out",
                inbound.message_id,
                now,
                {"keyword": keyword(inbound.body)},
            )
            return "opted_out"
        if is_start(inbound.body):
            self.store.unsuppress("sms", number, only_reason="sms_stop")

            def opt_in(contact: Contact) -> bool:
                record = contact.suppressed.get("sms")
                if record is None or record.reason != "sms_stop":
                    return False
                del contact.suppressed["sms"]
                return True

            self._each(
                contact_ids,
                opt_in,
                "sms.opted_in",
                inbound.message_id,
                now,
                {"keyword": keyword(inbound.body)},
            )
            return "opted_in"
        self._each(
            contact_ids,
            lambda c: False,
            "sms.received",
            inbound.message_id,
            now,
            {"body": inbound.body[:1600]},
        )
        return "received"

    def _each(
        self,
        contact_ids: list[str],
        change: Callable[[Contact], bool],
        name: str,
        inbound_id: str,
        now: str,
        properties: dict[str, object],
    ) -> None:
        for contact_id in contact_ids:
            if self.store.update_contact(contact_id, change) is None:
                continue
            self.activities.put_new(
                Activity(
                    actor=f"contact:{contact_id}",
                    contact_id=contact_id,
                    message_id=stable_id(name, inbound_id or now, contact_id),
                    kind="sms",
                    name=name,
                    occurred_at=now,
                    received_at=now,
                    properties=dict(properties),
                )
            )
