"""The `nurture` command line: tools for marketers and engineers that run on the local cloud."""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module under localcloud.commands, one-line help)
COMMANDS = {
    "simulate": (
        "simulate",
        "run a program on the local cloud in virtual time and print its timeline",
    ),
    "render": ("render", "preview an email template for a contact"),
    "report": ("report", "program funnels, A/B results, attribution, statuses, pipeline, review"),
    "explain": ("explain", "why a contact has its score and grade (local cloud or a stack)"),
    "dlq": ("dlq", "list a deployed stack's dead letters, and redrive them"),
    "secrets": ("secrets", "create and rotate a deployed stack's secrets in Parameter Store"),
    "cost": ("cost", "what a program costs on AWS per 1,000 contacts, from measured counts"),
    "openapi": ("openapi", "the public and admin APIs' OpenAPI documents, generated from the code"),
    "reindex": ("reindex", "give items written before the admin API's indexes their keys"),
    "demo-data": ("demo_data", "write a seeded synthetic B2B lake with a known ground truth"),
    "model": ("model", "the predictive model: train, card, list, rollback, score"),
    "import": ("import_contacts", "import contacts from a CSV file (a mapping, consent as stated)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nurture", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(f"localcloud.commands.{module_name}")
        except ModuleNotFoundError:
            continue  # a command not built yet
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    result: int = modules[args.command].run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
