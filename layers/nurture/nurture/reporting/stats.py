"""A/B statistics: each variant against the control with a two-sided, pooled two-proportion
z-test, the p-values Holm-corrected across the comparisons of one split (several variants
tested at once would otherwise find a "winner" by chance). Confidence = 1 - corrected p."""

from __future__ import annotations

import math


def two_proportion_p(
    successes: int, trials: int, control_successes: int, control_trials: int
) -> float:
    """Two-sided p-value that the variant's rate differs from the control's (pooled z-test;
    the same as statsmodels' proportions_ztest). 1.0 when there is nothing to compare."""
    if trials == 0 or control_trials == 0:
        return 1.0
    pooled = (successes + control_successes) / (trials + control_trials)
    variance = pooled * (1 - pooled) * (1 / trials + 1 / control_trials)
    if variance <= 0:
        return 1.0
    z = (successes / trials - control_successes / control_trials) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (statsmodels' 'holm')."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
