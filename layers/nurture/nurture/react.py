"""Reacting to stored activity: who is this (identity merge), which programs start (triggers
and entry rules), which runs end (goals), and which waiting program steps it resumes.

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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import TypeAdapter

from nurture import clock
from nurture.contacts import PROFILE_FIELDS, Consent, Contact, looks_like_email, normalise_email
from nurture.ids import new_contact_id, stable_id
from nurture.ports import (
    ActivityStore,
    ContactStore,
    Enrolment,
    ProgramRecord,
    StateStore,
    Workflows,
)
from nurture.programs.conditions import (
    STAGE_ORDER,
    Where,
    activity_matches,
    activity_property,
    contact_value,
    evaluate,
    filter_matches,
)
from nurture.programs.model import (
    DateTrigger,
    EventTrigger,
    FieldChangedTrigger,
    FormTrigger,
    Program,
    ScoreCrossedTrigger,
    SegmentTrigger,
    StageChangedTrigger,
    goal_reached,
)
from nurture.tracking.claims import IdentityClaims
from nurture.tracking.events import Activity
from nurture.tracking.identity import apply_alias, contact_for_user, join_account
from nurture.tracking.names import event_key
from nurture.tracking.trust import may_change_known

# Activity kinds this system writes about itself; they never identify anyone.
INTERNAL_KINDS = ("program", "contact")
# A claimed entry not started yet is taken to be in flight (another invocation starting it)
# for this long; after that it is treated as abandoned and a new entry may replace it.
PENDING_GRACE_SECONDS = 300
# How much of a contact's history conditions see (newest first, across all their actor keys).
HISTORY_LIMIT = 500
STAGES = (*STAGE_ORDER, "former_customer", "recycled", "disqualified")


def contact_actors(contact: Contact) -> list[str]:
    """Every actor key a contact's activity is stored under, incl. what the system recorded."""
    return list(dict.fromkeys([*contact.actors, f"contact:{contact.contact_id}"]))


def record_activity(
    store: ActivityStore, contact_id: str, name: str, key: str, properties: dict[str, Any]
) -> bool:
    """Record something the system did or learned about a contact, once per `key`."""
    now = clock.iso(clock.now())
    return store.put_new(
        Activity(
            actor=f"contact:{contact_id}",
            contact_id=contact_id,
            message_id=stable_id(name, key, contact_id),
            kind=name.split(".")[0],
            name=name,
            occurred_at=now,
            received_at=now,
            properties=properties,
        )
    )


def entry_mode(program: Program) -> str:
    """once | every_time | once_per. A yearly date trigger (a birthday) with no entry rule
    written enters every year: "once" would greet a contact only on their first birthday."""
    entry = program.entry
    unspecified = entry.once is None and entry.every_time is None and entry.once_per is None
    if (
        unspecified
        and isinstance(program.trigger, DateTrigger)
        and program.trigger.repeat == "yearly"
    ):
        return "every_time"
    return entry.mode


def execution_name(program: Program, contact_id: str, cause_id: str) -> str:
    """One name per entry. `once` programs have one entry per contact; the others one per
    causing activity. Step Functions allows 80 characters: program[:24]-hash12--contact32."""
    if entry_mode(program) == "once":
        return f"{program.id}--{contact_id}"
    return f"{program.id[:24]}-{stable_id(cause_id, length=12)}--{contact_id}"


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
        return evaluate(condition, self.data, self.history, now)


