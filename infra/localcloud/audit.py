"""What a local cloud must be able to say when a test ends: every stream record its
functions subscribe to was delivered, and no function failed (unless the test expected
it). The suite watches every cloud started during a test (`watch`), and each cloud is
audited as it stops, while moto can still answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


@dataclass
class Findings:
    undelivered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Watch:
    clouds: list[LocalCloud] = field(default_factory=list)
    findings: dict[int, Findings] = field(default_factory=dict)  # id(cloud) -> at its stop

    def results(self) -> list[Findings]:
        """The findings of every watched cloud: taken at its stop, or now if it still runs."""
        return [self.findings.get(id(cloud)) or audit(cloud) for cloud in self.clouds]


_watch: Watch | None = None


def watch() -> Watch:
    """Start watching the clouds started from now on (the test suite calls this per test)."""
    global _watch
    _watch = Watch()
    return _watch


def unwatch() -> None:
    global _watch
    _watch = None


def started(cloud: LocalCloud) -> None:
    if _watch is not None:
        _watch.clouds.append(cloud)


def stopping(cloud: LocalCloud) -> None:
    if _watch is not None and cloud in _watch.clouds and id(cloud) not in _watch.findings:
        _watch.findings[id(cloud)] = audit(cloud)


def audit(cloud: LocalCloud) -> Findings:
    """Deliver what is due, then list what a reader never delivered and what failed."""
    findings = Findings()
    try:
        cloud.run_until_idle()
    except Exception as exc:  # noqa: BLE001 - reported, not raised, so the audit completes
        findings.errors.append(f"pump: {type(exc).__name__}: {exc}")
    findings.undelivered = cloud.undelivered_records()
    findings.errors = [*cloud.errors, *findings.errors]
    return findings
