"""Predictive scores on contacts: `predictive_score` (1-100), `predictive_factors`
([{"text", "points"}]) and `predictive_model` (the version), written by a scoring run.

A run (after training, or `nurture model score`) writes each changed contact once: the
change is keyed by the run, so a retried run writes nothing twice; when the number moves it
records `contact.predictive_score_changed` {old, new, delta, model: "predictive", version,
factors}, which `score_crossed` triggers with `model: predictive` start programs on.
"""

from __future__ import annotations

from typing import Any

from nurture import clock
from nurture.ports import ActivityStore, ContactStore
from nurture.predictive.model import Scored
from nurture.runtime.records import record_activity

CHANGED = "contact.predictive_score_changed"


def store_score(
    contacts: ContactStore,
    activities: ActivityStore,
    contact_id: str,
    scored: Scored,
    version: int,
    run: str,
) -> bool:
    """Write the score on the contact; True when something changed."""
    key = f"predictive#{run}"

    def change(contact: Any) -> dict[str, Any] | None:
        old = contact.predictive_score
        if (
            old == scored.score
            and contact.predictive_factors == scored.factors
            and contact.predictive_model == version
        ):
            return None
        contact.predictive_score = scored.score
        contact.predictive_factors = scored.factors
        contact.predictive_model = version
        contact.updated_at = clock.iso(clock.now())
        return {"old": old, "new": scored.score}

    try:
        applied, note = contacts.apply_once(contact_id, key, change)
    except KeyError:
        return False  # erased or merged away since the lake saw them
    if not note:
        return False
    if note["old"] != note["new"]:
        record_activity(
            activities,
            contact_id,
            CHANGED,
            key,
            {
                "old": note["old"] or 0,
                "new": note["new"],
                "delta": note["new"] - (note["old"] or 0),
                "model": "predictive",
                "version": version,
                "factors": scored.factors,
            },
        )  # keyed like the change: a retried run records it once
    return applied
