"""The model card in words (card.md beside card.json): what a marketer reads before
trusting the score."""

from __future__ import annotations

from typing import Any

WHY = (
    "Logistic regression was chosen over gradient-boosted trees explained with SHAP: each "
    "contact's factors are the model itself (intercept + one term per input = the "
    "log-odds, exactly), while SHAP values approximate a tree ensemble's contributions "
    "against a background sample; its probabilities come out calibrated (checked below); "
    "and scoring needs only model.json, no library. What that choice costs in ranking is "
    "measured when the boosted trees are trained on the same split (`boosting`)."
)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def card_markdown(card: dict[str, Any]) -> str:
    h, n, w = card["holdout"], card["counts"], card["window"]
    lines = [
        f"# Predictive model v{card['version']}",
        "",
        f"**{'LIVE' if card['live'] else 'not live'}** - {card['decision']}",
        "",
        f"- Trained {card['trained_at']} on the lake as of {card['as_of']}",
        f"- Model: {card['family']}",
        f"- Outcome: {card['outcome']}",
        f"- Cutoff: {w['cutoff']}",
        f"- Data window: cutoffs {w['first_cutoff']} .. {w['last_cutoff']}; time-ordered "
        f"holdout from {w['first_holdout_cutoff']}",
        f"- Counts: {n['contacts']} contacts, {n['outcomes']} with a known outcome "
        f"({n['positives']} positive); train {n['train']} ({n['train_positives']}), "
        f"holdout {n['holdout']} ({n['holdout_positives']})",
        "",
        "## On the holdout",
        "",
        f"- AUC **{h['auc']}**; top-decile lift {h['top_decile_lift']}x",
        f"- Brier {h['brier']} (base rate alone: {h['brier_base_rate']}); mean predicted "
        f"{_pct(h['mean_predicted'])} vs observed {_pct(h['observed_rate'])}",
    ]
    hand = card.get("handmade") or {}
    if hand:
        lines.append(
            f"- Hand-made score `{hand['model']}`: AUC behaviour {hand['behaviour']}, fit "
            f"{hand['fit']}, both {hand['total']} (best: {hand['auc']}); this model "
            f"{card['holdout']['auc'] - hand['auc']:+.4f}"
        )
    before = card.get("live_before")
    if before:
        lines.append(f"- The live model v{before['version']} on this holdout: AUC {before['auc']}")
    boosting = card.get("boosting")
    if boosting:
        lines.append(
            f"- Gradient boosting (same inputs, same split): AUC {boosting['auc']} "
            f"({boosting['fit_seconds']} s to fit)"
        )
    lines += ["", "Calibration (equal-count bins: predicted vs observed):", ""]
    lines += ["| contacts | predicted | observed |", "|---:|---:|---:|"]
    lines += [
        f"| {b['n']} | {_pct(b['predicted'])} | {_pct(b['observed'])} |" for b in h["reliability"]
    ]
    lines += ["", "## What moves the score most (all contacts)", ""]
    for f in card["top_factors"]:
        lines.append(f"- {f['text']}: {f['direction']} the odds (weight {f['weight']:+})")
    lines += ["", "## Why this model family", "", WHY, ""]
    return "\n".join(lines)