@dataclass
class Reactor:
    contacts: ContactStore
    activities: ActivityStore
    state: StateStore
    workflows: Workflows
    _parsed: dict[tuple[str, str], Program] = field(default_factory=dict)
    # Double opt-in: called with (contact id, form activity) when a form left consents
    # pending; delivery sends the confirmation email (nurture.delivery.confirmation).
    on_pending_consent: Callable[[str, Activity], object] | None = None
    # Lead scoring, inline (nurture.scoring.engine.Scorer): one conditional write per scored
    # activity, no workflow; what it records (score/grade/stage changes) reaches this again.
    scoring: Any = None
    # Sales hand-off, digest markers and CRM push (nurture.sales.desk.SalesDesk.observe):
    # sees every activity of a known contact, before programs react to it.
    sales: Any = None

    def handle(self, activity: Activity) -> None:
        contact = self._identify(activity)
        if activity.kind == "group":  # the company account, and the contact's link to it
            _, contact = join_account(
                self.contacts, activity, contact, may_change_known(activity.trust)
            )
        if contact is None:
            return  # still anonymous: stored, and joined to the contact once they identify
        if self.scoring is not None:
            self.scoring.on_activity(contact, activity)
        if self.sales is not None:  # before programs, so their steps find the lead's owner
            self.sales.observe(contact, activity)
        view = ContactView(contact, self.activities)
        # Goals first: a purchase that ends one run may start another (never two at once).
        self._check_goals(view, activity)
        for key in trigger_keys_for(activity):
            for program_id in self.state.programs_for_trigger(key):
                loaded = self.program(program_id)
                if loaded and self.trigger_matches(loaded[1], activity, view):
                    self.enrol(program_id, contact, activity, view=view)
        self._resume_waits(contact.contact_id, activity)
        if self.sales is not None:
            self.sales.observe(contact, activity)

    def program(self, program_id: str) -> tuple[ProgramRecord, Program] | None:
        record = self.state.get_program(program_id)
        if record is None:
            return None
        key = (record.program_id, record.version)
        if key not in self._parsed:
            self._parsed[key] = Program.model_validate(record.definition)
        return record, self._parsed[key]

    # --- identity -------------------------------------------------------------------
    def _identify(self, activity: Activity) -> Contact | None:
        # Who may change a known contact: see nurture.tracking.trust and the README.
        if activity.contact_id:
            if activity.trust == "signed_link":
                return self._claims().join_clicked(activity)
            return self.contacts.get(activity.contact_id)
        if activity.kind == "alias":
            return self._alias(activity)
        email, fields, consents = _identity_claims(activity)
        known_id = self.contacts.contact_for_actor(activity.actor)
        trusted = may_change_known(activity.trust)
        if email is None:
            if known_id is None:
                if activity.kind == "identify" and activity.user_id:
                    return self._known_by_user_id(activity, fields)
                return None
            if fields and not trusted:
                return self._claims().claim(known_id, activity, fields, [])
            if fields:  # e.g. a CRM's identify call with a new address for a known user
                self._update_profile(known_id, activity, fields, [], [], created=False)
            return self.contacts.get(known_id)
        now = clock.iso(clock.now())
        fresh = Contact(
            contact_id=new_contact_id(),
            created_at=now,
            updated_at=now,
            email=email,
            created_by=activity.message_id,
        )
        known = self.contacts.get(known_id) if known_id and trusted else None
        if known is not None and known.email is None:  # known by user id until now
            fresh = known.model_copy(update={"email": email, "updated_at": now})
        contact = self.contacts.create_if_absent(fresh, email)
        created = contact.contact_id == fresh.contact_id and fresh is not known
        if not created and contact.created_by == activity.message_id:
            created = True  # this activity made the contact: a replay of the same batch
        if not created and not trusted:
            return self._claims().claim(contact.contact_id, activity, fields, consents)
        new_actors = [
            a
            for a in _actors_of(activity, email)
            if a not in contact.actors
            # a public key creates a contact but never takes a key another contact holds
            and (trusted or self.contacts.contact_for_actor(a) in (None, contact.contact_id))
        ]
        for actor in new_actors:
            self.contacts.link_actor(actor, contact.contact_id)
        self._update_profile(contact.contact_id, activity, fields, consents, new_actors, created)
        if self.on_pending_consent and any(c.get("status") == "pending" for c in consents):
            self.on_pending_consent(contact.contact_id, activity)
        if new_actors:
            record_activity(
                self.activities,
                contact.contact_id,
                "contact.identified",
                activity.message_id,
                # the actor keys let the activity lake join anonymous visits to the contact
                {"created": created, "joined_actors": len(new_actors), "actors": new_actors},
            )
        return self.contacts.get(contact.contact_id)

    def _known_by_user_id(self, activity: Activity, fields: dict[str, Any]) -> Contact | None:
        """An identify with a userId and no email: a contact known by the user id alone."""
        assert activity.user_id is not None
        contact, created = contact_for_user(self.contacts, activity.user_id)
        if not created:  # another invocation made it first: an identify of a known contact
            return self._identify(activity)
        joined = [activity.actor]
        anonymous = f"anon:{activity.anonymous_id}" if activity.anonymous_id else None
        if anonymous and self.contacts.contact_for_actor(anonymous) is None:
            self.contacts.link_actor(anonymous, contact.contact_id)
            joined.append(anonymous)
        self._update_profile(contact.contact_id, activity, fields, [], joined, created=True)
        record_activity(
            self.activities,
            contact.contact_id,
            "contact.identified",
            activity.message_id,
            {"created": True, "joined_actors": len(joined), "actors": joined},
        )
        return self.contacts.get(contact.contact_id)

    def _alias(self, activity: Activity) -> Contact | None:
        """`previousId` and `userId` are one person. Only a trusted sender may join them to
        a contact that already exists; a public key may make a new one of both."""
        outcome = apply_alias(self.contacts, activity, may_change_known(activity.trust))
        if outcome.joined or outcome.refused:
            record_activity(
                self.activities,
                outcome.contact.contact_id,
                "contact.identified",
                activity.message_id,
                {
                    "created": outcome.created,
                    "joined_actors": len(outcome.joined),
                    "actors": outcome.joined,
                    "refused_actors": outcome.refused,
                },
            )
        return outcome.contact

    def _claims(self) -> IdentityClaims:
        return IdentityClaims(
            self.contacts, partial(record_activity, self.activities), self.on_pending_consent
        )

    def _update_profile(
        self,
        contact_id: str,
        activity: Activity,
        fields: dict[str, Any],
        consents: list[dict[str, Any]],
        new_actors: list[str],
        created: bool,
    ) -> None:
        def change(contact: Contact) -> dict[str, Any] | None:
            changes = apply_fields(contact, fields)
            for consent in consents:
                # a form asks "pending" when it has double opt-in; otherwise consent is granted
                record = Consent.model_validate(
                    {"status": "granted", "at": activity.occurred_at, **consent}
                )
                current = contact.consent.get(record.key)
                if record.status == "pending" and current and current.status == "granted":
                    continue  # already confirmed: signing up again does not undo it
                contact.consent[record.key] = record
            added = [a for a in new_actors if a not in contact.actors]
            contact.actors.extend(added)
            if not (changes or consents or added):
                return None
            contact.updated_at = clock.iso(clock.now())
            return {"fields": changes.replaced, "stage": changes.stage}

        _, note = self.contacts.apply_once(contact_id, f"profile#{activity.message_id}", change)
        if note and not created:
            record_changes(self.activities, contact_id, activity.message_id, note, {})

    # --- triggers and entry -----------------------------------------------------------
    @staticmethod
    def trigger_matches(program: Program, activity: Activity, view: ContactView) -> bool:
        """Whether this activity fires the program's trigger (date and inactivity triggers
        fire from the daily sweep, one-time segments on deploy: never from here)."""
        trigger = program.trigger
        props = activity.properties
        if isinstance(trigger, FormTrigger):
            return activity.kind == "form" and activity.name == trigger.form
        if isinstance(trigger, EventTrigger):
            return activity_matches(trigger.event, trigger.where, activity)
        if isinstance(trigger, FieldChangedTrigger):
            if activity.name != "contact.field_changed":
                return False
            if trigger.field_changed not in (props.get("fields") or []):
                return False
            if trigger.to is None:
                return True
            found, value = contact_value(view.data, trigger.field_changed)
            return filter_matches(trigger.to, found, value)
        if isinstance(trigger, StageChangedTrigger):
            if activity.name != "contact.stage_changed":
                return False
            rule = trigger.stage_changed
            return _stage_in(props.get("to"), rule.to) and _stage_in(props.get("from"), rule.from_)
        if isinstance(trigger, ScoreCrossedTrigger):
            if activity.name != "contact.score_changed":
                return False
            old, new = props.get("old"), props.get("new")
            if not isinstance(old, int) or not isinstance(new, int):
                return False
            threshold = trigger.score_crossed
            if trigger.direction == "up":
                return old < threshold <= new
            return new < threshold <= old
        if isinstance(trigger, SegmentTrigger):
            # An automation rule: whoever comes to match. (Who matched at deploy: the sweep.)
            return not trigger.once and activity.kind != "program" and view.holds(trigger.segment)
        return False

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
            {"program_id": program_id, "version": record.version, "execution": name},
        )
        return True

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
    def _check_goals(self, view: ContactView, activity: Activity) -> None:
        for enrolment in self.state.enrolments_of(view.contact.contact_id):
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


