"""Evaluate every enabled monitor over a store and a plan at a given time."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackwell.monitor import (
    blocked,
    budget,
    delivery,
    identify,
    parity,
    sensitive,
    timestamps,
    unplanned,
    volume,
    workflows,
)
from trackwell.monitor.context import Context, Monitor, MonitorStore, Reads
from trackwell.monitor.findings import Finding, ordered
from trackwell.monitor.settings import monitor_options
from trackwell.quality.compiled import CompiledPlan

log = logging.getLogger("trackwell.monitor")

MONITORS: tuple[Monitor, ...] = (
    volume.DROP,
    volume.SPIKE,
    unplanned.MONITOR,
    parity.MONITOR,
    delivery.LAG,
    delivery.DEAD,
    identify.MONITOR,
    timestamps.MONITOR,
    sensitive.MONITOR,
    budget.MONITOR,
    blocked.MONITOR,
    workflows.MONITOR,
)
BY_NAME = {m.name: m for m in MONITORS}


def load_options(tables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every monitor's thresholds from the `[monitors]` tables (raises ConfigError)."""
    options = monitor_options(tables, {m.name: m.defaults for m in MONITORS})
    for monitor in MONITORS:
        if monitor.validate is not None:
            monitor.validate(options[monitor.name])
    return options


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation: findings, the monitors that ran, and the ones that failed."""

    at_ms: int
    findings: list[Finding]
    evaluated: tuple[str, ...]
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (`trackwell monitor --json`)."""
        return {
            "at": self.at_ms,
            "findings": [f.to_dict() for f in self.findings],
            "monitors": list(self.evaluated),
            "errors": self.errors,
            "seconds": round(self.seconds, 4),
        }


def evaluate(
    store: MonitorStore,
    plan: CompiledPlan,
    *,
    now_ms: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    destinations: Mapping[str, Mapping[str, Any]] | None = None,
    base_dir: Path = Path(),
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Evaluation:
    """Run each enabled monitor; one that fails is reported in `errors`, the rest still run."""
    started = time.perf_counter()
    at = now_ms if now_ms is not None else int(clock() * 1000)
    resolved = load_options({}) if options is None else options
    reads = Reads(store, at)
    findings: list[Finding] = []
    evaluated: list[str] = []
    errors: dict[str, str] = {}
    for monitor in MONITORS:
        chosen = resolved.get(monitor.name, {"enabled": True, **monitor.defaults})
        if not chosen.get("enabled", True):
            continue
        context = Context(
            reads,
            plan,
            at,
            chosen,
            destinations or {},
            base_dir,
            os.environ if environ is None else environ,
        )
        try:
            findings.extend(monitor.run(context))
        except Exception as exc:  # one broken monitor must not silence the others
            log.exception("monitor %s failed", monitor.name)
            errors[monitor.name] = f"{type(exc).__name__}: {exc}"
            continue
        evaluated.append(monitor.name)
    return Evaluation(
        at, ordered(findings), tuple(evaluated), errors, time.perf_counter() - started
    )
