"""An import, a chunk of rows at a time: check, read what exists in bulk, merge, write in
bulk. Idempotent: the same file again finds every contact as it left it and writes nothing
(no profile, no activity, no consent); a run stopped half way and started again redoes the
rows of its last chunk harmlessly (new contacts' ids and activity message ids are derived
from the address and the import)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from nurture.contacts import Contact
from nurture.ids import stable_id
from nurture.imports.mapping import Mapping, check_header
from nurture.imports.merge import Blocks, Context, Outcome, merge
from nurture.imports.ports import ImportStore
from nurture.imports.rows import Problem, Row, check_row
from nurture.tracking.events import Activity

CHUNK_ROWS = 1000
UPDATE_ATTEMPTS = 5
EVENT = "contact.imported"  # programs start on {event: contact.imported}
REPORT_HEADER = ("row", "field", "reason")


def import_id_for(content_digest: str, mapping: Mapping) -> str:
    """The same file with the same mapping is the same import (re-running it is a no-op)."""
    return stable_id("import", content_digest, mapping.model_dump_json(), length=24)


def digest_file(stream: IO[bytes]) -> str:
    sha = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        sha.update(block)
    return sha.hexdigest()


@dataclass
class Totals:
    rows: int = 0
    imported: int = 0  # rows accepted (written or already so)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows not imported
    consents: int = 0  # consent records written
    notes: int = 0  # report lines of accepted rows (a consent not recorded, and why)

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class ChunkResult:
    totals: Totals = field(default_factory=Totals)
    problems: list[Problem] = field(default_factory=list)


def read_rows(
    text: IO[str], mapping: Mapping, start: int = 0
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, cells) of a CSV file, the header being row 1, from the `start`-th data
    row on (0: the first). MappingError when the header lacks a mapped column."""
    reader = csv.DictReader(text)
    check_header(mapping, list(reader.fieldnames or []))
    for index, cells in enumerate(reader):
        if index >= start:
            yield index + 2, cells


def chunks(
    rows: Iterable[tuple[int, dict[str, Any]]], size: int = CHUNK_ROWS
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    batch: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Importer:
    def __init__(self, store: ImportStore, mapping: Mapping, ctx: Context):
        self.store, self.mapping, self.ctx = store, mapping, ctx

    def run(
        self,
        rows: Iterable[tuple[int, dict[str, Any]]],
        on_chunk: Callable[[ChunkResult], None] | None = None,
    ) -> ChunkResult:
        """Every chunk of `rows`; `on_chunk` sees each chunk's result (progress, report)."""
        whole = ChunkResult()
        for batch in chunks(rows):
            result = self.chunk(batch)
            whole.totals.add(result.totals)
            whole.problems.extend(result.problems)
            if on_chunk is not None:
                on_chunk(result)
        return whole

    def chunk(self, batch: list[tuple[int, dict[str, Any]]]) -> ChunkResult:
        result = ChunkResult()
        result.totals.rows = len(batch)
        good: list[Row] = []
        for number, cells in batch:
            checked = check_row(self.mapping, number, cells)
            if isinstance(checked, Row):
                good.append(checked)
            else:
                result.problems.extend(checked)
                result.totals.rejected += 1
        pending = good
        for _ in range(UPDATE_ATTEMPTS):
            conflicts = self._apply(pending, result)
            if not conflicts:
                return result
            pending = [r for r in pending if r.email in conflicts]
        raise RuntimeError(f"{len(pending)} contacts kept changing during the import")

    def _apply(self, rows: list[Row], result: ChunkResult) -> set[str]:
        emails = sorted({r.email for r in rows})
        found = self.store.load(emails)
        addresses = sorted(
            {("email", r.email) for r in rows}
            | {
                ("sms", r.profile["phone"])
                for r in rows
                if any(c.channel == "sms" and c.status == "granted" for c in r.consents)
            }
        )
        blocked = self.store.blocks(addresses)
        current: dict[str, Contact | None] = {
            e: found[e][0] if e in found else None for e in emails
        }
        outcomes: list[tuple[Row, Outcome]] = []
        for row in rows:
            blocks = _blocks_of(row, blocked)
            outcome = merge(current[row.email], row, blocks, self.ctx)
            if outcome.contact is not None:
                current[row.email] = outcome.contact
            outcomes.append((row, outcome))
        written = {
            e
            for e, c in current.items()
            if c is not None and (e not in found or c is not found[e][0])
        }
        new = [current[e] for e in sorted(written) if e not in found]
        changed = [(current[e], found[e][1]) for e in sorted(written) if e in found]
        self.store.create([c for c in new if c is not None])
        lost = set(self.store.update([(c, v) for c, v in changed if c is not None]))
        conflicts = {e for e in written if e in found and found[e][0].contact_id in lost}
        activities = []
        for row, outcome in outcomes:
            if row.email in conflicts:
                continue
            erased = any(p.field == "email" for p in outcome.problems)
            if erased:
                result.totals.rejected += 1
            else:
                result.totals.imported += 1
                result.totals.notes += len(outcome.problems)
            result.problems.extend(outcome.problems)
            if outcome.contact is None:
                if not erased:
                    result.totals.unchanged += 1
                continue
            result.totals.created += outcome.created
            result.totals.updated += not outcome.created
            result.totals.consents += len(outcome.consents)
            activities.append(self._activity(row, outcome))
        self.store.record(activities)
        return conflicts

    def _activity(self, row: Row, outcome: Outcome) -> Activity:
        contact = outcome.contact
        assert contact is not None
        return Activity(
            actor=f"contact:{contact.contact_id}",
            contact_id=contact.contact_id,
            message_id=stable_id(EVENT, self.ctx.import_id, str(row.number), contact.contact_id),
            kind="track",
            name=EVENT,
            occurred_at=self.ctx.now,
            received_at=self.ctx.now,
            trust="secret",  # the operator's word
            properties={
                "import_id": self.ctx.import_id,
                "row": row.number,
                "created": outcome.created,
                "fields": outcome.fields,  # names only
                "consents": outcome.consents,
            },
        )


def _blocks_of(row: Row, blocked: dict[tuple[str, str], str]) -> Blocks:
    suppressed: dict[str, str] = {}
    erased: set[str] = set()
    for channel, address in (("email", row.email), ("sms", row.profile.get("phone"))):
        reason = blocked.get((channel, address)) if address else None
        if reason == "erased":
            erased.add(channel)
        elif reason:
            suppressed[channel] = reason
    return Blocks(suppressed, frozenset(erased))


def write_report(problems: Iterable[Problem], out: IO[str], header: bool = True) -> int:
    """The report of rejected rows (and consents not recorded): row, field, reason."""
    writer = csv.writer(out)
    if header:
        writer.writerow(REPORT_HEADER)
    count = 0
    for p in problems:
        writer.writerow((p.row, p.field, p.reason))
        count += 1
    return count
