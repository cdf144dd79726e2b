"""Console fixtures: a seeded SQLite store, the console app, a logged-in client, a scripted destination."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import trackwell
from trackwell.console import create_console, hash_token
from trackwell.core.messages import WireMessage
from trackwell.core.outcomes import Outcome
from trackwell.destinations.base import Destination, Outgoing, Prepared
from trackwell.destinations.http import HttpRequest
from trackwell.pipeline import accept
from trackwell.pipeline.router import Router
from trackwell.plan import Plan, load_plan
from trackwell.quality import compile_plan
from trackwell.store.sqlite import SQLiteStore

from ..conftest import EXAMPLE_PLAN

ADMIN_TOKEN = "tw_admin_test_token_0123456789"
WRITE_KEY = "tw_test_backend_key"
CARD = "4111 1111 1111 1111"  # a Luhn-valid test card number: must never reach a page


class Scripted(Destination):
    """A destination whose answers a test decides, message by message (no HTTP)."""

    kind = "scripted"

    def __init__(self, name: str, answer: Callable[[WireMessage], Outcome] | None = None) -> None:
        super().__init__(name, transport=None, batch_size=50)
        self.answer = answer or (lambda m: Outcome("delivered"))
        self.received: list[WireMessage] = []
        self.lock = threading.Lock()

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        return Prepared(
            [Outgoing(HttpRequest("POST", "memory://", {}), tuple(range(len(messages))))]
        )

    def deliver(self, messages: Sequence[WireMessage]) -> list[Outcome]:
        outcomes = [self.answer(m) for m in messages]
        with self.lock:
            self.received.extend(
                m for m, o in zip(messages, outcomes, strict=True) if o.kind == "delivered"
            )
        return outcomes

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["messageId"]) for m in self.received]


def track(
    user: str | None,
    event: str,
    properties: dict[str, Any],
    at: datetime,
    mid: str,
    anonymous: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "properties": properties,
        "timestamp": at.isoformat(),
        "messageId": mid,
        "context": {"library": {"name": "console-tests"}},
    }
    if user:
        message["userId"] = user
    if anonymous:
        message["anonymousId"] = anonymous
    return message


def page(anonymous: str, name: str, at: datetime, mid: str) -> dict[str, Any]:
    return {
        "type": "page",
        "anonymousId": anonymous,
        "name": name,
        "properties": {"url": f"https://acme.example/{name.lower()}"},
        "timestamp": at.isoformat(),
        "messageId": mid,
    }


def identify(
    user: str, traits: dict[str, Any], at: datetime, mid: str, anonymous: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "identify",
        "userId": user,
        "traits": traits,
        "timestamp": at.isoformat(),
        "messageId": mid,
    }
    if anonymous:
        message["anonymousId"] = anonymous
    return message


def seed_history(
    store: SQLiteStore, plan: Plan, days: int = 30, now: datetime | None = None
) -> None:
    """A month of a small product's traffic, one accept() per day received on that day."""
    compiled = compile_plan(plan)
    start = (now or datetime.now(UTC)) - timedelta(hours=1)
    for back in range(days, -1, -1):
        day = start - timedelta(days=back)
        batch: list[dict[str, Any]] = []
        for n in range(3 + (days - back) % 5):
            user, at, mid = f"user-{back:02d}-{n}", day + timedelta(minutes=n), f"h-{back}-{n}"
            visitor = f"anon-{back:02d}-{n}"
            batch.append(page(visitor, "Pricing", at - timedelta(minutes=9), f"{mid}-p"))
            batch.append(
                track(
                    None,
                    "Page Viewed",
                    {"page_name": "Pricing"},
                    at - timedelta(minutes=8),
                    f"{mid}-v",
                    anonymous=visitor,
                )
            )
            traits = {
                "email": f"{user}@example.com",
                "created_at": int(at.timestamp()),
                "plan": "free",
            }
            batch.append(identify(user, traits, at, f"{mid}-i", anonymous=visitor))
            batch.append(
                track(
                    user,
                    "Account Created",
                    {"plan": "free", "signup_source": "organic", "signup_method": "email"},
                    at,
                    f"{mid}-a",
                )
            )
            batch.append(
                track(
                    user,
                    "Email Verified",
                    {"verification_method": "link"},
                    at + timedelta(minutes=2),
                    f"{mid}-e",
                )
            )
            batch.append(
                track(
                    user,
                    "Feature Used",
                    {"feature_name": ["projects", "timeline", "reports"][n % 3]},
                    at + timedelta(minutes=5),
                    f"{mid}-f",
                )
            )
            if n % 2 == 0:
                role = "owner" if n == 4 else "member"  # "owner" is outside the enum: blocked
                batch.append(
                    track(
                        user,
                        "Invite Sent",
                        {"invitee_role": role, "invite_method": "email"},
                        at + timedelta(minutes=7),
                        f"{mid}-s",
                    )
                )
            if n == 1:  # an unplanned property, omitted: repaired
                batch.append(
                    track(
                        user,
                        "Subscription Started",
                        {
                            "plan_name": "pro",
                            "plan_price_cents": 4900,
                            "billing_period": "monthly",
                            "coupon": "SPRING",
                        },
                        at + timedelta(minutes=9),
                        f"{mid}-b",
                    )
                )
        if back % 3 == 0:
            batch.append(
                track(
                    f"user-{back:02d}-0", "Acount Created", {"plan": "free"}, day, f"h-{back}-typo"
                )
            )
        accept(store, compiled, batch, received_at=day + timedelta(minutes=30), source="backend")


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plan(EXAMPLE_PLAN)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(str(tmp_path / "console.db"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def app(store: SQLiteStore, plan: Plan) -> Starlette:
    return create_console(store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN))


def login_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, token: str = ADMIN_TOKEN) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = await client.get("/login")
    response = await client.post(
        "/login", data={"token": token, "csrf": login_token(form.text), "next": "/people"}
    )
    assert response.status_code == 303, response.text
    return login_token((await client.get("/people")).text)


