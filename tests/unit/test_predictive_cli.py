"""`nurture demo-data` and `nurture model ...` as people run them."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.cli import main
from tests.unit.predictive_support import demo_lake


def test_train_card_list_rollback_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake, models = str(demo_lake()), str(tmp_path / "bucket")
    assert main(["model", "card", "--models", models]) == 1
    assert "no live model" in capsys.readouterr().err
    args = ["--lake", lake, "--models", models, "--as-of", "2026-12-01T00:00:00Z"]
    assert main(["model", "train", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Predictive model v1") and "**LIVE**" in out
    assert main(["model", "card", "--models", models]) == 0
    assert "## What moves the score most" in capsys.readouterr().out
    assert main(["model", "train", *args]) == 0  # the same data again: kept, not live
    assert "not live" in capsys.readouterr().out
    assert main(["model", "list", "--models", models]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("* v1") and listing[1].startswith("  v2")
    assert main(["model", "rollback", "--models", models]) == 1  # v1 is the only live one yet
    assert "only version that has been live" in capsys.readouterr().err
    assert main(["model", "rollback", "--models", models, "--to", "2"]) == 0
    assert "v2 is live" in capsys.readouterr().out
    assert main(["model", "score", *args, "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("/100 (v2)") and lines[1].startswith("    ")


def test_too_little_data_exits_3_saying_how_much_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "small"
    assert main(["demo-data", str(out), "--contacts", "300", "--seed", "2"]) == 0
    assert '"contacts": 300' in capsys.readouterr().out
    assert main(["demo-data", str(out)]) == 2  # never over existing data
    code = main(["model", "train", "--lake", str(out), "--as-of", "2026-12-01T00:00:00Z"])
    assert code == 3
    err = capsys.readouterr().err
    assert "not enough data to train" in err and "more contacts whose 90-day horizon" in err
    assert not (out / "models").exists()
