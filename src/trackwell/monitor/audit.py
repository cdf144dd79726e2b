"""The schema audit: what in the plan is unused, unsent, undeclared or due for deprecation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from trackwell.monitor.context import DAY_MS, MonitorStore, day_label
from trackwell.monitor.properties import PropertyFinding, profile_messages
from trackwell.plan import naming
from trackwell.quality.compiled import CompiledPlan

# Arriving within this many days of the audit's end counts as "still arriving".
RECENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class EventRow:
    """A planned event and what arrived of it in the window."""

    name: str
    stage: str | None
    received: int
    last_seen: str | None
    used_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnplannedRow:
    """A name outside the plan that arrived in the window."""

    name: str
    count: int
    first_seen: str
    last_seen: str
    probably: str | None
    sources: dict[str, int]


@dataclass(frozen=True, slots=True)
class Deprecation:
    """An event to deprecate (or a deprecated one still sent), with what replaces it."""

    event: str
    reason: str
    replacement: str | None
    received: int


@dataclass
class AuditReport:
    """Everything `trackwell audit` reports."""

    plan: str
    version: int
    since: str
    until: str
    days: int
    days_with_data: int
    no_volume: list[EventRow] = field(default_factory=list)
    low_volume: list[EventRow] = field(default_factory=list)
    unused: list[EventRow] = field(default_factory=list)
    unplanned: list[UnplannedRow] = field(default_factory=list)
    deprecations: list[Deprecation] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)  # old name -> still arriving
    # Migrations still in progress, by event (or page): properties sent under an old name, and
    # messages that matched only a retired version.
    old_property_names: dict[str, int] = field(default_factory=dict)
    retired_versions: dict[str, int] = field(default_factory=dict)
    properties: list[PropertyFinding] | None = None  # None: no sample to look at
    traits_never_set: list[str] | None = None
    sample_size: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (`trackwell audit --json`)."""
        return asdict(self)

    @property
    def clean(self) -> bool:
        """Nothing to act on."""
        return not (
            self.no_volume
            or self.low_volume
            or self.unused
            or self.unplanned
            or self.deprecations
            or self.aliases
            or self.old_property_names
            or self.retired_versions
            or self.properties
            or self.traits_never_set
        )


@dataclass
class _Seen:
    received: int = 0
    first: int = 0
    last: int = 0
    sources: Counter[str] = field(default_factory=Counter)

    def add(self, day: int, number: int, source: str) -> None:
        self.received += number
        self.first = min(self.first, day) if self.first else day
        self.last = max(self.last, day)
        self.sources[source] += number


def audit(
    store: MonitorStore,
    plan: CompiledPlan,
    *,
    today: int,
    days: int = 90,
    low: int = 10,
    sample: Iterable[Mapping[str, Any]] | None = None,
) -> AuditReport:
    """The audit over the `days` up to and including `today` (days since the epoch, UTC)."""
    since = today - days + 1
    tracked: dict[str, _Seen] = {}
    active: set[int] = set()
    for row in store.volume(since, today):
        active.add(row.day)
        if row.type == "track" and row.received:
            tracked.setdefault(row.name, _Seen()).add(row.day, row.received, row.source)
    codes = store.violation_counts(since, today)
    report = AuditReport(
        plan.plan.name, plan.plan.version, day_label(since), day_label(today), days, len(active)
    )
    _events(report, plan, tracked, low)
    report.unplanned = _unplanned(plan, codes, today)
    report.aliases = _aliases(plan, codes)
    report.old_property_names = _counted(codes, "aliased_property")
    report.retired_versions = _counted(codes, "deprecated_version")
    report.deprecations = _deprecations(plan, tracked, today)
    if sample is None:
        # Without a file, the store's own recent messages (bounded) are the sample.
        recent = store.sample(limit=SAMPLE_LIMIT, since_ms=since * DAY_MS)
        sample = [entry.message for entry in recent] if recent else None
    _sample(report, plan, sample)
    if report.days_with_data < days:
        report.notes.append(
            f"The store has data for {report.days_with_data} of these {days} days: an event "
            "sent monthly or quarterly may not show yet."
        )
    return report


