"""Which programs an activity may start: trigger keys, trigger matching, entry modes and the
deterministic execution name of an entry; and the keys under which waiting steps listen."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from nurture.ids import stable_id
from nurture.tracking.names import event_key

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from nurture.programs.model import Program
    from nurture.runtime.view import ContactView
    from nurture.tracking.events import Activity

# What a score_crossed trigger listens to, per `model:` (predictive: nurture.predictive.scores)
SCORE_EVENTS = {"rules": "contact.score_changed", "predictive": "contact.predictive_score_changed"}


def entry_mode(program: Program) -> str:
    """once | every_time | once_per. A yearly date trigger (a birthday) with no entry rule
    written enters every year: "once" would greet a contact only on their first birthday."""
    from nurture.programs.model import DateTrigger  # loaded with the program (#9)

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


def trigger_matches(program: Program, activity: Activity, view: ContactView) -> bool:
    """Whether this activity fires the program's trigger (date and inactivity triggers
    fire from the daily sweep, one-time segments on deploy: never from here)."""
    # The program's models are loaded with the program, not by importing this module (the
    # steps function uses its event keys), and the condition models with them (the react
    # function's import: an anonymous page view matches no trigger) (#9 cold starts).
    from nurture.programs.conditions import activity_matches, contact_value, filter_matches
    from nurture.programs.model import (
        EventTrigger,
        FieldChangedTrigger,
        FormTrigger,
        ScoreCrossedTrigger,
        SegmentTrigger,
        StageChangedTrigger,
    )

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
        if activity.name != SCORE_EVENTS[trigger.model]:
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
    elif activity.name in SCORE_EVENTS.values():
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


@functools.cache
def _where_adapter() -> TypeAdapter[dict[str, Any]]:
    """The filters' validator, built (and the condition models imported) by the first
    `where` checked (#9)."""
    from pydantic import TypeAdapter

    from nurture.programs.conditions import Where

    return TypeAdapter(Where)


def where_matches(where: dict[str, Any], activity: Activity) -> bool:
    """`where` property filters (as a step's params carry them) against an activity."""
    from nurture.programs.conditions import activity_property, filter_matches

    for path, flt in _where_adapter().validate_python(where).items():
        found, value = activity_property(activity, path)
        if not filter_matches(flt, found, value):
            return False
    return True


def _stage_in(stage: Any, wanted: Any) -> bool:
    if wanted is None:
        return True
    return stage in wanted if isinstance(wanted, list) else stage == wanted
