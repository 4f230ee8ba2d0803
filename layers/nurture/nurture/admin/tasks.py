"""Tasks in the console: by assignee and status, and marking one done (the sales task store,
as the salesperson's own task link does: the task's `task.completed` activity included)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from nurture import clock
from nurture.admin.errors import AdminError, parse
from nurture.admin.profile import task_view
from nurture.ids import stable_id
from nurture.ports import ActivityStore, StateStore, Task
from nurture.runtime.records import record_activity

STATUSES = ("open", "done")


class TaskStore(Protocol):
    def complete_task(self, assignee: str, task_id: str, at: str) -> Task | None: ...


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=3, max_length=320, pattern=r"@")


def listing(
    state: StateStore, assignee: str | None, status: str | None, team: list[str]
) -> dict[str, Any]:
    """The tasks of `assignee` (default: everyone in sales/team.yaml), soonest due first."""
    if status is not None and status not in STATUSES:
        raise AdminError(400, "status must be open or done", "status")
    if assignee is not None and (len(assignee) > 320 or "@" not in assignee):
        raise AdminError(400, "assignee must be an email address", "assignee")
    who = [assignee.strip().lower()] if assignee else sorted(set(team))
    tasks = [t for person in who for t in state.tasks_for(person)]
    shown = [task_view(t) for t in tasks if status is None or t.status == status]
    return {"tasks": sorted(shown, key=lambda t: (t["due"], t["task_id"]))}


def complete(
    store: TaskStore, activities: ActivityStore, task_id: str, body: Any
) -> dict[str, Any]:
    request = parse(CompleteRequest, body)
    assignee = request.assignee.strip().lower()
    task = store.complete_task(assignee, task_id, clock.iso(clock.now()))
    if task is None:
        raise AdminError(404, "no such task for this assignee", "task_id")
    if task.contact_id:
        record_activity(
            activities,
            task.contact_id,
            "task.completed",
            stable_id("task", assignee, task_id),
            {"task_id": task_id, "assignee": assignee, "title": task.title, "by": "admin"},
        )
    return {"task_id": task.task_id, "status": "done"}
