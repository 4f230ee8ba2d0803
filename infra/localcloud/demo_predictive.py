"""The demo's last act: a predictive model trained on a seeded synthetic history (the
shipped generator, `nurture demo-data`), its model card, and one contact's explained score.
The model is kept in the local cloud's content bucket (models/predictive/)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from nurture.adapters.predictive import S3ModelStore
from nurture.predictive import features, service
from nurture.predictive.demo_data import Options, read_truth, write
from nurture.predictive.lake import feature_rows, open_lake
from nurture.predictive.model import factor_line
from nurture.predictive.registry import Registry
from nurture.scoring.model import ScoringModel

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 1500


def show(cloud: Any, say: Any = print) -> dict[str, Any]:
    now = cloud.clock.now()
    folder = Path(tempfile.mkdtemp(prefix="nurture-demo-lake-"))
    until = (now - timedelta(days=1)).date().isoformat()
    counts = write(folder, Options(contacts=CONTACTS, seed=7, until=until))
    say(
        f"\nPredictive scoring: a synthetic B2B history ({counts['contacts']} contacts, "
        f"{counts['activities']} activities, `nurture demo-data`) with a known true purchase "
        "probability per contact; trained as `nurture model train` does:"
    )
    engine = open_lake(folder)
    as_of = now.strftime("%Y-%m-%d %H:%M:%S")
    handmade = ScoringModel.model_validate(
        yaml.safe_load((ROOT / "scoring" / "b2b.yaml").read_text())
    )
    registry = Registry(S3ModelStore(cloud.client("s3"), cloud.bucket))
    result = service.train_model(
        service.lake_data(engine, as_of), registry, handmade, as_of, now.isoformat()
    )
    for line in result.card_md.splitlines():
        if line.startswith("## Why"):
            break
        say(f"     {line}" if line else "")
    model = registry.live()
    assert model is not None
    rows = feature_rows(engine, as_of, live=True)
    scored = sorted(service.score_rows(model, rows), key=lambda s: -s[1].probability)
    # one of the top 5% whose score owes something to pricing views
    top = scored[: max(1, len(scored) // 20)]
    contact_id, best = next(
        ((c, s) for c, s in top if any("pricing" in f["text"] for f in s.factors[:3])), top[0]
    )
    truth = read_truth(folder)[contact_id]["p"]
    say(
        f"\n     One contact's explained score: {contact_id} {best.score}/100 "
        f"(model v{model.version}; the generator's true probability {truth:.2f}):"
    )
    for factor in best.factors:
        say(f"       {factor_line(factor)}")
    say(
        f"     (points are tenths of log-odds; intercept {best.baseline:+.2f} + factors = "
        f"{best.log_odds:+.2f}; window: the {features.WINDOW_DAYS} days before now)"
    )
    return {"version": result.version, "live": result.live, "contact": contact_id}
