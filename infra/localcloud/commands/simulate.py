"""`nurture simulate`: run one program for one contact on the local cloud, in virtual time,
and print its timeline: what would be sent when, which branch was taken and why, and how
the run ended. Nothing leaves the machine; the same input always prints the same output.

    nurture simulate programs/welcome.yaml --contact contact.yaml --events events.yaml
    nurture simulate programs/welcome.yaml --field first_name=Ada \\
        --event "1 day: email.clicked welcome-1" --until "30 days"

contact.yaml: the contact's fields, e.g.

    email: ada@example.com
    first_name: Ada
    stage: lead
    score: 10
    tags: [newsletter]
    fields: {plan: pro}
    consent: [email, {channel: sms, topic: offers}]

events.yaml: what the contact does, at times after entering the program:

    - {at: 2 days, event: email.clicked, email: welcome-1}   # or email.opened
    - {at: 3 days, track: purchase, properties: {category: bikes}}
    - {at: 4 days, page: "https://shop.example.com/pricing"}
    - {at: 5 days, form: guide-download, fields: {guide: cycling}}

Inline events: "AT: email.clicked STEP", "AT: track NAME [key=value ...]", "AT: page URL",
"AT: form ID [key=value ...]".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from nurture.programs.durations import parse_duration

DEFAULT_UNTIL = "400 days"


@dataclass
class PlannedEvent:
    at: int  # seconds after entering
    kind: str  # email.clicked | email.opened | track | page | form
    name: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        extra = f" {json.dumps(self.properties, sort_keys=True)}" if self.properties else ""
        if self.kind.startswith("email."):
            return f"{self.kind} of {self.name!r}"
        return f"{self.kind} {self.name!r}{extra}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", type=Path, help="the program file, e.g. programs/welcome.yaml")
    parser.add_argument("--contact", type=Path, help="a YAML file with the contact's fields")
    parser.add_argument("--events", type=Path, help="a YAML list of timed events")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a contact field (repeatable), e.g. first_name=Ada",
    )
    parser.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="'AT: WHAT'",
        help="a timed event (repeatable), e.g. '2 days: email.clicked welcome-1'",
    )
    parser.add_argument(
        "--until", default=DEFAULT_UNTIL, help=f"how long to run after entering ({DEFAULT_UNTIL})"
    )
    parser.add_argument(
        "--start", help="when the contact enters (ISO 8601; default 2026-01-05T09:00Z)"
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="the repository (forms/, templates/)"
    )
    parser.add_argument("--verbose", action="store_true", help="show the local cloud's own logs")
    from localcloud.commands import simulate_many

    simulate_many.add_arguments(parser)


def _pairs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r}: write name=value")
        out[name] = yaml.safe_load(value) if value else ""
    return out


def parse_inline_event(text: str) -> PlannedEvent:
    when, sep, what = text.partition(":")
    if not sep or not what.strip():
        raise ValueError(f"{text!r}: write 'AT: WHAT', e.g. '2 days: email.clicked welcome-1'")
    words = shlex.split(what)
    kind, args = words[0], words[1:]
    at = parse_duration(when.strip())
    if kind in ("email.clicked", "email.opened"):
        if len(args) != 1:
            raise ValueError(f"{text!r}: {kind} needs the send_email step id")
        return PlannedEvent(at, kind, args[0])
    if kind in ("track", "form", "page") and args:
        return PlannedEvent(at, kind, args[0], _pairs(args[1:]))
    raise ValueError(f"{text!r}: events are email.clicked, email.opened, track, page or form")


def parse_event(item: dict[str, Any]) -> PlannedEvent:
    if not isinstance(item, dict) or "at" not in item:
        raise ValueError(f"{item!r}: each event needs `at`, e.g. {{at: 2 days, track: purchase}}")
    at = parse_duration(item["at"])
    if item.get("event") in ("email.clicked", "email.opened"):
        if not item.get("email"):
            raise ValueError(f"{item!r}: {item['event']} needs `email`: the send_email step id")
        return PlannedEvent(at, item["event"], str(item["email"]))
    for kind, props in (("track", "properties"), ("page", "properties"), ("form", "fields")):
        if kind in item:
            return PlannedEvent(at, kind, str(item[kind]), dict(item.get(props) or {}))
    if "event" in item:  # {event: purchase, properties: ...} is a track event
        return PlannedEvent(at, "track", str(item["event"]), dict(item.get("properties") or {}))
    raise ValueError(f"{item!r}: give email.clicked/opened, track, page or form")


def _load_contact(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if args.contact:
        loaded = yaml.safe_load(args.contact.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.contact}: a contact is a mapping of fields")
        data.update(loaded)
    data.update(_pairs(args.field))
    data.setdefault("email", "ada@example.com")
    data.setdefault("first_name", "Ada")
    return data


def _load_events(args: argparse.Namespace) -> list[PlannedEvent]:
    events: list[PlannedEvent] = []
    if args.events:
        loaded = yaml.safe_load(args.events.read_text()) or []
        if not isinstance(loaded, list):
            raise ValueError(f"{args.events}: a list of events")
        events += [parse_event(item) for item in loaded]
    events += [parse_inline_event(text) for text in args.event]
    return sorted(events, key=lambda e: e.at)


def assumed_consent(program: Any) -> list[dict[str, str]]:
    """The consents a program's marketing sends need (granted when the contact file says
    nothing about consent, so the simulation shows what a subscriber would get)."""
    from nurture.programs.model import SendEmail, SendSms

    needed = {}
    for step in program.steps:
        if isinstance(step, (SendEmail, SendSms)) and step.purpose == "marketing":
            channel = "email" if isinstance(step, SendEmail) else "sms"
            needed[f"{channel}:{step.topic}"] = {"channel": channel, "topic": step.topic}
    return list(needed.values())


def _make_contact(data: dict[str, Any], now: str) -> Any:
    from nurture.contacts import PROFILE_FIELDS, Consent, Contact
    from nurture.ids import stable_id

    email = str(data["email"]).strip().lower()
    consent: dict[str, Consent] = {}
    for item in data.get("consent") or []:
        ref = {"channel": item} if isinstance(item, str) else dict(item)
        record = Consent.model_validate(
            {
                "channel": ref["channel"],
                "topic": ref.get("topic", "marketing"),
                "status": "granted",
                "at": now,
                "source": "simulate",
            }
        )
        consent[record.key] = record
    known = {"fields", "stage", "score", "tags", "consent", "email"}
    fields = dict(data.get("fields") or {})
    fields.update({k: v for k, v in data.items() if k not in known and k not in PROFILE_FIELDS})
    profile: dict[str, Any] = {
        k: str(v) for k, v in data.items() if k in PROFILE_FIELDS and k != "email"
    }
    return Contact.model_validate(
        {
            "contact_id": stable_id("simulate", email),
            "created_at": now,
            "updated_at": now,
            "email": email,
            **profile,
            "fields": fields,
            "stage": data.get("stage", "subscriber"),
            "score": int(data.get("score", 0)),
            "tags": list(data.get("tags") or []),
            "consent": consent,
        }
    )


class Simulation:
    def __init__(self, program_path: Path, root: Path | None, start: datetime | None):
        from localcloud.cloud import DEFAULT_START, ROOT, LocalCloud

        self.program_path = program_path
        self.cloud = LocalCloud(root=root or ROOT, start=start or DEFAULT_START)
        self.started_at = start or DEFAULT_START
        self.notes: list[tuple[datetime, str]] = []

    def note(self, text: str) -> None:
        self.notes.append((self.cloud.clock.now(), text))

    def deploy(self) -> tuple[Any, dict[str, Any]]:
        from nurture.programs.model import Program

        cloud = self.cloud
        cloud.sync_content(only=[])  # forms and templates; programs: only this one
        source = self.program_path.read_text()
        data = yaml.safe_load(source) or {}
        program_id = data.get("id") if isinstance(data, dict) else None
        key = f"programs/{program_id or self.program_path.stem}.yaml"
        cloud.upload(key, source)
        status = json.loads(cloud.read(key.removesuffix(".yaml") + ".status.json") or "{}")
        program = Program.model_validate(data) if status.get("status") in ("live",) else None
        return program, status

    def enter(self, program: Any, contact: Any) -> bool:
        from localcloud.enrolment import store_with_cause
        from nurture.adapters.dynamodb import DynamoContacts

        cloud = self.cloud
        contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
        now = _iso(cloud.clock.now())
        cause = store_with_cause(contacts, contact, program.id, "simulate", now)
        react = cloud.function_by_name("ReactFunction")
        with cloud._lock, cloud._function_env(react.env):
            entered = react.module.reactor.enrol(program.id, contact, cause)
        cloud.run_until_idle()
        return bool(entered)

    def play(self, contact: Any, event: PlannedEvent, number: int) -> None:
        cloud = self.cloud
        self.note(f"contact does: {event.describe()}")
        if event.kind.startswith("email."):
            sent = [
                e
                for e in cloud.outbox
                if e.tags.get("contact_id") == contact.contact_id
                and e.tags.get("step_id") == event.name
            ]
            if not sent:
                self.note(
                    f"  (no email from step {event.name!r} was sent, so nothing to {event.kind[6:-2]})"
                )
                return
            (cloud.click_email if event.kind == "email.clicked" else cloud.open_email)(sent[-1])
            return
        message_id = f"simulate-{number}"
        if event.kind == "form":
            body = {"email": contact.email, **event.properties, "messageId": message_id}
            status, _, answer = cloud.http("POST", f"/v1/forms/{event.name}", body)
        elif event.kind == "page":
            body = {
                "userId": contact.contact_id,
                "messageId": message_id,
                "properties": {"url": event.name, **event.properties},
            }
            status, _, answer = cloud.http("POST", "/v1/page", body)
        else:
            body = {
                "userId": contact.contact_id,
                "messageId": message_id,
                "event": event.name,
                "properties": event.properties,
            }
            status, _, answer = cloud.http("POST", "/v1/track", body)
        if status >= 300:
            self.note(f"  (the event was rejected: HTTP {status} {answer})")


def _iso(moment: datetime) -> str:
    from nurture import clock

    return clock.iso(moment)


def _why(program: Any, step: str, outcome: str) -> str:
    """Why a branch went where it went, from the program's own conditions."""
    from nurture.programs.conditions import describe
    from nurture.programs.model import Branch, Split

    by_id = {s.id: s for s in program.steps}
    found = by_id.get(step)
    if isinstance(found, Branch) and outcome.startswith("to "):
        target = outcome[3:]
        rules = [describe(r.when) for r in found.branches if r.next == target]
        if rules:
            return " because " + " or ".join(rules)
        return " (no rule held: default)"
    if isinstance(found, Split) and outcome.startswith("variant "):
        for number, variant in enumerate(found.variants):
            if outcome.startswith(f"variant {variant.name or number + 1} "):
                return f" (random, {variant.percent:g}% of contacts)"
    return ""


