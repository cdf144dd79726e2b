"""`trackwell demo`: a realistic day of traffic on the plan being served, with the usual
mistakes, sent to a gateway (the example plan's SaaS story when the plan has its events)."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackwell.cli.options import PlanOpt
from trackwell.cli.output import fail, print_json, stdout

if TYPE_CHECKING:
    import httpx

    from trackwell.plan import Plan

BATCH = 100
PAGES = ("Pricing", "Integrations", "Help Center")
SOURCES = ("organic", "paid_search", "referral", "partner", "sales")
FEATURES = ("projects", "timeline", "automations", "integrations", "reports")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Donald")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Perlman")
# What the SaaS story sends; a plan with all of them (the example plan, or a team's copy of it)
# gets the story, any other plan a day made from its own events (`_plan_person`).
STORY_EVENTS = frozenset({
    "Page Viewed", "Account Created", "Email Verified", "Onboarding Completed", "Feature Used",
    "Trial Started", "Subscription Started", "Invite Sent", "Payment Failed",
})  # fmt: skip
# The library name every demo message carries: how demo traffic is told apart in the log.
DEMO_LIBRARY = "trackwell-demo"


def _message(kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": str(uuid.uuid4()),  # random, as Segment clients make them
        "timestamp": at.isoformat(),
        "context": {"library": {"name": DEMO_LIBRARY, "version": "1"}},
        **fields,
    }


def _person(rng: random.Random, index: int, start: datetime) -> Iterator[dict[str, Any]]:
    """One visitor's day: anonymous visits, and for some a signup and a lifecycle."""
    anonymous = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    at = start
    for page in rng.sample(PAGES, rng.randint(1, 3)):
        at += timedelta(minutes=rng.randint(1, 6))
        url = f"https://acme.example/{page.lower().replace(' ', '-')}"
        yield _message("page", at, anonymousId=anonymous, name=page, properties={"url": url})
        if page == "Pricing":
            yield _message("track", at, anonymousId=anonymous, event="Page Viewed",
                           properties={"page_name": page, "utm_source": rng.choice(["google", "newsletter", "g2"])})  # fmt: skip
    if rng.random() > 0.45:
        return
    user = f"user-{index:04d}"
    plan, source = rng.choice(["free", "starter", "pro"]), rng.choice(SOURCES)
    at += timedelta(minutes=rng.randint(2, 20))
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    traits = {"email": f"{user}@example.com", "name": name, "created_at": int(at.timestamp()),
              "plan": plan, "signup_source": source, "lifecycle_stage": "trial"}  # fmt: skip
    mistake = index % 23
    if mistake == 6:
        # A required trait forgotten: the demo Customer.io's filtered workflow skips the person.
        del traits["created_at"]
    yield _message("identify", at, userId=user, anonymousId=anonymous, traits=traits)
    created = {
        "plan": plan,
        "signup_source": source,
        "signup_method": rng.choice(["email", "google", "github"]),
    }
    # The usual mistakes: a misspelled event, a snake_case name, a card number, no timestamp.
    event = (
        "Acount Created"
        if mistake == 1
        else "account_created"
        if mistake == 2
        else "Account Created"
    )
    yield _message("track", at, userId=user, event=event, properties=created)
    at += timedelta(minutes=rng.randint(5, 90))
    yield _message("track", at, userId=user, event="Email Verified",
                   properties={"verification_method": "link", "hours_to_verify": round(rng.uniform(0.1, 5), 2)})  # fmt: skip
    if rng.random() < 0.6:
        at += timedelta(minutes=rng.randint(5, 60))
        yield _message("track", at, userId=user, event="Onboarding Completed",
                       properties={"steps_completed": rng.randint(3, 6), "minutes_to_complete": rng.randint(4, 40)})  # fmt: skip
    for _ in range(rng.randint(1, 4)):
        at += timedelta(minutes=rng.randint(1, 45))
        feature = {
            "feature_name": rng.choice(FEATURES),
            "usage_count": rng.randint(1, 9),
            "surface": "web",
        }
        message = _message("track", at, userId=user, event="Feature Used", properties=feature)
        if mistake == 3:
            message["timestamp"] = None  # queue time will stand in for action time
        yield message
    if plan != "free" or rng.random() < 0.3:
        at += timedelta(minutes=rng.randint(5, 30))
        trial = "pro" if plan == "free" else plan
        yield _message("track", at, userId=user, event="Trial Started", properties={
            "plan_name": trial, "trial_days": 14, "trial_ends_at": int((at + timedelta(days=14)).timestamp())})  # fmt: skip
        if rng.random() < 0.35:
            at += timedelta(minutes=rng.randint(5, 60))
            yield _message("track", at, userId=user,
                           event="subscription_started" if mistake == 4 else "Subscription Started",
                           properties={"plan_name": trial, "plan_price_cents": {"starter": 2900, "pro": 9900, "enterprise": 49900}[trial],
                                       "billing_period": rng.choice(["monthly", "annual"]), "trial_converted": True})  # fmt: skip
    if rng.random() < 0.3:
        at += timedelta(minutes=rng.randint(1, 30))
        yield _message("track", at, userId=user, event="Invite Sent",
                       properties={"invitee_role": "member", "invite_method": "email", "team_size": rng.randint(1, 8)})  # fmt: skip
    if mistake == 5:
        at += timedelta(minutes=3)
        yield _message("track", at, userId=user, event="Payment Failed", properties={
            "amount_cents": 9900, "failure_reason": "card_declined", "attempt_number": 1,
            "card_number": "4242 4242 4242 4242"})  # fmt: skip


