"""Triggers no single activity fires, run over all contacts:

* the daily sweep: date triggers (birthday, anniversary, renewal date: the contact's local
  date is the day), inactivity triggers (the last matching event is older than N days) and
  automation-rule segments (`segment` with `once: false`: whoever matches now);
* the one-time selection of a segment program when it is deployed (its status file is
  written): everyone matching at that moment enters, once.

Entries go through `Reactor.enrol`, so entry rules hold and every cause is deterministic (a
date occurrence, the lapse since one activity, the selection): a retried or repeated sweep
never enrols twice. The daily sweep also catches up yesterday's dates, for a missed run.

Scale: the daily sweep reads who can be due from the due index (nurture.runtime.due): a
few queries per date or inactivity program, then each contact found is checked exactly.
Its cost follows who is due, not how many contacts there are. Automation-rule segments
(`segment` with `once: false`: a condition over everyone) still pass over all contacts, and
only when such a program is live. One pass over the contacts also happens on deploy of a
date or inactivity program (`select`: the index for its field or event, and who is due
already) and once after upgrading an existing deployment (`backfill`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.dates import occurrence_on, zone_of
from nurture.ids import stable_id
from nurture.programs.conditions import activity_matches, contact_value
from nurture.programs.durations import parse_offset
from nurture.programs.model import DateTrigger, InactivityTrigger, Program, SegmentTrigger
from nurture.runtime.due import DueIndex
from nurture.runtime.react import Reactor
from nurture.runtime.view import ContactView
from nurture.tracking.events import Activity

SWEPT_TRIGGERS = ("date", "inactivity", "segment")


@dataclass
class SweepReport:
    contacts: int = 0
    entered: dict[str, int] = field(default_factory=dict)

    def count(self, program_id: str) -> None:
        self.entered[program_id] = self.entered.get(program_id, 0) + 1


def _cause(contact: Contact, name: str, key: str, **properties: Any) -> Activity:
    now = clock.iso(clock.now())
    return Activity(
        actor=f"contact:{contact.contact_id}",
        contact_id=contact.contact_id,
        message_id=stable_id(name, key, contact.contact_id),
        kind="program",
        name=name,
        occurred_at=now,
        received_at=now,
        properties=properties,
    )


@dataclass
class Sweeper:
    reactor: Reactor
    due: DueIndex

    def _programs(self) -> list[Program]:
        found = []
        for key in SWEPT_TRIGGERS:
            for program_id in self.reactor.programs_for_trigger(key):
                loaded = self.reactor.program(program_id)
                if loaded is None or loaded[0].status != "live":
                    continue
                trigger = loaded[1].trigger
                if isinstance(trigger, SegmentTrigger) and trigger.once:
                    continue  # one-time selections run on deploy only
                found.append(loaded[1])
        return found

    def daily(self) -> SweepReport:
        report = SweepReport()
        now = clock.now()
        programs = self._programs()
        rules = [p for p in programs if isinstance(p.trigger, SegmentTrigger)]
        for program in programs:
            if isinstance(program.trigger, DateTrigger):
                found = self.due.date_candidates(program, now)
                for contact_id, buckets in sorted(found.items()):
                    contact = self.reactor.contacts.get(contact_id)
                    if contact is None:
                        continue
                    report.contacts += 1
                    view = ContactView(contact, self.reactor.activities)
                    live = [
                        self.due.still_due_here(contact, view.data, program.trigger.date, b)
                        for b in buckets
                    ]
                    if any(live):
                        self._enter(program, view, now, report)
            elif isinstance(program.trigger, InactivityTrigger):
                since = now.date() - timedelta(days=1)
                for contact_id in sorted(self.due.inactive_candidates(program, now, since)):
                    contact = self.reactor.contacts.get(contact_id)
                    if contact is not None:
                        report.contacts += 1
                        view = ContactView(contact, self.reactor.activities)
                        self._enter(program, view, now, report)
        if rules:  # automation rules: a condition over everyone
            for contact in self.reactor.contacts.scan():
                report.contacts += 1
                view = ContactView(contact, self.reactor.activities)
                for program in rules:
                    self._enter(program, view, now, report)
        return report

    def _enter(
        self, program: Program, view: ContactView, now: datetime, report: SweepReport
    ) -> None:
        found = self._due(program, view, now)
        if found is None:
            return
        cause, start_at = found
        if self.reactor.enrol(program.id, view.contact, cause, view=view, start_at=start_at):
            report.count(program.id)

    def backfill(self, only: list[Program] | None = None) -> SweepReport:
        """One pass over the contacts: the due index for the live date and inactivity
        programs (these, or all), and whoever is due already enters. On deploy of such a
        program, and once after upgrading a deployment that has contacts."""
        report = SweepReport()
        now = clock.now()
        programs = [
            p
            for p in (self._programs() if only is None else only)
            if isinstance(p.trigger, (DateTrigger, InactivityTrigger))
        ]
        if not programs:
            return report
        for contact in self.reactor.contacts.scan():
            report.contacts += 1
            view = ContactView(contact, self.reactor.activities)
            for program in programs:
                trigger = program.trigger
                if isinstance(trigger, DateTrigger):
                    self.due.index_date(contact, trigger.date, view.data)
                elif isinstance(trigger, InactivityTrigger):
                    self.due.mark_last(program, contact.contact_id, view.history)
                self._enter(program, view, now, report)
        return report

    def _due(
        self, program: Program, view: ContactView, now: datetime
    ) -> tuple[Activity, str | None] | None:
        trigger = program.trigger
        contact = view.contact
        if isinstance(trigger, DateTrigger):
            found, value = contact_value(view.data, trigger.date)
            if not found:
                return None
            zone = zone_of(contact)
            today = now.astimezone(zone).date()
            for day in (today, today - timedelta(days=1)):  # yesterday: a missed sweep
                moment = occurrence_on(
                    value,
                    zone,
                    day,
                    parse_offset(trigger.offset),
                    trigger.repeat == "yearly",
                    trigger.time_of_day,
                )
                if moment is not None:
                    cause = _cause(
                        contact,
                        "date.reached",
                        f"{program.id}#{day.isoformat()}",
                        program_id=program.id,
                        field=trigger.date,
                        day=day.isoformat(),
                    )
                    return cause, clock.iso(moment)
            return None
        if isinstance(trigger, InactivityTrigger):
            last = next(
                (a for a in view.history if activity_matches(trigger.inactivity, trigger.where, a)),
                None,
            )
            if last is None or _parse(last.occurred_at) > now - timedelta(days=trigger.days):
                return None  # never did it (not a lapse), or did it recently
            cause = _cause(
                contact,
                "inactivity.reached",
                f"{program.id}#{last.message_id}",
                program_id=program.id,
                event=trigger.inactivity,
                last_at=last.occurred_at,
                days=trigger.days,
            )
            return cause, None
        if isinstance(trigger, SegmentTrigger) and view.holds(trigger.segment, now):
            return _cause(contact, "segment.matched", program.id, program_id=program.id), None
        return None

    def select(self, program_id: str) -> SweepReport:
        """On deploy: the one-time selection of a segment program (who matches now enters),
        or the due index backfill of a date or inactivity program."""
        report = SweepReport()
        loaded = self.reactor.program(program_id, fresh=True)
        if loaded is None or loaded[0].status != "live":
            return report
        trigger = loaded[1].trigger
        if isinstance(trigger, (DateTrigger, InactivityTrigger)):
            return self.backfill([loaded[1]])
        if not isinstance(trigger, SegmentTrigger):
            return report
        now = clock.now()
        for contact in self.reactor.contacts.scan():
            report.contacts += 1
            view = ContactView(contact, self.reactor.activities)
            if not view.holds(trigger.segment, now):
                continue
            cause = _cause(contact, "segment.matched", program_id, program_id=program_id)
            if self.reactor.enrol(program_id, contact, cause, view=view):
                report.count(program_id)
        return report


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
