"""The verdict on one normalised message against a compiled plan."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trackwell.core.ids import new_message_id
from trackwell.core.messages import MESSAGE_TYPES, Message
from trackwell.core.operations import DEVICE_TOKEN_PATHS, TOKEN_OPERATIONS, operation_of
from trackwell.core.violations import CheckResult, Effect, Violation, verdict_of
from trackwell.plan.sensitive import KIND_LABELS
from trackwell.quality.compiled import (
    CompiledEvent,
    CompiledPlan,
    CompiledProperties,
    CompiledVersion,
    SearchBudget,
)
from trackwell.quality.identity import check_identity
from trackwell.quality.properties import (
    PROPERTY_CODES,
    TRAIT_CODES,
    PayloadCodes,
    check_payload,
    renamed,
)
from trackwell.quality.sensitive import (
    Path,
    format_path,
    redact,
    redacted,
    scan,
    seen_clean,
    string_kind,
    value_kind,
)
from trackwell.quality.timing import check_time


class _Work:
    """The message being checked; copied on the first change so the caller's stays as sent."""

    __slots__ = ("message", "owned")

    def __init__(self, message: Message) -> None:
        self.message = message
        self.owned = False

    def own(self) -> Message:
        if not self.owned:
            self.message = self.message.copy()
            self.owned = True
        return self.message


def check_message(
    plan: CompiledPlan,
    message: Message,
    *,
    backfill: bool = False,
    budget: SearchBudget | None = None,
) -> CheckResult:
    """Check one message: identity, sensitive data, the plan, and time.

    The message given is never changed; a repaired copy is returned when the plan's policy
    renames, omits, redacts or clamps something. `backfill` allows stale timestamps. `budget`
    bounds the did-you-mean searches for names not seen before (one request's share).
    """
    shape = _shape(message)
    if shape is not None:
        return CheckResult("blocked", None, [shape])
    named = _sensitive_names(message)
    violations = [] if named else check_identity(message)  # its texts quote the ids
    work = _Work(message)
    operation = operation_of(message.type, message.event)
    sensitive = _sensitive(message)
    if sensitive and operation in TOKEN_OPERATIONS:
        # The push token is what a device call (or a push metric) carries: deliver it intact,
        # nowhere else.
        sensitive = [(p, k) for p, k in sensitive if p not in DEVICE_TOKEN_PATHS]
    if sensitive:
        out = work.own()
        effect: Effect = "block" if plan.plan.policy.sensitive_data == "block" else "repair"
        for path, kind in sensitive:
            redact(_root(out, path[0]), path[1:], kind)
            violations.append(
                Violation(
                    "sensitive_data",
                    format_path(path[1:] if path[0] == "extra" else path),
                    f"{KIND_LABELS[kind]} found; redacted before storage",
                    effect,
                    kind=kind,
                )
            )
    if named:
        return _blocked_for_names(work, named, violations)
    if operation is None:
        # Operations (deletes, suppression, devices) are not tracking-plan events.
        _plan_checks(plan, work, violations, budget)
    time_violations, clamp = check_time(work.message, backfill=backfill)
    if operation is not None:
        # Customer.io's delete, suppress and device calls carry no time (and a metric's is
        # optional): arrival is the action.
        time_violations = [v for v in time_violations if v.code != "missing_timestamp"]
    if clamp:
        out = work.own()
        out.original_timestamp = out.original_timestamp or out.timestamp
        out.timestamp = out.received_at
    violations.extend(time_violations)
    return CheckResult(verdict_of(violations, work.owned), work.message, violations)


# Ids and names, by wire name: a sensitive value here cannot be redacted in place (an id is who
# the message is about, a name is what it means), so the message is blocked.
_NAMED_FIELDS = (
    ("userId", "user_id"),
    ("anonymousId", "anonymous_id"),
    ("groupId", "group_id"),
    ("previousId", "previous_id"),
    ("messageId", "message_id"),
    ("event", "event"),
    ("name", "name"),
)
_MIN_NAMED = 9  # shorter text holds no card, id number or key (as in the value scan)
_MESSAGE_ID = 4


