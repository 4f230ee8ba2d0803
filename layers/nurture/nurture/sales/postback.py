"""What a CRM posts back (POST /crm/events, signed like the push; see nurture.sales.crm):

    deal.won         -> a purchase (`order_completed` with revenue and currency) and stage
                        `customer` (a contact further along keeps its stage)
    deal.lost        -> the lead is recycled (back to nurturing, watched for re-activation)
    owner.changed    -> the contact's owner (the CRM's decision wins over the rules)
    activity.logged  -> a sales touch (the first one records MQL -> first touch)

Each is applied once per CRM event id: the activities it records are keyed by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nurture import clock
from nurture.ids import stable_id
from nurture.programs.conditions import STAGE_ORDER
from nurture.sales.crm import DealLost, DealWon, OwnerChanged, PostbackError, TouchLogged
from nurture.sales.desk import SalesDesk
from nurture.sales.summary import owner_of
from nurture.tracking.events import Activity

PURCHASE_EVENT = "order_completed"  # Segment's "Order Completed", as programs name it


@dataclass
class Postbacks:
    desk: SalesDesk

    def apply(self, event: DealWon | DealLost | OwnerChanged | TouchLogged) -> dict[str, Any]:
        contact_id = self._contact_id(event)
        key = f"crm#{event.id}"
        if isinstance(event, DealWon):
            done = self._won(contact_id, event, key)
        elif isinstance(event, DealLost):
            contact = self.desk.contacts.get(contact_id)
            applied, _ = self.desk.answer(
                contact_id,
                "recycle",
                by="crm",
                handoff_id=None,
                reason=event.reason or "deal lost",
                days=event.recycle_days,
                source="crm",
                key=key,
                owner=owner_of(contact) if contact else None,
            )
            done = applied
        elif isinstance(event, OwnerChanged):
            done = self.desk.change_owner(contact_id, event.owner, key, source="crm")
        else:
            self.desk.touched(contact_id, key, event.channel, event.note)
            done = True
        return {"status": "applied" if done else "unchanged", "contact_id": contact_id}

    def _contact_id(self, event: DealWon | DealLost | OwnerChanged | TouchLogged) -> str:
        ref = event.contact
        contact_id = ref.id
        if contact_id is None and ref.email:
            contact_id = self.desk.contacts.contact_for_actor(f"email:{ref.email.strip().lower()}")
        if not contact_id or self.desk.contacts.get(contact_id) is None:
            raise PostbackError(
                404, "contact: no such contact", [{"field": "contact", "reason": "not found"}]
            )
        return contact_id

    def _won(self, contact_id: str, event: DealWon, key: str) -> bool:
        now = clock.iso(clock.now())
        stored = self.desk.activities.put_new(
            Activity(
                actor=f"contact:{contact_id}",
                contact_id=contact_id,
                message_id=stable_id(PURCHASE_EVENT, key, contact_id),
                kind="track",
                name=PURCHASE_EVENT,
                occurred_at=now,
                received_at=now,
                properties={
                    "order_id": event.deal.id,
                    "revenue": event.deal.amount,
                    "currency": event.deal.currency,
                    "name": event.deal.name,
                    "source": "crm",
                },
            )
        )
        contact = self.desk.contacts.get(contact_id)
        if contact is not None and _before_customer(contact.stage):
            self.desk.set_stage(contact_id, "customer", f"{key}#stage", "crm.deal_won")
        return stored


def _before_customer(stage: str) -> bool:
    if stage in ("recycled", "disqualified"):
        return True
    if stage not in STAGE_ORDER:
        return False
    return STAGE_ORDER.index(stage) < STAGE_ORDER.index("customer")
