"""Every console page and JSON endpoint over a store seeded through accept() and the SDK."""

from __future__ import annotations

import html as html_module
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from trackwell.console import create_console, hash_token
from trackwell.core.outcomes import Outcome
from trackwell.monitor import Evaluation, Finding
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store.sqlite import SQLiteStore

from .conftest import (
    ADMIN_TOKEN,
    ANONYMOUS,
    CARD,
    DEAD_ID,
    PERSON,
    Logged,
    Seeded,
    log_in,
    seed_person,
)

pytestmark = pytest.mark.anyio


def _text(html: str) -> str:
    """The page's text without tags, whitespace folded (what a person reads)."""
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


async def test_people_lists_recent_people_and_finds_them_by_any_key(
    logged: Logged, seeded: Seeded
) -> None:
    page = await logged.client.get("/people")
    assert page.status_code == 200 and PERSON in page.text
    for query in (PERSON, "ada@example.com", ANONYMOUS, "Ada Lovelace"):
        found = await logged.client.get("/people", params={"q": query})
        assert found.status_code == 303, query
        assert found.headers["location"] == f"/people/{PERSON}"
    many = await logged.client.get("/people", params={"q": "free"})  # a trait value many share
    assert many.status_code == 200 and "trait value" in many.text
    none = await logged.client.get("/people", params={"q": "nobody-at-all"})
    assert "Nobody matches" in none.text


async def test_a_person_page_shows_traits_identities_and_one_merged_timeline(
    logged: Logged, seeded: Seeded
) -> None:
    page = await logged.client.get(f"/people/{PERSON}")
    assert page.status_code == 200
    text = _text(page.text)
    assert "ada@example.com" in text and "Ada Lovelace" in text
    assert ANONYMOUS in text and "merged" in text  # the merge log
    labels = re.findall(r'data-label="([^"]+)" data-timestamp="(\d+)"', page.text)
    assert [name for name, _ in labels] == [
        "Subscription Cancelled",
        "Feature Used",
        "Account Created",
        "identify",
        "Page Viewed",
        "Pricing",
    ]
    stamps = [int(ms) for _, ms in labels]
    assert stamps == sorted(stamps, reverse=True)  # newest action first
    assert "attribute &#39;feature_name&#39; rejected" in page.text  # the destination's response
    assert 'status-delivered">delivered' in page.text and 'status-dead">dead' in page.text


async def test_the_person_json_is_the_same_timeline(logged: Logged, seeded: Seeded) -> None:
    data = (await logged.client.get(f"/api/people/{ANONYMOUS}")).json()
    assert data["key"] == PERSON and data["anonymous_ids"] == [ANONYMOUS]
    assert [e["label"] for e in data["entries"]][-2:] == ["Page Viewed", "Pricing"]
    feature = next(e for e in data["entries"] if e["messageId"] == DEAD_ID)
    assert {d["destination"]: d["status"] for d in feature["deliveries"]} == {
        "customerio": "dead",
        "mixpanel": "delivered",
    }
    assert {t["name"] for t in data["traits"]} >= {"email", "name", "plan", "created_at"}
    assert all(t["set_ms"] for t in data["traits"])
    missing = await logged.client.get("/api/people/nobody")
    assert missing.status_code == 404


async def test_the_console_and_the_cli_give_one_json_timeline(
    logged: Logged, seeded: Seeded, tmp_path: Path
) -> None:
    """`/api/people/KEY` carries the document `trackwell timeline KEY --json` prints, key for key."""
    from typer.testing import CliRunner

    from trackwell.cli import app as cli

    data = (await logged.client.get(f"/api/people/{ANONYMOUS}")).json()
    url = f"sqlite:///{tmp_path / 'console.db'}"  # the `store` fixture's file
    printed = CliRunner().invoke(
        cli, ["timeline", ANONYMOUS, "--store", url, "--json", "--limit", "500"]
    )
    assert printed.exit_code == 0, printed.stdout
    document = json.loads(printed.stdout)
    assert set(document) == {"profile", "anonymousIds", "merges", "events"}
    assert {key: data[key] for key in document} == document
    assert document["profile"]["userId"] == PERSON and document["events"]
    assert document["merges"] and document["merges"][0]["anonymousId"] == ANONYMOUS


