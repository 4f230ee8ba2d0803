"""The due index: whom the daily sweep looks at, so it scales with who is due, not with
everyone (see the README's design section).

Two kinds of entries in the state table, kept as activity arrives (the react function calls
`DueIndex.observe` for every activity of a known contact):

* date entries, `DUE#DATE#<field>#<MM-DD>` / `<contact id>`: the month and day of a
  contact's date field that a live date trigger reads (birthday, renewal date), written when
  an activity can have set it (identify, a form, a recorded field change). The sweep reads
  the few days whose dates, plus the trigger's offset, fall on today or yesterday somewhere
  on earth, and checks each contact found exactly (zone, year, offset, time of day), as the
  full scan did. An entry whose date changed since is found stale there and removed.
* activity markers, `DUE#ACTIVE#<program>#<yyyy-mm-dd>` / `<contact id>`: the day a contact
  last did what a live inactivity trigger watches (its event and `where`). "No page view
  for 90 days" is due for whoever has a marker on the day 90 days ago (and the day before,
  for a missed sweep) and did nothing of the kind since: checked on their history, as the
  full scan did. Markers expire (DynamoDB TTL) once their day can no longer be due.

Entries written before a program went live are not needed: on deploy, the one-time
selection (`Sweeper.select`, the same deploy event segment programs use) backfills the
index for the program's field or event from one pass over the contacts, and enrols who is
due already. `Sweeper.backfill` does the same for every live program of an existing
deployment (run once after upgrading: the sweep function's `{"backfill": true}` event).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from nurture.contacts import Contact
from nurture.dates import parse_when, zone_of
from nurture.programs.conditions import activity_matches, contact_value
from nurture.programs.durations import parse_offset
from nurture.programs.model import DateTrigger, InactivityTrigger, Program
from nurture.runtime.records import contact_actors
from nurture.runtime.view import HISTORY_LIMIT
from nurture.tracking.events import Activity

if TYPE_CHECKING:
    from nurture.runtime.react import Reactor

DAY = 86400
MARKER_MARGIN_DAYS = 7  # markers outlive their due day by this (missed sweeps)
REMEMBERED = 4096  # entries this container wrote lately (not written again)
# Activities that can set a contact's date fields.
FIELD_ACTIVITIES = ("identify", "form")


class DueStore(Protocol):
    def mark(
        self, bucket: str, contact_id: str, attrs: dict[str, str], expires_at: int | None
    ) -> None:
        """Put the entry (idempotent: the same entry again changes nothing)."""

    def members(self, bucket: str) -> list[tuple[str, dict[str, str]]]:
        """The contact ids in a bucket, with their attributes."""

    def unmark(self, bucket: str, contact_id: str) -> None: ...


def date_bucket(field_name: str, month_day: str) -> str:
    return f"DATE#{field_name}#{month_day}"


def active_bucket(program_id: str, day: str) -> str:
    return f"ACTIVE#{program_id}#{day}"


def field_day(contact: Contact, data: dict[str, Any], field_name: str) -> date | None:
    """The local date a contact's date field names (None: no date there)."""
    found, value = contact_value(data, field_name)
    if not found or value in (None, ""):
        return None
    moment = parse_when(value, zone_of(contact))
    return moment.date() if moment else None


def _month_days(days: list[date]) -> list[str]:
    out = {d.strftime("%m-%d") for d in days}
    if out & {"02-28", "03-01"}:
        out.add("02-29")  # a leap-day date is kept on the 28th or 1st in other years
    return sorted(out)