def trigger_keys_for(activity: Activity) -> list[str]:
    """The trigger keys (as `nurture.programs.model.trigger_key` indexes programs) this
    activity may fire; the program's own filters are checked after the lookup."""
    props = activity.properties
    keys: list[str] = []
    if activity.kind == "form":
        keys += [
            f"form:{activity.name}",
            f"event:{event_key(f'form:{activity.name}')}",
            "event:form",
        ]
    elif activity.kind in ("page", "screen"):
        keys.append(f"event:{activity.kind}")
    elif activity.kind in ("track", "email", "webhook", "task", "sales", "lead"):
        keys.append(f"event:{event_key(activity.name)}")
    elif activity.name == "contact.field_changed":
        keys += [f"field_changed:{name}" for name in props.get("fields") or []]
    elif activity.name == "contact.stage_changed":
        keys.append("stage_changed")
    elif activity.name == "contact.score_changed":
        keys.append("score_crossed")
    if activity.kind != "program":
        keys.append("segment")
    return keys


def waited_event_keys(activity: Activity) -> list[str]:
    """Keys under which a waiting step may be registered for this activity."""
    if activity.kind == "email":
        props = activity.properties
        return [f"{activity.name}:{props.get('program_id')}:{props.get('step_id')}"]
    if activity.kind == "track":
        return [f"track:{event_key(activity.name)}"]
    if activity.kind == "form":
        return [f"form:{activity.name}"]
    if activity.kind in ("page", "screen"):
        return [activity.kind]
    return []


