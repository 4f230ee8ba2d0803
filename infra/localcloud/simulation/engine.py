"""The fast simulation engine: a discrete-event simulator over a priority queue of virtual
time, running a program's COMPILED state machines (`asl.Interpreter`) and the SAME step
code production runs (nurture.runtime.steps.StepRunner with the delivery service, the
react function's Reactor, the engagement function's EngagementRecorder, the reports
function's exit activity), against in-memory ports (`memory`). No moto, no threads.

What each piece of the deployed system does here:
    deploy function      nurture.programs.deploy.deploy_program (compiles; two machines for
                         programs with long waits)
    Step Functions       asl.Interpreter on the queue; task tokens, timeouts, Retry, Catch
    steps function       StepRunner.run(StepRequest) for each Task (the handler's body)
    activities stream    every new activity -> Reactor.handle at the same virtual moment
    SES                  Outbox; Send and Delivery events -> EngagementRecorder, like SNS
    Scheduler            one-time schedules (resume a long wait, wake a wait_until) on the queue
    EventBridge          an ended execution -> reporting.runs.exit_activity -> program.exited
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from localcloud.constants import ACCOUNT, REGION
from localcloud.simulation.asl import Execution, Interpreter, TaskError, error_of
from localcloud.simulation.memory import (
    MemoryActivities,
    MemoryBlobs,
    MemoryContacts,
    MemoryDelivery,
    MemoryState,
    Outbox,
    Texts,
)

MACHINE_PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nurture-program-"
STEPS_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nurture-StepsFunction"
SCHEDULES = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/nurture-resumes/"


@dataclass
class SentEmail:
    """An email the outbox took, as the local cloud's CapturedEmail has it."""

    message_id: str
    to: list[str]
    sender: str
    subject: str
    html: str
    tags: dict[str, str]
    sent_at: datetime

    def links(self) -> list[str]:
        from localcloud.capture import _Links

        parser = _Links()
        parser.feed(self.html)
        parser.close()
        return parser.hrefs


