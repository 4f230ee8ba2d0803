"""moto's gaps, bridged for the local cloud (pinned to the moto version in pyproject)."""

from __future__ import annotations

import io
import json
import weakref
from typing import TYPE_CHECKING, Any

from localcloud.moto_speed import install_speedups
from localcloud.moto_streams import install_unchanged_write_fix

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


_bridged: list[weakref.ref[LocalCloud]] = []  # the cloud whose functions Lambda tasks reach


def install_lambda_bridge(cloud: LocalCloud) -> None:
    """Step Functions' Lambda tasks call our in-process functions (moto's Lambda needs Docker):
    those of the cloud started last. Installed once per process, holding the cloud weakly
    (a wrapper per cloud chained every cloud ever started, kept them all alive - about 30 MB
    each in a test run - and walked the chain for every other client)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    first = not _bridged
    _bridged[:] = [weakref.ref(cloud)]
    if not first:
        return
    real_client_for = lambda_eval_utils.boto_client_for

    class _LambdaClient:
        def invoke(self, FunctionName: str, Payload: Any = None, **_: Any) -> dict[str, Any]:  # noqa: N803
            cloud = _bridged[0]()
            if cloud is None:
                raise RuntimeError("no local cloud is running to invoke " + FunctionName)
            event = json.loads(Payload) if Payload else {}
            try:
                result = cloud.invoke(FunctionName, event)
                body, error = json.dumps(result, default=str).encode(), None
            except Exception as exc:  # noqa: BLE001 - reported to the state machine like Lambda does
                cloud.errors.append(f"{FunctionName}: {type(exc).__name__}: {exc}")
                body = json.dumps(
                    {"errorType": type(exc).__name__, "errorMessage": str(exc)}
                ).encode()
                error = "Unhandled"
            resp: dict[str, Any] = {
                "StatusCode": 200,
                "Payload": io.BytesIO(body),
                "ExecutedVersion": "$LATEST",
            }
            if error:
                resp["FunctionError"] = error
            return resp

    def client_for(service: str, *args: Any, **kwargs: Any) -> Any:
        if service == "lambda":
            return _LambdaClient()
        return real_client_for(service, *args, **kwargs)

    lambda_eval_utils.boto_client_for = client_for  # type: ignore[assignment]


def install_moto_fixes() -> None:
    """StartExecution on an alias or version ARN, as AWS allows: moto's interpreter only
    starts plain machines, so run the version's definition on its machine."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    install_asl_validation()
    install_version_listing()
    _count_stream_records()
    install_unchanged_write_fix()  # after the count: a skipped record is not counted
    install_speedups()
    if getattr(StepFunctionsParserBackend, "_nurture_version_fix", False):
        return
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        parts = state_machine_arn.split(":")
        if len(parts) != 8:
            return original(self, state_machine_arn, name, execution_input, trace_header)
        base_arn = ":".join(parts[:7])
        version_arn = state_machine_arn
        if not parts[-1].isnumeric():
            alias = self.describe_state_machine_alias(state_machine_arn)
            version_arn = alias.routing_configuration[0]["stateMachineVersionArn"]
        base = self.describe_state_machine(base_arn)
        version = self.describe_state_machine(version_arn)
        live_definition = base.definition
        base.definition = version.definition
        try:
            return original(self, base_arn, name, execution_input, trace_header)
        finally:
            base.definition = live_definition

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend._nurture_version_fix = True  # type: ignore[attr-defined]
    _install_stop_fix()
    _install_is_present_fix()


_stream_records_added = [0]


def stream_generation() -> int:
    """How many records moto has appended to any DynamoDB stream so far: the pump polls
    the streams only when this moved, so an idle virtual hour costs no stream calls."""
    return _stream_records_added[0]


