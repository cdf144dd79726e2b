"""The person page's "why" panel: the diagnosis `trackwell why --json` prints, with links."""

from __future__ import annotations

from typing import Any

from trackwell.console.context import Console
from trackwell.monitor.why import why

# Diagnoses that say nothing is wrong (drawn green; everything else is a finding).
FINE = frozenset({"ok"})
MAX_EVENT = 200


def why_view(c: Console, key: str, event: str | None) -> dict[str, Any]:
    """The diagnosis of one person, optionally about one event: each finding with its code, its
    words, and the message and destination it is about (the page links them)."""
    compiled = c.plans.compiled()
    report = why(
        c.store,
        compiled,
        key,
        now_ms=c.now_ms(),
        event=event,
        destinations=c.destinations,
    )
    findings = [{**d.to_dict(), "fine": d.code in FINE} for d in report.diagnoses]
    return {
        "event": event,
        "diagnosis": findings,
        "problems": sum(not f["fine"] for f in findings),
        "planned_events": sorted(compiled.plan.events),
    }


def asked_event(value: str | None) -> str | None:
    """The event a person page is asked about (`?event=`), trimmed; None when none is."""
    text = (value or "").strip()[:MAX_EVENT]
    return text or None
