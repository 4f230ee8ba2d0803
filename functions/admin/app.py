"""The admin API (AdminApi, IAM-authorised: SigV4-signed requests only) for the console and
operators: contact search, profiles and timelines; programs with their numbers, pause,
resume and archive; tasks; suppressions; personal data export and erase. Domain:
`nurture.admin` and `nurture.privacy`; every refusal is a 4xx {"message", "field"}.
Contact ids only in URLs: emails, names and phones travel in JSON bodies."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from nurture import clock
from nurture.adapters.clients import client
from nurture.admin import routes as doc
from nurture.admin.errors import AdminError
from nurture.settings import load
from nurture.settings.reports import ReportsSettings

settings = load(ReportsSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
app = APIGatewayHttpResolver()
_db = client("dynamodb")
_s3 = client("s3")
_sfn = client("stepfunctions")
_scheduler = client("scheduler")
_lambda = client("lambda")  # an import's next part
# An import's bulk calls: the adapter builds them, DynamoDB validates them on its side;
# botocore's own check of each 25-item batch is a quarter of the import's CPU.
_import_db = client("dynamodb", parameter_validation=False)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _json(status: int, body: Any) -> Response[str]:
    return Response(status, "application/json", json.dumps(body, default=str), headers=HEADERS)


def _body() -> Any:
    try:
        return app.current_event.json_body
    except (ValueError, TypeError):
        raise AdminError(400, "the body must be JSON", "body") from None


def _query(name: str) -> str | None:
    return (app.current_event.query_string_parameters or {}).get(name)


# --- adapters, made on first use ------------------------------------------------------------
@functools.cache
def _stores() -> Any:
    from types import SimpleNamespace

    from nurture.adapters.admin import (
        DynamoContactIndex,
        DynamoSuppressions,
        DynamoTimeline,
        ProgramControls,
        StepFunctionsRuns,
    )
    from nurture.adapters.delivery import DynamoDelivery
    from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState

    return SimpleNamespace(
        index=DynamoContactIndex(_db, settings.contacts_table),
        timeline=DynamoTimeline(_db, settings.activities_table),
        suppressions=DynamoSuppressions(_db, settings.state_table),
        runs=StepFunctionsRuns(_sfn),
        programs=ProgramControls(_sfn, _scheduler, settings.schedule_group),
        delivery=DynamoDelivery(_db, settings.state_table, settings.contacts_table),
        contacts=DynamoContacts(_db, settings.contacts_table),
        activities=DynamoActivities(_db, settings.activities_table, settings.state_table),
        state=DynamoState(_db, settings.state_table),
    )


def _catalog() -> Any:
    from nurture.adapters.reporting import S3ProgramCatalog

    return S3ProgramCatalog(_s3, settings.content_bucket, _stores().state)


# --- contacts ----------------------------------------------------------------------------
@app.post("/admin/contacts/search", **doc.SEARCH)
def search_contacts() -> Response[str]:
    from nurture.admin.search import search

    return _json(200, search(_stores().index, _body()))


@app.get("/admin/contacts/<contact_id>", **doc.CONTACT)
def contact(contact_id: str) -> Response[str]:
    from nurture.admin.profile import profile

    s = _stores()
    doc.check_id(contact_id, "contact_id")
    return _json(200, profile(contact_id, s.index, s.timeline, s.state, s.delivery, s.runs))


@app.get("/admin/contacts/<contact_id>/timeline", **doc.TIMELINE)
def timeline(contact_id: str) -> Response[str]:
    from nurture.admin.profile import timeline_page

    doc.check_id(contact_id, "contact_id")
    limit = doc.int_param(_query("limit"), "limit", 50)
    s = _stores()
    return _json(200, timeline_page(contact_id, s.index, s.timeline, _query("cursor"), limit))


# --- programs ----------------------------------------------------------------------------
@app.get("/admin/programs", **doc.PROGRAMS)
def programs() -> Response[str]:
    from nurture.adapters.admin import lake_engine
    from nurture.admin.programs import programs_list

    with lake_engine(settings, _s3) as engine:
        return _json(200, programs_list(_catalog(), engine, clock.now().date()))


@app.get("/admin/programs/<program_id>", **doc.PROGRAM)
def program(program_id: str) -> Response[str]:
    from nurture.adapters.admin import lake_engine
    from nurture.adapters.reporting import DynamoSplitDecisions
    from nurture.admin.programs import program_detail

    doc.check_program(program_id)
    params = {k: v for k, v in (app.current_event.query_string_parameters or {}).items()}
    s = _stores()
    decisions = DynamoSplitDecisions(_db, settings.state_table)
    with lake_engine(settings, _s3) as engine:
        body = program_detail(
            program_id,
            s.state,
            _catalog(),
            engine,
            decisions,
            s.programs,
            clock.now().date(),
            params,
        )
    return _json(200, body)


def _control(program_id: str, action: str) -> Response[str]:
    from nurture.admin.programs import control

    doc.check_program(program_id)
    s = _stores()
    answer = control(program_id, action, s.state, s.programs)
    logger.info("program control", extra={"program_id": program_id, "action": action})
    return _json(200, answer)


@app.post("/admin/programs/<program_id>/pause", **doc.CONTROL["pause"])
def pause(program_id: str) -> Response[str]:
    return _control(program_id, "pause")


@app.post("/admin/programs/<program_id>/resume", **doc.CONTROL["resume"])
def resume(program_id: str) -> Response[str]:
    return _control(program_id, "resume")


@app.post("/admin/programs/<program_id>/archive", **doc.CONTROL["archive"])
def archive(program_id: str) -> Response[str]:
    return _control(program_id, "archive")


# --- tasks -------------------------------------------------------------------------------
def _team() -> list[str]:
    from nurture.adapters.aws import S3Blobs
    from nurture.sales.team import TeamProblem, parse_team

    try:
        team = parse_team(S3Blobs(_s3, settings.content_bucket).get_text("sales/team.yaml"))
    except TeamProblem:
        logger.warning("sales/team.yaml is not valid: tasks need an assignee")
        return []
    return [o.email for o in team.owners] + ([team.default_owner] if team.default_owner else [])


@app.get("/admin/tasks", **doc.TASKS)
def tasks() -> Response[str]:
    from nurture.admin.tasks import listing

    assignee = _query("assignee")
    team = [] if assignee else _team()
    return _json(200, listing(_stores().state, assignee, _query("status"), team))


@app.post("/admin/tasks/<task_id>/complete", **doc.COMPLETE_TASK)
def complete_task(task_id: str) -> Response[str]:
    from nurture.adapters.sales import DynamoSales
    from nurture.admin.tasks import complete

    doc.check_id(task_id, "task_id")
    store = DynamoSales(_db, settings.state_table)
    return _json(200, complete(store, _stores().activities, task_id, _body()))


# --- suppressions ------------------------------------------------------------------------
@app.get("/admin/suppressions", **doc.SUPPRESSIONS)
def suppressions() -> Response[str]:
    from nurture.admin.suppressions import listing

    s = _stores()
    channel = _query("channel") or "email"
    return _json(200, listing(s.suppressions, s.index, channel, _query("cursor")))


@app.post("/admin/suppressions/lift", **doc.LIFT)
def lift_suppression() -> Response[str]:
    from nurture.admin.suppressions import lift

    s = _stores()
    answer = lift(s.suppressions, s.contacts, s.activities, _body())
    logger.info("suppression lifted", extra={"channel": answer["channel"]})
    return _json(200, answer)


# --- personal data -----------------------------------------------------------------------
def _privacy_request() -> dict[str, str]:
    from nurture.privacy import service as privacy

    try:
        return privacy.parse_request(_body())
    except privacy.PrivacyRequestError as exc:
        errors = [{"field": exc.field, "reason": exc.reason}]
        raise AdminError(400, f"{exc.field}: {exc.reason}", exc.field, errors) from None


def _personal() -> Any:
    from types import SimpleNamespace

    from nurture.adapters.privacy import DynamoPersonalItems, S3Exports, SchedulerPersonalSchedules

    return SimpleNamespace(
        items=DynamoPersonalItems(
            _db, settings.contacts_table, settings.activities_table, settings.state_table
        ),
        schedules=SchedulerPersonalSchedules(_scheduler, settings.schedule_group),
        exports=S3Exports(_s3, settings.content_bucket),
    )


@app.post("/admin/privacy/export", **doc.EXPORT)
def export_person() -> Response[str]:
    """Everything held about one person (email or contact_id in the body, never the URL),
    as a JSON bundle behind a 15-minute signed URL."""
    from nurture.privacy import service as privacy

    request = _privacy_request()
    p = _personal()
    body = privacy.export_person(_stores().contacts, p.items, p.schedules, p.exports, request)
    return _json(200, body)


@app.post("/admin/privacy/erase", **doc.ERASE)
def erase_person() -> Response[str]:
    """Erase one person everywhere, leaving a hashed suppression and an audit record."""
    from nurture.adapters.aws import StepFunctionsWorkflows
    from nurture.adapters.lake import S3Lake
    from nurture.privacy import service as privacy

    request = _privacy_request()
    p, s = _personal(), _stores()
    workflows = StepFunctionsWorkflows(_sfn, _scheduler, settings.schedule_group or None)
    body = privacy.erase_person(
        s.contacts,
        s.state,
        workflows,
        p.items,
        p.schedules,
        p.exports,
        S3Lake(_s3, settings.content_bucket),
        request,
    )
    logger.info("person erased", extra={"counts": body["counts"]})
    return _json(200, body)


# --- imports (nurture.imports.jobs): a file in the bucket, in parts of one invocation each --
def _import_ports() -> tuple[Any, Any]:
    from nurture.adapters.imports import DynamoImportJobs, S3ImportFiles

    return DynamoImportJobs(_db, settings.state_table), S3ImportFiles(_s3, settings.content_bucket)


def _invoke_part(function_arn: str) -> Any:
    def invoke(import_id: str) -> None:
        _lambda.invoke(
            FunctionName=function_arn,
            InvocationType="Event",
            Payload=json.dumps({"nurture_import": import_id}).encode(),
        )

    return invoke


@app.post("/admin/imports", **doc.IMPORT_START)
def start_import() -> Response[str]:
    from nurture.imports.jobs import JobError, start

    jobs, files = _import_ports()
    invoke = _invoke_part(app.lambda_context.invoked_function_arn)
    try:
        status, body = start(jobs, files, _body(), clock.iso(clock.now()), invoke)
    except JobError as exc:
        raise AdminError(exc.status, exc.message, exc.field) from None
    logger.info("import started", extra={"import_id": body["import_id"]})
    return _json(status, body)


@app.get("/admin/imports/<import_id>", **doc.IMPORT_STATUS)
def import_status(import_id: str) -> Response[str]:
    doc.check_id(import_id, "import_id")
    job = _import_ports()[0].get(import_id)
    if job is None:
        raise AdminError(404, "no such import", "import_id")
    return _json(200, job.answer())


def _import_part(import_id: str, context: Any) -> dict[str, Any]:
    from nurture.adapters.imports import DynamoImports
    from nurture.imports.jobs import run_part

    jobs, files = _import_ports()
    store = DynamoImports(
        _import_db, settings.contacts_table, settings.activities_table, settings.state_table
    )
    status = run_part(
        jobs,
        files,
        store,
        import_id,
        lambda: clock.iso(clock.now()),
        context.get_remaining_time_in_millis,
        _invoke_part(context.invoked_function_arn),
    )
    job = jobs.get(import_id)
    logger.info(
        "import part",
        extra={"import_id": import_id, "status": status, "totals": job.totals if job else None},
    )
    return {"import_id": import_id, "status": status}


@app.get("/admin/openapi.json", **doc.DOCUMENT_ROUTE)
def openapi_document() -> Response[str]:
    return Response(200, "application/json", doc.served(), headers=HEADERS)


@app.exception_handler(AdminError)
def refuse(exc: AdminError) -> Response[str]:
    logger.info("admin request refused", extra={"status": exc.status, "field": exc.field})
    return _json(exc.status, exc.body())


@app.not_found
def not_found(exc: NotFoundError) -> Response[str]:
    return _json(404, {"message": "no such route", "field": None})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event.get("nurture_import"), str):  # a part of an import (its own invoke)
        return _import_part(event["nurture_import"], context)
    return app.resolve(event, context)
