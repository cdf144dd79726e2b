"""Monitors running inside `trackwell serve`: evaluate on a timer, alert, keep the latest result."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from trackwell.monitor.alerts import Alerter, build_channels, parse_alerts, state_path
from trackwell.monitor.context import MonitorStore
from trackwell.monitor.runner import Evaluation, evaluate, load_options
from trackwell.quality.compiled import CompiledPlan

log = logging.getLogger("trackwell.monitor")
DEFAULT_INTERVAL_SECONDS = 60.0


class LoopStore(MonitorStore, Protocol):
    """What the loop needs of the store: the monitors' reads, and its URL (where alert state is
    kept beside a SQLite file)."""

    url: str


class MonitorLoop:
    """A thread that evaluates every monitor each interval and hands findings to the alerter."""

    def __init__(
        self,
        store: LoopStore,
        plan: Callable[[], CompiledPlan],
        *,
        monitors: Mapping[str, Any],
        alerts: Mapping[str, Any],
        destinations: Mapping[str, Mapping[str, Any]],
        base_dir: Path,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.plan = plan
        self.interval = interval
        self.options = load_options(monitors)
        settings = parse_alerts(alerts)
        self.channels = build_channels(settings, os.environ if environ is None else environ)
        self.alerter = Alerter(settings, self.channels, state_path(settings, store.url, base_dir))
        self.destinations = destinations
        self.base_dir = base_dir
        self.latest: Evaluation | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Evaluation:
        """One evaluation, alerted on; kept as `latest` for the console and /metrics."""
        evaluation = evaluate(
            self.store,
            self.plan(),
            options=self.options,
            destinations=self.destinations,
            base_dir=self.base_dir,
        )
        if self.channels:
            self.alerter.process(evaluation)
        self.latest = evaluation
        return evaluation

    def start(self) -> None:
        """Evaluate now and then every interval, in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="trackwell-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current evaluation; close the alert channels."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        for channel in self.channels:
            channel.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failing round must not stop the next one, nor the gateway
                log.exception("monitor round failed")
            self._stop.wait(self.interval)
