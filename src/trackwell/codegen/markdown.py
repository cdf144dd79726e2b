"""Markdown codegen: the tracking plan as a document people read, one section per stage."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from trackwell.codegen.common import (
    header,
    live_versions,
    one_line,
    ordered_properties,
    sensitive_label,
    sorted_events,
)
from trackwell.plan.diff import PlanDiff
from trackwell.plan.model import EventSpec, PageSpec, Plan, PropertySpec, Scalar

SHARED = "Shared properties"
GROUP = "Group traits"


@dataclass(frozen=True, slots=True)
class _Shared:
    """The shared property library and the anchor of its section, for linking uses to it."""

    slug: str = ""
    library: Mapping[str, PropertySpec] = field(default_factory=dict)


_NO_SHARED = _Shared()

NO_STAGE = "No stage"
_TABLE_HEAD = (
    "| {0} | type | required | allowed values | description |\n| --- | --- | --- | --- | --- |"
)
_BACKFILL = {
    "backfilled": "backfilled (history imported)",
    "new-only": "new-only (no history before it was added)",
}
_POLICY = {
    "block": "blocked",
    "omit": "dropped from the event",
    "allow": "let through",
    "redact": "redacted",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def generate_markdown(plan: Plan, changes: PlanDiff | None = None, since: str = "") -> str:
    """The plan as Markdown; with `changes` (the diff from `since`), a change log at the end."""
    slugs = _Slugs()
    title = f"{one_line(plan.name)}: tracking plan"
    slugs.add(title)
    stages = _stages(plan)
    slugs.add("Contents")
    traits_slug = slugs.add("Traits")
    shared_slug = slugs.add(SHARED) if plan.properties else ""
    shared = _Shared(shared_slug, plan.properties)
    group_slug = slugs.add(GROUP) if plan.group_traits is not None else ""
    stage_slugs = {stage: slugs.add(stage) for stage in stages}
    event_slugs = {event.name: slugs.add(event.name) for stage in stages for event in stages[stage]}
    pages_slug = slugs.add("Pages and screens") if plan.pages or plan.screens else ""
    changes_slug = slugs.add("Change log") if changes is not None else ""

    first, second = header(plan, "markdown")
    parts = [
        f"<!-- {_comment(first)}\n{_comment(second)} -->",
        f"# {_text(title)}",
        _summary(plan),
        "## Contents",
        _contents(
            stages,
            traits_slug,
            stage_slugs,
            event_slugs,
            pages_slug,
            changes_slug,
            [(SHARED, shared_slug), (GROUP, group_slug)],
        ),
        "## Traits",
        "Sent with `identify`; they describe the person, not one action.",
        _table("trait", plan.traits, shared),
    ]
    if shared_slug:
        parts.extend(
            [
                f"## {SHARED}",
                "Defined once and used by several events, pages or traits (`use:`); a use may"
                " say whether it is required and add its own description.",
                _table("property", tuple(plan.properties.values())),
                _shared_uses(plan),
            ]
        )
    if group_slug:
        parts.extend(
            [
                f"## {GROUP}",
                "Sent with `group`; they describe the account or team, not one person.",
                _table("trait", plan.group_traits or (), shared),
            ]
        )
    for stage, events in stages.items():
        parts.append(f"## {_text(stage)}")
        if not events:
            parts.append("No events in this stage yet.")
        for event in events:
            parts.extend(_event(event, event_slugs, shared))
    if pages_slug:
        parts.extend(_pages(plan, shared))
    if changes is not None:
        parts.extend(_change_log(changes, since))
    return "\n\n".join(parts) + "\n"


def _summary(plan: Plan) -> str:
    conventions = plan.conventions
    policy = plan.policy
    return (
        f"Version {plan.version}: {len(plan.events)} events, {len(plan.traits)} traits. "
        f"Event names are in {conventions.event_case} case, properties in "
        f"{conventions.property_case} case.\n\n"
        f"What the pipeline does with what the plan does not allow: unplanned events are "
        f"{_POLICY[policy.unplanned_event]}, unplanned properties are "
        f"{_POLICY[policy.unplanned_property]}, invalid properties are "
        f"{_POLICY[policy.invalid_property]}, and sensitive data is "
        f"{_POLICY[policy.sensitive_data]}." + _consent_summary(plan)
    )


_MISSING = {
    "deliver": "delivered as if consented",
    "hold": "held until consent information arrives",
    "drop": "not delivered (outcome no_consent)",
}


def _consent_summary(plan: Plan) -> str:
    """What the plan's consent policy means, in a sentence (nothing when it has none)."""
    consent = plan.policy.consent
    if consent is None:
        return ""
    source = "`context.consent.categoryPreferences`" + (
        f", else the person's `{consent.trait}` trait" if consent.trait else ""
    )
    return (
        f"\n\nConsent is read from {source}. A destination that requires consent categories gets "
        f"a message only when every one of them is consented; a message without any consent "
        f"information is {_MISSING[consent.missing_consent]}."
    )


