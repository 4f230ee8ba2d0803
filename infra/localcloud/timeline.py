# mypy: disable-error-code="misc"
# (the mixins annotate self as the LocalCloud they are part of, so their bodies are checked)
"""The demo's timeline: what happened to whom, read from stored activity and from
execution histories, in virtual time."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

from localcloud.capture import TimelineEntry
from localcloud.eventbridge import execution_ended
from localcloud.moto_speed import HistoryWatch

RESUME_SUFFIX = "_resume"  # nurture.programs.compiler.RESUME_SUFFIX: a program's resume machine


def _branch_outcome(seen: dict[str, Any], event: dict[str, Any]) -> tuple[str, str] | None:
    """Which way a run went, from its history (the compiled program's named states): a
    Pass "<step>: <outcome>" (split variants, stops, failures), the state entered after
    a branch's "<step>: which?", and a wait_for_event task that succeeded (the event
    happened) or timed out (the deadline passed)."""
    kind = event["type"]
    details = event.get("stateEnteredEventDetails")
    if details:
        name = details["name"]
        choice = seen.pop("choice", None)
        if kind == "PassStateEntered" and ": " in name:
            step, outcome = name.split(": ", 1)
            return step, outcome
        if kind == "ChoiceStateEntered" and name.endswith(": which?"):
            seen["choice"] = name.removesuffix(": which?")
        elif choice and kind != "FailStateEntered":
            return choice, f"to {name}"
        if kind == "TaskStateEntered":
            seen["task"] = name
        return None
    if kind == "TaskScheduled":
        parameters = event.get("taskScheduledEventDetails", {}).get("parameters") or "{}"
        try:
            action = json.loads(parameters).get("Payload", {}).get("action")
        except (ValueError, AttributeError):
            action = None
        seen["waiting"] = action == "wait_for_event"
    elif kind in ("TaskSucceeded", "TaskTimedOut") and seen.pop("waiting", False):
        return str(seen.get("task")), "happened" if kind == "TaskSucceeded" else "deadline passed"
    return None


def _scheduled(event: dict[str, Any]) -> bool:
    """An execution that ended by scheduling its resume (a long wait)."""
    output = event.get("executionSucceededEventDetails", {}).get("output") or "{}"
    try:
        last = json.loads(output).get("last") or {}
        return bool(last.get("Payload", {}).get("status") == "scheduled")
    except (ValueError, AttributeError):
        return False


class TimelineMixin:
    # --- timeline ---------------------------------------------------------------------
    def _emit(self: LocalCloud, who: str, what: str) -> None:
        entry = TimelineEntry(self.clock.now(), who, what)
        self.timeline.append(entry)
        if self.on_timeline:
            self.on_timeline(entry)

    def _observe_activity(self: LocalCloud, record: dict[str, Any]) -> None:
        image = record.get("dynamodb", {}).get("NewImage", {})
        if record.get("eventName") != "INSERT" or "doc" not in image:
            return
        try:
            doc = json.loads(image["doc"]["S"])
        except (KeyError, ValueError):
            self._emit("stream", "a stored activity that is not an activity document")
            return
        who = doc.get("contact_id") or doc["actor"]
        props = doc.get("properties", {})
        describe = {
            "track": lambda: f"event accepted: track {doc['name']!r}",
            "page": lambda: (
                f"event accepted: page view {doc.get('page', {}).get('url') or doc['name']}"
            ),
            "identify": lambda: "event accepted: identify",
            "form": lambda: f"form {doc['name']!r} submitted",
        }
        if doc["kind"] in describe:
            self._emit(who, describe[doc["kind"]]())
        elif doc["name"] == "contact.identified":
            how = "new contact" if props.get("created") else "known contact"
            self._emit(
                who, f"contact identified ({how}; {props.get('joined_actors')} identities joined)"
            )
        elif doc["name"] == "program.entered":
            self._emit(
                who, f"entered program {props.get('program_id')!r} (version {props.get('version')})"
            )
        elif doc["kind"] == "sms" and doc["name"] == "sms.sent":
            self._emit(
                who,
                f"sms sent by {props.get('program_id')}/{props.get('step_id')} "
                f"({props.get('segments')} segment(s))",
            )
        elif doc["kind"] == "sms":
            self._emit(
                who,
                f"{doc['name']} ({props.get('step_id') or props.get('keyword') or ''}) "
                f"{props.get('reason') or ''}".rstrip(),
            )
        elif doc["name"] == "email.sent":
            self._emit(
                who,
                f"email sent by {props.get('program_id')}/{props.get('step_id')}: {props.get('subject')!r}",
            )
        elif doc["kind"] == "email" and doc["name"] not in ("email.send_accepted",):
            link = f" {props['link']}" if props.get("link") else ""
            # a program's email names its step; a form's double opt-in email, the form
            step = props.get("step_id") or (f"form {props['form']}" if props.get("form") else "")
            self._emit(who, f"{doc['name']} ({step or 'not from a program'}){link}")
        elif doc["name"] == "task.created":
            self._emit(
                who,
                f"task for {props.get('assignee')}: {props.get('title')!r} (due {props.get('due')})",
            )
        elif doc["name"] == "sales.notified":
            by = f" by {props['program_id']}" if props.get("program_id") else ""
            recipient = props.get("recipient") or props.get("owner")
            self._emit(who, f"sales notified ({recipient}){by}")
        elif doc["kind"] in ("lead", "crm"):  # the sales hand-off (nurture.sales)
            detail = props.get("owner") if doc["name"] == "lead.assigned" else props.get("reason")
            detail = detail or props.get("rule") or props.get("event") or ""
            self._emit(who, doc["name"] + (f" ({detail})" if detail else ""))
        elif doc["kind"] == "webhook":
            self._emit(
                who,
                f"{doc['name']} to {props.get('host')} by {props.get('program_id')}/"
                f"{props.get('step_id')}" + (f": {props['reason']}" if props.get("reason") else ""),
            )
        elif doc["name"] in (
            "contact.field_changed",
            "contact.stage_changed",
            "contact.score_changed",
        ):
            change = {
                "contact.field_changed": lambda: ", ".join(props.get("fields") or []),
                "contact.stage_changed": lambda: f"{props.get('from')} -> {props.get('to')}",
                "contact.score_changed": lambda: f"{props.get('old')} -> {props.get('new')}",
            }
            self._emit(who, f"{doc['name']}: {change[doc['name']]()}")
        elif doc["name"] in ("program.exited", "program.branched", "program.waiting"):
            pass  # on the timeline already from the execution ("finished", "branch taken")
        elif doc["kind"] in ("program", "contact"):
            self._emit(who, doc["name"])

    def _observe_executions(self: LocalCloud) -> None:
        sfn = self.client("stepfunctions")
        # Only executions whose history grew since the last pump (moto_speed.HistoryWatch).
        watch = self.__dict__.setdefault("_history_watch", HistoryWatch())
        for arn in watch.changed(self._executions):
            seen = self._executions[arn]
            if seen["done"]:
                continue
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            contact = arn.rsplit("--", 1)[-1]
            for event in history[seen["seen_events"] :]:
                details = event.get("stateEnteredEventDetails")
                outcome = _branch_outcome(seen, event)
                if details:
                    seen["last_state"] = details["name"]
                if outcome:
                    self._emit(contact, f"branch taken at {outcome[0]!r}: {outcome[1]}")
                elif event["type"] in (
                    "ExecutionSucceeded",
                    "ExecutionFailed",
                    "ExecutionAborted",
                    "ExecutionTimedOut",
                ):
                    # execution ARN: arn:aws:states:<region>:<account>:execution:<machine>:<name>
                    program = arn.split(":")[6].split("-program-", 1)[-1]
                    program = program.removesuffix(RESUME_SUFFIX)
                    verdict = {
                        "ExecutionSucceeded": "finished",
                        "ExecutionFailed": "FAILED",
                        "ExecutionAborted": "stopped",
                        "ExecutionTimedOut": "timed out",
                    }[event["type"]]
                    if verdict == "finished" and _scheduled(event):
                        verdict = "paused for a long wait (a schedule resumes it)"
                    cause = event.get("executionFailedEventDetails", {})
                    extra = (
                        f": {cause.get('error')} {cause.get('cause', '')[:200]}" if cause else ""
                    )
                    self._emit(contact, f"program {program!r} {verdict}{extra}")
                    seen["done"] = True
                    execution_ended(self, arn)  # EventBridge: Execution Status Change
            seen["seen_events"] = len(history)
