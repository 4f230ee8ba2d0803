"""Real server-side analytics SDKs, installed from PyPI and left at their default settings,
send every Segment call type to the local HTTP API (infra/localcloud/server.py on
127.0.0.1): what they send is stored, and how they read the answers never makes them lose
or re-send an event.

segment-analytics-python sends plain JSON by default; rudder-sdk-python gzips by default.
Both post on a background thread: the tests flush the SDK's queue (`queue.join()` inside
`flush()`), which returns once every request has been answered. The Node.js SDKs from npm
(@segment/analytics-node, plain; @rudderstack/rudder-sdk-node, gzip) are driven by
tests/sdk-node/send.js, which flushes before it exits.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from localcloud import LocalCloud
from localcloud.server import LocalApi

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

SECRET_KEY = "local-secret-key"
NODE_SDKS = (
    Path(__file__).resolve().parents[1] / "sdk-node"
)  # `make test` installs them  # a server's key (the local cloud's `write-keys` secret)


@dataclass
class Wire:
    """Every request the SDK made, with the status it got."""

    requests: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # of every event sent, resends too

    def posts(self) -> list[tuple[str, int]]:
        return [(path, status) for method, path, status, _ in self.requests if method == "POST"]


@pytest.fixture
def api(cloud: LocalCloud) -> Iterator[tuple[LocalApi, Wire]]:
    cloud.sync_content(only=[])
    server = LocalApi(cloud, port=0, log=lambda _: None).start()
    wire = Wire()
    handle = server.handle

    def counting(
        method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        status, out, data = handle(method, path, headers, body)
        lower = {k.lower(): v for k, v in headers.items()}
        wire.requests.append((method, path, status, lower))
        raw = gzip.decompress(body) if lower.get("content-encoding") == "gzip" else body
        wire.message_ids += [e.get("messageId") for e in json.loads(raw or b"{}").get("batch", [])]
        return status, out, data

    server.handle = counting  # type: ignore[method-assign]
    try:
        yield server, wire
    finally:
        server.stop()


@dataclass
class Sdk:
    name: str
    make: Callable[[str, Callable[..., None]], Any]
    gzip: bool  # what its default does


SDKS = [
    Sdk(
        "segment",
        lambda url, on_error: SegmentClient(SECRET_KEY, host=url, on_error=on_error),
        False,
    ),
    Sdk(
        "segment-gzip",
        lambda url, on_error: SegmentClient(SECRET_KEY, host=url, on_error=on_error, gzip=True),
        True,
    ),
    Sdk(
        "rudderstack",
        lambda url, on_error: RudderClient(SECRET_KEY, host=url, on_error=on_error),
        True,
    ),
]


@pytest.fixture(params=SDKS, ids=lambda s: s.name)
def sdk(request: pytest.FixtureRequest) -> Sdk:
    sdk: Sdk = request.param
    return sdk


def _send_everything(client: Any) -> None:
    # an anonymous visitor browses, then signs in as user u-1 (alias joins the two)
    client.page(
        anonymous_id="v-1",
        category="Docs",
        name="Pricing",
        properties={"url": "https://example.com/pricing", "path": "/pricing"},
    )
    client.identify("u-1", {"email": "Ada@Example.com", "firstName": "Ada", "plan": "pro"})
    client.alias("v-1", "u-1")
    client.group(
        "u-1",
        "acme",
        {
            "name": "Acme Inc",
            "industry": "Manufacturing",
            "employees": 250,
            "website": "https://www.acme.example",
        },
    )
    client.track("u-1", "Order Completed", {"order_id": "o-1", "revenue": 99.5})
    client.screen("u-1", name="Home", properties={"variant": "b"})


def test_every_call_type_from_a_real_sdk_is_stored(
    sdk: Sdk, api: tuple[LocalApi, Wire], tables: Tables, cloud: LocalCloud
) -> None:
    server, wire = api
    errors: list[Any] = []
    client = sdk.make(server.url, lambda exc, batch: errors.append((exc, batch)))

    # When the SDK sends all six call types with its default settings
    _send_everything(client)
    client.flush()  # waits on the SDK's queue until every request is answered

    # Then it is all stored
    assert errors == []
    _assert_everything_stored(wire, tables, cloud, sdk.gzip)


def _assert_everything_stored(wire: Wire, tables: Tables, cloud: LocalCloud, gzipped: bool) -> None:
    # every request succeeded, gzip-encoded when that is the SDK's default
    assert wire.posts() and all(s == 200 for _, s in wire.posts()), wire.posts()
    assert all(p == "/v1/batch" for p, _ in wire.posts())
    encodings = {h.get("content-encoding") for *_, h in wire.requests}
    assert encodings == ({"gzip"} if gzipped else {None})

    # ... and each call is stored as what it is
    stored = {a.kind: a for a in tables.visitor_activities() + _others(tables)}
    assert set(stored) >= {"page", "identify", "alias", "group", "track", "screen"}
    assert stored["track"].name == "Order Completed"
    assert stored["track"].properties == {"order_id": "o-1", "revenue": 99.5}
    assert stored["page"].name == "Pricing" and stored["page"].page["path"] == "/pricing"
    assert stored["screen"].name == "Home"
    # (the SDK's clock and the virtual one differ by months: skew correction puts each event
    # at the virtual "now", less the moment it waited in the SDK's queue)
    now = cloud.clock.now()
    for activity in stored.values():
        waited = now - datetime.fromisoformat(activity.occurred_at.replace("Z", "+00:00"))
        assert timedelta(0) <= waited < timedelta(seconds=30), activity.occurred_at

    # ... identify made the contact, alias joined the anonymous visit, group the account
    contact = tables.contact_by_email("ada@example.com")
    assert contact.first_name == "Ada" and contact.fields["plan"] == "pro"
    assert {"user:u-1", "anon:v-1"} <= set(contact.actors)
    assert tables.contact_for_actor("anon:v-1") == contact.contact_id
    assert contact.account_id == "acme"
    [account] = tables.accounts()
    assert (account.name, account.industry, account.employees, account.domain) == (
        "Acme Inc",
        "Manufacturing",
        250,
        "acme.example",
    )
    history = {a.kind for a in tables.activities_of(contact)}
    assert {"page", "identify", "track", "screen", "group", "alias"} <= history
    assert cloud.errors == []


def _others(tables: Tables) -> list[Any]:
    return [a for a in tables.activities() if a.kind in ("screen", "group", "alias")]


def test_a_batch_with_one_bad_event_stores_the_rest_and_is_not_sent_again(
    sdk: Sdk, api: tuple[LocalApi, Wire], tables: Tables
) -> None:
    server, wire = api
    errors: list[Any] = []
    client = sdk.make(server.url, lambda exc, batch: errors.append((exc, batch)))

    # When one event of a batch is invalid (a name reserved for Nurture's own records)
    client.track("u-2", "Product Viewed", {"sku": "a"})
    client.track("u-2", "email.clicked", {"forged": True})
    client.track("u-2", "Product Added", {"sku": "a"})
    client.flush()

    # Then the SDK made one request and was content with the answer (no retry, no error)
    assert wire.posts() == [("/v1/batch", 200)]
    assert len(wire.message_ids) == 3
    assert errors == []
    # ... the good events are stored, the bad one is not, and the operator can see why
    assert sorted(a.name for a in tables.visitor_activities()) == [
        "Product Added",
        "Product Viewed",
    ]
    [rejection] = server.cloud.rejections
    assert rejection["errors"][0]["field"] == "event"
    assert "reserved" in rejection["errors"][0]["reason"]


def test_a_batch_nothing_of_which_can_be_stored_is_dropped_not_retried(
    sdk: Sdk, api: tuple[LocalApi, Wire], tables: Tables
) -> None:
    server, wire = api
    errors: list[Any] = []
    client = sdk.make(server.url, lambda exc, batch: errors.append((exc, batch)))
    logging.getLogger("segment").setLevel(logging.CRITICAL)
    logging.getLogger("rudderstack").setLevel(logging.CRITICAL)

    # When every event of the batch is invalid
    client.track("u-3", "contact.stage_changed", {})
    client.flush()

    # Then the answer is a 400 the SDK gives up on at once (one request), reporting it
    assert wire.posts() == [("/v1/batch", 400)]
    assert len(errors) == 1
    assert tables.visitor_activities() == []


# --- the Node.js SDKs (npm), driven by tests/sdk-node/send.js ----------------------------------

NODE = [("segment", False), ("rudderstack", True)]  # @segment/analytics-node, rudder-sdk-node


def _node(sdk: str, url: str, scenario: str) -> list[str]:
    assert shutil.which("node"), "Node.js is needed (make test installs the SDKs with npm)"
    assert (NODE_SDKS / "node_modules").is_dir(), "run `make test` (npm ci in tests/sdk-node)"
    done = subprocess.run(
        ["node", "send.js", sdk, url, SECRET_KEY, scenario],
        cwd=NODE_SDKS,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    errors: list[str] = json.loads(done.stdout.strip().splitlines()[-1])["errors"]
    return errors


@pytest.mark.parametrize(("node_sdk", "gzipped"), NODE, ids=[n for n, _ in NODE])
def test_every_call_type_from_a_node_sdk_is_stored(
    node_sdk: str, gzipped: bool, api: tuple[LocalApi, Wire], tables: Tables, cloud: LocalCloud
) -> None:
    server, wire = api
    # the SDK flushes before the script ends, and the local server answers each request
    # only once it has been stored and reacted to
    assert _node(node_sdk, server.url, "everything") == []
    _assert_everything_stored(wire, tables, cloud, gzipped)


@pytest.mark.parametrize(("node_sdk", "gzipped"), NODE, ids=[n for n, _ in NODE])
def test_a_node_sdk_sends_a_batch_with_one_bad_event_once(
    node_sdk: str, gzipped: bool, api: tuple[LocalApi, Wire], tables: Tables
) -> None:
    server, wire = api
    assert _node(node_sdk, server.url, "one-bad") == []
    # (rudder-sdk-node sends its first event at once, the rest when flushed)
    assert {status for _, status in wire.posts()} == {200}
    assert len(wire.message_ids) == len(set(wire.message_ids)) == 3  # none sent twice
    assert sorted(a.name for a in tables.visitor_activities()) == [
        "Product Added",
        "Product Viewed",
    ]
