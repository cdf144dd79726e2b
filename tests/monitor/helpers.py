"""Synthetic histories: messages accepted at chosen received times, deliveries acked at chosen days."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from trackwell.monitor import Evaluation, evaluate, load_options
from trackwell.pipeline import accept
from trackwell.plan import Plan, parse_plan
from trackwell.quality import compile_plan
from trackwell.quality.compiled import CompiledPlan
from trackwell.store import Delivery, DeliveryResult, Store, open_store

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# Synthetic "today": ahead of the real clock, so the store's pruning of hour rows older than a
# week (which follows the wall clock) never touches the history a test writes.
TODAY = int(time.time() // 86400) + 40

PLAN_YAML = """
trackwell: 1
name: Monitor tests
version: 1
policy: {unplanned_event: block, sensitive_data: redact}
traits:
  email: {type: string, format: email, required: true}
  created_at: {type: timestamp, required: true}
  plan: {type: string, enum: [free, pro]}
pages: [Pricing]
events:
  Account Created:
    stage: Activation
    description: Signed up.
    backfill: new-only
    used_by: [Welcome email]
    aliases: [Signed Up]
    properties:
      plan: {type: string, enum: [free, pro], required: true}
      signup_source: string
      referral_code: string
  Feature Used:
    stage: Engagement
    description: Used a feature.
    backfill: new-only
    properties:
      feature_name: {type: string, required: true}
      count: integer
  Button Clicked:
    stage: Engagement
    description: Clicked a button.
    backfill: new-only
    properties:
      button: string
  Signup Completed:
    stage: Activation
    description: The old signup event.
    backfill: new-only
    deprecated: true
    replaced_by: Account Created
    properties:
      plan: string
"""

PROPERTIES: dict[str, dict[str, Any]] = {
    "Account Created": {"plan": "free", "signup_source": "organic"},
    "Feature Used": {"feature_name": "reports"},
    "Button Clicked": {"button": "save"},
    "Signup Completed": {"plan": "free"},
}


def monitor_plan() -> Plan:
    """The small plan the monitor tests use."""
    return parse_plan(PLAN_YAML, "monitor-plan.yaml")


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC time on a day since the epoch."""
    return datetime.fromtimestamp(day * 86400, UTC) + timedelta(hours=hour, minutes=minute)


def ms(day: int, hour: int = 0, minute: int = 0) -> int:
    """Milliseconds since the epoch."""
    return int(at(day, hour, minute).timestamp() * 1000)


def iso(moment: datetime) -> str:
    """ISO-8601 with a Z."""
    return moment.isoformat().replace("+00:00", "Z")


class History:
    """A store filled message by message through accept(), as the pipeline would."""

    def __init__(self, path: Path, plan: Plan | None = None) -> None:
        self.url = f"sqlite:///{path}"
        self.store: Store = open_store(self.url)
        self.plan = plan or monitor_plan()
        self.compiled: CompiledPlan = compile_plan(self.plan)
        self.serial = 0
        self.prefix = uuid.uuid4().hex[:6]  # copies of one history must not reuse its people

    def send(
        self,
        day: int,
        hour: int,
        messages: Iterable[Mapping[str, Any]],
        *,
        source: str = "backend",
        minute: int = 0,
    ) -> None:
        """Accept messages received at that hour, with the store's clock at that time too."""
        received = at(day, hour, minute)
        # The store stamps new profiles and prunes hour rows by its own clock: keep it in step.
        clock = sys.modules[type(self.store).write_batch.__module__]
        with mock.patch.object(clock, "_now_ms", lambda: int(received.timestamp() * 1000)):
            accept(self.store, self.compiled, list(messages), received_at=received, source=source)

    def track(
        self,
        day: int,
        hour: int,
        event: str,
        count: int,
        *,
        properties: Mapping[str, Any] | None = None,
        source: str = "backend",
        lag_seconds: float = 2.0,
        timestamp: bool = True,
        user: str | None = None,
        identify: bool = False,
    ) -> None:
        """`count` track events (each by a new user, identified first when `identify`)."""
        moment = at(day, hour) - timedelta(seconds=lag_seconds)
        messages: list[dict[str, Any]] = []
        for _ in range(count):
            self.serial += 1
            person = user or f"user-{self.prefix}-{self.serial}"
            if identify:
                messages.append(identify_message(person, moment))
            message: dict[str, Any] = {
                "type": "track",
                "userId": person,
                "event": event,
                "properties": dict(PROPERTIES.get(event, {}) if properties is None else properties),
            }
            if timestamp:
                message["timestamp"] = iso(moment)
            messages.append(message)
        self.send(day, hour, messages, source=source)

    def steady(
        self,
        days: Iterable[int],
        hours: Iterable[int],
        per_hour: Mapping[str, int],
        destinations: Iterable[str] = (),
    ) -> None:
        """The same traffic every day, delivered within seconds to each destination."""
        for day in days:
            for hour in hours:
                self.hour(day, hour, per_hour, destinations)

    def hour(
        self, day: int, hour: int, per_hour: Mapping[str, int], destinations: Iterable[str] = ()
    ) -> None:
        """One hour of traffic (new people are identified first), delivered 10 s later."""
        for event, count in per_hour.items():
            self.track(day, hour, event, count, identify=event == "Account Created")
        for destination in destinations:
            self.deliver(destination, ms(day, hour) + 10_000)

    def deliver(
        self,
        destination: str,
        now_ms: int,
        *,
        outcome: Callable[[Delivery], str] | str = "delivered",
        error: str | None = None,
    ) -> int:
        """Claim everything due for a destination at `now_ms` and ack it with an outcome."""
        handled = 0
        # A claim ends at a person's identify (their next message goes in a later batch).
        while claimed := self.store.claim(destination, 100_000, now_ms):
            results = []
            for delivery in claimed:
                kind = outcome(delivery) if callable(outcome) else outcome
                retry_at = now_ms + 60_000 if kind == "retry" else None
                failure = error if kind != "delivered" else None
                results.append(DeliveryResult(delivery.seq, kind, retry_at, failure))  # type: ignore[arg-type]
            self.store.ack(destination, results, now_ms)
            handled += len(claimed)
        self.store.release(destination)
        return handled

    def evaluate(
        self,
        now_ms: int,
        monitors: Mapping[str, Any] | None = None,
        *,
        destinations: Mapping[str, Mapping[str, Any]] | None = None,
        base_dir: Path = Path(),
        environ: Mapping[str, str] | None = None,
    ) -> Evaluation:
        """Every monitor at `now_ms`, with optional `[monitors]` tables."""
        result = evaluate(
            self.store,
            self.compiled,
            now_ms=now_ms,
            options=load_options(monitors or {}),
            destinations=destinations,
            base_dir=base_dir,
            environ=environ or {},
        )
        assert result.errors == {}
        return result

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def identify_message(
    user: str, moment: datetime, traits: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An identify with the plan's required traits."""
    return {
        "type": "identify",
        "userId": user,
        "traits": dict(traits)
        if traits is not None
        else {"email": f"{user}@example.com", "created_at": 1_700_000_000},
        "timestamp": iso(moment),
    }


def only(evaluation: Evaluation, monitor: str) -> list[Any]:
    """The findings of one monitor."""
    return [f for f in evaluation.findings if f.monitor == monitor]
