"""Watching the data: monitors over the rollups, alerts, the schema audit, and `why`."""

from trackwell.monitor.findings import Finding, Severity
from trackwell.monitor.runner import MONITORS, Evaluation, evaluate, load_options

__all__ = ["MONITORS", "Evaluation", "Finding", "Severity", "evaluate", "load_options"]
