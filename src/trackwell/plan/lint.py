"""Lint a tracking plan: naming, structure, documentation and sensitive data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Literal

from trackwell.plan import naming
from trackwell.plan.model import (
    EventSpec,
    EventVersion,
    LintAllow,
    Location,
    Plan,
    PropertySpec,
)
from trackwell.plan.sensitive import KIND_LABELS, sensitive_kind

Severity = Literal["error", "warning"]
# What a team may set a code to in trackwell.toml (`[lint.severity]`); "off" drops it.
Level = Literal["error", "warning", "off"]
LEVELS: tuple[Level, ...] = ("error", "warning", "off")

MIN_PROPERTIES = 3
MAX_PROPERTIES = 10
EVENT_COUNT_WARNING = 30
EVENT_COUNT_ERROR = 200

# The severity of each code; only event_count escalates (to an error past 200 events).
SEVERITY: dict[str, Severity] = {
    "event_case": "error",
    "property_case": "error",
    "event_tense": "warning",
    "raw_ui_event": "warning",
    "near_duplicate": "error",
    "missing_stage": "error",
    "unknown_stage": "error",
    "missing_description": "warning",
    "missing_backfill": "warning",
    "property_count": "warning",
    "event_count": "warning",
    "sensitive_property": "error",
    "missing_created_at": "warning",
    "alias_conflict": "error",
    "replaced_by_unknown": "error",
    "replaced_by_deprecated": "warning",
    "deprecated_without_replacement": "warning",
    "browser_identity_property": "warning",
    "consent_trait": "error",
    "unused_shared_property": "warning",
    "property_alias_conflict": "error",
    "duplicate_version": "error",
    "all_versions_retired": "warning",
    "suppression_reason": "error",
    "unused_suppression": "warning",
}
# Property names that name a person: a `browser: true` event comes from anonymous visitors'
# pages, where anyone can write anything, so such a property would let anyone name anyone.
IDENTITY_NAMES = frozenset(
    {"email", "emailaddress", "userid", "phone", "phonenumber", "customerid"}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint finding: a stable code, where it is, and what is wrong."""

    code: str
    path: str
    message: str
    location: Location | None = None
    severity: Severity = "warning"
    # The names the finding is about, for a suppression by `names` (a near duplicate's two).
    names: tuple[str, ...] = ()
    # The reason the plan gives for accepting it (`lint.allow`); a suppressed finding never fails.
    suppressed: str | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form of the finding."""
        data: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
        }
        if self.location is not None:
            data["line"] = self.location.line
            data["column"] = self.location.column
        if self.suppressed is not None:
            data["suppressed"] = True
            data["reason"] = self.suppressed
        return data


def _finding(
    code: str,
    path: str,
    message: str,
    location: Location | None = None,
    severity: Severity | None = None,
    names: tuple[str, ...] = (),
) -> Finding:
    return Finding(code, path, message, location, severity or SEVERITY[code], names)


def lint_plan(plan: Plan, levels: Mapping[str, Level] | None = None) -> list[Finding]:
    """Every finding for a plan, in a stable order (by place in the file, then code).

    `levels` overrides the severity of codes (trackwell.toml's `[lint.severity]`; "off" drops
    a code). Findings the plan accepts (`lint.allow`, with a reason) come back marked
    `suppressed`; suppressions without a reason or matching nothing are findings themselves.
    """
    findings = _suppress(plan, _all_findings(plan))
    levels = levels or {}
    kept = []
    for finding in findings:
        level = levels.get(finding.code, finding.severity)
        if level != "off":
            kept.append(replace(finding, severity=level) if level != finding.severity else finding)
    return sorted(kept, key=_order)


def unsuppressed(findings: list[Finding], severity: Severity) -> list[Finding]:
    """The findings of one severity that nothing in the plan accepts: what fails a run."""
    return [f for f in findings if f.severity == severity and f.suppressed is None]


def _suppress(plan: Plan, findings: list[Finding]) -> list[Finding]:
    """Mark the findings `lint.allow` accepts, and report its entries that do no work."""
    used: set[int] = set()
    result = []
    for finding in findings:
        for index, allow in enumerate(plan.lint_allow):
            if allow.reason and _accepts(allow, finding):
                used.add(index)
                finding = replace(finding, suppressed=allow.reason)
                break
        result.append(finding)
    for index, allow in enumerate(plan.lint_allow):
        what = f"lint.allow[{index}]"
        target = ", ".join(allow.names) if allow.names else allow.path
        if not allow.reason:
            result.append(
                _finding(
                    "suppression_reason",
                    what,
                    f"the suppression of {allow.code} ({target}) gives no reason, so it accepts"
                    " nothing: say why the finding is right for this plan",
                    allow.location,
                )
            )
        elif index not in used:
            result.append(
                _finding(
                    "unused_suppression",
                    what,
                    f"the suppression of {allow.code} ({target}) matches no finding; remove it",
                    allow.location,
                )
            )
    return result


def _accepts(allow: LintAllow, finding: Finding) -> bool:
    """Whether a `lint.allow` entry names this finding (by code, then path or names)."""
    if allow.code != finding.code:
        return False
    if allow.path is not None:
        return allow.path == finding.path
    return bool(finding.names) and sorted(allow.names) == sorted(finding.names)


def _all_findings(plan: Plan) -> list[Finding]:
    """Every rule's findings, at their default severities, nothing accepted yet."""
    return [
        *_event_names(plan),
        *_near_duplicates(plan),
        *_event_structure(plan),
        *_aliases(plan),
        *_deprecations(plan),
        *_browser_events(plan),
        *_traits(plan),
        *_consent_trait(plan),
        *_event_count(plan),
        *_richer_model(plan),
    ]


