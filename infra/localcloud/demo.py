"""`make demo`: Nurture on the embedded local cloud, with a scripted journey and a live API.

python -m localcloud.demo            # play the scenario, then serve until Ctrl-C
python -m localcloud.demo --once     # play the scenario and exit (scripts, CI)
python -m localcloud.demo --port 8080
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from localcloud.cloud import LOCAL_SECRETS, LocalCloud, TimelineEntry
from localcloud.server import LocalApi

# the local cloud's public key: what a web page holds
WRITE_KEY = next(
    k for k, kind in json.loads(LOCAL_SECRETS["write-keys"]).items() if kind == "public"
)


class Demo:
    def __init__(self, cloud: LocalCloud, api: LocalApi):
        self.cloud = cloud
        self.api = api
        self.start = cloud.clock.now()
        self._labels: dict[str, str] = {}

    def label(self, who: str) -> str:
        if who in self._labels:
            return self._labels[who]
        if ":" in who:  # an actor key, e.g. anon:visitor-1
            return who
        item = (
            self.cloud.client("dynamodb")
            .get_item(
                TableName=self.cloud.resolver.refs["ContactsTable"],
                Key={"pk": {"S": f"CONTACT#{who}"}, "sk": {"S": "PROFILE"}},
            )
            .get("Item")
        )
        label = json.loads(item["doc"]["S"]).get("email") if item else who[:8]
        self._labels[who] = label
        return label

    def print_entry(self, entry: TimelineEntry) -> None:
        elapsed = entry.at - self.start
        stamp = f"+{elapsed.days}d {elapsed.seconds // 3600:02d}:{elapsed.seconds % 3600 // 60:02d}"
        print(
            f"  {stamp}  {_weekday(entry.at)}  {self.label(entry.who):<22} {entry.what}", flush=True
        )

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - our own localhost server
            self.api.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
            },
        )
        try:
            # our own localhost server, http only
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def say(self, text: str) -> None:
        print(f"\n{text}", flush=True)

    def play(self) -> None:
        cloud = self.cloud
        self.say("1. Ada browses the site anonymously")
        for url in ("https://example.com/blog/lead-scoring", "https://example.com/pricing"):
            self.post(
                "/v1/page",
                {
                    "anonymousId": "visitor-ada",
                    "name": url.rsplit("/", 1)[-1],
                    "properties": {"url": url, "title": url.rsplit("/", 1)[-1].title()},
                },
            )
        self.say("2. Ada signs up for the newsletter (the form joins her earlier visits to her)")
        sent = len(cloud.outbox)
        status, answer = self.post(
            "/v1/forms/newsletter-signup",
            {
                "email": "ada@example.com",
                "first_name": "Ada",
                "consent_newsletter": True,
                "anonymousId": "visitor-ada",
            },
        )
        print(f"     POST /v1/forms/newsletter-signup -> {status} {answer}")
        self.say("   She confirms from the double opt-in email, and the welcome program starts")
        self.confirm("ada@example.com", since=sent)
        self.say("3. An hour later she clicks the link in the welcome email")
        cloud.advance(timedelta(hours=1))
        ada_welcome = next(
            e
            for e in cloud.outbox
            if e.to == ["ada@example.com"] and e.tags.get("program_id") == "welcome"
        )
        cloud.click_email(ada_welcome)
        self.say("4. Bob signs up too and confirms, but never clicks")
        sent = len(cloud.outbox)
        self.post(
            "/v1/forms/newsletter-signup",
            {"email": "bob@example.com", "first_name": "Bob", "consent_newsletter": "on"},
        )
        self.confirm("bob@example.com", since=sent, quiet=True)
        self.say("5. Three days pass (virtual time)")
        cloud.advance(timedelta(days=3, hours=1))
        self.sales_handoff()
        self.say("9. A malformed event is rejected, with the reason, and nothing is stored")
        status, answer = self.post("/v1/track", {"anonymousId": "visitor-x", "properties": {}})
        print(f"     POST /v1/track without 'event' -> {status} {json.dumps(answer)}")
        self.funnel()
        if cloud.errors:
            raise SystemExit(
                "the local cloud reported function errors:\n" + "\n".join(cloud.errors)
            )

    def confirm(self, address: str, since: int, quiet: bool = False) -> None:
        """Follow the double opt-in email to `address` as its reader does: open the link (a
        page with a button; the GET changes nothing), then press the button (a POST)."""
        cloud = self.cloud
        [mail] = [
            e
            for e in cloud.outbox[since:]
            if e.to == [address] and e.tags.get("kind") == "double_opt_in"
        ]
        match = re.search(r"\S+/c/\S+", mail.text)
        assert match, mail.text
        link = self.api.url + match.group(0).removeprefix(cloud.parameters["PublicBaseUrl"])
        if not quiet:
            print(f"     to {address}: {mail.subject!r}, the only email so far")
        with urllib.request.urlopen(link, timeout=30) as resp:  # noqa: S310 - our localhost
            if not quiet:
                print(
                    f"     GET  /c/<token> -> {resp.status} (a page with a button; nothing changes)"
                )
        if not quiet:
            print("     POST /c/<token> (the button: the consent counts from now)")
        request = urllib.request.Request(link, data=b"", method="POST")  # noqa: S310
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 - our localhost

    def funnel(self) -> None:
        """The welcome program's funnel, from the activity lake the run filled (DuckDB)."""
        from localcloud.commands.report import FolderCatalog, render
        from nurture.adapters.lake import S3Lake
        from nurture.reporting import service
        from nurture.reporting.duckdb_engine import engine_for_lake

        self.say("10. What it achieved: the welcome funnel, from the activity lake (lake/ in S3)")
        engine = engine_for_lake(S3Lake(self.cloud.client("s3"), self.cloud.bucket))
        today = self.cloud.clock.now().date()
        result = service.run(
            "funnel",
            {"program": "welcome", "since": today.replace(day=1).isoformat()},
            engine,
            FolderCatalog(self.cloud.root / "programs"),
            today,
        )
        for line in render(result, "table").splitlines():
            print(f"     {line}")

    def contact(self, email: str) -> dict[str, Any]:
        table = self.cloud.resolver.refs["ContactsTable"]
        ddb = self.cloud.client("dynamodb")
        link = ddb.get_item(
            TableName=table, Key={"pk": {"S": f"ACTOR#email:{email}"}, "sk": {"S": "CONTACT"}}
        )["Item"]
        key = {"pk": {"S": f"CONTACT#{link['contact_id']['S']}"}, "sk": {"S": "PROFILE"}}
        doc: dict[str, Any] = json.loads(ddb.get_item(TableName=table, Key=key)["Item"]["doc"]["S"])
        return doc

    def sales_handoff(self) -> None:
        """A lead warms up, crosses the MQL line, its owner is emailed at once and answers."""
        cloud = self.cloud
        self.say("6. Grace, VP Engineering at a 500-person software company, warms up")
        traits = {
            "email": "grace@navy-labs.example",
            "first_name": "Grace",
            "last_name": "Hopper",
            "job_title": "VP Engineering",
            "company": "Navy Labs",
            "country": "US",
            "company_industry": "software",
            "company_employees": 500,
        }
        self.post("/v1/identify", {"userId": "grace", "traits": traits})
        for url in ("https://example.com/pricing", "https://example.com/case-studies/acme"):
            self.post("/v1/page", {"userId": "grace", "properties": {"url": url}})
        cloud.advance(timedelta(hours=2))
        self.post("/v1/track", {"userId": "grace", "event": "demo_requested"})
        grace = self.contact("grace@navy-labs.example")
        print(f"     score {grace['score']}, grade {grace.get('grade')}, stage {grace['stage']}")
        self.say(
            "7. At once, in the same chain: her owner's email, with why and three signed buttons"
        )
        mail = next(e for e in cloud.outbox if e.tags.get("kind") == "sales_mql")
        print(f"     to {mail.to[0]}: {mail.subject!r}")
        why = mail.text.split("Why:", 1)[1].split("What they did", 1)[0]
        for line in why.strip().splitlines():
            print(f"       {line.strip()}")
        self.say("8. The owner answers 'Interested, but not now' (GET shows the form, POST acts)")
        match = re.search(r"Interested, but not now:\s+(\S+)", mail.text)
        assert match, mail.text
        link = self.api.url + match.group(1).removeprefix(cloud.parameters["PublicBaseUrl"])
        with urllib.request.urlopen(link, timeout=30) as resp:  # noqa: S310 - our localhost
            print(
                f"     GET  /sales/<token> -> {resp.status} (a confirmation page; nothing changes)"
            )
        form = b"days=60&reason=Budget+opens+next+quarter"
        request = urllib.request.Request(link, data=form, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - our localhost
            print(f"     POST /sales/<token> -> {resp.status}")
        grace = self.contact("grace@navy-labs.example")
        print(f"     stage now {grace['stage']}: back to nurturing, watched for re-activation")


def _weekday(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--once", action="store_true", help="play the scenario and exit")
    parser.add_argument(
        "--port", type=int, default=None, help="API port (default 3000; --once: any free port)"
    )
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else (0 if args.once else 3000)

    print(
        "Starting the embedded local cloud (moto, in-process functions, virtual clock)...",
        flush=True,
    )
    cloud = LocalCloud().start()
    try:
        api = LocalApi(cloud, port=port).start()
    except OSError as exc:
        print(f"cannot listen on port {port}: {exc}; try --port", file=sys.stderr)
        return 2
    demo = Demo(cloud, api)
    cloud.sync_content()
    print(
        f"Loaded forms/, templates/ and programs/ into s3://{cloud.bucket}; "
        f"programs/welcome.status.json says: {json.loads(cloud.read('programs/welcome.status.json') or '{}').get('status')}"
    )
    print(f"Ingest API on {api.url}   (virtual time starts {_weekday(cloud.clock.now())} UTC)")
    print(f"Console on {api.url}/console/   (sign in with access key local, secret local)")
    cloud.on_timeline = demo.print_entry
    demo.play()
    print(f"\nScenario done: {len(cloud.outbox)} emails sent, no errors.")
    from localcloud.demo_predictive import show  # the predictive model's card, one score

    show(cloud)
    if args.once:
        api.stop()
        cloud.__exit__()
        return 0
    print(
        f"""
The API stays up for your own requests (Ctrl-C to stop). Open the console at
{api.url}/console/ (sign in with local / local) to see the programs, contacts, results,
tasks and suppressions of this run. Or try:

  curl -s -u {WRITE_KEY}: -H 'Content-Type: application/json' \\
       -d '{{"email":"you@example.com","first_name":"You","consent_newsletter":true}}' \\
       {api.url}/v1/forms/newsletter-signup
  curl -s {api.url}/_local/outbox                       # captured emails
  curl -s -X POST {api.url}/c/<token>       # confirm: the link in the confirmation's text
  curl -s -X POST {api.url}/_local/outbox/<message_id>/click
  curl -s -X POST '{api.url}/_local/clock/advance?days=3'  # let virtual time pass
  curl -s --aws-sigv4 aws:amz:us-east-1:execute-api --user local:local \\
       '{api.url}/admin/reports/funnel?program=welcome'  # reports API (IAM-signed)
""",
        flush=True,
    )
    try:
        api._thread.join()
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        api.stop()
        cloud.__exit__()
    return 0


if __name__ == "__main__":
    sys.exit(main())
