"""Virtual time for moto's Step Functions interpreter.

moto runs each execution in threads that block on `threading.Event.wait(seconds)` for Wait
states and task-token timeouts. We swap those primitives (only inside moto's interpreter)
for ones that wait on a virtual clock, and count the threads that can still make progress.
`settle()` returns once every execution is blocked on virtual time or finished, and
`advance()` moves time to each pending deadline in order, settling in between, so a test
that says "3 days later" gets the same outcome on every run with no real sleeping.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import pkgutil
import threading
import types
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

SETTLE_TIMEOUT_SECONDS = 60.0  # real seconds: a safety net against a wedged interpreter


class SettleTimeout(RuntimeError):
    pass


class VirtualClock:
    def __init__(self, start: datetime):
        self._now = start.astimezone(UTC)
        self._lock = threading.RLock()
        self.cv = threading.Condition(self._lock)
        self.active = 0  # threads that may still do work before blocking on virtual time
        # Parked threads, in the order they parked. Each waits on its own condition (same
        # lock): a notify_all on `cv` wakes only the few threads waiting for the baton or to
        # settle, not every execution parked on virtual time (thousands, in a long run).
        self._waiters: dict[_Waiter, None] = {}
        self._turns: deque[object] = deque()  # interpreter threads waiting for the baton
        self._holder: int | None = None  # the interpreter thread that may run now

    # --- nurture.clock.Clock ---------------------------------------------------------
    def now(self) -> datetime:
        with self.cv:
            return self._now

    # --- bookkeeping used by the patched primitives ------------------------------------
    def thread_started(self) -> object:
        with self.cv:
            self.active += 1
            return self._queue_turn()

    def thread_running(self, ticket: object) -> None:
        with self.cv:
            self._take_turn(ticket)

    def thread_finished(self) -> None:
        with self.cv:
            self.active -= 1
            self.cv.notify_all()

    def _block(self, waiter: _Waiter) -> None:
        """Park the calling thread until its waiter is woken (by a set() or a deadline).
        Caller holds cv and has registered the waiter with whatever may wake it."""
        waiter.holds_baton = self._holder == threading.get_ident()
        waiter.cond = threading.Condition(self._lock)
        self._waiters[waiter] = None
        self.active -= 1
        if waiter.holds_baton:
            self._holder = None
        self.cv.notify_all()
        while not waiter.woken:
            waiter.cond.wait()
        # whoever woke us already counted us as active again, and queued our turn
        if waiter.holds_baton:
            self._take_turn(waiter.ticket)

    def _wake(self, waiter: _Waiter) -> None:
        # Caller holds cv.
        if not waiter.woken:
            waiter.woken = True
            self.active += 1
            self._waiters.pop(waiter, None)
            if waiter.holds_baton:
                waiter.ticket = self._queue_turn()
            if waiter.cond is not None:
                waiter.cond.notify()
            self.cv.notify_all()

    # --- one interpreter thread at a time ------------------------------------------------
    # moto runs every execution (and every state of it) in its own thread. Letting them run
    # at once makes the order of two programs' sends depend on the OS scheduler; instead a
    # baton passes between them in the order they became runnable, so every run is the same.
    def _queue_turn(self) -> object:
        ticket = object()
        self._turns.append(ticket)
        return ticket

    def _take_turn(self, ticket: object | None) -> None:
        while not (self._holder is None and self._turns and self._turns[0] is ticket):
            self.cv.wait()
        self._turns.popleft()
        self._holder = threading.get_ident()

    def _end_turn(self) -> None:
        with self.cv:
            if self._holder == threading.get_ident():
                self._holder = None
                self.cv.notify_all()

    # --- driving time ----------------------------------------------------------------
    def settle(self) -> None:
        deadline = _real_monotonic() + SETTLE_TIMEOUT_SECONDS
        with self.cv:
            while self.active > 0:
                left = deadline - _real_monotonic()
                if left <= 0:
                    raise SettleTimeout(f"{self.active} interpreter thread(s) still busy")
                self.cv.wait(left)

    def next_deadline(self) -> datetime | None:
        with self.cv:
            pending = [w.deadline for w in self._waiters if w.deadline is not None and not w.woken]
            return min(pending) if pending else None

    def advance_to(self, target: datetime, on_tick: Any = None, timers: Any = None) -> None:
        """Move time to `target`, waking each deadline in order. `on_tick()` runs after
        every settled step (the local cloud uses it to deliver queued events). `timers`, if
        given, has `next_due() -> datetime | None` and `fire(now)`: deadlines kept outside the
        interpreter (e.g. EventBridge Scheduler one-time schedules), fired in order too."""
        self.settle()
        if on_tick:
            on_tick()
        while True:
            external = timers.next_due() if timers else None
            with self.cv:
                due = [
                    w
                    for w in self._waiters
                    if w.deadline is not None and w.deadline <= target and not w.woken
                ]
                moments = [w.deadline for w in due if w.deadline is not None]
                if external is not None and external <= target:
                    moments.append(max(external, self._now))
                if not moments:
                    self._now = max(self._now, target)
                    return
                moment = min(moments)
                self._now = max(self._now, moment)
                for w in [w for w in due if w.deadline == moment]:
                    self._wake(w)
            if external is not None and external <= self._now:
                self.settle()
                timers.fire(self._now)
            self.settle()
            if on_tick:
                on_tick()

    def advance(self, delta: timedelta, on_tick: Any = None, timers: Any = None) -> None:
        self.advance_to(self.now() + delta, on_tick, timers)


class _Waiter:
    __slots__ = ("cond", "deadline", "holds_baton", "ticket", "woken")

    def __init__(self, deadline: datetime | None):
        self.deadline = deadline
        self.woken = False
        self.holds_baton = False
        self.ticket: object | None = None
        self.cond: threading.Condition | None = None  # set when its thread parks


_clock: VirtualClock | None = None


def _real_monotonic() -> float:
    import time

    return time.monotonic()


class VirtualEvent:
    """threading.Event whose timeouts run on the virtual clock."""

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[_Waiter] = []

    def is_set(self) -> bool:
        return self._flag

    isSet = is_set  # noqa: N815 - threading.Event's legacy alias

    def set(self) -> None:
        clock = _require_clock()
        with clock.cv:
            self._flag = True
            for waiter in self._waiters:
                clock._wake(waiter)
            self._waiters.clear()

    def clear(self) -> None:
        clock = _require_clock()
        with clock.cv:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        clock = _require_clock()
        with clock.cv:  # one critical section: a set() cannot slip in before we are parked
            if self._flag:
                return True
            if timeout is not None and timeout <= 0:
                return False
            deadline = clock._now + timedelta(seconds=timeout) if timeout is not None else None
            waiter = _Waiter(deadline)
            self._waiters.append(waiter)
            clock._block(waiter)
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            return self._flag


class CountedThread(threading.Thread):
    """A thread the virtual clock counts as busy from start() until it ends or blocks."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._done = VirtualEvent()

    def start(self) -> None:
        self._turn = _require_clock().thread_started()
        super().start()

    def run(self) -> None:
        clock = _require_clock()
        clock.thread_running(self._turn)
        try:
            super().run()
        finally:
            # Wake joiners first so the count never drops to zero while one is about to run.
            self._done.set()
            clock.thread_finished()
            clock._end_turn()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)


