"""Training with guardrails: exact explanations, the minimum-data refusal, a worse model
kept from going live, versions and rollback."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import yaml

from nurture.predictive import features, service, train
from nurture.predictive.lake import open_lake
from nurture.predictive.model import PredictiveModel, factor_line
from nurture.predictive.registry import FolderStore, NoModel, Registry
from nurture.scoring.model import ScoringModel
from tests.unit.predictive_support import AS_OF, demo_lake

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T00:00:00Z"


@pytest.fixture(scope="module")
def data():
    return service.lake_data(open_lake(demo_lake()), AS_OF)


@pytest.fixture(scope="module")
def handmade():
    return ScoringModel.model_validate(yaml.safe_load((ROOT / "scoring/b2b.yaml").read_text()))


def shuffled(data, seed=3):
    """The same contacts with the training part's outcomes shuffled: a model that learns
    nothing real."""
    rows = [dict(r) for r in data.rows]
    fit_rows, _ = train.split(train.eligible(rows))
    labels = [r["label"] for r in fit_rows]
    random.Random(seed).shuffle(labels)
    for r, label in zip(fit_rows, labels, strict=True):
        r["label"] = label
    return service.TrainingData(rows, data.history, data.profiles, data.accounts)


def test_explanations_add_up_to_the_log_odds_and_match_scikit_learn(data):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    fit_rows, holdout = train.split(train.eligible(data.rows))
    model = train.fit(fit_rows, version=1)
    # the same fit done here, to check the exported JSON scores like scikit-learn does
    inputs = [features.encode(r) for r in fit_rows]
    columns = [
        {k: v for k, v in vars(c).items() if k in ("input", "transform", "value")}
        for c in model.columns
    ]
    x = train._matrix(columns, inputs)
    mean, std = x.mean(axis=0), x.std(axis=0)
    reference = LogisticRegression(C=train.C, max_iter=5000).fit(
        (x - mean) / std, np.array([r["label"] for r in fit_rows])
    )
    hold = [features.encode(r) for r in holdout[:300]]
    expected = reference.predict_proba((train._matrix(columns, hold) - mean) / std)[:, 1]
    for inputs_, p in zip(hold, expected, strict=True):
        scored = model.score(inputs_)
        assert scored.baseline + sum(scored.contributions.values()) == pytest.approx(
            scored.log_odds, abs=1e-12
        )
        assert 1 / (1 + math.exp(-scored.log_odds)) == pytest.approx(scored.probability)
        assert scored.probability == pytest.approx(float(p), abs=1e-6)
        assert 1 <= scored.score <= 100
        for f in scored.factors:  # rounded points of the exact contributions
            assert f["points"] != 0
    # the JSON round trip scores the same
    again = PredictiveModel(model.data)
    assert again.log_odds(hold[0]) == model.log_odds(hold[0])
    assert factor_line({"text": "viewed pricing 3× in the last 14 days", "points": 12}) == (
        "viewed pricing 3× in the last 14 days (+12)"
    )


def test_too_little_data_is_refused_saying_how_much_more(data, tmp_path, handmade):
    rows = train.eligible(data.rows)
    few = [r for r in rows if not r["label"]][:1500] + [r for r in rows if r["label"]][:40]
    small = service.TrainingData(few, data.history, data.profiles, data.accounts)
    registry = Registry(FolderStore(tmp_path))
    with pytest.raises(train.NotEnoughData) as caught:
        service.train_model(small, registry, handmade, AS_OF, NOW)
    assert caught.value.more_positives == train.MIN_POSITIVES - 40
    assert caught.value.more_outcomes == 0
    assert "60 more who became an opportunity or a customer" in str(caught.value)
    assert registry.versions() == []
    tiny = service.TrainingData(rows[:300], data.history)
    with pytest.raises(train.NotEnoughData, match="700 more contacts whose 90-day horizon"):
        service.train_model(tiny, registry, None, AS_OF, NOW)


def test_a_worse_model_is_kept_but_does_not_go_live(data, tmp_path, handmade):
    registry = Registry(FolderStore(tmp_path))
    good = service.train_model(data, registry, handmade, AS_OF, NOW)
    assert good.live and registry.live_version() == 1
    assert good.card["holdout"]["auc"] > good.card["handmade"]["auc"]
    worse = service.train_model(shuffled(data), registry, handmade, AS_OF, NOW)
    assert not worse.live
    assert registry.live_version() == 1 and registry.versions() == [1, 2]
    assert "does not beat the live model v1" in worse.reason
    assert "does not beat the hand-made score" in worse.reason
    card, text = registry.card(2)
    assert card["live"] is False and "not live" in text


def test_without_a_live_model_the_hand_made_score_is_the_bar(data, tmp_path, handmade):
    registry = Registry(FolderStore(tmp_path))
    worse = service.train_model(shuffled(data, seed=5), registry, handmade, AS_OF, NOW)
    assert not worse.live and registry.live_version() is None
    assert worse.card["holdout"]["auc"] <= worse.card["handmade"]["auc"]


def test_versions_and_rollback(data, tmp_path, handmade):
    registry = Registry(FolderStore(tmp_path))
    with pytest.raises(NoModel):
        registry.rollback(NOW)
    first = service.train_model(shuffled(data), registry, None, AS_OF, NOW)  # no bar at all
    assert first.live
    second = service.train_model(data, registry, handmade, AS_OF, NOW)
    assert second.live and registry.live_version() == 2
    assert registry.rollback("2026-12-02T00:00:00Z")["version"] == 1
    assert registry.live().version == 1
    assert registry.rollback("2026-12-03T00:00:00Z", to=2)["history"] == [1, 2, 1, 2]
    with pytest.raises(NoModel):
        registry.rollback(NOW, to=9)
    card, text = registry.card(1)
    assert card["version"] == 1 and text.startswith("# Predictive model v1")


def test_live_scores_need_enough_history(data):
    model = train.fit(train.split(train.eligible(data.rows))[0], version=1)
    rows = [{**r, "converted_before": False} for r in data.rows[:50]]
    young = {**rows[0], "days_known": features.MIN_HISTORY_DAYS - 0.5}
    converted = {**rows[1], "converted_before": True}
    scored = dict(service.score_rows(model, [young, converted, *rows[2:]]))
    assert rows[0]["contact_id"] not in scored and rows[1]["contact_id"] not in scored
    assert len(scored) == 48
