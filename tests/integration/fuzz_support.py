"""What the property-based API tests share: the local API served over HTTP, and a watch on
what the local cloud stored (every write that reached moto's DynamoDB and S3, the tables'
item counts and the bucket's object count, the captured emails and texts), so a test can
say "this refused request stored nothing"."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.s3.models import S3Backend, s3_backends

from localcloud import LocalCloud
from localcloud.constants import ACCOUNT, REGION
from localcloud.server import LocalApi

PUBLIC_KEY, SECRET_KEY = "local-write-key", "local-secret-key"
PARTITION = "aws"  # moto keeps S3 buckets per partition
TABLES = ("ActivitiesTable", "ContactsTable", "StateTable")
_WRITES = {
    DynamoDBBackend: ("put_item", "update_item", "delete_item", "transact_write_items"),
    S3Backend: ("put_object", "copy_object", "delete_object", "delete_objects"),
}


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@dataclass
class StoreWatch:
    """What the local cloud stored. `writes` lists every write moto completed (a conditional
    write that failed is not one); `state()` is the item and object counts and the outboxes."""

    cloud: LocalCloud
    writes: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> StoreWatch:
        for backend, names in _WRITES.items():
            for name in names:
                monkeypatch.setattr(backend, name, self._counting(name, getattr(backend, name)))
        return self

    def _counting(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def write(backend: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(backend, *args, **kwargs)
            self.writes.append(name)  # only once moto has done it
            return result

        return write

    def state(self) -> tuple[int, ...]:
        """Item counts of the tables, object count of the buckets (read from moto's backends,
        what DescribeTable's ItemCount and ListObjects report, without a round trip each)."""
        tables = dynamodb_backends[ACCOUNT][REGION].tables
        counts = [len(tables[str(self.cloud.resolver.refs[t])]) for t in TABLES]
        buckets = s3_backends[ACCOUNT][PARTITION].buckets.values()
        objects = sum(len(list(b.keys.keys())) for b in buckets)
        return (*counts, objects, len(self.cloud.outbox), len(self.cloud.sms_outbox))

    @contextmanager
    def request(self) -> Iterator[Callable[[], tuple[list[str], bool]]]:
        """Around one request: yields a function telling the writes made since, and whether
        the counts changed."""
        before_writes, before = len(self.writes), self.state()
        yield lambda: (self.writes[before_writes:], self.state() != before)


@dataclass
class Findings:
    """What a campaign saw: statuses by operation, and what broke a property."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def check(
        self, label: str, status: int, body: str, writes: list[str], changed: bool, sent: Any
    ) -> None:
        self.statuses[(label, status)] += 1
        if status >= 500:
            self.problems.append(f"{label} -> {status} {body[:200]!r} for {_short(sent)}")
        elif status >= 400 and (writes or changed):
            self.problems.append(
                f"{label} -> {status} but stored {writes or 'something'} for {_short(sent)}"
            )

    def summary(self) -> str:
        by_status = Counter[int]()
        for (_, status), n in self.statuses.items():
            by_status[status] += n
        return f"{self.requests} requests, statuses {dict(sorted(by_status.items()))}"


def _short(sent: Any) -> str:
    text = sent if isinstance(sent, str) else json.dumps(sent, default=repr, ensure_ascii=True)
    return text[:300]


@contextmanager
def served(cloud: LocalCloud) -> Iterator[LocalApi]:
    """The local cloud's API on a loopback port, as `make demo` serves it."""
    api = LocalApi(cloud, port=0, log=lambda _: None).start()
    try:
        yield api
    finally:
        api.stop()
