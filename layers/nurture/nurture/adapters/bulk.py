"""DynamoDB's bulk calls and their retries: BatchWriteItem (25 puts a call), BatchGetItem
(100 keys a call) and PartiQL INSERTs in BatchExecuteStatement (25 a call).

What DynamoDB hands back unprocessed (UnprocessedItems / UnprocessedKeys, or a statement's
throttling error: a throttled partition, a busy table) is sent again with exponential
backoff and full jitter, as AWS advises, within a budget of waiting that keeps a request
well inside the function's timeout; past it, `Unprocessed` is raised (the caller answers 5xx
and the sender retries).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

WRITE_CHUNK = 25  # BatchWriteItem's limit
READ_CHUNK = 100  # BatchGetItem's limit
STATEMENT_CHUNK = 25  # BatchExecuteStatement's limit
# An INSERT's answer when its key is already stored: DynamoDB documents DuplicateItem; the
# failed key condition is the same outcome under its general name.
DUPLICATE = frozenset({"DuplicateItem", "ConditionalCheckFailed"})
# A statement's errors (BatchStatementError.Code) that are worth sending again.
RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceeded",
        "ThrottlingError",
        "RequestLimitExceeded",
        "InternalServerError",
        "TransactionConflict",
    }
)
BASE_DELAY = 0.05  # seconds, doubled on each retry of the same call
MAX_DELAY = 1.0
WAIT_BUDGET = 4.0  # seconds of backing off per request, in all (the ingest timeout is 10 s)


class Unprocessed(RuntimeError):
    """DynamoDB still had writes or reads unprocessed when the waiting budget ran out."""


class StatementFailed(RuntimeError):
    """A statement DynamoDB refused for good (not a duplicate, not worth sending again)."""


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


def insert_new(
    client: Any, table: str, items: list[dict[str, Any]], backoff: Backoff
) -> list[bool]:
    """Insert each item unless its key is already stored: PartiQL INSERTs, 25 a call. An
    INSERT fails on an existing key (DuplicateItem) as a PutItem on condition
    `attribute_not_exists` would, but in bulk: no read first, and two copies sent at the same
    moment are still one item. True for each item inserted, False for a duplicate. The items
    of one call must have distinct keys."""
    inserted = [False] * len(items)
    for start in range(0, len(items), STATEMENT_CHUNK):
        pending = list(range(start, min(start + STATEMENT_CHUNK, len(items))))
        attempt = 0
        while pending:
            statements = [_insert(table, items[i]) for i in pending]
            answers = client.batch_execute_statement(Statements=statements)["Responses"]
            again = []
            for index, answer in zip(pending, answers, strict=True):
                code = (answer.get("Error") or {}).get("Code")
                if code is None:
                    inserted[index] = True
                elif code in RETRYABLE:
                    # An internal error may have written it: the retry then answers
                    # duplicate, and the item is still stored once.
                    again.append(index)
                elif code not in DUPLICATE:
                    message = answer["Error"].get("Message", "")
                    raise StatementFailed(f"INSERT into {table}: {code} {message}")
            pending = again
            if pending:
                backoff.wait(attempt)
                attempt += 1
    return inserted


def _insert(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"Statement": _statement(table, tuple(item)), "Parameters": list(item.values())}


@functools.lru_cache(maxsize=64)
def _statement(table: str, names: tuple[str, ...]) -> str:
    # Values go as parameters, never into the statement's text. Table names are
    # [a-zA-Z0-9_.-]; attribute names here are the adapter's own.
    fields = ", ".join(f"'{name}': ?" for name in names)
    return f'INSERT INTO "{table}" VALUE {{{fields}}}'
