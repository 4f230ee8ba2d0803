"""`nurture cost`'s measurement (localcloud.metering.run_program): contacts entering at once
share the stream functions' batches (the lake's PUTs) and nothing else changes per contact."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.commands.cost import measure

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TWO_EMAILS = """\
id: two-emails
name: Two emails a day apart
trigger: {event: trial_started}
steps:
  - {id: e1, type: send_email, template: welcome-1, purpose: service}
  - {id: w1, type: wait, duration: 1 day}
  - {id: e2, type: send_email, template: welcome-2a, purpose: service}
"""


def test_contacts_at_once_share_the_lakes_puts_and_nothing_else_per_contact(
    tmp_path: Path,
) -> None:
    # Given a program of two emails a day apart
    path = tmp_path / "two-emails.yaml"
    path.write_text(TWO_EMAILS)

    # When one contact runs it alone, and then four enter at the same moment
    alone, alone_est = measure(path, ROOT, at_once=1)
    together, together_est = measure(path, ROOT, at_once=4)

    # Then each contact makes the same transitions, emails, lake records and writes
    assert alone.errors == [] and together.errors == []
    assert (alone.transitions, alone.steps, alone.emails) == (3, 3, 2)
    assert (together.transitions, together.steps, together.emails) == (3, 3, 2)
    assert together.states == alone.states == ["e1", "w1", "e2"]
    assert together.lake_records == alone.lake_records > 0
    assert together.write_units == alone.write_units
    # and the lake's objects are shared: one PUT per email moment for all four, not each
    assert alone.api_calls["s3.PutObject"] == 2
    assert together.api_calls["s3.PutObject"] == pytest.approx(2 / 4)
    assert together_est.lake_puts == pytest.approx(0.5)
    assert together_est.cost["s3"] < alone_est.cost["s3"]
    # and the sent activity is one conditional put, its time the ledger's claim (no marker)
    assert together.api_calls_in["StepsFunction"] == alone.api_calls_in["StepsFunction"]
