"""Step Functions gaps in moto that the compiled programs rely on (bridged here, never in
product code).

* SendTaskFailure keeps its `cause`: moto's API layer drops it, so a Catch's ResultPath got
  {"Error": ..., "Cause": null}. Programs route deferred sends and far waits by the cause
  (the moment to go on: nurture.programs.compiler's CONTRACT)."""

from __future__ import annotations

from typing import Any


def install_task_failure_cause() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse, "_nurture_cause_fix", False):
        return

    def send_task_failure(self: Any) -> Any:
        from moto.core.responses import EmptyResult

        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return EmptyResult()

    setattr(StepFunctionResponse, "send_task_failure", send_task_failure)  # noqa: B010
    setattr(StepFunctionResponse, "_nurture_cause_fix", True)  # noqa: B010
