"""EventBridge Scheduler for long waits, and Step Functions calls the deploy side needs.

A long wait ends its execution after creating a one-time schedule (`at(...)`, UTC) whose
target is Step Functions StartExecution (the universal target: the program version's or live
alias's ARN, the execution's name and input). The schedule deletes itself after it ran.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nurture.adapters.aws import StepFunctionsMachines


def schedule_name(program_id: str, suffix: str) -> str:
    """Schedule names: `<program id>.<suffix>` ('.' never appears in a program id, so a
    program's schedules are found by the prefix `<program id>.`)."""
    return f"{program_id}.{suffix}"[:64]


SEND_TASK_SUCCESS = "arn:aws:scheduler:::aws-sdk:sfn:sendTaskSuccess"
START_EXECUTION = "arn:aws:scheduler:::aws-sdk:sfn:startExecution"


class EventBridgeResumes:
    def __init__(self, client: Any, group: str, role_arn: str, dead_letter_arn: str = ""):
        self._scheduler = client
        self._group = group
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn

    def schedule_start(
        self,
        name: str,
        at: datetime,
        state_machine_arn: str,
        execution_name: str,
        payload: dict[str, Any],
    ) -> str:
        """Create (or keep, if it exists) a one-time schedule that starts the execution
        `execution_name`. Through the universal target (StartExecution's own parameters), not
        the templated one, which names the execution itself: the run that resumes must be
        findable by name (a goal or an erase stops it), and a retried delivery with the same
        name and input is the same execution, never a second run."""
        when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        call = {
            "StateMachineArn": state_machine_arn,
            "Name": execution_name,
            "Input": json.dumps(payload, sort_keys=True),
        }
        target: dict[str, Any] = {
            "Arn": START_EXECUTION,
            "RoleArn": self._role_arn,
            "Input": json.dumps(call, sort_keys=True),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
        }
        if self._dead_letter_arn:
            # A resume Scheduler could not deliver after all retries is kept, not dropped.
            target["DeadLetterConfig"] = {"Arn": self._dead_letter_arn}
        try:
            resp = self._scheduler.create_schedule(
                Name=name,
                GroupName=self._group,
                ScheduleExpression=f"at({when})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=target,
                Description=f"resume {execution_name}"[:512],
            )
        except self._scheduler.exceptions.ConflictException:
            # A retried step: the schedule is already there.
            return name
        return str(resp.get("ScheduleArn", name))

    def schedule_task_success(
        self, name: str, at: datetime, task_token: str, output: dict[str, Any]
    ) -> str:
        """A one-time schedule that completes a waiting step (Scheduler's universal target
        for Step Functions SendTaskSuccess). No dead-letter queue: when the run was stopped
        meanwhile (a goal), the token is gone and there is nothing to deliver."""
        when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        call = {"TaskToken": task_token, "Output": json.dumps(output, sort_keys=True)}
        try:
            resp = self._scheduler.create_schedule(
                Name=name,
                GroupName=self._group,
                ScheduleExpression=f"at({when})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": SEND_TASK_SUCCESS,
                    "RoleArn": self._role_arn,
                    "Input": json.dumps(call),
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
                },
                Description="wake a waiting program step",
            )
        except self._scheduler.exceptions.ConflictException:
            return name  # a retried step: the schedule is already there
        return str(resp.get("ScheduleArn", name))

    def delete_for_program(self, program_id: str) -> int:
        deleted = 0
        paginator = self._scheduler.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self._group, NamePrefix=f"{program_id}."):
            for item in page.get("Schedules", []):
                try:
                    self._scheduler.delete_schedule(Name=item["Name"], GroupName=self._group)
                    deleted += 1
                except self._scheduler.exceptions.ResourceNotFoundException:
                    continue
        return deleted


class ProgramMachines(StepFunctionsMachines):
    """The deploy side's state machine calls: publish (inherited) and stopping every running
    execution of an archived program."""

    def stop_running(self, name: str, cause: str) -> int:
        arn = self._arn_prefix + name
        stopped = 0
        paginator = self._sfn.get_paginator("list_executions")
        try:
            pages = list(paginator.paginate(stateMachineArn=arn, statusFilter="RUNNING"))
        except self._sfn.exceptions.StateMachineDoesNotExist:
            return 0
        for page in pages:
            for execution in page.get("executions", []):
                try:
                    self._sfn.stop_execution(
                        executionArn=execution["executionArn"],
                        error="Nurture.Archived",
                        cause=cause,
                    )
                    stopped += 1
                except self._sfn.exceptions.ExecutionDoesNotExist:
                    continue
        return stopped


def execution_version(client: Any, execution_arn: str) -> str | None:
    """The version (or alias) ARN an execution runs on, when Step Functions says so."""
    try:
        resp = client.describe_execution(executionArn=execution_arn)
    except Exception:  # noqa: BLE001 - best effort: the caller falls back to the live alias
        return None
    value = resp.get("stateMachineVersionArn") or resp.get("stateMachineAliasArn")
    return str(value) if value else None


def from_environment() -> tuple[EventBridgeResumes, Any]:
    """The Scheduler adapter and a Step Functions client, from SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN and DEAD_LETTER_QUEUE_ARN (set on the steps function by template.yaml)."""
    import os

    import boto3

    resumes = EventBridgeResumes(
        boto3.client("scheduler"),
        os.environ["SCHEDULE_GROUP"],
        os.environ["SCHEDULER_ROLE_ARN"],
        os.environ.get("DEAD_LETTER_QUEUE_ARN", ""),
    )
    return resumes, boto3.client("stepfunctions")
