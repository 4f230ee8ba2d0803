"""An import of a file in the bucket, through the admin API, in parts that fit a Lambda.

`POST /admin/imports {"key", "mapping"}` checks the mapping and the file's header, records
the job (`IMPORT#<id>`, id from the file's ETag and the mapping: posting the same file
again answers the same job) and invokes the admin function asynchronously with the job id.
Each invocation (`run_part`) streams the object from S3 from the job's `next_row`, imports
chunks of 1,000 rows, saves the totals and `next_row` after each chunk, and stops after
ROWS_PER_PART rows or when less than MARGIN_MS of its time is left, invoking itself again
for the rest. Why so: an admin request ends within API Gateway's 29 s, and one Lambda run
within its timeout, while a file may hold millions of rows; resuming by row number needs
nothing but the job item (a byte offset would break on quoted line breaks, and streaming
the skipped prefix again costs S3 reads at ~100 MB/s, not writes). A part that dies is
retried by Lambda's async retries (the admin function's are 0, so the next POST of the
same file resumes it): its chunk is imported again harmlessly (the import is idempotent).
The rejected rows of each chunk go to `imports/<id>/parts/<first row>.csv`; at the end
they are joined into `imports/<id>/rejected.csv` (row, field, reason; never values).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Protocol

from nurture.ids import stable_id
from nurture.imports.mapping import Mapping, MappingError, parse_mapping
from nurture.imports.merge import Context
from nurture.imports.ports import ImportStore
from nurture.imports.rows import Problem
from nurture.imports.runner import Importer, Totals, chunks, read_rows

ROWS_PER_PART = 50_000
MARGIN_MS = 12_000  # stop taking chunks when less than this is left of the invocation
# a running job with no progress for this long has lost its chain of parts (Lambda retries a
# failed asynchronous invocation twice, within minutes): re-posting it resumes it
STALLED_AFTER_SECONDS = 900
KEY = re.compile(r"^imports/[A-Za-z0-9][A-Za-z0-9._/-]{0,200}\.csv$")


class JobError(ValueError):
    def __init__(self, status: int, message: str, field: str):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass
class Job:
    import_id: str
    key: str
    mapping: dict[str, Any]
    status: str = "queued"  # queued | running | done
    next_row: int = 0  # data rows done (0: none)
    totals: dict[str, int] = field(default_factory=lambda: Totals().as_dict())
    report_key: str | None = None
    started_at: str = ""
    updated_at: str = ""

    def answer(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "status": self.status,
            "key": self.key,
            "rows_done": self.next_row,
            "totals": self.totals,
            "report": self.report_key,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobStore(Protocol):
    def get(self, import_id: str) -> Job | None: ...

    def create(self, job: Job) -> bool:
        """Record a new job; False when one with this id exists."""

    def save(self, job: Job, from_row: int) -> bool:
        """Store the job's progress if it still stands at `from_row`; False when another
        part (a retried or re-posted invocation) has moved it on meanwhile."""


class Files(Protocol):
    def etag(self, key: str) -> str | None:
        """The object's ETag, None when there is no such object."""

    def open_text(self, key: str) -> IO[str]:
        """The object as a text stream (UTF-8, BOM dropped), read as it goes."""

    def put_text(self, key: str, text: str) -> None: ...

    def texts_under(self, prefix: str) -> list[str]:
        """The bodies of the objects under `prefix`, in key order."""


def start(
    jobs: JobStore, files: Files, body: Any, now: str, invoke: Callable[[str], None]
) -> tuple[int, dict[str, Any]]:
    if not isinstance(body, dict) or set(body) - {"key", "mapping"}:
        raise JobError(400, 'the body is {"key", "mapping"}', "body")
    key = body.get("key")
    if not isinstance(key, str) or not KEY.match(key) or ".." in key:
        raise JobError(400, "key is a .csv object under imports/ in the bucket", "key")
    try:
        mapping = parse_mapping(body.get("mapping"))
    except MappingError as exc:
        raise JobError(400, exc.reason, f"mapping.{exc.field}") from None
    etag = files.etag(key)
    if etag is None:
        raise JobError(400, "no such object in the bucket", "key")
    with files.open_text(key) as text:
        try:
            next(read_rows(text, mapping), None)
        except MappingError as exc:
            raise JobError(400, exc.reason, f"mapping.{exc.field}") from None
    import_id = stable_id("import", key, etag, mapping.model_dump_json(), length=24)
    job = Job(import_id, key, mapping.model_dump(mode="json"), started_at=now, updated_at=now)
    if not jobs.create(job):
        existing = jobs.get(import_id)
        if existing is None or existing.status == "done" or not _stalled(existing, now):
            return 202, {"import_id": import_id}  # done, or its parts are still going
    invoke(import_id)
    return 202, {"import_id": import_id}


def run_part(
    jobs: JobStore,
    files: Files,
    store: ImportStore,
    import_id: str,
    now: Callable[[], str],
    remaining_ms: Callable[[], int],
    invoke: Callable[[str], None],
) -> str:
    """Import from where the job stands until its end, ROWS_PER_PART rows or the time left;
    the job's status afterwards (invoking the next part when not done)."""
    job = jobs.get(import_id)
    if job is None or job.status == "done":
        return "missing" if job is None else "done"
    mapping: Mapping = parse_mapping(job.mapping)
    ctx = Context(import_id, job.key.rsplit("/", 1)[-1], now())
    importer = Importer(store, mapping, ctx)
    job.status = "running"
    done_here = 0
    with files.open_text(job.key) as text:
        for batch in chunks(read_rows(text, mapping, start=job.next_row)):
            result = importer.chunk(batch)
            files.put_text(_part_key(import_id, batch[0][0]), _report_lines(result.problems))
            totals = Totals(**job.totals)
            totals.add(result.totals)
            job.totals = totals.as_dict()
            from_row, job.next_row = job.next_row, job.next_row + len(batch)
            job.updated_at = now()
            if not jobs.save(job, from_row):
                # another part got here first: its rows were the same writes (an import is
                # idempotent) and it counts them; this one stops rather than count twice
                return "superseded"
            done_here += len(batch)
            if done_here >= ROWS_PER_PART or remaining_ms() < MARGIN_MS:
                invoke(import_id)
                return "running"
    report = "".join(files.texts_under(f"imports/{import_id}/parts/"))
    job.report_key = f"imports/{import_id}/rejected.csv"
    files.put_text(job.report_key, "row,field,reason\r\n" + report)
    job.status, job.updated_at = "done", now()
    jobs.save(job, job.next_row)
    return "done"


def _stalled(job: Job, now: str) -> bool:
    """A running job whose parts stopped (an invocation that failed all its retries): its
    last progress is older than a part can take. Re-posting the file resumes it."""
    from datetime import datetime

    try:
        last = datetime.fromisoformat(job.updated_at.replace("Z", "+00:00"))
        current = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except ValueError:
        return True
    return (current - last).total_seconds() > STALLED_AFTER_SECONDS


def _part_key(import_id: str, first_row: int) -> str:
    return f"imports/{import_id}/parts/{first_row:012d}.csv"


def _report_lines(problems: list[Problem]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows((p.row, p.field, p.reason) for p in problems)
    return out.getvalue()
