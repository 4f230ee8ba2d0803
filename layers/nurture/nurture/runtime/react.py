"""Reacting to stored activity: who is this (identity merge, `runtime.identity`), which
programs start (triggers, `runtime.triggers`, and entry rules), which runs end (goals), and
which waiting program steps it resumes.

What the runtime records about contacts, so programs can start on it:

    contact.field_changed   {fields: [names]}             field_changed triggers (a value
                                                          replaced another; a first value
                                                          is for automation rules)
    contact.stage_changed   {from, to}                    stage_changed triggers
    contact.score_changed   {old, new, delta, reason}     score_crossed triggers
    program.entered         {program_id, version, execution}
    program.converted       {program_id, goal, execution}

Each entry into a program is one Step Functions execution with a name that is deterministic
per entry (program, contact and the activity that caused it), so a retried stream batch never
enrols twice; the enrolment item (ENROL#<contact> / PROGRAM#<program>) holds the latest entry,
which is how "once", "every time", "once per period" and "never two runs at once" are kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nurture import clock
from nurture.contacts import Contact
from nurture.ports import (
    ActivityStore,
    ContactStore,
    Enrolment,
    ProgramRecord,
    StateStore,
    Workflows,
)
from nurture.runtime.adoption import stop_released_runs
from nurture.runtime.identity import Identities
from nurture.runtime.records import record_activity
from nurture.runtime.triggers import (
    entry_mode,
    execution_name,
    trigger_keys_for,
    trigger_matches,
    waited_event_keys,
    where_matches,
)
from nurture.runtime.view import ContactView
from nurture.tracking.events import Activity
from nurture.tracking.identity import RELEASED, join_account
from nurture.tracking.trust import may_change_known

if TYPE_CHECKING:  # the program models are imported with the first program read (#9)
    from nurture.programs.model import Program

# Program records and the trigger index are read eventually consistent and kept this long
# (virtual-time aware, per function container): a deploy, pause or archive reaches every
# react container within this time. Parsed definitions are kept per program version.
PROGRAM_CACHE_SECONDS = 60
# A claimed entry not started yet is taken to be in flight (another invocation starting it)
# for this long; after that it is treated as abandoned and a new entry may replace it.
PENDING_GRACE_SECONDS = 300


@dataclass
class Reactor:
    contacts: ContactStore
    activities: ActivityStore
    state: StateStore
    workflows: Workflows
    _parsed: dict[tuple[str, str], Program] = field(default_factory=dict)
    _records: dict[str, tuple[float, ProgramRecord | None]] = field(default_factory=dict)
    _triggered: dict[str, tuple[float, list[str]]] = field(default_factory=dict)
    # Double opt-in: called with (contact id, form activity) when a form left consents
    # pending; delivery sends the confirmation email (nurture.delivery.confirmation).
    on_pending_consent: Callable[[str, Activity], object] | None = None
    # Lead scoring, inline (nurture.scoring.engine.Scorer): one conditional write per scored
    # activity, no workflow; what it records (score/grade/stage changes) reaches this again.
    scoring: Any = None
    # Sales hand-off, digest markers and CRM push (nurture.sales.desk.SalesDesk.observe):
    # sees every activity of a known contact, before programs react to it.
    sales: Any = None
    # The due index (nurture.runtime.due.DueIndex): kept as activity arrives.
    due: Any = None

    def handle(self, activity: Activity) -> None:
        contact = self.identities().identify(activity)
        if activity.kind == "group":  # the company account, and the contact's link to it
            _, contact = join_account(
                self.contacts, activity, contact, may_change_known(activity.trust)
            )
        if contact is None:
            return  # still anonymous: stored, and joined to the contact once they identify
        if activity.name == RELEASED:  # an adoption: runs the released actors started end
            released = [str(a) for a in activity.properties.get("actors") or []]
            stop_released_runs(
                self.state, self.workflows, self.activities, contact.contact_id, released
            )
        if self.due is not None:  # dates and last activity, for the daily sweep
            self.due.observe(contact, activity)
        if self.scoring is not None:
            self.scoring.on_activity(contact, activity)
        if self.sales is not None:  # before programs, so their steps find the lead's owner
            self.sales.observe(contact, activity)
        view = ContactView(contact, self.activities)
        # Goals first: a purchase that ends one run may start another (never two at once).
        enrolled = self._check_goals(view, activity)
        for key in trigger_keys_for(activity):
            for program_id in self.programs_for_trigger(key):
                loaded = self.program(program_id)
                if loaded and trigger_matches(loaded[1], activity, view):
                    enrolled = self.enrol(program_id, contact, activity, view=view) or enrolled
        # A wait is registered by a run, and a run is entered (its enrolment claimed) before
        # it starts: a contact with no enrolment when this activity was read has no wait
        # this activity may resume (a run entered after it was stored is not its to resume).
        if enrolled:
            self._resume_waits(contact.contact_id, activity)

    def program(self, program_id: str, fresh: bool = False) -> tuple[ProgramRecord, Program] | None:
        """The live record and its parsed definition (`fresh`: read it now, consistently:
        the deploy that just wrote it asks)."""
        now = clock.now().timestamp()
        cached = self._records.get(program_id)
        if not fresh and cached is not None and 0 <= now - cached[0] < PROGRAM_CACHE_SECONDS:
            record = cached[1]
        else:
            record = self.state.get_program(program_id, consistent=fresh)
            self._records[program_id] = (now, record)
        if record is None:
            return None
        key = (record.program_id, record.version)
        if key not in self._parsed:
            from nurture.programs.model import Program  # the first program read (#9)

            self._parsed[key] = Program.model_validate(record.definition)
        return record, self._parsed[key]

    def programs_for_trigger(self, key: str) -> list[str]:
        """The programs a trigger key starts (the index, cached like the records)."""
        now = clock.now().timestamp()
        cached = self._triggered.get(key)
        if cached is not None and 0 <= now - cached[0] < PROGRAM_CACHE_SECONDS:
            return cached[1]
        found = self.state.programs_for_trigger(key)
        self._triggered[key] = (now, found)
        return found

    def identities(self) -> Identities:
        return Identities(self.contacts, self.activities, self.on_pending_consent)

    # --- entry ----------------------------------------------------------------------
    def enrol(
        self,
        program_id: str,
        contact: Contact,
        cause: Activity,
        view: ContactView | None = None,
        start_at: str | None = None,
    ) -> bool:
        """Start the contact's run of a program for this cause, if the entry rules allow:
        live program, entry conditions hold, once / every time / once per period, and never
        while another run of the same program is going. Safe to repeat for the same cause."""
        loaded = self.program(program_id)
        if loaded is None or loaded[0].status != "live":
            return False
        record, program = loaded
        view = view or ContactView(contact, self.activities)
        if not all(view.holds(c) for c in program.entry.conditions):
            return False
        name = execution_name(program, contact.contact_id, cause.message_id)
        self._note_entry(contact, program_id, name)
        now = clock.now()
        current = self.state.get_enrolment(contact.contact_id, program_id)
        if current is not None and current.execution == name:
            if current.status != "pending":
                return False  # this entry happened already (a retried batch)
        elif current is not None:
            if not self._may_enter_again(program, record, current, now):
                return False
            entry = Enrolment(
                contact.contact_id, program_id, name, clock.iso(now), entries=current.entries + 1
            )
            if not self.state.claim_entry(entry, replaces=current.execution):
                return False  # a concurrent entry won
        elif not self.state.claim_entry(
            Enrolment(contact.contact_id, program_id, name, clock.iso(now)), replaces=None
        ):
            return False
        payload: dict[str, Any] = {
            "contact_id": contact.contact_id,
            "program_id": program_id,
            "trigger": {
                "kind": cause.kind,
                "name": cause.name,
                "message_id": cause.message_id,
                "occurred_at": cause.occurred_at,
            },
        }
        if start_at:
            payload["start_at"] = start_at
        arn = self.workflows.start(record.alias_arn, name, payload)
        self.state.set_entry_status(contact.contact_id, program_id, name, "started", arn)
        record_activity(
            self.activities,
            contact.contact_id,
            "program.entered",
            name,
            {
                "program_id": program_id,
                "version": record.version,
                "execution": name,
                # whose activity started it: an adoption stops what released actors started
                "cause_actor": cause.actor,
            },
        )
        return True

    def _note_entry(self, contact: Contact, program_id: str, name: str) -> None:
        """Add the program to the contact's `programs_entered` before its entry is claimed,
        so the list always holds every program the contact has an enrolment in (a reader
        that found the program missing read the profile before this entry was claimed)."""
        if contact.programs_entered is None or program_id in contact.programs_entered:
            return  # not kept for this contact, or there already (the list only grows)

        def change(fresh: Contact) -> dict[str, Any] | None:
            if fresh.programs_entered is None or program_id in fresh.programs_entered:
                return None
            fresh.programs_entered = [*fresh.programs_entered, program_id]
            return {"programs_entered": program_id}

        with contextlib.suppress(KeyError):  # the contact is gone (erased): nothing to list
            self.contacts.apply_once(contact.contact_id, f"entering#{program_id}#{name}", change)

    def _may_enter_again(
        self, program: Program, record: ProgramRecord, current: Enrolment, now: datetime
    ) -> bool:
        mode = entry_mode(program)
        if mode == "once":
            return False
        if current.status == "pending":
            age = now - _parse_iso(current.entered_at)
            if age < timedelta(seconds=PENDING_GRACE_SECONDS):
                return False  # being started right now by another invocation
        elif (
            current.status == "started"
            and current.execution_arn
            and self.workflows.is_running(current.execution_arn)
        ):
            return False  # never two runs of one program at once
        if mode == "once_per":
            period = timedelta(seconds=program.entry.period_seconds or 0)
            if now - _parse_iso(current.entered_at) < period:
                return False
        return True

    # --- goals ----------------------------------------------------------------------
    def _check_goals(self, view: ContactView, activity: Activity) -> bool:
        """End the runs this activity converts; whether the contact has any enrolment."""
        if view.contact.programs_entered == []:
            return False  # never entered into a program: no enrolment to read (see enrol)
        enrolments = self.state.enrolments_of(view.contact.contact_id)
        for enrolment in enrolments:
            if enrolment.status != "started" or not enrolment.execution_arn:
                continue
            if activity.name == "program.entered" and (
                activity.properties.get("execution") == enrolment.execution
            ):
                continue  # a run is not converted by its own entry
            loaded = self.program(enrolment.program_id)
            if loaded is None:
                continue
            record, program = loaded
            if record.status == "archived":
                if self.workflows.stop(enrolment.execution_arn, "program archived"):
                    self._set_status(enrolment, "stopped")
                continue
            if not program.goals:
                continue
            needs_history = any(g.when is not None for g in program.goals)
            from nurture.programs.model import goal_reached  # with the program read (#9)

            goal = goal_reached(
                program, view.data, activity, view.history if needs_history else (), clock.now()
            )
            if goal is None:
                continue
            if not self.workflows.stop(enrolment.execution_arn, f"goal reached: {goal.label}"):
                self._set_status(enrolment, "ended")  # it had finished already
                continue
            self._set_status(enrolment, "converted")
            record_activity(
                self.activities,
                enrolment.contact_id,
                "program.converted",
                enrolment.execution,
                {
                    "program_id": enrolment.program_id,
                    "goal": goal.label,
                    "execution": enrolment.execution,
                    "by": activity.name,
                },
            )
        return bool(enrolments)

    def _set_status(self, enrolment: Enrolment, status: str) -> None:
        self.state.set_entry_status(
            enrolment.contact_id, enrolment.program_id, enrolment.execution, status
        )

    # --- waits ----------------------------------------------------------------------
    def _resume_waits(self, contact_id: str, activity: Activity) -> None:
        for key in waited_event_keys(activity):
            for wait in self.state.waits_for(contact_id, key):
                if wait.where and not where_matches(wait.where, activity):
                    continue  # e.g. waiting for a purchase of shoes, and this was a hat
                self.workflows.resume(
                    wait.task_token,
                    {
                        "event": activity.name,
                        "message_id": activity.message_id,
                        "occurred_at": activity.occurred_at,
                    },
                )
                self.state.remove_wait(wait)


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
