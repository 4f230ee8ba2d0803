"""The send steps: decide whether, when and how a message goes out, then send it once.

Order of checks, each with its outcome:
  ledger says sent -> already_sent      ledger says failed -> skipped (same reason)
  no contact / no address / suppressed / no consent / template error -> skipped
  marketing outside the send window -> deferred (retry_at = next opening, contact's zone)
  marketing over the frequency cap -> deferred (retry_at = oldest send leaves) or skipped
  claim the ledger, send, record -> sent
A deferral comes back to the same step, so every check runs again: an unsubscribe that
lands while a message waits for the morning stops it.

The ledger (execution + step) makes a retried step send once. Its crash window: a send
claimed but not recorded (the function died between SES accepting and the write) is
resolved by SES's own Send event, which carries the send id as a tag and marks the
ledger sent; a retry that finds a fresh claim waits (deferred) for that evidence, and
only a claim older than CLAIM_GRACE_SECONDS with no evidence is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.consent import permission
from nurture.delivery.errors import DeliveryRejected, DeliveryThrottled
from nurture.delivery.ports import (
    DeliveryStore,
    EngagementActivities,
    LedgerEntry,
    OutgoingSms,
    Texter,
)
from nurture.delivery.sms import MAX_SEGMENTS, InvalidNumber, measure, normalise_phone
from nurture.delivery.windows import SendWindow, zone_for
from nurture.ids import stable_id, tag_safe
from nurture.ports import BlobStore, ContactStore, Mailer, OutgoingEmail, StateStore
from nurture.rendering import TemplateProblem, load_template, render_text
from nurture.tracking.events import Activity

logger = logging.getLogger(__name__)

CLAIM_GRACE_SECONDS = 600  # an unconfirmed claim waits this long for SES's Send event
MAX_DEFER_SECONDS = 30 * 86400  # a message deferred longer than this is skipped


def retry_at_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SendJob:
    program_id: str
    step_id: str
    contact_id: str
    execution: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def send_key(self) -> str:
        return f"{self.execution}#{self.step_id}"

    @property
    def send_id(self) -> str:
        return stable_id("send", self.send_key)

    @property
    def purpose(self) -> str:
        return str(self.params.get("purpose") or "marketing")

    @property
    def topic(self) -> str:
        return str(self.params.get("topic") or "marketing")


@dataclass(frozen=True)
class _Prepared:
    transmit: Callable[[], str]
    properties: dict[str, Any]


class _Skip(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class DeliveryService:
    contacts: ContactStore
    activities: EngagementActivities  # put_once: the sent activity (its time is the claim's)
    state: StateStore
    blobs: BlobStore
    store: DeliveryStore
    mailer: Mailer
    policy: DeliveryPolicy
    sender: str
    configuration_tags: dict[str, str] = field(default_factory=dict)
    texter: Texter | None = None

    # --- the two channels ----------------------------------------------------------------
    def send_email(self, job: SendJob) -> dict[str, Any]:
        def prepare(contact: Contact, now: datetime) -> tuple[str, Callable[[str], _Prepared]]:
            if not contact.email:
                raise _Skip("no_address")
            return contact.email, lambda address: self._prepare_email(job, contact, address, now)

        return self._deliver(job, "email", prepare)

    def send_sms(self, job: SendJob) -> dict[str, Any]:
        def prepare(contact: Contact, now: datetime) -> tuple[str, Callable[[str], _Prepared]]:
            if not contact.phone:
                raise _Skip("no_address")
            try:
                number = normalise_phone(contact.phone, self.policy.default_country_code)
            except InvalidNumber as exc:
                raise _Skip("invalid_number", str(exc)) from None
            return number, lambda address: self._prepare_sms(job, contact, address)

        return self._deliver(job, "sms", prepare)

    def _prepare_email(
        self, job: SendJob, contact: Contact, address: str, now: datetime
    ) -> _Prepared:
        from nurture.delivery.compose import compose_email

        template_id = str(job.params["template"])
        try:
            template = load_template(self.blobs, template_id)
            email = compose_email(
                template,
                contact,
                self.policy,
                now,
                program_id=job.program_id,
                step_id=job.step_id,
                purpose=job.purpose,
                topic=job.topic,
            )
        except TemplateProblem as exc:
            raise _Skip("template_error", str(exc)) from None
        tags = {
            "contact_id": contact.contact_id,
            "program_id": job.program_id,
            "step_id": job.step_id,
            "execution": tag_safe(job.execution),
            "send_id": job.send_id,
            "purpose": job.purpose,
            "topic": tag_safe(job.topic),
            **self.configuration_tags,
        }
        outgoing = OutgoingEmail(
            to=address,
            sender=self.sender,
            subject=email.subject,
            html=email.html,
            text=email.text,
            tags=tags,
            headers=email.headers,
        )
        return _Prepared(
            transmit=lambda: self.mailer.send(outgoing),
            properties={"subject": email.subject, "template": template_id},
        )

    def _prepare_sms(self, job: SendJob, contact: Contact, number: str) -> _Prepared:
        from nurture.delivery.compose import context_for

        if self.texter is None:
            raise _Skip("sms_not_configured")
        try:
            text = render_text(
                str(job.params["text"]), context_for(contact, job.program_id)
            ).strip()
        except TemplateProblem as exc:
            raise _Skip("template_error", str(exc)) from None
        opt_out = self.policy.sms_opt_out_text
        if job.purpose == "marketing" and opt_out and "stop" not in text.lower():
            text = f"{text}\n{opt_out}"
        length = measure(text)
        if not text:
            raise _Skip("empty_message")
        if length.segments > MAX_SEGMENTS:
            raise _Skip("too_long", f"{length.segments} segments; at most {MAX_SEGMENTS}")
        sms = OutgoingSms(
            to=number,
            text=text,
            sender_id=self.policy.sms_sender_id,
            transactional=job.purpose == "service",
        )
        texter = self.texter

        def transmit() -> str:
            self.store.remember_phone(number, contact.contact_id)  # so a STOP reply finds them
            return texter.send(sms)

        return _Prepared(
            transmit=transmit,
            properties={
                "segments": length.segments,
                "encoding": length.encoding,
                "characters": len(text),
            },
        )

    # --- the shared path -----------------------------------------------------------------
    def _deliver(
        self,
        job: SendJob,
        channel: str,
        prepare: Callable[[Contact, datetime], tuple[str, Callable[[str], _Prepared]]],
    ) -> dict[str, Any]:
        now_dt = clock.now()
        now = int(now_dt.timestamp())
        entry = self.store.ledger_get(job.send_id)
        take_over: int | None = None
        if entry is not None and entry.status == "sent":
            # The attempt that sent may have died before recording it (or SES's Send event
            # marked the ledger): record it now; the activity and the count are once-only.
            known = {"template": job.params["template"]} if "template" in job.params else {}
            recovered = {**known, "recovered": True}
            self._sent(job, channel, entry.message_id, recovered, entry.claimed_at)
            return {"status": "already_sent", "message_id": entry.message_id, "retry_at": None}
        if entry is not None and entry.status == "failed":
            return {"status": "skipped", "reason": entry.reason, "retry_at": None}
        if entry is not None and entry.status == "claimed":
            if now < entry.claimed_at + CLAIM_GRACE_SECONDS:
                # Another attempt is sending, or died after sending: wait for SES's Send event.
                return self._defer(
                    job,
                    channel,
                    entry,
                    entry.claimed_at + CLAIM_GRACE_SECONDS,
                    "send_in_progress",
                    note=False,
                )
            logger.warning(
                "send outcome unknown after the grace period; sending again",
                extra={"send_id": job.send_id},
            )
            take_over = entry.claimed_at
        try:
            contact = self.contacts.get(job.contact_id)
            if contact is None:
                raise _Skip("contact_missing")
            address, build = prepare(contact, now_dt)
            suppressed = self.store.suppression_for(channel, address)
            if suppressed is not None:
                raise _Skip(f"suppressed_{suppressed.reason}")
            allowed = permission(contact, channel, job.purpose, job.topic)
            if not allowed.allowed:
                raise _Skip(allowed.reason)
            prepared = build(address)
        except _Skip as skip:
            return self._skipped(job, channel, skip.reason, skip.detail)
        if job.purpose == "marketing":
            deferral = self._deferral(job, channel, contact, now_dt, entry)
            if deferral is not None:
                return deferral
        if not self.store.ledger_claim(job.send_id, now, take_over):
            return self._defer(
                job, channel, entry, now + CLAIM_GRACE_SECONDS, "send_in_progress", note=False
            )
        try:
            message_id = prepared.transmit()
        except DeliveryThrottled as exc:
            self.store.ledger_release(job.send_id)
            self._release_cap(job, channel)
            return self._defer(job, channel, entry, now + exc.retry_after_seconds, "throttled")
        except DeliveryRejected as exc:
            self.store.ledger_failed(job.send_id, f"rejected_{exc.code}")
            self._release_cap(job, channel)
            return self._skipped(job, channel, f"rejected_{exc.code}", str(exc), name="failed")
        self.store.ledger_sent(job.send_id, message_id)
        self._sent(job, channel, message_id, prepared.properties, now)
        return {"status": "sent", "message_id": message_id, "retry_at": None}

    def _sent(
        self,
        job: SendJob,
        channel: str,
        message_id: str,
        properties: dict[str, Any],
        claimed_at: int,
    ) -> None:
        """The `<channel>.sent` activity and the SMS count, each stored once per send.

        The activity is timed at the ledger's claim (whole seconds), which is fixed once the
        ledger says sent: every copy - this attempt's, or a retry's that finds the ledger
        sent - has one key, so one conditional put stores it once (1 write unit, no marker).
        A ledger without a claim time (none is written so) falls back to the marker."""
        props = {
            "provider_message_id": message_id,
            **properties,
            **({"ses_message_id": message_id} if channel == "email" else {}),
        }
        at = clock.iso(datetime.fromtimestamp(claimed_at, UTC)) if claimed_at else None
        self._record(job, channel, "sent", props, occurred_at=at)
        if channel == "sms":  # SNS reports no SMS events to us: count the send here
            self.store.count(
                job.program_id, job.step_id, {"sms_sent": 1}, f"sms.sent#{job.send_id}"
            )

    def _window(self, job: SendJob) -> SendWindow | None:
        text = job.params.get("send_window")
        if text is None:
            program = self.state.get_program(job.program_id)
            text = program.definition.get("send_window") if program else None
        if isinstance(text, str):
            try:
                return SendWindow.parse(text)
            except ValueError:
                logger.warning(
                    "ignoring an invalid send window", extra={"program_id": job.program_id}
                )
        return self.policy.send_window

    def _deferral(
        self,
        job: SendJob,
        channel: str,
        contact: Contact,
        now_dt: datetime,
        entry: LedgerEntry | None,
    ) -> dict[str, Any] | None:
        window = self._window(job)
        zone = zone_for(contact.timezone, self.policy.default_timezone)
        if window is not None:
            opening = window.next_opening(now_dt, zone)
            if opening is not None:
                return self._defer(job, channel, entry, int(opening.timestamp()), "quiet_hours")
        cap = self.policy.cap_for(channel)
        if cap is None:
            return None
        decision = self.store.reserve_cap(
            contact.contact_id,
            channel,
            job.send_id,
            int(now_dt.timestamp()),
            cap.window_seconds,
            cap.limit,
        )
        if decision.allowed:
            return None
        if job.params.get("when_capped") == "skip":
            return self._skipped(
                job,
                channel,
                "frequency_cap",
                f"at most {cap.limit} per {cap.window_seconds // 3600} hours",
            )
        release = datetime.fromtimestamp(decision.release_at or 0, UTC)
        if window is not None:
            release = window.next_opening(release, zone) or release
        return self._defer(job, channel, entry, int(release.timestamp()), "frequency_cap")

    def _release_cap(self, job: SendJob, channel: str) -> None:
        if job.purpose == "marketing" and self.policy.cap_for(channel) is not None:
            self.store.release_cap(job.contact_id, channel, job.send_id)

    # --- outcomes --------------------------------------------------------------------------
    def _defer(
        self,
        job: SendJob,
        channel: str,
        entry: LedgerEntry | None,
        until: int,
        reason: str,
        note: bool = True,
    ) -> dict[str, Any]:
        now = int(clock.now().timestamp())
        first = entry.first_deferred_at if entry and entry.first_deferred_at else now
        if now - first > MAX_DEFER_SECONDS:
            return self._skipped(job, channel, "deferred_too_long", reason)
        if note:
            self.store.ledger_note_deferred(job.send_id, now)
        retry_at = retry_at_iso(datetime.fromtimestamp(max(until, now + 1), UTC))
        self._record(
            job, channel, "deferred", {"reason": reason, "retry_at": retry_at}, unique=retry_at
        )
        return {"status": "deferred", "reason": reason, "retry_at": retry_at}

    def _skipped(
        self, job: SendJob, channel: str, reason: str, detail: str = "", name: str = "skipped"
    ) -> dict[str, Any]:
        props: dict[str, Any] = {"reason": reason}
        if detail:
            props["detail"] = detail[:500]
        if self._record(job, channel, name, props):
            self.store.count(job.program_id, job.step_id, {"skipped": 1}, f"skipped#{job.send_id}")
        return {"status": "skipped", "reason": reason, "retry_at": None}

    def _record(
        self,
        job: SendJob,
        channel: str,
        what: str,
        properties: dict[str, Any],
        unique: str = "",
        occurred_at: str | None = None,
    ) -> bool:
        """Store the step's activity once: with `occurred_at` (the same for every copy) one
        conditional put; otherwise put_new (a marker keeps the first copy's time)."""
        now = clock.iso(clock.now())
        name = f"{channel}.{what}"
        put = self.activities.put_once if occurred_at else self.activities.put_new
        return put(
            Activity(
                actor=f"contact:{job.contact_id}",
                contact_id=job.contact_id,
                message_id=stable_id(name, job.send_key, unique),
                kind=channel,
                name=name,
                occurred_at=occurred_at or now,
                received_at=now,
                properties={
                    "program_id": job.program_id,
                    "step_id": job.step_id,
                    "execution": job.execution,
                    "send_id": job.send_id,
                    "purpose": job.purpose,
                    "topic": job.topic,
                    **properties,
                },
            )
        )
