"""An import's parts count each row once: two invocations of the same part (Lambda delivers
an asynchronous invocation at least once, and a re-post could start one) both write the same
rows, which an import makes idempotent, but only the first to move the job's progress on
counts them; the other stops. Re-posting a running job starts nothing unless it stalled."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest

from nurture.imports import jobs
from nurture.imports.runner import ChunkResult, Totals

pytestmark = pytest.mark.unit

MAPPING = {"columns": {"email": "email"}}
CSV = "email\n" + "".join(f"p{i}@example.com\n" for i in range(25))


class _Jobs:
    """A job table whose save is conditional on the stored progress, as DynamoDB's is."""

    def __init__(self) -> None:
        self.items: dict[str, jobs.Job] = {}

    def get(self, import_id: str) -> jobs.Job | None:
        job = self.items.get(import_id)
        return copy.deepcopy(job) if job else None

    def create(self, job: jobs.Job) -> bool:
        if job.import_id in self.items:
            return False
        self.items[job.import_id] = copy.deepcopy(job)
        return True

    def save(self, job: jobs.Job, from_row: int) -> bool:
        if self.items[job.import_id].next_row != from_row:
            return False
        self.items[job.import_id] = copy.deepcopy(job)
        return True


class _Files:
    def __init__(self) -> None:
        self.texts: dict[str, str] = {"imports/p.csv": CSV}

    def etag(self, key: str) -> str | None:
        return "e1" if key in self.texts else None

    @contextmanager
    def _open(self, key: str) -> Iterator[IO[str]]:
        yield io.StringIO(self.texts[key])

    def open_text(self, key: str) -> Any:
        return self._open(key)

    def put_text(self, key: str, text: str) -> None:
        self.texts[key] = text

    def texts_under(self, prefix: str) -> list[str]:
        return [t for k, t in sorted(self.texts.items()) if k.startswith(prefix)]


class _CountingImporter:
    """Stands in for the writes (tested elsewhere): each row imported, as created."""

    def __init__(self, *_: Any) -> None:
        pass

    def chunk(self, batch: list[tuple[int, dict[str, Any]]]) -> ChunkResult:
        return ChunkResult(Totals(rows=len(batch), imported=len(batch), created=len(batch)))


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "Importer", _CountingImporter)

    def chunks_of_ten(rows: Any) -> Iterator[list[Any]]:
        every = list(rows)
        return iter([every[i : i + 10] for i in range(0, len(every), 10)])

    monkeypatch.setattr(jobs, "chunks", chunks_of_ten)


def _start(store: _Jobs, files: _Files, now: str, invoked: list[str]) -> str:
    status, body = jobs.start(
        store, files, {"key": "imports/p.csv", "mapping": MAPPING}, now, invoked.append
    )
    assert status == 202
    return str(body["import_id"])


def test_two_deliveries_of_the_same_part_count_each_row_once() -> None:
    store, files, invoked = _Jobs(), _Files(), []
    import_id = _start(store, files, "2026-01-01T00:00:00.000Z", invoked)
    assert invoked == [import_id]
    # both deliveries read the job before either saved
    first, second = store.get(import_id), store.get(import_id)
    assert first is not None and second is not None
    real_get = store.get
    handed = iter([first, second])
    store.get = lambda _id: next(handed)  # type: ignore[method-assign]
    part = dict(now=lambda: "2026-01-01T00:00:01.000Z", remaining_ms=lambda: 60_000)
    assert jobs.run_part(store, files, None, import_id, invoke=invoked.append, **part) == "done"  # type: ignore[arg-type]
    assert (
        jobs.run_part(store, files, None, import_id, invoke=invoked.append, **part)  # type: ignore[arg-type]
        == "superseded"
    )
    store.get = real_get  # type: ignore[method-assign]
    job = store.get(import_id)
    assert job is not None and job.status == "done" and job.next_row == 25
    assert job.totals["rows"] == 25 and job.totals["created"] == 25


def test_reposting_a_running_import_starts_nothing_unless_it_stalled() -> None:
    store, files, invoked = _Jobs(), _Files(), []
    import_id = _start(store, files, "2026-01-01T00:00:00.000Z", invoked)
    job = store.get(import_id)
    assert job is not None
    job.status, job.updated_at = "running", "2026-01-01T00:00:05.000Z"
    assert store.save(job, 0)
    assert _start(store, files, "2026-01-01T00:01:00.000Z", invoked) == import_id
    assert invoked == [import_id]  # its parts are still going: no second chain
    later = "2026-01-01T00:20:00.000Z"  # no progress for longer than a part can take
    assert _start(store, files, later, invoked) == import_id
    assert invoked == [import_id, import_id]
