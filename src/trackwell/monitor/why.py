"""`why`: one person's history, and in plain words why an event did not do what was expected."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackwell.core.messages import MessageError, parse_time
from trackwell.core.time import to_ms
from trackwell.monitor.context import duration, time_label
from trackwell.plan import naming
from trackwell.quality.compiled import CompiledPlan
from trackwell.store.base import Timeline, TimelineEntry, Timelines

# Customer.io starts campaigns only from events whose action time is less than this old.
CUSTOMERIO_WINDOW_MS = 72 * 3_600_000
# A message still pending after this long means the router is not keeping up, or not running.
STUCK_PENDING_MS = 5 * 60_000


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One finding about the person's events, in plain words."""

    code: str
    message: str
    message_id: str | None = None
    destination: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            k: v
            for k, v in (
                ("code", self.code),
                ("message", self.message),
                ("messageId", self.message_id),
                ("destination", self.destination),
            )
            if v is not None
        }


@dataclass
class WhyReport:
    """The person's timeline (filtered) and the diagnosis."""

    person: str
    event: str | None
    timeline: Timeline
    entries: list[TimelineEntry]
    diagnoses: list[Diagnosis] = field(default_factory=list)


def why(
    store: Timelines,
    plan: CompiledPlan,
    person: str,
    *,
    now_ms: int,
    event: str | None = None,
    since_ms: int | None = None,
    destinations: Mapping[str, Mapping[str, Any]] | None = None,
) -> WhyReport:
    """Look at one person (user id or anonymous id), optionally about one event."""
    timeline = store.timeline(person)
    entries = [
        e for e in timeline.entries if since_ms is None or (_ms(e, "receivedAt") or 0) >= since_ms
    ]
    report = WhyReport(person, event, timeline, entries)
    if timeline.profile is None and not timeline.entries:
        report.diagnoses.append(
            Diagnosis(
                "unknown_person",
                f"No message with userId or anonymousId {person!r} has "
                "arrived: check the id the sender uses (and that it sends to trackwell).",
            )
        )
        return report
    checker = _Checker(plan, timeline, now_ms, destinations or {})
    if event is not None:
        report.diagnoses = checker.about_event(entries, event, since_ms)
    else:
        report.diagnoses = checker.overall(entries)
    return report