def story_fits(plan: Plan | None) -> bool:
    """Whether the SaaS story's events and pages are all planned (None: no plan to fit)."""
    if plan is None:
        return True
    return set(plan.events) >= STORY_EVENTS and set(PAGES) <= set(plan.pages)


def _plan_person(
    plan: Plan, rng: random.Random, index: int, start: datetime
) -> Iterator[dict[str, Any]]:
    """One visitor's day on any plan: page views, then for most a signup (identify with the
    plan's traits) and a few of its events with valid properties; a few carry the usual
    mistakes (a misspelled event name, a missing timestamp)."""
    from trackwell.cli.demo_customerio import filtered_trait
    from trackwell.plan.samples import event_properties, sample_properties

    anonymous = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    at = start
    for page in rng.sample(plan.pages, min(len(plan.pages), rng.randint(1, 2))):
        at += timedelta(minutes=rng.randint(1, 6))
        yield _message("page", at, anonymousId=anonymous, name=page)
    if rng.random() > 0.7:
        return
    user = f"user-{index:04d}"
    at += timedelta(minutes=rng.randint(2, 20))
    now_s = int(at.timestamp())
    traits = sample_properties(plan.traits, variant=index, optional=True, now_s=now_s) or {}
    for trait in plan.traits:
        if trait.format == "email" and trait.name in traits:
            traits[trait.name] = f"{user}@example.com"
    mistake = index % 23
    if mistake == 6:
        # A required trait forgotten: the demo Customer.io's filtered workflow skips the person.
        traits.pop(filtered_trait(plan) or "", None)
    yield _message("identify", at, userId=user, anonymousId=anonymous, traits=traits)
    events = [e for e in plan.events.values() if not e.deprecated]
    for turn in range(rng.randint(2, 5) if events else 0):
        event = rng.choice(events)
        properties = sample_properties(
            event_properties(event), variant=rng.randint(0, 6), optional=True, now_s=now_s
        )
        if properties is None:
            continue  # a required property no sample fits (a pattern): not sent
        at += timedelta(minutes=rng.randint(1, 45))
        name = event.name
        if mistake == 1 and turn == 0 and len(name) > 3:
            name = name[:2] + name[3:]  # a typo: blocked as unplanned, with a did-you-mean
        message = _message("track", at, userId=user, event=name, properties=properties)
        if mistake == 3 and turn == 0:
            message["timestamp"] = None  # queue time will stand in for action time
        yield message


