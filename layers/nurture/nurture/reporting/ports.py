"""What reporting needs from storage and from a SQL engine; adapters implement them."""

from __future__ import annotations

from typing import Any, Protocol


class LakeStore(Protocol):
    """Objects under the content bucket's `lake/` prefix."""

    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


class SqlEngine(Protocol):
    """Runs one report query (DuckDB dialect text, parameters already bound) over the
    lake's `activities` table and returns rows as dicts."""

    def query(self, sql: str) -> list[dict[str, Any]]: ...


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