def _events(
    report: AuditReport, plan: CompiledPlan, tracked: Mapping[str, _Seen], low: int
) -> None:
    for name, spec in sorted(plan.plan.events.items()):
        seen = tracked.get(name, _Seen())
        row = EventRow(
            name,
            spec.stage,
            seen.received,
            day_label(seen.last) if seen.last else None,
            spec.used_by,
        )
        if spec.deprecated:
            continue  # reported with the deprecations
        if seen.received == 0:
            report.no_volume.append(row)
        elif seen.received < low:
            report.low_volume.append(row)
        if not spec.used_by:
            report.unused.append(row)


def _unplanned(
    plan: CompiledPlan, codes: list[tuple[int, str, str, str, int]], today: int
) -> list[UnplannedRow]:
    """Unplanned names seen in the window and still arriving in its last week."""
    seen: dict[str, _Seen] = {}
    for day, source, name, code, number in codes:
        if code == "unplanned_event" and name not in plan.events and name not in plan.aliases:
            seen.setdefault(name, _Seen()).add(day, number, source)
    rows = [
        UnplannedRow(
            name,
            s.received,
            day_label(s.first),
            day_label(s.last),
            plan.suggest_event(name),
            dict(s.sources.most_common(5)),
        )
        for name, s in seen.items()
        if s.last > today - RECENT_DAYS
    ]
    return sorted(rows, key=lambda r: (-r.count, r.name))


def _aliases(plan: CompiledPlan, codes: list[tuple[int, str, str, str, int]]) -> dict[str, int]:
    """Old names still sent (counted under the planned name they were renamed to)."""
    found: Counter[str] = Counter()
    for _day, _source, name, code, number in codes:
        if code == "aliased_event":
            found[name] += number
    return dict(found.most_common())


def _counted(codes: list[tuple[int, str, str, str, int]], wanted: str) -> dict[str, int]:
    """How often each name got one violation code in the window, most first."""
    found: Counter[str] = Counter()
    for _day, _source, name, code, number in codes:
        if code == wanted:
            found[name] += number
    return dict(found.most_common())


def _deprecations(
    plan: CompiledPlan, tracked: Mapping[str, _Seen], today: int
) -> list[Deprecation]:
    found: list[Deprecation] = []
    busy = [name for name in plan.plan.events if tracked.get(name, _Seen()).received]
    for name, spec in sorted(plan.plan.events.items()):
        seen = tracked.get(name, _Seen())
        if spec.deprecated and seen.last >= today - RECENT_DAYS + 1 and seen.received:
            found.append(
                Deprecation(
                    name,
                    "deprecated, and still sent: move the senders to the replacement, then remove it",
                    spec.replaced_by,
                    seen.received,
                )
            )
        elif spec.deprecated and not seen.received:
            found.append(
                Deprecation(
                    name,
                    "deprecated and no longer sent: remove it from the plan (a breaking change)",
                    spec.replaced_by,
                    0,
                )
            )
        elif not spec.deprecated and not seen.received and not spec.used_by:
            found.append(
                Deprecation(
                    name,
                    "never sent in the window and no workflow uses it: deprecate it",
                    naming.closest(name, [n for n in busy if n != name]),
                    0,
                )
            )
    return found


SAMPLE_LIMIT = 20_000


def _sample(
    report: AuditReport, plan: CompiledPlan, sample: Iterable[Mapping[str, Any]] | None
) -> None:
    if sample is None:
        report.notes.append(
            "Properties and traits were not checked: the store holds no messages in this period. "
            "Pass --sample FILE (events as JSON Lines, e.g. an export) to check for properties "
            "that are always empty or never vary and traits that are never set."
        )
        return
    profile = profile_messages(plan, sample)
    report.sample_size = profile.messages
    report.properties = profile.findings
    report.traits_never_set = profile.traits_never_set
    report.notes.extend(profile.notes)