class _Checker:
    """The diagnoses, with what they all need at hand."""

    def __init__(
        self,
        plan: CompiledPlan,
        timeline: Timeline,
        now_ms: int,
        destinations: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.plan = plan
        self.timeline = timeline
        self.now_ms = now_ms
        self.destinations = destinations
        # Identify calls in log order: what each destination had been told before an event.
        self.identifies = [
            e
            for e in timeline.entries
            if e.message.get("type") == "identify" and e.verdict != "blocked" and e.seq is not None
        ]

    def about_event(
        self, entries: Sequence[TimelineEntry], event: str, since_ms: int | None
    ) -> list[Diagnosis]:
        """Why `event` did or did not arrive and reach the tools."""
        found: list[Diagnosis] = []
        if event not in self.plan.events:
            meant = self.plan.suggest_event(event)
            hint = f"; did you mean '{meant}'?" if meant else ""
            found.append(Diagnosis("not_planned", f"'{event}' is not a planned event{hint}"))
        matching = [e for e in entries if _name(e) == event and e.message.get("type") == "track"]
        found.extend(self._other_names(entries, event))
        if not matching:
            window = f" since {time_label(since_ms)}" if since_ms is not None else ""
            found.insert(
                0, Diagnosis("never_arrived", f"'{event}' never arrived for this person{window}.")
            )
            return found
        for entry in reversed(matching[-5:]):  # the most recent few
            found.extend(self.entry(entry))
        return found

    def overall(self, entries: Sequence[TimelineEntry]) -> list[Diagnosis]:
        """What is wrong with this person's data, without a particular event in mind."""
        found: list[Diagnosis] = []
        profile = self.timeline.profile
        if profile is None or not profile.traits:
            found.append(
                Diagnosis(
                    "no_profile",
                    "No identify with traits has arrived for this "
                    "person: the tools know them without an email or a plan.",
                )
            )
        else:
            missing = [
                t.name for t in self.plan.plan.traits if t.required and t.name not in profile.traits
            ]
            if missing:
                found.append(
                    Diagnosis(
                        "missing_trait",
                        f"The profile lacks required trait(s) {', '.join(missing)}.",
                    )
                )
        blocked = Counter(_codes(e) for e in entries if e.verdict == "blocked")
        for codes, number in blocked.most_common(3):
            found.append(Diagnosis("blocked", f"{number} message(s) blocked ({codes})."))
        for entry in reversed(entries[-200:]):
            found.extend(d for d in self._delivery(entry) if d.code != "delivered_before_profile")
        found.extend(self._early(entries))
        return found

    def entry(self, entry: TimelineEntry) -> list[Diagnosis]:
        """Everything about one stored message of the event."""
        message_id = entry.message.get("messageId")
        when = _label(_ms(entry, "receivedAt"))
        if entry.verdict == "blocked":
            reasons = "; ".join(v.get("message", v.get("code", "")) for v in entry.violations)
            return [Diagnosis("blocked", f"Arrived {when} and was blocked: {reasons}.", message_id)]
        found = self._traits(entry)
        found.extend(self._stale(entry))
        found.extend(self._delivery(entry))
        if not found:
            places = ", ".join(sorted(entry.deliveries)) or "no destination"
            found.append(
                Diagnosis(
                    "ok",
                    f"Arrived {when}, {entry.verdict}, and went to {places} "
                    "without a problem trackwell can see.",
                    message_id,
                )
            )
        return found

    def _other_names(self, entries: Sequence[TimelineEntry], event: str) -> list[Diagnosis]:
        names: Counter[str] = Counter()
        verdicts: dict[str, str] = {}
        for entry in entries:
            name = _name(entry)
            if entry.message.get("type") != "track" or not name or name == event:
                continue
            suggested = any(v.get("suggestion") == event for v in entry.violations)
            if suggested or naming.confusion(name, event) is not None:
                names[name] += 1
                verdicts[name] = entry.verdict
        found = []
        for name, number in names.most_common():
            how = naming.confusion(name, event)
            why = f" ({how.explanation})" if how else ""
            found.append(
                Diagnosis(
                    "other_name",
                    f"It arrived as '{name}'{why} {number} time(s), "
                    f"{verdicts[name]}: fix the name in the sender.",
                )
            )
        return found

    def _traits(self, entry: TimelineEntry) -> list[Diagnosis]:
        known: set[str] = set()
        for identify in self.identifies:
            if identify.seq is not None and entry.seq is not None and identify.seq < entry.seq:
                known.update((identify.message.get("traits") or {}).keys())
        missing = [t.name for t in self.plan.plan.traits if t.required and t.name not in known]
        if not missing:
            return []
        later = [i for i in self.identifies if entry.seq is not None and (i.seq or 0) > entry.seq]
        after = f" (an identify came later, {_label(_ms(later[0], 'receivedAt'))})" if later else ""
        return [
            Diagnosis(
                "missing_trait",
                f"Required trait(s) {', '.join(missing)} were not set "
                f"when it arrived{after}: workflows filtering on them skipped it.",
                entry.message.get("messageId"),
            )
        ]

    def _stale(self, entry: TimelineEntry) -> list[Diagnosis]:
        action, received = _ms(entry, "timestamp"), _ms(entry, "receivedAt")
        if action is None or received is None:
            return []
        found = []
        for destination, state in entry.deliveries.items():
            if self._kind(destination) != "customerio":
                continue
            status = state.get("status")
            if received - action > CUSTOMERIO_WINDOW_MS:
                age = duration((received - action) / 1000)
                what = (
                    f"Its action time was {age} old when it arrived, so {destination} got it late"
                )
            elif status != "delivered" and self.now_ms - action > CUSTOMERIO_WINDOW_MS:
                age = duration((self.now_ms - action) / 1000)
                what = f"Its action time is {age} old and {destination} still has it {status}"
            else:
                continue
            found.append(
                Diagnosis(
                    "stale_for_customerio",
                    f"{what}: Customer.io does not start campaigns from events over 72 hours old.",
                    entry.message.get("messageId"),
                    destination,
                )
            )
        return found

    def _delivery(self, entry: TimelineEntry) -> list[Diagnosis]:
        message_id = entry.message.get("messageId")
        found = []
        for destination, state in sorted(entry.deliveries.items()):
            text = _delivery_text(state, destination, message_id, entry, self.now_ms)
            if text is not None:
                found.append(Diagnosis(text[0], text[1], message_id, destination))
            elif (
                state.get("status") == "delivered"
                and entry.message.get("type") == "track"
                and not self._identified_before(entry)
            ):
                found.append(
                    Diagnosis(
                        "delivered_before_profile",
                        f"{destination} got it "
                        "before any identify of this person: the tool made a "
                        "profile without traits, and campaigns keyed on them "
                        "skipped it.",
                        message_id,
                        destination,
                    )
                )
        return found

    def _early(self, entries: Sequence[TimelineEntry]) -> list[Diagnosis]:
        early = [
            e
            for e in entries
            if e.message.get("type") == "track"
            and not self._identified_before(e)
            and any(s.get("status") == "delivered" for s in e.deliveries.values())
        ]
        if not early:
            return []
        return [
            Diagnosis(
                "delivered_before_profile",
                f"{len(early)} event(s) reached the tools "
                "before this person's first identify: identify at signup, before tracking.",
            )
        ]

    def _identified_before(self, entry: TimelineEntry) -> bool:
        return any(
            i.seq is not None
            and entry.seq is not None
            and i.seq < entry.seq
            and i.message.get("traits")
            for i in self.identifies
        )

    def _kind(self, destination: str) -> str:
        return str(self.destinations.get(destination, {}).get("type") or destination)


def _delivery_text(
    state: Mapping[str, Any], destination: str, message_id: Any, entry: TimelineEntry, now_ms: int
) -> tuple[str, str] | None:
    status, error = state.get("status"), state.get("error")
    answer = f": {error}" if error else ""
    if status == "dead":
        return "delivery_dead", (
            f"{destination} refused it for good{answer}. Fix the cause, then "
            f"`trackwell replay --destination {destination} --message-id {message_id}`."
        )
    if status == "captured":
        return "delivery_captured", (
            f"{destination} is in capture mode: the message was recorded, never sent to the "
            "tool. Give it credentials, then "
            f"`trackwell replay --destination {destination} --captured`."
        )
    if status == "no_consent":
        # The detail names the categories and where the answer came from (message or trait).
        why = error or "no consent"
        return "delivery_no_consent", (
            f"not delivered to {destination}: {why}. Nothing is sent there until the person "
            "consents; a message is decided when it is routed, so a later consent does not send "
            "this one (`trackwell replay --destination "
            f"{destination} --message-id {message_id}` decides it again)."
        )
    if status == "held":
        return "delivery_held", (
            f"held for {destination}: {error or 'no consent information'}. It is released when "
            "the person's consent trait arrives, or decided again by "
            f"`trackwell replay --destination {destination} --held`."
        )
    if status == "retry":
        return (
            "delivery_retrying",
            f"{destination}: retrying after {state.get('attempts', 0)} failed attempt(s){answer}.",
        )
    if status == "waiting":
        return (
            "delivery_waiting",
            f"{destination}: waiting behind an earlier message of this person that is retrying.",
        )
    received = _ms(entry, "receivedAt")
    if status == "pending" and received is not None and now_ms - received > STUCK_PENDING_MS:
        return "delivery_stuck", (
            f"{destination}: not sent {duration((now_ms - received) / 1000)} after "
            "it arrived: is `trackwell route` (or serve) running?"
        )
    return None


def _name(entry: TimelineEntry) -> str:
    message = entry.message
    return str(message.get("event") or message.get("name") or "")


def _codes(entry: TimelineEntry) -> str:
    return ", ".join(sorted({str(v.get("code")) for v in entry.violations})) or "no reason kept"


def _ms(entry: TimelineEntry, key: str) -> int | None:
    value = entry.message.get(key)
    if value is None:
        return None
    try:
        return to_ms(parse_time(value, key))
    except MessageError:
        return None


def _label(ms: int | None) -> str:
    return time_label(ms) if ms is not None else "at an unknown time"
