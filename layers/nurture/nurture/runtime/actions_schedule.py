"""The `schedule_resume` step action: how a wait too long for one execution goes on.

The compiler emits it for long waits (see nurture.programs.compiler). It creates an
EventBridge Scheduler one-time schedule (templated Step Functions StartExecution target)
that starts a new execution of the same program version (the live alias if the version is
unknown) with input {contact_id, program_id,
trigger, resume_at, run}; the current execution then ends. `run` is the name of the run's
first execution, carried across resumes so the runtime can tell it is the same run.

params: {"resume_at": step id, "delay_seconds": N | "at": ISO time, "state": the execution's
state ($), "execution_arn": $$.Execution.Id, "resume_arn": the resume machine's version, when
the program has one}
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from nurture import clock
from nurture.ids import stable_id
from nurture.runtime.steps import StepFailed, StepRequest, StepRunner, action


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    """Execution `name` of a machine, given the machine's, a version's or an alias's ARN."""
    parts = state_machine_arn.split(":")
    return ":".join([*parts[:5], "execution", parts[6], name])


class Resumes(Protocol):
    def schedule_start(
        self,
        name: str,
        at: datetime,
        state_machine_arn: str,
        execution_name: str,
        payload: dict[str, Any],
    ) -> str: ...

    def schedule_task_success(
        self, name: str, at: datetime, task_token: str, output: dict[str, Any]
    ) -> str:
        """A one-time schedule that completes a waiting step's token (wait_until)."""


_adapters: tuple[Resumes, Any] | None = None


def configure(resumes: Resumes, stepfunctions: Any) -> None:
    """Use these adapters (tests); by default they are built from the environment."""
    global _adapters
    _adapters = (resumes, stepfunctions)


def wake_schedules() -> Resumes:
    return _get_adapters()[0]


def _get_adapters() -> tuple[Resumes, Any]:
    global _adapters
    if _adapters is None:
        from nurture.adapters.schedules import from_environment

        _adapters = from_environment()
    return _adapters


def _alias_of(execution_arn: str) -> str:
    # arn:aws:states:<region>:<account>:execution:<machine>:<name> -> the machine's live alias
    parts = execution_arn.split(":")
    return ":".join([*parts[:5], "stateMachine", parts[6], "live"])


def resume_execution_name(program_id: str, contact_id: str, tag: str) -> str:
    """`<program>-r<tag>--<contact>`, at most 80 characters (Step Functions' limit)."""
    room = 80 - len(contact_id) - len(tag) - 4
    return f"{program_id[: max(room, 1)]}-r{tag}--{contact_id}"[:80]


def _parse_at(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise StepFailed(f"schedule_resume: {value!r} is not an ISO date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@action("schedule_resume")
def schedule_resume(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    params = request.params
    resume_at = params.get("resume_at")
    if not resume_at:
        raise StepFailed("schedule_resume needs resume_at")
    if params.get("at"):
        at = _parse_at(params["at"])
    else:
        at = clock.now() + timedelta(seconds=int(params.get("delay_seconds") or 0))
    state = params.get("state") or {}
    execution_arn = str(params.get("execution_arn") or "")
    resumes, stepfunctions = _get_adapters()
    # the resume machine's version the compiler names, or this execution's own version
    target = str(params.get("resume_arn") or "") or None
    if not target and execution_arn:
        from nurture.adapters.schedules import execution_version

        target = execution_version(stepfunctions, execution_arn)
    if not target:
        program = runner.state.get_program(request.program_id)
        target = program.alias_arn if program else _alias_of(execution_arn)
    when = clock.iso(at)
    tag = stable_id(request.execution, request.step_id, when, length=6)
    name = resume_execution_name(request.program_id, request.contact_id, tag)
    payload = {
        "contact_id": request.contact_id,
        "program_id": request.program_id,
        "trigger": state.get("trigger") or {},
        "resume_at": resume_at,
        "run": state.get("run") or request.execution,
    }
    schedule = resumes.schedule_start(
        f"{request.program_id}.{stable_id(request.execution, request.step_id, length=20)}",
        at,
        target,
        name,
        payload,
    )
    return {
        "status": "scheduled",
        "resume_at": resume_at,
        "at": when,
        "execution": name,
        "execution_arn": execution_arn_of(target, name),
        "schedule": schedule,
    }