class _Machines:
    """The StateMachines port of the deploy: publish keeps each version's definition."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}

    def validate(self, definition: dict[str, Any]) -> dict[str, Any]:
        return {"result": "OK", "diagnostics": []}

    def publish(self, name: str, definition: dict[str, Any], description: str) -> tuple[str, str]:
        version = self.versions.get(name, 0) + 1
        self.versions[name] = version
        arn = MACHINE_PREFIX + name
        frozen = json.loads(json.dumps(definition))
        self.definitions[f"{arn}:{version}"] = frozen
        self.definitions[f"{arn}:live"] = frozen
        return f"{arn}:live", str(version)

    def stop_running(self, name: str, cause: str) -> int:
        return 0


class _Parameters:
    """Parameter Store for powertools' get_parameter: the local cloud's secrets."""

    def __init__(self, values: dict[str, str]) -> None:
        from aws_lambda_powertools.utilities.parameters.base import BaseProvider

        class Provider(BaseProvider):
            def _get(self, name: str, **_: Any) -> str:
                key = name.rsplit("/", 1)[-1]
                if key not in values:
                    raise KeyError(name)
                return values[key]

            def _get_multiple(self, path: str, **_: Any) -> dict[str, str]:
                raise NotImplementedError

        self.provider = Provider()


# Port methods that read (a DynamoDB read, or an S3 GET for get_text); the rest write.
READS = frozenset(
    {
        "get",
        "contact_for_actor",
        "list_for",
        "get_program",
        "programs_for_trigger",
        "get_enrolment",
        "enrolments_of",
        "tasks_for",
        "waits_for",
        "ledger_get",
        "suppression_for",
        "contacts_for_phone",
        "get_account",
        "get_text",
    }
)


class _Metered:
    """A port whose method calls are counted by name (each stands for one AWS call)."""

    def __init__(self, port: Any, calls: Counter[str]) -> None:
        self._port = port
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._port, name)
        if not callable(found):
            return found
        calls = self._calls

        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return found(*args, **kwargs)

        setattr(self, name, call)  # found by attribute lookup from now on
        return call


class SimWorkflows:
    """The Workflows port on the interpreter. Like StepFunctionsWorkflows, a run continued
    by a resume schedule is followed across its executions."""

    def __init__(self, sim: FastSimulation) -> None:
        self.sim = sim

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        from nurture.runtime.actions_schedule import execution_arn_of

        arn = execution_arn_of(state_machine_arn, name)
        if arn in self.sim.asl.executions:
            return arn  # ExecutionAlreadyExists: the same entry
        definition = self.sim.machines.definitions[state_machine_arn]
        data = json.loads(json.dumps(payload, sort_keys=True))
        self.sim.asl.start(state_machine_arn, arn, name, definition, data)
        return arn

    def follow(self, first_arn: str) -> tuple[str, Execution | str | None]:
        arn = first_arn
        for _ in range(50):
            run = self.sim.asl.executions.get(arn)
            if run is None:
                return "ended", None
            if run.status == "RUNNING":
                return "running", run
            last = run.output.get("last") if isinstance(run.output, dict) else None
            result = last.get("Payload") if isinstance(last, dict) else None
            if run.status != "SUCCEEDED" or not isinstance(result, dict):
                return "ended", None
            if result.get("status") != "scheduled":
                return "ended", None
            following = str(result.get("execution_arn"))
            if following not in self.sim.asl.executions:
                return "scheduled", str(result.get("schedule") or "")
            arn = following
        return "ended", None

    def is_running(self, execution_arn: str) -> bool:
        return self.follow(execution_arn)[0] != "ended"

    def stop(self, execution_arn: str, cause: str) -> bool:
        where, ref = self.follow(execution_arn)
        if where == "running" and isinstance(ref, Execution):
            return self.sim.asl.stop(ref, None, cause[:32768])
        if where == "scheduled" and isinstance(ref, str):
            return self.sim.cancel_schedule(ref.rpartition("/")[2])
        return False

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        return self.sim.asl.succeed_task(task_token, dict(output))

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self.sim.asl.fail_task(task_token, error, cause)


class SimResumes:
    """EventBridge Scheduler one-time schedules (`at(...)`, to the second) on the queue."""

    def __init__(self, sim: FastSimulation) -> None:
        self.sim = sim

    def schedule_start(
        self,
        name: str,
        at: datetime,
        state_machine_arn: str,
        execution_name: str,
        payload: dict[str, Any],
    ) -> str:
        # Scheduler's universal StartExecution target: the run is named as the step chose

        def fire() -> None:
            self.sim.workflows.start(state_machine_arn, execution_name, payload)

        self.sim.schedule(name, at, fire)
        return SCHEDULES + name

    def schedule_task_success(
        self, name: str, at: datetime, task_token: str, output: dict[str, Any]
    ) -> str:
        def fire() -> None:
            self.sim.workflows.resume(task_token, output)  # False: the run went on or ended

        self.sim.schedule(name, at, fire)
        return SCHEDULES + name


class FastSimulation:
    """One deployed program and its contacts on a virtual clock."""

    def __init__(self, root: Path, start: datetime, record_states: bool = False) -> None:
        self.root = root
        self._now = start
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = 0
        self._schedules: dict[str, bool] = {}  # name -> still to fire
        self.errors: list[str] = []
        self.emails: list[SentEmail] = []
        self.contacts = MemoryContacts()
        self.activities = MemoryActivities(self._stream)
        self.state = MemoryState()
        self.delivery = MemoryDelivery(self.contacts)
        self.blobs = MemoryBlobs(_content(root))
        self.outbox = Outbox(on_email=self._accepted)
        self.machines = _Machines()
        self.asl = Interpreter(self, record_states)
        self.workflows = SimWorkflows(self)
        self.resumes = SimResumes(self)
        self.invocations: Counter[str] = Counter()  # per function, as Lambda bills them
        self.schedules_fired = 0
        self.calls: Counter[str] = Counter()  # port calls made by the functions, by method
        self.on_activity: Callable[[Any], None] | None = None

    # --- the clock and the queue (asl.Host) -----------------------------------------------
    def now(self) -> datetime:
        return self._now

    def at(self, moment: datetime, job: Callable[[], None]) -> None:
        self._order += 1
        heapq.heappush(self._queue, (max(moment, self._now), self._order, job))

    def schedule(self, name: str, at: datetime, job: Callable[[], None]) -> None:
        if name in self._schedules:
            return  # a retried step: the schedule is already there (ConflictException)
        self._schedules[name] = True

        def fire() -> None:
            if self._schedules.pop(name, False):
                self.schedules_fired += 1
                job()

        self.at(at.replace(microsecond=0), fire)

    def cancel_schedule(self, name: str) -> bool:
        return self._schedules.pop(name, None) is not None

    def run_until(self, end: datetime) -> None:
        """Run every job due up to `end`, in time order; the clock then stands at `end`."""
        while self._queue and self._queue[0][0] <= end:
            moment, _, job = heapq.heappop(self._queue)
            self._now = moment
            try:
                job()
            except Exception as exc:  # a function error the platform would log, not raise
                self.errors.append(f"{type(exc).__name__}: {exc}")
        self._now = max(self._now, end)

    def next_due(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None

    # --- the functions ---------------------------------------------------------------------
    def invoke(self, function: str, payload: Any) -> Any:
        from nurture.runtime.steps import StepRequest

        if function != STEPS_FUNCTION:
            raise TaskError("Lambda.ResourceNotFoundException", f"no function {function}")
        self.invocations["StepsFunction"] += 1
        try:
            # the payload is built fresh by the Task's Parameters, and the steps return
            # plain JSON values: nothing to copy
            return self.runner.run(StepRequest.model_validate(payload))
        except Exception as exc:
            # the local cloud lists every function error (a Catch may still handle it)
            self.errors.append(f"{function}: {type(exc).__name__}: {exc}")
            raise error_of(exc) from exc

    def ended(self, run: Execution) -> None:
        """EventBridge's Execution Status Change -> the reports function."""
        detail = {
            "executionArn": run.arn,
            "stateMachineArn": run.machine_arn,
            "name": run.name,
            "status": run.status,
            "stopDate": int(self._now.timestamp() * 1000),
            "input": json.dumps(run.input),
            "output": json.dumps(run.output) if run.output is not None else None,
            # StopExecution's cause is in the history, not in the event (nor DescribeExecution)
            "error": run.error if run.status != "ABORTED" else None,
            "cause": run.cause if run.status != "ABORTED" else None,
        }

        def report() -> None:
            from nurture.reporting.runs import exit_activity

            self.invocations["ReportsFunction"] += 1
            ended = exit_activity(detail)
            if ended is not None and self.contacts.get(ended.contact_id or "") is not None:
                self.activities.put_new(ended)

        self.at(self._now, report)

    def _stream(self, activity: Any) -> None:
        if self.on_activity is not None:
            self.on_activity(activity)
        self.at(self._now, lambda: self._react(activity))

    def _react(self, activity: Any) -> None:
        self.invocations["ReactFunction"] += 1  # one stream record per invocation at most
        self.reactor.handle(activity)

    def _accepted(self, message_id: str, email: Any) -> None:
        sent = SentEmail(
            message_id, [email.to], email.sender, email.subject, email.html, email.tags, self._now
        )
        self.emails.append(sent)
        self.at(self._now, lambda: self.ses_event(sent, "Send"))
        self.at(self._now, lambda: self.ses_event(sent, "Delivery"))

    def ses_event(self, email: SentEmail, kind: str, detail: dict[str, Any] | None = None) -> None:
        """What SES publishes for `email`, to the engagement function."""
        now = self._now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        key = {"Send": "send", "Delivery": "delivery", "Open": "open", "Click": "click"}[kind]
        self.invocations["EngagementFunction"] += 1
        self.engagement.handle(
            {
                "eventType": kind,
                "mail": {
                    "timestamp": email.sent_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "source": email.sender,
                    "messageId": email.message_id,
                    "destination": email.to,
                    "tags": {k: [v] for k, v in email.tags.items()},
                    "commonHeaders": {"from": [email.sender], "to": email.to},
                },
                key: {"timestamp": now, **(detail or {})},
            }
        )

    # --- deploy and wiring -------------------------------------------------------------------
    def deploy(self, program_path: Path) -> tuple[Any, dict[str, Any]]:
        """The deploy function's work on the program file (and the runtime's wiring)."""
        from nurture.programs.deploy import deploy_program, status_key
        from nurture.programs.model import Program

        self._wire()
        source = program_path.read_text()
        data = yaml.safe_load(source) or {}
        program_id = data.get("id") if isinstance(data, dict) else None
        key = f"programs/{program_id or program_path.stem}.yaml"
        self.blobs.put_text(key, source)
        deploy_program(key, self.blobs, self.machines, self.state, STEPS_FUNCTION)
        status = json.loads(self.blobs.get_text(status_key(key)) or "{}")
        program = Program.model_validate(data) if status.get("status") == "live" else None
        return program, status

    def _wire(self) -> None:
        import nurture.runtime.actions  # noqa: F401  (registers the step actions)
        from nurture.delivery.config import DeliverySettings
        from nurture.delivery.engagement import EngagementRecorder
        from nurture.delivery.sender import DeliveryService
        from nurture.reporting.ports import MemorySplitDecisions
        from nurture.runtime.actions_schedule import configure
        from nurture.runtime.react import Reactor
        from nurture.runtime.steps import StepRunner

        env = self.environment
        policy = DeliverySettings.model_validate(env).policy([self.secrets["link-signing-secrets"]])
        contacts, activities, state, blobs, store = (
            _Metered(port, self.calls)
            for port in (self.contacts, self.activities, self.state, self.blobs, self.delivery)
        )
        self.reactor = Reactor(contacts, activities, state, self.workflows)
        self.engagement = EngagementRecorder(activities, store)
        self.runner = StepRunner(
            contacts=contacts,
            activities=activities,
            state=state,
            blobs=blobs,
            mailer=self.outbox,
            workflows=self.workflows,
            sender=env["SENDER_EMAIL"],
            delivery=DeliveryService(
                contacts=contacts,
                activities=activities,
                state=state,
                blobs=blobs,
                store=store,
                mailer=self.outbox,
                policy=policy,
                sender=env["SENDER_EMAIL"],
                texter=Texts(self.outbox),
            ),
            split_decisions=MemorySplitDecisions(),
        )
        configure(self.resumes, None)

    @property
    def secrets(self) -> dict[str, str]:
        from localcloud.cloud import LOCAL_SECRETS

        return LOCAL_SECRETS

    @property
    def environment(self) -> dict[str, str]:
        """The steps function's variables, as the template and the local cloud set them."""
        cached: dict[str, str] | None = self.__dict__.get("_environment")
        if cached is None:
            from localcloud.cloud import LOCAL_PARAMETERS
            from localcloud.lambda_layout import function_environment
            from localcloud.template import load_template

            template = load_template(self.root / "template.yaml")
            props = template["Resources"]["StepsFunction"]["Properties"]
            cached = function_environment(props, template, region=REGION, tracing=False)
            cached["SENDER_EMAIL"] = LOCAL_PARAMETERS["SenderEmail"]
            cached["PUBLIC_BASE_URL"] = LOCAL_PARAMETERS["PublicBaseUrl"]
            self.__dict__["_environment"] = cached
        return cached

    @contextmanager
    def running(self) -> Iterator[FastSimulation]:
        """The process-wide hooks for the run: the virtual clock, the environment the
        step code reads settings from, Parameter Store; all put back afterwards."""
        from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

        import nurture.clock
        from nurture import secrets
        from nurture.runtime import actions_schedule

        saved_env = dict(os.environ)
        saved_ssm = DEFAULT_PROVIDERS.get("ssm")
        os.environ.update(self.environment)
        secrets.clear_cache()  # (powertools forgets its providers too: set ours after)
        DEFAULT_PROVIDERS["ssm"] = _Parameters(self.secrets).provider
        nurture.clock.set_clock(self)
        try:
            yield self
        finally:
            nurture.clock.set_clock(nurture.clock.SystemClock())
            secrets.clear_cache()
            if saved_ssm is None:
                DEFAULT_PROVIDERS.pop("ssm", None)
            else:
                DEFAULT_PROVIDERS["ssm"] = saved_ssm
            os.environ.clear()
            os.environ.update(saved_env)
            actions_schedule._adapters = None

    # --- what contacts do ---------------------------------------------------------------------
    def enter(self, program: Any, contact: Any) -> bool:
        """As `nurture simulate` enters a contact on the local cloud: stored, then enrolled
        by the react function's Reactor with a `simulate` cause."""
        from localcloud.enrolment import store_with_cause
        from nurture import clock

        cause = store_with_cause(
            self.contacts, contact, program.id, "simulate", clock.iso(self._now)
        )
        entered = self.reactor.enrol(program.id, contact, cause)
        self.run_until(self._now)
        return bool(entered)

    def open_email(self, email: SentEmail) -> None:
        self.ses_event(email, "Open", {"userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"})
        self.run_until(self._now)

    def click_email(self, email: SentEmail, link: str | None = None) -> None:
        links = email.links()
        target = link or (links[0] if links else "https://example.com/")
        detail = {"link": target, "linkTags": {}, "userAgent": "Mozilla/5.0"}
        self.ses_event(email, "Click", {**detail, "ipAddress": "192.0.2.1"})
        self.run_until(self._now)

    def track(self, body: dict[str, Any]) -> None:
        """POST /v1/track with the local write key: the ingest function's validation and
        store (the stream then reaches the react function)."""
        from nurture.tracking.calls import Receipt
        from nurture.tracking.ingest import ingest_events

        receipt = Receipt(received_at=self._now, stamp={"trust": "public"})
        results = ingest_events([body], self.activities, default_type="track", receipt=receipt)
        for result in results:
            if result.status == "rejected":
                self.errors.append(f"track rejected: {result.errors}")
        self.run_until(self._now)


def _content(root: Path) -> dict[str, str]:
    """forms/, templates/, sales/ as the local cloud syncs them to the content bucket."""
    texts: dict[str, str] = {}
    for folder in ("forms", "templates", "sales"):
        base = root / folder
        for path in sorted(base.rglob("*.yaml")) if base.exists() else []:
            texts[path.relative_to(root).as_posix()] = path.read_text()
    return texts


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
