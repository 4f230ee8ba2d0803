"""Program step actions besides sending: branch, split, wait_until, update_contact, score,
notify_sales, webhook, create_task and start_program.

Each is registered in `nurture.runtime.steps.ACTIONS` and receives the step's own fields as `params`.
Results the compiled program reads:

    branch, split     {"next": "<step id>"}
    wait_until        {"wait_until": "<ISO 8601 UTC>"}  (a moment already past: at once)
    any step          {"status": "stop"} ends the run (e.g. wait_until with no date to wait for)

Every action is safe to retry: changes to a contact are keyed by execution + step, so a
retried step never scores twice, notifies twice or creates a second task.

Webhook errors, for the compiled Task's Retry/Catch:
    WebhookRetryable  a transient failure (timeout, connection, 408/425/429/5xx) before the
                      last attempt: the compiler's WEBHOOK_RETRY retries it with backoff.
    WebhookFailed     the last attempt failed or the call can never work (other 4xx, redirects,
                      a special-purpose address, no secret). `webhook.failed` is already recorded on
                      the contact; the Task's Catch goes on at `on_failure` (default: next).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nurture import clock
from nurture.contacts import Contact, looks_like_email
from nurture.dates import moment_from_field, zone_of
from nurture.ids import stable_id
from nurture.ports import OutgoingEmail, Task
from nurture.programs.compiler import LONG_WAIT_SECONDS, WEBHOOK_RETRY
from nurture.programs.conditions import contact_value
from nurture.programs.durations import parse_duration, parse_offset
from nurture.programs.model import step_from_params
from nurture.rendering import EmailTemplate, load_template, render_email
from nurture.runtime.field_budget import record_dropped
from nurture.runtime.identity import apply_fields
from nurture.runtime.react import Reactor
from nurture.runtime.records import contact_actors, record_activity, record_changes
from nurture.runtime.steps import StepFailed, StepRequest, StepRunner, action
from nurture.runtime.view import ContactView
from nurture.secrets import DEFAULT_WEBHOOK_SECRET, WEBHOOK_SECRETS, SecretMissing, webhook_secret
from nurture.settings import load
from nurture.settings.actions import ActionSettings
from nurture.tracking.events import Activity
from nurture.webhooks import transport
from nurture.webhooks.signing import SIGNATURE_HEADER, signature

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

# The first call and the compiled Task's retries of WebhookRetryable.
WEBHOOK_ATTEMPTS = 1 + int(str(WEBHOOK_RETRY["MaxAttempts"]))
WEBHOOK_USER_AGENT = "Nurture-Webhook/1"
WEBHOOK_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
RECENT_ACTIVITY = 10  # how much of what the contact did a sales notification lists


@cache
def _text() -> SandboxedEnvironment:
    # jinja2 is imported for the first step that renders text, not with the steps function:
    # a wait, a branch or a tag never needs it.
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False)


class WebhookRetryable(Exception):
    """A transient webhook failure; the program's Task retries it with backoff."""


class WebhookFailed(Exception):
    """The webhook call failed for good; recorded as `webhook.failed` on the contact."""


# --- helpers ---------------------------------------------------------------------------------
def _contact(runner: StepRunner, request: StepRequest) -> Contact:
    contact = runner.contacts.get(request.contact_id)
    if contact is None:
        raise StepFailed(f"contact {request.contact_id} does not exist")
    return contact


def _key(request: StepRequest) -> str:
    """What makes one run of one step unique: retries share it."""
    return f"{request.execution}#{request.step_id}"


def _origin(request: StepRequest) -> dict[str, str]:
    return {
        "program_id": request.program_id,
        "step_id": request.step_id,
        "execution": request.execution,
    }


def _render(source: str, context: dict[str, Any], what: str) -> str:
    from jinja2 import TemplateError

    try:
        return _text().from_string(source).render(context)
    except TemplateError as exc:
        raise StepFailed(f"{what}: {exc}") from exc


def _context(contact: Contact, request: StepRequest) -> dict[str, Any]:
    return {
        "contact": contact.template_context(),
        "program": {"id": request.program_id},
        "step": {"id": request.step_id},
    }


