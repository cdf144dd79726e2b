"""The JSON form of a person's timeline: one shape for `trackwell timeline --json`, `trackwell
why --json` and the console's `/api/people/KEY`."""

from __future__ import annotations

from typing import Any

from trackwell.core.time import iso_seconds
from trackwell.store.base import MergeRecord, Profile, Timeline, TimelineEntry


def iso_from_ms(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO-8601 UTC to the second (`2026-03-02T14:00:05Z`)."""
    return None if ms is None else iso_seconds(ms)


def profile_document(profile: Profile | None) -> dict[str, Any] | None:
    """The JSON form of a profile: traits, when each was set, anonymous ids, first and last seen."""
    if profile is None:
        return None
    return {
        "userId": profile.user_id,
        "traits": profile.traits,
        "traitsSetAt": {k: iso_from_ms(v) for k, v in profile.trait_times.items()},
        "anonymousIds": list(profile.anonymous_ids),
        "firstSeen": iso_from_ms(profile.first_seen_ms),
        "lastSeen": iso_from_ms(profile.last_seen_ms),
    }


def merge_document(merge: MergeRecord) -> dict[str, Any]:
    """The JSON form of one identity merge (or refused merge)."""
    return {
        "at": iso_from_ms(merge.at_ms),
        "kind": merge.kind,
        "anonymousId": merge.anonymous_id,
        "userId": merge.user_id,
        "messageId": merge.message_id,
        "outcome": merge.outcome,
        "detail": merge.detail,
    }


def event_document(entry: TimelineEntry) -> dict[str, Any]:
    """The JSON form of one message on a timeline: what, when, verdict and deliveries."""
    message = entry.message
    item: dict[str, Any] = {"messageId": message.get("messageId"), "type": message.get("type")}
    if message.get("type") == "track":
        item["event"] = message.get("event")
    else:
        item["name"] = message.get("name")
    item.update(
        {
            "timestamp": message.get("timestamp"),
            "receivedAt": message.get("receivedAt"),
            "verdict": entry.verdict,
            "violations": entry.violations,
            "deliveries": {
                name: delivery_document(state) for name, state in entry.deliveries.items()
            },
        }
    )
    return item


def delivery_document(state: dict[str, Any]) -> dict[str, Any]:
    """One destination's state of a message: status, attempts, the tool's last answer, and when
    it was recorded (`at`; null when it went on its first attempt, which leaves no record)."""
    document = {k: v for k, v in state.items() if k != "at_ms"}
    document["at"] = iso_from_ms(state.get("at_ms"))
    return document


def timeline_document(timeline: Timeline) -> dict[str, Any]:
    """A person's timeline as JSON: profile, anonymous ids, merges and events in action order."""
    return {
        "profile": profile_document(timeline.profile),
        "anonymousIds": list(timeline.anonymous_ids),
        "merges": [merge_document(m) for m in timeline.merges],
        "events": [event_document(e) for e in timeline.entries],
    }
