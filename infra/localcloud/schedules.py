"""Schedules on the virtual clock: EventBridge Scheduler one-time schedules and the
functions' `Schedule` events (rate/cron)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

from localcloud.constants import ACCOUNT, REGION
from localcloud.faults import scheduler_source


class _Schedules:
    """EventBridge Scheduler one-time schedules (`at(...)`), fired on the virtual clock:
    moto's scheduler only stores them. Targets: Step Functions StartExecution, either a
    state machine (version, alias) ARN with Input = the execution input, or the universal
    target aws-sdk:sfn:startExecution; and the universal target aws-sdk:sfn:sendTaskSuccess. Executions are named `<program>-r<hash>--<contact>`
    here (AWS names them itself) so the timeline can tell whose they are."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud

    def _due(self) -> list[tuple[datetime, Any, Any]]:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[ACCOUNT][REGION]
        out = []
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                match = re.fullmatch(r"at\((.+)\)", schedule.schedule_expression or "")
                if match and schedule.state != "DISABLED":
                    when = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
                    when = self._retries().get(schedule.arn, (0, when))[1]  # a retry is due
                    out.append((when, group, schedule))
        return sorted(out, key=lambda item: (item[0], item[2].name))

    def next_due(self) -> datetime | None:
        due = self._due()
        return due[0][0] if due else None

    def fire(self, now: datetime) -> None:
        with scheduler_source():  # what Scheduler calls can be faulted (localcloud.faults)
            self._fire(now)

    def _fire(self, now: datetime) -> None:
        sfn = self.cloud.client("stepfunctions")
        for when, group, schedule in self._due():
            if when > now:
                break
            target = schedule.target
            if target["Arn"] == "arn:aws:scheduler:::aws-sdk:sfn:sendTaskSuccess":
                try:
                    self._send_task_success(sfn, target)
                except Exception as exc:  # noqa: BLE001 - retried, or dead-lettered
                    if self._retry_later(schedule, exc, now):
                        continue
                    self.cloud.errors.append(f"schedule {schedule.name}: {exc}")
                    self._dead_letter(schedule, exc)
                self._done(group, schedule)
                continue
            try:
                if target["Arn"] == "arn:aws:scheduler:::aws-sdk:sfn:startExecution":
                    call = json.loads(target.get("Input") or "{}")
                    sfn.start_execution(
                        stateMachineArn=call["StateMachineArn"],
                        name=call.get("Name"),
                        input=call.get("Input", "{}"),
                    )
                elif ":states:" in target["Arn"]:
                    data = json.loads(target.get("Input") or "{}")
                    program = target["Arn"].split(":")[6].split("-program-", 1)[-1]
                    tag = uuid.uuid5(uuid.NAMESPACE_URL, schedule.name).hex[:6]
                    name = f"{program[:38]}-r{tag}--{data.get('contact_id', 'unknown')}"[:80]
                    sfn.start_execution(
                        stateMachineArn=target["Arn"], name=name, input=target.get("Input", "{}")
                    )
                else:
                    self.cloud.errors.append(
                        f"schedule {schedule.name}: target {target['Arn']} not simulated"
                    )
                payload = json.loads(target.get("Input") or "{}")
                if "StateMachineArn" in payload:  # the universal target: the API call's parameters
                    payload = json.loads(payload.get("Input") or "{}")
                who = payload.get("contact_id") if isinstance(payload, dict) else None
                self.cloud._emit(who or "scheduler", f"resumed by schedule {schedule.name!r}")
            except Exception as exc:  # noqa: BLE001 - shown like a failed invocation
                if self._retry_later(schedule, exc, now):
                    continue
                self.cloud.errors.append(f"schedule {schedule.name}: {type(exc).__name__}: {exc}")
                self._dead_letter(schedule, exc)
            self._done(group, schedule)

    def _retries(self) -> dict[str, tuple[int, datetime]]:
        """Schedules whose target failed with a retryable error: attempts, next attempt."""
        retries: dict[str, tuple[int, datetime]] = self.cloud.__dict__.setdefault(
            "_schedule_retries", {}
        )
        return retries

    def _retry_later(self, schedule: Any, exc: Exception, now: datetime) -> bool:
        """Scheduler retries a throttled or failed (5xx) target call within the target's
        RetryPolicy (185 attempts, 24 hours by default), backing off; client errors are
        not retried. True when another attempt is due later."""
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        retryable = status >= 500 or status == 429 or "Throttl" in code or "TooMany" in code
        policy = schedule.target.get("RetryPolicy") or {}
        attempt, _ = self._retries().pop(schedule.arn, (0, now))
        first = datetime.fromisoformat(schedule.schedule_expression[3:-1]).replace(tzinfo=UTC)
        delay = timedelta(minutes=min(2**attempt, 60))
        age = (now + delay - first).total_seconds()
        condition = (
            "NonRetryableError"
            if not retryable
            else "MaximumRetryAttemptsExceeded"
            if attempt >= int(policy.get("MaximumRetryAttempts", 185))
            else "MaximumEventAgeExceeded"
            if age > int(policy.get("MaximumEventAgeInSeconds", 86400))
            else None
        )
        if condition is not None:
            self._exhausted = (attempt, condition)
            return False
        self._retries()[schedule.arn] = (attempt + 1, now + delay)
        self.cloud._emit("scheduler", f"schedule {schedule.name!r}: {code}, retried later")
        return True

    @staticmethod
    def _done(group: Any, schedule: Any) -> None:
        if schedule.action_after_completion == "DELETE":
            group.schedules.pop(schedule.name, None)
        else:
            schedule.state = "DISABLED"  # a one-time schedule that ran stays, inert

    def _send_task_success(self, sfn: Any, target: dict[str, Any]) -> None:
        """The universal target sfn:sendTaskSuccess (a wait_until step's wake-up). A token
        whose run was stopped meanwhile is a client error Scheduler does not retry; with
        no dead-letter queue the invocation is dropped, as here."""
        call = json.loads(target.get("Input") or "{}")
        try:
            sfn.send_task_success(taskToken=call["TaskToken"], output=call.get("Output", "{}"))
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
            pass
        except sfn.exceptions.TaskDoesNotExist:
            pass

    def _dead_letter(self, schedule: Any, exc: Exception) -> None:
        """A target that could not be started goes to the schedule's dead-letter queue:
        the target's input as the body, what went wrong in message attributes. The errors
        StartExecution gives here (no such machine, bad input, a name already used) are
        client errors, which Scheduler does not retry."""
        target = schedule.target
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue:
            return  # Scheduler drops the invocation
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        attempts, condition = getattr(self, "_exhausted", (0, "NonRetryableError"))
        self.cloud.send_to_destination(
            queue,
            json.loads(target.get("Input") or "{}"),
            {
                "ERROR_CODE": str(code),
                "ERROR_MESSAGE": str(exc)[:1000],
                "EXHAUSTED_RETRY_CONDITION": condition,
                "RETRY_ATTEMPTS": str(attempts),
                "SCHEDULE_ARN": schedule.arn,
                "TARGET_ARN": target["Arn"],
            },
        )


