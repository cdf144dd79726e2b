"""A store with one person per reason an event did not do what was expected (the why panel's
browser tests): a typo, a blocked property, a missing identify, a dead delivery, a journey not
triggered and a bounced message, with Customer.io's reports stored through the Reports role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from trackwell.core.ids import event_ulid
from trackwell.core.outcomes import Outcome
from trackwell.core.time import to_ms
from trackwell.pipeline import accept
from trackwell.pipeline.router import Router
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import OutcomeReport
from trackwell.store.sqlite import SQLiteStore

from .conftest import Scripted, identify, track

DEAD_MESSAGE = "dan-feature-1"
BOUNCED_MESSAGE = "bo-account-1"
QUIET_MESSAGE = "jo-account-1"


@dataclass(frozen=True)
class Cause:
    """One person, what to ask the panel about, and the diagnosis code it must show."""

    person: str
    event: str | None
    code: str


CAUSES = {
    "typo": Cause("tom-typo", "Account Created", "other_name"),
    "blocked property": Cause("bea-blocked", None, "blocked"),
    "missing identify": Cause("ned-no-identify", None, "no_profile"),
    "dead delivery": Cause("dan-dead", None, "delivery_dead"),
    "journey not triggered": Cause("jo-quiet", "Account Created", "journey_not_triggered"),
    "message bounced": Cause("bo-bounced", "Account Created", "message_bounced"),
}


def _traits(user: str) -> dict[str, Any]:
    return {"email": f"{user}@example.com", "plan": "pro", "created_at": 1_700_000_000}


def seed_causes(store: SQLiteStore, plan: Plan, now: datetime) -> Router:
    """The six people, delivered by a scripted Customer.io that refuses dan's event; returns
    the router (closed by the caller)."""
    at = now - timedelta(hours=3)
    signup = {"plan": "pro", "signup_source": "organic", "signup_method": "email"}
    batch = [
        identify("tom-typo", _traits("tom-typo"), at, "tom-i"),
        track("tom-typo", "Acount Created", {"plan": "pro"}, at + timedelta(minutes=1), "tom-t"),
        identify("bea-blocked", _traits("bea-blocked"), at, "bea-i"),
        track(
            "bea-blocked",
            "Invite Sent",
            {"invitee_role": "owner", "invite_method": "email"},  # outside the enum: blocked
            at + timedelta(minutes=1),
            "bea-b",
        ),
        track("ned-no-identify", "Feature Used", {"feature_name": "projects"}, at, "ned-f"),
        identify("dan-dead", _traits("dan-dead"), at, "dan-i"),
        track("dan-dead", "Feature Used", {"feature_name": "timeline"}, at, DEAD_MESSAGE),
        identify("jo-quiet", _traits("jo-quiet"), at, "jo-i"),
        track("jo-quiet", "Account Created", signup, at + timedelta(minutes=1), QUIET_MESSAGE),
        identify("bo-bounced", _traits("bo-bounced"), at, "bo-i"),
        track("bo-bounced", "Account Created", signup, at + timedelta(minutes=1), BOUNCED_MESSAGE),
    ]

    def answer(message: Any) -> Outcome:
        if message["messageId"] == DEAD_MESSAGE:
            return Outcome("dead", "HTTP 400: attribute 'feature_name' rejected by the workspace")
        return Outcome("delivered")

    router = Router(store, [Scripted("customerio", answer)])  # registers the queue first
    accept(store, compile_plan(plan), batch, received_at=at + timedelta(minutes=2))
    router.drain("customerio")
    action_ms = to_ms(at + timedelta(minutes=1))
    sent = to_ms(at + timedelta(minutes=5))
    store.record_reports(
        [
            _report("r-sent", "sent", "bo-bounced", BOUNCED_MESSAGE, action_ms, sent),
            _report(
                "r-bounce",
                "bounced",
                "bo-bounced",
                BOUNCED_MESSAGE,
                action_ms,
                sent + 60_000,
                failure="550 5.1.1 mailbox unavailable",
            ),
        ],
        to_ms(now),
    )
    return router


def _report(
    event_id: str,
    metric: str,
    person: str,
    message_id: str,
    action_ms: int,
    at_ms: int,
    failure: str | None = None,
) -> OutcomeReport:
    """A Customer.io email report naming the event trackwell sent as its journey's trigger."""
    data: dict[str, Any] = {"customer_id": person, "campaign_id": 7}
    if failure:
        data["failure_message"] = failure
    return OutcomeReport(
        source="customerio",
        event_id=event_id,
        object_type="email",
        metric=metric,
        at_ms=at_ms,
        customer_id=person,
        campaign_id="7",
        trigger_event_id=event_ulid(message_id, action_ms),
        body={"event_id": event_id, "metric": metric, "object_type": "email", "data": data},
    )


def now() -> datetime:
    """The seeding time (the console's clock runs an hour ahead of it, so Customer.io's silence
    about jo's event is past the trigger window)."""
    return datetime.now(UTC)
