"""LocalCloud: template.yaml brought up on moto, in-process, on a virtual clock."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
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

from localcloud import virtual_time
from localcloud.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday morning
LOCAL_PARAMETERS = {
    "WriteKeys": "local-write-key",
    "AllowedOrigins": "*",
    "SenderEmail": "hello@nurture.local",
    "LogLevel": "WARNING",
    "LinkSigningSecret": "local-link-signing-secret-not-for-production",
    "PublicBaseUrl": "http://localhost:3000",
}


@dataclass
class CapturedEmail:
    message_id: str
    to: list[str]
    sender: str
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    tags: dict[str, str]
    configuration_set: str | None
    sent_at: datetime

    def links(self) -> list[str]:
        """The tracked links (what a reader's click reaches SES with): `ses:no-track` ones,
        like the unsubscribe link, are left out."""
        return [
            href
            for tag, href in re.findall(r'(<a\b[^>]*?href="([^"]+)")', self.html)
            if "ses:no-track" not in tag
        ]


@dataclass
class CapturedSms:
    message_id: str
    to: str
    text: str
    sender_id: str | None
    sms_type: str | None
    sent_at: datetime


@dataclass
class TimelineEntry:
    at: datetime
    who: str
    what: str


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


class LocalCloud:
    def __init__(
        self,
        root: Path = ROOT,
        start: datetime = DEFAULT_START,
        stack_name: str = "nurture",
        parameters: dict[str, str] | None = None,
    ):
        self.root = root
        self.stack = stack_name
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
        self.on_timeline: Callable[[TimelineEntry], None] | None = None
        self._lock = (
            threading.RLock()
        )  # one function runs at a time, like a reserved concurrency of 1
        self._queue: deque[Callable[[], None]] = deque()
        self._queue_lock = threading.Lock()
        self._shard_iterators: dict[str, dict[str, str | None]] = {}
        self._executions: dict[str, dict[str, Any]] = {}
        self._mock: Any = None
        self._saved_env: dict[str, str] = {}

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
        self._install_lambda_bridge()
        self._install_moto_fixes()
        import boto3

        boto3.setup_default_session(region_name=REGION)
        self._session = boto3.DEFAULT_SESSION
        self._hook_aws_calls()
        self._provision()
        return self

    def stop(self) -> None:
        try:
            self.run_until_idle()
        finally:
            self._mock.stop()
            import nurture.clock

            nurture.clock.set_clock(nurture.clock.SystemClock())
            os.environ.clear()
            os.environ.update(self._saved_env)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
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
            elif kind == "AWS::Serverless::Function":
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
            ):
                refs[logical] = name
            elif kind == "AWS::Scheduler::ScheduleGroup":
                group = resolver.resolve(res.get("Properties", {}).get("Name", name))
                refs[logical] = group
                attrs[(logical, "Arn")] = (
                    f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"
                )
        for logical, res in resources.items():  # buckets may be named from other values
            if res["Type"] == "AWS::S3::Bucket":
                props = res.get("Properties", {})
                refs[logical] = resolver.resolve(
                    props.get("BucketName", self._physical(logical).lower())
                )
                attrs[(logical, "Arn")] = f"arn:aws:s3:::{refs[logical]}"
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
            elif kind == "AWS::SNS::Topic":
                sns.create_topic(Name=attrs[(logical, "TopicName")])
            elif kind == "AWS::Scheduler::ScheduleGroup":
                self.client("scheduler").create_schedule_group(Name=refs[logical])
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
        for logical, res in resources.items():
            if res["Type"] == "AWS::Serverless::Function":
                self._load_function(logical, res["Properties"], resolver.resolve(globals_env))

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
        with self._lock, self._function_env(fn.env):
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

    def _install_lambda_bridge(self) -> None:
        """Step Functions' Lambda tasks call our in-process functions (moto's Lambda needs Docker)."""
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        cloud = self
        real_client_for = lambda_eval_utils.boto_client_for

        class _LambdaClient:
            def invoke(self, FunctionName: str, Payload: Any = None, **_: Any) -> dict[str, Any]:  # noqa: N803
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

    def _install_moto_fixes(self) -> None:
        """StartExecution on an alias or version ARN, as AWS allows: moto's interpreter only
        starts plain machines, so run the version's definition on its machine."""
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

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

    # --- AWS call hooks: notifications, SES capture, execution tracking ------------------
    def _hook_aws_calls(self) -> None:
        events = self._session.events
        events.register("provide-client-params.s3.PutObject", _remember_params)
        events.register("after-call.s3.PutObject", self._after_put_object)
        events.register("provide-client-params.sesv2.SendEmail", _remember_params)
        events.register("after-call.sesv2.SendEmail", self._after_send_email)
        events.register("provide-client-params.sns.Publish", _remember_params)
        events.register("after-call.sns.Publish", self._after_publish)
        events.register("after-call.stepfunctions.StartExecution", self._after_start_execution)

    def _enqueue(self, job: Callable[[], None]) -> None:
        with self._queue_lock:
            self._queue.append(job)

    def _after_put_object(
        self, http_response: Any, parsed: Any, model: Any, context: Any, **_: Any
    ) -> None:
        params = context.get("nurture_params") or {}
        bucket, key = params.get("Bucket"), params.get("Key")
        if bucket and key:
            self._enqueue(lambda: self._notify_s3(bucket, key))

    def _notify_s3(self, bucket: str, key: str) -> None:
        for fn in self.functions.values():
            for ev in fn.events.values():
                if (
                    ev["Type"] != "S3"
                    or self.resolver.refs.get(
                        ev["Properties"]["Bucket"], ev["Properties"]["Bucket"]
                    )
                    != bucket
                ):
                    continue
                rules = ev["Properties"].get("Filter", {}).get("S3Key", {}).get("Rules", [])
                prefix = next((r["Value"] for r in rules if r["Name"] == "prefix"), "")
                suffix = next((r["Value"] for r in rules if r["Name"] == "suffix"), "")
                if key.startswith(prefix) and key.endswith(suffix):
                    self.invoke(fn.logical_id, _s3_event(bucket, key, self.clock.now()))

    def _after_send_email(self, parsed: dict[str, Any], context: Any, **_: Any) -> None:
        params = context.get("nurture_params")
        if params is None or "MessageId" not in parsed:
            return
        simple = params["Content"]["Simple"]
        email = CapturedEmail(
            message_id=parsed["MessageId"],
            to=params["Destination"]["ToAddresses"],
            sender=params["FromEmailAddress"],
            subject=simple["Subject"]["Data"],
            html=simple["Body"].get("Html", {}).get("Data", ""),
            text=simple["Body"].get("Text", {}).get("Data", ""),
            headers={h["Name"]: h["Value"] for h in simple.get("Headers", [])},
            tags={t["Name"]: t["Value"] for t in params.get("EmailTags", [])},
            configuration_set=params.get("ConfigurationSetName"),
            sent_at=self.clock.now(),
        )
        self.outbox.append(email)
        self._enqueue(lambda: self.ses_event(email, "Send"))
        self._enqueue(lambda: self.ses_event(email, "Delivery"))

    def _after_publish(self, parsed: dict[str, Any], context: Any, **_: Any) -> None:
        """SNS Publish to a phone number is an SMS: capture it like SES email."""
        params = context.get("nurture_params")
        if params is None or not params.get("PhoneNumber") or "MessageId" not in parsed:
            return
        attrs = params.get("MessageAttributes") or {}
        self.sms_outbox.append(
            CapturedSms(
                message_id=parsed["MessageId"],
                to=params["PhoneNumber"],
                text=params["Message"],
                sender_id=attrs.get("AWS.SNS.SMS.SenderID", {}).get("StringValue"),
                sms_type=attrs.get("AWS.SNS.SMS.SMSType", {}).get("StringValue"),
                sent_at=self.clock.now(),
            )
        )

    def sms_reply(self, from_number: str, body: str, topic: str = "SmsInboundTopic") -> None:
        """An inbound SMS, as SNS two-way SMS publishes it to the template's inbound topic."""
        to = self.sms_outbox[-1].to if self.sms_outbox else "+10000000000"
        message = {
            "originationNumber": from_number,
            "destinationNumber": to,
            "messageKeyword": "KEYWORD",
            "messageBody": body,
            "inboundMessageId": str(uuid.uuid4()),
            "previousPublishedMessageId": self.sms_outbox[-1].message_id if self.sms_outbox else "",
        }
        self.publish(self.resolver.refs[topic], json.dumps(message))
        self.run_until_idle()

    def _after_start_execution(self, parsed: dict[str, Any], **_: Any) -> None:
        arn = parsed.get("executionArn")
        if arn and arn not in self._executions:
            self._executions[arn] = {"seen_events": 0, "done": False}

    # --- SES engagement simulation ------------------------------------------------------
    def ses_event(
        self, email: CapturedEmail, event_type: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Publish the SES event AWS would send for `email` to its configuration set's topic."""
        topic = self.config_set_topics.get(email.configuration_set or "")
        if topic is None:
            return
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body: dict[str, Any] = {
            "eventType": event_type,
            "mail": {
                "timestamp": email.sent_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "source": email.sender,
                "messageId": email.message_id,
                "destination": email.to,
                "tags": {k: [v] for k, v in email.tags.items()},
                "commonHeaders": {"from": [email.sender], "to": email.to, "subject": email.subject},
            },
        }
        key = {
            "Send": "send",
            "Delivery": "delivery",
            "Open": "open",
            "Click": "click",
            "Bounce": "bounce",
            "Complaint": "complaint",
        }.get(event_type, event_type.lower())
        body[key] = {"timestamp": now, **(detail or {})}
        self.publish(topic, json.dumps(body))

    def open_email(self, email: CapturedEmail) -> None:
        self.ses_event(email, "Open", {"userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"})
        self.run_until_idle()

    def click_email(self, email: CapturedEmail, link: str | None = None) -> None:
        links = email.links()
        target = link or (links[0] if links else "https://example.com/")
        self.ses_event(
            email,
            "Click",
            {"link": target, "linkTags": {}, "userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"},
        )
        self.run_until_idle()

    def publish(self, topic_arn: str, message: str) -> None:
        self.client("sns").publish(TopicArn=topic_arn, Message=message)
        for fn in self.functions.values():
            for ev in fn.events.values():
                if ev["Type"] == "SNS" and ev["Properties"]["Topic"] == topic_arn:
                    self.invoke(fn.logical_id, _sns_event(topic_arn, message, self.clock.now()))

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
        timers = _Timers(_Schedules(self), _FunctionSchedules(self))
        self.clock.advance(delta, on_tick=self.run_until_idle, timers=timers)

    def _poll_streams(self) -> bool:
        # moto answers only the regional host, not the newer account-based stream endpoints
        streams = self.__dict__.get("_streams_client") or self._session.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        self.__dict__["_streams_client"] = streams
        delivered = False
        for fn in self.functions.values():
            for ev in fn.events.values():
                if ev["Type"] != "DynamoDB":
                    continue
                props = ev["Properties"]
                stream_arn = props["Stream"]
                iterators = self._shard_iterators.setdefault(stream_arn, {})
                for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"][
                    "Shards"
                ]:
                    shard_id = shard["ShardId"]
                    if shard_id not in iterators:
                        iterators[shard_id] = streams.get_shard_iterator(
                            StreamArn=stream_arn,
                            ShardId=shard_id,
                            ShardIteratorType="TRIM_HORIZON",
                        )["ShardIterator"]
                    iterator = iterators[shard_id]
                    if iterator is None:
                        continue
                    resp = streams.get_records(
                        ShardIterator=iterator, Limit=int(props.get("BatchSize", 100))
                    )
                    iterators[shard_id] = resp.get("NextShardIterator")
                    records = [r for r in resp["Records"] if _matches_filters(r, props)]
                    if records:
                        delivered = True
                        self._deliver_stream(fn, stream_arn, records, props)
        return delivered

    def _deliver_stream(
        self, fn: _Function, stream_arn: str, records: list[dict[str, Any]], props: dict[str, Any]
    ) -> None:
        for record in records:
            record["eventSourceARN"] = stream_arn
            self._observe_activity(record)
        attempts = int(props.get("MaximumRetryAttempts", 2)) + 1
        pending = records
        for _ in range(attempts):
            try:
                result = self.invoke(fn.logical_id, {"Records": _json_safe(pending)})
            except Exception as exc:  # noqa: BLE001 - the whole batch is retried, as Lambda does
                self.errors.append(f"{fn.logical_id}: {type(exc).__name__}: {exc}")
                continue
            failures = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if not failures:
                return
            pending = [r for r in pending if r["dynamodb"]["SequenceNumber"] in failures]
        self.errors.append(f"{fn.logical_id}: {len(pending)} stream record(s) kept failing")

    # --- timeline ---------------------------------------------------------------------
    def _emit(self, who: str, what: str) -> None:
        entry = TimelineEntry(self.clock.now(), who, what)
        self.timeline.append(entry)
        if self.on_timeline:
            self.on_timeline(entry)

    def _observe_activity(self, record: dict[str, Any]) -> None:
        image = record.get("dynamodb", {}).get("NewImage", {})
        if record.get("eventName") != "INSERT" or "doc" not in image:
            return
        doc = json.loads(image["doc"]["S"])
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
            self._emit(who, f"{doc['name']} ({props.get('step_id')}){link}")
        elif doc["name"] == "task.created":
            self._emit(
                who,
                f"task for {props.get('assignee')}: {props.get('title')!r} (due {props.get('due')})",
            )
        elif doc["name"] == "sales.notified":
            self._emit(
                who, f"sales notified ({props.get('recipient')}) by {props.get('program_id')}"
            )
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
        elif doc["kind"] in ("program", "contact"):
            self._emit(who, doc["name"])

    def _observe_executions(self) -> None:
        sfn = self.client("stepfunctions")
        for arn, seen in list(self._executions.items()):
            if seen["done"]:
                continue
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            contact = arn.rsplit("--", 1)[-1]
            for event in history[seen["seen_events"] :]:
                details = event.get("stateEnteredEventDetails")
                if details:
                    seen["last_state"] = details["name"]
                if event["type"] == "PassStateEntered" and details and ": " in details["name"]:
                    step, outcome = details["name"].split(": ", 1)
                    self._emit(contact, f"branch taken at {step!r}: {outcome}")
                elif event["type"] in (
                    "ExecutionSucceeded",
                    "ExecutionFailed",
                    "ExecutionAborted",
                    "ExecutionTimedOut",
                ):
                    # execution ARN: arn:aws:states:<region>:<account>:execution:<machine>:<name>
                    program = arn.split(":")[6].split("-program-", 1)[-1]
                    verdict = {
                        "ExecutionSucceeded": "finished",
                        "ExecutionFailed": "FAILED",
                        "ExecutionAborted": "stopped",
                        "ExecutionTimedOut": "timed out",
                    }[event["type"]]
                    if verdict == "finished" and str(seen.get("last_state", "")).endswith(
                        ": continues later"
                    ):
                        verdict = "paused for a long wait (a schedule resumes it)"
                    cause = event.get("executionFailedEventDetails", {})
                    extra = (
                        f": {cause.get('error')} {cause.get('cause', '')[:200]}" if cause else ""
                    )
                    self._emit(contact, f"program {program!r} {verdict}{extra}")
                    seen["done"] = True
            seen["seen_events"] = len(history)

    # --- API Gateway ------------------------------------------------------------------
    def http(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        write_key: str | None = "local-write-key",
    ) -> tuple[int, dict[str, str], Any]:
        """Send a request to the template's HTTP API, as API Gateway would, and run what follows."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("content-type", "application/json")
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if write_key is not None and "authorization" not in headers:
            headers["authorization"] = (
                "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
            )
        route = self._route(method, path)
        if route is None:
            return 404, {}, {"message": "Not Found"}
        fn, route_key, path_params = route
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path.split("?")[0],
            "rawQueryString": path.split("?", 1)[1] if "?" in path else "",
            "headers": headers,
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
            "pathParameters": path_params,
            "requestContext": {
                "http": {
                    "method": method,
                    "path": path.split("?")[0],
                    "sourceIp": "127.0.0.1",
                    "protocol": "HTTP/1.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": "localhost",
                "timeEpoch": int(self.clock.now().timestamp() * 1000),
            },
        }
        if "?" in path:
            from urllib.parse import parse_qsl

            event["queryStringParameters"] = dict(parse_qsl(path.split("?", 1)[1]))
        resp = self.invoke(fn.logical_id, event)
        self.run_until_idle()
        payload = resp.get("body", "")
        if resp.get("isBase64Encoded"):
            payload = base64.b64decode(payload).decode()
        try:
            parsed: Any = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            parsed = payload
        return int(resp["statusCode"]), dict(resp.get("headers") or {}), parsed

    def _route(self, method: str, path: str) -> tuple[_Function, str, dict[str, str]] | None:
        clean = path.split("?")[0]
        for fn in self.functions.values():
            for ev in fn.events.values():
                if ev["Type"] != "HttpApi":
                    continue
                p = ev["Properties"]
                if p["Method"].upper() not in (method.upper(), "ANY"):
                    continue
                names = re.findall(r"\{(\w+)\}", p["Path"])
                pattern = "^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(p["Path"])) + "$"
                match = re.match(pattern, clean)
                if match:
                    return (
                        fn,
                        f"{p['Method'].upper()} {p['Path']}",
                        dict(zip(names, match.groups(), strict=True)),
                    )
        return None

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
        """Upload forms/, templates/ and then programs/ from the repository."""
        for folder in ("forms", "templates", "programs"):
            base = self.root / folder
            for path in sorted(base.rglob("*.yaml")) if base.exists() else []:
                if folder == "programs" and only is not None and path.stem not in only:
                    continue
                self.upload(path.relative_to(self.root).as_posix(), path.read_text())


class _Schedules:
    """EventBridge Scheduler one-time schedules (`at(...)`), fired on the virtual clock:
    moto's scheduler only stores them. Targets: Step Functions StartExecution, either a
    state machine (version, alias) ARN with Input = the execution input, or the universal
    target aws-sdk:sfn:startExecution. Executions are named `<program>-r<hash>--<contact>`
    here (AWS names them itself) so the timeline can tell whose they are."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud

    def _due(self) -> list[tuple[datetime, Any, Any]]:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[ACCOUNT][REGION]
        out = []
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                match = re.fullmatch(r"at\((.+)\)", schedule.schedule_expression or "")
                if match and schedule.state != "DISABLED":
                    when = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
                    out.append((when, group, schedule))
        return sorted(out, key=lambda item: (item[0], item[2].name))

    def next_due(self) -> datetime | None:
        due = self._due()
        return due[0][0] if due else None

    def fire(self, now: datetime) -> None:
        sfn = self.cloud.client("stepfunctions")
        for when, group, schedule in self._due():
            if when > now:
                break
            target = schedule.target
            try:
                if target["Arn"] == "arn:aws:scheduler:::aws-sdk:sfn:startExecution":
                    call = json.loads(target.get("Input") or "{}")
                    sfn.start_execution(
                        stateMachineArn=call["StateMachineArn"],
                        name=call.get("Name"),
                        input=call.get("Input", "{}"),
                    )
                elif ":states:" in target["Arn"]:
                    data = json.loads(target.get("Input") or "{}")
                    program = target["Arn"].split(":")[6].split("-program-", 1)[-1]
                    tag = uuid.uuid5(uuid.NAMESPACE_URL, schedule.name).hex[:6]
                    name = f"{program[:38]}-r{tag}--{data.get('contact_id', 'unknown')}"[:80]
                    sfn.start_execution(
                        stateMachineArn=target["Arn"], name=name, input=target.get("Input", "{}")
                    )
                else:
                    self.cloud.errors.append(
                        f"schedule {schedule.name}: target {target['Arn']} not simulated"
                    )
                payload = json.loads(target.get("Input") or "{}")
                if "StateMachineArn" in payload:  # the universal target: the API call's parameters
                    payload = json.loads(payload.get("Input") or "{}")
                who = payload.get("contact_id") if isinstance(payload, dict) else None
                self.cloud._emit(who or "scheduler", f"resumed by schedule {schedule.name!r}")
            except Exception as exc:  # noqa: BLE001 - shown like a failed invocation
                self.cloud.errors.append(f"schedule {schedule.name}: {type(exc).__name__}: {exc}")
            if schedule.action_after_completion == "DELETE":
                group.schedules.pop(schedule.name, None)
            else:
                schedule.state = "DISABLED"  # a one-time schedule that ran stays, inert


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


