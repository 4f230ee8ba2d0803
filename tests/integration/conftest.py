"""Integration-only checks, on top of tests/conftest.py: no email address or phone number
a test sent may appear in any log line (tests/integration/personal_data.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.personal_data import PersonalDataScan


@pytest.fixture(autouse=True)
def personal_data_scan() -> Iterator[PersonalDataScan]:
    """Fails the test when a log line, printed output or function error of the local cloud
    contains an email address or phone number that the test sent. A test that leaks on
    purpose (to prove this check) calls `clear()` after asserting the leak was seen."""
    with PersonalDataScan().watching() as scan:
        yield scan
        leaks = scan.leaks()
    assert not leaks, "personal data in the logs:\n  " + "\n  ".join(str(x) for x in leaks[:20])
