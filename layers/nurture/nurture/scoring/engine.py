"""Scoring inline in the react function: one conditional write per scored activity.

For each live model, an activity that matches behaviour rules (or that may change the
grade: a profile update, a field change, an account change) changes the contact through
`ContactStore.apply_once` keyed by model and activity id. A retried stream batch therefore
counts nothing twice: the second attempt finds the change key taken and gets the first
attempt's note back, and what is recorded about it is keyed the same way.

What scoring records (so programs and sales can react):

    contact.score_changed  {old, new, delta, reason, model, rules, behaviour}   primary model
    contact.grade_changed  {from, to, fit, model, reasons}
    lead.mql               {behaviour, grade, reasons, model, rule, from}  the MQL crossing
    contact.stage_changed  {from, to, reason, model}      ... and its stage change (-> mql)

An activity that matches no rule costs no read or write beyond the models (loaded once per
batch, see `refresh`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from nurture import clock
from nurture.contacts import Contact
from nurture.ports import ActivityStore, ContactStore
from nurture.programs.conditions import activity_matches
from nurture.runtime.records import contact_actors, noted, record_activity, record_changes
from nurture.scoring.explain import Explanation, explain_contact
from nurture.scoring.fit import AccountLookup, account_lookup, account_of, fit_of, grade_version
from nurture.scoring.model import NOT_SCORABLE_PREFIXES, ScoringModel, grade_rank
from nurture.scoring.state import (
    Award,
    ScoreState,
    add_points,
    allowed_points,
    behaviour_at,
    parse_time,
    remember,
    round_score,
    set_decay,
)
from nurture.tracking.events import Activity
from nurture.tracking.identity import RELEASED

# Activities after which the grade may differ: profile updates, field and account changes.
REGRADE_KINDS = ("identify", "form", "group")
REGRADE_NAMES = ("contact.field_changed", "contact.identified", "account.updated")
MODEL_CACHE_SECONDS = 60.0
# How much anonymous history is scored when a visitor becomes a contact (newest first).
HISTORY_LIMIT = 500


class ModelRegistry(Protocol):
    def live_models(self) -> list[dict[str, Any]]:
        """The definitions of the live scoring models (as deployed)."""


def load_state(contact: Contact, model: ScoringModel) -> ScoreState:
    raw = contact.scoring.get(model.id)
    return ScoreState.model_validate(raw) if raw else ScoreState()


def qualifies(
    model: ScoringModel, behaviour: float, grade: str | None, predictive: int | None = None
) -> bool:
    mql = model.mql
    if mql is None:
        return False
    if mql.predictive is not None and (predictive is None or predictive < mql.predictive):
        return False
    # the score as shown (rounded), so "50" on the contact is 50 for the rule too
    if mql.behaviour is not None and round_score(behaviour) < mql.behaviour:
        return False
    return mql.grade is None or grade_rank(grade) <= grade_rank(mql.grade)


def _award_time(activity: Activity, now: datetime) -> datetime:
    # When it happened (events arrive late), never in the future.
    try:
        return min(parse_time(activity.occurred_at), now)
    except ValueError:
        return now


@dataclass
class Scorer:
    contacts: ContactStore
    activities: ActivityStore
    registry: ModelRegistry
    accounts: AccountLookup | None = None
    _models: list[ScoringModel] = field(default_factory=list)
    _loaded_at: float | None = None
    _versions: dict[tuple[str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.accounts is None:
            self.accounts = account_lookup(self.contacts)

    # --- models -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the models again before the next activity (once per stream batch)."""
        self._loaded_at = None

    def models(self) -> list[ScoringModel]:
        now = time.monotonic()
        if self._loaded_at is None or now - self._loaded_at > MODEL_CACHE_SECONDS:
            self._models = [ScoringModel.model_validate(d) for d in self.registry.live_models()]
            self._models = [m for m in self._models if m.status == "live"]
            self._loaded_at = now
        return self._models

    def _grade_version(self, model: ScoringModel) -> str | None:
        if model.grade is None:
            return None
        key = (model.id, id(model.grade))
        if key not in self._versions:
            self._versions[key] = grade_version(model.grade)
        return self._versions[key]

    # --- scoring ----------------------------------------------------------------------
    def on_activity(self, contact: Contact, activity: Activity) -> None:
        models = self.models()
        if models and activity.name == "contact.identified":
            self._score_joined_history(models, contact, activity)
        if models and activity.name == RELEASED:
            self.rescore(models, contact, activity)
        for model in models:
            self.score(model, contact, activity)

    def _score_joined_history(
        self, models: list[ScoringModel], contact: Contact, identified: Activity
    ) -> None:
        """A visitor just became (or joined) a contact: what they did anonymously counts
        too, from when it happened. Activity scored before is keyed the same way, so it is
        not counted again; only activity that matches a rule costs a write."""
        if not identified.properties.get("joined_actors"):
            return
        visitors = [a for a in contact.actors if a.startswith("anon:")]
        if not visitors:
            return
        history = self.activities.list_for(visitors, HISTORY_LIMIT)
        for past in reversed(history):  # oldest first
            if past.occurred_at <= identified.occurred_at:
                for model in models:
                    self.score(model, contact, past, regrade=False)

    def rescore(self, models: list[ScoringModel], contact: Contact, released: Activity) -> None:
        """A trusted call adopted the contact and released actors a public key had joined to
        it (nurture.tracking.identity.adopt, which dropped the score): count the score again
        from the history the contact kept, in one write. The stage stays as it is (no silent
        MQL); each activity's own key stays taken, so nothing is counted twice later."""
        history = self.activities.list_for(contact_actors(contact), HISTORY_LIMIT)
        now = clock.now()

        def change(fresh: Contact) -> dict[str, Any] | None:
            stage = fresh.stage
            fresh.scoring, fresh.score, fresh.grade = {}, 0, None
            for model in models:
                for past in reversed(history):  # oldest first
                    if past.name.startswith(NOT_SCORABLE_PREFIXES):
                        continue
                    rules = [r for r in model.behaviour if activity_matches(r.event, r.where, past)]
                    if rules:
                        _apply(model, fresh, past, rules, None, _award_time(past, now), now)
            fresh.stage = stage
            fresh.updated_at = clock.iso(now)
            return {"score": fresh.score}

        try:
            self.contacts.apply_once(contact.contact_id, f"rescore#{released.message_id}", change)
        except KeyError:
            return  # the contact is gone

    def score(
        self, model: ScoringModel, contact: Contact, activity: Activity, regrade: bool = True
    ) -> None:
        scorable = not activity.name.startswith(NOT_SCORABLE_PREFIXES)
        rules = [
            r for r in model.behaviour if scorable and activity_matches(r.event, r.where, activity)
        ]
        regrade = (
            regrade
            and model.grade is not None
            and (
                activity.kind in REGRADE_KINDS
                or (activity.name in REGRADE_NAMES and not _regraded_by_cause(activity))
                or (contact.scoring.get(model.id) or {}).get("grade_version")
                != self._grade_version(model)
            )
        )
        if not rules and not regrade and not _predictive_rule(model, activity):
            return
        account = account_of(contact, self.accounts) if regrade else None
        now = clock.now()
        at = _award_time(activity, now)

        def change(fresh: Contact) -> dict[str, Any] | None:
            return noted(_apply(model, fresh, activity, rules, account, at, now))

        key = f"score#{model.id}#{activity.message_id}"
        try:
            _, note = self.contacts.apply_once(contact.contact_id, key, change)
        except KeyError:
            return  # the contact is gone
        if note:
            self._record(model, contact.contact_id, key, note)

    def _record(self, model: ScoringModel, contact_id: str, key: str, note: dict[str, Any]) -> None:
        store = self.activities
        at = note.get("at")  # when the change was made (`noted`): every retry records it so
        score = note.get("score")
        if score and model.primary:
            record_activity(store, contact_id, "contact.score_changed", key, score, at)
        if note.get("grade"):
            record_activity(store, contact_id, "contact.grade_changed", key, note["grade"], at)
        mql = note.get("mql")
        if mql:
            # lead.mql first: the sales hand-over assigns the owner before programs that start
            # on the stage change (e.g. a call task for the owner) run.
            record_activity(store, contact_id, "lead.mql", key, mql, at)
            extra = {"reason": f"mql: {mql['rule']}", "model": model.id}
            record_changes(store, contact_id, key, {"stage": note["stage"], "at": at}, extra)

    # --- reading ----------------------------------------------------------------------
    def explanation(self, contact_id: str, at: datetime | None = None) -> Explanation | None:
        contact = self.contacts.get(contact_id)
        if contact is None:
            return None
        return explain_contact(contact, at or clock.now())

    def explain(self, contact_id: str, at: Any = None) -> dict[str, Any]:
        """The sales side's view: {score, grade, reasons} with the newest reason first."""
        found = self.explanation(contact_id, at)
        return found.as_dict() if found else {"score": 0, "grade": None, "reasons": []}


