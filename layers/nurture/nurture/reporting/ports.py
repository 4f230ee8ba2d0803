"""What reporting needs from storage and from a SQL engine; adapters implement them."""

from __future__ import annotations

from typing import Any, Literal, Protocol


class LakeStore(Protocol):
    """Objects under the content bucket's `lake/` prefix."""

    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


class SqlEngine(Protocol):
    """Runs one report query (in its `dialect`, parameters already bound) over the lake's
    `activities` table and returns rows as dicts."""

    dialect: Literal["duckdb", "athena"]

    def query(self, sql: str) -> list[dict[str, Any]]: ...


class SplitDecisions(Protocol):
    """Automatic A/B winners, one per program split step, decided once."""

    def get(self, program_id: str, step_id: str) -> dict[str, Any] | None: ...

    def put_once(self, program_id: str, step_id: str, decision: dict[str, Any]) -> bool:
        """Store the decision unless one exists; False when it was decided already."""

    def note_pending(self, program_id: str, step_id: str) -> None:
        """Remember a split that waits for its decision (its first entrant noted it)."""

    def pending(self) -> list[tuple[str, str]]:
        """(program, step) of the splits that wait for a decision: the scheduled check's
        list, so an install without automatic tests pays one query per check."""

    def forget_pending(self, program_id: str, step_id: str) -> None: ...


class MemoryLake:
    """A LakeStore in memory, for tests and benchmarks."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


class ProgramInfo:
    """What reports know of a program besides its activity: its definition (step order,
    which split variants are holdouts) and when its file was last edited."""

    def __init__(
        self,
        program_id: str,
        status: str = "live",
        version: str | None = None,
        definition: dict[str, Any] | None = None,
        last_edited: str | None = None,
    ):
        self.program_id = program_id
        self.status = status
        self.version = version
        self.definition = definition or {}
        self.last_edited = last_edited

    def steps(self) -> list[dict[str, Any]]:
        steps = self.definition.get("steps")
        return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


class ProgramCatalog(Protocol):
    def programs(self) -> list[ProgramInfo]: ...

    def get(self, program_id: str) -> ProgramInfo | None: ...


class MemorySplitDecisions:
    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str], dict[str, Any]] = {}
        self.waiting: set[tuple[str, str]] = set()

    def get(self, program_id: str, step_id: str) -> dict[str, Any] | None:
        return self.decisions.get((program_id, step_id))

    def put_once(self, program_id: str, step_id: str, decision: dict[str, Any]) -> bool:
        return self.decisions.setdefault((program_id, step_id), decision) is decision

    def note_pending(self, program_id: str, step_id: str) -> None:
        self.waiting.add((program_id, step_id))

    def pending(self) -> list[tuple[str, str]]:
        return sorted(self.waiting)

    def forget_pending(self, program_id: str, step_id: str) -> None:
        self.waiting.discard((program_id, step_id))
