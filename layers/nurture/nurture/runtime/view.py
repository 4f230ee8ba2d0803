"""A contact as program conditions see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.ports import ActivityStore
from nurture.runtime.records import contact_actors
from nurture.tracking.events import Activity

# How much of a contact's history conditions see (newest first, across all their actor keys).
HISTORY_LIMIT = 500


class ContactView:
    """A contact as conditions see it, with their history loaded only when asked for."""

    def __init__(self, contact: Contact, activities: ActivityStore):
        self.contact = contact
        self._store = activities
        self._data: dict[str, Any] | None = None
        self._history: list[Activity] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self.contact.model_dump(mode="json")
            if self.contact.scoring:  # a decaying score, as it is at this moment
                from nurture.scoring import score_now

                self._data["score"] = score_now(self.contact, clock.now())
        return self._data

    @property
    def history(self) -> list[Activity]:
        if self._history is None:
            self._history = self._store.list_for(contact_actors(self.contact), HISTORY_LIMIT)
        return self._history

    def holds(self, condition: Any, now: datetime | None = None) -> bool:
        from nurture.programs.conditions import evaluate  # with the first condition (#9)

        return evaluate(condition, self.data, self.history, now)
