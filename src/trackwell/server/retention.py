"""Retention inside `trackwell serve`: a pass when the gateway starts, then every hour."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from trackwell.core.time import iso_seconds, now_ms
from trackwell.store import Retention, RetentionReport

log = logging.getLogger("trackwell.retention")
INTERVAL_SECONDS = 3600.0


class RetentionLoop:
    """A daemon thread that applies the configured retention; a failed pass is logged and the
    next one runs on time (a store that is down must not take the gateway with it)."""

    def __init__(
        self,
        store: Retention,
        *,
        log_days: int | None,
        blocked_days: int | None,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.log_days = log_days
        self.blocked_days = blocked_days
        self.interval = interval
        self.clock = clock
        self.latest: RetentionReport | None = None
        self.passes = 0  # passes that completed
        self.failures = 0  # passes that raised
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> RetentionReport:
        """One pass; its counts are logged (never a row's contents) and kept as `latest`."""
        report = self.store.apply_retention(
            log_days=self.log_days, blocked_days=self.blocked_days, now_ms=self.clock()
        )
        self.latest = report
        self.passes += 1
        log.info("retention pass", extra={"fields": fields(report)})
        return report

    def start(self) -> None:
        """Run a pass now and then every interval, in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="trackwell-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the timer; a pass under way ends at its next transaction once the store closes
        (each transaction is whole: nothing is left half-removed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failing pass must not stop the next one, nor the gateway
                if self._stop.is_set():
                    log.info("retention pass stopped with the gateway")
                    return
                self.failures += 1
                log.exception("retention pass failed")
            self._stop.wait(self.interval)


def fields(report: RetentionReport) -> dict[str, object]:
    """A pass's counts and cut-offs for a log line or a JSON document (no row contents)."""
    return {
        "log_cutoff": _iso(report.log_cutoff_ms),
        "blocked_cutoff": _iso(report.blocked_cutoff_ms),
        "log_rows": report.log_rows,
        "blocked_rows": report.blocked_rows,
        "delivery_rows": report.delivery_rows,
        "partitions_dropped": list(report.partitions_dropped),
    }


def _iso(ms: int | None) -> str | None:
    return iso_seconds(ms) if ms is not None else None
