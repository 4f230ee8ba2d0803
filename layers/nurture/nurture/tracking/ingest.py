"""Ingestion: validate each event, store the valid ones once, report per event."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nurture import clock
from nurture.ids import stable_id
from nurture.ports import ActivityStore
from nurture.tracking.calls import (
    MAX_BATCH_EVENTS,
    EventResult,
    Receipt,
    describe_errors,
    parse_event,
    timed_activity,
)
from nurture.tracking.events import Activity
from nurture.tracking.forms import FormDefinition, FormError, validate_submission
from nurture.tracking.timestamps import TimestampError
from nurture.tracking.values import ValueProblem

MAX_ID_CHARS = 200  # as events.Id


def ingest_events(
    raw_events: list[Any],
    store: ActivityStore,
    default_type: str | None = None,
    receipt: Receipt | None = None,
    within_budget: bool = False,
) -> list[EventResult]:
    """Validate all, then store the valid ones. A rejected event stores nothing, and never
    keeps its valid neighbours from being stored. `within_budget`: the request's document
    passed `nurture.tracking.values.fits_budget` (see `parse_event`)."""
    receipt = receipt or Receipt(received_at=clock.now())
    if len(raw_events) > MAX_BATCH_EVENTS:
        raise ValueError(
            f"batch holds {len(raw_events)} events; at most {MAX_BATCH_EVENTS} are accepted"
        )
    results: list[EventResult] = []
    valid: list[tuple[int, Activity]] = []
    for index, raw in enumerate(raw_events):
        # Only a string id can be echoed back; a malformed one is reported by the validation.
        message_id = raw.get("messageId") if isinstance(raw, dict) else None
        message_id = message_id if isinstance(message_id, str) else None
        try:
            activity, note = timed_activity(
                parse_event(raw, default_type, receipt.default_country_code, within_budget),
                raw,
                receipt,
            )
            if receipt.prove is not None:
                activity = receipt.prove(activity, raw)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError too
            results.append(
                EventResult(
                    index=index, message_id=message_id, status="rejected", errors=_errors(exc)
                )
            )
            continue
        valid.append((index, activity))
        warnings = [{"field": "timestamp", "reason": note}] if note else None
        results.append(
            EventResult(
                index=index, message_id=activity.message_id, status="accepted", warnings=warnings
            )
        )
    stored = store.put_many_new([activity for _, activity in valid])
    for (index, _), is_new in zip(valid, stored, strict=True):
        if not is_new:
            results[index].status = "duplicate"
    return results


def _errors(exc: ValueError) -> list[dict[str, str]]:
    if isinstance(exc, ValidationError):
        return describe_errors(exc)
    if isinstance(exc, (TimestampError, ValueProblem)):
        return [{"field": exc.field, "reason": exc.reason}]
    return [{"field": "(event)", "reason": str(exc)}]


def ingest_form(
    form: FormDefinition,
    body: dict[str, Any],
    store: ActivityStore,
    receipt: Receipt | None = None,
) -> Activity:
    """Validate a form submission and store it as one activity. Raises FormError."""
    receipt = receipt or Receipt(received_at=clock.now())
    contact_fields, consents = validate_submission(form, body, receipt.default_country_code)
    anonymous_id = body.get("anonymousId") if isinstance(body.get("anonymousId"), str) else None
    message_id = body.get("messageId") if isinstance(body.get("messageId"), str) else None
    # Both become DynamoDB keys; keep them as short as the tracking API's ids.
    too_long = [
        {"field": name, "reason": f"is longer than {MAX_ID_CHARS} characters"}
        for name, value in (("anonymousId", anonymous_id), ("messageId", message_id))
        if value is not None and len(value) > MAX_ID_CHARS
    ]
    if too_long:
        raise FormError(too_long)
    received = clock.iso(receipt.received_at)
    email = contact_fields["email"]
    activity = Activity(
        actor=f"anon:{anonymous_id}" if anonymous_id else f"email:{email}",
        # Without a client-supplied id, a resubmission of the same form in the same second
        # is one event.
        message_id=message_id or stable_id(form.id, email, received[:19]),
        kind="form",
        name=form.id,
        occurred_at=received,
        received_at=received,
        anonymous_id=anonymous_id,
        properties={"fields": contact_fields, "consent": consents},
        **receipt.stamp,
    )
    store.put_new(activity)
    return activity