def _apply(
    model: ScoringModel,
    contact: Contact,
    activity: Activity,
    rules: list[Any],
    account: dict[str, Any] | None,
    at: datetime,
    now: datetime,
) -> dict[str, Any] | None:
    """Change `contact` for one activity under one model; the note says what changed."""
    state = load_state(contact, model)
    set_decay(state, model.decay.spec() if model.decay else {}, now)
    state.primary = model.primary
    old = behaviour_at(state, now)
    old_grade = state.grade
    predictive = contact.predictive_score
    predictive_before = predictive
    if activity.name == PREDICTIVE_CHANGED:  # the score on the contact is the new one
        found = activity.properties.get("old")
        predictive_before = found if isinstance(found, int) else None
    qualified_before = qualifies(model, old, old_grade, predictive_before)
    awarded: list[Award] = []
    for rule in rules:
        memory = state.rules.get(rule.id)
        points = allowed_points(memory, rule.points, rule.frequency, rule.daily_cap, at)
        if points == 0:
            continue
        award = Award(
            rule=rule.id,
            points=points,
            at=clock.iso(at),
            reason=rule.label,
            activity=activity.message_id,
            event=activity.name,
        )
        add_points(state, award, now)
        state.rules[rule.id] = remember(memory, points, at)
        awarded.append(award)
    grade_note = None
    if account is not None and model.grade is not None:
        fit, grade, reasons = fit_of(model.grade, contact, account)
        state.grade_version = grade_version(model.grade)
        if grade != state.grade or fit != state.fit or reasons != state.fit_reasons:
            if grade != state.grade:
                grade_note = {
                    "from": state.grade,
                    "to": grade,
                    "fit": fit,
                    "model": model.id,
                    "reasons": [r.reason for r in reasons],
                }
            state.grade, state.fit, state.fit_reasons = grade, fit, reasons
            state.graded_at = clock.iso(now)
    if (
        not awarded
        and grade_note is None
        and contact.scoring.get(model.id) == state.model_dump(mode="json")
        and (qualified_before or not qualifies(model, old, state.grade, predictive))
    ):
        return None
    new = behaviour_at(state, now)
    contact.scoring[model.id] = state.model_dump(mode="json")
    note: dict[str, Any] = {}
    if model.primary:
        old_score, new_score = round_score(old), round_score(new)
        contact.score = new_score
        contact.grade = state.grade
        if awarded:
            note["score"] = {
                "old": old_score,
                "new": new_score,
                "delta": sum(a.points for a in awarded),
                "reason": "; ".join(a.reason for a in awarded),
                "rules": [a.rule for a in awarded],
                "behaviour": round(new, 4),
                "model": model.id,
            }
    if grade_note:
        note["grade"] = grade_note
    mql = model.mql
    if (
        mql is not None
        and contact.stage in mql.from_stages
        and not qualified_before
        and qualifies(model, new, state.grade, predictive)
    ):
        why = explain_contact(contact, now, model.id)
        note["stage"] = {"from": contact.stage, "to": "mql"}
        contact.stage = "mql"
        note["mql"] = {
            "model": model.id,
            "rule": mql.describe(),
            "behaviour": round_score(new),
            "grade": state.grade,
            "reasons": [r["reason"] for r in why.as_dict()["reasons"][:10]],
            "from": note["stage"]["from"],
        }
    contact.updated_at = clock.iso(now)
    return note or {"model": model.id}


def _regraded_by_cause(activity: Activity) -> bool:
    """A `contact.identified` whose cause (`by`: an identify or a form) was regraded in the
    same handling, after the actors joined and the account linked: nothing it could
    change is left (any later change of what the grade reads - fields, account, model -
    is regraded by its own activity). One from an alias, an adoption or a click is
    regraded."""
    return activity.name == "contact.identified" and activity.properties.get("by") in (
        REGRADE_KINDS
    )


# recorded by a predictive scoring run (nurture.predictive.scores.CHANGED)
PREDICTIVE_CHANGED = "contact.predictive_score_changed"


def _predictive_rule(model: ScoringModel, activity: Activity) -> bool:
    """A new predictive score may cross an MQL rule that names one."""
    return (
        activity.name == PREDICTIVE_CHANGED
        and model.mql is not None
        and model.mql.predictive is not None
    )