def _virtual_sleep(seconds: float) -> None:
    VirtualEvent().wait(seconds)


def _require_clock() -> VirtualClock:
    if _clock is None:
        raise RuntimeError("the virtual clock is not installed")
    return _clock


_threading_shim = types.SimpleNamespace(
    **{name: getattr(threading, name) for name in dir(threading) if not name.startswith("__")}
)
_threading_shim.Thread = CountedThread
_threading_shim.Event = VirtualEvent


class _VirtualDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> _VirtualDatetime:  # type: ignore[override]
        moment = _require_clock().now()
        if tz is not None:
            return cls.fromtimestamp(moment.timestamp(), tz)
        # moto compares naive UTC timestamps
        return cls.fromtimestamp(moment.timestamp(), UTC).replace(tzinfo=None)


# Only where moto reads "now" for timing; elsewhere isinstance checks need the real class.
_VIRTUAL_DATETIME_MODULES = {
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp",
}
_datetime_shim = types.SimpleNamespace(
    **{n: getattr(_dt, n) for n in dir(_dt) if not n.startswith("__")}
)
_datetime_shim.datetime = _VirtualDatetime


def install(clock: VirtualClock) -> None:
    """Point moto's Step Functions interpreter at the virtual clock (idempotent)."""
    global _clock
    _clock = clock
    import moto.stepfunctions.parser as parser_pkg

    for info in pkgutil.walk_packages(parser_pkg.__path__, parser_pkg.__name__ + "."):
        if ".resource_providers" in info.name:
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: S112 - optional sub-modules that need extra packages
            continue
        _patch_module(module)
    _patch_wait_function()
    _patch_retrier()


def _patch_module(module: types.ModuleType) -> None:
    if getattr(module, "threading", None) is threading:
        module.threading = _threading_shim  # type: ignore[attr-defined]
    if getattr(module, "Thread", None) is threading.Thread:
        module.Thread = CountedThread  # type: ignore[attr-defined]
    if getattr(module, "Event", None) is threading.Event:
        module.Event = VirtualEvent  # type: ignore[attr-defined]
    if module.__name__ in _VIRTUAL_DATETIME_MODULES and getattr(module, "datetime", None) is _dt:
        module.datetime = _datetime_shim  # type: ignore[attr-defined]


def _patch_wait_function() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        # moto re-waits when real time did not pass; on the virtual clock one wait is enough.
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds)

    wait_function.WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    _patch_timestamp_wait()


def _patch_timestamp_wait() -> None:
    """A Wait until a Timestamp(Path) ends at that moment, not before it. moto waits
    `int(timestamp - now)` seconds: on a clock between two whole seconds (07:59:59.5, waiting
    for 08:00:00) that is 0, the Wait passes at once, and a step deferred to 08:00:00 (a send
    window opening) runs again at 07:59:59.5, is deferred again to 08:00:00, and so on without
    end: virtual time never moves, as no thread ever blocks on it. AWS waits until the
    timestamp; so, to the microsecond, does the local cloud."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp

    def _get_wait_seconds(self: Any, env: Any) -> float:
        self.string.eval(env=env)
        timestamp_str: str = env.stack.pop()
        moment = self._from_timestamp_string(timestamp=timestamp_str)
        if moment is None:
            raise timestamp.FailureEventException(self._create_failure_event(env, timestamp_str))
        # a float: the virtual clock waits fractions of a second as well (VirtualEvent.wait)
        return (moment - timestamp.datetime.datetime.now()).total_seconds()

    timestamp.Timestamp._get_wait_seconds = _get_wait_seconds  # type: ignore[method-assign,assignment]


def _patch_retrier() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    retrier_decl.time = types.SimpleNamespace(  # type: ignore[assignment]
        sleep=_virtual_sleep, time=lambda: _require_clock().now().timestamp()
    )