async def test_a_sensitive_value_never_reaches_a_page(logged: Logged, seeded: Seeded) -> None:
    for path in (f"/people/{PERSON}", "/violations", "/events/Subscription%20Cancelled"):
        html = (await logged.client.get(path)).text
        assert CARD not in html and CARD.replace(" ", "") not in html
        assert "sensitive_data" in html, path
        if path != "/violations":  # the feed lists violations, not payloads
            assert "[redacted:card_number]" in html, path
    feed = (await logged.client.get("/api/violations", params={"code": "sensitive_data"})).json()
    assert [f["label"] for f in feed["feed"]] == ["Subscription Cancelled"]
    assert feed["totals"] == {"sensitive_data": 1}


async def test_the_catalog_lists_planned_events_and_unplanned_names(
    logged: Logged, seeded: Seeded
) -> None:
    page = await logged.client.get("/events")
    assert page.status_code == 200
    for name in seeded.plan.events:
        assert f">{name}</a>" in page.text
    data = (await logged.client.get("/api/events")).json()
    created = next(e for e in data["events"] if e["name"] == "Account Created")
    assert created["stage"] == "Activation" and created["owner"] == "growth"
    assert created["received"] > 20 and created["spark"].count(",") == 30
    assert created["last_seen_day"] == int(time.time() // 86400)
    [typo] = data["unplanned"]
    assert typo["name"] == "Acount Created" and typo["probably"] == "Account Created"
    assert typo["sources"] == {"backend": typo["count"]}
    quiet = next(e for e in data["events"] if e["name"] == "Payment Failed")
    assert quiet["received"] == 0 and quiet["last_seen_day"] is None


async def test_an_event_page_has_its_chart_fill_rates_and_samples(
    logged: Logged, seeded: Seeded
) -> None:
    page = await logged.client.get("/events/Account%20Created")
    assert page.status_code == 200 and 'data-chart="volume-chart"' in page.text
    data = (await logged.client.get("/api/events/Account%20Created")).json()
    assert len(data["chart"]["x"]) == 90 and data["chart"]["kind"] == "bars"
    assert sum(data["chart"]["series"][0]["values"]) == data["received"] - sum(
        sum(s["values"]) for s in data["chart"]["series"][1:]
    )
    fill = {p["name"]: p for p in data["properties"]}
    assert fill["plan"]["fill"] == 1.0 and fill["plan"]["required"]
    assert fill["referral_code"]["fill"] == 0.0
    assert dict(fill["signup_source"]["top"])["organic"] >= 1
    assert data["recent"][0]["person"] == PERSON  # the newest first
    unplanned = (await logged.client.get("/api/events/Acount%20Created")).json()
    assert unplanned["planned"] is False and unplanned["probably"] == "Account Created"
    assert (await logged.client.get("/events/Never%20Sent%20Anything")).status_code == 404


async def test_violations_feed_filters_and_counts(logged: Logged, seeded: Seeded) -> None:
    page = await logged.client.get("/violations")
    assert page.status_code == 200 and 'data-live="feed"' in page.text
    data = (await logged.client.get("/api/violations", params={"code": "unplanned_event"})).json()
    assert data["feed"] and {f["label"] for f in data["feed"]} == {"Acount Created"}
    assert all(f["verdict"] == "blocked" for f in data["feed"])
    by_event = (await logged.client.get("/api/violations", params={"event": "Feature Used"})).json()
    assert by_event["feed"] == []  # nothing wrong with it
    assert "backend" in data["sources"]
    series = {s["label"]: sum(s["values"]) for s in data["chart"]["series"]}
    assert series == {"unplanned_event": data["totals"]["unplanned_event"]}
    unknown = (await logged.client.get("/api/violations", params={"code": "%"})).json()
    assert unknown["filters"]["code"] is None


async def test_a_live_fragment_answers_304_when_unchanged(logged: Logged, seeded: Seeded) -> None:
    first = await logged.client.get("/violations", params={"part": "feed"})
    assert first.status_code == 200 and "<html" not in first.text
    again = await logged.client.get(
        "/violations", params={"part": "feed"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    compiled = compile_plan(seeded.plan)
    accept(
        seeded.store,
        compiled,
        [{"type": "track", "userId": "u-new", "event": "Feature Usedd", "properties": {}}],
    )
    changed = await logged.client.get(
        "/violations", params={"part": "feed"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert changed.status_code == 200 and "Feature Usedd" in changed.text
    assert (await logged.client.get("/violations", params={"part": "base"})).status_code == 404


async def test_destinations_show_queues_latency_errors_and_dead_letters(
    logged: Logged, seeded: Seeded
) -> None:
    data = (await logged.client.get("/api/destinations")).json()
    queues = {q["name"]: q for q in data["queues"]}
    assert queues["customerio"]["dead"] == 1 and queues["mixpanel"]["dead"] == 0
    assert queues["customerio"]["delivered"] == 5 and queues["customerio"]["pending"] == 0
    cio = next(d for d in data["destinations"] if d["name"] == "customerio")
    assert [d["message_id"] for d in cio["dead"]] == [DEAD_ID]
    assert cio["errors"][0]["detail"].startswith("HTTP 400")
    assert cio["has_latency"] and cio["p50"] is not None
    page = await logged.client.get("/destinations")
    assert page.status_code == 200 and "Replay all dead letters" in page.text


async def test_replay_confirms_then_requeues_and_the_router_delivers(
    logged: Logged, seeded: Seeded
) -> None:
    confirm = await logged.client.get(
        "/destinations/customerio/replay", params={"message_id": DEAD_ID}
    )
    assert confirm.status_code == 200 and "Feature Used" in confirm.text
    refused = await logged.client.post(
        "/destinations/customerio/replay", data={"message_id": DEAD_ID}
    )
    assert refused.status_code == 403  # no CSRF token
    seeded.destination.answer = lambda message: Outcome("delivered")  # the workspace was fixed
    done = await logged.client.post(
        "/destinations/customerio/replay", data={"message_id": DEAD_ID, "csrf": logged.csrf}
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/destinations?replayed=1&destination=customerio")
    seeded.router.drain("customerio")
    assert DEAD_ID in seeded.destination.ids()
    after = (await logged.client.get(f"/api/people/{PERSON}")).json()
    feature = next(e for e in after["entries"] if e["messageId"] == DEAD_ID)
    assert {d["destination"]: d["status"] for d in feature["deliveries"]}[
        "customerio"
    ] == "delivered"
    unknown = await logged.client.post("/destinations/nowhere/replay", data={"csrf": logged.csrf})
    assert unknown.status_code == 404
    shown = await logged.client.get(done.headers["location"])
    assert "1 dead letter of customerio scheduled" in _text(shown.text)


async def test_replay_pages_say_nothing_a_link_made_up(logged: Logged, seeded: Seeded) -> None:
    forged = await logged.client.get(
        "/destinations", params={"replayed": "31337", "destination": "customerio"}
    )
    assert "31337 dead" not in forged.text and "scheduled for delivery again" not in forged.text
    bogus = "Your account is compromised: call 555-0100"
    confirm = await logged.client.get(
        "/destinations/customerio/replay", params={"message_id": bogus}
    )
    assert confirm.status_code == 200 and bogus not in confirm.text
    assert "not among the dead letters" in confirm.text and 'class="danger"' not in confirm.text


async def test_quality_shows_findings_parity_and_the_audit(logged: Logged, seeded: Seeded) -> None:
    page = await logged.client.get("/quality")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Unplanned event 'Acount Created'" in text  # the monitor's finding
    # Its examples: the event's page (blocked messages too) and the violations feed.
    assert 'href="/events/Acount%20Created#recent"' in page.text
    assert 'href="/violations?event=Acount+Created&amp;code=unplanned_event"' in page.text
    assert "Tracking plan audit" in text and "Acount Created" in text
    data = (await logged.client.get("/api/quality")).json()
    assert "new_unplanned_name" in {f["monitor"] for f in data["evaluation"]["findings"]}
    charts = {(p["destination"], p["event"]) for p in data["parity"]}
    assert ("customerio", "Account Created") in charts
    chart = next(p["chart"] for p in data["parity"] if p["destination"] == "customerio")
    assert chart["band"] == [0, 1] and [s["label"] for s in chart["series"]][2] == "accepted"


async def test_the_plan_page_renders_the_markdown_document(logged: Logged, seeded: Seeded) -> None:
    page = await logged.client.get("/plan")
    assert page.status_code == 200
    assert "version 3" in page.text and '<h3 id="account-created">' in page.text
    assert 'href="#account-created"' in page.text
    assert "&lt;!--" not in page.text  # the generator's header comment is not content


async def test_values_from_senders_are_escaped(logged: Logged, seeded: Seeded) -> None:
    evil = "<script>alert(1)</script>"
    accept(
        seeded.store,
        compile_plan(seeded.plan),
        [
            {"type": "identify", "userId": "mallory", "traits": {"name": evil}},
            {"type": "track", "userId": "mallory", "event": evil, "properties": {}},
        ],
        received_at=datetime.now(UTC),
    )
    for path in ("/people/mallory", "/violations", "/events", "/people?q=alert"):
        html = (await logged.client.get(path)).text
        assert evil not in html, path
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in (await logged.client.get("/people/mallory")).text
    )


async def test_unknown_paths_answer_404(logged: Logged) -> None:
    assert (await logged.client.get("/nowhere")).status_code == 404
    api = await logged.client.get("/api/nowhere")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


async def test_quality_shows_the_gateways_latest_monitor_round(
    store: SQLiteStore, plan: Plan
) -> None:
    finding = Finding(
        "volume_drop", "Account Created", "critical", "Account Created stopped", "Fix the deploy."
    )
    rounds: list[Evaluation | None] = [None]
    app = create_console(
        store,
        lambda: plan,
        admin_token_hash=hash_token(ADMIN_TOKEN),
        latest_evaluation=lambda: rounds[-1],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        await log_in(client)
        before = (await client.get("/api/quality")).json()["evaluation"]
        assert before["findings"] == [] and before["monitors"]  # evaluated here, nothing found
        rounds.append(Evaluation(1_800_000_000_000, [finding], ("volume_drop",)))
        app.state.console.quality_cache.seconds = 0  # the page keeps its view a minute
        page = await client.get("/quality")
        assert "Account Created stopped" in page.text and "Fix the deploy." in page.text


async def test_captured_messages_are_shown_as_captured_and_can_be_sent_later(
    logged: Logged, store: SQLiteStore, plan: Plan
) -> None:
    from trackwell.destinations import CaptureTransport, Webhook
    from trackwell.pipeline.router import Router

    dev = Webhook("dev", url="https://hooks.example.com/in", capture=True)
    router = Router(store, [dev])
    try:
        seed_person(store, plan)
        router.drain("dev")
        assert isinstance(dev.transport, CaptureTransport) and dev.transport.requests
        (queue,) = (await logged.client.get("/api/destinations")).json()["queues"]
        assert queue["captured"] > 0 and queue["delivered"] == 0
        page = await logged.client.get("/destinations")
        assert "Send captured messages" in page.text
        person = (await logged.client.get(f"/api/people/{PERSON}")).json()
        statuses = {d["status"] for e in person["entries"] for d in e["deliveries"]}
        assert statuses == {"captured"}
        person_page = await logged.client.get(f"/people/{PERSON}")
        assert "status-captured" in person_page.text

        confirm = await logged.client.get("/destinations/dev/replay", params={"what": "captured"})
        assert "every captured message" in _text(confirm.text)
        done = await logged.client.post(
            "/destinations/dev/replay", data={"what": "captured", "csrf": logged.csrf}
        )
        assert done.status_code == 303 and "what=captured" in done.headers["location"]
        (queue,) = (await logged.client.get("/api/destinations")).json()["queues"]
        assert queue["captured"] == 0 and queue["retry"] > 0
    finally:
        router.close()


async def test_consent_outcomes_are_shown_and_held_messages_decided_again(
    logged: Logged, store: SQLiteStore, plan: Plan
) -> None:
    from trackwell.core.consent import ConsentPolicy
    from trackwell.destinations import CaptureTransport, Webhook
    from trackwell.pipeline.router import Router

    crm = Webhook("crm", url="https://hooks.example.com/in", capture=True, consent=("ads",))
    policy = [ConsentPolicy(missing_consent="hold")]
    router = Router(store, [crm], consent=lambda: policy[0])
    try:
        seed_person(store, plan)  # messages without consent information: held
        router.drain("crm")
        (queue,) = (await logged.client.get("/api/destinations")).json()["queues"]
        assert queue["held"] > 0 and queue["no_consent"] == 0 and queue["delivered"] == 0
        page = await logged.client.get("/destinations")
        assert "no consent" in page.text and "Decide held messages again" in page.text
        person_page = await logged.client.get(f"/people/{PERSON}")
        assert "status-held" in person_page.text

        confirm = await logged.client.get("/destinations/crm/replay", params={"what": "held"})
        assert "every held message" in _text(confirm.text)
        policy[0] = ConsentPolicy(missing_consent="drop")
        done = await logged.client.post(
            "/destinations/crm/replay", data={"what": "held", "csrf": logged.csrf}
        )
        assert done.status_code == 303 and "what=held" in done.headers["location"]
        flash = await logged.client.get(done.headers["location"])
        assert "held message" in _text(flash.text)
        router.drain("crm")
        (queue,) = (await logged.client.get("/api/destinations")).json()["queues"]
        assert queue["held"] == 0 and queue["no_consent"] > 0
        assert isinstance(crm.transport, CaptureTransport)
        assert crm.transport.requests == []  # never sent, not even captured
        person = (await logged.client.get(f"/api/people/{PERSON}")).json()
        statuses = {d["status"] for e in person["entries"] for d in e["deliveries"]}
        assert statuses == {"no_consent"}
    finally:
        router.close()
