"""Adapters for S3, SES v2 and Step Functions."""

from __future__ import annotations

import json
from typing import Any

from nurture.ports import DefinitionRefused, OutgoingEmail


class S3Blobs:
    def __init__(self, client: Any, bucket: str):
        self._s3 = client
        self._bucket = bucket

    def get_text(self, key: str) -> str | None:
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.NoSuchKey:
            return None
        body: bytes = obj["Body"].read()
        return body.decode("utf-8")

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=text.encode(), ContentType=content_type
        )


class SesMailer:
    def __init__(self, client: Any, configuration_set: str):
        self._ses = client
        self._configuration_set = configuration_set

    def send(self, email: OutgoingEmail) -> str:
        content: dict[str, Any] = {
            "Simple": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                },
            }
        }
        if email.headers:
            content["Simple"]["Headers"] = [
                {"Name": k, "Value": v} for k, v in email.headers.items()
            ]
        from botocore.exceptions import ClientError

        from nurture.adapters.delivery import translate_client_error

        try:
            resp = self._ses.send_email(
                FromEmailAddress=email.sender,
                Destination={"ToAddresses": [email.to]},
                Content=content,
                ConfigurationSetName=self._configuration_set,
                EmailTags=[{"Name": k, "Value": v} for k, v in email.tags.items()],
            )
        except ClientError as exc:
            # Throttling left after the client's own retries -> DeliveryThrottled (the step
            # defers); MessageRejected and the like -> DeliveryRejected (the step skips).
            translated = translate_client_error(exc)
            if translated is None:
                raise
            raise translated from exc
        return str(resp["MessageId"])


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of execution `name` of a machine, given the machine's, a version's or an alias's ARN."""
    parts = state_machine_arn.split(":")
    return ":".join([*parts[:5], "execution", parts[6], name])


