"""LocalCloud: template.yaml brought up on moto, in-process, on a virtual clock."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from localcloud import audit, console, faults, statemachines, virtual_time
from localcloud.apigateway import HttpApiMixin
from localcloud.capture import (
    CapturedEmail,
    CapturedSms,
    CaptureMixin,
    TimelineEntry,
)
from localcloud.constants import ACCOUNT, REGION
from localcloud.failures import AsyncRetries, FailuresMixin
from localcloud.moto_patches import install_lambda_bridge, install_moto_fixes
from localcloud.partiql_bridge import install_partiql_inserts
from localcloud.schedules import _FunctionSchedules, _Schedules, _Timers
from localcloud.sfn_fixes import install_task_failure_cause
from localcloud.streams import StreamsMixin
from localcloud.template import Resolver, load_template
from localcloud.timeline import TimelineMixin

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday morning
LOCAL_PARAMETERS = {
    "AllowedOrigins": "*",
    "SenderEmail": "hello@nurture.local",
    "LogLevel": "WARNING",
    "LinkSigningSecret": "local-link-signing-secret-not-for-production",
    "PublicBaseUrl": "http://localhost:3000",
}
# Parameter Store SecureStrings under the template's SECRETS_PATH (see nurture.secrets); a
# deployed stack gets them from `nurture secrets init` or `aws ssm put-parameter`.
LOCAL_SECRETS = {
    "write-keys": json.dumps({"local-write-key": "public", "local-secret-key": "secret"}),
    "link-signing-secrets": "local-link-signing-secret-not-for-production",
    "webhook-secrets": json.dumps({"default": "local-webhook-secret-not-for-production"}),
    "identity-verification-secret": "local-identity-verification-secret-not-for-production",
}


@dataclass
class _Function:
    logical_id: str
    name: str
    arn: str
    module: ModuleType
    handler: Callable[..., Any]
    env: dict[str, str]
    events: dict[str, Any]


@dataclass
class _Context:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class FunctionError(RuntimeError):
    pass


class LocalCloud(CaptureMixin, StreamsMixin, FailuresMixin, TimelineMixin, HttpApiMixin):
    def __init__(
        self,
        root: Path = ROOT,
        start: datetime = DEFAULT_START,
        stack_name: str = "nurture",
        parameters: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        frequent_schedules: bool = True,
    ):
        """`frequent_schedules=False` leaves out function schedules that fire more often
        than daily (the hourly sales digest and A/B winner checks): each is an invocation
        per virtual hour, which makes a test that lets years pass take an hour."""
        self.frequent_schedules = frequent_schedules
        self.root = root
        self.stack = stack_name
        self.secrets = {**LOCAL_SECRETS, **(secrets or {})}
        self.parameters = {**LOCAL_PARAMETERS, **(parameters or {})}
        self.clock = virtual_time.VirtualClock(start)
        self.template = load_template(root / "template.yaml")
        # Template parameters with a Default need no local value.
        defaults = {
            name: str(p["Default"])
            for name, p in self.template.get("Parameters", {}).items()
            if "Default" in p
        }
        self.parameters = {**defaults, **self.parameters}
        self.functions: dict[str, _Function] = {}
        self.outbox: list[CapturedEmail] = []
        self.sms_outbox: list[CapturedSms] = []
        self.timeline: list[TimelineEntry] = []
        self.errors: list[str] = []
        # what the HTTP API refused, and why (`/_local/rejections`; apigateway.py)
        self.rejections: list[dict[str, Any]] = []
        self.on_timeline: Callable[[TimelineEntry], None] | None = None
        self._lock = (
            threading.RLock()
        )  # one function runs at a time, like a reserved concurrency of 1
        self._queue: deque[Callable[[], None]] = deque()
        self._queue_lock = threading.Lock()
        self._executions: dict[str, dict[str, Any]] = {}
        self._mock: Any = None
        self._saved_env: dict[str, str] = {}
        self.faults = faults.Faults(self)  # per test: throttling, errors, crashes, timeouts

    # --- life cycle ------------------------------------------------------------------
    def start(self) -> LocalCloud:
        from moto import mock_aws

        self._saved_env = dict(os.environ)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",  # noqa: S105
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "MOTO_ALLOW_NONEXISTENT_REGION": "true",
            }
        )
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "core": {"reset_boto3_session": False},
            }
        )
        self._mock.start()
        virtual_time.install(self.clock)
        import nurture.clock

        nurture.clock.set_clock(self.clock)
        install_lambda_bridge(self)
        install_moto_fixes()
        install_partiql_inserts()  # ingest's INSERTs, as DynamoDB answers them
        install_task_failure_cause()
        import boto3

        boto3.setup_default_session(region_name=REGION)
        self._session = boto3.DEFAULT_SESSION
        self._hook_aws_calls()
        faults.install(self)
        self._provision()
        audit.started(self)
        return self

    def stop(self) -> None:
        try:
            self.run_until_idle()
        finally:
            audit.stopping(self)
            faults.uninstall(self)
            self._mock.stop()
            import nurture.clock

            nurture.clock.set_clock(nurture.clock.SystemClock())
            os.environ.clear()
            os.environ.update(self._saved_env)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        audit.stopping(self)
        faults.uninstall(self)
        self._mock.stop()
        import nurture.clock

        nurture.clock.set_clock(nurture.clock.SystemClock())
        os.environ.clear()
        os.environ.update(self._saved_env)

    def client(self, service: str) -> Any:
        # Made once per service: creating a client costs milliseconds, and the pump asks
        # for some after every step of virtual time.
        clients: dict[str, Any] = self.__dict__.setdefault("_clients", {})
        if service not in clients:
            clients[service] = self._session.client(service, region_name=REGION)
        return clients[service]

    # --- provisioning from the template -------------------------------------------------
    def _physical(self, logical_id: str) -> str:
        return f"{self.stack}-{logical_id}"

    def _provision(self) -> None:
        resources: dict[str, Any] = self.template["Resources"]
        refs: dict[str, str] = {}
        attrs: dict[tuple[str, str], str] = {}
        pseudo = {
            "AWS::StackName": self.stack,
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        resolver = Resolver(pseudo, refs, attrs, self.parameters)
        # Names and ARNs first, so any resource may refer to any other.
        for logical, res in resources.items():
            kind, name = res["Type"], self._physical(logical)
            if kind == "AWS::DynamoDB::Table":
                refs[logical] = name
                attrs[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            # AWS::Lambda::Function: the predictive TrainFunction, a container image, is only
            # named here; locally `nurture model train` (or its handler, in tests) runs it
            elif kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                refs[logical] = name
                attrs[(logical, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            elif kind == "AWS::SNS::Topic":
                refs[logical] = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
                attrs[(logical, "TopicName")] = name
            elif kind == "AWS::IAM::Role":
                refs[logical] = name
                attrs[(logical, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
            elif kind in (
                "AWS::SES::ConfigurationSet",
                "AWS::Serverless::HttpApi",
                "AWS::Serverless::LayerVersion",
                # reports run on DuckDB locally: the lake's Glue/Athena resources only need names
                "AWS::Glue::Database",
                "AWS::Glue::Table",
                "AWS::Athena::WorkGroup",
            ):
                refs[logical] = name
            elif kind.startswith(("AWS::CloudFront::", "AWS::Cognito::")):
                # the console's distribution and sign-in: only named (the local API serves
                # /console/ and checks the local credentials itself)
                refs[logical], more = console.resource_names(logical, kind, name)
                attrs.update(more)
            elif kind == "AWS::KMS::Key":  # topics name it; moto's SNS does not encrypt
                refs[logical] = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
                attrs[(logical, "Arn")] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{refs[logical]}"
            elif kind == "AWS::Events::Rule":  # alerts for people: nothing to run locally
                refs[logical] = name
                attrs[(logical, "Arn")] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
            elif kind == "AWS::SQS::Queue":
                refs[logical] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
                attrs[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
                attrs[(logical, "QueueName")] = name
                attrs[(logical, "QueueUrl")] = refs[logical]
            elif kind == "AWS::Scheduler::ScheduleGroup":
                group = resolver.resolve(res.get("Properties", {}).get("Name", name))
                refs[logical] = group
                attrs[(logical, "Arn")] = (
                    f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"
                )
            elif kind == "AWS::Logs::LogGroup":
                refs[logical], attrs[(logical, "Arn")] = statemachines.log_group_names(
                    res.get("Properties", {}), name, resolver
                )
            elif kind == "AWS::Serverless::StateMachine":
                refs[logical], more = statemachines.state_machine_names(
                    logical, res.get("Properties", {}), name, resolver
                )
                attrs.update(more)
        for logical, res in resources.items():  # buckets may be named from other values
            if res["Type"] == "AWS::S3::Bucket":
                props = res.get("Properties", {})
                refs[logical] = resolver.resolve(
                    props.get("BucketName", self._physical(logical).lower())
                )
                attrs[(logical, "Arn")] = f"arn:aws:s3:::{refs[logical]}"
                attrs[(logical, "RegionalDomainName")] = (
                    f"{refs[logical]}.s3.{REGION}.amazonaws.com"
                )
        self.resolver = resolver
        ddb, s3, sns, ses = (self.client(s) for s in ("dynamodb", "s3", "sns", "sesv2"))
        self.config_set_topics: dict[str, str] = {}
        for logical, res in resources.items():
            if res["Type"].startswith("AWS::Serverless::"):
                continue  # functions are loaded once everything they refer to exists
            kind, props = res["Type"], resolver.resolve(res.get("Properties", {}))
            if kind == "AWS::DynamoDB::Table":
                kwargs: dict[str, Any] = {
                    "TableName": refs[logical],
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": props["AttributeDefinitions"],
                    "KeySchema": props["KeySchema"],
                }
                if "GlobalSecondaryIndexes" in props:  # the admin search's indexes
                    kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
                if "StreamSpecification" in props:
                    kwargs["StreamSpecification"] = {
                        "StreamEnabled": True,
                        **props["StreamSpecification"],
                    }
                desc = ddb.create_table(**kwargs)["TableDescription"]
                if "LatestStreamArn" in desc:
                    attrs[(logical, "StreamArn")] = desc["LatestStreamArn"]
            elif kind == "AWS::S3::Bucket":
                s3.create_bucket(Bucket=refs[logical])
                # versioned as deployed: an erase must reach the old versions too
                versioning = props.get("VersioningConfiguration")
                if versioning:
                    s3.put_bucket_versioning(
                        Bucket=refs[logical], VersioningConfiguration=versioning
                    )
            elif kind == "AWS::SNS::Topic":
                sns.create_topic(Name=attrs[(logical, "TopicName")])
            elif kind == "AWS::SQS::Queue":
                self.client("sqs").create_queue(QueueName=attrs[(logical, "QueueName")])
            elif kind == "AWS::Scheduler::ScheduleGroup":
                self.client("scheduler").create_schedule_group(Name=refs[logical])
            elif kind == "AWS::Logs::LogGroup":
                statemachines.create_log_group(self.client("logs"), refs[logical], props)
            elif kind == "AWS::SES::ConfigurationSetEventDestination":
                dest = props["EventDestination"]
                if "SnsDestination" in dest:
                    self.config_set_topics[props["ConfigurationSetName"]] = dest["SnsDestination"][
                        "TopicARN"
                    ]
        ses.create_email_identity(EmailIdentity=self.parameters["SenderEmail"])
        globals_env = (
            self.template.get("Globals", {})
            .get("Function", {})
            .get("Environment", {})
            .get("Variables", {})
        )
        self.secrets_path = str(resolver.resolve(globals_env).get("SECRETS_PATH", ""))
        for name, value in self.secrets.items():
            self.put_secret(name, value)
        for logical, res in resources.items():
            if res["Type"] == "AWS::Serverless::Function":
                self._load_function(logical, res["Properties"], resolver.resolve(globals_env))
        self._provision_state_machines(resources)

    def _provision_state_machines(self, resources: dict[str, Any]) -> None:
        """Fixed workflows (statemachines/*.asl.json), created through Step Functions' API."""
        self.state_machines: dict[str, str] = {}
        for logical, res in resources.items():
            if res["Type"] != "AWS::Serverless::StateMachine":
                continue
            props = res.get("Properties", {})
            role = self.resolver.resolve(props.get("Role")) or (
                f"arn:aws:iam::{ACCOUNT}:role/{self._physical(logical)}-role"
            )
            self.state_machines[logical] = statemachines.create_state_machine(
                self.client("stepfunctions"),
                props,
                self.resolver.attrs[(logical, "Name")],
                statemachines.definition_text(self.root, logical, props, self.resolver),
                role,
                self.resolver,
            )

    def put_secret(self, name: str, value: str) -> None:
        """Create or replace (rotate) a secret, as `aws ssm put-parameter --overwrite` does.
        Functions see it once their cache expires (nurture.secrets.MAX_AGE_SECONDS)."""
        import nurture.secrets

        self.client("ssm").put_parameter(
            Name=f"{self.secrets_path}/{name}", Value=value, Type="SecureString", Overwrite=True
        )
        self.secrets[name] = value
        if not self.functions:  # a new cloud: nothing may come from an earlier one's cache
            nurture.secrets.clear_cache()

    def _load_function(
        self, logical: str, props: dict[str, Any], globals_env: dict[str, str]
    ) -> None:
        env = {
            **globals_env,
            **self.resolver.resolve(props.get("Environment", {}).get("Variables", {})),
        }
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": self._physical(logical),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "AWS_REGION": REGION,
            }
        )
        module_file, handler_name = props["Handler"].rsplit(".", 1)
        path = self.root / props["CodeUri"] / f"{module_file}.py"
        module_name = f"nurture_function_{logical}"
        with self._function_env(env):
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        self.functions[logical] = _Function(
            logical_id=logical,
            name=self._physical(logical),
            arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self._physical(logical)}",
            module=module,
            handler=getattr(module, handler_name),
            env=env,
            events=self.resolver.resolve(props.get("Events", {})),
        )

    class _EnvSwap:
        def __init__(self, env: dict[str, str]):
            self.env = env

        def __enter__(self) -> None:
            self.saved = dict(os.environ)
            os.environ.update(self.env)

        def __exit__(self, *exc: object) -> None:
            os.environ.clear()
            os.environ.update(self.saved)

    def _function_env(self, env: dict[str, str]) -> LocalCloud._EnvSwap:
        return LocalCloud._EnvSwap(env)

    # --- invoking functions ----------------------------------------------------------
    def function_by_name(self, name_or_arn: str) -> _Function:
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        for fn in self.functions.values():
            if fn.name == name or fn.logical_id == name:
                return fn
        raise KeyError(f"no function {name_or_arn!r} in template.yaml")

    def invoke(self, function: str, event: Any) -> Any:
        fn = self.function_by_name(function)
        with self._lock, self._function_env(fn.env), self.faults.invocation(fn):
            try:
                return fn.handler(
                    event, _Context(function_name=fn.name, invoked_function_arn=fn.arn)
                )
            finally:
                # With metrics disabled locally powertools never flushes; keep the set from
                # piling up until it prints on its own.
                metrics = getattr(fn.module, "metrics", None)
                if metrics is not None and hasattr(metrics, "clear_metrics"):
                    metrics.clear_metrics()

    # --- the pump --------------------------------------------------------------------
    def run_until_idle(self) -> None:
        """Deliver everything that is due now: queued notifications, stream records, and
        whatever the interpreter does in response, until nothing moves."""
        while True:
            self.clock.settle()
            with self._queue_lock:
                job = self._queue.popleft() if self._queue else None
            if job is not None:
                job()
                continue
            if not self._poll_streams():
                self._observe_executions()
                return

    def advance(self, delta: timedelta) -> None:
        """Let `delta` of virtual time pass, running everything that falls due on the way."""
        self.run_until_idle()
        timers = _Timers(_Schedules(self), _FunctionSchedules(self), AsyncRetries(self))
        self.clock.advance(delta, on_tick=self.run_until_idle, timers=timers)

    # --- content ----------------------------------------------------------------------
    @property
    def bucket(self) -> str:
        return self.resolver.refs["ContentBucket"]

    def upload(self, key: str, text: str) -> None:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=text.encode())
        self.run_until_idle()

    def read(self, key: str) -> str | None:
        try:
            return self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
        except Exception:  # noqa: BLE001
            return None

    def sync_content(self, only: list[str] | None = None) -> None:
        """Upload forms/, templates/, sales/, scoring/ and then programs/ from the repository
        (`only`: just these programs and scoring models, by file name)."""
        for folder in ("forms", "templates", "sales", "scoring", "programs"):
            base = self.root / folder
            for path in sorted(base.rglob("*.yaml")) if base.exists() else []:
                if folder in ("programs", "scoring") and only is not None and path.stem not in only:
                    continue
                self.upload(path.relative_to(self.root).as_posix(), path.read_text())


__all__ = [
    "CapturedEmail",
    "CapturedSms",
    "FunctionError",
    "LocalCloud",
    "TimelineEntry",
    "timedelta",
]
