"""`nurture demo-data`: a seeded synthetic B2B history with a known ground truth.

What it writes under a folder, in the bucket's layout (copy it to `s3://<bucket>/` as is):

    lake/activities/dt=YYYY-MM-DD/demo-<n>.json.gz   activity rows (nurture.reporting.lake)
    lake/profiles/contacts.json.gz                   the contact profile snapshot (fit fields)
    lake/profiles/accounts.json.gz                   the accounts (`group` traits)
    truth/truth.csv                                  contact_id, cutoff, eligible, p, label
    truth/README.md                                  the generating model, in words

The story of one contact: a visitor browses anonymously for up to 14 days, fills a form and
becomes a contact (`contact.identified`, created), keeps browsing, reading email and filling
forms for `observe_days` (30) days: that moment is the contact's *cutoff*. Their **true
purchase probability** `p` is a known function of what they did before the cutoff and of who
they are (`true_logit` below): the chance that they become an opportunity or a customer
within `horizon_days` (90) after the cutoff. The outcome is drawn from `p` once: a CRM
opportunity (`contact.stage_changed` to `sql`) and a `Deal Won`, or an `Order Completed`.
After the cutoff everyone keeps doing things, and buyers visit pricing and ask for a demo
before they buy: bait for a feature query that would read past the cutoff (leakage).

The truth says what a hand-made score gets wrong: guide downloads and blog reading go with
*lower* odds (researchers, students, competitors), the newsletter means nothing, mid-sized
manufacturers and healthcare buy, enterprises are slow within a quarter.

Standard library only (`random`, seeded): the same seed writes the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nurture import clock
from nurture.reporting.lake import encode, lake_row
from nurture.tracking.events import Activity

SITE = "https://www.acme-analytics.example"
INDUSTRIES = {  # name: (share, true log-odds effect)
    "software": (0.22, 0.3),
    "financial services": (0.12, 0.2),
    "manufacturing": (0.14, 0.6),
    "healthcare": (0.10, 0.5),
    "retail": (0.12, -0.2),
    "education": (0.12, -0.7),
    "government": (0.08, -0.5),
    "media": (0.10, -0.1),
}
SENIORITY = {  # level: (share, titles, true effect)
    "executive": (0.05, ("CEO", "Chief Marketing Officer", "CFO", "Founder"), 0.6),
    "vp": (0.07, ("VP Marketing", "VP of Sales", "Vice President Operations"), 0.6),
    "director": (0.12, ("Marketing Director", "Director of Operations", "Head of Growth"), 0.5),
    "manager": (0.25, ("Marketing Manager", "Product Manager", "Team Lead"), 0.3),
    "individual": (0.40, ("Analyst", "Engineer", "Designer", "Specialist", "Consultant"), 0.0),
    "student": (0.11, ("Student", "Intern", "Trainee"), -1.6),
}
COUNTRIES = {  # code: share (served countries get +0.2, others -0.5)
    "US": 0.30,
    "GB": 0.12,
    "DE": 0.10,
    "FR": 0.06,
    "NL": 0.05,
    "SE": 0.04,
    "CA": 0.05,
    "AU": 0.04,
    "IN": 0.10,
    "BR": 0.07,
    "PL": 0.04,
    "ES": 0.03,
}
SERVED = frozenset({"US", "GB", "IE", "DE", "FR", "NL", "SE", "DK", "NO", "FI", "CA", "AU"})
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com")
# the truth's intercept: about one contact in ten buys within the horizon
INTERCEPT = -2.6
STRENGTH = 1.5  # how strongly behaviour and fit decide (the truth's AUC grows with it)


@dataclass(frozen=True)
class Options:
    contacts: int = 2000
    seed: int = 7
    until: str = "2026-11-30"
    days: int = 450
    observe_days: int = 30
    horizon_days: int = 90


def size_effect(employees: int) -> float:
    if employees < 10:
        return -0.8
    if employees < 50:
        return -0.2
    if employees < 250:
        return 0.4
    if employees < 1000:
        return 0.5
    return 0.1


def true_logit(seen: dict[str, float], person: dict[str, Any]) -> float:
    """The log-odds of buying within the horizon after the cutoff, from what the contact did
    before it (`seen`: counts, see `_seen`) and who they are (`person`)."""
    lg = math.log1p
    behaviour = (
        0.9 * lg(seen["pricing_14d"])
        + 0.45 * lg(seen["pricing"] - seen["pricing_14d"])
        + 0.35 * lg(seen["case_study"])
        + 0.2 * lg(seen["solution"])
        + 1.3 * min(seen["demo"], 1)
        - 0.6 * lg(seen["guide"])
        - 0.15 * lg(seen["blog"])
        - 1.0 * lg(seen["careers"])
        + 0.25 * lg(seen["clicked"])
        - 0.05 * lg(seen["newsletter_opened"])
    )
    fit = (
        SENIORITY[person["seniority"]][2]
        + INDUSTRIES[person["industry"]][1]
        + size_effect(person["employees"])
        + (0.2 if person["country"] in SERVED else -0.5)
        - (0.4 if person["free_mail"] else 0.0)
    )
    return INTERCEPT + STRENGTH * (behaviour + fit)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-min(mean, 30.0)), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pick(rng: random.Random, shares: dict[str, Any]) -> str:
    names = list(shares)
    weights = [v[0] if isinstance(v, tuple) else v for v in shares.values()]
    return rng.choices(names, weights)[0]


@dataclass
class _Contact:
    index: int
    contact_id: str
    visitor: str
    created: datetime
    cutoff: datetime
    person: dict[str, Any]
    events: list[tuple[datetime, str, str, dict[str, Any]]] = field(default_factory=list)


PAGES = {
    "pricing": "/pricing",
    "solution": "/solutions/{topic}",
    "case_study": "/case-studies/{topic}",
    "blog": "/blog/{topic}",
    "careers": "/careers",
    "docs": "/docs/{topic}",
    "home": "/",
}
TOPICS = ("attribution", "lead-scoring", "email", "dashboards", "forecasting")


def _account(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "account_id": f"acct-{index:06d}",
        "industry": _pick(rng, INDUSTRIES),
        "employees": int(min(50000, max(1, rng.lognormvariate(4.3, 1.7)))),
        "country": _pick(rng, COUNTRIES),
    }


def _person(rng: random.Random, account: dict[str, Any]) -> dict[str, Any]:
    """A contact of `account` (about three contacts per account)."""
    seniority = _pick(rng, SENIORITY)
    free_mail = rng.random() < (0.35 if seniority == "student" else 0.08)
    return {
        "seniority": seniority,
        "job_title": rng.choice(SENIORITY[seniority][1]),
        "free_mail": free_mail,
        **account,
    }


def _spread(rng: random.Random, n: int, start: datetime, end: datetime) -> list[datetime]:
    span = max((end - start).total_seconds(), 1.0)
    return [start + timedelta(seconds=rng.random() * span) for _ in range(n)]


def _behave(rng: random.Random, c: _Contact) -> None:
    """What the contact does up to the cutoff (from 14 days before they became known)."""
    intent, research = rng.gauss(0, 1), rng.gauss(0, 1)
    student = c.person["seniority"] == "student"
    start, end = c.created - timedelta(days=14), c.cutoff
    plan = {
        "pricing": math.exp(-1.1 + 0.9 * intent),
        "solution": math.exp(-0.2 + 0.5 * intent),
        "case_study": math.exp(-1.2 + 0.6 * intent + 0.2 * research),
        "blog": math.exp(0.6 + 0.8 * research + (0.5 if student else 0)),
        "docs": math.exp(-0.5 + 0.3 * research),
        "careers": 0.8 if student else 0.08,
        "home": 1.5,
    }
    for kind, mean in plan.items():
        for at in _spread(rng, _poisson(rng, mean), start, end):
            c.events.append((at, "page", kind, {"topic": rng.choice(TOPICS)}))
    known = c.created + timedelta(minutes=1)
    for at in _spread(rng, _poisson(rng, math.exp(-0.6 + 0.8 * research)), known, end):
        c.events.append((at, "form", "guide-download", {"topic": rng.choice(TOPICS)}))
    if rng.random() < sigmoid(-3.0 + 1.1 * intent):
        c.events.append((_spread(rng, 1, known, end)[0], "track", "demo_requested", {}))
    if rng.random() < 0.1:
        c.events.append((_spread(rng, 1, known, end)[0], "form", "event-registration", {}))
    for at in _spread(rng, _poisson(rng, math.exp(0.7 + 0.4 * research)), known, end):
        c.events.append((at, "email", "email.opened", {"program_id": "newsletter"}))
    for at in _spread(rng, _poisson(rng, math.exp(-0.8 + 0.5 * intent)), known, end):
        c.events.append((at, "email", "email.clicked", {"program_id": "welcome"}))


def _seen(c: _Contact) -> dict[str, float]:
    """The counts the truth reads, before the cutoff."""
    recent = c.cutoff - timedelta(days=14)
    seen = dict.fromkeys(
        (
            "pricing",
            "pricing_14d",
            "solution",
            "case_study",
            "blog",
            "careers",
            "guide",
            "demo",
            "clicked",
            "newsletter_opened",
        ),
        0.0,
    )
    for at, kind, name, props in c.events:
        if at >= c.cutoff:
            continue
        if kind == "page" and name in seen:
            seen[name] += 1
            if name == "pricing" and at >= recent:
                seen["pricing_14d"] += 1
        elif name == "guide-download":
            seen["guide"] += 1
        elif name == "demo_requested":
            seen["demo"] += 1
        elif name == "email.clicked":
            seen["clicked"] += 1
        elif name == "email.opened" and props.get("program_id") == "newsletter":
            seen["newsletter_opened"] += 1
    return seen


def _afterwards(rng: random.Random, c: _Contact, bought: bool, horizon: int) -> None:
    """After the cutoff: more of the same for everyone; buyers look at pricing, ask for a
    demo, become an opportunity and buy; the rest are disqualified or recycled by sales."""
    end = c.cutoff + timedelta(days=horizon + 60)
    for at in _spread(rng, _poisson(rng, 3.0), c.cutoff, end):
        c.events.append((at, "page", rng.choice(("blog", "home", "docs")), {"topic": "email"}))
    if bought:
        won = c.cutoff + timedelta(days=1 + rng.random() * (horizon - 2))
        for at in _spread(rng, 1 + _poisson(rng, 3.0), c.cutoff, won):
            c.events.append((at, "page", "pricing", {}))
        c.events.append((won - timedelta(days=1), "track", "demo_requested", {}))
        if rng.random() < 0.6:
            c.events.append((won - timedelta(hours=12), "stage", "sql", {}))
            c.events.append((won, "track", "Deal Won", {"amount": 12000, "currency": "USD"}))
        else:
            c.events.append((won, "track", "Order Completed", {"total": 990, "currency": "USD"}))
    elif rng.random() < 0.3:
        at = c.cutoff + timedelta(days=horizon + 1 + rng.random() * 30)
        c.events.append((at, "stage", rng.choice(("disqualified", "recycled")), {}))


def _activity(c: _Contact, n: int, event: tuple[datetime, str, str, dict[str, Any]]) -> Activity:
    at, kind, name, props = event
    when = clock.iso(at)
    known = at >= c.created
    base: dict[str, Any] = {
        "actor": f"anon:{c.visitor}",
        "message_id": f"demo-{c.index}-{n}",
        "occurred_at": when,
        "received_at": when,
        "contact_id": c.contact_id if known else None,
    }
    if kind == "page":
        path = PAGES[name].format(topic=props.get("topic", "email"))
        return Activity.model_construct(
            **base, kind="page", name=name, page={"url": SITE + path}, properties={}
        )
    if kind == "stage":
        return Activity.model_construct(
            **{**base, "actor": f"contact:{c.contact_id}"},
            kind="contact",
            name="contact.stage_changed",
            properties={"from": "mql" if name == "sql" else "lead", "to": name},
            page={},
        )
    if kind == "email":
        props = {**props, "step_id": "s1"}
    return Activity.model_construct(**base, kind=kind, name=name, properties=props, page={})


def _identified(c: _Contact) -> Activity:
    when = clock.iso(c.created)
    return Activity.model_construct(
        actor=f"contact:{c.contact_id}",
        message_id=f"demo-{c.index}-identified",
        kind="contact",
        name="contact.identified",
        occurred_at=when,
        received_at=when,
        contact_id=c.contact_id,
        properties={"created": True, "actors": [f"anon:{c.visitor}"]},
        page={},
    )


def generate(options: Options) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """(lake rows per day, truth rows), plus profiles in the truth rows' `profile`."""
    rng = random.Random(options.seed)
    until = datetime.fromisoformat(options.until).replace(tzinfo=UTC) + timedelta(days=1)
    first = until - timedelta(days=options.days)
    by_day: dict[str, list[dict[str, Any]]] = {}
    truth: list[dict[str, Any]] = []
    accounts: dict[int, dict[str, Any]] = {}
    for i in range(options.contacts):
        if i // 3 not in accounts:
            accounts[i // 3] = _account(rng, i // 3)
        created = first + timedelta(days=14 + rng.random() * (options.days - 14))
        c = _Contact(
            index=i,
            contact_id=f"c{options.seed:02d}{i:07d}",
            visitor=f"v{options.seed:02d}{i:07d}",
            created=created,
            cutoff=created + timedelta(days=options.observe_days),
            person=_person(rng, accounts[i // 3]),
        )
        _behave(rng, c)
        p = sigmoid(true_logit(_seen(c), c.person))
        bought = rng.random() < p
        _afterwards(rng, c, bought, options.horizon_days)
        eligible = c.cutoff + timedelta(days=options.horizon_days) <= until
        rows = [lake_row(_identified(c), f"demo#{c.index}#identified")]
        for n, event in enumerate(sorted(c.events, key=lambda e: e[0])):
            if event[0] < until:
                rows.append(lake_row(_activity(c, n, event), f"demo#{c.index}#{n}"))
        for row in rows:
            by_day.setdefault(row["ts"][:10], []).append(row)
        truth.append(
            {
                "contact_id": c.contact_id,
                "cutoff": clock.iso(c.cutoff),
                "eligible": eligible,
                "p": round(p, 6),
                "label": int(bought) if eligible else "",
                "profile": c.person,
                "created": clock.iso(c.created),
            }
        )
    return by_day, truth


def profile_rows(truth: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The contact snapshot and the accounts (what `nurture model train` exports from the
    contacts table; fit fields only)."""
    contacts: list[dict[str, Any]] = []
    accounts: dict[str, dict[str, Any]] = {}
    for t in truth:
        person = t["profile"]
        domain = FREE_MAIL[0] if person["free_mail"] else f"{person['account_id']}.example"
        contacts.append(
            {
                "contact_id": t["contact_id"],
                "created_at": t["created"],
                "job_title": person["job_title"],
                "country": person["country"],
                "account_id": person["account_id"],
                "email_domain": domain,
                "stage": "lead",
            }
        )
        accounts.setdefault(
            person["account_id"],
            {
                "account_id": person["account_id"],
                "industry": person["industry"],
                "employees": person["employees"],
                "country": person["country"],
            },
        )
    return contacts, list(accounts.values())


def write(folder: Path, options: Options) -> dict[str, Any]:
    """Write the demo data under `folder`; returns counts."""
    by_day, truth = generate(options)
    lake = folder / "lake" / "activities"
    for day, rows in sorted(by_day.items()):
        target = lake / f"dt={day}" / f"demo-{options.seed}.json.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode(rows))
    contacts, accounts = profile_rows(truth)
    profiles = folder / "lake" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "contacts.json.gz").write_bytes(encode(contacts))
    (profiles / "accounts.json.gz").write_bytes(encode(accounts))
    (folder / "truth").mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["contact_id", "cutoff", "eligible", "p", "label"])
    for t in truth:
        writer.writerow([t["contact_id"], t["cutoff"], int(t["eligible"]), t["p"], t["label"]])
    (folder / "truth" / "truth.csv").write_text(out.getvalue())
    (folder / "truth" / "README.md").write_text(_readme(options))
    eligible = [t for t in truth if t["eligible"]]
    return {
        "contacts": len(truth),
        "accounts": len(accounts),
        "activities": sum(len(r) for r in by_day.values()),
        "eligible": len(eligible),
        "positives": sum(int(t["label"]) for t in eligible),
    }


def read_truth(folder: Path) -> dict[str, dict[str, Any]]:
    with (folder / "truth" / "truth.csv").open() as handle:
        return {
            r["contact_id"]: {**r, "p": float(r["p"]), "eligible": r["eligible"] == "1"}
            for r in csv.DictReader(handle)
        }


def _readme(options: Options) -> str:
    return f"""# Ground truth of `nurture demo-data --seed {options.seed}`

{options.contacts} contacts over {options.days} days up to {options.until}. A contact's
*cutoff* is {options.observe_days} days after they became known; `p` is their true
probability of becoming an opportunity (`sql`) or a customer (`Deal Won`, `Order
Completed`) within {options.horizon_days} days after the cutoff; `label` is the outcome drawn
from `p` (empty when the horizon has not passed by the end of the data: `eligible` 0).

    logit(p) = {INTERCEPT} + {STRENGTH} * (
      + 0.9 ln(1 + pricing views in the 14 days before the cutoff)
      + 0.45 ln(1 + older pricing views) + 0.35 ln(1 + case studies read)
      + 0.2 ln(1 + solution pages) + 1.3 [asked for a demo]
      - 0.6 ln(1 + guides downloaded) - 0.15 ln(1 + blog posts read)
      - 1.0 ln(1 + careers page views) + 0.25 ln(1 + email clicks)
      - 0.05 ln(1 + newsletter opens)
      + seniority {{executive 0.6, vp 0.6, director 0.5, manager 0.3, individual 0,
                   student -1.6}}
      + industry {json.dumps({k: v[1] for k, v in INDUSTRIES.items()})}
      + company size {{<10: -0.8, <50: -0.2, <250: 0.4, <1000: 0.5, else 0.1}}
      + country {{served: +0.2, else -0.5}} - 0.4 [personal email address] )

Counts are of the contact's activity (anonymous visits joined through
`contact.identified`) strictly before the cutoff. See nurture/predictive/demo_data.py.
"""