class _FunctionSchedules:
    """The template's `Schedule` events of functions (EventBridge `rate(...)` / `cron(...)`),
    fired on the virtual clock as time passes each next occurrence (a rate counts from the
    first `advance`). The next occurrences live on the cloud, across `advance` calls."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud
        if not hasattr(cloud, "_function_schedules"):
            now = cloud.clock.now()
            cloud._function_schedules = {  # type: ignore[attr-defined]
                (fn.logical_id, name): _next_occurrence(ev["Properties"]["Schedule"], now)
                for fn in cloud.functions.values()
                for name, ev in fn.events.items()
                if ev["Type"] == "Schedule" and ev["Properties"].get("Enabled", True) is not False
            }
        self.next: dict[tuple[str, str], datetime] = cloud._function_schedules  # type: ignore[attr-defined]

    def next_due(self) -> datetime | None:
        return min(self.next.values()) if self.next else None

    def fire(self, now: datetime) -> None:
        for (logical, name), when in sorted(self.next.items(), key=lambda item: item[1]):
            if when > now:
                continue
            expression = self.cloud.functions[logical].events[name]["Properties"]["Schedule"]
            self.next[(logical, name)] = _next_occurrence(expression, when)
            self.cloud._emit("scheduler", f"schedule {logical}.{name} fired ({expression})")
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "region": REGION,
                "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resources": [
                    f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.cloud.stack}-{logical}{name}"
                ],
                "detail": {},
            }
            try:
                self.cloud.invoke(logical, event)
            except Exception as exc:  # noqa: BLE001 - shown like a failed invocation
                self.cloud.errors.append(f"{logical}: {type(exc).__name__}: {exc}")


class _Timers:
    """Several `timers` (next_due / fire) as one, for VirtualClock.advance_to."""

    def __init__(self, *parts: Any):
        self.parts = parts

    def next_due(self) -> datetime | None:
        due = [d for d in (p.next_due() for p in self.parts) if d is not None]
        return min(due) if due else None

    def fire(self, now: datetime) -> None:
        for part in self.parts:
            due = part.next_due()
            if due is not None and due <= now:
                part.fire(now)


_RATE_UNITS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}
_WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # EventBridge: 1 = SUN


def _cron_field(text: str, low: int, high: int, names: list[str] | None = None) -> set[int] | None:
    """EventBridge cron field -> allowed values (None: any). Supports *, ?, lists, ranges, steps."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if names:
            for index, name in enumerate(names):
                part = part.replace(name, str(index + low))
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
        values.update(range(start, end + 1, step))
    return values


