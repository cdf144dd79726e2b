"""Prometheus metrics: messages and violations as they arrive, the rest read at scrape time."""

from __future__ import annotations

import statistics
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trackwell.quality.compiled import CompiledPlan
from trackwell.store import Checked, Written

if TYPE_CHECKING:
    from trackwell.pipeline.router import Router
    from trackwell.server.backlog import Backlog
    from trackwell.server.planfile import PlanHolder
    from trackwell.server.writer import Writer

# `*_created` series double the output and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Names outside the plan are one label value, so random names cannot blow up the series count.
UNPLANNED = "(unplanned)"
LATENCY_QUANTILES = (0.5, 0.9, 0.99)


class Scrapable(Protocol):
    """The parts of a gateway read at scrape time (`server.gateway.Gateway` is one); named here
    rather than imported, because the gateway builds its metrics."""

    @property
    def writer(self) -> Writer:
        """Commits to the store; its stats are counters."""

    @property
    def plan(self) -> PlanHolder:
        """The plan in force and how often it was reloaded."""

    @property
    def backlog(self) -> Backlog:
        """Each destination's queue, polled."""

    @property
    def router(self) -> Router | None:
        """Delivery counters and latencies, when this process routes."""


class Metrics:
    """One registry per gateway (tests build several in one process)."""

    def __init__(self, gateway: Scrapable) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "trackwell_messages",
            "Messages received, by source, event (or page, or type) and verdict.",
            ["source", "event", "verdict"],
            registry=self.registry,
        )
        self.violations = Counter(
            "trackwell_violations",
            "Violations found in received messages, by code.",
            ["code"],
            registry=self.registry,
        )
        self.blocking = Counter(
            "trackwell_blocking_violations",
            "Violations that blocked a message, by source and code (what to fix, and where).",
            ["source", "code"],
            registry=self.registry,
        )
        self.strict_refusals = Counter(
            "trackwell_strict_refusals",
            "Requests refused whole (400) in strict mode because a message was blocked, by source.",
            ["source"],
            registry=self.registry,
        )
        # Messages of an erased or suppressed person: acknowledged like any other, not stored.
        self.privacy_dropped = Counter(
            "trackwell_privacy_dropped",
            "Messages acknowledged and not stored: their person was erased or is suppressed.",
            ["reason"],
            registry=self.registry,
        )
        self.privacy_requests = Counter(
            "trackwell_privacy_requests",
            "Privacy requests made through the gateway, by kind and by what asked (messages:"
            " a person operation sent with a write key; api: the regulations API).",
            ["kind", "origin"],
            registry=self.registry,
        )
        # Outcome reports from the tools' webhooks (server/webhooks.py); the metric label is
        # one of the known metrics or `(other)`, so a tool's new metrics add no series.
        self.outcome_reports = Counter(
            "trackwell_outcome_reports",
            "Outcome reports received from the tools' webhooks, by source, metric and result"
            " (stored, duplicate, dropped, refused, failed).",
            ["source", "metric", "result"],
            registry=self.registry,
        )
        self.requests = Counter(
            "trackwell_http_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "trackwell_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.registry.register(_Scraped(gateway))

    def record(
        self,
        source: str,
        checked: Sequence[Checked],
        written: Sequence[Written],
        plan: CompiledPlan,
    ) -> None:
        """Count one request's messages (tallied first: one label lookup per distinct label)."""
        messages: Tally[tuple[str, str]] = Tally()
        codes: Tally[str] = Tally()
        blocking: Tally[str] = Tally()
        dropped: Tally[str] = Tally()
        for c, w in zip(checked, written, strict=True):
            if w.dropped is not None:
                dropped[w.dropped] += 1
            messages[(_label(c, plan), c.verdict)] += 1
            for violation in c.violations:
                codes[violation.code] += 1
                if c.verdict == "blocked" and violation.effect == "block":
                    blocking[violation.code] += 1
            for violation in w.identity:
                codes[violation.code] += 1
        for (event, verdict), count in messages.items():
            self.messages.labels(source, event, verdict).inc(count)
        for code, count in codes.items():
            self.violations.labels(code).inc(count)
        for code, count in blocking.items():
            self.blocking.labels(source, code).inc(count)
        for reason, count in dropped.items():
            self.privacy_dropped.labels(reason).inc(count)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def _label(checked: Checked, plan: CompiledPlan) -> str:
    message = checked.message
    if message.type == "track":
        return message.event if message.event in plan.events else UNPLANNED
    if message.type == "page":
        return message.name if message.name in plan.pages else UNPLANNED
    if message.type == "screen":
        return message.name if message.name in plan.screens else UNPLANNED
    return str(message.type)


class _Scraped(Collector):
    """Writer, backlog, delivery and plan figures, read when Prometheus scrapes."""

    def __init__(self, gateway: Scrapable) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        gw = self.gateway
        stats = gw.writer.stats
        yield CounterMetricFamily(
            "trackwell_store_transactions", "Store transactions committed by the writer.",
            stats.transactions,
        )  # fmt: skip
        yield CounterMetricFamily(
            "trackwell_store_messages", "Messages committed by the writer.", stats.messages
        )
        yield CounterMetricFamily(
            "trackwell_store_failures", "Store writes that failed.", stats.failures
        )
        yield CounterMetricFamily(
            "trackwell_store_write_seconds", "Time spent committing.", stats.seconds
        )
        plan = gw.plan.plan
        info = GaugeMetricFamily(
            "trackwell_plan_info", "The plan in force.", labels=["name", "version"]
        )
        info.add_metric([plan.name, str(plan.version)], 1)
        yield info
        yield CounterMetricFamily(
            "trackwell_plan_reloads", "Successful plan reloads.", gw.plan.reloads
        )
        yield from self._backlog()
        yield from self._deliveries()

    def _backlog(self) -> Iterator[Metric]:
        backlog = self.gateway.backlog
        size = GaugeMetricFamily(
            "trackwell_backlog_messages",
            "Messages not yet delivered (pending, in flight, retrying, waiting), by destination.",
            labels=["destination"],
        )
        age = GaugeMetricFamily(
            "trackwell_backlog_oldest_seconds",
            "Age of the oldest undelivered message, by destination.",
            labels=["destination"],
        )
        dead = GaugeMetricFamily(
            "trackwell_dead_letters",
            "Messages a destination refused for good.",
            labels=["destination"],
        )
        captured = GaugeMetricFamily(
            "trackwell_captured_messages",
            "Messages a destination in capture mode recorded and never sent (replayable).",
            labels=["destination"],
        )
        no_consent = GaugeMetricFamily(
            "trackwell_no_consent_messages",
            "Messages not sent to a destination because the person had not consented.",
            labels=["destination"],
        )
        held = GaugeMetricFamily(
            "trackwell_held_messages",
            "Messages held for a destination until consent information arrives.",
            labels=["destination"],
        )
        for s in backlog.stats:
            no_consent.add_metric([s.destination], s.no_consent)
            held.add_metric([s.destination], s.held)
            size.add_metric([s.destination], s.pending + s.in_flight + s.retry + s.waiting)
            age.add_metric([s.destination], (s.oldest_pending_ms or 0) / 1000)
            dead.add_metric([s.destination], s.dead)
            captured.add_metric([s.destination], s.captured)
        yield size
        yield age
        yield dead
        yield captured
        yield no_consent
        yield held
        if backlog.high_water is not None:
            yield GaugeMetricFamily(
                "trackwell_backlog_high_water",
                "Backlog above which requests get 429.",
                backlog.high_water,
            )

    def _deliveries(self) -> Iterator[Metric]:
        router = self.gateway.router
        results = CounterMetricFamily(
            "trackwell_deliveries",
            "Delivery attempts by destination and result (since this process started).",
            labels=["destination", "result"],
        )
        latency = GaugeMetricFamily(
            "trackwell_delivery_latency_seconds",
            "Seconds from receipt to acknowledgement by the destination, recent quantiles.",
            labels=["destination", "quantile"],
        )
        for name, counters in router.counters.items() if router else ():
            results.add_metric([name, "delivered"], counters.delivered)
            results.add_metric([name, "captured"], counters.captured)  # never sent
            results.add_metric([name, "no_consent"], counters.no_consent)  # never sent
            results.add_metric([name, "held"], counters.held)  # not sent yet
            results.add_metric([name, "retry"], counters.retried)
            results.add_metric([name, "dead"], counters.dead)
            recent = list(counters.latencies)
            if len(recent) >= 2:
                cuts = statistics.quantiles(recent, n=100, method="inclusive")
                for q in LATENCY_QUANTILES:
                    latency.add_metric([name, str(q)], cuts[int(q * 100) - 1])
        yield results
        yield latency
