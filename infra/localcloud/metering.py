"""What one contact's run through a program costs, measured on the local cloud: Step
Functions state transitions from the executions' own histories, Lambda invocations (and AWS
calls made in them), DynamoDB read and write request units from every call's items, and
the one-time schedules that fired. `nurture cost` prices these; the bench runs it.

DynamoDB request units follow AWS's on-demand rules from the items each call writes or
returns: a write is 1 unit per KB of the item (PutItem, UpdateItem and DeleteItem: the item
as stored after, or before a delete), twice that in a transaction; a read is 1 unit per 4 KB
read (Query: the items returned, summed), half that when eventually consistent, twice that
in a transaction. A Query's filter is not subtracted (AWS charges what it reads, we count
what it returned), so a filtered Query is counted low.

Only calls made by the functions count (what the local cloud does to run them, e.g. poll a
stream or read an execution's history for its timeline, is AWS's own work). Per contact:
functions run by a Schedule event (the daily sweep, digests, reports) are a cost
of the deployment, not of a contact, and what they do is left out, as are the program's
deploy and the contact's creation (metering starts at the entry).

Contacts at once: `run_program(..., contacts=N)` enters N contacts at the same moment and
gives every count per contact (the totals divided by N). Stream consumers then see the N
contacts' records in shared batches, as Lambda's event source mappings batch them in AWS
(up to the mapping's BatchSize, records arriving within its batching window): the lake's
objects (one S3 PUT per stream batch and day) and the stream functions' invocations are
shared by contacts that move in the same minute. One contact (N=1) is the upper bound: every
small batch its own PUT and invocation. What N assumes: N contacts entering in the same
minute (a list's campaign, a busy form), so their waits end and their emails go together.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from localcloud.cloud import DEFAULT_START, ROOT, LocalCloud
from localcloud.constants import ACCOUNT, REGION
from localcloud.partiql_bridge import parsed_insert

KB = 1024
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def attribute_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (wire JSON), as its item size limit counts."""
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        digits = len(str(inner).lstrip("-").replace(".", "").lstrip("0")) or 1
        return 1 + math.ceil(digits / 2)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(str(v).encode()) for v in inner)
    if kind == "NS":
        return sum(attribute_size({"N": v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_size(v) for k, v in inner.items())
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


@dataclass
class Meter:
    on: bool = False
    calls: Counter[str] = field(default_factory=Counter)  # "service.Operation"
    invocations: Counter[str] = field(default_factory=Counter)  # function logical id
    api_calls_in: Counter[str] = field(default_factory=Counter)  # per function
    read_units: float = 0.0
    write_units: float = 0.0
    strong_reads: int = 0
    schedules_fired: int = 0
    records: Counter[str] = field(default_factory=Counter)  # stream records, per function
    # Per thread (the interpreter runs executions in threads, each invoking functions):
    # the functions running in this thread, innermost last, and how many of them run from a
    # schedule (not this contact's cost).
    _threads: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def _current(self) -> list[str]:
        stack: list[str] | None = getattr(self._threads, "stack", None)
        if stack is None:
            stack = self._threads.stack = []
        return stack

    @property
    def _skipping(self) -> int:
        return int(getattr(self._threads, "skipping", 0))

    @_skipping.setter
    def _skipping(self, value: int) -> None:
        self._threads.skipping = value

    # --- botocore hooks ---------------------------------------------------------------
    def params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["nurture_meter_params"] = dict(params)

    def after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.on or self._skipping or not self._current:
            return  # the local cloud's own calls (stream polling, the timeline) are not AWS's
        service = model.service_model.endpoint_prefix
        with self._lock:
            self.calls[f"{service}.{model.name}"] += 1
            self.api_calls_in[self._current[-1]] += 1
            if service == "dynamodb":
                self._dynamodb(model.name, context.get("nurture_meter_params") or {}, parsed)

    def _dynamodb(self, op: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if op == "PutItem":
            self.write_units += write_units(item_size(params["Item"]))
        elif op in ("UpdateItem", "DeleteItem"):
            stored = _stored_item(params["TableName"], params["Key"])
            self.write_units += write_units(item_size(stored or params["Key"]))
        elif op == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    item = (request.get("PutRequest") or {}).get("Item") or request.get(
                        "DeleteRequest", {}
                    ).get("Key", {})
                    self.write_units += write_units(item_size(item))
        elif op == "BatchExecuteStatement":  # INSERTs: a conditional put each, duplicates too
            for statement in params.get("Statements", []):
                insert = parsed_insert(statement["Statement"], statement.get("Parameters") or [])
                if insert is not None:
                    self.write_units += write_units(item_size(insert[1]))
        elif op == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                (kind, body), *_ = entry.items()
                item = body.get("Item") or _stored_item(body["TableName"], body.get("Key", {}))
                self.write_units += 2 * write_units(item_size(item or body.get("Key", {})))
        elif op == "GetItem":
            consistent = bool(params.get("ConsistentRead"))
            self.strong_reads += consistent
            self.read_units += read_units(item_size(parsed.get("Item") or {}), consistent)
        elif op in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead"))
            self.strong_reads += consistent
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self.read_units += read_units(size, consistent)
        elif op == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
                self.strong_reads += consistent * len(items)
                for item in items:
                    self.read_units += read_units(item_size(item), consistent)
        elif op == "TransactGetItems":
            for response in parsed.get("Responses", []):
                self.read_units += 2 * read_units(item_size(response.get("Item") or {}), True)


def _stored_item(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item as moto stores it now (after an update), in wire JSON."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        found = dynamodb_backends[ACCOUNT][REGION].get_table(table).get_item(_plain_key(key))
    except Exception:  # noqa: BLE001 - a key the table does not have: count the key
        return None
    return found.to_json()["Attributes"] if found is not None else None


def _plain_key(key: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return {name: DynamoType(value) for name, value in key.items()}


class MeteredCloud(LocalCloud):
    """The local cloud with a meter on every AWS call and function invocation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = Meter()

    def _hook_aws_calls(self) -> None:
        super()._hook_aws_calls()
        events = self._session.events
        events.register("provide-client-params", self.meter.params)
        events.register("after-call", self.meter.after)

    def invoke(self, function: str, event: Any) -> Any:
        fn = self.function_by_name(function)
        scheduled = isinstance(event, dict) and event.get("detail-type") == "Scheduled Event"
        meter = self.meter
        if meter.on and not meter._skipping and not scheduled:
            with meter._lock:
                meter.invocations[fn.logical_id] += 1
                if isinstance(event, dict) and isinstance(event.get("Records"), list):
                    meter.records[fn.logical_id] += len(event["Records"])
        meter._current.append(fn.logical_id)
        meter._skipping += scheduled
        try:
            return super().invoke(function, event)
        finally:
            meter._skipping -= scheduled
            meter._current.pop()


@dataclass
class Run:
    """One program's run, every count per contact (the totals over `contacts` divided)."""

    program_id: str
    steps: float  # the program's own step states entered
    transitions: float  # every state entered and every Task retry, over the run's executions
    executions: float
    states: list[str]  # the first contact's, in order
    invocations: dict[str, float]
    api_calls: dict[str, float]
    api_calls_in: dict[str, float]
    read_units: float
    write_units: float
    strong_reads: float
    emails: float
    sms: float
    schedules: float
    errors: list[str]
    contacts: int = 1  # entered at the same moment
    lake_records: float = 0.0  # stream records the lake stored (its PUTs carry them)


def run_program(
    path: Path, root: Path = ROOT, start: datetime = DEFAULT_START, contacts: int = 1
) -> Run:
    """Enter `contacts` contacts at once into the program at `path` and let them run its main
    path (they do nothing: waits time out, branches take their default) to the end."""
    import yaml

    from nurture.programs.model import Program, WaitUntil, Webhook

    source = path.read_text()
    program = Program.model_validate(yaml.safe_load(source))
    # Webhooks go to a local receiver that answers 200 (the main path: the call works).
    receiver = _Receiver() if any(isinstance(s, Webhook) for s in program.steps) else None
    saved = os.environ.get("WEBHOOK_ALLOW_HOSTS")
    if receiver is not None:
        os.environ["WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
        for step in program.steps:
            if isinstance(step, Webhook):
                source = source.replace(step.url, receiver.url)
    cloud = MeteredCloud(root=root, start=start, frequent_schedules=False)
    cloud.start()
    try:
        cloud.sync_content(only=[])
        cloud.upload(f"programs/{program.id}.yaml", source)
        status = json.loads(cloud.read(f"programs/{program.id}.status.json") or "{}")
        if status.get("status") != "live":
            raise ValueError(f"{path}: not deployed ({status.get('problems') or status})")
        fields = {
            step.field: (start + timedelta(days=45)).date().isoformat()
            for step in program.steps
            if isinstance(step, WaitUntil) and step.field
        }
        people = [_contact(cloud, program, fields, n) for n in range(contacts)]
        cloud.meter.on = True
        for person in people:
            _enter(cloud, program, person)
        cloud.run_until_idle()
        _run_to_the_end(cloud)
        cloud.meter.on = False
        return _measure(cloud, program, people)
    finally:
        cloud.__exit__()
        if receiver is not None:
            receiver.close()
            if saved is None:
                os.environ.pop("WEBHOOK_ALLOW_HOSTS", None)
            else:
                os.environ["WEBHOOK_ALLOW_HOSTS"] = saved


class _Receiver:
    """A webhook endpoint on 127.0.0.1 that accepts every call."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_PUT = do_PATCH = do_DELETE = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _contact(cloud: LocalCloud, program: Any, fields: dict[str, str], n: int = 0) -> Any:
    from localcloud.commands.simulate import _make_contact, assumed_consent

    data: dict[str, Any] = {
        "email": f"cost{n or ''}@example.com",
        "first_name": "Ada",
        "fields": {k: v for k, v in fields.items() if "." not in k},
        "consent": assumed_consent(program),
        "birthday": cloud.clock.now().date().isoformat(),
    }
    return _make_contact(data, _iso(cloud.clock.now()))


def _enter(cloud: MeteredCloud, program: Any, contact: Any) -> None:
    from localcloud.enrolment import store_with_cause
    from nurture.adapters.dynamodb import DynamoContacts

    # The contact exists before the run: made outside any function, it is not counted (the
    # meter counts what functions call; other contacts' runs go on in other threads).
    contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
    cause = store_with_cause(contacts, contact, program.id, "cost", _iso(cloud.clock.now()))
    react = cloud.function_by_name("ReactFunction")
    # the first lifecycle stage the program's entry conditions let in
    for stage in (contact.stage, "lead", "customer"):
        contact.stage = stage
        contacts.save(contact)
        cloud.meter._current.append(react.logical_id)  # the react function enrols, as in AWS
        try:
            with cloud._lock, cloud._function_env(react.env):
                entered = react.module.reactor.enrol(program.id, contact, cause)
        finally:
            cloud.meter._current.pop()
        if entered:  # the pump runs after every contact entered (they enter together)
            with cloud.meter._lock:
                cloud.meter.invocations[react.logical_id] += 1
            return
    raise ValueError(f"the contact did not enter {program.id} (entry rules)")


def _running(cloud: LocalCloud) -> bool:
    from moto.scheduler.models import scheduler_backends

    sfn = cloud.client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        if "-program-" not in machine["name"]:
            continue
        arn = machine["stateMachineArn"]
        if sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            return True
    backend = scheduler_backends[ACCOUNT][REGION]
    return any(group.schedules for group in backend.schedule_groups.values())


def _run_to_the_end(cloud: LocalCloud, limit_days: int = 5 * 366) -> None:
    waited = 0
    while _running(cloud) and waited < limit_days:
        step = 1 if waited < 30 else 30
        cloud.advance(timedelta(days=step))
        waited += step


def _measure(cloud: MeteredCloud, program: Any, people: list[Any]) -> Run:
    sfn = cloud.client("stepfunctions")
    own = {s.id for s in program.steps}
    ids = {person.contact_id for person in people}
    first = people[0].contact_id
    entered: list[str] = []  # every contact's
    states: list[str] = []  # the first contact's
    retries = 0  # a Task retried: AWS bills each attempt as a transition
    executions = 0
    for machine in sfn.list_state_machines()["stateMachines"]:
        if "-program-" not in machine["name"]:
            continue
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])[
            "executions"
        ]:
            whose = next((i for i in ids if execution["name"].endswith(i)), None)
            if whose is None:
                continue
            executions += 1
            history = sfn.get_execution_history(
                executionArn=execution["executionArn"], maxResults=1000
            )["events"]
            names = [
                e["stateEnteredEventDetails"]["name"]
                for e in history
                if "stateEnteredEventDetails" in e
            ]
            entered += names
            if whose == first:
                states += names
            tasks = sum(1 for e in history if e["type"] == "TaskStateEntered")
            retries += max(0, sum(1 for e in history if e["type"] == "TaskScheduled") - tasks)
    meter = cloud.meter
    n = len(people)

    def each(counts: Counter[str]) -> dict[str, float]:
        return {name: count / n for name, count in counts.items()}

    return Run(
        program_id=program.id,
        steps=sum(1 for name in entered if name in own) / n,
        transitions=(len(entered) + retries) / n,
        executions=executions / n,
        states=states,
        invocations=each(meter.invocations),
        api_calls=each(meter.calls),
        api_calls_in=each(meter.api_calls_in),
        read_units=meter.read_units / n,
        write_units=meter.write_units / n,
        strong_reads=meter.strong_reads / n,
        emails=len([e for e in cloud.outbox if e.tags.get("contact_id") in ids]) / n,
        sms=len(cloud.sms_outbox) / n,
        schedules=meter.calls.get("scheduler.CreateSchedule", 0) / n,
        errors=list(cloud.errors),
        contacts=n,
        lake_records=meter.records.get("LakeFunction", 0) / n,
    )


def _iso(moment: datetime) -> str:
    from nurture import clock

    return clock.iso(moment)
