"""`nurture import FILE --mapping MAPPING`: import contacts from a CSV file.

    nurture import contacts.csv --mapping mapping.yaml        # the local cloud of `make demo`
    nurture import contacts.csv --mapping mapping.yaml --local http://localhost:8080
    nurture import contacts.csv --mapping mapping.yaml --stack nurture --region eu-west-1

The mapping (YAML) says which column fills which field and which columns state consent
(README, "Importing contacts"). Every row is checked; the rows that cannot be imported, and
the consents a row states that are not recorded, go to the report (`--report`, default
FILE.rejected.csv: row, field, reason). Running the same file again writes nothing.
Exit status: 0 all rows imported, 1 some rejected (see the report), 2 the mapping or the
file's header is wrong (the message names the field), 3 the cloud cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOCAL_CHUNK_ROWS = 500  # under the local server's 1 MB body cap


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV file (UTF-8, a header row)")
    parser.add_argument("--mapping", type=Path, required=True, help="the mapping (YAML)")
    parser.add_argument("--report", type=Path, help="where the rejected rows go (CSV)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        default="http://localhost:3000",
        metavar="URL",
        help="the local cloud's API (`make demo`), default http://localhost:3000",
    )
    where.add_argument("--stack", help="a deployed stack's name: write to its tables on AWS")
    parser.add_argument("--region", help="the stack's AWS region (default: your AWS config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_mapping(path: Path) -> Any:
    import yaml

    from nurture.imports.mapping import parse_mapping

    return parse_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))


def count_rows(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines after the header (the bar's total)."""
    import hashlib

    sha, lines = hashlib.sha256(), 0
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
            lines += block.count(b"\n")
    return sha.hexdigest(), max(lines - 1, 0)


def progress_bar(disabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        disable=disabled,
        transient=True,
    )


def import_file(
    store: Any,
    path: Path,
    mapping: Any,
    now: str,
    report: Any,
    advance: Callable[[int], None] = lambda n: None,
    digest: str | None = None,
) -> Any:
    """Run the import of `path` in this process against `store`; the rejected rows go to
    the `report` stream as they come. The totals (nurture.imports.runner.Totals)."""
    from nurture.imports.merge import Context
    from nurture.imports.runner import Importer, Totals, import_id_for, read_rows, write_report

    digest = digest or count_rows(path)[0]
    ctx = Context(import_id_for(digest, mapping), path.name, now)
    totals = Totals()
    write_report([], report)

    def seen(result: Any) -> None:
        totals.add(result.totals)
        write_report(result.problems, report, header=False)
        advance(result.totals.rows)

    with path.open(encoding="utf-8-sig", newline="") as text:
        Importer(store, mapping, ctx).run(read_rows(text, mapping), on_chunk=seen)
    return totals


def _stack_store(args: argparse.Namespace) -> Any:
    import boto3

    from nurture.adapters.imports import DynamoImports

    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    cfn = session.client("cloudformation")

    def table(name: str) -> str:
        detail = cfn.describe_stack_resource(StackName=args.stack, LogicalResourceId=name)
        return str(detail["StackResourceDetail"]["PhysicalResourceId"])

    from botocore.config import Config

    return DynamoImports(
        # the adapter builds the bulk calls and DynamoDB validates them: botocore's own
        # check of each batch is a quarter of an import's CPU
        session.client("dynamodb", config=Config(parameter_validation=False)),
        table("ContactsTable"),
        table("ActivitiesTable"),
        table("StateTable"),
    )


# --- the local cloud: rows sent a chunk at a time to /_local/import -------------------------
def import_chunk_local(cloud: Any, body: bytes) -> tuple[int, dict[str, Any]]:
    """The local cloud's `POST /_local/import`: one chunk of checked-in rows imported into
    the cloud's tables (virtual time is `now`). Answers the totals and the report lines."""
    from nurture import clock
    from nurture.adapters.imports import DynamoImports
    from nurture.imports.mapping import MappingError, parse_mapping
    from nurture.imports.merge import Context
    from nurture.imports.runner import Importer

    try:
        payload = json.loads(body)
        mapping = parse_mapping(payload["mapping"])
        ctx = Context(str(payload["import_id"]), str(payload["file"]), clock.iso(clock.now()))
        rows = [(int(n), dict(cells)) for n, cells in payload["rows"]]
    except MappingError as exc:
        return 400, {"message": exc.reason, "field": f"mapping.{exc.field}"}
    except (ValueError, KeyError, TypeError) as exc:
        return 400, {"message": f"not an import chunk: {exc}", "field": "body"}
    refs = cloud.resolver.refs
    store = DynamoImports(
        cloud.client("dynamodb"), refs["ContactsTable"], refs["ActivitiesTable"], refs["StateTable"]
    )
    result = Importer(store, mapping, ctx).chunk(rows)
    cloud.run_until_idle()  # streams: react sees the imported activities (programs enrol)
    problems = [[p.row, p.field, p.reason] for p in result.problems]
    return 200, {"totals": result.totals.as_dict(), "problems": problems}


def _local_chunks(path: Path, mapping: Any) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    from nurture.imports.runner import chunks, read_rows

    with path.open(encoding="utf-8-sig", newline="") as text:
        yield from chunks(read_rows(text, mapping), LOCAL_CHUNK_ROWS)


def _post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - a URL we build
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _run_local(args: argparse.Namespace, mapping: Any, report: Any, bar: Any, task: Any) -> Any:
    from nurture.imports.rows import Problem
    from nurture.imports.runner import Totals, import_id_for, write_report

    digest, _ = count_rows(args.file)
    base = {
        "import_id": import_id_for(digest, mapping),
        "file": args.file.name,
        "mapping": mapping.model_dump(mode="json"),
    }
    totals = Totals()
    write_report([], report)
    for batch in _local_chunks(args.file, mapping):
        status, answer = _post(f"{args.local.rstrip('/')}/_local/import", {**base, "rows": batch})
        if status != 200:
            raise RuntimeError(answer.get("message", f"HTTP {status}"))
        totals.add(Totals(**answer["totals"]))
        write_report([Problem(*p) for p in answer["problems"]], report, header=False)
        bar.advance(task, len(batch))
    return totals


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from nurture.imports.mapping import MappingError

    ClientProblem = (BotoCoreError, ClientError)  # noqa: N806

    report_path = args.report or args.file.with_name(args.file.name + ".rejected.csv")
    try:
        mapping = load_mapping(args.mapping)
        _, lines = count_rows(args.file)
        with (
            report_path.open("w", encoding="utf-8", newline="") as report,
            progress_bar(args.no_progress) as bar,
        ):
            task = bar.add_task("import", total=lines)
            if args.stack:
                from nurture import clock

                totals = import_file(
                    _stack_store(args),
                    args.file,
                    mapping,
                    clock.iso(clock.now()),
                    report,
                    lambda n: bar.advance(task, n),
                )
            else:
                totals = _run_local(args, mapping, report, bar, task)
    except MappingError as exc:
        print(f"nurture import: mapping: {exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, *ClientProblem) as exc:
        where = args.stack or args.local
        print(f"nurture import: {where}: {exc}", file=sys.stderr)
        return 3
    t = totals
    print(
        f"{t.rows} rows: {t.imported} imported ({t.created} new, {t.updated} updated, "
        f"{t.unchanged} unchanged), {t.rejected} rejected, {t.consents} consents recorded, "
        f"{t.notes} consents not recorded. Report: {report_path}"
    )
    return 1 if t.rejected else 0