def _offset(start: datetime, moment: datetime) -> str:
    delta = moment - start
    days, rest = divmod(int(delta.total_seconds()), 86400)
    return f"day {days:>3} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def run(args: argparse.Namespace) -> int:
    if getattr(args, "contacts", None):  # many synthetic contacts (commands/simulate_many.py)
        from localcloud.commands import simulate_many

        return simulate_many.main(args)
    out = sys.stdout
    try:
        contact_data = _load_contact(args)
        events = _load_events(args)
        until = parse_duration(args.until)
        start = datetime.fromisoformat(args.start.replace("Z", "+00:00")) if args.start else None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    noise = io.StringIO()
    quiet = contextlib.nullcontext() if args.verbose else contextlib.redirect_stdout(noise)
    quiet_err = contextlib.nullcontext() if args.verbose else contextlib.redirect_stderr(noise)
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(
        logging.DEBUG if args.verbose else logging.CRITICAL
    )
    sim = Simulation(args.program, args.root, start)
    with quiet, quiet_err:
        sim.cloud.start()
        try:
            program, status = sim.deploy()
            if program is None:
                result = _report_invalid(args.program, status, out)
                return result
            if "consent" not in contact_data:
                contact_data["consent"] = assumed_consent(program)
                topics = ", ".join(f"{c['channel']}:{c['topic']}" for c in contact_data["consent"])
                if topics:
                    sim.note(f"consent assumed granted for {topics} (set `consent:` to change)")
            contact = _make_contact(contact_data, _iso(sim.cloud.clock.now()))
            entered_at = sim.cloud.clock.now()
            entered = sim.enter(program, contact)
            if not entered:
                sim.note("did not enter the program (entry rules or program status)")
            elapsed = 0
            for number, event in enumerate(events, 1):
                if event.at > elapsed:
                    sim.cloud.advance(timedelta(seconds=event.at - elapsed))
                    elapsed = event.at
                sim.play(contact, event, number)
            if until > elapsed:
                sim.cloud.advance(timedelta(seconds=until - elapsed))
            errors = list(sim.cloud.errors)
        finally:
            sim.cloud.__exit__()
    _report(program, status, contact, entered_at, sim, errors, out)
    return 1 if errors else 0


