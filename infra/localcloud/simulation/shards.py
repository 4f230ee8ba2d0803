"""The fast engine on every core: contacts split into shards, one process each.

No contact's run touches another's (enrolments, waits, caps, the send ledger are per
contact; a program's deploy is the same in each), so shard k of n runs every n-th contact
from the k-th, at the moment it enters in the whole run, with its own engine, and the
tallies add up to the whole run's: the summary is the same with any number of workers
(tests/integration/test_simulate_many.py checks it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import time
import traceback
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from localcloud.simulation.drivers import Counts, FastDriver


def _shard(
    args: argparse.Namespace,
    root: Path,
    start: datetime,
    shard: tuple[int, int],
    done: Any,
    results: Any,
) -> None:
    """One worker process: its shard's tally, errors and CPU seconds into `results`."""
    from localcloud.commands.simulate_many import Mix, run_many, synthetic_contacts

    try:
        cpu = time.process_time()
        driver = FastDriver(root, start)

        def progress(seconds: float) -> None:
            done.value = seconds

        with driver.running():
            program, status = driver.deploy(args.program)
            assert program is not None, status  # the parent deployed it first
            contacts = synthetic_contacts(Mix.from_args(args), program, args.contacts)
            tally = run_many(args, driver, program, contacts, shard=shard, progress=progress)
        results.put((shard[0], (tally, list(driver.errors), time.process_time() - cpu)))
    except BaseException:  # the parent reports it
        results.put((shard[0], traceback.format_exc()))


def run_sharded(
    args: argparse.Namespace, root: Path, start: datetime, workers: int
) -> tuple[Any, list[str], float]:
    """The whole run's tally, errors and the workers' CPU seconds."""
    from localcloud.commands.simulate_many import Tally, _progress

    # spawned, not forked: the parent may hold threads (a progress bar, a local cloud)
    context = multiprocessing.get_context("spawn")
    done = [context.Value("d", 0.0) for _ in range(workers)]
    results = context.Queue()
    quiet = argparse.Namespace(**{**vars(args), "no_progress": True, "progress_to": None})
    processes = [
        context.Process(
            target=_shard, args=(quiet, root, start, (number, workers), done[number], results)
        )
        for number in range(workers)
    ]
    for process in processes:
        process.start()
    answers: dict[int, Any] = {}
    total = args.days * 86400
    with _progress(args) as bar:
        task = bar.add_task("simulating", total=total)
        while len(answers) < workers:
            try:
                number, answer = results.get(timeout=0.2)
                answers[number] = answer
            except queue.Empty:
                if not any(p.is_alive() for p in processes) and results.empty():
                    raise RuntimeError("a simulation worker died without an answer") from None
            bar.update(task, completed=min(d.value for d in done))
        bar.update(task, completed=total)
    for process in processes:
        process.join()
    failed = [a for a in answers.values() if isinstance(a, str)]
    if failed:
        raise RuntimeError(f"a simulation worker failed:\n{failed[0]}")
    results_in_order = [answers[n] for n in range(workers)]
    tally = Tally(counts=Counts())
    errors: list[str] = []
    cpu = 0.0
    for part, part_errors, part_cpu in results_in_order:
        errors += part_errors
        cpu += part_cpu
        for name in ("entries", "not_entered", "opens", "clicks", "conversions"):
            setattr(tally, name, getattr(tally, name) + getattr(part, name))
        for name in ("sends", "skips", "deferrals"):
            getattr(tally, name).update(getattr(part, name))
        tally.transitions += part.transitions
        tally.executions += part.executions
        tally.counts.transitions += part.counts.transitions
        tally.counts.executions += part.counts.executions
        tally.counts.schedules += part.counts.schedules
        for name in ("invocations", "port_calls"):
            merged = Counter(getattr(tally.counts, name))
            merged.update(getattr(part.counts, name))
            setattr(tally.counts, name, dict(merged))
    return tally, errors, cpu
