"""The daily digest: each salesperson, each morning in their own time zone, gets ONE email
with their contacts who did something meaningful since the last digest (highest score
first, each with its reasons and, while a hand-off awaits an answer, its three buttons) and
their open tasks due by the end of the day. Nothing to say: no email.

Who was active comes from per-owner markers (`SALESACT#<owner>` / `CONTACT#<id>`) that the
react function writes as meaningful activity arrives (and at a hand-off, for the new owner),
so a digest reads one partition per owner: no table scan. A marker is removed after the
digest that reported it, unless newer activity moved it on meanwhile (then the next digest
reports it). Each contact shows its meaningful activity since the owner's last digest (the
first digest: the last 24 hours).

The scheduled sales function calls `DigestSender.run()` every hour; an owner's digest goes
out at the first run at or after their local `digest.hour` (one more run an hour later
catches a missed one), once per local date (the delivery ledger's key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nurture import clock
from nurture.contacts import Contact
from nurture.delivery.errors import DeliveryRejected
from nurture.ids import stable_id
from nurture.ports import OutgoingEmail, StateStore, Task
from nurture.rendering import load_template, render_email
from nurture.runtime.records import contact_actors
from nurture.sales.desk import SalesDesk
from nurture.sales.links import tasks_url
from nurture.sales.ports import ActiveContact
from nurture.sales.summary import meaningful_lines
from nurture.sales.team import Owner

logger = logging.getLogger(__name__)
DIGEST_TEMPLATE = "sales-digest"
CATCH_UP_HOURS = 1  # a run missed at the digest hour is made up this many hours later


@dataclass(frozen=True)
class DigestEntry:
    contact: Contact
    marker: ActiveContact
    context: dict[str, Any]

    @property
    def score(self) -> float:
        value = self.context["score"].get("score", 0)
        return float(value) if isinstance(value, (int, float)) else 0.0


@dataclass
class DigestSender:
    desk: SalesDesk
    state: StateStore

    def due(self, owner: Owner, now: datetime) -> str | None:
        """The owner's local date when their digest is due at `now`, else None."""
        local = now.astimezone(ZoneInfo(owner.timezone))
        hour = self.desk.team.digest.hour
        if hour <= local.hour <= hour + CATCH_UP_HOURS:
            return local.date().isoformat()
        return None

    def run(self) -> dict[str, str]:
        now = clock.now()
        results: dict[str, str] = {}
        for owner in self.desk.team.owners:
            day = self.due(owner, now)
            if day is not None:
                results[owner.email] = self.send(owner, day, now)
        return results

    def build(self, owner: Owner, now: datetime) -> tuple[list[DigestEntry], list[dict[str, Any]]]:
        digest = self.desk.team.digest
        since = self.desk.sales.last_digest(owner.email) or clock.iso(now - timedelta(days=1))
        entries: list[DigestEntry] = []
        for marker in self.desk.sales.active_contacts(owner.email):
            contact = self.desk.contacts.get(marker.contact_id)
            if contact is None or (contact.fields.get("owner") or "").lower() != owner.email:
                self.desk.sales.clear_active(marker)  # gone, or given to someone else
                continue
            handoff = self.desk.sales.get_handoff(contact.contact_id)
            context = self.desk.lead_context(contact, handoff, now)
            history = self.desk.activities.list_for(contact_actors(contact), 200)
            context["activities"] = meaningful_lines(
                history, digest, digest.max_activities, since=since
            )
            if context["activities"]:
                entries.append(DigestEntry(contact, marker, context))
        entries.sort(key=lambda e: (-e.score, e.contact.contact_id))
        tasks = self._tasks(owner, now)
        return entries[: digest.max_contacts], tasks

    def _tasks(self, owner: Owner, now: datetime) -> list[dict[str, Any]]:
        zone = ZoneInfo(owner.timezone)
        end_of_day = datetime.combine(
            now.astimezone(zone).date() + timedelta(days=1), time(0), tzinfo=zone
        )
        cutoff = clock.iso(end_of_day)
        stamp = int(now.timestamp())
        out = []
        for task in self.state.tasks_for(owner.email):
            if task.status != "open" or task.due >= cutoff:
                continue
            out.append(
                _task_view(task, tasks_url(self.desk.policy, owner.email, stamp, task.task_id))
            )
        return out

    def send(self, owner: Owner, day: str, now: datetime) -> str:
        desk = self.desk
        send_id = stable_id("sales-digest", owner.email, day)
        entry = desk.delivery.ledger_get(send_id)
        if entry is not None and entry.status in ("sent", "failed", "claimed"):
            return "already_sent"
        entries, tasks = self.build(owner, now)
        if not entries and not tasks:
            return "empty"
        if desk.delivery.suppression_for("email", owner.email) is not None:
            return "suppressed"
        context = {
            "owner": {"email": owner.email, "name": owner.name},
            "day": day,
            "leads": [e.context for e in entries],
            "tasks": tasks,
            "tasks_url": tasks_url(desk.policy, owner.email, int(now.timestamp())),
        }
        rendered = render_email(
            load_template(desk.blobs, DIGEST_TEMPLATE), context, template_id=DIGEST_TEMPLATE
        )
        if not desk.delivery.ledger_claim(send_id, int(now.timestamp())):
            return "already_sent"
        try:
            message_id = desk.mailer.send(
                OutgoingEmail(
                    to=owner.email,
                    sender=desk.sender,
                    subject=rendered.subject,
                    html=rendered.html,
                    text=rendered.text,
                    headers={},
                    tags={"send_id": send_id, "purpose": "service", "kind": "sales_digest"},
                )
            )
        except DeliveryRejected as exc:
            desk.delivery.ledger_failed(send_id, exc.code)
            return "rejected"
        except Exception:
            desk.delivery.ledger_release(send_id)  # the next run tries again
            raise
        desk.delivery.ledger_sent(send_id, message_id)
        desk.sales.set_last_digest(owner.email, clock.iso(now))
        for digest_entry in entries:
            desk.sales.clear_active(digest_entry.marker)
        logger.info("digest sent", extra={"leads": len(entries), "tasks": len(tasks)})
        return "sent"


def _task_view(task: Task, done_url: str) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "title": task.title,
        "due": task.due[:16].replace("T", " "),
        "contact_id": task.contact_id,
        "done_url": done_url,
    }
