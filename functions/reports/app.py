"""Reports over the activity lake: the admin API (`GET /admin/reports/{report}`, IAM
authorised; the other admin routes are the admin function's), automatic A/B winners (checked daily, WinnerCheckRate), and program runs that ended (Step Functions
status changes, recorded as `program.exited` for the funnels). The SQL runs on DuckDB in this function
(REPORT_ENGINE=duckdb: the lake is copied to /tmp) or on Athena (REPORT_ENGINE=athena)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from nurture import clock
from nurture.adapters.clients import client
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.adapters.lake import S3Lake
from nurture.adapters.reporting import AthenaEngine, DynamoSplitDecisions, S3ProgramCatalog
from nurture.reporting.ports import SqlEngine
from nurture.reporting.winners import decide_winners, decision_activity
from nurture.settings import load
from nurture.settings.reports import ReportsSettings

settings = load(ReportsSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
app = APIGatewayHttpResolver()
_db = client("dynamodb")
_s3 = client("s3")
_state = DynamoState(_db, settings.state_table)
catalog = S3ProgramCatalog(_s3, settings.content_bucket, _state)
decisions = DynamoSplitDecisions(_db, settings.state_table)
activities = DynamoActivities(_db, settings.activities_table, settings.state_table)
_contacts = DynamoContacts(_db, settings.contacts_table)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class _Engine:
    """The configured engine for one invocation (DuckDB over a fresh copy of the lake),
    made when first asked for."""

    root: Path | None = None

    def __enter__(self) -> _Engine:
        return self

    def get(self) -> SqlEngine:
        if settings.report_engine == "athena":
            return AthenaEngine(client("athena"), settings.athena_workgroup, settings.lake_database)
        self.root = Path(tempfile.mkdtemp(prefix="lake-"))
        # imported here: DuckDB is a third of the cold import, and the runs that ended
        # (Step Functions status changes) query nothing
        from nurture.reporting.duckdb_engine import DuckDbEngine, copy_lake

        copy_lake(S3Lake(_s3, settings.content_bucket), self.root)
        return DuckDbEngine(self.root)

    def __exit__(self, *exc: object) -> None:
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)


@app.get("/admin/reports/<report>")
@tracer.capture_method
def report(report: str) -> Response:
    # imported by the first report asked for: the function's first call is as often the
    # daily winners check or a run that ended (#9 cold starts)
    from nurture.reporting import service

    if report not in service.REPORTS:
        raise NotFoundError(f"no report {report!r}; one of {', '.join(service.REPORTS)}")
    params = dict(app.current_event.query_string_parameters or {})
    try:
        service.parse(report, params)  # bad parameters answer 400 before any query runs
        with _Engine() as engine:
            body = service.run(report, params, engine.get(), catalog, clock.now().date())
    except service.ReportError as exc:
        return Response(
            400,
            "application/json",
            {"message": "invalid parameters", "errors": exc.errors},
            headers=HEADERS,
        )
    return Response(200, "application/json", body, headers=HEADERS)


def _record(program_id: str, step_id: str, decision: dict[str, Any]) -> None:
    activities.put_new(decision_activity(program_id, step_id, decision))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        # imported by the first run that ended, not by the winners check or a report (#9)
        from nurture.privacy.service import STOP_CAUSE
        from nurture.reporting.runs import exit_activity

        detail = event.get("detail") or {}
        ended = exit_activity(detail)
        if ended is not None and (
            detail.get("cause") == STOP_CAUSE or _contacts.get(ended.contact_id) is None
        ):
            ended = None  # stopped by an erase: nothing about the person may come back
        if ended is not None and isinstance(detail.get("stopDate"), (int, float)):
            activities.put_once(ended)  # timed by the event: every copy has one key, 1 WCU
        elif ended is not None:
            activities.put_new(ended)  # dated on arrival: the marker finds a copy
        return {"recorded": ended is not None}
    if event.get("detail-type") == "Scheduled Event":
        with _Engine() as engine:
            made = decide_winners(engine.get, catalog, decisions, _record)
        logger.info("automatic winners", extra={"decided": len(made)})
        return {"decided": made}
    return app.resolve(event, context)
