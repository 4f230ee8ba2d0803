"""Training and evaluating a predictive model (scikit-learn; imported here only).

Rows are the features query's (nurture.predictive.features) for contacts whose horizon has
passed and who had not converted before their cutoff. They are ordered by cutoff; the last
`HOLDOUT_SHARE` is the time-ordered holdout: the model is fitted on earlier contacts and
judged on later ones, as it will be used.

Model family: logistic regression on standardised inputs (ln(1 + count), one-hot
categories), L2-regularised. Chosen over gradient boosting + SHAP because its
per-contact explanation is exact (intercept + coef*z per input = the log-odds, no
approximation or background sample), it is scored from a small JSON without any library,
and its probabilities are calibrated by construction of the log-loss fit (checked on the
holdout: reliability bins, Brier). The card reports gradient boosting's holdout AUC on the
same split when asked (`compare_boosting`), so the price of that choice is measured.
"""

from __future__ import annotations

import time
from typing import Any

from nurture.predictive import features
from nurture.predictive.model import FORMAT, PredictiveModel

HOLDOUT_SHARE = 0.25
# Below this, a model is refused: too few outcomes to learn from and to judge on.
MIN_OUTCOMES = 1000  # contacts whose horizon has passed
MIN_POSITIVES = 100  # of them, became an opportunity or a customer
MIN_LEVEL_SHARE = 0.01  # a category value seen in fewer training contacts is "other"
C = 1.0


class NotEnoughData(Exception):
    def __init__(self, outcomes: int, positives: int):
        self.outcomes, self.positives = outcomes, positives
        more_outcomes = max(0, MIN_OUTCOMES - outcomes)
        more_positives = max(0, MIN_POSITIVES - positives)
        needs = []
        if more_outcomes:
            needs.append(
                f"{more_outcomes} more contacts whose {features.HORIZON_DAYS}-day horizon has passed"
            )
        if more_positives:
            needs.append(f"{more_positives} more who became an opportunity or a customer")
        super().__init__(
            f"not enough data to train: {outcomes} outcomes ({positives} positive); needs at "
            f"least {MIN_OUTCOMES} outcomes and {MIN_POSITIVES} positives: " + " and ".join(needs)
        )
        self.more_outcomes, self.more_positives = more_outcomes, more_positives


def eligible(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [r for r in rows if r["horizon_passed"] and not r["converted_before"]]
    return sorted(found, key=lambda r: (r["cutoff"], r["contact_id"]))


def check_enough(rows: list[dict[str, Any]]) -> None:
    positives = sum(int(r["label"]) for r in rows)
    if len(rows) < MIN_OUTCOMES or positives < MIN_POSITIVES:
        raise NotEnoughData(len(rows), positives)


def split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, holdout): ordered by cutoff, the newest share is the holdout."""
    cut = int(len(rows) * (1 - HOLDOUT_SHARE))
    return rows[:cut], rows[cut:]


def _design(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The columns: each count as ln(1+n); each category value common enough."""
    columns: list[dict[str, Any]] = [{"input": n, "transform": "log1p"} for n in features.COUNTS]
    floor = max(1, int(MIN_LEVEL_SHARE * len(inputs)))
    for name in features.CATEGORIES:
        counts: dict[str, int] = {}
        for x in inputs:
            counts[x[name]] = counts.get(x[name], 0) + 1
        for value, n in sorted(counts.items()):
            if n >= floor:
                columns.append({"input": name, "transform": "is", "value": value})
    return columns


