"""Pushing lead events to the CRM: one delivery per event, tried at once from the react
function, and retried with backoff by the scheduled sales function until the CRM accepts it
or `crm.max_attempts` is reached. Each outcome is recorded on the contact (`crm.pushed`,
`crm.push_failed`); the delivery record (`CRMPUSH#<id>`) keeps the body, so a retry sends
the very same bytes with the same `Idempotency-Key`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.ports import ActivityStore
from nurture.runtime.records import contact_actors, record_activity
from nurture.sales.crm import (
    PUSHED_EVENTS,
    build_payload,
    delivery_id,
    encode,
    retry_delay,
    signed_request,
)
from nurture.sales.ports import AccountReader, CrmDelivery, HttpPoster, SalesStore, ScoreReader
from nurture.sales.summary import meaningful_lines, owner_of, score_summary
from nurture.sales.team import Team
from nurture.tracking.events import Activity

logger = logging.getLogger(__name__)
RECENT_IN_PAYLOAD = 10
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
# Stage changes that a lead event already describes (the lead event carries the why).
_DESCRIBED_STAGES = ("mql",)


@dataclass
class CrmPusher:
    sales: SalesStore
    activities: ActivityStore
    poster: HttpPoster
    team: Callable[[], Team]
    secret: Callable[[str], str]  # secret name -> value ("" when not configured)
    scores: ScoreReader
    accounts: AccountReader | None = None
    pushed_events: tuple[str, ...] = PUSHED_EVENTS

    def push(self, contact: Contact, event: Activity) -> str:
        """Queue and try the event's delivery once; returns sent | queued | skipped | duplicate."""
        settings = self.team().crm
        if not settings.url:
            return "skipped"
        if event.name == "contact.stage_changed" and (
            event.properties.get("to") in _DESCRIBED_STAGES
            or str(event.properties.get("by", "")).startswith("lead.")
        ):
            return "skipped"
        payload = self.payload(contact, event)
        delivery = CrmDelivery(
            delivery_id=delivery_id(event.message_id),
            contact_id=contact.contact_id,
            event=event.name,
            url=settings.url,
            body=encode(payload).decode(),
            next_at=int(clock.now().timestamp()),
        )
        if not self.sales.claim_delivery(delivery):
            return "duplicate"  # a retried stream batch: the first claim owns the delivery
        return self.attempt(delivery)

    def payload(self, contact: Contact, event: Activity) -> dict[str, Any]:
        team = self.team()
        now = clock.now()
        owner_email = owner_of(contact)
        history = self.activities.list_for(contact_actors(contact), 200)
        details = {
            k: v
            for k, v in event.properties.items()
            if isinstance(v, (str, int, float, bool, type(None))) or k in ("reasons",)
        }
        return build_payload(
            event=event.name,
            event_id=event.message_id,
            occurred_at=event.occurred_at,
            contact=contact,
            account=self.accounts.account_of(contact) if self.accounts else None,
            owner=team.owner(owner_email),
            owner_email=owner_email,
            scores=score_summary(self.scores.explain(contact.contact_id, now)),
            details=details,
            recent=meaningful_lines(history, team.digest, RECENT_IN_PAYLOAD),
        )

    def attempt(self, delivery: CrmDelivery) -> str:
        settings = self.team().crm
        now = int(clock.now().timestamp())
        secret = self.secret(settings.secret)
        attempts = delivery.attempts + 1
        error = ""
        refused = False
        status: int | None = None
        if not secret:
            error = f"no signing secret {settings.secret!r} is configured"
        else:
            request = signed_request(
                secret,
                delivery.url,
                delivery.body.encode(),
                delivery.event,
                delivery.delivery_id,
                now,
            )
            try:
                status = self.poster.post(
                    request.url, request.body, request.headers, settings.timeout_seconds
                )
            except PermissionError as exc:
                # a destination the transport refuses (a private or special address) stays
                # refused: retrying it would only repeat the refusal up to max_attempts
                error = f"{type(exc).__name__}: {exc}"[:200]
                refused = True
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"[:200]
            else:
                if 200 <= status < 300:
                    self.sales.save_delivery(
                        _replace(delivery, status="sent", attempts=attempts, last_error="")
                    )
                    record_activity(
                        self.activities,
                        delivery.contact_id,
                        "crm.pushed",
                        delivery.delivery_id,
                        {
                            "event": delivery.event,
                            "delivery_id": delivery.delivery_id,
                            "status": status,
                            "attempts": attempts,
                        },
                    )
                    return "sent"
                error = f"HTTP {status}"
        retryable = bool(secret) and not refused and (status is None or status in RETRYABLE_STATUS)
        if not retryable or attempts >= settings.max_attempts:
            self.sales.save_delivery(
                _replace(delivery, status="failed", attempts=attempts, last_error=error)
            )
            record_activity(
                self.activities,
                delivery.contact_id,
                "crm.push_failed",
                delivery.delivery_id,
                {
                    "event": delivery.event,
                    "delivery_id": delivery.delivery_id,
                    "reason": error,
                    "attempts": attempts,
                },
            )
            return "failed"
        self.sales.save_delivery(
            _replace(
                delivery,
                attempts=attempts,
                last_error=error,
                next_at=now + retry_delay(attempts),
            )
        )
        logger.info("crm push will be retried", extra={"attempts": attempts, "error": error})
        return "queued"

    def retry_due(self, limit: int = 100) -> dict[str, int]:
        """Try again every delivery whose next attempt is due (the scheduled function)."""
        outcomes: dict[str, int] = {}
        for delivery in self.sales.due_deliveries(int(clock.now().timestamp()), limit):
            result = self.attempt(delivery)
            outcomes[result] = outcomes.get(result, 0) + 1
        return outcomes


def _replace(delivery: CrmDelivery, **changes: Any) -> CrmDelivery:
    from dataclasses import replace

    return replace(delivery, **changes)
