"""`why`'s last half: what Customer.io did with a person's events, from the stored reports.

Customer.io's reporting webhooks report messages (sent, delivered, opened, bounced, ...), each
naming the event that triggered its journey (`trigger_event_id`, which the store ties back to
trackwell's message). So "a journey was triggered from this event" is known when any report
names the message as its trigger, and "none was" when none has, some time after Customer.io
acknowledged the event: there is no report of a journey that sent nothing yet, or of a trigger
filter that said no.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackwell.monitor.context import duration, time_label
from trackwell.monitor.diagnosis import Diagnosis
from trackwell.monitor.timeline import iso_from_ms
from trackwell.store.base import OutcomeReport, TimelineEntry

# A journey usually starts within seconds; after this long without a report, it did not.
DEFAULT_TRIGGER_MINUTES = 30
# Metrics that say the message did not reach the person, in the words a diagnosis uses.
FAILED: Mapping[str, str] = {
    "bounced": "bounced",
    "dropped": "was dropped by Customer.io (the person is suppressed or unsubscribed there)",
    "failed": "failed to send",
    "undeliverable": "was undeliverable",
}


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow named in the plan's `used_by`, and the Customer.io campaigns it maps to
    (`[workflows]` in trackwell.toml; empty when not mapped)."""

    name: str
    campaign_ids: frozenset[str] = field(default_factory=frozenset)
    named: bool = False  # a name the plan or `[workflows]` knows (not a bare campaign id)

    def matches(self, report: OutcomeReport) -> bool:
        """Whether a report is of this workflow (any report when no campaign is mapped)."""
        if not self.campaign_ids:
            return True
        return (report.campaign_id or report.broadcast_id or "") in self.campaign_ids


def report_document(report: OutcomeReport) -> dict[str, Any]:
    """The JSON form of one report: what the tool did, when, in which campaign and journey."""
    document: dict[str, Any] = {
        "source": report.source,
        "objectType": report.object_type,
        "metric": report.metric,
        "at": iso_from_ms(report.at_ms),
        "campaignId": report.campaign_id,
        "broadcastId": report.broadcast_id,
        "journeyId": report.journey_id,
        "actionId": report.action_id,
        "deliveryId": report.delivery_id,
        "triggerEventId": report.trigger_event_id,
        "triggerMessageId": report.trigger_message_id,
    }
    failure = failure_message(report)
    if failure is not None:
        document["failure"] = failure
    return document


def failure_message(report: OutcomeReport) -> str | None:
    """The tool's reason for a bounce, drop or failure (Customer.io: `data.failure_message`)."""
    data = report.body.get("data")
    value = data.get("failure_message") if isinstance(data, Mapping) else None
    return str(value) if value else None


def by_trigger(reports: Iterable[OutcomeReport]) -> dict[str, list[OutcomeReport]]:
    """messageId -> the reports that name it as their trigger, in time order."""
    found: dict[str, list[OutcomeReport]] = {}
    for report in sorted(reports, key=lambda r: (r.at_ms, r.received_ms)):
        if report.trigger_message_id is not None:
            found.setdefault(report.trigger_message_id, []).append(report)
    return found


def campaign_label(report: OutcomeReport) -> str:
    """`campaign 12`, `broadcast 3`, or `a message` when the report names neither."""
    if report.campaign_id:
        return f"campaign {report.campaign_id}"
    if report.broadcast_id:
        return f"broadcast {report.broadcast_id}"
    return "a message"


def delivered_at(entry: TimelineEntry, destination: str, received_ms: int | None) -> int | None:
    """When the destination acknowledged the message: the recorded time of a retried one, else
    its arrival (a first-attempt delivery leaves no record; the router sends within seconds)."""
    state = entry.deliveries.get(destination) or {}
    if state.get("status") != "delivered":
        return None
    at = state.get("at_ms")
    return int(at) if at is not None else received_ms


def outcome_diagnoses(
    entry: TimelineEntry,
    reports: Sequence[OutcomeReport],
    *,
    destinations: Collection[str],
    received_ms: int | None,
    now_ms: int,
    trigger_minutes: int,
    feeds: Sequence[str],
) -> list[Diagnosis]:
    """What Customer.io did with one delivered event: the journeys it triggered and how their
    messages went, or that none was triggered within `trigger_minutes` of its delivery.

    `destinations` are the Customer.io destinations; `feeds` the workflows the plan says the
    event feeds (`used_by`)."""
    message_id = entry.message.get("messageId")
    name = entry.message.get("event") or entry.message.get("name")
    found: list[Diagnosis] = []
    if reports:
        journeys: dict[str, list[OutcomeReport]] = {}
        for report in reports:
            journeys.setdefault(campaign_label(report), []).append(report)
        for label, items in journeys.items():
            metrics = ", ".join(dict.fromkeys(f"{r.object_type} {r.metric}" for r in items))
            failed = [r for r in items if r.metric in FAILED]
            if failed:
                last = failed[-1]
                reason = failure_message(last)
                found.append(
                    Diagnosis(
                        f"message_{last.metric}",
                        f"Customer.io triggered {label} from it, and its {last.object_type} "
                        f"{FAILED[last.metric]} ({time_label(last.at_ms)})"
                        + (f": {reason}" if reason else "")
                        + f". Reported: {metrics}.",
                        message_id,
                    )
                )
            else:
                found.append(
                    Diagnosis(
                        "journey_triggered",
                        f"Customer.io triggered {label} from it ({time_label(items[0].at_ms)}); "
                        f"reported: {metrics}.",
                        message_id,
                    )
                )
        return found
    for destination in sorted(destinations):
        acked = delivered_at(entry, destination, received_ms)
        if acked is None or now_ms - acked < trigger_minutes * 60_000:
            continue
        feeding = (
            f"it feeds {', '.join(repr(w) for w in feeds)} (plan `used_by`), "
            if feeds
            else "the plan names no workflow it feeds, "
        )
        found.append(
            Diagnosis(
                "journey_not_triggered",
                f"No journey triggered from this event within {trigger_minutes} minutes: "
                f"{destination} accepted '{name}' {duration((now_ms - acked) / 1000)} ago and "
                f"{feeding}but no Customer.io report names it as a trigger. The event reached "
                "Customer.io, so look at the workflow's own conditions: its trigger (the event "
                "name and property filters), its frequency (a person enters once, or once per "
                "period), and the person's attributes and segments when the event arrived.",
                message_id,
                destination,
            )
        )
    return found
