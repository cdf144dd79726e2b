"""Delivery health in honest words: capture mode, missing credentials, a stalled backlog, errors."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from trackwell.store.base import DeliveryError

# Nothing delivered and the oldest pending message older than this: the backlog is stuck.
STALLED_SECONDS = 300.0


def configuration(name: str, table: Mapping[str, Any] | None) -> str | None:
    """What the destination's trackwell.toml table says about sending: "capture" when it asks
    for capture mode, "no_credentials" when this process's environment lacks a credential it
    needs (a gateway then registers it in capture mode), None when it can send (or the console
    does not know its table)."""
    if not table:
        return None
    if table.get("mode") == "capture":
        return "capture"
    from trackwell.destinations.registry import from_settings

    try:
        built = from_settings(name, table, os.environ, sending=True)
    except ValueError as exc:
        return "no_credentials" if "is not set" in str(exc) else None
    built.close()
    return None


def health(queue: Mapping[str, Any], config: str | None) -> dict[str, Any]:
    """The destination's state in one word (`level`) and why, from its queue and configuration."""
    backlog = queue["pending"] + queue["retry"] + queue["waiting"] + queue["in_flight"]
    oldest = queue["oldest_pending_seconds"] or 0.0
    reasons: list[str] = []
    if config == "capture":
        level = "capture"
        reasons.append('capture mode (mode = "capture"): requests are recorded, nothing is sent')
    elif config == "no_credentials":
        level = "capture"
        reasons.append("no credentials in the environment: capture mode, nothing is sent")
    elif queue["captured"] and not queue["delivered"]:
        level = "capture"
        reasons.append("everything so far was captured, nothing delivered: is it in capture mode?")
    elif not queue["delivered"] and backlog and oldest >= STALLED_SECONDS:
        level = "stalled"
        reasons.append(
            f"nothing delivered and {backlog:,} waiting (the oldest for {oldest:,.0f} s)"
        )
    elif queue["dead"] or queue["retry"]:
        level = "failing"
    else:
        level = "ok"
    if queue["dead"]:
        reasons.append(f"{queue['dead']:,} refused for good")
    if queue["retry"]:
        reasons.append(f"{queue['retry']:,} being retried")
    return {"level": level, "reasons": reasons}


def error_groups(errors: list[DeliveryError]) -> list[dict[str, Any]]:
    """Failed attempts grouped by the tool's answer, most frequent first, with the latest time."""
    counts: Counter[tuple[str, str]] = Counter()
    latest: dict[tuple[str, str], int] = {}
    for error in errors:
        key = (error.status, error.detail or "no response recorded")
        counts[key] += 1
        latest[key] = max(latest.get(key, error.at_ms), error.at_ms)
    return [
        {"status": status, "reason": reason, "count": number, "latest_ms": latest[(status, reason)]}
        for (status, reason), number in counts.most_common()
    ]
