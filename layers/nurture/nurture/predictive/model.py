"""A trained predictive model as data (model.json), scored in plain Python: no scikit-learn,
no numpy at scoring time.

The model is a logistic regression over standardised inputs:

    log-odds = intercept + sum_j coef_j * (x_j - mean_j) / std_j

where x_j is ln(1 + count) for a count and 1/0 for "category is value". Each term is that
column's contribution; a factor is the sum of one input's columns. So the intercept (the
log-odds of an average contact) plus the factors is the log-odds, exactly: the
explanation is the model, not an approximation of it.

The score is the calibrated probability in percent (1-100) of becoming an opportunity or a
customer within the horizon. Factor points are tenths of log-odds (+7 points is about twice
the odds), rounded for people; `contributions` keeps them exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nurture.predictive.features import words

FORMAT = 1
TOP_FACTORS = 3


@dataclass(frozen=True)
class Column:
    input: str
    transform: str  # "log1p" | "is"
    mean: float
    std: float
    coef: float
    value: str | None = None

    def x(self, inputs: dict[str, Any]) -> float:
        found = inputs.get(self.input)
        if self.transform == "log1p":
            return math.log1p(max(float(found or 0), 0.0))
        return 1.0 if found == self.value else 0.0

    def contribution(self, inputs: dict[str, Any]) -> float:
        return self.coef * (self.x(inputs) - self.mean) / self.std


@dataclass(frozen=True)
class Scored:
    score: int  # 1-100
    probability: float
    log_odds: float
    baseline: float  # the intercept: an average contact's log-odds
    contributions: dict[str, float]  # per input, exact
    factors: list[dict[str, Any]]  # [{"text", "points"}], top positive then top negative

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "probability": round(self.probability, 4),
            "factors": self.factors,
        }


def score_of(probability: float) -> int:
    return max(1, min(100, round(100 * probability)))


def points(contribution: float) -> int:
    return round(10 * contribution)


class PredictiveModel:
    def __init__(self, data: dict[str, Any]):
        if data.get("format") != FORMAT:
            raise ValueError(f"model format {data.get('format')!r} is not {FORMAT}")
        self.data = data
        self.version: int = int(data["version"])
        self.intercept = float(data["intercept"])
        self.columns = [Column(**c) for c in data["columns"]]

    def contributions(self, inputs: dict[str, Any]) -> dict[str, float]:
        found: dict[str, float] = {}
        for column in self.columns:
            found[column.input] = found.get(column.input, 0.0) + column.contribution(inputs)
        return found

    def log_odds(self, inputs: dict[str, Any]) -> float:
        return self.intercept + sum(c.contribution(inputs) for c in self.columns)

    def probability(self, inputs: dict[str, Any]) -> float:
        return _sigmoid(self.log_odds(inputs))

    def score(self, inputs: dict[str, Any]) -> Scored:
        parts = self.contributions(inputs)
        log_odds = self.intercept + sum(parts.values())
        p = _sigmoid(log_odds)
        ranked = sorted(parts.items(), key=lambda kv: kv[1], reverse=True)
        up = [(k, v) for k, v in ranked if points(v) > 0][:TOP_FACTORS]
        down = [(k, v) for k, v in reversed(ranked) if points(v) < 0][:TOP_FACTORS]
        factors = [{"text": words(k, inputs.get(k)), "points": points(v)} for k, v in up + down]
        return Scored(score_of(p), p, log_odds, self.intercept, parts, factors)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def factor_line(factor: dict[str, Any]) -> str:
    """'viewed pricing 3× in the last 14 days (+12)'"""
    pts = int(factor["points"])
    return f"{factor['text']} ({'+' if pts > 0 else '−' if pts < 0 else ''}{abs(pts)})"
