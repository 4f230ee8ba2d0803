"""The daily sweep reads the due index, not every contact: it finds exactly whom the old full
scan found. Contacts with birthdays around the sweep days in zones from UTC-11 to UTC+14
(a leap-day one too), and page views that lapse on different days; some known before the
programs are deployed (the deploy's backfill indexes them), some after (react keeps the
index). Every day, after the sweep ran, the old scan (kept here: every contact through the
same exact check) says who is due; over the weeks, what the old scan found due is what the
sweep entered, and no more."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from care import Person

from localcloud import LocalCloud
from nurture.runtime.triggers import execution_name
from nurture.runtime.view import ContactView

pytestmark = pytest.mark.integration
DAY = timedelta(days=1)

BIRTHDAY = """\
id: cake
name: Birthday points
trigger: {date: birthday, repeat: yearly}
entry: every_time
steps:
  - {id: point, type: score, add: 1, reason: birthday}
"""
LAPSED = """\
id: lapsed
name: No page view for 6 days
trigger: {inactivity: page, days: 6}
entry: every_time
steps:
  - {id: point, type: score, add: 1, reason: lapsed}
"""
ZONES = [None, "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin", "America/New_York"]


def deploy(cloud: LocalCloud, source: str) -> None:
    program_id = source.split("id: ", 1)[1].split("\n", 1)[0].strip()
    cloud.upload(f"programs/{program_id}.yaml", source)
    status = json.loads(cloud.read(f"programs/{program_id}.status.json") or "{}")
    assert status.get("status") == "live", status


def people(cloud: LocalCloud, start: int, count: int) -> list[Person]:
    out = []
    today = cloud.clock.now().date()
    for n in range(start, start + count):
        person = Person(cloud, f"p{n}@example.com")
        birthday = (today + timedelta(days=n % 9 - 2)).replace(year=1990)
        traits: dict[str, Any] = {"email": person.email, "birthday": birthday.isoformat()}
        if n == 7:
            traits["birthday"] = "1992-02-29"
        if ZONES[n % len(ZONES)]:
            traits["timezone"] = ZONES[n % len(ZONES)]
        person.identify(**traits)
        out.append(person)
    return out


def old_scan_due(cloud: LocalCloud) -> set[str]:
    """The sweep as it was: every contact, the same exact check (`Sweeper._due`)."""
    sweep = cloud.function_by_name("SweepFunction").module.sweeper
    found = set()
    now = cloud.clock.now()
    with cloud._lock, cloud._function_env(cloud.function_by_name("SweepFunction").env):
        programs = [sweep.reactor.program(p, fresh=True)[1] for p in ("cake", "lapsed")]
        for contact in sweep.reactor.contacts.scan():
            view = ContactView(contact, sweep.reactor.activities)
            for program in programs:
                due = sweep._due(program, view, now)
                if due is not None:
                    found.add(execution_name(program, contact.contact_id, due[0].message_id))
    return found


def started(cloud: LocalCloud) -> set[str]:
    sfn = cloud.client("stepfunctions")
    names = set()
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"].endswith(("-cake", "-lapsed")):
            for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                names.add(e["name"])
    return names


def test_the_indexed_sweep_finds_whom_the_full_scan_found(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    before = people(cloud, 0, 9)  # known before the programs: the deploy backfills them
    for person in before[::2]:
        person.page("https://shop.example/early")
    cloud.advance(DAY)
    deploy(cloud, BIRTHDAY)
    deploy(cloud, LAPSED)
    expected = old_scan_due(cloud)  # who is due already: the deploy's selection enters them
    assert expected and expected == started(cloud)
    after = people(cloud, 9, 9)  # known after: react indexes them as they arrive
    everyone = before + after
    for day in range(14):
        # the morning's sweep (05:00 UTC), then the old scan at the same moment
        now = cloud.clock.now()
        morning = datetime(now.year, now.month, now.day, 5, 0, 30, tzinfo=now.tzinfo)
        cloud.advance(morning + DAY - now)
        expected |= old_scan_due(cloud)
        # at noon some of them look at a page (each on their own rhythm)
        cloud.advance(timedelta(hours=7))
        for n, person in enumerate(everyone):
            if (day + n) % (n % 5 + 4) == 0:
                person.page(f"https://shop.example/p/{day}")
    entered = started(cloud)
    assert any("cake" in name for name in expected)
    assert any("lapsed" in name for name in expected)
    assert entered == expected
    assert cloud.errors == []