def _sensitive_names(message: Message) -> list[tuple[str, str, str]]:
    """(wire name, attribute, kind) for every id or name that holds sensitive data."""
    # On every message: set lookups for the values seen clean, and calls only for the rest.
    clean = seen_clean
    found: list[tuple[str, str, str]] = []
    for index, value in enumerate(
        (message.user_id, message.anonymous_id, message.group_id, message.previous_id)
    ):
        if type(value) is str and value not in clean and len(value) >= _MIN_NAMED:
            kind = string_kind(value)
            if kind is not None:
                found.append((*_NAMED_FIELDS[index], kind))
    for index, value in ((5, message.event), (6, message.name)):
        if type(value) is str and value not in clean and len(value) >= _MIN_NAMED:
            kind = string_kind(value)
            if kind is not None:
                found.append((*_NAMED_FIELDS[index], kind))
    # A message id is new on every message: remembering it clean would only evict the values
    # that do repeat, so it is looked at afresh (generated ids exit at once).
    mid = message.message_id
    kind = value_kind(mid) if type(mid) is str and len(mid) >= _MIN_NAMED else None
    if kind is not None:
        found.append((*_NAMED_FIELDS[_MESSAGE_ID], kind))
    return found


def _blocked_for_names(
    work: _Work, named: list[tuple[str, str, str]], violations: list[Violation]
) -> CheckResult:
    """Block a message whose id or name is sensitive; the kept copy holds a marker instead, and
    no text quotes the value (the plan's checks, which would quote a name, are skipped)."""
    out = work.own()
    for wire, attribute, kind in named:
        # A message id must stay unique (it is the dedup key): a fresh one, not a marker.
        replacement = new_message_id() if attribute == "message_id" else redacted(kind)
        setattr(out, attribute, replacement)
        violations.append(
            Violation(
                "sensitive_data",
                wire,
                f"{KIND_LABELS[kind]} found in {wire}; the message is blocked, since an id or"
                " a name cannot be redacted without changing what the message means",
                "block",
                kind=kind,
            )
        )
    return CheckResult("blocked", out, violations)


def _shape(message: Message) -> Violation | None:
    """Messages built in Python skip the JSON parser; check the few things it would."""
    if (
        type(message.properties) is dict
        and type(message.traits) is dict
        and type(message.context) is dict
        and message.type in MESSAGE_TYPES
        and (message.type != "track" or (type(message.event) is str and message.event.strip()))
    ):
        return None  # the common case, in one expression
    if message.type not in MESSAGE_TYPES:
        return Violation("malformed", "type", f"unknown message type {message.type!r}", "block")
    for name in ("properties", "traits", "context"):
        if type(getattr(message, name)) is not dict:
            return Violation("malformed", name, f"{name} must be an object", "block")
    return Violation("malformed", "event", "a track call needs an event name", "block")


def _root(message: Message, section: str | int) -> dict[str, Any]:
    return {
        "properties": message.properties,
        "traits": message.traits,
        "context": message.context,
        "extra": message.extra,
        "integrations": message.integrations,
    }[str(section)]


def _sensitive(message: Message) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if message.properties:
        scan(message.properties, ("properties",), found)
    if message.traits:
        scan(message.traits, ("traits",), found)
    if message.context:
        scan(message.context, ("context",), found)
    if message.extra:
        # Unknown top-level fields travel with the message (lossless), so they are scanned too.
        scan(message.extra, ("extra",), found)
    if message.integrations:
        # Per-tool options travel to the tools too (keys, ids, free text).
        scan(message.integrations, ("integrations",), found)
    return found


def _plan_checks(
    plan: CompiledPlan, work: _Work, violations: list[Violation], budget: SearchBudget | None
) -> None:
    message = work.message
    if message.type == "track":
        _track(plan, work, violations, budget)
    elif message.type == "identify":
        _payload(plan, work, plan.traits, "traits", TRAIT_CODES, violations)
    elif message.type in ("page", "screen"):
        _page(plan, work, violations, budget)
    elif message.type == "group" and plan.group is not None:
        # A group call's traits are a partial update too: trait codes and policy.
        _payload(plan, work, plan.group, "traits", TRAIT_CODES, violations)


def _payload(
    plan: CompiledPlan,
    work: _Work,
    compiled: CompiledProperties,
    root: str,
    codes: PayloadCodes,
    violations: list[Violation],
) -> None:
    """Check one payload (`root`: properties or traits) against one set of planned properties,
    renaming old names first."""
    payload, renames = renamed(compiled, getattr(work.message, root), root)
    found, omit = check_payload(compiled, payload, root, codes, plan.plan.policy)
    _apply(work, root, payload, renames, violations)
    violations.extend(found)
    _omit(work, omit)


def _apply(
    work: _Work,
    root: str,
    payload: dict[str, Any],
    renames: list[Violation],
    found: list[Violation],
) -> None:
    """Put a payload with old property names renamed into the message (a repair)."""
    if renames:
        setattr(work.own(), root, payload)
        found.extend(renames)