def _matrix(columns: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> Any:
    import numpy as np

    from nurture.predictive.model import Column

    cols = [Column(mean=0.0, std=1.0, coef=0.0, **c) for c in columns]
    return np.array([[c.x(x) for c in cols] for x in inputs], dtype=float)


def fit(train: list[dict[str, Any]], version: int = 0) -> PredictiveModel:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    inputs = [features.encode(r) for r in train]
    y = np.array([int(r["label"]) for r in train])
    columns = _design(inputs)
    x = _matrix(columns, inputs)
    mean, std = x.mean(axis=0), x.std(axis=0)
    keep = std > 1e-9
    columns = [c for c, k in zip(columns, keep, strict=True) if k]
    z = (x[:, keep] - mean[keep]) / std[keep]
    fitted = LogisticRegression(C=C, max_iter=5000).fit(z, y)
    model_columns = [
        {**c, "mean": float(m), "std": float(s), "coef": float(b)}
        for c, m, s, b in zip(columns, mean[keep], std[keep], fitted.coef_[0], strict=True)
    ]
    return PredictiveModel(
        {
            "format": FORMAT,
            "version": version,
            "intercept": float(fitted.intercept_[0]),
            "columns": model_columns,
            "observe_days": features.OBSERVE_DAYS,
            "window_days": features.WINDOW_DAYS,
            "horizon_days": features.HORIZON_DAYS,
        }
    )


def auc(labels: list[int], scores: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < sum(labels) < len(labels) else 0.5


def reliability(labels: list[int], probs: list[float], bins: int = 10) -> list[dict[str, Any]]:
    """Equal-count bins by predicted probability: mean predicted vs observed rate."""
    order = sorted(range(len(probs)), key=lambda i: probs[i])
    out = []
    for b in range(bins):
        part = order[b * len(order) // bins : (b + 1) * len(order) // bins]
        if not part:
            continue
        out.append(
            {
                "n": len(part),
                "predicted": round(sum(probs[i] for i in part) / len(part), 4),
                "observed": round(sum(labels[i] for i in part) / len(part), 4),
            }
        )
    return out


def top_decile_lift(labels: list[int], scores: list[float]) -> float:
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    top = order[: max(1, len(order) // 10)]
    base = sum(labels) / len(labels) if labels else 0.0
    rate = sum(labels[i] for i in top) / len(top)
    return round(rate / base, 3) if base else 0.0


def evaluate(model: PredictiveModel, rows: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [int(r["label"]) for r in rows]
    probs = [model.probability(features.encode(r)) for r in rows]
    base = sum(labels) / len(labels) if labels else 0.0
    return {
        "auc": round(auc(labels, probs), 4),
        "brier": round(
            sum((p - y) ** 2 for p, y in zip(probs, labels, strict=True)) / len(rows), 5
        ),
        "brier_base_rate": round(base * (1 - base), 5),
        "mean_predicted": round(sum(probs) / len(probs), 4),
        "observed_rate": round(base, 4),
        "reliability": reliability(labels, probs),
        "top_decile_lift": top_decile_lift(labels, probs),
    }


def boosting_auc(train: list[dict[str, Any]], holdout: list[dict[str, Any]]) -> dict[str, Any]:
    """The alternative the card compares with: gradient-boosted trees on the same inputs."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    inputs = [features.encode(r) for r in train]
    columns = _design(inputs)
    started = time.perf_counter()
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
    model.fit(_matrix(columns, inputs), np.array([int(r["label"]) for r in train]))
    seconds = time.perf_counter() - started
    probs = model.predict_proba(_matrix(columns, [features.encode(r) for r in holdout]))[:, 1]
    labels = [int(r["label"]) for r in holdout]
    return {
        "auc": round(auc(labels, [float(p) for p in probs]), 4),
        "fit_seconds": round(seconds, 2),
    }


def top_factors(model: PredictiveModel, n: int = 10) -> list[dict[str, Any]]:
    """The columns that move the log-odds most across contacts (|coef| per std)."""
    ranked = sorted(model.columns, key=lambda c: abs(c.coef), reverse=True)[:n]
    out = []
    for c in ranked:
        what = (
            features.COUNTS[c.input][0].replace("{n}", "N")
            if c.transform == "log1p"
            else features.CATEGORIES[c.input].format(value=c.value)
        )
        out.append(
            {
                "input": c.input,
                "value": c.value,
                "text": what,
                "direction": "raises" if c.coef > 0 else "lowers",
                "weight": round(c.coef, 3),
            }
        )
    return out
