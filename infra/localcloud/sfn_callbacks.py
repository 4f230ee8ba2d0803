"""moto's Step Functions callbacks, made safe beside executions that have not run yet."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def install_task_callback_guard() -> None:
    """SendTaskSuccess/Failure/Heartbeat look for the token in every execution's worker;
    moto fails with AttributeError on an execution whose worker has not run yet (started
    beside the one waiting, still queued for its turn on the virtual clock: two programs
    entered by one reaction). Look only where a worker is running."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if getattr(StepFunctionsParserBackend, "_nurture_worker_guard", False):
        return
    every = StepFunctionsParserBackend._get_executions
    looking = threading.local()

    def executions(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = every(self, *args, **kwargs)
        if getattr(looking, "for_token", False):
            return [e for e in found if getattr(getattr(e, "exec_worker", None), "env", None)]
        return found

    def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            looking.for_token = True
            try:
                return method(self, *args, **kwargs)
            finally:
                looking.for_token = False

        return call

    for name in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        setattr(
            StepFunctionsParserBackend, name, guarded(getattr(StepFunctionsParserBackend, name))
        )
    StepFunctionsParserBackend._get_executions = executions  # type: ignore[method-assign]
    StepFunctionsParserBackend._nurture_worker_guard = True  # type: ignore[attr-defined]
