# mypy: disable-error-code="misc"
# (the mixins annotate self as the LocalCloud they are part of, so their bodies are checked)
"""What the sandbox captures instead of delivering: SES email and SNS SMS, and the
SES/SNS engagement events a recipient would cause."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

from dataclasses import dataclass

from localcloud.constants import REGION


@dataclass
class CapturedEmail:
    message_id: str
    to: list[str]
    sender: str
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    tags: dict[str, str]
    configuration_set: str | None
    sent_at: datetime

    def links(self) -> list[str]:
        """The tracked links (what a reader's click reaches SES with): `ses:no-track` ones,
        like the unsubscribe link, are left out. Read by an HTML parser, so each href is
        the URL a browser follows (`&amp;` in the HTML is `&`)."""
        parser = _Links()
        parser.feed(self.html)
        parser.close()
        return parser.hrefs


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        href = found.get("href")
        if tag == "a" and href and "ses:no-track" not in found:
            self.hrefs.append(href)


@dataclass
class CapturedSms:
    message_id: str
    to: str
    text: str
    sender_id: str | None
    sms_type: str | None
    sent_at: datetime


@dataclass
class TimelineEntry:
    at: datetime
    who: str
    what: str


class CaptureMixin:
    # --- AWS call hooks: notifications, SES capture, execution tracking ------------------
    def _hook_aws_calls(self: LocalCloud) -> None:
        events = self._session.events
        events.register("provide-client-params.s3.PutObject", _remember_params)
        events.register("after-call.s3.PutObject", self._after_put_object)
        events.register("provide-client-params.sesv2.SendEmail", _remember_params)
        events.register("after-call.sesv2.SendEmail", self._after_send_email)
        events.register("provide-client-params.sns.Publish", _remember_params)
        events.register("after-call.sns.Publish", self._after_publish)
        events.register("after-call.stepfunctions.StartExecution", self._after_start_execution)
        # Lambda's Invoke reaches the functions in process (moto's Lambda needs Docker)
        events.register("provide-client-params.lambda.Invoke", _remember_params)
        events.register("before-call.lambda.Invoke", self._lambda_invoke)

    def _enqueue(self: LocalCloud, job: Callable[[], None]) -> None:
        with self._queue_lock:
            self._queue.append(job)

    def _after_put_object(
        self: LocalCloud, http_response: Any, parsed: Any, model: Any, context: Any, **_: Any
    ) -> None:
        params = context.get("nurture_params") or {}
        bucket, key = params.get("Bucket"), params.get("Key")
        if bucket and key:
            self._enqueue(lambda: self._notify_s3(bucket, key))

    def _notify_s3(self: LocalCloud, bucket: str, key: str) -> None:
        for fn in self.functions.values():
            for ev in fn.events.values():
                if (
                    ev["Type"] != "S3"
                    or self.resolver.refs.get(
                        ev["Properties"]["Bucket"], ev["Properties"]["Bucket"]
                    )
                    != bucket
                ):
                    continue
                rules = ev["Properties"].get("Filter", {}).get("S3Key", {}).get("Rules", [])
                prefix = next((r["Value"] for r in rules if r["Name"] == "prefix"), "")
                suffix = next((r["Value"] for r in rules if r["Name"] == "suffix"), "")
                if key.startswith(prefix) and key.endswith(suffix):
                    self.invoke_async(fn.logical_id, _s3_event(bucket, key, self.clock.now()))

    def _after_send_email(self: LocalCloud, parsed: dict[str, Any], context: Any, **_: Any) -> None:
        params = context.get("nurture_params")
        if params is None or "MessageId" not in parsed:
            return
        simple = params["Content"]["Simple"]
        email = CapturedEmail(
            message_id=parsed["MessageId"],
            to=params["Destination"]["ToAddresses"],
            sender=params["FromEmailAddress"],
            subject=simple["Subject"]["Data"],
            html=simple["Body"].get("Html", {}).get("Data", ""),
            text=simple["Body"].get("Text", {}).get("Data", ""),
            headers={h["Name"]: h["Value"] for h in simple.get("Headers", [])},
            tags={t["Name"]: t["Value"] for t in params.get("EmailTags", [])},
            configuration_set=params.get("ConfigurationSetName"),
            sent_at=self.clock.now(),
        )
        self.outbox.append(email)
        self._enqueue(lambda: self.ses_event(email, "Send"))
        self._enqueue(lambda: self.ses_event(email, "Delivery"))

    def _after_publish(self: LocalCloud, parsed: dict[str, Any], context: Any, **_: Any) -> None:
        """SNS Publish to a phone number is an SMS: capture it like SES email."""
        params = context.get("nurture_params")
        if params is None or not params.get("PhoneNumber") or "MessageId" not in parsed:
            return
        attrs = params.get("MessageAttributes") or {}
        self.sms_outbox.append(
            CapturedSms(
                message_id=parsed["MessageId"],
                to=params["PhoneNumber"],
                text=params["Message"],
                sender_id=attrs.get("AWS.SNS.SMS.SenderID", {}).get("StringValue"),
                sms_type=attrs.get("AWS.SNS.SMS.SMSType", {}).get("StringValue"),
                sent_at=self.clock.now(),
            )
        )

    def sms_reply(
        self: LocalCloud, from_number: str, body: str, topic: str = "SmsInboundTopic"
    ) -> None:
        """An inbound SMS, as SNS two-way SMS publishes it to the template's inbound topic."""
        to = self.sms_outbox[-1].to if self.sms_outbox else "+10000000000"
        message = {
            "originationNumber": from_number,
            "destinationNumber": to,
            "messageKeyword": "KEYWORD",
            "messageBody": body,
            "inboundMessageId": str(uuid.uuid4()),
            "previousPublishedMessageId": self.sms_outbox[-1].message_id if self.sms_outbox else "",
        }
        self.publish(self.resolver.refs[topic], json.dumps(message))
        self.run_until_idle()

    def _after_start_execution(self: LocalCloud, parsed: dict[str, Any], **_: Any) -> None:
        arn = parsed.get("executionArn")
        if arn and arn not in self._executions:
            self._executions[arn] = {"seen_events": 0, "done": False}

    # --- SES engagement simulation ------------------------------------------------------
    def ses_event(
        self: LocalCloud,
        email: CapturedEmail,
        event_type: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Publish the SES event AWS would send for `email` to its configuration set's topic."""
        topic = self.config_set_topics.get(email.configuration_set or "")
        if topic is None:
            return
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body: dict[str, Any] = {
            "eventType": event_type,
            "mail": {
                "timestamp": email.sent_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "source": email.sender,
                "messageId": email.message_id,
                "destination": email.to,
                "tags": {k: [v] for k, v in email.tags.items()},
                "commonHeaders": {"from": [email.sender], "to": email.to, "subject": email.subject},
            },
        }
        key = {
            "Send": "send",
            "Delivery": "delivery",
            "Open": "open",
            "Click": "click",
            "Bounce": "bounce",
            "Complaint": "complaint",
        }.get(event_type, event_type.lower())
        body[key] = {"timestamp": now, **(detail or {})}
        self.publish(topic, json.dumps(body))

    def open_email(self: LocalCloud, email: CapturedEmail) -> None:
        self.ses_event(email, "Open", {"userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"})
        self.run_until_idle()

    def click_email(self: LocalCloud, email: CapturedEmail, link: str | None = None) -> None:
        links = email.links()
        target = link or (links[0] if links else "https://example.com/")
        self.ses_event(
            email,
            "Click",
            {"link": target, "linkTags": {}, "userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"},
        )
        self.run_until_idle()

    def publish(self: LocalCloud, topic_arn: str, message: str) -> None:
        self.client("sns").publish(TopicArn=topic_arn, Message=message)
        for fn in self.functions.values():
            for ev in fn.events.values():
                if ev["Type"] == "SNS" and ev["Properties"]["Topic"] == topic_arn:
                    self.invoke_async(
                        fn.logical_id, _sns_event(topic_arn, message, self.clock.now())
                    )


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["nurture_params"] = dict(params)


def _s3_event(bucket: str, key: str, now: datetime) -> dict[str, Any]:
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key), "size": 0},
                },
            }
        ]
    }


def _sns_event(topic_arn: str, message: str, now: datetime) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:local",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }
