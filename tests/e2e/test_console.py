"""The web console in headless Chromium (Debian's, driven by Playwright) against the local
cloud after a scripted journey (tests/e2e/console_journey.py): each page shows what the admin
API answers, a task is completed and a suppression lifted through the page, axe-core finds no
serious or critical accessibility problem on any page, and every page is saved as a
screenshot under tests/e2e/output/console/.

The pages run under the Content-Security-Policy CloudFront sends (no inline script or style):
the local cloud sends the same header. Needs `make` to have built console/ (npm + esbuild) and
Debian's chromium (both in `make test`)."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from localcloud import LocalCloud
from localcloud.server import LocalApi
from tests.e2e.console_journey import LEAD, Admin, play

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "console/node_modules/axe-core/axe.min.js"
OUTPUT = ROOT / "tests/e2e/output/console"
PAGES = [
    "programs",
    "program",
    "program-ab",
    "contacts",
    "contact",
    "results",
    "tasks",
    "suppressions",
]


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LocalCloud, LocalApi]]:
    if not (ROOT / "console/dist/index.html").exists() or not AXE.exists():
        pytest.fail("the console is not built: `make test` runs npm ci + the build in console/")
    cloud = LocalCloud().start()
    api = LocalApi(cloud, port=0, log=lambda line: None).start()
    try:
        cloud.sync_content(only=["welcome", "sales-ready", "b2b"])
        play(cloud)
        yield cloud, api
    finally:
        api.stop()
        cloud.__exit__()


@pytest.fixture(scope="module")
def admin(stack: tuple[LocalCloud, LocalApi]) -> Admin:
    return Admin(stack[1])


@pytest.fixture(scope="module")
def page(stack: tuple[LocalCloud, LocalApi]) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        problems: list[str] = []
        tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        tab.on(
            "console",
            lambda msg: (
                problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error"
                and "status of 4" not in msg.text  # refused answers are shown
                else None
            ),
        )
        tab.goto(f"{stack[1].url}/console/")
        tab.wait_for_selector("main[data-ready=true] h1")
        try:
            yield tab
        finally:
            assert problems == []  # no script error, nothing the CSP blocked
            browser.close()


def visit(page: Page, route: str) -> None:
    """Go to a console route (signing in first if need be) and wait until its page is drawn."""
    page.evaluate("route => { window.location.hash = '#/' + route }", route)
    page.wait_for_selector(f"main[data-ready=true][data-route='{route}'] h1")
    if page.inner_text("main h1") == "Sign in":
        page.fill("input[name=username]", "local")
        page.fill("input[name=password]", "local")
        page.click("form.sign-in button[type=submit]")
        page.wait_for_selector(
            f"main[data-ready=true][data-route='{route}'] h1:not(:text('Sign in'))"
        )


def check_timeline(page: Page, admin: Admin, contact_id: str) -> None:
    """The timeline table holds the API's pages of 25, older ones loaded on demand."""
    expected: list[str] = []
    cursor = None
    while True:
        query = f"?limit=25&cursor={cursor}" if cursor else "?limit=25"
        answer = admin.get(f"/admin/contacts/{contact_id}/timeline{query}")
        expected += [f"{a['kind']} {a['name'] or '–'}" for a in answer["activities"]]
        page.wait_for_selector(
            f"table[data-table='timeline'] caption:has-text('({len(expected)} shown)')"
        )
        assert [f"{r[1]} {r[2]}" for r in table_rows(page, "timeline")] == expected
        cursor = answer["next_cursor"]
        if not cursor:
            assert page.locator("button:has-text('Older activities')").count() == 0
            return
        page.click("button:has-text('Older activities')")


def check_page(page: Page, name: str) -> None:
    """No serious or critical axe-core violation; the page saved as a screenshot."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    violations = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
           .then(r => r.violations.map(v => ({id: v.id, impact: v.impact,
             nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))"""
    )
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == [], name
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def table_rows(page: Page, name: str) -> list[list[str]]:
    """The rows of a data table as the reader sees them (header cell first)."""
    rows: list[list[str]] = page.eval_on_selector_all(
        f"table[data-table='{name}'] tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.innerText.trim()))",
    )
    return [r for r in rows if len(r) > 1]


def facts(page: Page, name: str) -> dict[str, str]:
    pairs: list[list[str]] = page.eval_on_selector_all(
        f"dl[data-facts='{name}'] dt",
        "dts => dts.map(dt => [dt.innerText.trim(), dt.nextElementSibling.innerText.trim()])",
    )
    return dict((k, v) for k, v in pairs)