def day_of_traffic(
    users: int, seed: int, now: datetime | None = None, plan: Plan | None = None
) -> list[dict[str, Any]]:
    """Every message of the day, in time order: the SaaS story when `plan` has its events (or
    no plan is given), else a day made from the plan's own events and traits."""
    rng = random.Random(seed)
    end = now or datetime.now(UTC)
    story = story_fits(plan)
    messages: list[dict[str, Any]] = []
    for index in range(users):
        start = end - timedelta(hours=24) + timedelta(minutes=rng.randint(0, 20 * 60))
        person = (
            _person(rng, index, start)
            if story or plan is None
            else _plan_person(plan, rng, index, start)
        )
        # A visitor whose day runs past now stops there (no future action times).
        messages.extend(m for m in person if (m["timestamp"] or "") <= end.isoformat())
    messages.sort(key=lambda m: m["timestamp"] or "")
    for message in messages:
        if message["timestamp"] is None:
            del message["timestamp"]
    return messages


def _send(client: httpx.Client, url: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Post one batch, waiting out backpressure (429) and brief outages."""
    import httpx

    attempt = 0
    while True:
        attempt += 1
        try:
            response = client.post(f"{url}/v1/batch", json={"batch": batch})
        except httpx.HTTPError as exc:
            if attempt >= 10:
                fail(f"{url}: {exc}")
            time.sleep(1)
            continue
        if response.status_code in (429, 503) and attempt < 30:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code != 200:
            fail(f"{url}/v1/batch answered {response.status_code}: {response.text[:300]}")
        result: dict[str, Any] = response.json()
        return result


def send_day(
    url: str, write_key: str, messages: list[dict[str, Any]], *, insecure: bool = False
) -> tuple[Counter[str], Counter[str]]:
    """Post a day of traffic in batches; totals by verdict, and violations by code."""
    import httpx  # an HTTP client is needed only when traffic is sent

    totals: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    with httpx.Client(auth=(write_key, ""), timeout=30, verify=not insecure) as client:
        for start in range(0, len(messages), BATCH):
            result = _send(client, url, messages[start : start + BATCH])
            for verdict in ("accepted", "repaired", "blocked", "duplicates"):
                totals[verdict] += result.get(verdict, 0)
            for violation in result.get("violations", []):
                codes[violation["code"]] += 1
    return totals, codes


def demo_command(
    url: Annotated[str, typer.Option("--url", help="The gateway.")] = "http://127.0.0.1:8500",
    plan_path: PlanOpt = None,
    write_key: Annotated[
        str | None,
        typer.Option("--write-key", envvar="TRACKWELL_WRITE_KEY", help="A server write key."),
    ] = None,
    users: Annotated[
        int, typer.Option("--users", min=1, max=100_000, help="Visitors in the day.")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the same day every time).")] = 7,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify TLS certificates.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Send a day of traffic on the served plan's events (visits, signups, mistakes) to a gateway."""
    from trackwell.cli.sources import resolve_plan

    if not write_key:
        fail("--write-key (or TRACKWELL_WRITE_KEY) is needed: the key `trackwell serve` printed")
    plan = resolve_plan(plan_path)
    url = url.rstrip("/")
    messages = day_of_traffic(users, seed, plan=plan)
    totals, codes = send_day(url, write_key, messages, insecure=insecure)
    people = len({m["userId"] for m in messages if "userId" in m})
    if json_output:
        print_json(
            {"messages": len(messages), "people": people, **totals, "violations": dict(codes)}
        )
        return
    stdout.print(
        f"Sent {len(messages):,} messages for {users:,} visitors ({people:,} signed up) to {url}:"
        f" {totals['accepted']:,} accepted, {totals['repaired']:,} repaired, {totals['blocked']:,} blocked."
    )
    for code, count in codes.most_common():
        stdout.print(f"  {count:6,}  {code}")
    stdout.print(
        "Look closer: trackwell timeline user-0001 · trackwell deliveries · curl .../metrics"
    )
