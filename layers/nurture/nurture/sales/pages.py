"""The pages behind a salesperson's signed links. A GET shows what the link will do and a
form; only the POST of that form acts (mail scanners prefetch links, and must change
nothing). Tampered, expired or misdirected links get a 4xx page; nothing is logged that
could identify the lead."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from nurture import clock
from nurture.delivery.tokens import InvalidToken
from nurture.ids import stable_id
from nurture.ports import StateStore
from nurture.sales.links import AnswerLink, read_answer, read_tasks

if TYPE_CHECKING:
    from jinja2 import Template

    from nurture.sales.desk import SalesDesk

MAX_REASON = 500

_LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1rem}label{display:block;margin:.75rem 0}</style></head>
<body><h1>{{ title }}</h1>{{ body }}</body></html>"""

_ANSWER_FORM = """
<p>{{ question }}</p>
<p><strong>{{ name }}</strong>{% if company %}, {{ company }}{% endif %}</p>
<form method="post">
{% if answer == "recycle" %}
<label>Hand back to sales in <input name="days" type="number" min="1" max="3650" value="{{ days }}"> days</label>
{% endif %}
{% if answer != "accept" %}
<label>Reason<br><textarea name="reason" rows="3" cols="40" maxlength="500"></textarea></label>
{% endif %}
<button type="submit">{{ button }}</button>
</form>"""

_TASKS = """
{% if done %}<p>Done: {{ done }}</p>{% endif %}
{% for task in tasks %}
<form method="post"><p>{{ task.due }} - {{ task.title }}
<input type="hidden" name="task_id" value="{{ task.task_id }}">
<button type="submit">Mark done</button></p></form>
{% else %}<p>No open tasks.</p>{% endfor %}"""

QUESTIONS = {
    "accept": ("Accept this lead?", "Accept: I will contact them"),
    "recycle": ("Interested, but not now? The lead goes back to nurturing.", "Not now"),
    "disqualify": ("Not a fit? The lead leaves the sales pipeline.", "Not a fit"),
}
DONE = {
    "accept": "Accepted. The lead is yours (stage SQL).",
    "recycle": "The lead is back in nurturing; you will hear again if they warm up.",
    "disqualify": "Marked as not a fit.",
}


class LinkRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@cache
def _template(source: str) -> Template:
    """One of this module's templates, compiled once. jinja2 is imported here, not with the
    module: the sales function's usual first calls (a task done from the admin API, a CRM
    post-back) render no page, and its cold start should not pay for it (#9)."""
    from jinja2 import Environment

    env = Environment(autoescape=True)  # every value is escaped: lead data is untrusted
    return env.from_string(source)


def page(title: str, body_html: str) -> str:
    """`body_html` must already be escaped (rendered with autoescape)."""
    from markupsafe import Markup

    return _template(_LAYOUT).render(title=title, body=Markup(body_html))  # noqa: S704


@dataclass
class SalesPages:
    desk: SalesDesk
    state: StateStore

    def _answer_link(self, token: str) -> AnswerLink:
        try:
            return read_answer(self.desk.policy, token, int(clock.now().timestamp()))
        except InvalidToken as exc:
            raise LinkRefused(403 if "signature" in str(exc) else 400, _why(exc)) from None

    def answer_view(self, token: str) -> str:
        # the desk's modules load with the desk, on the sales function's first call (#9)
        from nurture.sales.summary import display_name

        link = self._answer_link(token)
        contact = self.desk.contacts.get(link.contact_id)
        if contact is None:
            raise LinkRefused(404, "This lead no longer exists.")
        handoff = self.desk.sales.get_handoff(link.contact_id)
        if handoff is not None and handoff.mql_id == link.handoff and handoff.status != "notified":
            return page(
                "Already answered", f"<p>{_template('{{ s }}').render(s=handoff.status)}</p>"
            )
        question, button = QUESTIONS[link.answer]
        body = _template(_ANSWER_FORM).render(
            question=question,
            button=button,
            answer=link.answer,
            name=display_name(contact),
            company=contact.company or "",
            days=self.desk.team.recycle.days,
        )
        return page(question.split("?")[0] + "?", body)

    def answer_post(self, token: str, form: dict[str, str]) -> str:
        from nurture.sales.desk import AnswerRefused  # loaded with the desk (#9)

        link = self._answer_link(token)
        reason = (form.get("reason") or "").strip()
        if len(reason) > MAX_REASON:
            raise LinkRefused(400, f"reason: at most {MAX_REASON} characters")
        days: int | None = None
        if link.answer == "recycle" and form.get("days"):
            try:
                days = int(form["days"])
            except ValueError:
                raise LinkRefused(400, "days: a whole number of days, 1 to 3650") from None
            if not 1 <= days <= 3650:
                raise LinkRefused(400, "days: a whole number of days, 1 to 3650")
        try:
            applied, _ = self.desk.answer(
                link.contact_id,
                link.answer,
                by=link.owner,
                handoff_id=link.handoff,
                reason=reason,
                days=days,
            )
        except AnswerRefused as exc:
            raise LinkRefused(exc.status, str(exc)) from None
        title = "Thank you" if applied else "Already done"
        return page(title, _template("<p>{{ m }}</p>").render(m=DONE[link.answer]))

    # --- tasks -----------------------------------------------------------------------------
    def _tasks_link(self, token: str) -> tuple[str, str | None]:
        try:
            link = read_tasks(self.desk.policy, token, int(clock.now().timestamp()))
        except InvalidToken as exc:
            raise LinkRefused(403 if "signature" in str(exc) else 400, _why(exc)) from None
        return link.assignee, link.task_id

    def tasks_view(self, token: str) -> str:
        assignee, only = self._tasks_link(token)
        tasks = self._open(assignee, only)
        return page("Your tasks", _template(_TASKS).render(tasks=tasks, done=""))

    def tasks_post(self, token: str, form: dict[str, str]) -> str:
        assignee, only = self._tasks_link(token)
        task_id = form.get("task_id") or only
        if not task_id:
            raise LinkRefused(400, "task_id: which task is done")
        if only is not None and task_id != only:
            raise LinkRefused(403, "this link is for another task")
        task = self.complete(assignee, task_id, source="link")
        tasks = self._open(assignee, None)
        return page("Your tasks", _template(_TASKS).render(tasks=tasks, done=task.title))

    def complete(self, assignee: str, task_id: str, source: str) -> Any:
        task = self.desk.sales.complete_task(assignee, task_id, clock.iso(clock.now()))
        if task is None:
            raise LinkRefused(404, "There is no such task.")
        if task.contact_id:
            from nurture.runtime.records import record_activity

            record_activity(
                self.desk.activities,
                task.contact_id,
                "task.completed",
                stable_id("task", assignee, task_id),
                {"task_id": task_id, "assignee": assignee, "title": task.title, "by": source},
            )
        return task

    def _open(self, assignee: str, only: str | None) -> list[dict[str, Any]]:
        return [
            {"task_id": t.task_id, "title": t.title, "due": t.due[:16].replace("T", " ")}
            for t in self.state.tasks_for(assignee)
            if t.status == "open" and (only is None or t.task_id == only)
        ]


def _why(exc: InvalidToken) -> str:
    text = str(exc)
    if "expired" in text:
        return "This link has expired. Use the buttons in a newer email."
    if "signature" in text:
        return "This link is not valid (it was changed or is not from us)."
    return "This link is not valid."
