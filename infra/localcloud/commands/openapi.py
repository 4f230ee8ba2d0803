"""`nurture openapi`: the public API's OpenAPI document, generated from the code.

    nurture openapi            # print it
    nurture openapi --write    # regenerate layers/nurture/nurture/api/openapi.json and
                               # the admin API's layers/nurture/nurture/admin/openapi.json
    nurture openapi --check    # exit 1 when a committed copy is out of date

The functions serving the template's public HttpApi (IngestApi) are loaded as the local cloud
loads them, each writes its part (powertools Event Handler), and `nurture.api.openapi.build`
joins them; every route the template gives the public API must be documented.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from nurture.api import openapi

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

PUBLIC_API = "IngestApi"


def public_routes(cloud: LocalCloud) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the logical id of the function serving it, for the public API."""
    routes = {}
    for logical, props in cloud.template["Resources"].items():
        if props["Type"] != "AWS::Serverless::Function":
            continue
        for event in props["Properties"].get("Events", {}).values():
            api = event.get("Properties", {}).get("ApiId")
            if event["Type"] == "HttpApi" and api == {"Ref": PUBLIC_API}:
                p = event["Properties"]
                routes[(p["Method"].upper(), p["Path"])] = logical
    return routes


def document(cloud: LocalCloud) -> dict[str, Any]:
    """The document, from the functions `cloud` has loaded."""
    routes = public_routes(cloud)
    apps = [cloud.functions[logical].module.app for logical in sorted(set(routes.values()))]
    return openapi.build(apps, routes)


ADMIN_API, ADMIN_FUNCTION = "AdminApi", "AdminFunction"


def api_routes(cloud: LocalCloud, api_id: str) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the logical id of the function serving it, for the HttpApi `api_id`."""
    routes = {}
    for logical, props in cloud.template["Resources"].items():
        if props["Type"] != "AWS::Serverless::Function":
            continue
        for event in props["Properties"].get("Events", {}).values():
            p = event.get("Properties", {})
            if event["Type"] == "HttpApi" and p.get("ApiId") == {"Ref": api_id}:
                routes[(p["Method"].upper(), p["Path"])] = logical
    return routes


def admin_document(cloud: LocalCloud) -> dict[str, Any]:
    """The admin API's document (nurture.admin.openapi): the admin function's routes."""
    from nurture.admin import openapi as admin_openapi

    routes = [r for r, fn in api_routes(cloud, ADMIN_API).items() if fn == ADMIN_FUNCTION]
    return admin_openapi.build(cloud.functions[ADMIN_FUNCTION].module.app, routes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write", action="store_true", help=f"write {openapi.DOCUMENT.name}")
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")


def run(args: argparse.Namespace) -> int:
    from localcloud.cloud import LocalCloud
    from nurture.admin import openapi as admin_openapi

    with LocalCloud(frequent_schedules=False) as cloud:
        texts = {
            openapi.DOCUMENT: openapi.render(document(cloud)),
            admin_openapi.DOCUMENT: admin_openapi.render(admin_document(cloud)),
        }
    if args.write:
        for path, text in texts.items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        return 0
    if args.check:
        stale = [
            path
            for path, text in texts.items()
            if (path.read_text(encoding="utf-8") if path.exists() else "") != text
        ]
        for path in stale:
            print(f"{path} is out of date: run `nurture openapi --write`")
        return 1 if stale else 0
    sys.stdout.write(texts[openapi.DOCUMENT])
    return 0
