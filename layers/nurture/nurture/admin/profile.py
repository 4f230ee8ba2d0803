"""One contact as the console shows it: profile, identities, consents with their proof,
suppression, scores with their reasons (and the predictive score), program runs, tasks;
and the timeline of their activity, a page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nurture import clock
from nurture.admin.errors import AdminError, decode_cursor, encode_cursor
from nurture.admin.ports import ContactIndex, Runs, Timeline
from nurture.contacts import Contact
from nurture.delivery.ports import DeliveryStore
from nurture.ports import StateStore, Task
from nurture.runtime.records import contact_actors

HIDDEN = ("consent", "suppressed", "scoring", "actors", "predictive_factors")
RUN_STATUS = {"RUNNING": "running", "SUCCEEDED": "finished", "ABORTED": "stopped"}
TIMELINE_MAX = 100
CONTACT_ID = r"^[A-Za-z0-9_.:-]{1,128}$"


def _load(index: ContactIndex, contact_id: str) -> tuple[Contact, dict[str, Any]]:
    doc = index.profiles([contact_id]).get(contact_id)
    if doc is None:
        raise AdminError(404, "no such contact", "contact_id")
    return Contact.model_validate(doc), doc


def _consents(contact: Contact, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for consent in contact.consent.values():
        # the activity that recorded this consent, when it is among the recent ones
        proof_activity = next(
            (
                a
                for a in history
                if str(a.get("name", "")).startswith("consent.")
                and a.get("occurred_at", "")[:19] == consent.at[:19]
            ),
            None,
        )
        out.append(
            {
                "channel": consent.channel,
                "topic": consent.topic,
                "status": consent.status,
                "source": consent.source,
                "wording": consent.text,
                "at": consent.at,
                "proof": {
                    "source": consent.source,
                    "at": consent.at,
                    "wording": consent.text,
                    "activity": {
                        "name": proof_activity.get("name"),
                        "message_id": proof_activity.get("message_id"),
                        "properties": proof_activity.get("properties") or {},
                    }
                    if proof_activity
                    else None,
                },
            }
        )
    return sorted(out, key=lambda c: (c["channel"], c["topic"]))


def _suppression(contact: Contact, delivery: DeliveryStore) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for channel, address in (("email", contact.email), ("sms", contact.phone)):
        on_contact = contact.suppressed.get(channel)
        record = delivery.suppression_for(channel, address) if address else None
        if record is not None:
            channels[channel] = {"reason": record.reason, "at": record.at, "detail": record.detail}
        elif on_contact is not None:
            channels[channel] = {
                "reason": on_contact.reason,
                "at": on_contact.at,
                "detail": on_contact.detail,
            }
    first = channels.get("email") or channels.get("sms")
    return {
        "suppressed": first is not None,
        "reason": first["reason"] if first else None,
        "at": first["at"] if first else None,
        "channels": channels,
    }


def _scores(contact: Contact, doc: dict[str, Any], at: datetime) -> dict[str, Any]:
    from nurture.scoring.explain import explain_contact, primary_model

    reasons: list[dict[str, Any]] = []
    if primary_model(contact) is not None:
        explained = explain_contact(contact, at)
        reasons = [
            {"text": r.reason or r.rule, "points": r.points, "kind": r.kind, "at": r.at}
            for r in explained.reasons
        ]
    predictive = None
    if doc.get("predictive_score") is not None:
        predictive = {
            "score": doc.get("predictive_score"),
            "model_version": doc.get("predictive_model"),
            "factors": [
                {"text": str(f.get("text")), "points": f.get("points")}
                for f in doc.get("predictive_factors") or []
                if isinstance(f, dict)
            ],
        }
    return {
        "score": contact.score,
        "grade": contact.grade,
        "stage": contact.stage,
        "reasons": reasons,
        "predictive": predictive,
    }


def _runs(contact_id: str, state: StateStore, runs: Runs) -> list[dict[str, Any]]:
    out = []
    for enrolment in state.enrolments_of(contact_id):
        facts: dict[str, Any] = {"version": None, "current_step": None, "status": None}
        if enrolment.execution_arn:
            facts = runs.describe(enrolment.execution_arn)
        status = enrolment.status
        if status == "started":
            status = RUN_STATUS.get(str(facts.get("status")), "ended")
        out.append(
            {
                "program_id": enrolment.program_id,
                "version": facts.get("version"),
                "execution_name": enrolment.execution,
                "status": status,
                "started_at": enrolment.entered_at,
                "current_step": facts.get("current_step"),
                "entries": enrolment.entries,
            }
        )
    return sorted(out, key=lambda r: r["started_at"], reverse=True)


def task_view(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "assignee": task.assignee,
        "status": task.status,
        "title": task.title,
        "created_at": task.created_at,
        "due": task.due,
        "contact_id": task.contact_id,
        "program_id": task.program_id,
    }


def _tasks(history: list[dict[str, Any]], state: StateStore) -> list[dict[str, Any]]:
    """The contact's tasks: those its `task.created` activities name, as they stand now."""
    assignees = {
        str(a["properties"]["assignee"])
        for a in history
        if a.get("name") == "task.created" and (a.get("properties") or {}).get("assignee")
    }
    ids = {
        str(a["properties"].get("task_id"))
        for a in history
        if a.get("name") == "task.created" and a.get("properties")
    }
    found = [t for who in sorted(assignees) for t in state.tasks_for(who) if t.task_id in ids]
    return [task_view(t) for t in found]