class _FunctionSchedules:
    """The template's `Schedule` events of functions (EventBridge `rate(...)` / `cron(...)`),
    fired on the virtual clock as time passes each next occurrence (a rate counts from the
    first `advance`). The next occurrences live on the cloud, across `advance` calls."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud
        if not hasattr(cloud, "_function_schedules"):
            now = cloud.clock.now()
            cloud._function_schedules = {  # type: ignore[attr-defined]
                (fn.logical_id, name): _next_occurrence(ev["Properties"]["Schedule"], now)
                for fn in cloud.functions.values()
                for name, ev in fn.events.items()
                if ev["Type"] == "Schedule"
                and ev["Properties"].get("Enabled", True) is not False
                and (cloud.frequent_schedules or _at_most_daily(ev["Properties"]["Schedule"], now))
            }
        self.next: dict[tuple[str, str], datetime] = cloud._function_schedules  # type: ignore[attr-defined]

    def next_due(self) -> datetime | None:
        return min(self.next.values()) if self.next else None

    def fire(self, now: datetime) -> None:
        for (logical, name), when in sorted(self.next.items(), key=lambda item: item[1]):
            if when > now:
                continue
            expression = self.cloud.functions[logical].events[name]["Properties"]["Schedule"]
            self.next[(logical, name)] = _next_occurrence(expression, when)
            self.cloud._emit("scheduler", f"schedule {logical}.{name} fired ({expression})")
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "region": REGION,
                "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resources": [
                    f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.cloud.stack}-{logical}{name}"
                ],
                "detail": {},
            }
            # EventBridge invokes the function asynchronously: Lambda retries a failure and
            # then sends it to the function's on-failure destination.
            self.cloud.invoke_async(logical, event)


class _Timers:
    """Several `timers` (next_due / fire) as one, for VirtualClock.advance_to."""

    def __init__(self, *parts: Any):
        self.parts = parts

    def next_due(self) -> datetime | None:
        due = [d for d in (p.next_due() for p in self.parts) if d is not None]
        return min(due) if due else None

    def fire(self, now: datetime) -> None:
        for part in self.parts:
            due = part.next_due()
            if due is not None and due <= now:
                part.fire(now)


_RATE_UNITS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}
_WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # EventBridge: 1 = SUN


def _cron_field(text: str, low: int, high: int, names: list[str] | None = None) -> set[int] | None:
    """EventBridge cron field -> allowed values (None: any). Supports *, ?, lists, ranges, steps."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if names:
            for index, name in enumerate(names):
                part = part.replace(name, str(index + low))
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
        values.update(range(start, end + 1, step))
    return values


def _at_most_daily(expression: str, now: datetime) -> bool:
    first = _next_occurrence(expression, now)
    return _next_occurrence(expression, first) - first >= timedelta(days=1)


def _next_occurrence(expression: str, after: datetime) -> datetime:
    """The first moment after `after` of an EventBridge `rate(...)` or `cron(...)` (UTC)."""
    rate = re.fullmatch(r"rate\((\d+) (\w+)\)", expression.strip())
    if rate:
        return after + timedelta(seconds=int(rate.group(1)) * _RATE_UNITS[rate.group(2)])
    cron = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not cron:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    minute, hour, dom, month, dow, _year = cron.group(1).split()
    minutes = sorted(_cron_field(minute, 0, 59) or range(60))
    hours = sorted(_cron_field(hour, 0, 23) or range(24))
    days, months = _cron_field(dom, 1, 31), _cron_field(month, 1, 12)
    weekdays = _cron_field(dow, 1, 7, _WEEKDAYS)
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    for offset in range(0, 367):
        day = (start + timedelta(days=offset)).date()
        if (days and day.day not in days) or (months and day.month not in months):
            continue
        if weekdays and (day.isoweekday() % 7) + 1 not in weekdays:
            continue
        for h in hours:
            for m in minutes:
                moment = datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)
                if moment > after:
                    return moment
    raise ValueError(f"schedule {expression!r} never fires")