class StepFunctionsWorkflows:
    """Program runs on Step Functions. A run that waits longer than one execution may (see
    nurture.runtime.actions_schedule) ends its execution with {"status": "scheduled",
    "execution", "schedule"} and goes on in a new execution started by a one-time schedule:
    `follow` walks that chain, so "is it running?" and "stop it" mean the run, not one execution."""

    MAX_RESUMES = 50

    def __init__(self, client: Any, scheduler: Any = None, schedule_group: str | None = None):
        self._sfn = client
        self._scheduler = scheduler  # to cancel a pending resume; None: stop() cannot
        self._group = schedule_group

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        # StartExecution is idempotent for the same name and input, so retries are safe; a
        # finished execution of that name answers ExecutionAlreadyExists: it is the same entry.
        try:
            resp = self._sfn.start_execution(
                stateMachineArn=state_machine_arn,
                name=name,
                input=json.dumps(payload, sort_keys=True),
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return execution_arn(state_machine_arn, name)
        return str(resp["executionArn"])

    def follow(self, first_arn: str) -> tuple[str, str | None]:
        """Where a run is: ("running", execution arn), ("scheduled", schedule) while a
        one-time schedule is to resume it, or ("ended", None)."""
        arn = first_arn
        for _ in range(self.MAX_RESUMES):
            try:
                described = self._sfn.describe_execution(executionArn=arn)
            except self._sfn.exceptions.ExecutionDoesNotExist:
                return "ended", None
            if described["status"] == "RUNNING":
                return "running", arn
            if described["status"] != "SUCCEEDED":
                return "ended", None
            try:
                output = json.loads(described.get("output") or "{}")
            except ValueError:
                return "ended", None
            last = output.get("last") if isinstance(output, dict) else None
            result = last.get("Payload") if isinstance(last, dict) else None
            if not isinstance(result, dict) or result.get("status") != "scheduled":
                return "ended", None
            following = str(
                result.get("execution_arn") or execution_arn(arn, str(result.get("execution")))
            )
            try:
                self._sfn.describe_execution(executionArn=following)
            except self._sfn.exceptions.ExecutionDoesNotExist:
                return "scheduled", str(result.get("schedule") or "")
            arn = following
        return "ended", None

    def is_running(self, execution_arn: str) -> bool:
        return self.follow(execution_arn)[0] != "ended"

    def stop(self, execution_arn: str, cause: str) -> bool:
        where, ref = self.follow(execution_arn)
        if where == "running" and ref:
            self._sfn.stop_execution(executionArn=ref, cause=cause[:32768])
            return True
        if where == "scheduled" and ref and self._scheduler is not None:
            # arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>, or just a name
            group, _, name = ref.rpartition(":schedule/")[2].rpartition("/")
            try:
                self._scheduler.delete_schedule(Name=name, GroupName=group or self._group)
            except self._scheduler.exceptions.ResourceNotFoundException:
                return False  # it fired meanwhile, or was deleted
            return True
        return False

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
            return True
        except (
            self._sfn.exceptions.TaskTimedOut,
            self._sfn.exceptions.InvalidToken,
            self._sfn.exceptions.TaskDoesNotExist,
        ):
            return False

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        try:
            self._sfn.send_task_failure(taskToken=task_token, error=error, cause=cause)
            return True
        except (
            self._sfn.exceptions.TaskTimedOut,
            self._sfn.exceptions.InvalidToken,
            self._sfn.exceptions.TaskDoesNotExist,
        ):
            return False


class StepFunctionsMachines:
    """Validate and create-or-update a program's state machine, publish a version, move the
    `live` alias. Machines log errors to `log_group_arn` (without execution data: it holds
    contacts' details) and are traced with X-Ray."""

    ALIAS = "live"

    def __init__(self, client: Any, role_arn: str, arn_prefix: str, log_group_arn: str = ""):
        self._sfn = client
        self._role_arn = role_arn
        self._arn_prefix = arn_prefix  # ...:stateMachine:<stack>-program-
        self._log_group_arn = log_group_arn  # ...:log-group:<name>:*

    def validate(self, definition: dict[str, Any]) -> dict[str, Any]:
        resp = self._sfn.validate_state_machine_definition(
            definition=json.dumps(definition), type="STANDARD", severity="ERROR"
        )
        return {"result": resp["result"], "diagnostics": resp.get("diagnostics", [])}

    def _observability(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"tracingConfiguration": {"enabled": True}}
        if self._log_group_arn:
            settings["loggingConfiguration"] = {
                "level": "ERROR",
                "includeExecutionData": False,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": self._log_group_arn}}],
            }
        return settings

    def publish(self, name: str, definition: dict[str, Any], description: str) -> tuple[str, str]:
        arn = self._arn_prefix + name
        name = arn.rsplit(":", 1)[-1]
        body = json.dumps(definition)
        try:
            try:
                resp = self._sfn.update_state_machine(
                    stateMachineArn=arn,
                    definition=body,
                    roleArn=self._role_arn,
                    publish=True,
                    versionDescription=description,
                    **self._observability(),
                )
            except self._sfn.exceptions.StateMachineDoesNotExist:
                resp = self._sfn.create_state_machine(
                    name=name,
                    definition=body,
                    roleArn=self._role_arn,
                    type="STANDARD",
                    publish=True,
                    versionDescription=description,
                    **self._observability(),
                )
        except self._sfn.exceptions.InvalidDefinition as exc:
            raise DefinitionRefused(exc.response["Error"].get("Message", str(exc))) from exc
        version_arn = resp["stateMachineVersionArn"]
        routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
        alias_arn = f"{arn}:{self.ALIAS}"
        try:
            self._sfn.update_state_machine_alias(
                stateMachineAliasArn=alias_arn, routingConfiguration=routing
            )
        except self._sfn.exceptions.ResourceNotFound:
            alias_arn = self._sfn.create_state_machine_alias(
                name=self.ALIAS, routingConfiguration=routing
            )["stateMachineAliasArn"]
        return alias_arn, version_arn.rsplit(":", 1)[-1]
