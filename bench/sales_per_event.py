"""What the sales desk adds to the react function per event, against react's own work.

`SalesDesk.observe` sees every activity of a known contact in the react function: for an
owned contact's meaningful activity it writes one digest marker (a conditional UpdateItem);
for anything else it reads nothing and writes nothing. Timed on the production path -
`nurture.react.Reactor`, `nurture.sales.desk.SalesDesk`, the DynamoDB adapters and a real
botocore client - with only the network stubbed (bench/scoring_per_event.py's in-memory
DynamoDB, plus UpdateItem). No scoring model is live, so the rows differ by the desk alone.

Rows (CPU microseconds per event, best and median of REPEATS interleaved runs, ratio to the
baseline, DynamoDB calls per event):

* baseline: react on an owned contact's page view, no sales desk;
* + desk, meaningful activity: the same page view (one marker write);
* an email open, no sales desk; + desk: the open is filtered out (nothing read or written):
  its ratio is to the open without the desk.

Run from the repository root: `.venv/bin/python bench/sales_per_event.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from nurture import clock
from nurture.sales.desk import SalesDesk
from nurture.tracking.events import Activity

ROOT = Path(__file__).resolve().parent.parent


def _scoring_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "scoring_bench", ROOT / "bench" / "scoring_per_event.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scoring_bench"] = module
    spec.loader.exec_module(module)
    return module


base = _scoring_bench()


class Dynamo(base.Dynamo):  # type: ignore[misc,name-defined]
    """The scoring bench's DynamoDB, plus the marker's conditional UpdateItem."""

    def answer(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation != "UpdateItem":
            return super().answer(operation, request)  # type: ignore[no-any-return]
        self.calls[operation] = self.calls.get(operation, 0) + 1
        key = self._key(request["TableName"], request["Key"])
        current = self.get(key) or dict(request["Key"])
        at = request["ExpressionAttributeValues"][":at"]
        if "last_at" in current and current["last_at"]["S"] >= at["S"]:
            return 400, {"__type": "#ConditionalCheckFailedException", "message": "failed"}
        self.put(key, {**current, "last_at": at, "first_at": current.get("first_at", at)})
        return 200, {}


class Blobs:
    def __init__(self) -> None:
        self.team = (ROOT / "sales" / "team.yaml").read_text()

    def get_text(self, key: str) -> str | None:
        return self.team if key == "sales/team.yaml" else None

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        raise NotImplementedError


def main() -> None:
    bench_clock = base.BenchClock()
    clock.set_clock(bench_clock)
    base.Dynamo = Dynamo  # build() makes ours
    setup = base.build()
    reactor = setup.reactor
    contact = reactor.contacts.get(setup.contact_id)
    assert contact is not None
    contact.fields["owner"] = "anna@sales.example.com"
    reactor.contacts.save(contact)
    unused: Any = None
    desk = SalesDesk(
        contacts=reactor.contacts,
        activities=reactor.activities,
        sales=__import__("nurture.adapters.sales", fromlist=["DynamoSales"]).DynamoSales(
            reactor.contacts._db, "state"
        ),
        blobs=Blobs(),
        delivery=unused,
        mailer=unused,
        policy=unused,
        sender="",
        scores=unused,
    )

    def opened(n: int) -> Activity:
        at = clock.iso(clock.now())
        return Activity(
            actor=f"contact:{setup.contact_id}",
            contact_id=setup.contact_id,
            message_id=f"open-{n}",
            kind="email",
            name="email.opened",
            occurred_at=at,
            received_at=at,
            properties={"program_id": "welcome", "step_id": "welcome-1"},
        )

    def baseline(n: int) -> None:
        reactor.sales = None
        reactor.handle(base.page_view(n, "https://acme.example/solutions/crm"))

    def meaningful(n: int) -> None:
        reactor.sales = desk
        bench_clock.at = bench_clock.at.replace(microsecond=0) + base.timedelta(seconds=1)
        before = setup.dynamo.calls.get("UpdateItem", 0)
        reactor.handle(base.page_view(n, "https://acme.example/solutions/crm"))
        if setup.dynamo.calls.get("UpdateItem", 0) == before:
            raise SystemExit("the page view did not mark the contact active")

    def open_baseline(n: int) -> None:
        reactor.sales = None
        reactor.handle(opened(n))

    def not_meaningful(n: int) -> None:
        reactor.sales = desk
        reactor.handle(opened(n))

    variants = [
        ("baseline: react, no sales desk", baseline),
        ("+ desk, meaningful (marker write)", meaningful),
        ("an email open, no sales desk", open_baseline),
        ("+ desk, not meaningful (the open)", not_meaningful),
    ]
    rows = list(
        zip([label for label, _ in variants], base.measure_all(setup, variants), strict=True)
    )
    first = rows[0][1]
    bases = [first, first, rows[2][1], rows[2][1]]
    print(
        f"Python {sys.version.split()[0]}; botocore DynamoDB client, network stubbed; "
        f"{base.REPEATS} x {base.EVENTS} events per row, interleaved, after a warm-up; CPU us per event"
    )
    print()
    print(f"{'':40} {'best':>8} {'median':>8} {'x base':>7} {'DynamoDB calls':>15}")
    for (label, t), against in zip(rows, bases, strict=True):
        print(
            f"{label:40} {t.best_us:8.1f} {t.median_us:8.1f} "
            f"{t.best_us / against.best_us:6.2f}x {t.calls_per_event:15.2f}"
        )


if __name__ == "__main__":
    main()
