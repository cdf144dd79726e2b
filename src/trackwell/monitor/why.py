"""`why`: one person's history, and in plain words why an event did not do what was expected."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from trackwell.core.messages import MessageError, parse_time
from trackwell.core.privacy import MarkKind
from trackwell.core.time import DAY_MS, to_ms
from trackwell.monitor.context import duration, time_label
from trackwell.monitor.diagnosis import Diagnosis
from trackwell.monitor.timeline import event_document, timeline_document
from trackwell.monitor.why_outcomes import (
    DEFAULT_TRIGGER_MINUTES,
    Workflow,
    by_trigger,
    outcome_diagnoses,
    report_document,
)
from trackwell.plan import naming
from trackwell.quality.compiled import CompiledPlan
from trackwell.store.base import (
    MergeRecord,
    OutcomeReport,
    Reports,
    Timeline,
    TimelineEntry,
    Timelines,
)

__all__ = ["Diagnosis", "WhyReport", "WhyStore", "resolve_workflow", "why", "why_document"]

# Customer.io starts campaigns only from events whose action time is less than this old.
CUSTOMERIO_WINDOW_MS = 72 * 3_600_000
# How the router words a message it did not send because its person is erased or suppressed.
WITHHELD = "withheld: "
# The person's reports read at most, and the messages whose reports are looked up one by one.
REPORTS_READ = 1000
REPORTS_LOOKUPS = 50
# Without any Customer.io report in this many days, the reporting webhook is not set up.
REPORTING_DAYS = 30
# A message still pending after this long means the router is not keeping up, or not running.
STUCK_PENDING_MS = 5 * 60_000


class WhyStore(Timelines, Reports, Protocol):
    """What `why` reads: the person's timeline, the tools' reports, and the privacy marks."""

    def screen(self, messages: Sequence[dict[str, Any]]) -> list[MarkKind | None]:
        """Per wire-form message: whether its person is erased or suppressed."""
        ...


@dataclass
class WhyReport:
    """The person's timeline (filtered), what the tools reported, and the diagnosis."""

    person: str
    event: str | None
    timeline: Timeline
    entries: list[TimelineEntry]
    diagnoses: list[Diagnosis] = field(default_factory=list)
    workflow: Workflow | None = None
    # messageId -> the reports that name it as their trigger, in time order.
    reports: dict[str, list[OutcomeReport]] = field(default_factory=dict)
    # The person's reports that name no message of theirs (a broadcast, an API-triggered send).
    other_reports: list[OutcomeReport] = field(default_factory=list)
    reporting: bool = False  # any Customer.io report arrived in the last REPORTING_DAYS
    # Without reports, events this answer looked at reached Customer.io: what it did is unknown.
    unreported: bool = False
    trigger_minutes: int = DEFAULT_TRIGGER_MINUTES


def why(
    store: WhyStore,
    plan: CompiledPlan,
    person: str,
    *,
    now_ms: int,
    event: str | None = None,
    workflow: Workflow | None = None,
    since_ms: int | None = None,
    destinations: Mapping[str, Mapping[str, Any]] | None = None,
    trigger_minutes: int = DEFAULT_TRIGGER_MINUTES,
) -> WhyReport:
    """Look at one person (user id or anonymous id), optionally about one event or the events
    that feed one workflow: the event as sent, its delivery, and what Customer.io did."""
    timeline = store.timeline(person)
    entries = [
        e for e in timeline.entries if since_ms is None or (_ms(e, "receivedAt") or 0) >= since_ms
    ]
    report = WhyReport(
        person, event, timeline, entries, workflow=workflow, trigger_minutes=trigger_minutes
    )
    mark = store.screen([{"userId": person}])[0]
    if timeline.profile is None and not timeline.entries:
        if mark is None:
            report.diagnoses.append(
                Diagnosis(
                    "unknown_person",
                    f"No message with userId or anonymousId {person!r} has "
                    "arrived: check the id the sender uses (and that it sends to trackwell).",
                )
            )
        else:
            report.diagnoses.append(_marked(mark))
        return report
    _read_reports(store, report, now_ms)
    checker = _Checker(plan, report, now_ms, destinations or {})
    events = [event] if event is not None else workflow_events(plan, workflow)
    if events is not None:
        report.diagnoses = [
            d for name in events for d in checker.about_event(entries, name, since_ms)
        ]
        if workflow is not None and not events:
            report.diagnoses.append(
                Diagnosis(
                    "no_planned_event",
                    f"No planned event names {workflow.name!r} in its `used_by`: add it to the "
                    "events that trigger the workflow, so trackwell knows what feeds it.",
                )
            )
    else:
        report.diagnoses = checker.overall(entries)
    report.unreported = checker.unreported
    # Identity problems first: they decide whose timeline (and which tool profile) events land on.
    report.diagnoses[:0] = identity_diagnoses(timeline.merges)
    if mark is not None:
        report.diagnoses.insert(0, _marked(mark))
    return report


