"""What every console page reads from: the store, the plan in force, the clock and the renderer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import Request

from trackwell.console.auth import Guard
from trackwell.console.templating import Renderer
from trackwell.core.privacy import PrivacyRequest, RequestKind
from trackwell.core.time import DAY_MS
from trackwell.monitor.runner import Evaluation
from trackwell.plan import Plan
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store.base import (
    AuditLog,
    Browsing,
    Privacy,
    Replays,
    Reports,
    Rollups,
    Timelines,
)


class PlanCache:
    """The provider's plan, compiled once per plan object (a reload hands over a new one)."""

    def __init__(self, provider: Callable[[], Plan]) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._plan: Plan | None = None
        self._compiled: CompiledPlan | None = None

    def plan(self) -> Plan:
        """The plan in force."""
        return self.provider()

    def compiled(self) -> CompiledPlan:
        """The plan in force, compiled."""
        plan = self.provider()
        with self._lock:
            if self._compiled is None or plan is not self._plan:
                self._plan, self._compiled = plan, compile_plan(plan)
            return self._compiled


@dataclass
class Cached:
    """A value worth keeping a little while (monitor evaluations cost the most of any page)."""

    seconds: float
    _value: Any = None
    _at: float = float("-inf")
    _key: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Any, make: Callable[[], Any], now: float) -> Any:
        """The kept value for `key`, or a fresh one when it is older than `seconds`."""
        with self._lock:
            if self._key != key or now - self._at > self.seconds:
                self._value, self._at, self._key = make(), now, key
            return self._value


class ConsoleStore(Timelines, Browsing, Rollups, Replays, Privacy, AuditLog, Reports, Protocol):
    """The store's roles the console reads through: people's timelines, browsing, the rollups
    for charts and monitors, replay, privacy requests, the audit log and the tools' outcome
    reports (replays, requests made
    through the privacy service and audit entries are what it writes); never the log or the
    queues' work, which belong to the gateway's writer and router."""


class PrivacyDesk(Protocol):
    """Where privacy requests are made and read (`trackwell.pipeline.privacy.PrivacyService`):
    the console and the gateway's regulations API hand a person over and show the receipts."""

    def request(
        self, kind: RequestKind, person: str, *, actor: str, now_ms: int | None = None
    ) -> PrivacyRequest:
        """Erase, suppress or unsuppress the person an identifier names; the request made."""
        ...

    def status(self, request_id: str) -> PrivacyRequest | None:
        """One request with its per-destination receipts."""
        ...

    def requests(self, limit: int = 100) -> list[PrivacyRequest]:
        """The newest requests first."""
        ...


@dataclass
class Console:
    """One console app's state, shared by its routes."""

    store: ConsoleStore
    plans: PlanCache
    guard: Guard
    renderer: Renderer
    monitor_options: Mapping[str, Mapping[str, Any]] | None = None
    # The gateway's monitor loop's latest round (MonitorLoop.latest), when it runs one.
    latest_evaluation: Callable[[], Evaluation | None] | None = None
    destinations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    base_dir: Path = Path()
    # Makes erase, suppress and unsuppress requests (the gateway's own service when mounted there).
    privacy: PrivacyDesk | None = None
    clock: Callable[[], float] = time.time
    quality_cache: Cached = field(default_factory=lambda: Cached(60.0))
    plan_cache: Cached = field(default_factory=lambda: Cached(3600.0))
    # Whether each destination can send (its table and the environment's credentials).
    sending_cache: Cached = field(default_factory=lambda: Cached(60.0))

    def now_ms(self) -> int:
        """Now, in milliseconds since the epoch."""
        return int(self.clock() * 1000)

    def today(self) -> int:
        """Today, in days since the epoch (UTC)."""
        return self.now_ms() // DAY_MS


def console(request: Request) -> Console:
    """The console a request belongs to."""
    found: Console = request.app.state.console
    return found
