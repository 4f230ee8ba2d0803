"""The sales desk: what happens after a lead crosses the MQL line.

The react function calls `SalesDesk.observe(contact, activity)` for every stored activity
of a known contact (same chain of invocations as the activity itself, no polling):

    lead.mql / lead.reactivated  -> assign an owner (rules, round robin, default), record the
                                    hand-off, email the owner with three signed answers
    lead.* and stage changes     -> push a signed webhook to the CRM (nurture.sales.crm)
    meaningful activity          -> mark the contact active for its owner's next digest;
                                    a recycled lead whose recycle period is over and whose
                                    score is back up is handed back (`lead.reactivated`)

Answers (`answer`, from the signed links or the CRM) move the stage (sql, recycled,
disqualified) and record `lead.accepted` / `lead.recycled` / `lead.disqualified` with the
response times, so programs can start on them and a report can read them.

Every step is keyed by the activity that caused it, so a retried stream batch assigns,
notifies and pushes once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.errors import DeliveryRejected, DeliveryThrottled
from nurture.delivery.ports import DeliveryStore
from nurture.ids import stable_id
from nurture.ports import ActivityStore, BlobStore, ContactStore, Mailer, OutgoingEmail
from nurture.rendering import TemplateProblem, load_template, render_email
from nurture.runtime.records import contact_actors, record_activity, record_changes
from nurture.sales.links import ANSWERS, Answer, AnswerLink, answer_url
from nurture.sales.ports import AccountReader, Handoff, SalesStore, ScoreReader
from nurture.sales.summary import (
    display_name,
    meaningful_lines,
    owner_of,
    predictive_summary,
    score_summary,
)
from nurture.sales.team import (
    TEAM_KEY,
    Owner,
    Team,
    TeamProblem,
    account_value,
    match_profile,
    parse_team,
)
from nurture.tracking.events import Activity

logger = logging.getLogger(__name__)

HANDOFF_EVENTS = ("lead.mql", "lead.reactivated")
ANSWER_EVENTS: dict[Answer, str] = {
    "accept": "lead.accepted",
    "recycle": "lead.recycled",
    "disqualify": "lead.disqualified",
}
ANSWER_STAGES: dict[Answer, str] = {
    "accept": "sql",
    "recycle": "recycled",
    "disqualify": "disqualified",
}
ANSWER_STATUS: dict[Answer, str] = {
    "accept": "accepted",
    "recycle": "recycled",
    "disqualify": "disqualified",
}
NOTIFICATION_TEMPLATE = "sales-mql"
RECENT_IN_NOTIFICATION = 10
TEAM_CACHE_SECONDS = 60.0
HISTORY = 200


class AnswerRefused(Exception):
    """An answer that cannot be applied; `status` is the HTTP status to show."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seconds_between(start: str, end: datetime) -> int:
    return max(0, int((end - _parse(start)).total_seconds()))