_where_adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(Where)


def where_matches(where: dict[str, Any], activity: Activity) -> bool:
    """`where` property filters (as a step's params carry them) against an activity."""
    for path, flt in _where_adapter.validate_python(where).items():
        found, value = activity_property(activity, path)
        if not filter_matches(flt, found, value):
            return False
    return True


def record_changes(
    store: ActivityStore, contact_id: str, key: str, note: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Record the field and stage changes of one update (`note` from `apply_fields` et al.)."""
    if note.get("fields"):
        record_activity(
            store, contact_id, "contact.field_changed", key, {"fields": note["fields"], **extra}
        )
    if note.get("stage"):
        record_activity(store, contact_id, "contact.stage_changed", key, {**note["stage"], **extra})


_TRAIT_ALIASES = {"firstName": "first_name", "lastName": "last_name", "title": "job_title"}
_STAGE_TRAITS = ("stage", "lifecycle_stage")


@dataclass
class FieldChanges:
    """What `apply_fields` did: fields given a value, those of them that replaced another
    value (only these are "changes": a first postal address is not a move), a stage change."""

    set: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    stage: dict[str, str] | None = None

    def __bool__(self) -> bool:
        return bool(self.set or self.stage)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def apply_fields(contact: Contact, fields: dict[str, Any]) -> FieldChanges:
    """Set profile and custom fields (and the lifecycle stage, from a `stage` trait)."""
    changes = FieldChanges()
    for name, value in fields.items():
        name = _TRAIT_ALIASES.get(name, name)
        if name in _STAGE_TRAITS:
            if value in STAGES and value != contact.stage:
                changes.stage = {"from": contact.stage, "to": str(value)}
                contact.stage = value
            continue
        if name == "email":
            continue  # the email is the identity: changed only through identity merge
        if name.startswith("fields."):
            name = name.removeprefix("fields.")
        elif name in PROFILE_FIELDS:
            value = None if value is None else str(value)
        if not (isinstance(value, (str, int, float, bool)) or value is None):
            continue
        profile = name in PROFILE_FIELDS
        old = getattr(contact, name) if profile else contact.fields.get(name)
        if old == value and (profile or name in contact.fields):
            continue
        if profile:
            setattr(contact, name, value)
        else:
            contact.fields[name] = value
        changes.set.append(name)
        if not _empty(old):
            changes.replaced.append(name)
    return changes


def _stage_in(stage: Any, wanted: Any) -> bool:
    if wanted is None:
        return True
    return stage in wanted if isinstance(wanted, list) else stage == wanted


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _identity_claims(
    activity: Activity,
) -> tuple[str | None, dict[str, Any], list[dict[str, Any]]]:
    if activity.kind == "identify":
        email = activity.traits.get("email")
        fields = {k: v for k, v in activity.traits.items() if k != "email"}
        consents: list[dict[str, Any]] = []
    elif activity.kind == "form":
        fields = dict(activity.properties.get("fields", {}))
        email = fields.pop("email", None)
        consents = list(activity.properties.get("consent", []))
    else:
        return None, {}, []
    if email is None:
        return None, fields, []
    if not isinstance(email, str) or not looks_like_email(email):
        return None, {}, []
    return normalise_email(email), fields, consents


def _actors_of(activity: Activity, email: str) -> list[str]:
    actors = [activity.actor, f"email:{email}"]
    if activity.anonymous_id:
        actors.append(f"anon:{activity.anonymous_id}")
    if activity.user_id:
        actors.append(f"user:{activity.user_id}")
    return list(dict.fromkeys(actors))
