"""Training with guardrails, model cards, and batch scoring.

`train` (the weekly function and `nurture model train`):
  1. features and outcomes from the lake (DuckDB), as of `as_of`;
  2. refuses below the minimum data (train.MIN_OUTCOMES / MIN_POSITIVES), saying how much
     more is needed;
  3. fits on the older contacts, judges on the time-ordered holdout (the newest quarter);
  4. replays the hand-made score (nurture.scoring, the primary model) on the same holdout,
     and scores it with the live predictive model;
  5. keeps the version with its card in the bucket whatever happens; it goes live only if
     its holdout AUC beats both the hand-made score's and the live model's.

`score_live` then scores every contact with enough history with the live model (no Step
Functions execution: one conditional write per contact whose score or factors changed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nurture.predictive import features, train
from nurture.predictive.card import card_markdown
from nurture.predictive.handmade import handmade_scores
from nurture.predictive.model import PredictiveModel, Scored
from nurture.predictive.registry import Registry
from nurture.scoring.model import ScoringModel

HANDMADE_KINDS = ("behaviour", "fit", "total")


@dataclass
class TrainResult:
    version: int
    live: bool
    reason: str
    card: dict[str, Any]
    card_md: str
    model: PredictiveModel


@dataclass
class TrainingData:
    """What training reads, from the lake or given (tests)."""

    rows: list[dict[str, Any]]  # the features query's rows (as_of, training cutoffs)
    history: Callable[[list[str]], list[dict[str, Any]]]  # contact ids -> history rows
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)


def lake_data(engine: Any, as_of: str) -> TrainingData:
    from nurture.predictive.lake import feature_rows, history_rows

    return TrainingData(
        rows=feature_rows(engine, as_of),
        history=lambda ids: history_rows(engine, as_of, ids),
        profiles={r["contact_id"]: r for r in engine.query("SELECT * FROM profiles")},
        accounts={r["account_id"]: r for r in engine.query("SELECT * FROM accounts")},
    )


def _handmade_aucs(
    data: TrainingData, holdout: list[dict[str, Any]], handmade: ScoringModel | None
) -> dict[str, Any]:
    if handmade is None:
        return {}
    ids = [r["contact_id"] for r in holdout]
    scores = handmade_scores(
        handmade,
        data.history(ids),
        data.profiles,
        data.accounts,
        {r["contact_id"]: r["cutoff"] for r in holdout},
    )
    labels = [int(r["label"]) for r in holdout]
    found = {k: round(train.auc(labels, [scores[i][k] for i in ids]), 4) for k in HANDMADE_KINDS}
    best = max(HANDMADE_KINDS, key=lambda k: found[k])
    return {"model": handmade.id, **found, "best": best, "auc": found[best]}


def train_model(
    data: TrainingData,
    registry: Registry,
    handmade: ScoringModel | None,
    as_of: str,
    now: str,
    compare_boosting: bool = False,
) -> TrainResult:
    """Train, judge, keep; promote when it beats the hand-made score and the live model.
    Raises train.NotEnoughData below the minimum."""
    rows = train.eligible(data.rows)
    train.check_enough(rows)
    fit_rows, holdout = train.split(rows)
    version = registry.next_version()
    started = time.perf_counter()
    model = train.fit(fit_rows, version)
    fit_seconds = time.perf_counter() - started
    metrics = train.evaluate(model, holdout)
    hand = _handmade_aucs(data, holdout, handmade)
    live = registry.live()
    live_auc = train.evaluate(live, holdout)["auc"] if live is not None else None
    boosting = train.boosting_auc(fit_rows, holdout) if compare_boosting else None
    reasons = []
    if hand and metrics["auc"] <= hand["auc"]:
        reasons.append(
            f"holdout AUC {metrics['auc']} does not beat the hand-made score "
            f"({hand['model']}, {hand['best']}: {hand['auc']})"
        )
    if live is not None and live_auc is not None and metrics["auc"] <= live_auc:
        reasons.append(
            f"holdout AUC {metrics['auc']} does not beat the live model v{live.version} "
            f"({live_auc} on the same holdout)"
        )
    goes_live = not reasons
    reason = (
        f"live: holdout AUC {metrics['auc']} beats "
        + (f"the hand-made score's {hand['auc']}" if hand else "no hand-made score")
        + (f" and v{live.version}'s {live_auc}" if live is not None else "")
        if goes_live
        else "kept, not live: " + "; ".join(reasons)
    )
    card = {
        "version": version,
        "trained_at": now,
        "as_of": as_of,
        "family": "logistic regression (L2) on standardised inputs, scikit-learn",
        "outcome": f"opportunity (sql) or customer (purchase, deal won) within "
        f"{features.HORIZON_DAYS} days after the cutoff",
        "window": {
            "cutoff": f"{features.OBSERVE_DAYS} days after becoming known; behaviour from the "
            f"{features.WINDOW_DAYS} days before it",
            "first_cutoff": rows[0]["cutoff"],
            "last_train_cutoff": fit_rows[-1]["cutoff"],
            "first_holdout_cutoff": holdout[0]["cutoff"],
            "last_cutoff": rows[-1]["cutoff"],
        },
        "counts": {
            "contacts": len(data.rows),
            "outcomes": len(rows),
            "positives": sum(int(r["label"]) for r in rows),
            "train": len(fit_rows),
            "train_positives": sum(int(r["label"]) for r in fit_rows),
            "holdout": len(holdout),
            "holdout_positives": sum(int(r["label"]) for r in holdout),
        },
        "holdout": metrics,
        "handmade": hand,
        "live_before": {"version": live.version, "auc": live_auc} if live is not None else None,
        "boosting": boosting,
        "top_factors": train.top_factors(model),
        "fit_seconds": round(fit_seconds, 2),
        "live": goes_live,
        "decision": reason,
    }
    text = card_markdown(card)
    registry.save(model, card, text)
    if goes_live:
        registry.promote(version, now)
    return TrainResult(version, goes_live, reason, card, text, model)


def score_rows(
    model: PredictiveModel, rows: list[dict[str, Any]], min_days: float = features.MIN_HISTORY_DAYS
) -> list[tuple[str, Scored]]:
    """Score the live features rows (cutoff = as_of) of contacts with enough history."""
    out = []
    for row in rows:
        if row.get("converted_before") or float(row.get("days_known") or 0) < min_days:
            continue
        out.append((row["contact_id"], model.score(features.encode(row))))
    return out