@dataclass
class DueIndex:
    store: DueStore
    reactor: Reactor
    _written: OrderedDict[tuple[str, str, str], None] = field(default_factory=OrderedDict)

    # --- the live programs the index serves (the reactor's cached records) ---------------
    def programs(self, kind: str) -> list[Program]:
        out = []
        for program_id in self.reactor.programs_for_trigger(kind):
            loaded = self.reactor.program(program_id)
            if loaded is not None and loaded[0].status == "live":
                out.append(loaded[1])
        return out

    # --- kept as activity arrives ------------------------------------------------------
    def observe(self, contact: Contact, activity: Activity) -> None:
        joined = activity.name == "contact.identified"
        changes_fields = joined or activity.kind in FIELD_ACTIVITIES
        changes_fields = changes_fields or activity.name == "contact.field_changed"
        inactivity = self.programs("inactivity")
        if changes_fields:
            for program in self.programs("date"):
                assert isinstance(program.trigger, DateTrigger)
                self.index_date(contact, program.trigger.date)
        if joined and inactivity:
            # what they did before they were known is theirs now: the history of the actor
            # keys that joined (the rest of theirs was marked as it arrived); nothing else
            # changes a contact's history, so no other activity reads it
            actors = activity.properties.get("actors")
            keys = [str(a) for a in actors] if isinstance(actors, list) else None
            if keys is None:
                keys = contact_actors(contact)
            history = self.reactor.activities.list_for(keys, HISTORY_LIMIT) if keys else []
            for program in inactivity:
                self.mark_last(program, contact.contact_id, history)
        for program in inactivity:
            trigger = program.trigger
            assert isinstance(trigger, InactivityTrigger)
            if activity_matches(trigger.inactivity, trigger.where, activity):
                self.mark_active(program, contact.contact_id, activity)

    def mark_last(self, program: Program, contact_id: str, history: list[Activity]) -> None:
        """Mark the latest activity of `history` (newest first) the program watches."""
        trigger = program.trigger
        assert isinstance(trigger, InactivityTrigger)
        last = next(
            (a for a in history if activity_matches(trigger.inactivity, trigger.where, a)), None
        )
        if last is not None:
            self.mark_active(program, contact_id, last)

    def index_date(
        self, contact: Contact, field_name: str, data: dict[str, Any] | None = None
    ) -> None:
        day = field_day(contact, data or contact.model_dump(mode="json"), field_name)
        if day is not None:
            self._mark(date_bucket(field_name, day.strftime("%m-%d")), contact.contact_id, {}, None)

    def mark_active(self, program: Program, contact_id: str, activity: Activity) -> None:
        trigger = program.trigger
        assert isinstance(trigger, InactivityTrigger)
        day = _parse(activity.occurred_at).date()
        expires = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + DAY * (
            trigger.days + MARKER_MARGIN_DAYS
        )
        self._mark(active_bucket(program.id, day.isoformat()), contact_id, {}, int(expires))

    def _mark(
        self, bucket: str, contact_id: str, attrs: dict[str, str], expires_at: int | None
    ) -> None:
        key = (bucket, contact_id, "")
        if key in self._written:
            self._written.move_to_end(key)
            return
        self.store.mark(bucket, contact_id, attrs, expires_at)
        self._written[key] = None
        if len(self._written) > REMEMBERED:
            self._written.popitem(last=False)

    # --- read by the sweep -------------------------------------------------------------
    def date_candidates(self, program: Program, now: datetime) -> dict[str, list[str]]:
        """Contact id -> the buckets it was found in, for the days a date trigger can be
        due on today or yesterday in any time zone (the sweep checks each exactly)."""
        trigger = program.trigger
        assert isinstance(trigger, DateTrigger)
        shift = timedelta(seconds=parse_offset(trigger.offset))
        today = now.date()
        # local today/yesterday lie within UTC today -2 .. +1; an offset moves the field's
        # date back by its days, and a time of day by at most one more day either way
        days = [today + timedelta(days=k) - shift for k in range(-3, 3)]
        found: dict[str, list[str]] = {}
        for month_day in _month_days(days):
            bucket = date_bucket(trigger.date, month_day)
            for contact_id, _ in self.store.members(bucket):
                found.setdefault(contact_id, []).append(bucket)
        return found

    def inactive_candidates(self, program: Program, now: datetime, since: date) -> set[str]:
        """Who last did the watched thing on a day that lapses between the last sweep
        (`since`, at most a week back) and now."""
        trigger = program.trigger
        assert isinstance(trigger, InactivityTrigger)
        first = max(since, now.date() - timedelta(days=MARKER_MARGIN_DAYS))
        out: set[str] = set()
        day = first - timedelta(days=trigger.days + 1)
        while day <= now.date() - timedelta(days=trigger.days):
            out.update(c for c, _ in self.store.members(active_bucket(program.id, day.isoformat())))
            day += timedelta(days=1)
        return out

    def still_due_here(
        self, contact: Contact, data: dict[str, Any], field_name: str, bucket: str
    ) -> bool:
        """Whether a date entry still matches the contact (else it is removed: stale)."""
        day = field_day(contact, data, field_name)
        if day is not None and bucket == date_bucket(field_name, day.strftime("%m-%d")):
            return True
        self.store.unmark(bucket, contact.contact_id)
        return False


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
