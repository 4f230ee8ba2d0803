"""`nurture model ...`: the predictive model (nurture.predictive): train, cards, rollback.

    nurture model train --lake demo-lake --models demo-lake     # a folder as the bucket
    nurture model train --bucket my-content-bucket              # the lake and models on S3
    nurture model card                    # the live model's card (--version N for another)
    nurture model list                    # every version, which one is live
    nurture model rollback                # the previously live version goes live again
    nurture model rollback --to 3
    nurture model score --lake demo-lake --models demo-lake --top 10   # explained scores

`train` refuses (exit 3) below the minimum data and says how much more is needed; a new
version is always kept with its card, and goes live only if it beats, on the time-ordered
holdout, both the hand-made score (`--scoring`, default scoring/b2b.yaml) and the live
model. On AWS the weekly TrainFunction does the same and then scores the contacts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("train", "card", "list", "rollback", "score"))
    parser.add_argument("--lake", type=Path, default=Path("."), help="folder holding lake/")
    parser.add_argument("--models", type=Path, help="folder standing in for the bucket")
    parser.add_argument("--bucket", help="the content bucket (lake and models) on S3")
    parser.add_argument("--as-of", dest="as_of", help="train as of (ISO; default: now)")
    parser.add_argument("--scoring", type=Path, default=Path("scoring/b2b.yaml"))
    parser.add_argument("--compare-boosting", action="store_true", dest="boosting")
    parser.add_argument("--version", type=int, help="card: which version")
    parser.add_argument("--to", type=int, help="rollback: to this version")
    parser.add_argument("--top", type=int, default=5, help="score: how many contacts to show")
    parser.add_argument("--json", action="store_true")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_of(text: str | None) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else datetime.now(UTC)
    if moment.tzinfo:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _registry(args: argparse.Namespace) -> Any:
    from nurture.predictive.registry import FolderStore, Registry

    if args.bucket:
        import boto3

        from nurture.adapters.predictive import S3ModelStore

        return Registry(S3ModelStore(boto3.client("s3"), args.bucket))
    return Registry(FolderStore(args.models or args.lake))


def _lake(args: argparse.Namespace) -> Any:
    from nurture.predictive.lake import open_lake

    root = args.lake
    if args.bucket:
        import boto3

        from nurture.adapters.lake import S3Lake
        from nurture.reporting.duckdb_engine import copy_lake

        root = Path(tempfile.mkdtemp(prefix="nurture-lake-"))
        lake = S3Lake(boto3.client("s3"), args.bucket)
        copy_lake(lake, root)
        for key in lake.list("lake/profiles/"):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(lake.get(key))
    return open_lake(root)


def _handmade(path: Path) -> Any:
    import yaml

    from nurture.scoring.model import ScoringModel

    if not path.is_file():
        return None
    return ScoringModel.model_validate(yaml.safe_load(path.read_text()))


def run(args: argparse.Namespace) -> int:
    from nurture.predictive.registry import NoModel

    try:
        return _ACTIONS[args.action](args)
    except NoModel as exc:
        print(f"nurture model {args.action}: {exc}", file=sys.stderr)
        return 1


def _train(args: argparse.Namespace) -> int:
    from nurture.predictive import service
    from nurture.predictive.train import NotEnoughData

    as_of = _as_of(args.as_of)
    data = service.lake_data(_lake(args), as_of)
    try:
        result = service.train_model(
            data, _registry(args), _handmade(args.scoring), as_of, _now(), args.boosting
        )
    except NotEnoughData as exc:
        print(f"nurture model train: {exc}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(result.card, indent=2))
    else:
        print(result.card_md)
    return 0


def _card(args: argparse.Namespace) -> int:
    registry = _registry(args)
    version = args.version or registry.live_version()
    if version is None:
        print("nurture model card: no live model (train one: nurture model train)", file=sys.stderr)
        return 1
    card, text = registry.card(version)
    print(json.dumps(card, indent=2) if args.json else text)
    return 0


def _list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    live = registry.live_version()
    for version in registry.versions():
        card, _ = registry.card(version)
        mark = "*" if version == live else " "
        print(f"{mark} v{version}  AUC {card['holdout']['auc']}  {card['decision']}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    pointer = _registry(args).rollback(_now(), args.to)
    print(f"v{pointer['version']} is live (history: {pointer['history']})")
    return 0


def _score(args: argparse.Namespace) -> int:
    from nurture.predictive import service
    from nurture.predictive.lake import feature_rows
    from nurture.predictive.model import factor_line

    model = _registry(args).live()
    if model is None:
        print("nurture model score: no live model", file=sys.stderr)
        return 1
    rows = feature_rows(_lake(args), _as_of(args.as_of), live=True)
    scored = sorted(service.score_rows(model, rows), key=lambda s: -s[1].probability)
    for contact_id, s in scored[: args.top]:
        if args.json:
            print(json.dumps({"contact_id": contact_id, **s.as_dict()}))
            continue
        print(f"{contact_id}  {s.score}/100 (v{model.version})")
        for factor in s.factors:
            print(f"    {factor_line(factor)}")
    return 0


_ACTIONS = {
    "train": _train,
    "card": _card,
    "list": _list,
    "rollback": _rollback,
    "score": _score,
}
