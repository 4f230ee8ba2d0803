"""Program runs that ended, from Step Functions' "Execution Status Change" events (EventBridge),
recorded as `program.exited` activity so funnels can count exits and their reasons.

A run that pauses for a long wait also ends its execution (its last step scheduled the
resume): that is not an exit, and nothing is recorded for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nurture import clock
from nurture.ids import stable_id
from nurture.tracking.events import Activity

ENDED = {
    "SUCCEEDED": "finished",
    "FAILED": "failed",
    "TIMED_OUT": "timed out",
    "ABORTED": "stopped",
}
_PROGRAM_MARK = "-program-"


def _json(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _when(millis: Any) -> str:
    if isinstance(millis, (int, float)):
        return clock.iso(datetime.fromtimestamp(millis / 1000, UTC))
    return clock.iso(clock.now())


def exit_activity(detail: dict[str, Any]) -> Activity | None:
    """The `program.exited` activity for an execution status change, or None when the event
    is not the end of a program run (another state machine, a running status, a pause)."""
    status = detail.get("status")
    machine = str(detail.get("stateMachineArn") or "")
    name = str(detail.get("name") or "")
    if status not in ENDED or _PROGRAM_MARK not in machine or "--" not in name:
        return None
    program_id = machine.split(":stateMachine:", 1)[-1].split(_PROGRAM_MARK, 1)[-1]
    program_id = program_id.split(":", 1)[0]  # a version or alias ARN ends in :<qualifier>
    run_input = _json(detail.get("input"))
    output = _json(detail.get("output"))
    last = output.get("last")
    payload = last.get("Payload") if isinstance(last, dict) else None
    if status == "SUCCEEDED" and isinstance(payload, dict) and payload.get("status") == "scheduled":
        return None  # paused for a long wait; a schedule resumes it
    contact_id = str(run_input.get("contact_id") or name.rsplit("--", 1)[-1])
    execution = str(run_input.get("run") or name)  # resumed runs keep their first name
    reason = ENDED[status]
    cause = detail.get("cause") or detail.get("error")
    if status in ("ABORTED", "FAILED") and cause:
        reason = f"{reason}: {str(cause)[:120]}"
    when = _when(detail.get("stopDate"))
    return Activity(
        actor=f"contact:{contact_id}",
        contact_id=contact_id,
        message_id=stable_id("program.exited", str(detail.get("executionArn") or name)),
        kind="program",
        name="program.exited",
        occurred_at=when,
        received_at=clock.iso(clock.now()),
        properties={
            "program_id": str(run_input.get("program_id") or program_id),
            "execution": execution,
            "status": status,
            "reason": reason,
        },
    )