def _consent_trait(plan: Plan) -> Iterator[Finding]:
    """The consent trait must be a planned object trait: an unplanned one is omitted or blocked
    by the plan's own policy before it reaches the profile, so consent would never be read."""
    consent = plan.policy.consent
    if consent is None or consent.trait is None:
        return
    trait = plan.trait(consent.trait)
    if trait is None:
        yield _finding(
            "consent_trait",
            "policy.consent.trait",
            f"consent is read from trait {consent.trait!r}, which the plan does not list: plan "
            "it as an object of category -> boolean under traits",
        )
    elif trait.type != "object":
        yield _finding(
            "consent_trait",
            f"traits.{trait.name}",
            f"consent is read from trait {trait.name!r}, which is {trait.type}: it must be an "
            "object of category -> boolean",
            trait.location,
        )


def _order(finding: Finding) -> tuple[int, int, str, str]:
    loc = finding.location
    return (loc.line if loc else 0, loc.column if loc else 0, finding.code, finding.path)


def _event_path(event: EventSpec) -> str:
    return f"events.{event.name}"


def _event_names(plan: Plan) -> Iterator[Finding]:
    title = plan.conventions.event_case == "title"
    for event in plan.events.values():
        path = _event_path(event)
        ok = naming.is_title_case(event.name) if title else naming.is_snake_case(event.name)
        if not ok:
            wanted = naming.to_title(event.name) if title else naming.to_snake(event.name)
            style = "Title Case" if title else "snake_case"
            yield _finding(
                "event_case",
                path,
                f"'{event.name}' is not {style}; write '{wanted}'",
                event.location,
            )
        last = naming.words(event.name)[-1:] or [""]
        if not naming.is_past_tense(last[0]):
            yield _finding(
                "event_tense",
                path,
                f"'{event.name}' does not end in a past-tense verb; name what happened "
                "(object then action: 'Subscription Started', 'Account Created')",
                event.location,
            )
        noise = naming.ui_noise_word(event.name)
        if noise:
            yield _finding(
                "raw_ui_event",
                path,
                f"'{event.name}' looks like raw UI noise ('{noise}'); plan the business action "
                "it stands for, and leave clicks to product analytics",
                event.location,
            )


def _near_duplicates(plan: Plan) -> Iterator[Finding]:
    for a, b in combinations(plan.events.values(), 2):
        found = naming.near_duplicate(a.name, b.name)
        if found is None:
            continue
        yield _finding(
            "near_duplicate",
            _event_path(b),
            f"'{b.name}' and '{a.name}' would be confused ({found.explanation}); "
            "keep one and list the other under its aliases",
            b.location,
            names=(a.name, b.name),
        )


