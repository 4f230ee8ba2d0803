"""Function invocations at the same moment, as AWS runs them: several instances of one
function in threads, each with its own invocation context (faults.py), optionally meeting at
a barrier just before a given AWS call so their check-then-write steps interleave.

The local cloud otherwise runs one function at a time (`cloud.invoke` holds its lock).
moto's backends are not all thread-safe (a DynamoDB transaction swaps table copies), so
each AWS request is answered by moto one at a time (`Faults.moto_lock`): the threads
interleave between requests, which is where a race between two writers lives. Product code
gets no locks from here.

- `invoke_concurrently(cloud, function, events, meet_at=("dynamodb", "TransactWriteItems"))`
- `http_event(cloud, method, path, body, write_key)`: the API Gateway event `cloud.http`
  would send, to invoke an API function concurrently with it.
- `deliver_stream_concurrently(cloud, function)`: the function's pending stream records,
  each in its own concurrent invocation (as records of one contact on two shards, or a
  ParallelizationFactor above 1, reach two instances at once)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud import faults as _faults
from localcloud.streams import _json_safe

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

JOIN_TIMEOUT_SECONDS = 120.0  # real seconds: a safety net against a wedged invocation


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None


def invoke_concurrently(
    cloud: LocalCloud,
    function: str,
    events: list[Any],
    meet_at: tuple[str, str] | None = None,
) -> list[Outcome]:
    """Run `function` once per event, all at the same moment (threads released together).
    With `meet_at` = (service, operation), each invocation waits at its first such call
    until all have reached theirs. A failed invocation is recorded in `cloud.errors`."""
    from localcloud.cloud import _Context

    fn = cloud.function_by_name(function)
    outcomes = [Outcome() for _ in events]
    handlers: list[Callable[[Any, Any], Any]] = [fn.handler]
    start = threading.Barrier(len(events))
    meeting = threading.Barrier(len(events)) if meet_at else None

    def run(index: int, event: Any) -> None:
        _faults._tls.meeting = (meet_at, meeting) if meeting else None
        try:
            start.wait(timeout=JOIN_TIMEOUT_SECONDS)
            with cloud.faults.invocation(fn):
                context = _Context(function_name=fn.name, invoked_function_arn=fn.arn)
                outcomes[index].result = handlers[index](event, context)
        except Exception as exc:  # noqa: BLE001 - Lambda reports it; so do we
            outcomes[index].error = exc
            cloud.errors.append(f"{fn.logical_id}: {type(exc).__name__}: {exc}")
        finally:
            _faults._tls.meeting = None

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over often: more interleavings
    try:
        # One function: one environment for all its threads. Other invocations (a state
        # machine's Lambda tasks) wait for the batch, as they swap the process environment.
        with cloud._lock, cloud._function_env(fn.env):
            handlers += [_another_instance(fn, i) for i in range(1, len(events))]
            threads = [
                threading.Thread(target=run, args=(i, e), name=f"{fn.logical_id}-{i}")
                for i, e in enumerate(events)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(JOIN_TIMEOUT_SECONDS)
    finally:
        sys.setswitchinterval(switch)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        raise RuntimeError(f"invocations still running after {JOIN_TIMEOUT_SECONDS}s: {stuck}")
    return outcomes


def _another_instance(fn: Any, number: int) -> Callable[[Any, Any], Any]:
    """The handler of another execution environment of `fn` (its module imported afresh):
    Lambda runs concurrent invocations in separate instances, never two in one, and what a
    handler module holds (powertools' resolver builds a route's middleware on its first call,
    caches, clients) is not made to be shared by threads."""
    path = fn.module.__file__
    name = f"{fn.module.__name__}_instance{number}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    handler: Callable[[Any, Any], Any] = getattr(module, fn.handler.__name__)
    return handler


def http_event(
    cloud: LocalCloud,
    method: str,
    path: str,
    body: Any = None,
    write_key: str | None = "local-write-key",
) -> tuple[str, dict[str, Any]]:
    """The function and API Gateway event `cloud.http` would invoke (nothing runs)."""
    seen: list[tuple[str, Any]] = []

    def capture(function: str, event: Any) -> Any:
        seen.append((function, event))
        return {"statusCode": 200, "body": ""}

    cloud.invoke = capture  # type: ignore[method-assign]
    try:
        cloud.http(method, path, body, write_key=write_key)
    finally:
        del cloud.invoke
    [(function, event)] = seen
    return function, event


def deliver_stream_concurrently(
    cloud: LocalCloud, function: str, meet_at: tuple[str, str] | None = None
) -> list[Outcome]:
    """Deliver `function`'s pending stream records (from its mapping's checkpoints), one
    record per invocation, all at once. The checkpoints move past them, as Lambda's would."""
    records: list[dict[str, Any]] = []
    for mapping in cloud.stream_mappings():
        if mapping.function != function:
            continue
        for shard in cloud.stream_shards(mapping.stream_arn):
            raw = cloud.stream_records(
                mapping.stream_arn, shard, mapping.checkpoints.get(shard), 1000
            )
            if not raw:
                continue
            mapping.checkpoints[shard] = raw[-1]["dynamodb"]["SequenceNumber"]
            for record in raw:
                if mapping.matches(record):
                    record["eventSourceARN"] = mapping.stream_arn
                    mapping.delivered.add(record["dynamodb"]["SequenceNumber"])
                    records.append(record)
    if not records:
        return []
    return invoke_concurrently(
        cloud, function, [{"Records": _json_safe([r])} for r in records], meet_at
    )
