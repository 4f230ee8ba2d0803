"""Completing the task token of a send or a wait_until step (the compiler's CONTRACT).

The compiled machine has no Choice after these steps: what is not the normal path travels
as the token's failure, which the Task's Catch routes.

    send_email / send_sms   sent, skipped, already sent  -> SendTaskSuccess(result)
                            deferred                     -> Nurture.Deferred, cause retry_at
    wait_until              no date to wait for          -> Nurture.Stop
                            too far, or closing a loop   -> Nurture.ResumeLater, cause moment
                            the moment has passed        -> SendTaskSuccess(result) now
                            otherwise                    -> a one-time schedule completes the
                                                            token at the moment

A retried invocation completes the same token again: Step Functions answers that the task is
gone, which `Workflows.resume`/`fail` take as False; the wake-up schedule has a stable name,
so a retry keeps the one already made.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nurture import clock
from nurture.ids import stable_id
from nurture.programs.compiler import DEFERRED_ERROR, RESUME_LATER_ERROR, STOP_ERROR

if TYPE_CHECKING:
    from nurture.runtime.steps import StepRequest, StepRunner


def complete(runner: StepRunner, request: StepRequest, result: dict[str, Any]) -> None:
    token = request.task_token
    assert token
    if request.action in ("send_email", "send_sms"):
        if result.get("status") == "deferred":
            runner.workflows.fail(token, DEFERRED_ERROR, str(result["retry_at"]))
        else:
            runner.workflows.resume(token, result)
        return
    if result.get("status") == "stop":
        runner.workflows.fail(token, STOP_ERROR, "no date to wait for")
        return
    when = str(result["wait_until"])
    moment = _parse(when)
    now = clock.now()
    if result.get("far") or request.resume_by_schedule:
        runner.workflows.fail(token, RESUME_LATER_ERROR, when)
    elif moment <= now:
        runner.workflows.resume(token, result)
    else:
        from nurture.runtime.actions_schedule import wake_schedules

        name = f"{request.program_id}.{stable_id(request.execution, request.step_id, 'wake', length=20)}"
        wake_schedules().schedule_task_success(name, moment, token, result)


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
