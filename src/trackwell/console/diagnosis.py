"""The person page's "why" panel: the document `trackwell why --json` prints, with links."""

from __future__ import annotations

from typing import Any

from trackwell.console.context import Console
from trackwell.monitor.why import why, why_document
from trackwell.monitor.why_outcomes import FAILED

# Diagnoses that say nothing is wrong (drawn green; everything else is a finding).
FINE = frozenset({"ok", "journey_triggered"})
MAX_EVENT = 200


def fine(code: str) -> bool:
    """Whether a diagnosis code reports something that went as expected."""
    if code.startswith("message_"):
        return code.removeprefix("message_") not in FAILED
    return code in FINE


def why_view(c: Console, key: str, event: str | None) -> dict[str, Any]:
    """The `why` document of one person (optionally about one event), as `trackwell why --json`
    prints it, and what the panel adds: each finding marked fine or not, Customer.io's reports
    with the message that triggered them, and the planned events to ask about."""
    compiled = c.plans.compiled()
    report = why(
        c.store, compiled, key, now_ms=c.now_ms(), event=event, destinations=c.destinations
    )
    document = why_document(report)
    findings = [{**d, "fine": fine(d["code"])} for d in document["diagnosis"]]
    reports = [
        {**r, "messageId": e.get("messageId"), "label": e.get("event") or e.get("name")}
        for e in document["events"]
        for r in e.get("reports", ())
    ]
    reports.extend({**r, "messageId": None, "label": None} for r in document["otherReports"])
    return {
        "document": document,
        "event": event,
        "diagnosis": findings,
        "problems": sum(not f["fine"] for f in findings),
        "reports": reports,
        "reporting": document["reporting"],
        "planned_events": sorted(compiled.plan.events),
    }


def asked_event(value: str | None) -> str | None:
    """The event a person page is asked about (`?event=`), trimmed; None when none is."""
    text = (value or "").strip()[:MAX_EVENT]
    return text or None