def _stages(plan: Plan) -> dict[str, list[EventSpec]]:
    """Events by stage: the plan's stages in order, then stages it does not list, then none."""
    stages: dict[str, list[EventSpec]] = {stage: [] for stage in plan.stages}
    unlisted: dict[str, list[EventSpec]] = {}
    for event in sorted_events(plan):
        stage = event.stage or NO_STAGE
        if stage in stages:
            stages[stage].append(event)
        else:
            unlisted.setdefault(stage, []).append(event)
    no_stage = unlisted.pop(NO_STAGE, None)
    stages.update(sorted(unlisted.items()))
    if no_stage:
        stages[NO_STAGE] = no_stage
    return stages


def _contents(
    stages: dict[str, list[EventSpec]],
    traits_slug: str,
    stage_slugs: dict[str, str],
    event_slugs: dict[str, str],
    pages_slug: str,
    changes_slug: str,
    extra: list[tuple[str, str]],
) -> str:
    lines = [f"- [Traits](#{traits_slug})"]
    lines.extend(f"- [{title}](#{slug})" for title, slug in extra if slug)
    for stage, events in stages.items():
        links = ", ".join(f"[{_text(e.name)}](#{event_slugs[e.name]})" for e in events)
        lines.append(f"- [{_text(stage)}](#{stage_slugs[stage]})" + (f": {links}" if links else ""))
    if pages_slug:
        lines.append(f"- [Pages and screens](#{pages_slug})")
    if changes_slug:
        lines.append(f"- [Change log](#{changes_slug})")
    return "\n".join(lines)


def _event(event: EventSpec, slugs: dict[str, str], shared: _Shared) -> Iterator[str]:
    yield f"### {_text(event.name)}"
    if event.deprecated:
        if event.replaced_by is None:
            yield "> **Deprecated.** Stop sending it."
        else:
            target = _text(event.replaced_by)
            link = (
                f"[{target}](#{slugs[event.replaced_by]})" if event.replaced_by in slugs else target
            )
            yield f"> **Deprecated.** Send {link} instead."
    yield _text(one_line(event.description)) if event.description else "*No description.*"
    facts = [
        ("Owner", _text(event.owner) if event.owner else "—"),
        ("Since", f"version {event.since}" if event.since is not None else "—"),
        ("Backfill", _BACKFILL[event.backfill] if event.backfill else "—"),
        ("Used by", ", ".join(_text(u) for u in event.used_by) or "—"),
    ]
    if event.aliases:
        aliases = ", ".join(_code(a, in_table=False) for a in event.aliases)
        facts.append(("Aliases", f"{aliases} (old names, still accepted and renamed to this one)"))
    yield "\n".join(f"- **{label}:** {value}" for label, value in facts)
    if event.versions:
        yield from _versions(event, shared)
        return
    yield _table("property", event.properties, shared) if event.properties else "No properties."


def _versions(event: EventSpec, shared: _Shared) -> Iterator[str]:
    """An event valid in several versions: the common properties, then what each adds."""
    live = live_versions(event)
    labels = ", ".join(_code(v.label, in_table=False) for v in live)
    yield (
        f"Valid in several versions at once (a message matching any live one is valid); "
        f"live: {labels}. Properties of every version:"
    )
    yield _table("property", event.properties, shared) if event.properties else "None."
    for version in event.versions:
        state = "retired: still accepted, reported" if version.deprecated else "live"
        if version == live[0] and not version.deprecated:
            state = "live, current"
        lines = [f"**Version {_code(version.label, in_table=False)}** ({state})."]
        if version.description:
            lines.append(_text(one_line(version.description)))
        yield " ".join(lines)
        if version.properties:
            yield _table("property", version.properties, shared)


def _shared_uses(plan: Plan) -> str:
    """Where each shared property is used, one line each."""
    lines = []
    for name in plan.properties:
        uses = plan.shared_uses(name)
        where = ", ".join(_text(u) for u in uses) if uses else "*not used*"
        lines.append(f"- {_code(name, in_table=False)}: {where}")
    return "\n".join(lines)


def _table(label: str, properties: tuple[PropertySpec, ...], shared: _Shared = _NO_SHARED) -> str:
    rows = [_TABLE_HEAD.format(label)]
    rows.extend(_rows(properties, "", shared))
    return "\n".join(rows)


def _is_use(prop: PropertySpec, shared: _Shared) -> bool:
    return prop.shared is not None and prop.shared in shared.library


def _description(prop: PropertySpec, shared: _Shared) -> str:
    """The description cell: a use of a shared property links to its one definition (and says
    only what this use adds), and old names (aliases) are listed."""
    if _is_use(prop, shared):
        definition = shared.library[str(prop.shared)]
        link = f"Shared: [{_code(str(prop.shared))}](#{shared.slug})."
        own = prop.description if prop.description != definition.description else ""
        return f"{link} {_text(own)}".rstrip()
    parts = [_text(prop.description)] if prop.description else []
    if prop.aliases:
        parts.append("Old names: " + ", ".join(_code(a) for a in prop.aliases) + ".")
    return " ".join(parts)