@dataclass
class SalesDesk:
    contacts: ContactStore
    activities: ActivityStore
    sales: SalesStore
    blobs: BlobStore
    delivery: DeliveryStore
    mailer: Mailer
    policy: DeliveryPolicy
    sender: str
    scores: ScoreReader
    accounts: AccountReader | None = None
    # where hand-offs go when no rule, team member or default owner applies
    fallback_owner: str = ""
    crm: Any | None = None  # nurture.sales.pusher.CrmPusher
    _team: tuple[float, Team] | None = field(default=None, repr=False)

    # --- configuration ---------------------------------------------------------------
    @property
    def team(self) -> Team:
        """sales/team.yaml, re-read at most once a minute (a broken file keeps the last good)."""
        now = time.monotonic()
        if self._team is None or now - self._team[0] > TEAM_CACHE_SECONDS:
            try:
                self._team = (now, parse_team(self.blobs.get_text(TEAM_KEY)))
            except TeamProblem as exc:
                # where only: the message and traceback may quote salespeople's addresses
                logger.error(
                    "sales/team.yaml is not valid; keeping the last good one",
                    extra={"fields": list(exc.fields)},
                )
                self._team = (now, self._team[1] if self._team else Team())
        return self._team[1]

    def forget_team(self) -> None:
        self._team = None

    # --- the react function's hook ------------------------------------------------------
    def observe(self, contact: Contact, activity: Activity) -> None:
        if activity.name in HANDOFF_EVENTS:
            contact = self.hand_over(contact, activity) or contact
        elif _became_mql(activity) and owner_of(contact) is None:
            # The stage change may reach programs (sales-ready: a call task for the owner)
            # before lead.mql reaches us: the owner is set first, from whichever comes first.
            self.ensure_owner(contact, activity)
            contact = self.contacts.get(contact.contact_id) or contact
        if self.crm is not None and activity.name in self.crm.pushed_events:
            self.crm.push(contact, activity)
        owner = owner_of(contact)
        if owner and self.team.digest.meaningful(activity):
            self.sales.mark_active(owner, contact.contact_id, activity.occurred_at)
            if contact.stage == "recycled":
                self._watch_reactivation(contact, activity)

    # --- hand-off ------------------------------------------------------------------------
    def hand_over(self, contact: Contact, cause: Activity) -> Contact | None:
        """Give the lead to its owner and tell them; returns the contact as now stored."""
        contact_id = contact.contact_id
        current = self.sales.get_handoff(contact_id)
        now = clock.now()
        if current is not None and current.mql_id != cause.message_id:
            held = self._held_because(current, now)
            if held:
                self._hold(contact, cause, current, held)
                return None
        owner = self.ensure_owner(contact, cause)
        if owner is None:
            record_activity(self.activities, contact_id, "lead.unassigned", cause.message_id, {})
            return None
        if cause.name == "lead.reactivated":
            self.set_stage(contact_id, "mql", f"reactivated#{cause.message_id}", cause.name)

        def start(existing: Handoff | None) -> Handoff | None:
            if existing is not None and existing.mql_id == cause.message_id:
                return None  # a retried batch: this hand-off is recorded already
            return Handoff(
                contact_id=contact_id,
                owner=owner,
                status="notified",
                mql_id=cause.message_id,
                mql_at=cause.occurred_at,
                history=[*(existing.history[-9:] if existing else []), _summary(existing)]
                if existing
                else [],
            )

        handoff = self.sales.update_handoff(contact_id, start)
        # What brought the lead here predates its owner: it belongs in their next digest.
        self.sales.mark_active(owner, contact_id, cause.occurred_at)
        fresh = self.contacts.get(contact_id) or contact
        if handoff is not None:
            self.notify(fresh, handoff, cause)
        return fresh

    def _held_because(self, current: Handoff, now: datetime) -> str | None:
        recycling = current.status == "recycled" and current.recycle_until
        if recycling and now < _parse(str(current.recycle_until)):
            return "recycled"
        if current.status == "disqualified":
            return "disqualified"
        if current.status == "accepted":
            return "already_accepted"
        if current.status == "notified":
            # Unanswered: held while fresh; after a recycle period, a new crossing is news.
            age = now - _parse(current.mql_at)
            return "already_notified" if age < timedelta(days=self.team.recycle.days) else None
        return None

    def _hold(self, contact: Contact, cause: Activity, current: Handoff, why: str) -> None:
        """Sales said "not now" or "not a fit" (or has the lead): the crossing is recorded
        and the lead stays where sales put it."""
        if why in ("recycled", "disqualified") and contact.stage != why:
            self.set_stage(contact.contact_id, why, f"hold#{cause.message_id}", "lead.held")
        record_activity(
            self.activities,
            contact.contact_id,
            "lead.held",
            cause.message_id,
            {"reason": why, "owner": current.owner, "recycle_until": current.recycle_until},
        )

    def ensure_owner(self, contact: Contact, cause: Activity) -> str | None:
        """The contact's owner, assigned by the rules if it has none (`lead.assigned`)."""
        owner = owner_of(contact)
        if owner is not None:
            return owner
        # One pick per contact (kept 35 days): the stage change and lead.mql, or a retry of
        # either, get the same owner and move the round robin once.
        owner, how = self.assign(contact, "owner")
        if owner is None:
            return None
        if self._set_owner(contact.contact_id, owner, f"owner#{cause.message_id}"):
            record_activity(
                self.activities,
                contact.contact_id,
                "lead.assigned",
                cause.message_id,
                {"owner": owner, "how": how, "cause": cause.name},
            )
        return owner

    def assign(self, contact: Contact, key: str) -> tuple[str | None, str]:
        """(owner, how) by the first matching rule, else the default owner."""
        team = self.team
        account = self.accounts.account_of(contact) if self.accounts else None
        profile = match_profile(contact, account)
        for index, rule in enumerate(team.rules):
            if not rule.matches(profile):
                continue
            if rule.owner:
                return rule.owner, f"rule {index + 1}"
            members = team.members(rule.team or "")
            position = self.sales.round_robin_pick(
                rule.team or "", len(members), f"{contact.contact_id}#{key}"
            )
            return members[position].email, f"rule {index + 1}: round robin in {rule.team}"
        if team.default_owner:
            return team.default_owner, "default owner"
        if self.fallback_owner:
            return self.fallback_owner.lower(), "sales address"
        return None, "nobody"

    def change_owner(self, contact_id: str, owner: str, key: str, source: str) -> bool:
        """Give the contact to another owner (a CRM's decision wins over the rules)."""
        owner = owner.strip().lower()
        changed = self._set_owner(contact_id, owner, f"owner#{key}")

        def move(existing: Handoff | None) -> Handoff | None:
            if existing is None or existing.owner == owner:
                return None
            return existing.with_(owner=owner)

        self.sales.update_handoff(contact_id, move)
        if changed:
            record_activity(
                self.activities,
                contact_id,
                "lead.owner_changed",
                key,
                {"owner": owner, "by": source},
            )
        return changed

    # --- the owner's email -----------------------------------------------------------------
    def notify(self, contact: Contact, handoff: Handoff, cause: Activity) -> str:
        send_id = stable_id("sales-mql", handoff.mql_id)
        entry = self.delivery.ledger_get(send_id)
        if entry is not None and entry.status in ("sent", "failed", "claimed"):
            return "already_sent"
        if self.delivery.suppression_for("email", handoff.owner) is not None:
            record_activity(
                self.activities,
                contact.contact_id,
                "sales.notify_skipped",
                handoff.mql_id,
                {"owner": handoff.owner, "reason": "owner_suppressed"},
            )
            return "suppressed"
        now = clock.now()
        context = self.lead_context(contact, handoff, now)
        context["cause"] = "reactivated" if cause.name == "lead.reactivated" else "mql"
        try:
            rendered = render_email(
                load_template(self.blobs, NOTIFICATION_TEMPLATE), context, template_id="sales-mql"
            )
        except TemplateProblem as exc:
            # A content mistake, not a fault to retry: recorded where the marketer looks.
            logger.error("the sales notification template is broken", extra={"problem": str(exc)})
            record_activity(
                self.activities,
                contact.contact_id,
                "sales.notify_skipped",
                handoff.mql_id,
                {"owner": handoff.owner, "reason": "template_error", "detail": str(exc)[:500]},
            )
            return "template_error"
        if not self.delivery.ledger_claim(send_id, int(now.timestamp())):
            return "already_sent"
        try:
            message_id = self.mailer.send(
                OutgoingEmail(
                    to=handoff.owner,
                    sender=self.sender,
                    subject=rendered.subject,
                    html=rendered.html,
                    text=rendered.text,
                    headers={},
                    # Not tagged with the contact: the salesperson's opens are not the lead's.
                    tags={"send_id": send_id, "purpose": "service", "kind": "sales_mql"},
                )
            )
        except DeliveryThrottled:
            self.delivery.ledger_release(send_id)
            raise  # the stream record is retried
        except DeliveryRejected as exc:
            self.delivery.ledger_failed(send_id, exc.code)
            return "rejected"
        self.delivery.ledger_sent(send_id, message_id)
        record_activity(
            self.activities,
            contact.contact_id,
            "sales.notified",
            handoff.mql_id,
            {"owner": handoff.owner, "send_id": send_id, "ses_message_id": message_id},
        )
        return "sent"

    def lead_context(
        self, contact: Contact, handoff: Handoff | None, now: datetime
    ) -> dict[str, Any]:
        """Everything a salesperson sees about one lead (notification and digest)."""
        team = self.team
        history = self.activities.list_for(contact_actors(contact), HISTORY)
        explained = score_summary(self.scores.explain(contact.contact_id, now))
        account = self.accounts.account_of(contact) if self.accounts else None
        buttons: dict[str, str] = {}
        if handoff is not None and handoff.status == "notified":
            stamp = int(now.timestamp())
            for answer in ANSWERS:
                link = AnswerLink(contact.contact_id, handoff.owner, handoff.mql_id, answer)
                buttons[answer] = answer_url(self.policy, link, stamp)
        owner = team.owner(handoff.owner if handoff else owner_of(contact))
        return {
            "lead": {
                "name": display_name(contact),
                **contact.template_context(),
                "account": _account_view(account),
            },
            "contact": contact.template_context(),
            "owner": {"email": owner.email if owner else "", "name": owner.name if owner else ""},
            "score": explained,
            "predictive": predictive_summary(contact),
            "activities": meaningful_lines(history, team.digest, RECENT_IN_NOTIFICATION),
            "buttons": buttons,
            "recycle_days": team.recycle.days,
            "handoff": {
                "status": handoff.status if handoff else "",
                "mql_at": handoff.mql_at if handoff else "",
            },
        }

    # --- answers -------------------------------------------------------------------------
    def answer(
        self,
        contact_id: str,
        answer: Answer,
        *,
        by: str,
        handoff_id: str | None,
        reason: str = "",
        days: int | None = None,
        source: str = "link",
        key: str | None = None,
        owner: str | None = None,
    ) -> tuple[bool, Handoff]:
        """Apply a salesperson's (or the CRM's) answer; (applied now, the hand-off).
        A link answers only the hand-off it was made for, and only once."""
        now = clock.now()
        at = clock.iso(now)
        days = days or self.team.recycle.days
        outcome: dict[str, Any] = {}

        def decide(existing: Handoff | None) -> Handoff | None:
            if existing is None:
                if source == "link":
                    raise AnswerRefused(404, "there is no hand-off for this lead")
                existing = Handoff(contact_id, owner or by, "notified", key or at, at)
            if handoff_id is not None and existing.mql_id != handoff_id:
                raise AnswerRefused(409, "this link is from an earlier hand-off of this lead")
            if source == "link" and existing.owner != by:
                raise AnswerRefused(403, "this lead has been given to another salesperson")
            if existing.status == ANSWER_STATUS[answer]:
                outcome["repeat"] = True
                return None
            if source == "link" and existing.status != "notified":
                raise AnswerRefused(409, f"this lead was already answered: {existing.status}")
            until = clock.iso(now + timedelta(days=days)) if answer == "recycle" else None
            return existing.with_(
                status=ANSWER_STATUS[answer],
                answered_at=at,
                first_touch_at=existing.first_touch_at or at,
                recycle_until=until,
                reason=reason[:500],
            )

        before = self.sales.get_handoff(contact_id)
        handoff = self.sales.update_handoff(contact_id, decide)
        if handoff is None:
            raise AnswerRefused(404, "there is no hand-off for this lead")
        if outcome.get("repeat"):
            return False, handoff
        name = ANSWER_EVENTS[answer]
        event_key = key or handoff.mql_id
        self.set_stage(contact_id, ANSWER_STAGES[answer], f"{name}#{event_key}", name)
        properties: dict[str, Any] = {
            "owner": handoff.owner,
            "by": by,
            "source": source,
            "reason": handoff.reason,
            "mql_at": handoff.mql_at,
            "handoff": handoff.mql_id,
        }
        if answer == "accept":
            properties["mql_to_accepted_seconds"] = _seconds_between(handoff.mql_at, now)
        if answer == "recycle":
            properties.update(recycle_until=handoff.recycle_until, recycle_days=days)
        if before is None or before.first_touch_at is None:
            properties["mql_to_first_touch_seconds"] = _seconds_between(handoff.mql_at, now)
        record_activity(self.activities, contact_id, name, event_key, properties)
        return True, handoff

    def touched(self, contact_id: str, key: str, channel: str, note: str) -> None:
        """A salesperson reached the lead (the CRM logged a call, email or meeting)."""
        now = clock.now()
        first: dict[str, Any] = {}

        def touch(existing: Handoff | None) -> Handoff | None:
            if existing is None or existing.first_touch_at is not None:
                return None
            first["seconds"] = _seconds_between(existing.mql_at, now)
            return existing.with_(first_touch_at=clock.iso(now))

        self.sales.update_handoff(contact_id, touch)
        properties: dict[str, Any] = {"channel": channel, "note": note[:500]}
        if "seconds" in first:
            properties["mql_to_first_touch_seconds"] = first["seconds"]
        record_activity(self.activities, contact_id, "sales.touched", key, properties)

    # --- re-activation -----------------------------------------------------------------------
    def _watch_reactivation(self, contact: Contact, activity: Activity) -> None:
        handoff = self.sales.get_handoff(contact.contact_id)
        if handoff is None or handoff.status != "recycled" or not handoff.recycle_until:
            return
        now = clock.now()
        if now < _parse(handoff.recycle_until):
            return
        fresh = self.contacts.get(contact.contact_id)
        if fresh is None or fresh.stage != "recycled":
            return  # scoring re-crossed the MQL line on this very activity: lead.mql hands over
        explained = self.scores.explain(contact.contact_id, now)
        score = explained.get("score", contact.score)
        if not isinstance(score, (int, float)) or score < self.team.recycle.reactivate_at_score:
            return
        record_activity(
            self.activities,
            contact.contact_id,
            "lead.reactivated",
            handoff.mql_id,  # once per recycled hand-off
            {"score": score, "by": activity.name, "recycled_at": handoff.answered_at},
        )

    # --- contact writes ------------------------------------------------------------------
    def _set_owner(self, contact_id: str, owner: str, key: str) -> bool:
        def change(contact: Contact) -> dict[str, Any] | None:
            old = contact.fields.get("owner")
            if old == owner:
                return None
            contact.fields["owner"] = owner
            contact.updated_at = clock.iso(clock.now())
            return {"fields": ["owner"] if old else []}

        applied, note = self.contacts.apply_once(contact_id, key, change)
        if applied and note and note.get("fields"):
            record_changes(self.activities, contact_id, key, note, {})
        return applied and note is not None

    def set_stage(self, contact_id: str, stage: str, key: str, by: str) -> None:
        def change(contact: Contact) -> dict[str, Any] | None:
            if contact.stage == stage:
                return None
            note = {"stage": {"from": contact.stage, "to": stage}}
            contact.stage = stage  # type: ignore[assignment]
            contact.updated_at = clock.iso(clock.now())
            return note

        applied, note = self.contacts.apply_once(contact_id, key, change)
        if applied and note:
            record_changes(self.activities, contact_id, key, note, {"by": by})


def _became_mql(activity: Activity) -> bool:
    return activity.name == "contact.stage_changed" and activity.properties.get("to") == "mql"


def _summary(handoff: Handoff | None) -> dict[str, Any]:
    if handoff is None:
        return {}
    return {
        "mql_id": handoff.mql_id,
        "mql_at": handoff.mql_at,
        "status": handoff.status,
        "answered_at": handoff.answered_at,
        "reason": handoff.reason,
    }


def _account_view(account: Any | None) -> dict[str, Any]:
    if account is None:
        return {}
    out = {}
    for name in ("name", "domain", "industry", "employees", "country"):
        value = account_value(account, name)
        if value:
            out[name] = value
    return out


def owner_record(team: Team, email: str) -> Owner:
    return team.owner(email) or Owner(email=email)