def _marked(mark: MarkKind) -> Diagnosis:
    """The person's privacy mark in words: what it means for what is stored and sent."""
    if mark == "erased":
        return Diagnosis(
            "erased",
            "This person was erased (a privacy request): what was stored of them is gone, and "
            "messages that name them are acknowledged and dropped, never stored or sent.",
        )
    return Diagnosis(
        "suppressed",
        "This person is suppressed (a privacy request): messages that name them are "
        "acknowledged and dropped, neither stored nor sent, until `trackwell privacy "
        "unsuppress`; what was stored before stays, and is not delivered either.",
    )


def _read_reports(store: WhyStore, report: WhyReport, now_ms: int) -> None:
    """The person's reports by triggering message (only the workflow's, with one), and whether
    Customer.io reports arrive at all (without any, trackwell cannot say what it did)."""
    workflow = report.workflow
    mine = [
        r
        for r in store.reports_for_person(report.person, limit=REPORTS_READ)
        if workflow is None or workflow.matches(r)
    ]
    report.reports = by_trigger(mine)
    report.other_reports = [r for r in mine if r.trigger_message_id is None]
    report.reporting = bool(mine) or bool(
        store.report_counts(now_ms - REPORTING_DAYS * DAY_MS, now_ms + 1, source="customerio")
    )
    if not report.reporting:
        return
    # A report whose message was not tied when it arrived is found from the message's side.
    for entry in report.entries[-REPORTS_LOOKUPS:]:
        message_id = entry.message.get("messageId")
        if entry.message.get("type") != "track" or not message_id or message_id in report.reports:
            continue
        if not any(s.get("status") == "delivered" for s in entry.deliveries.values()):
            continue
        found = [
            r
            for r in store.reports_for_message(str(message_id))
            if workflow is None or workflow.matches(r)
        ]
        if found:
            report.reports[str(message_id)] = found


def workflow_events(plan: CompiledPlan, workflow: Workflow | None) -> list[str] | None:
    """The planned events whose `used_by` names the workflow (None: no workflow given, or one
    given only by a Customer.io campaign id that no name maps to)."""
    if workflow is None or not workflow.named:
        return None
    wanted = workflow.name.casefold()
    return sorted(
        name
        for name, spec in plan.plan.events.items()
        if any(w.casefold() == wanted for w in spec.used_by)
    )


def resolve_workflow(
    plan: CompiledPlan, text: str, campaigns: Mapping[str, Collection[str]]
) -> Workflow:
    """A `--workflow` argument: a name from the plan's `used_by` or `[workflows]` (any case), or
    a Customer.io campaign id. ValueError naming the known workflows otherwise.

    `campaigns` is `[workflows]`: workflow name -> the Customer.io campaign ids it maps to."""
    known = {w for spec in plan.plan.events.values() for w in spec.used_by} | set(campaigns)
    by_fold = {w.casefold(): w for w in sorted(known)}
    name = by_fold.get(text.strip().casefold())
    if name is not None:
        return Workflow(name, frozenset(str(c) for c in campaigns.get(name, ())), named=True)
    if text.strip().isdigit():
        campaign = text.strip()
        mapped = sorted(w for w, ids in campaigns.items() if campaign in {str(c) for c in ids})
        if mapped:
            return Workflow(mapped[0], frozenset({campaign}), named=True)
        return Workflow(f"campaign {campaign}", frozenset({campaign}))
    meant = naming.closest(text, known)
    hint = f"; did you mean {meant!r}?" if meant else ""
    listed = ", ".join(sorted(known)) or "none: no planned event has `used_by`"
    raise ValueError(f"no workflow named {text!r}{hint} (workflows: {listed})")