def profile(
    contact_id: str,
    index: ContactIndex,
    timeline: Timeline,
    state: StateStore,
    delivery: DeliveryStore,
    runs: Runs,
) -> dict[str, Any]:
    contact, doc = _load(index, contact_id)
    history, _ = timeline.page(contact_actors(contact), None, 200)
    shown = {k: v for k, v in doc.items() if k not in HIDDEN}
    return {
        "contact": shown,
        "identities": contact_actors(contact),
        "consents": _consents(contact, history),
        "suppression": _suppression(contact, delivery),
        "scores": _scores(contact, doc, clock.now()),
        "runs": _runs(contact.contact_id, state, runs),
        "tasks": _tasks(history, state),
    }


def activity_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": doc.get("occurred_at"),
        "kind": doc.get("kind"),
        "name": doc.get("name"),
        "properties": doc.get("properties") or {},
    }


def timeline_page(
    contact_id: str,
    index: ContactIndex,
    timeline: Timeline,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A page of the contact's activity, newest first. The cursor holds a time and how many
    activities of that very time were shown (never a message id: it travels in a URL)."""
    if not 1 <= limit <= TIMELINE_MAX:
        raise AdminError(400, f"limit must be 1 to {TIMELINE_MAX}", "limit")
    contact, _ = _load(index, contact_id)
    before, skip = None, 0
    if cursor:
        value = decode_cursor(cursor)
        at, shown = value.get("at"), value.get("n")
        if not isinstance(at, str) or not isinstance(shown, int) or not 0 < shown <= 10_000:
            raise AdminError(400, "not a cursor this API gave out", "cursor")
        before, skip = at + "$", shown  # after every `<at>#<message id>` of that time
    docs, more = timeline.page(contact_actors(contact), before, limit + skip)
    if before is not None:
        at_time = before[:-1]
        same = [d for d in docs if d.get("occurred_at") == at_time]
        docs = same[skip:] + [d for d in docs if d.get("occurred_at") != at_time]
    page = docs[:limit]
    more = more or len(docs) > limit
    next_cursor = None
    if page and more:
        last = page[-1]["occurred_at"]
        shown_same = sum(1 for d in page if d.get("occurred_at") == last)
        if before is not None and last == before[:-1]:
            shown_same += skip
        next_cursor = encode_cursor({"at": last, "n": shown_same})
    return {"activities": [activity_view(d) for d in page], "next_cursor": next_cursor}
