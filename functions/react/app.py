"""React to stored activity (DynamoDB stream): identity merge, triggers, resuming waits."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from nurture.adapters.aws import S3Blobs, SesMailer, StepFunctionsWorkflows
from nurture.adapters.batch_reads import (
    BatchActivities,
    BatchContacts,
    BatchReads,
    BatchState,
)
from nurture.adapters.clients import client
from nurture.runtime.react import Reactor
from nurture.settings import load
from nurture.settings.react import ReactSettings
from nurture.tracking.events import Activity

if TYPE_CHECKING:
    from nurture.contacts import Contact
    from nurture.delivery.confirmation import ConfirmationSender
    from nurture.runtime.due import DueIndex
    from nurture.sales.desk import SalesDesk
    from nurture.scoring.engine import Scorer

settings = load(ReactSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_db = client("dynamodb")


@functools.cache
def _confirmations() -> ConfirmationSender:
    # Made for the first double opt-in submission: it renders an email (jinja2, the email
    # template), which a batch of page views never needs.
    from nurture.adapters.delivery import DynamoDelivery
    from nurture.delivery.config import MailSettings, load_policy
    from nurture.delivery.confirmation import ConfirmationSender

    mail = MailSettings.from_env()
    return ConfirmationSender(
        contacts=contacts,
        activities=activities,
        blobs=S3Blobs(client("s3"), mail.content_bucket),
        store=DynamoDelivery(_db, settings.state_table, settings.contacts_table),
        mailer=SesMailer(client("sesv2"), mail.configuration_set),
        policy=load_policy(),
        sender=mail.sender_email,
    )


def request_confirmation(contact_id: str, activity: Activity) -> str:
    """Double opt-in forms: the confirmation email goes out as the submission is recorded."""
    return _confirmations().request(contact_id, activity)


# One stream batch's records share their reads of who they are about (adapters.batch_reads).
contacts = BatchContacts(_db, settings.contacts_table)
state = BatchState(_db, settings.state_table)
activities = BatchActivities(_db, settings.activities_table, settings.state_table)
reads = BatchReads(contacts, activities, state)
reactor = Reactor(
    contacts=contacts,
    activities=activities,
    state=state,
    # The scheduler client cancels a run's pending resume when a goal ends the run.
    workflows=StepFunctionsWorkflows(
        client("stepfunctions"), client("scheduler"), settings.schedule_group
    ),
    on_pending_consent=request_confirmation,
)


# Lead scoring runs inline: the models are read once per batch (see lambda_handler). Made
# when a known contact's activity first reaches it, not at import: a batch of anonymous page
# views scores nothing (the scoring, score-state and condition models wait for it) (#9).
@functools.cache
def _scorer() -> Scorer:
    from nurture.adapters.scoring import DynamoScoringModels
    from nurture.scoring.engine import Scorer

    return Scorer(
        contacts=reactor.contacts,
        activities=reactor.activities,
        registry=DynamoScoringModels(_db, settings.state_table),
    )


class _ScoringOnFirstUse:
    """What the reactor calls of the scorer, made on first use."""

    def on_activity(self, contact: Contact, activity: Activity) -> None:
        _scorer().on_activity(contact, activity)

    def refresh(self) -> None:
        """Read the models again before the next activity (a scorer not made yet reads
        them when it is)."""
        if _scorer.cache_info().currsize:
            _scorer().refresh()


scoring = _ScoringOnFirstUse()
reactor.scoring = scoring


# After the MQL crossing: the owner's email, digest markers, CRM push (nurture.sales).
# Its writes (the owner, lead.* activities) go through the batch's stores, keeping them true.
# Made when a known contact's activity first reaches it, not at import: a batch of anonymous
# page views never needs the desk (team file, CRM pusher, hand-off email) (#9 cold starts).
@functools.cache
def _desk() -> SalesDesk:
    from nurture.adapters.sales import desk_from_env

    desk: SalesDesk = desk_from_env(
        _db,
        client("s3"),
        client("sesv2"),
        scores=_scorer(),
        contacts=contacts,
        activities=activities,
    )
    return desk


class _SalesOnFirstUse:
    """What the reactor calls of the sales desk, made on first use."""

    def observe(self, contact: Contact, activity: Activity) -> None:
        _desk().observe(contact, activity)


reactor.sales = _SalesOnFirstUse()


# Dates and last activity of known contacts, so the daily sweep reads only who can be due.
# Made when a known contact's activity first reaches it, as the scorer (the program models
# it reads live programs with wait for it) (#9 cold starts).
@functools.cache
def _due() -> DueIndex:
    from nurture.adapters.due import DynamoDue
    from nurture.runtime.due import DueIndex

    return DueIndex(DynamoDue(_db, settings.state_table), reactor)


class _DueOnFirstUse:
    """What the reactor calls of the due index, made on first use."""

    def observe(self, contact: Contact, activity: Activity) -> None:
        _due().observe(contact, activity)


reactor.due = _DueOnFirstUse()


# The activities of the batch being handled, by their stored document (parsed once, in
# `_parse_batch`, which also reads in bulk who they are about).
_batch: dict[str, Activity] = {}


def handle_record(record: DynamoDBRecord) -> None:
    if record.event_name is not DynamoDBRecordEventName.INSERT:
        return  # activities are never changed in place: only a new one is acted on
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image or "doc" not in image:
        return
    activity = _batch.get(image["doc"]) or Activity.model_validate_json(image["doc"])
    # The kind only: a name comes from the client (a fuzzed one was a phone number).
    logger.debug("reacting", extra={"kind": activity.kind})
    reactor.handle(activity)


def _parse_batch(event: dict[str, Any]) -> list[Activity]:
    """The batch's new activities, parsed once (`handle_record` finds them in `_batch`)."""
    _batch.clear()
    for record in event.get("Records") or []:
        doc = (((record.get("dynamodb") or {}).get("NewImage") or {}).get("doc") or {}).get("S")
        if record.get("eventName") != "INSERT" or not isinstance(doc, str):
            continue
        try:
            _batch[doc] = Activity.model_validate_json(doc)
        except ValueError:
            continue  # handle_record fails this record on its own
    return list(_batch.values())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scoring.refresh()
    try:
        with reads.batch(_parse_batch(event)):
            return process_partial_response(
                event=event, record_handler=handle_record, processor=processor, context=context
            )
    finally:
        _batch.clear()