def identity_diagnoses(merges: Sequence[MergeRecord]) -> list[Diagnosis]:
    """The merge log's refusals in words: an anonymous id claimed by a second person
    (`conflict`), and two identified users an identify or alias tried to merge (`refused`)."""
    found = []
    for merge in merges:
        call = f"the {merge.kind} of {time_label(merge.at_ms)}"
        if merge.outcome == "conflict":
            found.append(
                Diagnosis(
                    "identity_conflict",
                    f"Identity conflict: {call} tried to tie anonymous id '{merge.anonymous_id}' "
                    f"to '{merge.user_id}', but {merge.detail or 'it belongs to someone else'}: "
                    "trackwell did not merge them, so that id's events stay on the first person's "
                    "timeline. The message itself was kept and sent on, so a tool that merges on "
                    "identify may have tied them there. Usually two people on one device: call "
                    "reset() at logout.",
                    merge.message_id,
                )
            )
        elif merge.outcome == "refused":
            found.append(
                Diagnosis(
                    "alias_refused",
                    f"Refused merge: {call} tried to merge '{merge.anonymous_id}' into "
                    f"'{merge.user_id}', but '{merge.anonymous_id}' is an identified user and two "
                    "identified users are never merged: their histories stay apart here. Send "
                    "alias only with a visitor's anonymous id, before it is identified.",
                    merge.message_id,
                )
            )
    return found


class _Checker:
    """The diagnoses, with what they all need at hand."""

    def __init__(
        self,
        plan: CompiledPlan,
        report: WhyReport,
        now_ms: int,
        destinations: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.plan = plan
        self.report = report
        self.timeline = timeline = report.timeline
        self.now_ms = now_ms
        self.destinations = destinations
        # Set when a delivered event would be checked for a journey but no report arrives at all.
        self.unreported = False
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
            found.extend(self.entry(entry, asked=True))
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
            # What Customer.io did, for the events a workflow is known to hang on: a failed
            # message or no journey at all (a triggered one is no news here).
            found.extend(d for d in self.outcomes(entry) if d.code != "journey_triggered")
        found.extend(self._early(entries))
        return found

    def outcomes(self, entry: TimelineEntry, *, asked: bool = False) -> list[Diagnosis]:
        """What Customer.io did with one event: from its reports, or that it triggered nothing.
        An event no workflow uses is looked at only when asked about by name."""
        message = entry.message
        if message.get("type") != "track" or entry.verdict == "blocked":
            return []
        spec = self.plan.plan.events.get(str(message.get("event")))
        feeds = list(spec.used_by) if spec is not None else []
        workflow = self.report.workflow
        if workflow is not None and workflow.named:
            feeds = [w for w in feeds if w.casefold() == workflow.name.casefold()] or feeds
        reports = self.report.reports.get(str(message.get("messageId")), [])
        if not reports and not feeds and not asked:
            return []
        customerio = [d for d in entry.deliveries if self._kind(d) == "customerio"]
        if not self.report.reporting:
            if any(entry.deliveries[d].get("status") == "delivered" for d in customerio):
                self.unreported = True
            return []
        return outcome_diagnoses(
            entry,
            reports,
            destinations=customerio,
            received_ms=_ms(entry, "receivedAt"),
            now_ms=self.now_ms,
            trigger_minutes=self.report.trigger_minutes,
            feeds=feeds,
        )

    def entry(self, entry: TimelineEntry, *, asked: bool = False) -> list[Diagnosis]:
        """Everything about one stored message of the event: as sent, its delivery, and what
        Customer.io did with it."""
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
        found.extend(self.outcomes(entry, asked=asked))
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
    if status == "dead" and str(error or "").startswith(WITHHELD):
        # The router settles a message of an erased or suppressed person dead, unsent.
        return "delivery_withheld", (
            f"not sent to {destination}: {str(error).removeprefix(WITHHELD)}. Nothing of theirs "
            "is sent while the mark stands (`trackwell privacy list` shows the request)."
        )
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


def why_document(report: WhyReport) -> dict[str, Any]:
    """The JSON form of a `why` answer, one shape for `trackwell why --json` and the console:
    the timeline document of the shown events (each with the Customer.io reports it triggered,
    in time order), the person's other reports, and the diagnosis in order (identity, then per
    event: as sent, its delivery, what Customer.io did)."""
    timeline = report.timeline
    shown = Timeline(
        timeline.profile, timeline.anonymous_ids, timeline.merges, tuple(report.entries)
    )
    document = timeline_document(shown)
    events = []
    for entry in report.entries:
        item = event_document(entry)
        item["reports"] = [
            report_document(r) for r in report.reports.get(str(item.get("messageId")), ())
        ]
        events.append(item)
    workflow = report.workflow
    return {
        "person": report.person,
        "event": report.event,
        "workflow": None
        if workflow is None
        else {"name": workflow.name, "campaignIds": sorted(workflow.campaign_ids)},
        **document,
        "events": events,
        "otherReports": [report_document(r) for r in report.other_reports],
        "reporting": report.reporting,
        "unreported": report.unreported,
        "triggerMinutes": report.trigger_minutes,
        "diagnosis": [d.to_dict() for d in report.diagnoses],
    }