def _event_structure(plan: Plan) -> Iterator[Finding]:
    for event in plan.events.values():
        path = _event_path(event)
        if event.stage is None:
            yield _finding(
                "missing_stage",
                path,
                f"'{event.name}' has no stage (one of {', '.join(plan.stages)})",
                event.location,
            )
        elif event.stage not in plan.stages:
            yield _finding(
                "unknown_stage",
                f"{path}.stage",
                f"stage '{event.stage}' is not one of the plan's stages ({', '.join(plan.stages)})",
                event.location,
            )
        if not event.description.strip():
            yield _finding(
                "missing_description",
                path,
                f"'{event.name}' has no description; say when it fires and what it means",
                event.location,
            )
        if event.backfill is None:
            yield _finding(
                "missing_backfill",
                path,
                f"'{event.name}' does not say whether history is backfilled or new-only",
                event.location,
            )
        current = event.current_version()
        count = len(event.properties) + (len(current.properties) if current else 0)
        if not event.deprecated and not MIN_PROPERTIES <= count <= MAX_PROPERTIES:
            yield _finding(
                "property_count",
                f"{path}.properties",
                f"'{event.name}' has {count} properties; plan {MIN_PROPERTIES} to "
                f"{MAX_PROPERTIES} that workflows can segment on",
                event.location,
            )
        yield from _properties(plan, event.properties, f"{path}.properties")


def _properties(plan: Plan, props: tuple[PropertySpec, ...], path: str) -> Iterator[Finding]:
    camel = plan.conventions.property_case == "camel"
    for prop in props:
        prop_path = f"{path}.{prop.name}"
        ok = naming.is_camel_case(prop.name) if camel else naming.is_snake_case(prop.name)
        if not ok:
            wanted = naming.to_camel(prop.name) if camel else naming.to_snake(prop.name)
            yield _finding(
                "property_case",
                prop_path,
                f"'{prop.name}' is not {'camelCase' if camel else 'snake_case'}; write '{wanted}'",
                prop.location,
            )
        kind = sensitive_kind(prop.name)
        if kind:
            yield _finding(
                "sensitive_property",
                prop_path,
                f"'{prop.name}' looks like {KIND_LABELS[kind]}; it must never be sent to a "
                "marketing or analytics tool, so it cannot be planned",
                prop.location,
            )
        yield from _properties(plan, prop.properties, f"{prop_path}.properties")
        if prop.items is not None:
            yield from _properties(plan, prop.items.properties, f"{prop_path}.items.properties")


def _browser_events(plan: Plan) -> Iterator[Finding]:
    for event in plan.events.values():
        if not event.browser:
            continue
        for prop in event.properties:
            if "".join(c for c in prop.name.lower() if c.isalnum()) in IDENTITY_NAMES:
                yield _finding(
                    "browser_identity_property",
                    f"{_event_path(event)}.properties.{prop.name}",
                    f"'{event.name}' may be sent by browser keys (browser: true), which are"
                    f" anonymous and public: '{prop.name}' would let any page name anyone;"
                    " send it from your backend, or drop browser: true",
                    prop.location,
                )


def _aliases(plan: Plan) -> Iterator[Finding]:
    owner: dict[str, str] = {}
    for event in plan.events.values():
        for alias in event.aliases:
            path = f"{_event_path(event)}.aliases"
            if alias in plan.events:
                yield _finding(
                    "alias_conflict",
                    path,
                    f"alias '{alias}' of '{event.name}' is also a planned event",
                    event.location,
                )
            elif alias in owner and owner[alias] != event.name:
                yield _finding(
                    "alias_conflict",
                    path,
                    f"alias '{alias}' is claimed by both '{owner[alias]}' and '{event.name}'",
                    event.location,
                )
            owner.setdefault(alias, event.name)


def _deprecations(plan: Plan) -> Iterator[Finding]:
    for event in plan.events.values():
        path = _event_path(event)
        target = event.replaced_by
        if target is not None and target not in plan.events:
            hint = naming.closest(target, plan.events)
            yield _finding(
                "replaced_by_unknown",
                f"{path}.replaced_by",
                f"'{event.name}' is replaced by '{target}', which is not a planned event"
                + (f" (did you mean '{hint}'?)" if hint else ""),
                event.location,
            )
        elif target is not None and plan.events[target].deprecated:
            yield _finding(
                "replaced_by_deprecated",
                f"{path}.replaced_by",
                f"'{event.name}' is replaced by '{target}', which is deprecated too",
                event.location,
            )
        if event.deprecated and target is None:
            yield _finding(
                "deprecated_without_replacement",
                path,
                f"'{event.name}' is deprecated without replaced_by; say what senders should use",
                event.location,
            )


def _traits(plan: Plan) -> Iterator[Finding]:
    yield from _properties(plan, plan.traits, "traits")
    if plan.trait("created_at") is None:
        yield _finding(
            "missing_created_at",
            "traits",
            "no 'created_at' trait: Customer.io needs it (Unix seconds) to know when a "
            "profile was created",
        )


