"""Why a contact has its score and grade: the rules that contributed, newest first.

Everything needed is on the contact (`Contact.scoring`), so explaining costs one read and
gives the score exactly as it is at the moment asked about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nurture.contacts import Contact
from nurture.scoring.state import (
    ScoreState,
    behaviour_at,
    contribution_at,
    parse_time,
    round_score,
)


@dataclass(frozen=True)
class Reason:
    kind: str  # behaviour | fit
    rule: str
    points: int  # as awarded
    now: float  # what it is still worth (behaviour decays; fit does not)
    at: str  # when (the activity; for fit, when the contact was graded)
    reason: str
    event: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "points": self.points,
            "now": round(self.now, 2),
            "at": self.at,
            "reason": self.reason,
            "event": self.event,
        }


@dataclass(frozen=True)
class Explanation:
    contact_id: str
    model: str | None
    at: str
    behaviour: float  # exact
    score: int  # as shown: rounded half away from zero
    grade: str | None
    fit: int
    decay: dict[str, int]
    behaviour_reasons: list[Reason] = field(default_factory=list)  # newest first
    fit_reasons: list[Reason] = field(default_factory=list)
    unexplained: float = 0.0  # older awards no longer listed (half-life: still decaying)

    @property
    def reasons(self) -> list[Reason]:
        """Every reason, newest first (behaviour awards and the fit rules that held)."""
        return sorted(
            [*self.behaviour_reasons, *self.fit_reasons], key=lambda r: r.at, reverse=True
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "model": self.model,
            "at": self.at,
            "score": self.score,
            "behaviour": self.behaviour,  # exact: a client rounds as it likes
            "grade": self.grade,
            "fit": self.fit,
            "decay": self.decay,
            "reasons": [r.as_dict() for r in self.reasons],
            "unexplained": round(self.unexplained, 4),
        }

    def lines(self) -> list[str]:
        """For people: `nurture explain` prints these."""
        decay = (
            f"half-life {_days(self.decay['half_life'])}"
            if "half_life" in self.decay
            else f"last {_days(self.decay['window'])}"
            if "window" in self.decay
            else "no decay"
        )
        out = [
            f"contact {self.contact_id}, model {self.model or '(none)'}, at {self.at}",
            f"behaviour score {self.score} ({self.behaviour:.2f} exactly; {decay})",
            f"grade {self.grade or '-'} ({self.fit} fit points)",
        ]
        if self.behaviour_reasons:
            out.append("behaviour, newest first:")
            for r in self.behaviour_reasons:
                out.append(
                    f"  {r.at[:16].replace('T', ' ')}  {r.points:+d} -> {r.now:6.2f} now  "
                    f"{r.reason} [{r.rule}]"
                )
        if abs(self.unexplained) >= 0.005:
            out.append(f"  (older activity: {self.unexplained:+.2f})")
        if self.fit_reasons:
            out.append("fit:")
            for r in self.fit_reasons:
                out.append(f"  {r.points:+d}  {r.reason} [{r.rule}]")
        return out


def _days(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{seconds} s"


def primary_model(contact: Contact) -> str | None:
    """The model that set the contact's `score`: the one named first (one is primary)."""
    for model_id, raw in contact.scoring.items():
        if raw.get("primary", True):
            return model_id
    return next(iter(contact.scoring), None)


def explain_contact(contact: Contact, at: datetime, model_id: str | None = None) -> Explanation:
    model_id = model_id or primary_model(contact)
    raw = contact.scoring.get(model_id) if model_id else None
    state = ScoreState.model_validate(raw) if raw else ScoreState()
    behaviour = behaviour_at(state, at)
    behaviour_reasons = [
        Reason(
            kind="behaviour",
            rule=a.rule,
            points=a.points,
            now=contribution_at(state, a, at),
            at=a.at,
            reason=a.reason,
            event=a.event,
        )
        for a in state.events
        if parse_time(a.at) <= at
    ]
    behaviour_reasons = [r for r in behaviour_reasons if r.now != 0 or "window" not in state.decay]
    listed = sum(r.now for r in behaviour_reasons)
    fit_reasons = [
        Reason(
            kind="fit",
            rule=r.rule,
            points=r.points,
            now=float(r.points),
            at=state.graded_at or "",
            reason=r.reason,
        )
        for r in state.fit_reasons
    ]
    from nurture import clock

    return Explanation(
        contact_id=contact.contact_id,
        model=model_id,
        at=clock.iso(at),
        behaviour=behaviour,
        score=round_score(behaviour),
        grade=state.grade,
        fit=state.fit,
        decay=dict(state.decay),
        behaviour_reasons=behaviour_reasons,
        fit_reasons=fit_reasons,
        unexplained=behaviour - listed,
    )


def score_now(contact: Contact, at: datetime) -> int | None:
    """The primary model's score at `at` (None when no model scored the contact)."""
    model_id = primary_model(contact)
    if model_id is None:
        return None
    return round_score(behaviour_at(ScoreState.model_validate(contact.scoring[model_id]), at))
