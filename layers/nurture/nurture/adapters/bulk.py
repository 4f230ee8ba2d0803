"""DynamoDB's bulk calls and their retries: BatchWriteItem (25 puts a call) and BatchGetItem
(100 keys a call).

What DynamoDB hands back unprocessed (UnprocessedItems / UnprocessedKeys: a throttled
partition, a busy table) is sent again with exponential backoff and full jitter, as AWS
advises, within a budget of waiting that keeps a request well inside the function's timeout;
past it, `Unprocessed` is raised (the caller answers 5xx and the sender retries).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

WRITE_CHUNK = 25  # BatchWriteItem's limit
READ_CHUNK = 100  # BatchGetItem's limit
BASE_DELAY = 0.05  # seconds, doubled on each retry of the same call
MAX_DELAY = 1.0
WAIT_BUDGET = 4.0  # seconds of backing off per request, in all (the ingest timeout is 10 s)


class Unprocessed(RuntimeError):
    """DynamoDB still had writes or reads unprocessed when the waiting budget ran out."""


class Backoff:
    """Exponential backoff with full jitter, and a budget of waiting per request."""

    def __init__(
        self,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] = random.random,
        budget: float = WAIT_BUDGET,
    ):
        self._sleep, self._jitter, self.budget = sleep or time.sleep, jitter, budget
        self.waited = 0.0

    def wait(self, attempt: int) -> None:
        delay = min(MAX_DELAY, BASE_DELAY * 2**attempt) * self._jitter()
        if self.waited + delay > self.budget:
            raise Unprocessed(f"DynamoDB still throttled after {self.waited:.1f} s of retries")
        self.waited += delay
        self._sleep(delay)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def put_all(client: Any, puts: list[tuple[str, dict[str, Any]]], backoff: Backoff) -> None:
    """Put every (table, item), 25 a call, resending what comes back unprocessed."""
    for chunk in _chunks(puts, WRITE_CHUNK):
        request: dict[str, list[dict[str, Any]]] = {}
        for table, item in chunk:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        attempt = 0
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if request:
                backoff.wait(attempt)
                attempt += 1


def get_all(
    client: Any,
    table: str,
    keys: list[dict[str, Any]],
    backoff: Backoff,
    consistent: bool = True,
    projection: str | None = None,
) -> list[dict[str, Any]]:
    """The items found for `keys` (in no particular order), 100 keys a call; only the
    attributes `projection` names, if given (the read units are those of the whole items)."""
    found: list[dict[str, Any]] = []
    extra = {"ProjectionExpression": projection} if projection else {}
    for chunk in _chunks(keys, READ_CHUNK):
        request: dict[str, Any] = {table: {"Keys": chunk, "ConsistentRead": consistent, **extra}}
        attempt = 0
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if request:
                backoff.wait(attempt)
                attempt += 1
    return found