def _event_count(plan: Plan) -> Iterator[Finding]:
    count = len(plan.events)
    if count > EVENT_COUNT_ERROR:
        yield _finding(
            "event_count",
            "events",
            f"{count} events: more than {EVENT_COUNT_ERROR}; noisy plans make segmentation "
            "harder, so deprecate what no workflow uses",
            severity="error",
        )
    elif count > EVENT_COUNT_WARNING:
        yield _finding(
            "event_count",
            "events",
            f"{count} events: more than {EVENT_COUNT_WARNING}; aim for 15-30 lifecycle events",
        )


# -- the richer model: shared properties, property aliases, pages, group, versions ---------


def _richer_model(plan: Plan) -> Iterator[Finding]:
    """Naming and sensitive-data checks on the new property sets, and the findings only the
    richer model can have."""
    yield from _properties(plan, tuple(plan.properties.values()), "properties")
    if plan.group_traits is not None:
        yield from _properties(plan, plan.group_traits, "group.traits")
    for kind, specs in (("pages", plan.page_specs), ("screens", plan.screen_specs)):
        for page in specs.values():
            yield from _properties(plan, page.properties, f"{kind}.{page.name}.properties")
    for event in plan.events.values():
        for version in event.versions:
            path = f"{_event_path(event)}.versions.{version.label}.properties"
            yield from _properties(plan, version.properties, path)
    yield from _unused_shared(plan)
    yield from _property_alias_conflicts(plan)
    yield from _versions(plan)


def _unused_shared(plan: Plan) -> Iterator[Finding]:
    """A shared definition no event, page, screen or trait uses: dead, or a use was forgotten."""
    for name, prop in plan.properties.items():
        if not plan.shared_uses(name):
            yield _finding(
                "unused_shared_property",
                f"properties.{name}",
                f"shared property '{name}' is used nowhere; use it ({{use: {name}}}) or remove it",
                prop.location,
            )


def _property_alias_conflicts(plan: Plan) -> Iterator[Finding]:
    """An old name that is also a planned name of the same set, or the old name of two: the
    check could not know which property a sender meant."""
    seen: set[tuple[str, str]] = set()
    for path, where, props in _checked_sets(plan):
        names = {p.name for p in props}
        owner: dict[str, str] = {}
        for prop in props:
            for alias in prop.aliases:
                message = None
                if alias in names:
                    message = f"alias '{alias}' of '{prop.name}' is itself a property of {where}"
                elif alias in owner:
                    message = (
                        f"alias '{alias}' is claimed by both '{owner[alias]}' and '{prop.name}'"
                        f" in {where}"
                    )
                owner.setdefault(alias, prop.name)
                if message is not None and (prop.name, message) not in seen:
                    seen.add((prop.name, message))
                    yield _finding(
                        "property_alias_conflict", f"{path}.{prop.name}", message, prop.location
                    )


def _checked_sets(plan: Plan) -> Iterator[tuple[str, str, tuple[PropertySpec, ...]]]:
    """(path, label, properties) of every set a message is checked against: an event with
    versions once per version (its own properties and the version's together)."""
    yield "traits", "the traits", plan.traits
    if plan.group_traits is not None:
        yield "group.traits", "the group traits", plan.group_traits
    for event in plan.events.values():
        path = _event_path(event)
        if not event.versions:
            yield f"{path}.properties", f"'{event.name}'", event.properties
        for version in event.versions:
            yield (
                f"{path}.versions.{version.label}.properties",
                f"'{event.name}' {version.label}",
                event.version_properties(version),
            )
    for kind, specs in (("page", plan.page_specs), ("screen", plan.screen_specs)):
        for page in specs.values():
            yield f"{kind}s.{page.name}.properties", f"{kind} '{page.name}'", page.properties


def _versions(plan: Plan) -> Iterator[Finding]:
    """Two versions with the same properties (one can never be told from the other), and an
    event whose every version is retired (deprecate the event instead)."""
    for event in plan.events.values():
        seen: dict[tuple[PropertySpec, ...], EventVersion] = {}
        for version in event.versions:
            key = tuple(sorted(version.properties, key=lambda p: p.name))
            first = seen.setdefault(key, version)
            if first is not version:
                yield _finding(
                    "duplicate_version",
                    f"{_event_path(event)}.versions.{version.label}",
                    f"'{event.name}' {version.label} has the same properties as {first.label};"
                    " a message could never be told to match one rather than the other",
                    version.location,
                )
        if event.versions and all(v.deprecated for v in event.versions) and not event.deprecated:
            yield _finding(
                "all_versions_retired",
                f"{_event_path(event)}.versions",
                f"every version of '{event.name}' is retired; keep one live, or deprecate the"
                " event itself",
                event.location,
            )