def _owner(contact: Contact) -> str | None:
    for name in ("owner", "owner_email"):
        value = contact.fields.get(name)
        if isinstance(value, str) and looks_like_email(value):
            return value.strip().lower()
    return None


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- branch, split ---------------------------------------------------------------------------
@action("branch")
def branch(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    """The first rule whose condition holds for the contact (and what they did) wins."""
    step = step_from_params("branch", request.step_id, request.params)
    view = ContactView(_contact(runner, request), runner.activities)
    now = clock.now()
    taken = next((rule.next for rule in step.branches if view.holds(rule.when, now)), None)
    taken = taken or step.default
    # recorded so funnels show the step reached and the way taken
    record_activity(
        runner.activities,
        request.contact_id,
        "program.branched",
        _key(request),
        {**_origin(request), "next": taken},
    )
    return {"next": taken}


def split_bucket(execution: str, step_id: str) -> float:
    """A stable number in [0, 100) per run and step: a retry lands in the same variant."""
    return int(stable_id(execution, step_id)[:12], 16) % 10_000 / 100


@action("split")
def split(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    step = step_from_params("split", request.step_id, request.params)
    bucket = split_bucket(request.execution, request.step_id)
    total = sum(v.percent for v in step.variants)
    edge = 0.0
    chosen = step.variants[-1]
    for variant in step.variants:
        edge += variant.percent * 100 / total  # shares, in case they do not sum to exactly 100
        if bucket < edge:
            chosen = variant
            break
    extra: dict[str, Any] = {}
    if step.auto_winner and runner.split_decisions:
        # once a winner is decided, later entrants go to it; holdouts keep their share
        decided = runner.split_decisions.get(request.program_id, request.step_id)
        if decided is None:
            runner.split_decisions.note_pending(request.program_id, request.step_id)
        name = chosen.name or chosen.next
        if decided and name not in decided.get("holdouts", []):
            chosen = next(
                (v for v in step.variants if (v.name or v.next) == decided["winner"]), chosen
            )
            extra = {"by": "auto_winner"}
    record_activity(
        runner.activities,
        request.contact_id,
        "program.split",
        _key(request),
        {**_origin(request), "variant": chosen.name or chosen.next, "next": chosen.next, **extra},
    )
    return {"next": chosen.next}


# --- wait_until ------------------------------------------------------------------------------
@action("wait_until")
def wait_until(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    step = step_from_params("wait_until", request.step_id, request.params)
    now = clock.now()
    if step.at is not None:
        moment: datetime | None = step.at
    else:
        contact = _contact(runner, request)
        found, value = contact_value(contact.model_dump(mode="json"), step.field)
        moment = moment_from_field(
            value if found else None,
            zone_of(contact),
            now,
            parse_offset(step.offset),
            step.yearly,
            step.time_of_day,
        )
        if moment is None:
            record_activity(
                runner.activities,
                request.contact_id,
                "program.stopped",
                _key(request),
                {**_origin(request), "reason": f"no date in field {step.field!r} to wait for"},
            )
            return {"status": "stop", "wait_until": _iso_seconds(now)}
    assert moment is not None
    result: dict[str, Any] = {"status": "waiting", "wait_until": _iso_seconds(max(moment, now))}
    if moment - now > timedelta(seconds=LONG_WAIT_SECONDS):
        result["far"] = True  # longer than one execution should wait: resume by a schedule
    return result


# --- update_contact, score -------------------------------------------------------------------
@action("update_contact")
def update_contact(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    step = step_from_params("update_contact", request.step_id, request.params)
    if "email" in step.set:
        raise StepFailed("update_contact cannot change the email address (it is the identity)")

    def change(contact: Contact) -> dict[str, Any] | None:
        changes = apply_fields(contact, dict(step.set))
        if step.stage and step.stage != contact.stage:
            changes.stage = {"from": contact.stage, "to": step.stage}
            contact.stage = step.stage
        tags = [t for t in contact.tags if t not in step.remove_tags]
        tags += [t for t in dict.fromkeys(step.add_tags) if t not in tags]
        if tags != contact.tags:
            contact.tags = tags
            changes.set.append("tags")
            changes.replaced.append("tags")
        # fields over the contact's budget (nurture.runtime.field_budget): kept in the note
        dropped = {"dropped": changes.dropped} if changes.dropped else {}
        if not changes:
            return {"fields": [], "stage": None, "unchanged": True, **dropped} if dropped else None
        contact.updated_at = clock.iso(clock.now())
        return {"fields": changes.replaced, "stage": changes.stage, **dropped}

    try:
        _, note = runner.contacts.apply_once(request.contact_id, _key(request), change)
    except KeyError:
        raise StepFailed(f"contact {request.contact_id} does not exist") from None
    if note:
        record_changes(runner.activities, request.contact_id, _key(request), note, _origin(request))
    if note and note.get("dropped"):
        record_dropped(runner.activities, request.contact_id, _key(request), note["dropped"])
    return {"status": "updated" if note and not note.get("unchanged") else "unchanged"}


@action("score")
def score(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    step = step_from_params("score", request.step_id, request.params)

    def change(contact: Contact) -> dict[str, Any]:
        old = contact.score
        contact.score = old + step.add
        contact.updated_at = clock.iso(clock.now())
        return {"old": old, "new": contact.score}

    try:
        _, note = runner.contacts.apply_once(request.contact_id, _key(request), change)
    except KeyError:
        raise StepFailed(f"contact {request.contact_id} does not exist") from None
    assert note is not None
    record_activity(
        runner.activities,
        request.contact_id,
        "contact.score_changed",
        _key(request),
        {
            **_origin(request),
            "old": note["old"],
            "new": note["new"],
            "delta": step.add,
            "reason": step.reason,
        },
    )
    return {"status": "scored", "score": note["new"]}


# --- notify_sales ----------------------------------------------------------------------------
def describe_activity(activity: Activity) -> str | None:
    """One line for a salesperson, or None for what does not show buying interest (email
    deliveries and opens, newsletter reading, what the system itself recorded)."""
    props = activity.properties
    if activity.kind == "page":
        where = activity.page.get("title") or activity.page.get("url") or activity.name
        return f"viewed {where}"
    if activity.kind == "form":
        return f"submitted the form {activity.name!r}"
    if activity.kind == "track":
        details = ", ".join(
            f"{k}: {v}" for k, v in props.items() if isinstance(v, (str, int, float))
        )[:120]
        return f"{activity.name}" + (f" ({details})" if details else "")
    if activity.name == "email.clicked":
        return f"clicked {props.get('link') or 'a link'} in an email"
    return None


_SALES_TEMPLATE = EmailTemplate(
    subject="Sales-ready lead: {{ name }}{% if contact.company %} ({{ contact.company }}){% endif %}",
    preheader="{{ message }}",
    html="""<p>{{ message }}</p>
<table>
<tr><td>Name</td><td>{{ name }}</td></tr>
<tr><td>Email</td><td>{{ contact.email }}</td></tr>
{% if contact.phone %}<tr><td>Phone</td><td>{{ contact.phone }}</td></tr>{% endif %}
{% if contact.company %}<tr><td>Company</td><td>{{ contact.company }}</td></tr>{% endif %}
{% if contact.job_title %}<tr><td>Title</td><td>{{ contact.job_title }}</td></tr>{% endif %}
<tr><td>Stage</td><td>{{ contact.stage }}</td></tr>
<tr><td>Score</td><td>{{ contact.score }}</td></tr>
</table>
<p>What they did recently:</p>
<ul>{% for a in activities %}<li>{{ a.at }}: {{ a.what }}</li>{% else %}<li>nothing tracked yet</li>{% endfor %}</ul>
<p>Program {{ program.id }}.</p>""",
    text="""{{ message }}

Name:    {{ name }}
Email:   {{ contact.email }}
{% if contact.phone %}Phone:   {{ contact.phone }}
{% endif %}{% if contact.company %}Company: {{ contact.company }}
{% endif %}{% if contact.job_title %}Title:   {{ contact.job_title }}
{% endif %}Stage:   {{ contact.stage }}
Score:   {{ contact.score }}

What they did recently:
{% for a in activities %}- {{ a.at }}: {{ a.what }}
{% else %}- nothing tracked yet
{% endfor %}
Program {{ program.id }}.
""",
)


@action("notify_sales")
def notify_sales(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    """Email the contact's owner (custom field `owner`), else the sales address, with who
    the contact is and what they did. A service message to a colleague: no consent needed,
    and not tagged with the contact, so the salesperson's opens are not the contact's."""
    step = step_from_params("notify_sales", request.step_id, request.params)
    send_key = f"sales#{_key(request)}"
    already = runner.state.claim_send(send_key)
    if already is not None:
        return {"status": "already_sent", "message_id": already}
    contact = _contact(runner, request)
    settings = load(ActionSettings)
    owner = _owner(contact)
    to = owner or settings.sales_email or runner.sender
    history = runner.activities.list_for(contact_actors(contact), 200)
    recent = []
    for activity in history:
        what = describe_activity(activity)
        if what:
            recent.append({"at": activity.occurred_at[:16].replace("T", " "), "what": what})
        if len(recent) >= RECENT_ACTIVITY:
            break
    context = _context(contact, request)
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or contact.email
    context.update(name=name, activities=recent)
    context["message"] = _render(step.message, context, "notify_sales message").strip()
    template = load_template(runner.blobs, step.template) if step.template else _SALES_TEMPLATE
    rendered = render_email(template, context)
    message_id = runner.mailer.send(
        OutgoingEmail(
            to=to,
            sender=runner.sender,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            tags={"purpose": "sales_notification", **_origin(request)},
            headers={},
        )
    )
    runner.state.record_send(send_key, message_id)
    record_activity(
        runner.activities,
        request.contact_id,
        "sales.notified",
        _key(request),
        {**_origin(request), "recipient": "owner" if owner else "sales team"},
    )
    return {"status": "sent", "message_id": message_id}


# --- create_task -----------------------------------------------------------------------------
@action("create_task")
def create_task(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    """A task for a person or a role (e.g. 'coordinator'); 'owner' is the contact's owner."""
    step = step_from_params("create_task", request.step_id, request.params)
    contact = _contact(runner, request)
    context = _context(contact, request)
    assignee = step.assignee.strip()
    if assignee == "owner":
        assignee = _owner(contact) or load(ActionSettings).sales_email or "sales"
    now = clock.now()
    due = now + timedelta(seconds=parse_duration(step.due)) if step.due is not None else now
    task = Task(
        task_id=stable_id("task", _key(request), length=20),
        assignee=assignee.lower(),
        title=_render(step.title, context, "create_task title").strip(),
        due=clock.iso(due),
        created_at=clock.iso(now),
        contact_id=contact.contact_id,
        program_id=request.program_id,
    )
    runner.state.add_task(task)
    record_activity(
        runner.activities,
        contact.contact_id,
        "task.created",
        _key(request),
        {
            **_origin(request),
            "task_id": task.task_id,
            "assignee": task.assignee,
            "title": task.title,
            "due": task.due,
        },
    )
    return {"status": "created", "task_id": task.task_id}


# --- start_program ---------------------------------------------------------------------------
@action("start_program")
def start_program(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    """Enrol the contact in another program, by the same entry rules as a trigger."""
    step = step_from_params("start_program", request.step_id, request.params)
    contact = _contact(runner, request)
    now = clock.iso(clock.now())
    cause = Activity(
        actor=f"contact:{contact.contact_id}",
        contact_id=contact.contact_id,
        message_id=stable_id("start_program", _key(request)),
        kind="program",
        name="program.started_by",
        occurred_at=now,
        received_at=now,
        properties={**_origin(request), "program": step.program},
    )
    reactor = Reactor(runner.contacts, runner.activities, runner.state, runner.workflows)
    entered = reactor.enrol(step.program, contact, cause)
    return {"status": "started" if entered else "not_entered", "program": step.program}


# --- webhook ---------------------------------------------------------------------------------
def _render_json(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _render(value, context, "webhook body")
    if isinstance(value, dict):
        return {k: _render_json(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_json(v, context) for v in value]
    return value


def _body(step: Any, contact: Contact, request: StepRequest) -> tuple[bytes, str]:
    context = _context(contact, request)
    if step.body is None:
        payload: Any = {
            "event": "nurture.program_step",
            "program_id": request.program_id,
            "step_id": request.step_id,
            "contact": {
                k: v
                for k, v in contact.template_context().items()
                if k
                in (
                    "contact_id",
                    "email",
                    "first_name",
                    "last_name",
                    "company",
                    "stage",
                    "score",
                    "tags",
                )
            },
        }
        return json.dumps(payload).encode(), "application/json"
    if isinstance(step.body, str):
        text = _render(step.body, context, "webhook body")
        try:
            json.loads(text)
            return text.encode(), "application/json"
        except ValueError:
            return text.encode(), "text/plain; charset=utf-8"
    return json.dumps(_render_json(step.body, context)).encode(), "application/json"


def check_destination(url: str, allowed: set[str]) -> str | None:
    """Why the URL may not be called (None: it may): HTTPS to a public address only, unless
    the host is in WEBHOOK_ALLOW_HOSTS. Raises WebhookRetryable when the name does not
    resolve. (The webhook step itself calls the address this vetted: `transport.vet`.)"""
    try:
        transport.vet(url, allowed)
    except transport.Refused as exc:
        return str(exc)
    except transport.Unresolved as exc:
        raise WebhookRetryable(str(exc)) from None
    return None


def _secret(name: str | None) -> str:
    """The step's signing secret from Parameter Store (`webhook-secrets`), "" if none."""
    try:
        return webhook_secret(name)
    except SecretMissing:
        return ""


@action("webhook")
def webhook(runner: StepRunner, request: StepRequest) -> dict[str, Any]:
    step = step_from_params("webhook", request.step_id, request.params)
    contact = _contact(runner, request)
    settings = load(ActionSettings)
    host = (urlsplit(step.url).hostname or "?").lower()
    base = {**_origin(request), "host": host, "method": step.method}

    def failed(reason: str, status: int | None = None, attempts: int = 1) -> WebhookFailed:
        record_activity(
            runner.activities,
            contact.contact_id,
            "webhook.failed",
            _key(request),
            {**base, "reason": reason, "status": status, "attempts": attempts},
        )
        return WebhookFailed(f"webhook to {host} failed: {reason}")

    secret = _secret(step.secret)
    if not secret:
        entry = step.secret or DEFAULT_WEBHOOK_SECRET
        raise failed(f"no signing secret is configured ({WEBHOOK_SECRETS} has no {entry!r})")
    body, content_type = _body(step, contact, request)
    if step.method in ("GET", "DELETE"):
        body = b""
    headers = {
        **step.headers,
        "User-Agent": WEBHOOK_USER_AGENT,
        # Over method, URL, time and body (nurture.webhooks.signing).
        SIGNATURE_HEADER: signature(
            secret, int(clock.now().timestamp()), step.method, step.url, body
        ),
        # The same for every retry of this step, so the receiver can drop duplicates.
        "X-Nurture-Delivery": stable_id("webhook", _key(request)),
    }
    if body:
        headers["Content-Type"] = content_type
    status: int | None = None
    try:
        # Resolved once and vetted; the call goes to that address (no second lookup).
        destination = transport.vet(step.url, settings.allowed_hosts())
        status = transport.call(
            destination, step.method, body, headers, settings.webhook_timeout_seconds
        )
    except transport.Refused as exc:
        raise failed(str(exc)) from None
    except (transport.Unresolved, transport.CallFailed) as exc:
        reason = str(exc)
        retryable = True
    else:
        reason = f"HTTP {status}"
        retryable = status in WEBHOOK_RETRYABLE_STATUS
    if status is not None and 200 <= status < 300:
        record_activity(
            runner.activities,
            contact.contact_id,
            "webhook.sent",
            _key(request),
            {**base, "status": status},
        )
        return {"status": "sent", "http_status": status}
    if not retryable:
        raise failed(reason, status)
    attempts = runner.state.count_attempt(
        f"webhook#{_key(request)}", int(clock.now().timestamp()) + 7 * 86400
    )
    if attempts < WEBHOOK_ATTEMPTS:
        raise WebhookRetryable(
            f"webhook to {host}: {reason} (attempt {attempts} of {WEBHOOK_ATTEMPTS})"
        )
    raise failed(reason, status, attempts)
