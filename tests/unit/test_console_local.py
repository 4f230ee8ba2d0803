"""The local cloud's /console/ (infra/localcloud/console.py): the built files with the headers
CloudFront sends, a config.json that signs in with the local credentials, nothing outside
console/dist/ and no dot-files, and a clear answer when the console is not built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud import console

pytestmark = pytest.mark.unit


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "chunks").mkdir(parents=True)
    (built / "index.html").write_text("<!doctype html><title>t</title>")
    (built / "app.js").write_text("export {};")
    (built / "chunks" / "a.js").write_text("export {};")
    (built / ".built").write_text("stamp")
    (tmp_path / "secret.txt").write_text("not served")
    return built


def test_files_are_served_with_their_type_and_the_security_headers(dist: Path) -> None:
    for path, kind in (
        ("/console/", "text/html; charset=utf-8"),
        ("/console/index.html", "text/html; charset=utf-8"),
        ("/console/app.js?v=1", "text/javascript; charset=utf-8"),
        ("/console/chunks/a.js", "text/javascript; charset=utf-8"),
    ):
        status, headers, body = console.serve("GET", path, dist)
        assert status == 200, path
        assert headers["Content-Type"] == kind
        assert body
        for name, value in console.SECURITY_HEADERS.items():
            assert headers[name] == value
    csp = console.SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp


def test_config_signs_in_with_the_local_credentials_on_the_same_origin(dist: Path) -> None:
    status, headers, body = console.serve("GET", "/console/config.json", dist)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"mode": "local", "region": "us-east-1", "apiUrl": ""}


@pytest.mark.parametrize(
    "path",
    [
        "/console/../secret.txt",
        "/console/%2e%2e/secret.txt",
        "/console/chunks/../../secret.txt",
        "/console/.built",
        "/console/missing.js",
        "/console/chunks",
    ],
)
def test_nothing_outside_the_build_is_served(dist: Path, path: str) -> None:
    status, headers, body = console.serve("GET", path, dist)
    assert status == 404, path
    assert b"not served" not in body
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_only_reads_and_a_clear_answer_when_not_built(tmp_path: Path, dist: Path) -> None:
    assert console.serve("POST", "/console/", dist)[0] == 405
    assert console.serve("GET", "/console", dist)[:2] == (301, {"Location": "/console/"})
    status, _, body = console.serve("GET", "/console/", tmp_path / "nothing")
    assert status == 503 and b"make demo" in body
    assert console.is_console("/console/x.js") and console.is_console("/console?x")
    assert not console.is_console("/consoles") and not console.is_console("/v1/console")
