"""The differential test of `nurture simulate`'s two engines (issue #9, simulation at scale).

For every shipped program, the same seeded synthetic contacts run on the moto-based local
cloud (Step Functions' own interpreter of the compiled machine, the handlers, DynamoDB, SES
capture) and on the fast engine (localcloud.simulation: our interpreter of the same
compiled JSON, the same step code, in-memory ports). Each contact's timeline in the program
- entry, every send, skip and deferral with its step, reason and virtual time, branches,
waits, tasks, conversions and the exit with its reason - must be the same on both.

The contacts are made to reach the programs' paths: some with consent and some without,
in three time zones, half of them customers, with a phone, a birthday and an event date,
and they open, click and buy often (each email's fate drawn from its own seed).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import DEFAULT_START
from localcloud.commands.simulate_many import Mix, run_many, synthetic_contacts
from localcloud.simulation.drivers import CloudDriver, FastDriver
from nurture.ids import stable_id

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(p.stem for p in (ROOT / "programs").glob("*.yaml"))
# Beside the shipped programs, one that reaches what they do not within 30 days: the
# frequency cap (3 per 7 days) deferring and skipping sends, and a loop, whose closing wait
# goes on in the resume machine by a one-time schedule.
EXTRA = {
    "sim-burst": """\
id: sim-burst
name: Five sends at once, again every four days
trigger: {event: sim_test}
steps:
  - {id: b1, type: send_email, template: welcome-1, topic: newsletter}
  - {id: b2, type: send_email, template: welcome-2a, topic: newsletter}
  - {id: b3, type: send_email, template: welcome-2b, topic: newsletter}
  - {id: b4, type: send_email, template: welcome-1, topic: newsletter}
  - {id: b5, type: send_email, template: welcome-2a, topic: newsletter, when_capped: skip}
  - {id: again, type: wait, duration: 4 days, next: b1}
"""
}
CONTACTS = 4
DAYS = 30


def arguments(**overrides: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "contacts": CONTACTS,
        "days": DAYS,
        "consent": 0.6,
        "zones": "Europe/London=0.4,America/New_York=0.35,Asia/Tokyo=0.25",
        "open": 0.7,
        "click": 0.6,
        "convert": 0.5,
        "seed": 9,
        "spread": "6 hours",
        "no_progress": True,
        **overrides,
    }
    return argparse.Namespace(**values)


def contacts_for(program: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    contacts = synthetic_contacts(Mix.from_args(args), program, args.contacts)
    for number, data in enumerate(contacts):
        event = DEFAULT_START + timedelta(days=3 + 2 * number, hours=9)
        data.update(
            phone=f"+35840123{number:04d}",
            stage="customer" if number % 2 == 0 else "subscriber",
            event_start=event.strftime("%Y-%m-%dT%H:%M:%SZ"),
            event_name="Spring meetup",
        )
        if number % 4 != 3:  # the fourth has no birthday: wait_until stops
            data["birthday"] = f"1990-01-{6 + 5 * number:02d}"
    return contacts


def run(driver: CloudDriver | FastDriver, path: Path, args: argparse.Namespace) -> Any:
    with driver.running():
        program, status = driver.deploy(path)
        assert program is not None, status
        contacts = contacts_for(program, args)
        tally = run_many(args, driver, program, contacts)
        timelines = {
            data["email"]: driver.timeline(stable_id("simulate", data["email"]), program.id)
            for data in contacts
        }
    return tally, timelines, list(driver.errors)


@pytest.mark.expect_function_errors  # compared below: the same errors on both engines
@pytest.mark.parametrize("name", PROGRAMS + list(EXTRA))
def test_both_engines_give_every_contact_the_same_timeline(name: str, tmp_path: Path) -> None:
    path = ROOT / "programs" / f"{name}.yaml"
    if name in EXTRA:
        path = tmp_path / f"{name}.yaml"
        path.write_text(EXTRA[name])
    args = arguments()
    cloud_tally, on_cloud, cloud_errors = run(CloudDriver(ROOT, DEFAULT_START, path), path, args)
    fast_tally, on_fast, fast_errors = run(FastDriver(ROOT, DEFAULT_START), path, args)
    # function errors (moving's webhooks to a host that does not resolve: retried, then
    # on_failure) are the same, one for one
    assert sorted(fast_errors) == sorted(cloud_errors)
    for email, timeline in on_cloud.items():
        assert on_fast[email] == timeline, f"{name}: {email}"
    # the summary's counts agree too (state transitions as billed: every state entered)
    for what in ("entries", "not_entered", "sends", "skips", "deferrals", "conversions"):
        assert getattr(fast_tally, what) == getattr(cloud_tally, what), what
    assert fast_tally.transitions == cloud_tally.transitions
    assert fast_tally.executions == cloud_tally.executions


def test_the_timeline_is_not_empty_where_a_program_does_something() -> None:
    """The comparison above compares something: welcome's contacts each entered, got
    welcome-1 or a no-consent skip at a time, and exited."""
    path = ROOT / "programs" / "welcome.yaml"
    tally, timelines, errors = run(FastDriver(ROOT, DEFAULT_START), path, arguments())
    assert errors == []
    assert tally.entries == CONTACTS
    for timeline in timelines.values():
        names = [row[1] for row in timeline]
        assert names[0] == "program.entered" or "program.entered" in names
        assert {"email.sent", "email.skipped"} & set(names)
        assert "program.exited" in names