@dataclass
class Logged:
    """A client with a session, and its CSRF token."""

    client: httpx.AsyncClient
    csrf: str


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console.test"
    ) as test_client:
        yield test_client


@pytest.fixture
async def logged(client: httpx.AsyncClient) -> Logged:
    return Logged(client, await log_in(client))


ANONYMOUS = "anon-7f3c9e1a"
PERSON = "ada-lovelace"
DEAD_ID = "ada-feature-dead"


def seed_person(store: SQLiteStore, plan: Plan, now: datetime | None = None) -> None:
    """Through the SDK: anonymous page views, then signup (identify ties the cookie), then usage."""
    at = (now or datetime.now(UTC)) - timedelta(hours=2)
    client = trackwell.Client(plan=plan, store=store, durability="sync")
    try:
        client.page(
            None,
            "Pricing",
            {"url": "https://acme.example/pricing"},
            anonymous_id=ANONYMOUS,
            timestamp=at,
        )
        client.track(
            None,
            "Page Viewed",
            {"page_name": "Integrations", "utm_source": "newsletter"},
            anonymous_id=ANONYMOUS,
            timestamp=at + timedelta(minutes=3),
        )
        client.identify(
            PERSON,
            {
                "email": "ada@example.com",
                "name": "Ada Lovelace",
                "created_at": int((at + timedelta(minutes=10)).timestamp()),
                "plan": "pro",
            },
            anonymous_id=ANONYMOUS,
            timestamp=at + timedelta(minutes=10),
        )
        client.track(
            PERSON,
            "Account Created",
            {"plan": "pro", "signup_source": "referral"},
            timestamp=at + timedelta(minutes=11),
        )
        client.track(
            PERSON,
            "Feature Used",
            {"feature_name": "timeline"},
            timestamp=at + timedelta(minutes=20),
            message_id=DEAD_ID,
        )
        client.track(
            PERSON,
            "Subscription Cancelled",
            {"plan_name": "pro", "reason": "other", "feedback": f"charge my card {CARD} instead"},
            timestamp=at + timedelta(minutes=30),
        )
    finally:
        client.close()


def refuse(message_id: str) -> Callable[[WireMessage], Outcome]:
    """Answers: the message `message_id` is refused for good, everything else delivered."""

    def answer(message: WireMessage) -> Outcome:
        if message["messageId"] == message_id:
            return Outcome("dead", "HTTP 400: attribute 'feature_name' rejected by the workspace")
        return Outcome("delivered")

    return answer


@dataclass
class Seeded:
    """A store with history, an SDK person, a sensitive value, and deliveries with a dead letter."""

    store: SQLiteStore
    plan: Plan
    destination: Scripted
    router: Router


@pytest.fixture
def seeded(store: SQLiteStore, plan: Plan) -> Iterator[Seeded]:
    seed_history(store, plan, days=20)
    destination = Scripted("customerio", refuse(DEAD_ID))
    router = Router(store, [destination, Scripted("mixpanel")])
    seed_person(store, plan)
    router.drain("customerio")
    router.drain("mixpanel")
    try:
        yield Seeded(store, plan, destination, router)
    finally:
        router.close()
