"""Consent at delivery: a destination that requires categories gets only what the person
consented to, the others still get everything; each `missing_consent` policy; hold, then release
when the consent trait arrives. Real stores (SQLite and PostgreSQL), fake tools over loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests.backends import any_store, postgres_database
from tests.conftest import EXAMPLE_PLAN
from tests.fakes.webhook import FakeWebhook
from trackwell.core.consent import ConsentConfigError, ConsentPolicy, MissingConsent
from trackwell.core.time import DAY_MS
from trackwell.destinations.registry import from_settings
from trackwell.destinations.webhook import Webhook
from trackwell.monitor.why import why
from trackwell.pipeline import accept
from trackwell.pipeline.router import Router
from trackwell.plan import PropertySpec, load_plan
from trackwell.quality import CompiledPlan, compile_plan
from trackwell.store import DeliveryStats, Store

__all__ = ["any_store", "postgres_database"]

SECRET = "whsec-consent"
NOW = 1_900_000_000.0


def track(message_id: str, user: str, consent: dict[str, Any] | None = None) -> dict[str, Any]:
    """A planned track message, with Segment's consent object when `consent` is given."""
    message: dict[str, Any] = {
        "type": "track",
        "userId": user,
        "event": "Feature Used",
        "properties": {"feature_name": "projects"},
        "messageId": message_id,
        "timestamp": "2030-03-17T17:40:00Z",
    }
    if consent is not None:
        message["context"] = {"consent": {"categoryPreferences": consent}}
    return message


def identify(message_id: str, user: str, consent: dict[str, Any]) -> dict[str, Any]:
    """An identify that sets the person's consent trait."""
    return {
        "type": "identify",
        "userId": user,
        "traits": {"email": f"{user}@example.com", "created_at": 1_700_000_000, "consent": consent},
        "messageId": message_id,
        "timestamp": "2030-03-17T17:41:00Z",
    }


@pytest.fixture(scope="module")
def compiled() -> CompiledPlan:
    """The example plan with the consent trait planned (an object of category -> bool)."""
    plan = load_plan(EXAMPLE_PLAN)
    traits = (*plan.traits, PropertySpec("consent", "object"))
    return compile_plan(dataclasses.replace(plan, traits=traits))


@pytest.fixture
def tools() -> Iterator[tuple[FakeWebhook, FakeWebhook]]:
    """Two receivers: one behind a destination requiring marketing consent, one without."""
    with FakeWebhook(secret=SECRET) as marketing, FakeWebhook(secret=SECRET) as analytics:
        yield marketing, analytics
    for made in ROUTERS:
        made.close()
    ROUTERS.clear()


ROUTERS: list[Router] = []  # closed after each test, with the tools they send to


def destinations(tools: tuple[FakeWebhook, FakeWebhook]) -> list[Webhook]:
    marketing, analytics = tools
    return [
        Webhook(
            "marketing",
            url=f"{marketing.url}{marketing.path}",
            secret=SECRET,
            consent=("marketing",),
        ),
        Webhook("analytics", url=f"{analytics.url}{analytics.path}", secret=SECRET),
    ]


def router(
    store: Store, tools: tuple[FakeWebhook, FakeWebhook], missing: MissingConsent, **kw: Any
) -> Router:
    policy = ConsentPolicy(missing_consent=missing, trait="consent")
    made = Router(store, destinations(tools), consent=policy, clock=lambda: NOW, **kw)
    ROUTERS.append(made)
    return made


def received(tool: FakeWebhook) -> list[str]:
    return sorted(str(m["messageId"]) for m in tool.messages)


def stats(store: Store, name: str) -> DeliveryStats:
    return next(s for s in store.delivery_stats(int(NOW * 1000)) if s.destination == name)


def status(store: Store, message_id: str, destination: str) -> tuple[str, str | None]:
    entry = store.get(message_id)
    assert entry is not None
    state = entry.deliveries[destination]
    return state["status"], state["error"]


def test_a_destination_gets_only_what_the_person_consented_to(
    any_store: Store, compiled: CompiledPlan, tools: tuple[FakeWebhook, FakeWebhook]
) -> None:
    store = any_store
    marketing, analytics = tools
    r = router(store, tools, "drop")  # first: what is stored before a destination is not for it
    accept(store, compiled, [identify("id-cy", "cy", {"marketing": True, "analytics": False})])
    accept(
        store,
        compiled,
        [
            track("no", "ann", {"marketing": False, "analytics": True}),
            track("yes", "bo", {"marketing": True}),
            track("empty", "bo", {}),  # a consent object that lists nothing consents to nothing
            track("trait", "cy"),  # no consent in the message: the profile's trait says yes
            # The message's own preferences win over the trait.
            track("message-wins", "cy", {"marketing": False}),
            track("unknown", "dee"),  # nothing anywhere: the plan's policy (drop) decides
        ],
    )
    assert r.drain("marketing") > 0 and r.drain("analytics") > 0

    assert received(marketing) == ["id-cy", "trait", "yes"]
    assert received(analytics) == sorted(
        ["id-cy", "no", "yes", "empty", "trait", "message-wins", "unknown"]
    )
    assert status(store, "no", "marketing") == (
        "no_consent",
        "no consent for marketing (the message's consent)",
    )
    assert status(store, "message-wins", "marketing")[0] == "no_consent"
    assert status(store, "unknown", "marketing") == ("no_consent", "no consent information")
    assert status(store, "no", "analytics") == ("delivered", None)

    queue = stats(store, "marketing")
    assert (queue.delivered, queue.no_consent, queue.held, queue.dead) == (3, 4, 0, 0)
    assert queue.last_error is None
    assert stats(store, "analytics").no_consent == 0
    assert r.counters["marketing"].no_consent == 4
    day = int(NOW * 1000) // DAY_MS
    rollups = {(x.destination, x.name): x for x in store.delivery_rollups(day, day)}
    assert rollups[("marketing", "Feature Used")].no_consent == 4
    assert rollups[("marketing", "Feature Used")].delivered == 2
    assert rollups[("analytics", "Feature Used")].no_consent == 0

    report = why(
        store, compiled, "ann", now_ms=int(NOW * 1000), event="Feature Used", destinations={}
    )
    # ann was never identified (the other diagnoses say so); the consent one names the cause.
    [diagnosis] = [d for d in report.diagnoses if d.destination == "marketing"]
    assert (diagnosis.code, diagnosis.destination) == ("delivery_no_consent", "marketing")
    assert diagnosis.message.startswith("not delivered to marketing: no consent for marketing")