def _report_invalid(path: Path, status: dict[str, Any], out: Any) -> int:
    print(f"{path}: the program is not valid, nothing was simulated", file=out)
    for problem in status.get("problems", []):
        where = f"line {problem['line']}, column {problem['column']}" if "line" in problem else ""
        print(f"  {where} ({problem.get('where')}): {problem['problem']}", file=out)
    return 1


def _report(
    program: Any,
    status: dict[str, Any],
    contact: Any,
    entered_at: datetime,
    sim: Simulation,
    errors: list[str],
    out: Any,
) -> None:
    summary = status.get("summary", {})
    print(f"Program {program.id!r} ({program.name}), version {status.get('version')}", file=out)
    print(f"  trigger: {summary.get('trigger')}", file=out)
    print(f"  entry: {summary.get('entry')}", file=out)
    for condition in summary.get("entry_conditions", []):
        print(f"    if {condition}", file=out)
    for goal in summary.get("goals", []):
        print(f"  goal: {goal}", file=out)
    print(f"Contact {contact.email} (stage {contact.stage}, score {contact.score})", file=out)
    print(f"Timeline (from {entered_at.strftime('%Y-%m-%d %H:%M')} UTC):", file=out)
    lines: list[tuple[datetime, int, str]] = []
    for order, entry in enumerate(sim.cloud.timeline):
        if entry.who != contact.contact_id:
            continue
        what = entry.what
        if what.startswith("branch taken at '"):
            step, outcome = what[len("branch taken at '") :].split("': ", 1)
            what += _why(program, step, outcome)
        lines.append((entry.at, order, what))
    for order, (at, text) in enumerate(sim.notes):
        lines.append((at, -len(sim.notes) + order, text))
    lines.sort(key=lambda item: (item[0], item[1]))
    for at, _, text in lines:
        print(f"  {_offset(entered_at, at)}  {text}", file=out)
    mine = [e for e in sim.cloud.outbox if e.tags.get("contact_id") == contact.contact_id]
    print(f"Sent {len(mine)} email(s):", file=out)
    for email in mine:
        print(
            f"  {_offset(entered_at, email.sent_at)}  {email.tags.get('step_id')}: {email.subject!r}",
            file=out,
        )
    if errors:
        print("Errors:", file=out)
        for error in errors:
            print(f"  {error.strip().splitlines()[-1][:300]}", file=out)