def _rows(
    properties: tuple[PropertySpec, ...], prefix: str, shared: _Shared = _NO_SHARED
) -> Iterator[str]:
    """One row per property; nested ones follow their parent as `parent.child` or `list[].child`."""
    for prop in ordered_properties(properties):
        path = f"{prefix}{prop.name}"
        description = _description(prop, shared)
        label = sensitive_label(prop)
        if label is not None:
            # Documented, so readers learn it is planned and why it is not in typed code.
            warning = f"**Sensitive ({label}): never send it; left out of generated code.**"
            description = f"{warning} {description}".rstrip()
        cells = [
            _code(path),
            _type_name(prop),
            "yes" if prop.required else "no",
            "" if _is_use(prop, shared) else _allowed(prop),
            description,
        ]
        yield "| " + " | ".join(cells) + " |"
        inner, marker = prop, ""
        while inner.type == "array" and inner.items is not None:
            inner, marker = inner.items, f"{marker}[]"
        if inner.type == "object" and not _is_use(prop, shared):
            yield from _rows(inner.properties, f"{path}{marker}.", shared)


def _type_name(prop: PropertySpec) -> str:
    name = str(prop.type)
    if prop.type == "array" and prop.items is not None:
        name = f"array of {_type_name(prop.items)}"
    return f"{name} or null" if prop.nullable else name


def _allowed(prop: PropertySpec) -> str:
    """Enum values and constraints, in words."""
    facts = []
    if prop.enum is not None:
        facts.append(", ".join(_code(_scalar(v)) for v in prop.enum))
    if prop.minimum is not None and prop.maximum is not None:
        facts.append(f"{_number(prop.minimum)} to {_number(prop.maximum)}")
    elif prop.minimum is not None:
        facts.append(f"≥ {_number(prop.minimum)}")
    elif prop.maximum is not None:
        facts.append(f"≤ {_number(prop.maximum)}")
    if prop.max_length is not None:
        facts.append(f"at most {prop.max_length} characters")
    if prop.format is not None:
        facts.append(f"format {prop.format}")
    if prop.pattern is not None:
        facts.append(f"matches {_code(prop.pattern)}")
    if prop.type == "array" and prop.items is not None:
        item_facts = _allowed(prop.items)
        if item_facts:
            facts.append(f"each item: {item_facts}")
    return "; ".join(facts)


def _pages(plan: Plan, shared: _Shared) -> Iterator[str]:
    yield "## Pages and screens"
    yield "The names `page` and `screen` calls may use."
    for label, names in (("Pages", plan.pages), ("Screens", plan.screens)):
        if names:
            yield f"**{label}:** " + ", ".join(_code(n, in_table=False) for n in names)
    for kind, specs in (("page", plan.page_specs), ("screen", plan.screen_specs)):
        for page in specs.values():
            yield from _page(kind, page, shared)


def _page(kind: str, page: PageSpec, shared: _Shared) -> Iterator[str]:
    """A page (or screen) that plans its properties: checked like an event's, beside the
    reserved ones every call may carry (`url`, `title`, ...)."""
    head = f"**The {kind} {_code(page.name, in_table=False)}.**"
    yield f"{head} {_text(one_line(page.description))}" if page.description else head
    yield (
        _table("property", page.properties, shared)
        if page.properties
        else "No properties beyond the reserved ones."
    )


def _change_log(changes: PlanDiff, since: str) -> Iterator[str]:
    yield "## Change log"
    count = len(changes.changes)
    versions = f"version {changes.old_version} to {changes.new_version}"
    if not count:
        yield f"No changes since {_code(since, in_table=False)} ({versions})."
        return
    yield (
        f"Changes since {_code(since, in_table=False)} ({versions}): {count} change(s), "
        f"{len(changes.breaking)} breaking."
    )
    rows = ["| kind | change | where | what | used by |", "| --- | --- | --- | --- | --- |"]
    for change in changes.changes:
        cells = [
            "**breaking**" if change.kind == "breaking" else "compatible",
            _code(change.code),
            _code(change.path),
            _text(change.message),
            _text(", ".join(change.impact)),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    yield "\n".join(rows)


# -- text -----------------------------------------------------------------------------------


class _Slugs:
    """GitHub's heading anchors: lower case, punctuation dropped, a counter for repeats."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def add(self, heading: str) -> str:
        base = "".join(c for c in heading.lower() if c.isalnum() or c in " -_").replace(" ", "-")
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return f"{base}-{count}" if count else base


def _text(value: str) -> str:
    """Plain text with Markdown's punctuation escaped, so a name renders as written."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(value))


def _code(value: str, *, in_table: bool = True) -> str:
    """A code span; in a table pipes are escaped, as tables split cells on them even in code."""
    text = one_line(value).replace("|", "\\|") if in_table else one_line(value)
    if "`" in text:
        return f"`` {text} ``"
    return f"`{text}`"


def _comment(value: str) -> str:
    return value.replace("--", "- -")


def _scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
