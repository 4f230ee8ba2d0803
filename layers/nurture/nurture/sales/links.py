"""Signed links a salesperson follows from an email: the three answers to a hand-off, and
their task list. HMAC tokens (nurture.delivery.tokens); a GET only shows what the link will
do, a POST does it, so mail scanners that prefetch links change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.tokens import (
    SALES_ANSWER,
    SALES_TASKS,
    InvalidToken,
    LinkToken,
    sign,
    verify,
)

Answer = Literal["accept", "recycle", "disqualify"]
ANSWERS: tuple[Answer, ...] = ("accept", "recycle", "disqualify")
ANSWER_LINK_DAYS = 30
TASK_LINK_DAYS = 14


@dataclass(frozen=True)
class AnswerLink:
    contact_id: str
    owner: str
    handoff: str  # the hand-off's MQL activity id: a link from an earlier hand-off is stale
    answer: Answer


@dataclass(frozen=True)
class TaskLink:
    assignee: str
    task_id: str | None  # None: the whole list


def answer_url(policy: DeliveryPolicy, link: AnswerLink, now: int) -> str:
    token = LinkToken(
        contact_id=link.contact_id,
        purpose=SALES_ANSWER,
        expires_at=now + ANSWER_LINK_DAYS * 86400,
        scope={"o": link.owner, "h": link.handoff, "a": link.answer},
    )
    return policy.link("sales", sign(policy.secrets, token))


def read_answer(policy: DeliveryPolicy, text: str, now: int) -> AnswerLink:
    token = verify(policy.secrets, text, SALES_ANSWER, now)
    answer = token.scope.get("a")
    owner, handoff = token.scope.get("o"), token.scope.get("h")
    if answer not in ANSWERS or not isinstance(owner, str) or not isinstance(handoff, str):
        raise InvalidToken("malformed token")
    return AnswerLink(token.contact_id, owner, handoff, answer)


def tasks_url(policy: DeliveryPolicy, assignee: str, now: int, task_id: str | None = None) -> str:
    scope = {"t": task_id} if task_id else {}
    token = LinkToken(
        contact_id=assignee,
        purpose=SALES_TASKS,
        expires_at=now + TASK_LINK_DAYS * 86400,
        scope=scope,
    )
    return policy.link("sales/tasks", sign(policy.secrets, token))


def read_tasks(policy: DeliveryPolicy, text: str, now: int) -> TaskLink:
    token = verify(policy.secrets, text, SALES_TASKS, now)
    task_id = token.scope.get("t")
    if task_id is not None and not isinstance(task_id, str):
        raise InvalidToken("malformed token")
    return TaskLink(token.contact_id, task_id)