@pytest.mark.parametrize(
    ("missing", "expected"), [("deliver", "delivered"), ("hold", "held"), ("drop", "no_consent")]
)
def test_the_plan_says_what_no_consent_information_means(
    any_store: Store,
    compiled: CompiledPlan,
    tools: tuple[FakeWebhook, FakeWebhook],
    missing: MissingConsent,
    expected: str,
) -> None:
    store = any_store
    marketing, analytics = tools
    r = router(store, tools, missing)
    accept(store, compiled, [track("silent", "ann")])
    r.drain("marketing")
    r.drain("analytics")
    assert status(store, "silent", "marketing")[0] == expected
    assert received(marketing) == (["silent"] if missing == "deliver" else [])
    assert received(analytics) == ["silent"]  # a destination without consent needs is untouched
    queue = stats(store, "marketing")
    assert (queue.held, queue.no_consent) == (
        int(missing == "hold"),
        int(missing == "drop"),
    )


def test_a_held_message_is_sent_once_the_person_consents(
    any_store: Store, compiled: CompiledPlan, tools: tuple[FakeWebhook, FakeWebhook]
) -> None:
    store = any_store
    marketing, _ = tools
    r = router(store, tools, "hold", consent_recheck=0.0)
    accept(store, compiled, [track("wait-1", "ann"), track("wait-2", "bo")])
    r.drain("marketing")
    assert stats(store, "marketing").held == 2
    assert received(marketing) == []

    accept(
        store,
        compiled,
        [identify("id-ann", "ann", {"marketing": True}), identify("id-bo", "bo", {"ads": True})],
    )
    r.drain("marketing")
    # Ann consented: sent. Bo's consent trait arrived without marketing: settled, not sent
    # (his identify too: it is decided by the trait it set, which the profile holds by then).
    assert received(marketing) == ["id-ann", "wait-1"]
    assert status(store, "wait-1", "marketing") == ("delivered", None)
    assert status(store, "wait-2", "marketing") == (
        "no_consent",
        "no consent for marketing (trait consent)",
    )
    queue = stats(store, "marketing")
    assert (queue.held, queue.no_consent, queue.delivered) == (0, 2, 2)


def test_replaying_held_messages_decides_them_again(
    any_store: Store, compiled: CompiledPlan, tools: tuple[FakeWebhook, FakeWebhook]
) -> None:
    store = any_store
    marketing, _ = tools
    plan = [ConsentPolicy(missing_consent="hold", trait="consent")]
    # Consent follows the plan in force, as the gateway's reloads change it.
    r = Router(store, destinations(tools), consent=lambda: plan[0], consent_recheck=0.0)
    ROUTERS.append(r)
    accept(store, compiled, [track("wait", "ann")])
    r.drain("marketing")
    assert stats(store, "marketing").held == 1
    # Still no information: replayed, decided again, held again (no attempt spent).
    assert store.requeue("marketing", held_only=True, now_ms=int(NOW * 1000)) == 1
    r.drain("marketing")
    assert status(store, "wait", "marketing")[0] == "held"
    assert received(marketing) == []
    # The plan now delivers what carries no consent information: the next look releases it.
    plan[0] = ConsentPolicy(missing_consent="deliver", trait="consent")
    r.drain("marketing")
    assert received(marketing) == ["wait"]
    assert stats(store, "marketing").held == 0


def test_a_destination_requiring_consent_needs_the_plan_to_say_what_missing_consent_means(
    any_store: Store, tools: tuple[FakeWebhook, FakeWebhook]
) -> None:
    built = destinations(tools)
    with pytest.raises(ConsentConfigError, match=r"marketing require consent.*missing_consent"):
        Router(any_store, built)
    Router(any_store, built[1:]).close()  # nothing requires consent: nothing to say
    built[0].close()


def test_the_registry_reads_consent_categories() -> None:
    table = {"type": "webhook", "url": "https://example.com/hook", "consent": ["marketing", "ads"]}
    hook = from_settings("hook", table, {"TRACKWELL_HOOK_SECRET": "s"})
    assert hook.consent == ("marketing", "ads")
    assert hook.settings.consent == ("marketing", "ads")
    hook.close()
    plain = from_settings("plain", {**table, "consent": None}, {"TRACKWELL_PLAIN_SECRET": "s"})
    assert plain.consent == ()
    plain.close()
    for bad in ("marketing", [], ["marketing", "marketing"], [""], [1]):
        with pytest.raises(ValueError, match="consent"):
            from_settings("hook", {**table, "consent": bad}, {})