def _track(
    plan: CompiledPlan, work: _Work, violations: list[Violation], budget: SearchBudget | None
) -> None:
    name = work.message.event or ""
    compiled = plan.events.get(name)
    if compiled is None:
        planned_name = plan.aliases.get(name)
        if planned_name is None:
            suggestion = plan.suggest_event(name, budget)
            hint = f"; did you mean '{suggestion}'?" if suggestion else ""
            effect: Effect = "block" if plan.plan.policy.unplanned_event == "block" else "report"
            violations.append(
                Violation(
                    "unplanned_event",
                    "event",
                    f"'{name}' is not a planned event{hint}",
                    effect,
                    suggestion=suggestion,
                )
            )
            return
        work.own().event = planned_name
        violations.append(
            Violation(
                "aliased_event",
                "event",
                f"'{name}' is an old name of '{planned_name}'; renamed",
                "repair",
                suggestion=planned_name,
            )
        )
        compiled = plan.events[planned_name]
    spec = compiled.spec
    if spec.deprecated:
        replacement = f"; use '{spec.replaced_by}'" if spec.replaced_by else ""
        violations.append(
            Violation(
                "deprecated_event",
                "event",
                f"'{spec.name}' is deprecated{replacement}",
                suggestion=spec.replaced_by,
            )
        )
    if compiled.versions:
        _versioned(plan, work, compiled, violations)
    else:
        _payload(plan, work, compiled.properties, "properties", PROPERTY_CODES, violations)


def _versioned(
    plan: CompiledPlan, work: _Work, compiled: CompiledEvent, violations: list[Violation]
) -> None:
    """Check an event valid in several versions: the first version (live ones first, newest
    first) the properties match; when none matches, the closest one's violations, each naming
    that version. A match of a retired version only is reported (`deprecated_version`)."""
    best: tuple[tuple[int, int], CompiledVersion, dict[str, Any], list[Violation], Any] | None
    best = None
    for version in compiled.versions:
        payload, renames = renamed(version.properties, work.message.properties, "properties")
        found, omit = check_payload(
            version.properties, payload, "properties", PROPERTY_CODES, plan.plan.policy
        )
        # Unplanned keys count: a v2 message sent with v1's extra key fits v1 only.
        score = (sum(v.effect == "block" for v in found), len(found))
        if best is None or score < best[0]:
            best = (score, version, payload, renames, (found, omit))
        if not found:
            break
    assert best is not None  # an event with versions has at least one
    score, version, payload, renames, (found, omit) = best
    label = version.spec.label
    _apply(work, "properties", payload, renames, violations)
    if found:
        found = [replace(v, message=f"{v.message} (closest version: {label})") for v in found]
    violations.extend(found)
    _omit(work, omit)
    if version.spec.deprecated:
        current = compiled.spec.current_version()
        live = current is not None and not current.deprecated
        hint = f"; send {current.label}" if live and current is not None else ""
        violations.append(
            Violation(
                "deprecated_version",
                "properties",
                f"'{compiled.spec.name}' matched {label}, a retired version{hint}",
                suggestion=current.label if live and current is not None else None,
            )
        )


def _omit(work: _Work, paths: list[Path]) -> None:
    if not paths:
        return
    out = work.own()
    # Deepest first, and list indexes from the back, so one removal does not shift another.
    for path in sorted(paths, key=_removal_order, reverse=True):
        container: Any = _root(out, path[0])
        for step in path[1:-1]:
            container = container[step]
        del container[path[-1]]


def _removal_order(path: Path) -> tuple[int, int]:
    last = path[-1]
    return len(path), last if isinstance(last, int) else -1


def _page(
    plan: CompiledPlan, work: _Work, violations: list[Violation], budget: SearchBudget | None
) -> None:
    message = work.message
    allowed = plan.pages if message.type == "page" else plan.screens
    name = message.name or message.properties.get("name")
    if isinstance(name, str) and name in allowed:
        schemas = plan.page_properties if message.type == "page" else plan.screen_properties
        compiled = schemas.get(name)
        if compiled is not None:
            _payload(plan, work, compiled, "properties", PROPERTY_CODES, violations)
        return
    code = f"unplanned_{message.type}"
    effect: Effect = "block" if plan.plan.policy.unplanned_event == "block" else "report"
    suggestion = plan.suggest_page(message.type, name, budget) if isinstance(name, str) else None
    if not isinstance(name, str) or not name:
        planned = ", ".join(sorted(allowed)) or "none"
        text = f"a {message.type} without a name; planned {message.type}s: {planned}"
    else:
        hint = f"; did you mean '{suggestion}'?" if suggestion else ""
        text = f"{message.type} '{name}' is not in the plan's {message.type}s{hint}"
    violations.append(Violation(code, "name", text, effect, suggestion=suggestion))
