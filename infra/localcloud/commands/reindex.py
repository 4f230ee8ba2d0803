"""`nurture reindex`: give items written before the admin API's indexes their index keys.

    nurture reindex --stack nurture --region eu-west-1

Contact profiles get the keys of the ContactsTable's ByStage/ByGrade/ByAccount/ByName
indexes (nurture.admin.keys), suppressions and erased entries the StateTable's ByListing
key, so the console's search and suppression list find them. One paged Scan of each table:
run it once after upgrading (a profile or suppression written since carries its keys; an
item changed during the run is left to its own write). Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--region", help="the stack's AWS region (default: your AWS config)")


def backfill(client: Any, contacts_table: str, state_table: str) -> dict[str, Any]:
    from nurture.adapters.admin import IndexBackfill

    filler = IndexBackfill(client, contacts_table, state_table)
    return {"contacts": filler.contacts(), "suppressions": filler.suppressions()}


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    try:
        cfn = session.client("cloudformation")
        tables = [
            cfn.describe_stack_resource(StackName=args.stack, LogicalResourceId=logical)[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
            for logical in ("ContactsTable", "StateTable")
        ]
        result = backfill(session.client("dynamodb"), *tables)
    except (BotoCoreError, ClientError) as exc:
        print(f"nurture reindex: stack {args.stack!r}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
