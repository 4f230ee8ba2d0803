"""Owner assignment: territory (country, region), industry, round robin within a team (fair,
and idempotent under retries through a counter with a conditional write), default owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from jsonschema import Draft202012Validator
from moto import mock_aws
from moto_tables import key_tables

from nurture.adapters.sales import DynamoSales
from nurture.contacts import Contact
from nurture.sales.desk import SalesDesk
from nurture.sales.schema import render
from nurture.sales.team import TeamProblem, parse_team

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
TEAM = """
owners:
  - {email: a@x.example, timezone: Europe/Helsinki, team: north}
  - {email: b@x.example, timezone: Europe/Oslo, team: north}
  - {email: c@x.example, timezone: Europe/Stockholm, team: north}
  - {email: us@x.example, timezone: America/Chicago, team: us}
  - {email: health@x.example, timezone: Europe/London}
rules:
  - {when: {industry: [Healthcare]}, owner: health@x.example}
  - {when: {country: [FI, SE, "NO"]}, team: north}
  - {when: {region: [us-central], country: US}, team: us}
default_owner: fallback@x.example
"""


@pytest.fixture
def store() -> Iterator[DynamoSales]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="eu-west-1")
        key_tables(db, "state")
        yield DynamoSales(db, "state")


class _Blobs:
    def __init__(self, text: str):
        self.text = text

    def get_text(self, key: str) -> str | None:
        return self.text if key == "sales/team.yaml" else None

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        raise NotImplementedError


class _Accounts:
    def __init__(self, account: dict[str, Any] | None):
        self.account = account

    def account_of(self, contact: Contact) -> Any:
        return self.account


def _desk(store: DynamoSales, account: dict[str, Any] | None = None) -> SalesDesk:
    unused: Any = None
    return SalesDesk(
        contacts=unused,
        activities=unused,
        sales=store,
        blobs=_Blobs(TEAM),
        delivery=unused,
        mailer=unused,
        policy=unused,
        sender="",
        scores=unused,
        accounts=_Accounts(account),
    )


def _contact(n: int = 1, **fields: Any) -> Contact:
    profile = {k: v for k, v in fields.items() if k in ("country",)}
    custom = {k: v for k, v in fields.items() if k not in profile}
    return Contact(
        contact_id=f"c{n}",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        fields=custom,
        **profile,
    )


def test_by_territory_industry_and_default(store: DynamoSales) -> None:
    desk = _desk(store)
    assert desk.assign(_contact(country="fi"), "m1") == (
        "a@x.example",
        "rule 2: round robin in north",
    )
    # industry comes first in the rules, whatever the country
    assert desk.assign(_contact(country="FI", industry="healthcare"), "m2") == (
        "health@x.example",
        "rule 1",
    )
    # a rule with two fields needs both: region and country
    assert desk.assign(_contact(country="US", region="us-central"), "m3")[0] == "us@x.example"
    assert desk.assign(_contact(country="US", region="us-west"), "m4") == (
        "fallback@x.example",
        "default owner",
    )
    assert desk.assign(_contact(), "m5")[1] == "default owner"


def test_territory_from_the_account_when_the_profile_has_none(store: DynamoSales) -> None:
    desk = _desk(store, account={"account_id": "acme", "country": "SE", "industry": "software"})
    assert desk.assign(_contact(), "m1")[0] == "a@x.example"
    desk = _desk(store, account={"account_id": "clinic", "traits": {"industry": "Healthcare"}})
    assert desk.assign(_contact(country="SE"), "m2")[0] == "health@x.example"


def test_round_robin_is_fair_and_ordered(store: DynamoSales) -> None:
    desk = _desk(store)
    owners = [desk.assign(_contact(n, country="SE"), f"mql-{n}")[0] for n in range(9)]
    assert owners == ["a@x.example", "b@x.example", "c@x.example"] * 3


def test_round_robin_retry_gets_the_same_owner_and_skips_nobody(store: DynamoSales) -> None:
    desk = _desk(store)
    first = desk.assign(_contact(1, country="SE"), "mql-1")[0]
    # the same hand-off retried (a redelivered stream record) three times
    assert [desk.assign(_contact(1, country="SE"), "mql-1")[0] for _ in range(3)] == [first] * 3
    assert desk.assign(_contact(2, country="SE"), "mql-2")[0] == "b@x.example"
    assert store.round_robin_pick("north", 3, "c3#mql-3") == 2


def test_round_robin_under_a_concurrent_writer(store: DynamoSales) -> None:
    """Another hand-off moves the counter between our read and our write: the conditional
    write fails, we read again and take the next position (nobody gets the same one)."""
    real = store._db.transact_write_items
    calls = {"n": 0}

    def interleaved(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            store.round_robin_pick("north", 3, "other#mql")  # sneaks in first
        return real(**kwargs)

    store._db.transact_write_items = interleaved  # type: ignore[method-assign]
    try:
        assert store.round_robin_pick("north", 3, "mine#mql") == 1
    finally:
        store._db.transact_write_items = real  # type: ignore[method-assign]
    assert store.round_robin_pick("north", 3, "other#mql") == 0


def test_team_file_problems_are_located() -> None:
    with pytest.raises(
        TeamProblem,
        match=r"rules: rules\[0\]: no owner is in team 'ghosts'|no owner is in team 'ghosts'",
    ):
        parse_team("owners: [{email: a@x.example}]\nrules: [{when: {country: FI}, team: ghosts}]")
    with pytest.raises(TeamProblem, match=r"owners\.0\.timezone: .*unknown time zone 'Mars/Base'"):
        parse_team("owners: [{email: a@x.example, timezone: Mars/Base}]")
    with pytest.raises(TeamProblem, match=r"rules\.0: .*either `owner` or `team`"):
        parse_team("rules: [{when: {country: FI}}]")


def test_the_shipped_team_file_is_valid() -> None:
    team = parse_team((ROOT / "sales" / "team.yaml").read_text())
    assert {o.team for o in team.owners} >= {"nordics", "americas"}
    assert team.digest.hour == 8


def test_the_team_schema_is_current_and_accepts_the_shipped_file() -> None:
    path = ROOT / "schemas" / "sales-team.schema.json"
    assert path.read_text() == render(), "run python -m nurture.sales.schema --write"
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    shipped = yaml.safe_load((ROOT / "sales" / "team.yaml").read_text())
    assert list(validator.iter_errors(shipped)) == []
    assert list(validator.iter_errors({**shipped, "owners": [{"name": "no email"}]}))


def test_a_broken_team_file_keeps_the_last_good_and_logs_no_address(
    store: DynamoSales, caplog: pytest.LogCaptureFixture
) -> None:
    desk = _desk(store)
    assert len(desk.team.owners) == 5
    desk.blobs = _Blobs("owners: [{email: not-an-address.example.secret, timezone: Mars/Base}]")
    desk._team = (0.0, parse_team(TEAM))  # the last good file, read a while ago
    with caplog.at_level("DEBUG"):
        assert len(desk.team.owners) == 5
    [record] = [r for r in caplog.records if "team.yaml" in r.getMessage()]
    assert record.getMessage() == "sales/team.yaml is not valid; keeping the last good one"
    assert record.fields == ["owners.0.email", "owners.0.timezone"]  # type: ignore[attr-defined]
    assert record.exc_info is None
    assert "not-an-address" not in caplog.text
