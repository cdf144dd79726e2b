"""The gateway's moving parts in one place: plan, store, keys, writer, backlog, routers, metrics."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from trackwell.core.consent import ConsentConfigError
from trackwell.monitor.loop import MonitorLoop
from trackwell.pipeline.audit import record
from trackwell.pipeline.privacy import PrivacyService
from trackwell.pipeline.router import Router
from trackwell.sdk.client import write_leftover_spills
from trackwell.server.auth import KeyRing
from trackwell.server.backlog import Backlog
from trackwell.server.metrics import Metrics
from trackwell.server.planfile import PlanHolder
from trackwell.server.ratelimit import SourceLimits
from trackwell.server.retention import RetentionLoop
from trackwell.server.settings import GatewaySettings
from trackwell.server.writer import Writer
from trackwell.store import Store, check_retention, open_store

log = logging.getLogger("trackwell.server")


class Gateway:
    """Built once per process; started and stopped by the app's lifespan."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        retention = settings.retention
        # Refused before anything opens: a log kept shorter than the dedup window.
        check_retention(retention.log_days, retention.blocked_days)
        self.plan = PlanHolder(settings.plan)
        self._owns_store = isinstance(settings.store, str)
        self.store: Store = (
            # The gateway acknowledges writes: it refuses to start on a damaged SQLite file.
            open_store(settings.store, check=True)
            if isinstance(settings.store, str)
            else settings.store
        )
        self.keys = KeyRing.from_config(settings.sources, settings.write_key)
        self.limits = SourceLimits(self.keys.sources.values())
        destinations = list(settings.destinations)
        # The router registers each destination's queue, so messages accepted while routing
        # runs elsewhere (`--no-router`) are still delivered once it starts.
        try:
            # Consent follows the plan in force, reloads included (`Router.consent_policy`).
            self.router = (
                Router(self.store, destinations, consent=lambda: self.plan.plan.policy.consent)
                if destinations
                else None
            )
        except ConsentConfigError:
            if self._owns_store:
                self.store.close()
            raise
        self.backlog = Backlog(
            self.store,
            [d.name for d in destinations],
            settings.high_water,
            poll_seconds=settings.backlog_poll_seconds,
        )
        # Erase, suppress, unsuppress: the regulations API, the console, and person operations
        # sent with a write key all make requests here; the router's privacy worker carries
        # them to each destination.
        self.privacy = PrivacyService(
            self.store,
            [d.name for d in destinations],
            after_erase=lambda: write_leftover_spills(self.store, timeout=5.0),
        )
        self.writer = Writer(self.store, after_write=self._written)
        # Large requests are prepared here, one at a time, so the event loop keeps serving
        # small ones (and a sender of many large requests queues behind itself).
        self.preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackwell-prepare")
        self.metrics = Metrics(self)
        self.monitor: MonitorLoop | None = None
        if settings.monitor_interval is not None:
            self.monitor = MonitorLoop(
                self.store,
                lambda: self.plan.compiled,
                monitors=settings.monitors,
                alerts=settings.alerts,
                destinations=settings.destination_tables,
                base_dir=settings.base_dir,
                interval=settings.monitor_interval,
            )
        self.retention: RetentionLoop | None = None
        if retention.enabled:
            self.retention = RetentionLoop(
                self.store,
                log_days=retention.log_days,
                blocked_days=retention.blocked_days,
                interval=settings.retention_interval,
            )
        self.started = False

    def plan_reloaded(self, trigger: str, previous: int) -> None:
        """Record a plan reload in the audit log (the target is the new version)."""
        plan = self.plan.plan
        detail = {"trigger": trigger, "plan": plan.name, "previous_version": str(previous)}
        record(self.store, "gateway", "plan_reloaded", str(plan.version), detail)

    def _written(self, count: int) -> None:
        self.backlog.added(count)
        if self.router is not None:
            self.router.wake()

    def start(self) -> None:
        """Start the writer, the backlog poller, (unless disabled) the routers and the monitors,
        and the retention pass when a retention is configured."""
        self.writer.start()
        self.backlog.start()
        if self.router is not None and self.settings.router:
            self.router.start()
        if self.monitor is not None:
            self.monitor.start()
        if self.retention is not None:
            self.retention.start()
        self.started = True
        log.info(
            "gateway started",
            extra={
                "fields": {
                    "plan": self.plan.plan.name,
                    "plan_version": self.plan.plan.version,
                    "store": self.store.url,
                    "sources": sorted(self.keys.sources),
                    "destinations": sorted(self.router.destinations) if self.router else [],
                    "routing": bool(self.router and self.settings.router),
                    "retention_log_days": self.settings.retention.log_days,
                    "retention_blocked_days": self.settings.retention.blocked_days,
                }
            },
        )

    def stop(self) -> None:
        """Flush the writer, stop the routers, close the store."""
        self.started = False
        self.preparer.shutdown(wait=True)
        self.writer.stop()
        self.backlog.stop()
        if self.monitor is not None:
            self.monitor.stop()
        if self.retention is not None:
            self.retention.stop()
        if self.router is not None:
            self.router.close()
        if self._owns_store:
            self.store.close()
        log.info("gateway stopped", extra={"fields": {"messages": self.writer.stats.messages}})