def fmt(value: Any) -> str:
    """A number as the console writes it (en grouping), '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, (int, float)) else str(value)


def test_sign_in_refuses_wrong_credentials_and_keyboard_reaches_every_page(page: Page) -> None:
    assert page.inner_text("main h1") == "Sign in"
    page.fill("input[name=username]", "local")
    page.fill("input[name=password]", "not-the-secret")
    page.click("form.sign-in button[type=submit]")
    page.wait_for_selector("main [role=alert]")
    assert "refused" in page.inner_text("main [role=alert]")
    assert page.inner_text("main h1") == "Sign in"
    check_page(page, "sign-in")
    page.fill("input[name=username]", "local")
    page.fill("input[name=password]", "local")
    page.click("form.sign-in button[type=submit]")
    page.wait_for_selector("main[data-ready=true][data-route='programs'] h1")
    assert page.inner_text("main h1") == "Programs"
    # keyboard only, from a fresh load: the skip link first, then the menu; Enter follows a link
    page.reload()
    page.wait_for_selector("main[data-ready=true][data-route='programs'] h1")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Contacts"
    page.keyboard.press("Enter")
    page.wait_for_selector("main[data-ready=true][data-route='contacts'] h1")
    assert page.evaluate("document.activeElement.tagName") == "H1"  # focus moved to the page
    assert page.get_attribute("nav a[href='#/contacts']", "aria-current") == "page"


def test_programs_are_drawn_as_their_graphs_with_live_counts(
    page: Page, admin: Admin, stack: tuple[LocalCloud, LocalApi]
) -> None:
    visit(page, "programs")
    programs = admin.get("/admin/programs")["programs"]
    assert {p["program_id"] for p in programs} == {"welcome", "welcome-ab", "sales-ready"}
    rows = {r[0]: r for r in table_rows(page, "programs")}
    for p in programs:
        name = p["name"]
        assert rows[name][1:] == [
            p["status"],
            fmt(p["version"]),
            fmt(p["counts"]["running"]),
            fmt(p["counts"]["completed"]),
            fmt(p["counts"]["exited"]),
        ]
    for p in programs:
        graph = admin.get(f"/admin/programs/{p['program_id']}")["graph"]
        drawn = page.evaluate(
            "id => window.__graphs[id].nodes().map(n => ({id: n.id(), label: n.style('label'),"
            " w: n.renderedWidth()}))",
            p["program_id"],
        )
        assert {n["id"] for n in drawn} == {n["id"] for n in graph["nodes"]}
        counts = {n["id"]: n["count"] for n in graph["nodes"]}
        for node in drawn:
            # what the canvas draws on each node: its step and the contacts that reached it
            if counts[node["id"]] is None:  # a state the compiler adds (a send window's wait)
                assert "\n" not in node["label"], node
            else:
                assert node["label"].split("\n")[-1] == fmt(counts[node["id"]]), node
            assert node["w"] > 0
        edges = page.evaluate(
            "id => window.__graphs[id].edges().map(e => [e.source().id(), e.target().id()])",
            p["program_id"],
        )
        assert sorted(map(tuple, edges)) == sorted((e["from"], e["to"]) for e in graph["edges"])
        # the shape drawn is the compiled state machine's, as deployed to Step Functions
        states, transitions = compiled_shape(stack[0], p["program_id"])
        assert {n["id"] for n in drawn} == states
        assert set(map(tuple, edges)) == transitions
    welcome = {n["id"]: n["count"] for n in admin.get("/admin/programs/welcome")["graph"]["nodes"]}
    assert welcome["welcome-1"] == 3  # the three sign-ups went through it
    check_page(page, "programs")


def test_a_program_shows_its_funnel_ab_results_versions_and_recent_runs(
    page: Page, admin: Admin
) -> None:
    detail = admin.get("/admin/programs/welcome")
    visit(page, "programs/welcome")
    stages = ["entered", "sent", "opened", "clicked", "converted"]
    assert table_rows(page, "funnel") == [
        [f.get("label") or f["step"], *(fmt(f.get(s, 0)) for s in stages)] for f in detail["funnel"]
    ]
    sent = [f.get("sent", 0) for f in detail["funnel"]]
    assert sum(sent) >= 3  # three welcome emails at least
    if detail["funnel"]:
        datasets = page.evaluate("window.__charts.funnel.data.datasets.map(d => [d.label, d.data])")
        assert datasets[1] == ["Sent", sent]
    assert detail["ab"] == []
    assert [r[0] for r in table_rows(page, "versions")] == [
        fmt(v["version"]) for v in detail["versions"]
    ]
    assert [r[0] for r in table_rows(page, "entries")] == [
        e["contact_id"] for e in detail["recent"]["entries"]
    ]
    assert [r[0] for r in table_rows(page, "exits")] == [
        e["contact_id"] for e in detail["recent"]["exits"]
    ]
    assert len(detail["recent"]["entries"]) == 3
    check_page(page, "program")

    # the A/B program: each variant's entrants and conversions, the winner if decided
    visit(page, "programs/welcome-ab")
    [test] = admin.get("/admin/programs/welcome-ab")["ab"]
    rows = table_rows(page, "ab-pick")
    assert [r[:3] for r in rows] == [
        [
            v["name"] + (" (winner)" if v["name"] == test["winner"] else ""),
            fmt(v["sent"]),
            fmt(v["converted"]),
        ]
        for v in test["variants"]
    ]
    assert sum(v["sent"] for v in test["variants"]) == 3  # the three sign-ups, split
    assert sum(v["converted"] for v in test["variants"]) == 1  # Ada's order
    caption = page.inner_text("table[data-table='ab-pick'] caption")
    assert (f"winner {test['winner']}" if test["winner"] else "no winner yet") in caption
    check_page(page, "program-ab")

    # pause and resume from the page
    page.click("main .actions button:has-text('Pause')")
    page.wait_for_selector("main[data-ready=true] .status:has-text('is now paused')")
    assert admin.get("/admin/programs/welcome-ab")["program"]["status"] == "paused"
    assert page.is_disabled("main .actions button:has-text('Pause')")
    page.click("main .actions button:has-text('Resume')")
    page.wait_for_selector("main[data-ready=true] .status:has-text('is now active')")
    assert admin.get("/admin/programs/welcome-ab")["program"]["status"] == "active"


def test_contacts_search_and_one_contact_page(page: Page, admin: Admin) -> None:
    visit(page, "contacts")
    page.wait_for_selector("table[data-table='contacts']")
    everyone = admin.post("/admin/contacts/search", {"limit": 50})["contacts"]
    shown = {r[1]: r for r in table_rows(page, "contacts")}
    assert set(shown) == {c["email"] for c in everyone}
    for c in everyone:
        assert shown[c["email"]][2:6] == [
            c["stage"] or "–",
            c["grade"] or "–",
            fmt(c["score"]),
            fmt(c["predictive_score"]),
        ]
    # by grade and score range: what the API finds for the same criteria
    page.select_option("select[name=grade]", "F")
    page.fill("input[name=score_max]", "10")
    page.click("form.search button[type=submit]")
    found = admin.post("/admin/contacts/search", {"grade": "F", "score_max": 10, "limit": 50})
    emails = sorted(c["email"] for c in found["contacts"])
    assert emails == ["ada@example.com", "bob@example.com", "cy@example.com"]
    page.wait_for_selector(
        f"table[data-table='contacts'] caption:has-text('{len(emails)} contacts')"
    )
    assert sorted(r[1] for r in table_rows(page, "contacts")) == emails
    # search by email: the address goes in the POST body, never in the URL
    page.select_option("select[name=grade]", "")
    page.fill("input[name=score_max]", "")
    page.fill("input[name=email]", LEAD)
    with page.expect_request(lambda r: r.url.endswith("/admin/contacts/search")) as sent:
        page.click("form.search button[type=submit]")
    assert json.loads(sent.value.post_data or "{}")["email"] == LEAD
    assert LEAD not in sent.value.url
    page.wait_for_selector("table[data-table='contacts'] caption:has-text('1 contact')")
    [grace] = table_rows(page, "contacts")
    assert grace[1] == LEAD
    check_page(page, "contacts")

    contact_id = next(c["contact_id"] for c in everyone if c["email"] == LEAD)
    page.click(f"a[href='#/contacts/{contact_id}']")
    page.wait_for_selector(f"main[data-ready=true][data-route='contacts/{contact_id}'] h1")
    detail = admin.get(f"/admin/contacts/{contact_id}")
    scores = facts(page, "scores")
    assert scores == {
        "Score": fmt(detail["scores"]["score"]),
        "Grade": detail["scores"]["grade"],
        "Stage": detail["scores"]["stage"],
    }
    assert scores["Stage"] == "mql" and scores["Grade"] == "A"
    reasons = table_rows(page, "score-reasons")
    assert [r[0] for r in reasons] == [r["text"] for r in detail["scores"]["reasons"]]
    assert [int(r[1].replace(",", "")) for r in reasons] == [
        r["points"] for r in detail["scores"]["reasons"]
    ]
    assert facts(page, "profile")["Email"] == LEAD
    predictive = detail["scores"]["predictive"]
    assert facts(page, "predictive") == {
        "Predictive score": fmt(predictive["score"]),
        "Model version": str(predictive["model_version"]),
    }
    assert predictive["score"] == 82
    assert [(r[0], int(r[1])) for r in table_rows(page, "predictive-factors")] == [
        (f["text"], f["points"]) for f in predictive["factors"]
    ]
    assert [r[0] for r in table_rows(page, "runs")] == [r["program_id"] for r in detail["runs"]]
    assert [r[0] for r in table_rows(page, "contact-tasks")] == [
        t["title"] for t in detail["tasks"]
    ]
    assert len(detail["tasks"]) == 1
    check_timeline(page, admin, contact_id)
    check_page(page, "contact")

    # Ada: consent with its proof, the click that scored, and her welcome run
    ada = next(c["contact_id"] for c in everyone if c["email"] == "ada@example.com")
    visit(page, f"contacts/{ada}")
    detail = admin.get(f"/admin/contacts/{ada}")
    consents = table_rows(page, "consents")
    assert [(r[0], r[1], r[2], r[4]) for r in consents] == [
        (c["channel"], c["topic"], c["status"], c["wording"]) for c in detail["consents"]
    ]
    assert consents and "consent.confirmed" in consents[0][6]  # the proof: the confirmation
    assert facts(page, "suppression")["Suppressed"] == "no"
    check_timeline(page, admin, ada)
    assert len(table_rows(page, "timeline")) > 25  # more than one page: "Older activities" used
    runs = [r[0] for r in table_rows(page, "runs")]
    assert runs == [r["program_id"] for r in detail["runs"]]
    assert sorted(runs) == ["welcome", "welcome-ab"]


def test_results_chart_attribution_and_pipeline(page: Page, admin: Admin) -> None:
    visit(page, "results")
    attribution = admin.get("/admin/reports/attribution?group_by=channel")
    pipeline = admin.get("/admin/reports/pipeline")
    assert attribution["revenue"] == 120  # Ada's order
    assert page.inner_text("[data-total=revenue]").endswith(fmt(attribution["revenue"]))
    models = ["first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay"]
    assert table_rows(page, "attribution") == [
        [str(r["channel"]), *(fmt(r[m]) for m in models)] for r in attribution["rows"]
    ]
    charted = page.evaluate("window.__charts.attribution.data.datasets[2].data")
    assert charted == [r["linear"] for r in attribution["rows"]]
    keys = ["new_contacts", "leads", "mqls", "sqls", "customers"]
    assert [r[:7] for r in table_rows(page, "pipeline")] == [
        [r["week"], r["source"] or "(none)", *(fmt(r[k]) for k in keys)] for r in pipeline["rows"]
    ]
    new_contacts = page.evaluate("window.__charts.pipeline.data.datasets[0].data")
    assert sum(new_contacts) == sum(r["new_contacts"] for r in pipeline["rows"]) == 4
    check_page(page, "results")
    # attributed by program instead, from the form
    page.select_option("select[name=group_by]", "program")
    page.click("form.search button[type=submit]")
    page.wait_for_selector("main[data-ready=true][data-route='results?group_by=program'] h1")
    by_program = admin.get("/admin/reports/attribution?group_by=program")
    assert table_rows(page, "attribution") == [
        [str(r["program"]), *(fmt(r[m]) for m in models)] for r in by_program["rows"]
    ]
    assert by_program["rows"]


def test_a_task_is_completed_from_the_tasks_page(page: Page, admin: Admin) -> None:
    visit(page, "tasks")
    [task] = admin.get("/admin/tasks?status=open")["tasks"]
    rows = table_rows(page, "tasks")
    assert [(r[0], r[2], r[3]) for r in rows] == [(task["title"], task["assignee"], "open")]
    check_page(page, "tasks")
    page.click(f"button[data-complete='{task['task_id']}']")
    page.wait_for_selector("main[data-ready=true] .status:has-text('Done:')")
    assert table_rows(page, "tasks") == []
    assert admin.get("/admin/tasks?status=open")["tasks"] == []
    [done] = admin.get(f"/admin/tasks?status=done&assignee={task['assignee']}")["tasks"]
    assert done["task_id"] == task["task_id"] and done["status"] == "done"


def test_a_suppression_is_lifted_and_a_complaint_needs_the_override(
    page: Page, admin: Admin
) -> None:
    visit(page, "suppressions")
    listed = admin.get("/admin/suppressions?channel=email")["suppressions"]
    rows = table_rows(page, "suppressions")
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (s["address"], s["reason"], s["detail"] or "–") for s in listed
    ]
    check_page(page, "suppressions")
    by_address = {s["address"]: s for s in listed}
    assert {by_address["cy@example.com"]["reason"], by_address["bob@example.com"]["reason"]} == {
        "complaint",
        "hard_bounce",
    }

    # Cy complained: without the override the API refuses (409), and the page says why
    page.click(f"button[data-lift='{by_address['cy@example.com']['suppression_id']}']")
    page.fill("form.lift-form textarea[name=reason]", "She asked to be added back by phone")
    page.click("form.lift-form button[type=submit]")
    page.wait_for_selector("main [role=alert]")
    assert "complaint" in page.inner_text("main [role=alert]").lower()
    assert len(admin.get("/admin/suppressions?channel=email")["suppressions"]) == 2
    page.click("form.lift-form button:has-text('Cancel')")

    # Bob's mailbox works again: lifted with a reason
    page.click(f"button[data-lift='{by_address['bob@example.com']['suppression_id']}']")
    page.fill("form.lift-form textarea[name=reason]", "New mailbox, confirmed with him")
    page.click("form.lift-form button[type=submit]")
    page.wait_for_selector("main[data-ready=true] .status:has-text('Lifted:')")
    left = admin.get("/admin/suppressions?channel=email")["suppressions"]
    assert [s["address"] for s in left] == ["cy@example.com"]
    assert [r[0] for r in table_rows(page, "suppressions")] == ["cy@example.com"]
    bob = by_address["bob@example.com"]["contact_id"]
    assert admin.get(f"/admin/contacts/{bob}")["suppression"]["suppressed"] is False

    # Cy's complaint, with the override ticked: lifted too
    page.click(f"button[data-lift='{by_address['cy@example.com']['suppression_id']}']")
    page.fill("form.lift-form textarea[name=reason]", "She asked to be added back by phone")
    page.check("form.lift-form input[name=override_complaint]")
    page.click("form.lift-form button[type=submit]")
    page.wait_for_selector("main[data-ready=true] .status:has-text('Lifted: cy@example.com')")
    assert admin.get("/admin/suppressions?channel=email")["suppressions"] == []
    assert table_rows(page, "suppressions") == []
    cy = by_address["cy@example.com"]["contact_id"]
    assert admin.get(f"/admin/contacts/{cy}")["suppression"]["suppressed"] is False


def compiled_shape(cloud: LocalCloud, program_id: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The states and transitions of the program's deployed state machine (its ASL)."""
    sfn = cloud.client("stepfunctions")
    [arn] = [
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"] == f"{cloud.stack}-program-{program_id}"
    ]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    states: set[str] = set()
    edges: set[tuple[str, str]] = set()

    def walk(machine: dict[str, Any]) -> None:
        for name, state in machine["States"].items():
            states.add(name)
            targets = [state.get("Next"), state.get("Default")]
            targets += [c.get("Next") for c in state.get("Choices", [])]
            targets += [c.get("Next") for c in state.get("Catch", [])]
            edges.update((name, t) for t in targets if t)
            for branch in [*state.get("Branches", []), state.get("ItemProcessor")]:
                if branch:
                    walk(branch)

    walk(definition)
    return states, edges


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_page_was_saved_as_a_screenshot_and_the_graph_carries_the_counts(
    page: Page, admin: Admin
) -> None:
    for name in ["sign-in", *PAGES]:
        path = OUTPUT / f"{name}.png"
        assert path.exists(), f"no screenshot of {name}"
        width, height = _png_size(path)
        assert width == 1280 and height >= 600, (name, width, height)
        assert path.stat().st_size > 20_000, f"{name}.png looks empty"
    # the program graph as drawn: a picture of the graph alone, and its nodes' counts
    visit(page, "programs/welcome")
    graph = admin.get("/admin/programs/welcome")["graph"]
    shot = OUTPUT / "program-graph.png"
    page.locator("[data-graph='welcome']").first.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    labels = page.evaluate("window.__graphs.welcome.nodes().map(n => n.style('label'))")
    assert sorted(labels) == sorted(
        n["label"] or n["id"]
        if n["count"] is None
        else f"{n['label'] or n['id']}\n{fmt(n['count'])}"
        for n in graph["nodes"]
    )
    assert any(n["count"] > 0 for n in graph["nodes"])