def _next_occurrence(expression: str, after: datetime) -> datetime:
    """The first moment after `after` of an EventBridge `rate(...)` or `cron(...)` (UTC)."""
    rate = re.fullmatch(r"rate\((\d+) (\w+)\)", expression.strip())
    if rate:
        return after + timedelta(seconds=int(rate.group(1)) * _RATE_UNITS[rate.group(2)])
    cron = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not cron:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    minute, hour, dom, month, dow, _year = cron.group(1).split()
    minutes = sorted(_cron_field(minute, 0, 59) or range(60))
    hours = sorted(_cron_field(hour, 0, 23) or range(24))
    days, months = _cron_field(dom, 1, 31), _cron_field(month, 1, 12)
    weekdays = _cron_field(dow, 1, 7, _WEEKDAYS)
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    for offset in range(0, 367):
        day = (start + timedelta(days=offset)).date()
        if (days and day.day not in days) or (months and day.month not in months):
            continue
        if weekdays and (day.isoweekday() % 7) + 1 not in weekdays:
            continue
        for h in hours:
            for m in minutes:
                moment = datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)
                if moment > after:
                    return moment
    raise ValueError(f"schedule {expression!r} never fires")


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["nurture_params"] = dict(params)


def _matches_filters(record: dict[str, Any], props: dict[str, Any]) -> bool:
    filters = props.get("FilterCriteria", {}).get("Filters", [])
    if not filters:
        return True
    for f in filters:
        pattern = json.loads(f["Pattern"])
        if all(record.get(k) in v for k, v in pattern.items() if isinstance(v, list)):
            return True
    return False


def _json_safe(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.timestamp()
        return str(value)

    out: list[dict[str, Any]] = json.loads(json.dumps(records, default=default))
    return out


def _s3_event(bucket: str, key: str, now: datetime) -> dict[str, Any]:
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key), "size": 0},
                },
            }
        ]
    }


def _sns_event(topic_arn: str, message: str, now: datetime) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:local",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


__all__ = [
    "CapturedEmail",
    "CapturedSms",
    "FunctionError",
    "LocalCloud",
    "TimelineEntry",
    "timedelta",
]