def _count_stream_records() -> None:
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard, "_nurture_counted", False):
        return
    original = StreamShard.add

    def add(self: Any, *args: Any, **kwargs: Any) -> None:
        _stream_records_added[0] += 1
        original(self, *args, **kwargs)

    StreamShard.add = add  # type: ignore[method-assign]
    StreamShard._nurture_counted = True  # type: ignore[attr-defined]


def _install_is_present_fix() -> None:
    """A Choice rule `{"Variable": path, "IsPresent": ...}` on an absent path is how ASL
    asks whether a field exists. moto decides it by evaluating the path and catching the
    NoSuchJsonPathError, but the evaluation logs that error at ERROR level first, so every
    correct IsPresent check on an absent field printed an error. Evaluate the path's body
    directly (the same value, without the log)."""
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import (
        NoSuchVariable,
        Variable,
    )

    def eval_body(self: Any, env: Any) -> None:
        try:
            self.string_sampler._eval_body(env)
            value = env.stack.pop()
        except Exception as ex:  # noqa: BLE001 - an absent path, as moto's own body decides
            value = NoSuchVariable(f"{self.string_sampler.literal_value}, {ex}")
        env.stack.append(value)

    Variable._eval_body = eval_body  # type: ignore[method-assign]


def _install_stop_fix() -> None:
    """StopExecution ends a run at once, as on AWS. moto marks the run stopped, but a task
    waiting for a token goes on waiting until its timeout and then reports a failure."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for name in ("set_error", "set_timed_out"):
        original = getattr(Environment, name)

        def keep_stopped(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            if not isinstance(self._program_state, ProgramStopped):  # a stopped run stays so
                _original(self, *args, **kwargs)

        setattr(Environment, name, keep_stopped)
    original_stop = StepFunctionsParserBackend.stop_execution

    def stop_execution(self: Any, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
        result = original_stop(self, execution_arn, *args, **kwargs)
        for execution in self._get_executions():
            worker = getattr(execution, "exec_worker", None)
            if execution.exec_arn == execution_arn and worker is not None:
                for endpoint in list(worker.env.callback_pool_manager._pool.values()):
                    endpoint.interrupt_all()  # wake the task waiting for its token
        return result

    StepFunctionsParserBackend.stop_execution = stop_execution  # type: ignore[method-assign]


def install_asl_validation() -> None:
    """Step Functions' definition checks, as AWS makes them: ValidateStateMachineDefinition
    answers (moto lacks it), and CreateStateMachine / UpdateStateMachine refuse with
    InvalidDefinition what it fails. moto only parses a definition; the checks here are AWS's
    own language service (localcloud.asl_validation)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.api import InvalidDefinition
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    from localcloud.asl_validation import refusal_message, validate_definition

    if getattr(StepFunctionsParserBackend, "_nurture_asl_validation", False):
        return
    moto_parse = StepFunctionsParserBackend._validate_definition

    def validate_or_refuse(definition: str) -> None:
        # moto leaves the error type out (botocore's Code is ''); AWS says InvalidDefinition.
        answer = validate_definition(definition)
        if answer["result"] == "FAIL":
            raise InvalidDefinition(refusal_message(answer), "InvalidDefinition")
        try:
            moto_parse(definition)  # and what moto's interpreter cannot run
        except InvalidDefinition as exc:
            message = getattr(exc, "message", str(exc))
            raise InvalidDefinition(message, "InvalidDefinition") from exc

    def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
        answer = validate_definition(
            self._get_param("definition") or "",
            severity=self._get_param("severity") or "ERROR",
            max_results=self._get_param("maxResults") or 0,
        )
        return ActionResult(answer)

    StepFunctionsParserBackend._validate_definition = staticmethod(validate_or_refuse)  # type: ignore[method-assign]
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]
    StepFunctionsParserBackend._nurture_asl_validation = True  # type: ignore[attr-defined]


def install_version_listing() -> None:
    """ListStateMachineVersions (moto lacks it): a machine's published versions, newest
    first, as AWS lists them (the admin API shows a program's versions)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(
            self._get_param("stateMachineArn")
        )
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                    for v in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]
