"""Properties that are always empty or never vary, and traits never set, in a sample of messages."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trackwell.quality.compiled import CompiledPlan

# Fewer messages of an event than this say nothing about its properties.
MIN_SAMPLES = 20
_DISTINCT_KEPT = 2  # two distinct values are enough to know a property varies


@dataclass(frozen=True, slots=True)
class PropertyFinding:
    """A planned property that carries no information in the sample."""

    event: str
    property: str
    kind: str  # "always_empty" or "never_varies"
    samples: int
    value: str | None = None  # the one value, for never_varies


@dataclass
class SampleProfile:
    """What a sample of messages showed."""

    messages: int = 0
    findings: list[PropertyFinding] = field(default_factory=list)
    traits_never_set: list[str] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Slot:
    present: int = 0
    values: set[str] = field(default_factory=set)

    def add(self, value: Any) -> None:
        if value is None or value == "" or value == [] or value == {}:
            return
        self.present += 1
        if len(self.values) < _DISTINCT_KEPT:
            self.values.add(json.dumps(value, sort_keys=True, default=str))


def profile_messages(plan: CompiledPlan, messages: Iterable[Mapping[str, Any]]) -> SampleProfile:
    """Per planned event and property: present how often, with how many distinct values."""
    profile = SampleProfile()
    counts: dict[str, int] = {}
    slots: dict[tuple[str, str], _Slot] = {}
    identifies = 0
    traits: dict[str, _Slot] = {t.name: _Slot() for t in plan.plan.traits}
    for message in messages:
        profile.messages += 1
        kind = message.get("type")
        if kind == "identify":
            identifies += 1
            given = message.get("traits") or {}
            for name, slot in traits.items():
                slot.add(given.get(name) if isinstance(given, Mapping) else None)
            continue
        event = plan.aliases.get(str(message.get("event")), str(message.get("event")))
        compiled = plan.events.get(event) if kind == "track" else None
        if compiled is None:
            continue
        counts[event] = counts.get(event, 0) + 1
        properties = message.get("properties") or {}
        for name in compiled.properties.planned:
            value = properties.get(name) if isinstance(properties, Mapping) else None
            slots.setdefault((event, name), _Slot()).add(value)
    profile.findings = _findings(counts, slots)
    if identifies >= MIN_SAMPLES:
        profile.traits_never_set = sorted(n for n, s in traits.items() if s.present == 0)
    else:
        profile.notes.append(
            f"Traits were not checked: the sample has {identifies} identify calls "
            f"(at least {MIN_SAMPLES} are needed)."
        )
    return profile


def _findings(
    counts: Mapping[str, int], slots: Mapping[tuple[str, str], _Slot]
) -> list[PropertyFinding]:
    found = []
    for (event, name), slot in sorted(slots.items()):
        samples = counts[event]
        if samples < MIN_SAMPLES:
            continue
        if slot.present == 0:
            found.append(PropertyFinding(event, name, "always_empty", samples))
        elif slot.present == samples and len(slot.values) == 1:
            value = next(iter(slot.values))
            shown = value if len(value) <= 40 else value[:37] + "..."
            found.append(PropertyFinding(event, name, "never_varies", samples, shown))
    return found
