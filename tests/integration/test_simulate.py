"""`nurture simulate`: one program, one contact, timed events, in virtual time."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.cli import main

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def simulate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["simulate", *argv])
    return code, capsys.readouterr().out


def test_welcome_with_a_click_prints_a_deterministic_timeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        str(ROOT / "programs/welcome.yaml"),
        "--field",
        "first_name=Grace",
        "--event",
        "1 day: email.clicked welcome-1",
        "--until",
        "10 days",
    ]
    code, out = simulate(capsys, *args)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "Program 'welcome' (Welcome new subscribers), version 1"
    assert "  trigger: the event 'consent.confirmed' where form 'newsletter-signup'" in lines
    timeline = [line.strip() for line in lines]
    start = timeline.index("Timeline (from 2026-01-05 09:00 UTC):")
    events = timeline[start + 1 :]
    assert "day   0 00:00  entered program 'welcome' (version 1)" in events
    assert "day   0 00:00  email sent by welcome/welcome-1: 'Welcome to Nurture, Grace!'" in events
    assert "day   1 00:00  contact does: email.clicked of 'welcome-1'" in events
    assert "day   1 00:00  branch taken at 'wait-for-click': happened" in events
    assert "day   1 00:00  program 'welcome' finished" in events
    assert "Sent 2 email(s):" in lines
    # The same input prints the same output.
    again_code, again = simulate(capsys, *args)
    assert (again_code, again) == (code, out)


def test_files_for_contact_and_events_and_a_wait_of_years(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    program = tmp_path / "cycle.yaml"
    program.write_text(
        "id: cycle\n"
        "name: Glasses every two years\n"
        "trigger: {event: purchase, where: {category: glasses}}\n"
        "steps:\n"
        "  - {id: thanks, type: send_email, template: welcome-1}\n"
        "  - id: review\n"
        "    type: wait_for_event\n"
        "    event: review_posted\n"
        "    timeout: 5 days\n"
        "    on_event: cycle\n"
        "    on_timeout: cycle\n"
        "  - {id: cycle, type: wait, duration: 2 years}\n"
        "  - {id: new-pair, type: send_email, template: welcome-2b}\n"
    )
    contact = tmp_path / "contact.yaml"
    contact.write_text(
        "email: Lin@Example.com\nfirst_name: Lin\nstage: customer\nconsent: [email]\n"
    )
    events = tmp_path / "events.yaml"
    events.write_text("- {at: 2 days, track: review_posted, properties: {stars: 5}}\n")
    code, out = simulate(
        capsys,
        str(program),
        "--contact",
        str(contact),
        "--events",
        str(events),
        "--until",
        "800 days",
    )
    assert code == 0, out
    assert "Contact lin@example.com (stage customer, score 0)" in out
    assert "day   2 00:00  contact does: track 'review_posted' {\"stars\": 5}" in out
    assert "branch taken at 'review': happened" in out
    assert "program 'cycle' paused for a long wait (a schedule resumes it)" in out
    assert "day 732 00:00  resumed by schedule" in out
    assert "day 732 00:00  new-pair: 'In a hurry? The two-minute version'" in out


def test_an_invalid_program_prints_its_problems_with_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    program = tmp_path / "bad.yaml"
    program.write_text(
        "id: bad\nname: Bad\ntrigger: {form: newsletter-signup}\nsteps:\n"
        "  - {id: a, type: split, variants: [{percent: 60, next: b}, {percent: 60, next: b}]}\n"
        "  - {id: b, type: end}\n"
    )
    code, out = simulate(capsys, str(program))
    assert code == 1
    assert "the program is not valid" in out
    assert "line 5, column 26 (steps[0] (a).variants): percentages must add up to 100" in out


def test_bad_event_lines_are_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(ROOT / "programs/welcome.yaml"), "--event", "tomorrow: click"])
    assert code == 2
    assert "is not a duration" in capsys.readouterr().err
