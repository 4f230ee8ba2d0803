"""What a contact's scores are made of, and the arithmetic that keeps them exact.

Each model's state lives on the contact (`Contact.scoring[<model id>]`), so a score changes
in the same conditional write as the contact (`ContactStore.apply_once`, keyed by the
activity), and reading it needs nothing but the contact:

* **half-life**: the score is kept as `value` at a reference moment `ref`; at any later moment
  t it is `value * 2 ** (-(t - ref) / half_life)`. Adding p points for an activity at t1
  moves the reference to max(ref, t1) and adds p decayed from t1 to it. Exponential decay is
  linear, so this equals the sum of every award decayed on its own: exact, with no job
  rewriting contacts overnight.
* **window** (only the last N days count): the awards inside the window are kept with their
  moments, and the score at t is the sum of those after t - N. Awards that left the window
  are dropped when the contact is next written (no later read can count them).
* **no decay**: `value` is the plain sum.

`events` keeps the newest awards (all of them within a window) so every score can say why.
Reads are exact from the last write on; a moment before it is not what `at` is for.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nurture import clock

# defer_build: these are built when a contact's score is first read, not by importing this
# module (the react and sweep functions' cold starts, #9)
_DEFERRED = ConfigDict(defer_build=True)

# Awards kept to explain a half-life or undecayed score (the score itself needs none).
EXPLAIN_EVENTS = 20
# A rolling window needs every award inside it; this bounds the contact item even for a
# rule with no frequency limit or cap (the oldest go first).
WINDOW_EVENTS = 300


class Award(BaseModel):
    """Points one rule gave for one activity."""

    model_config = _DEFERRED
    rule: str
    points: int
    at: str  # when the activity happened (ISO 8601 UTC)
    reason: str
    activity: str  # its message id
    event: str = ""  # its name, for people reading the explanation


class RuleMemory(BaseModel):
    """How often a rule has scored for the contact: for once, once_per and the daily cap."""

    model_config = _DEFERRED
    count: int = 0
    last_at: str | None = None
    day: str | None = None  # the UTC date of `day_points`
    day_points: int = 0


class FitReason(BaseModel):
    model_config = _DEFERRED
    rule: str
    points: int
    reason: str


class ScoreState(BaseModel):
    model_config = _DEFERRED
    primary: bool = True  # its model sets the contact's `score` and `grade`
    decay: dict[str, int] = Field(default_factory=dict)  # {"half_life": s} | {"window": s} | {}
    value: float = 0.0
    ref: str | None = None
    events: list[Award] = Field(default_factory=list)  # newest first
    rules: dict[str, RuleMemory] = Field(default_factory=dict)
    grade: str | None = None
    fit: int = 0
    fit_reasons: list[FitReason] = Field(default_factory=list)
    graded_at: str | None = None
    grade_version: str | None = None  # which grade rules graded it (a redeploy regrades)


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def round_score(value: float) -> int:
    """Half away from zero (not Python's banker's rounding): 12.5 -> 13, -12.5 -> -13."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _factor(half_life: int, elapsed: timedelta) -> float:
    return float(2 ** (-elapsed.total_seconds() / half_life))


def behaviour_at(state: ScoreState, at: datetime) -> float:
    """The behaviour score at `at` (exact for any moment from the last write on)."""
    if "window" in state.decay:
        since = at - timedelta(seconds=state.decay["window"])
        return float(sum(e.points for e in state.events if since < parse_time(e.at) <= at))
    if "half_life" in state.decay and state.ref is not None:
        return state.value * _factor(state.decay["half_life"], at - parse_time(state.ref))
    return state.value


def contribution_at(state: ScoreState, award: Award, at: datetime) -> float:
    """What one award is still worth at `at`."""
    when = parse_time(award.at)
    if "window" in state.decay:
        inside = at - timedelta(seconds=state.decay["window"]) < when <= at
        return float(award.points) if inside else 0.0
    if "half_life" in state.decay:
        return award.points * _factor(state.decay["half_life"], at - when)
    return float(award.points)


def set_decay(state: ScoreState, decay: dict[str, int], now: datetime) -> None:
    """Move a state to another decay (a redeployed model): the score carries over as it reads
    now; a window can only count the awards still kept."""
    if state.decay == decay:
        return
    current = behaviour_at(state, now)
    state.decay = dict(decay)
    if "window" in decay:
        state.value = 0.0
    else:
        state.value = current
        state.ref = clock.iso(now)


def add_points(state: ScoreState, award: Award, now: datetime) -> None:
    """Add an award (its moment may be earlier than the last one: events arrive late)."""
    when = parse_time(award.at)
    if "window" in state.decay:
        window = timedelta(seconds=state.decay["window"])
        reference = max(now, when)
        kept = [award, *state.events]
        kept = [e for e in kept if parse_time(e.at) > reference - window]
        kept.sort(key=lambda e: e.at, reverse=True)
        state.events = kept[:WINDOW_EVENTS]
        state.ref = clock.iso(reference)
        return
    if "half_life" in state.decay:
        half_life = state.decay["half_life"]
        ref = parse_time(state.ref) if state.ref else when
        new_ref = max(ref, when)
        state.value = state.value * _factor(half_life, new_ref - ref) + award.points * _factor(
            half_life, new_ref - when
        )
        state.ref = clock.iso(new_ref)
    else:
        state.value += award.points
        state.ref = award.at if state.ref is None else max(state.ref, award.at)
    events = sorted([award, *state.events], key=lambda e: e.at, reverse=True)
    state.events = events[:EXPLAIN_EVENTS]


def allowed_points(
    memory: RuleMemory | None,
    points: int,
    frequency: Any,
    daily_cap: int | None,
    at: datetime,
) -> int:
    """How many of a rule's points an activity at `at` earns: 0 when the rule's frequency
    (once, once per period) says not again yet, fewer when the daily cap is nearly used."""
    if memory is not None and memory.count:
        if frequency == "once":
            return 0
        seconds = getattr(frequency, "seconds", None)
        # abs: an activity scored late (joined history) may be older than the last one
        last = parse_time(memory.last_at) if memory.last_at is not None else None
        recent = last is not None and abs(at - last) < timedelta(seconds=seconds or 0)
        if seconds and recent:
            return 0
    if daily_cap is None:
        return points
    day = at.date().isoformat()
    used = memory.day_points if memory is not None and memory.day == day else 0
    room = max(daily_cap - used, 0)
    return int(math.copysign(min(abs(points), room), points))


def remember(memory: RuleMemory | None, points: int, at: datetime) -> RuleMemory:
    memory = memory.model_copy() if memory is not None else RuleMemory()
    day = at.date().isoformat()
    memory.day_points = (memory.day_points if memory.day == day else 0) + abs(points)
    memory.day = day
    memory.count += 1
    stamp = clock.iso(at)
    memory.last_at = stamp if memory.last_at is None else max(memory.last_at, stamp)
    return memory
