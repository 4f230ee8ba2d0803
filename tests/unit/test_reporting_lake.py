"""The lake writer (rows, object keys, retries), the erase, the Glue table and the Athena
form of every query, the report parameters and the `nurture report` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot
from reporting_fixtures import act, engine_of, lake_of

from localcloud.cli import main
from localcloud.template import load_template
from nurture.reporting import queries, service
from nurture.reporting.lake import COLUMNS, decode, erase_from_lake, lake_row, write_batch
from nurture.reporting.ports import MemoryLake

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_a_row_flattens_what_reports_use_and_keeps_traits_out():
    page = act(
        "2026-01-05 09:00",
        "pricing",
        actor="anon:v1",
        kind="page",
        page={
            "url": "https://www.example.com/pricing",
            "referrer": "https://news.example.org/a",
            "utm": {"name": "spring", "source": "google", "medium": "cpc", "content": "ad1"},
        },
    )
    row = lake_row(page, "anon:v1#2026-01-05T09:00:00.000Z#m1")
    assert set(row) == set(COLUMNS)
    assert row["ts"] == "2026-01-05 09:00:00.000"
    assert (row["utm_campaign"], row["utm_medium"], row["utm_content"]) == ("spring", "cpc", "ad1")
    assert (row["url_host"], row["referrer_host"], row["source"]) == (
        "example.com",
        "news.example.org",
        "google",
    )
    order = act(
        "2026-01-05 09:00",
        "Order Completed",
        actor="user:u",
        kind="track",
        props={"total": "12.50", "currency": "EUR"},
    )
    assert (lake_row(order, "k")["revenue"], lake_row(order, "k")["currency"]) == (12.5, "EUR")
    other = act(
        "2026-01-05 09:00", "Product Viewed", actor="user:u", kind="track", props={"total": 5}
    )
    assert lake_row(other, "k")["revenue"] is None  # only revenue events carry revenue
    form = act("2026-01-05 09:00", "signup", actor="anon:v1", kind="form")
    form = form.model_copy(update={"traits": {"email": "ada@example.com"}})
    assert "ada@example.com" not in json.dumps(lake_row(form, "k"))


def test_a_batch_is_one_object_per_day_named_by_its_sequence_numbers():
    lake = MemoryLake()
    a = act("2026-01-05 23:59", "x", contact="c1")
    b = act("2026-01-06 00:01", "y", contact="c1")
    keys = write_batch(lake, [("100", "k1", a), ("105", "k2", b)])
    assert keys == [
        "lake/activities/dt=2026-01-05/100-105.json.gz",
        "lake/activities/dt=2026-01-06/100-105.json.gz",
    ]
    first = dict(lake.objects)
    # the same batch again (a retry) overwrites the same objects with the same bytes
    assert write_batch(lake, [("100", "k1", a), ("105", "k2", b)]) == keys
    assert lake.objects == first
    assert [r["name"] for r in decode(lake.objects[keys[0]])] == ["x"]
    assert write_batch(lake, []) == []


def test_erase_rewrites_the_objects_holding_a_contact(tmp_path: Path):
    history = [
        act("2026-01-05 09:00", "page", actor="anon:v1", kind="page"),
        act(
            "2026-01-05 09:01",
            "contact.identified",
            contact="c1",
            props={"created": True, "actors": ["anon:v1", "email:a@example.com"]},
        ),
        act("2026-01-05 09:02", "email.sent", contact="c1"),
        act("2026-01-05 09:03", "email.sent", contact="c2"),
        act("2026-01-06 09:00", "page", actor="anon:v1", kind="page"),
    ]
    lake = lake_of(history, batch=2)
    before = dict(lake.objects)
    result = erase_from_lake(lake, ["c1", "contact:c1", "anon:v1", "email:a@example.com"])
    assert result == {"objects_rewritten": 1, "objects_deleted": 2, "rows_removed": 4}
    rows = [r for key in lake.list("lake/") for r in decode(lake.get(key))]
    assert [r["contact_id"] for r in rows] == ["c2"]
    assert len(before) == 3
    engine = engine_of(lake, tmp_path)
    assert engine.query("SELECT COUNT(*) AS n FROM activities")[0]["n"] == 1
    assert erase_from_lake(lake, ["c9"])["rows_removed"] == 0


def test_the_glue_table_has_the_lake_columns_and_projects_dt():
    template = load_template(ROOT / "template.yaml")
    table = template["Resources"]["LakeActivitiesTable"]["Properties"]["TableInput"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns == COLUMNS
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == (
        "org.openx.data.jsonserde.JsonSerDe"
    )
    lake_fn = template["Resources"]["LakeFunction"]["Properties"]["Events"]["Activity"]
    assert lake_fn["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    admin = template["Resources"]["AdminApi"]["Properties"]["Auth"]
    assert admin["DefaultAuthorizer"] == "AWS_IAM"


@pytest.mark.parametrize("name", queries.QUERIES)
def test_every_query_renders_for_athena_and_parses_as_trino(name: str):
    params = {
        p: "2026-01-01 00:00:00" if p.startswith("ts") else "2026-01-01"
        for p in queries.placeholders(name)
    }
    params.update({k: 86400 for k in params if k.endswith("_seconds")})
    if "program" in params:
        params["program"] = "welcome"
    athena = queries.render(name, params, "athena")
    for dialect in ("athena", "trino", "presto"):
        sqlglot.parse_one(athena, read=dialect)
    assert "UNNEST" not in athena or "CROSS JOIN UNNEST" in athena
    assert ":dt_from" not in athena and "'2026-01-01'" in athena


def test_parameters_are_bound_as_quoted_literals():
    sql = queries.render(
        "ab",
        {
            "program": "x' OR '1'='1",
            "dt_from": "2026-01-01",
            "ts_from": "2026-01-01 00:00:00",
            "ts_to": "2026-02-01 00:00:00",
        },
    )
    assert "'x'' OR ''1''=''1'" in sql
    with pytest.raises(KeyError):
        queries.render("ab", {"program": "x"})
    with pytest.raises(TypeError):
        queries.render("ab", {"program": ["x"], "dt_from": "a", "ts_from": "b", "ts_to": "c"})


def test_bad_report_parameters_name_the_field():
    with pytest.raises(service.ReportError) as caught:
        service.parse(
            "funnel", {"program": "Not Valid", "since": "2026-02-01", "until": "2026-01-01"}
        )
    reasons = {e["field"]: e["reason"] for e in caught.value.errors}
    assert reasons.keys() == {"program", "until"}
    assert reasons["until"] == "until must not be before since"
    with pytest.raises(service.ReportError) as caught:
        service.parse("attribution", {"model": "magic", "lookback_days": "0"})
    assert {e["field"] for e in caught.value.errors} == {"model", "lookback_days"}
    with pytest.raises(service.ReportError) as caught:
        service.parse("nope", {})
    assert caught.value.errors[0]["field"] == "report"


def test_the_report_command_prints_a_table_csv_or_json(tmp_path: Path, capsys):
    history = [
        act(
            "2026-01-05 09:00",
            "program.entered",
            contact="c1",
            props={"program_id": "welcome", "version": "1", "execution": "e1"},
        ),
        act(
            "2026-01-05 09:00",
            "email.sent",
            contact="c1",
            props={"program_id": "welcome", "step_id": "welcome-1", "execution": "e1"},
        ),
    ]
    lake = lake_of(history)
    for key, blob in lake.objects.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(blob)
    common = [
        "--lake",
        str(tmp_path),
        "--programs",
        str(ROOT / "programs"),
        "--since",
        "2026-01-01",
        "--until",
        "2026-01-31",
    ]
    assert main(["report", "statuses", "--program", "welcome", *common]) == 0
    table = capsys.readouterr().out
    assert "c1" in table and "sent" in table
    assert main(["report", "funnel", "--program", "welcome", "--format", "csv", *common]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[0].startswith("version,step,reached")
    assert "welcome-1" in csv_text
    assert main(["report", "funnel", "--program", "welcome", "--format", "json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["versions"][0]["entered"] == 1
    assert main(["report", "funnel", *common]) == 2
    assert "program" in capsys.readouterr().err


def test_a_program_run_that_ended_is_an_exit_but_a_pause_for_a_long_wait_is_not():
    from nurture.reporting.runs import exit_activity

    machine = "arn:aws:states:eu-west-1:1:stateMachine:nurture-program-welcome:3"
    base = {
        "stateMachineArn": machine,
        "name": "welcome--c1",
        "executionArn": "arn:x",
        "input": json.dumps({"contact_id": "c1", "program_id": "welcome"}),
        "stopDate": 1767603600000,
    }
    finished = exit_activity({**base, "status": "SUCCEEDED", "output": "{}"})
    assert finished is not None
    assert (finished.name, finished.contact_id, finished.occurred_at) == (
        "program.exited",
        "c1",
        "2026-01-05T09:00:00.000Z",
    )
    assert finished.properties == {
        "program_id": "welcome",
        "execution": "welcome--c1",
        "status": "SUCCEEDED",
        "reason": "finished",
    }
    stopped = exit_activity({**base, "status": "ABORTED", "cause": "goal reached: bought"})
    assert stopped is not None and stopped.properties["reason"] == "stopped: goal reached: bought"
    paused = {
        **base,
        "status": "SUCCEEDED",
        "output": json.dumps({"last": {"Payload": {"status": "scheduled"}}}),
    }
    assert exit_activity(paused) is None
    resumed = {
        **base,
        "status": "SUCCEEDED",
        "name": "welcome-r2--c1",
        "input": json.dumps({"contact_id": "c1", "run": "welcome--c1"}),
    }
    assert exit_activity(resumed).properties["execution"] == "welcome--c1"
    assert exit_activity({**base, "status": "RUNNING"}) is None
    assert (
        exit_activity(
            {
                **base,
                "status": "SUCCEEDED",
                "stateMachineArn": "arn:aws:states:x:1:stateMachine:other",
            }
        )
        is None
    )
