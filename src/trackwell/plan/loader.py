"""Reads `tracking-plan.yaml` into a Plan, with errors that name file, line and column."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

from rapidfuzz import process

from trackwell.core.consent import MISSING_CONSENT, ConsentPolicy
from trackwell.plan.lint import SEVERITY
from trackwell.plan.model import (
    DEFAULT_STAGES,
    FORMAT_VERSION,
    PROPERTY_TYPES,
    STRING_FORMATS,
    Conventions,
    EventSpec,
    EventVersion,
    LintAllow,
    Location,
    PageSpec,
    Plan,
    Policy,
    PropertySpec,
    Scalar,
)
from trackwell.plan.yamltree import KeyedMap, Node, YamlError, parse_yaml

# A real plan is tens of kilobytes; anything this large is a mistake or an attack.
MAX_PLAN_BYTES = 2 * 1024 * 1024
# Nested objects deeper than this cannot be delivered anyway (messages cap nesting at 8).
MAX_PROPERTY_DEPTH = 8

TOP_KEYS = (
    "trackwell",
    "name",
    "version",
    "conventions",
    "stages",
    "policy",
    "traits",
    "events",
    "pages",
    "screens",
    "properties",
    "group",
    "lint",
)
EVENT_KEYS = (
    "stage",
    "description",
    "owner",
    "since",
    "backfill",
    "used_by",
    "aliases",
    "deprecated",
    "replaced_by",
    "browser",
    "properties",
    "versions",
)
VERSION_KEYS = ("description", "deprecated", "properties")
PAGE_KEYS = ("description", "properties")
GROUP_KEYS = ("traits",)
LINT_KEYS = ("allow",)
ALLOW_KEYS = ("code", "names", "path", "reason")
# A use of a shared property: its name in the library, and what one use may say differently.
USE_KEYS = ("use", "required", "description")
PROPERTY_KEYS = (
    "type",
    "description",
    "required",
    "nullable",
    "enum",
    "minimum",
    "maximum",
    "pattern",
    "format",
    "max_length",
    "items",
    "properties",
    "aliases",
)
POLICY_CHOICES: dict[str, tuple[str, ...]] = {
    "unplanned_event": ("block", "allow"),
    "unplanned_property": ("block", "omit", "allow"),
    "invalid_property": ("block", "allow"),
    "sensitive_data": ("block", "redact"),
}
POLICY_KEYS = (*POLICY_CHOICES, "consent")
CONSENT_KEYS = ("trait", "missing_consent")
CONVENTION_CHOICES: dict[str, tuple[str, ...]] = {
    "event_case": ("title", "snake"),
    "property_case": ("snake", "camel"),
}
BACKFILL_CHOICES = ("backfilled", "new-only")

T = TypeVar("T")


class Problem:
    """One thing wrong in a plan file, at one place."""

    __slots__ = ("location", "message")

    def __init__(self, location: Location, message: str) -> None:
        self.location = location
        self.message = message

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class PlanLoadError(Exception):
    """A plan file that cannot be loaded; `problems` lists every place that is wrong."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_plan(path: str | Path) -> Plan:
    """Load and check a tracking plan file."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise _fail(
                name,
                f"plan file is {size / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_PLAN_BYTES // 1024 // 1024} MB (a tracking plan lists events, not data)",
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _fail(name, "no such file") from None
    except IsADirectoryError:
        raise _fail(name, "is a directory, not a plan file") from None
    except PermissionError:
        raise _fail(name, "permission denied") from None
    return parse_plan(raw, name)


def parse_plan(source: str | bytes, filename: str = "<plan>") -> Plan:
    """Parse plan text (YAML) into a Plan; raises PlanLoadError."""
    if isinstance(source, bytes):
        if len(source) > MAX_PLAN_BYTES:
            raise _fail(filename, f"plan is larger than {MAX_PLAN_BYTES // 1024 // 1024} MB")
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(filename, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    else:
        text = source
    try:
        root = parse_yaml(text, filename)
    except YamlError as exc:
        raise PlanLoadError([Problem(exc.location, exc.message)]) from None
    if root is None:
        raise _fail(filename, "the plan is empty (expected a map with trackwell, name, events)")
    reader = _PlanReader(filename)
    plan = reader.plan(root)
    if reader.problems:
        raise PlanLoadError(reader.problems)
    return plan


def _fail(filename: str, message: str) -> PlanLoadError:
    return PlanLoadError([Problem(Location(filename, 1, 1), message)])


class _InvalidValueError(Exception):
    """Raised inside the reader to abandon one value after recording its problem."""


class _PlanReader:
    """Walks the YAML nodes and builds the model, recording every problem it meets."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        # The shared property library, read first so every `use:` can be resolved.
        self.shared: dict[str, PropertySpec] = {}
        self.reading_library = False

    # -- helpers -----------------------------------------------------------------

    def problem(self, location: Location, message: str) -> None:
        self.problems.append(Problem(location, message))

    def invalid(self, location: Location, message: str) -> _InvalidValueError:
        self.problem(location, message)
        return _InvalidValueError()

    def mapping(self, node: Node, what: str, allowed: Iterable[str] | None = None) -> KeyedMap:
        if node.kind != "map":
            raise self.invalid(node.location, f"{what}: expected a map, got {node.type_name}")
        items = cast(KeyedMap, node.value)
        for key in items:
            if not isinstance(key, str):
                self.problem(items.key_locations[key], f"{what}: keys must be text, got {key!r}")
        if allowed is not None:
            allowed = tuple(allowed)
            for key, location in items.key_locations.items():
                if isinstance(key, str) and key not in allowed:
                    self.problem(location, _unknown_key_message(what, key, allowed))
        return items

    def scalar(self, node: Node, what: str, kinds: tuple[type, ...], expected: str) -> Any:
        value = node.value
        ok = node.kind == "scalar" and isinstance(value, kinds)
        if ok and isinstance(value, bool) and bool not in kinds:
            ok = False
        if not ok:
            raise self.invalid(node.location, f"{what}: expected {expected}, got {node.type_name}")
        return value

    def text(self, node: Node, what: str, *, allow_empty: bool = False) -> str:
        value = cast(str, self.scalar(node, what, (str,), "text"))
        if not allow_empty and not value.strip():
            raise self.invalid(node.location, f"{what}: must not be empty")
        return value

    def integer(self, node: Node, what: str, minimum: int = 0) -> int:
        value = cast(int, self.scalar(node, what, (int,), "a whole number"))
        if value < minimum:
            raise self.invalid(node.location, f"{what}: must be at least {minimum}, got {value}")
        return value

    def any_text(self, node: Node, what: str) -> str:
        return self.text(node, what, allow_empty=True)

    def positive(self, node: Node, what: str) -> int:
        return self.integer(node, what, 1)

    def boolean(self, node: Node, what: str) -> bool:
        return cast(bool, self.scalar(node, what, (bool,), "true or false"))

    def choice(self, node: Node, what: str, choices: tuple[str, ...]) -> Any:
        value = self.scalar(node, what, (str,), "one of " + ", ".join(choices))
        if value not in choices:
            raise self.invalid(
                node.location,
                f"{what}: unknown value {value!r} (expected one of {', '.join(choices)})",
            )
        return value

    def text_list(self, node: Node, what: str) -> tuple[str, ...]:
        if node.kind != "seq":
            raise self.invalid(node.location, f"{what}: expected a list, got {node.type_name}")
        values: list[str] = []
        for item in cast(list[Node], node.value):
            try:
                value = self.text(item, f"{what} item")
            except _InvalidValueError:
                continue
            if value in values:
                self.problem(item.location, f"{what}: {value!r} is listed twice")
            else:
                values.append(value)
        return tuple(values)

    def optional(self, items: KeyedMap, key: str, read: Callable[[Node], T], default: Any) -> T:
        node = items.get(key)
        if node is None or (node.kind == "scalar" and node.value is None):
            return cast(T, default)  # `key:` with nothing after it means "not set"
        try:
            return read(node)
        except _InvalidValueError:
            return cast(T, default)

    # -- the plan ----------------------------------------------------------------

    def plan(self, root: Node) -> Plan:
        try:
            top = self.mapping(root, "plan", TOP_KEYS)
        except _InvalidValueError:
            return Plan(name="", version=0, source=self.filename)
        self._format_version(top, root.location)
        name = self._required(top, "name", root.location, lambda n: self.text(n, "name"), "")
        version = self._required(
            top, "version", root.location, lambda n: self.integer(n, "version", 1), 0
        )
        conventions = self.optional(top, "conventions", self._conventions, Conventions())
        stages = self.optional(top, "stages", self._stages, DEFAULT_STAGES)
        policy = self.optional(top, "policy", self._policy, Policy())
        self.shared = self.optional(top, "properties", self._library, {})
        traits: tuple[PropertySpec, ...] = self.optional(
            top, "traits", lambda n: self._properties(n, "traits", 0), ()
        )
        events: dict[str, EventSpec] = self.optional(top, "events", self._events, {})
        pages, page_specs = self.optional(
            top, "pages", lambda n: self._pages(n, "pages", "page"), ((), {})
        )
        screens, screen_specs = self.optional(
            top, "screens", lambda n: self._pages(n, "screens", "screen"), ((), {})
        )
        group_traits: tuple[PropertySpec, ...] | None = self.optional(
            top, "group", self._group, None
        )
        lint_allow: tuple[LintAllow, ...] = self.optional(top, "lint", self._lint, ())
        return Plan(
            lint_allow=lint_allow,
            properties=self.shared,
            page_specs=page_specs,
            screen_specs=screen_specs,
            group_traits=group_traits,
            name=name,
            version=version,
            events=events,
            traits=traits,
            conventions=conventions,
            stages=stages,
            policy=policy,
            pages=pages,
            screens=screens,
            source=self.filename,
        )

    def _required(
        self, items: KeyedMap, key: str, where: Location, read: Callable[[Node], T], default: T
    ) -> T:
        node = items.get(key)
        if node is None or (node.kind == "scalar" and node.value is None):
            self.problem(node.location if node else where, f"missing required key {key!r}")
            return default
        return self.optional(items, key, read, default)

    def _format_version(self, top: KeyedMap, where: Location) -> None:
        node = top.get("trackwell")
        if node is None:
            self.problem(
                where, f"missing required key 'trackwell' (the format version: {FORMAT_VERSION})"
            )
            return
        if node.value != FORMAT_VERSION or isinstance(node.value, bool):
            self.problem(
                node.location,
                f"trackwell: unsupported plan format {node.value!r} "
                f"(this trackwell reads format {FORMAT_VERSION})",
            )

    def _choices(
        self,
        node: Node,
        what: str,
        table: dict[str, tuple[str, ...]],
        allowed: tuple[str, ...] | None = None,
    ) -> Any:
        items = self.mapping(node, what, allowed or tuple(table))
        chosen: dict[str, str] = {}
        for key, choices in table.items():
            if key in items:
                try:
                    chosen[key] = self.choice(items[key], f"{what}.{key}", choices)
                except _InvalidValueError:
                    continue
        return chosen

    def _conventions(self, node: Node) -> Conventions:
        return Conventions(**self._choices(node, "conventions", CONVENTION_CHOICES))

    def _policy(self, node: Node) -> Policy:
        chosen = self._choices(node, "policy", POLICY_CHOICES, POLICY_KEYS)
        items = cast(KeyedMap, node.value)
        consent = self.optional(items, "consent", self._consent, None)
        return Policy(**chosen, consent=consent)

    def _consent(self, node: Node) -> ConsentPolicy:
        """`policy.consent`: `missing_consent` must be written out, so what a message without
        consent information means is always a decision, never a default."""
        items = self.mapping(node, "policy.consent", CONSENT_KEYS)
        trait = self.optional(items, "trait", lambda n: self.text(n, "policy.consent.trait"), None)
        if "missing_consent" not in items or items["missing_consent"].value is None:
            raise self.invalid(
                node.location,
                "policy.consent: missing required key 'missing_consent' "
                f"(what a message without consent information means: {', '.join(MISSING_CONSENT)})",
            )
        missing = self.choice(
            items["missing_consent"], "policy.consent.missing_consent", MISSING_CONSENT
        )
        return ConsentPolicy(missing_consent=missing, trait=trait)

    def _lint(self, node: Node) -> tuple[LintAllow, ...]:
        """`lint.allow`: findings accepted on purpose, each naming a known code and one finding."""
        items = self.mapping(node, "lint", LINT_KEYS)
        allow = items.get("allow")
        if allow is None or (allow.kind == "scalar" and allow.value is None):
            return ()
        if allow.kind != "seq":
            raise self.invalid(
                allow.location, f"lint.allow: expected a list, got {allow.type_name}"
            )
        found = []
        for index, entry in enumerate(cast(list[Node], allow.value)):
            try:
                found.append(self._allow(entry, f"lint.allow[{index}]"))
            except _InvalidValueError:
                continue
        return tuple(found)

    def _allow(self, node: Node, what: str) -> LintAllow:
        items = self.mapping(node, what, ALLOW_KEYS)
        code_node = items.get("code")
        if code_node is None:
            raise self.invalid(node.location, f"{what}: missing required key 'code'")
        code = self.text(code_node, f"{what}.code")
        if code not in SEVERITY:
            match = process.extractOne(code, tuple(SEVERITY), score_cutoff=70)
            hint = f"; did you mean {match[0]!r}?" if match else ""
            raise self.invalid(code_node.location, f"{what}.code: unknown lint code {code!r}{hint}")
        names = self.optional(items, "names", lambda n: self.text_list(n, f"{what}.names"), ())
        path = self.optional(items, "path", lambda n: self.text(n, f"{what}.path"), None)
        if bool(names) == (path is not None):
            raise self.invalid(
                node.location, f"{what}: give the finding's names or its path (one of them)"
            )
        # A missing or empty reason is not a load error: the plan still runs, and lint reports
        # the suppression (which then suppresses nothing).
        reason = self.optional(items, "reason", lambda n: self.any_text(n, f"{what}.reason"), "")
        return LintAllow(code, reason.strip(), names, path, node.location)

    def _stages(self, node: Node) -> tuple[str, ...]:
        stages = self.text_list(node, "stages")
        if not stages:
            raise self.invalid(node.location, "stages: list at least one lifecycle stage")
        return stages

    def _events(self, node: Node) -> dict[str, EventSpec]:
        items = self.mapping(node, "events")
        events: dict[str, EventSpec] = {}
        for name, value in items.items():
            if not isinstance(name, str):
                continue
            location = items.key_locations[name]
            if not name.strip():
                self.problem(location, "events: an event name must not be empty")
                continue
            try:
                events[name] = self._event(name, value, location)
            except _InvalidValueError:
                continue
        return events

    def _event(self, name: str, node: Node, location: Location) -> EventSpec:
        what = f"event {name!r}"
        if node.kind == "scalar" and node.value is None:
            return EventSpec(name=name, stage=None, location=location)
        items = self.mapping(node, what, EVENT_KEYS)

        def get(key: str, read: Callable[[Node, str], T], default: Any) -> T:
            return self.optional(items, key, lambda n: read(n, f"{what}: {key}"), default)

        common: tuple[PropertySpec, ...] = get(
            "properties", lambda n, w: self._properties(n, w, 0), ()
        )
        return EventSpec(
            name=name,
            stage=get("stage", self.text, None),
            description=get("description", self.any_text, ""),
            owner=get("owner", self.text, None),
            since=get("since", self.positive, None),
            backfill=get("backfill", lambda n, w: self.choice(n, w, BACKFILL_CHOICES), None),
            used_by=get("used_by", self.text_list, ()),
            aliases=get("aliases", self.text_list, ()),
            deprecated=get("deprecated", self.boolean, False),
            replaced_by=get("replaced_by", self.text, None),
            properties=common,
            browser=get("browser", self.boolean, False),
            versions=get("versions", lambda n, w: self._versions(n, w, common), ()),
            location=location,
        )

    def _versions(
        self, node: Node, what: str, common: tuple[PropertySpec, ...]
    ) -> tuple[EventVersion, ...]:
        """`versions:`: label -> the properties one version adds to the event's own."""
        items = self.mapping(node, what)
        if not items:
            raise self.invalid(node.location, f"{what}: list at least one version")
        common_names = frozenset(p.name for p in common)
        versions: list[EventVersion] = []
        for label, value in items.items():
            if not isinstance(label, str):
                continue
            location = items.key_locations[label]
            if not label.strip():
                self.problem(location, f"{what}: a version label must not be empty")
                continue
            try:
                versions.append(
                    self._version(label, value, location, f"{what} {label!r}", common_names)
                )
            except _InvalidValueError:
                continue
        return tuple(versions)

    def _version(
        self, label: str, node: Node, location: Location, what: str, common: frozenset[str]
    ) -> EventVersion:
        if node.kind == "scalar" and node.value is None:
            return EventVersion(label=label, location=location)
        items = self.mapping(node, what, VERSION_KEYS)

        def get(key: str, read: Callable[[Node, str], T], default: Any) -> T:
            return self.optional(items, key, lambda n: read(n, f"{what}: {key}"), default)

        props: tuple[PropertySpec, ...] = get(
            "properties", lambda n, w: self._properties(n, w, 0), ()
        )
        for prop in props:
            if prop.name in common and prop.location is not None:
                self.problem(
                    prop.location,
                    f"{what}: property {prop.name!r} is already in the event's properties"
                    " (every version has those; move it into each version to change it)",
                )
        return EventVersion(
            label=label,
            description=get("description", self.any_text, ""),
            deprecated=get("deprecated", self.boolean, False),
            properties=props,
            location=location,
        )

    def _library(self, node: Node) -> dict[str, PropertySpec]:
        """`properties:`, the shared library: name -> a full property spec (no `use:` inside)."""
        self.reading_library = True
        try:
            return {p.name: p for p in self._properties(node, "properties", 0)}
        finally:
            self.reading_library = False

    def _pages(
        self, node: Node, what: str, kind: str
    ) -> tuple[tuple[str, ...], dict[str, PageSpec]]:
        """`pages:`/`screens:`: a list of names, or a map of name -> description and properties."""
        if node.kind != "map":
            return self.text_list(node, what), {}
        items = self.mapping(node, what)
        names: list[str] = []
        specs: dict[str, PageSpec] = {}
        for name, value in items.items():
            if not isinstance(name, str):
                continue
            location = items.key_locations[name]
            if not name.strip():
                self.problem(location, f"{what}: a {kind} name must not be empty")
                continue
            names.append(name)
            if value.kind == "scalar" and value.value is None:
                continue  # `Home:` with nothing after it: planned, properties unchecked
            try:
                specs[name] = self._page(name, value, location, f"{kind} {name!r}")
            except _InvalidValueError:
                continue
        return tuple(names), specs

    def _page(self, name: str, node: Node, location: Location, what: str) -> PageSpec:
        items = self.mapping(node, what, PAGE_KEYS)

        def get(key: str, read: Callable[[Node, str], T], default: Any) -> T:
            return self.optional(items, key, lambda n: read(n, f"{what}: {key}"), default)

        return PageSpec(
            name=name,
            description=get("description", self.any_text, ""),
            properties=get("properties", lambda n, w: self._properties(n, w, 0), ()),
            location=location,
        )

    def _group(self, node: Node) -> tuple[PropertySpec, ...]:
        """`group:`: the traits a group call may carry."""
        fields = self.mapping(node, "group", GROUP_KEYS)
        return self.optional(
            fields, "traits", lambda n: self._properties(n, "group: traits", 0), ()
        )

    def _properties(self, node: Node, what: str, depth: int) -> tuple[PropertySpec, ...]:
        if node.kind == "scalar" and node.value is None:
            return ()
        items = self.mapping(node, what)
        specs: list[PropertySpec] = []
        for name, value in items.items():
            if not isinstance(name, str):
                continue
            location = items.key_locations[name]
            if not name.strip():
                self.problem(location, f"{what}: a property name must not be empty")
                continue
            try:
                specs.append(self._property(name, value, location, depth))
            except _InvalidValueError:
                continue
        return tuple(specs)

    def _property(self, name: str, node: Node, location: Location, depth: int) -> PropertySpec:
        what = f"property {name!r}"
        if depth >= MAX_PROPERTY_DEPTH:
            raise self.invalid(location, f"{what}: nested deeper than {MAX_PROPERTY_DEPTH} levels")
        if node.kind == "scalar" and isinstance(node.value, str):
            # Shorthand: `plan_name: string`.
            return PropertySpec(name=name, type=self._type(node, what), location=location)
        if node.kind == "map" and "use" in cast(KeyedMap, node.value):
            return self._use(name, node, location, what)
        items = self.mapping(node, what, PROPERTY_KEYS)
        if "type" not in items:
            raise self.invalid(
                node.location, f"{what}: missing 'type' (one of {', '.join(PROPERTY_TYPES)})"
            )
        type_ = self._type(items["type"], what)

        def get(key: str, read: Callable[[Node, str], T], default: Any) -> T:
            return self.optional(items, key, lambda n: read(n, f"{what}: {key}"), default)

        spec = PropertySpec(
            name=name,
            type=type_,
            description=get("description", self.any_text, ""),
            required=get("required", self.boolean, False),
            nullable=get("nullable", self.boolean, False),
            enum=get("enum", lambda n, _: self._enum(n, what, type_), None),
            minimum=get("minimum", self._number, None),
            maximum=get("maximum", self._number, None),
            pattern=get("pattern", self._pattern, None),
            format=get("format", lambda n, w: self.choice(n, w, STRING_FORMATS), None),
            max_length=get("max_length", self.positive, None),
            items=get("items", lambda n, _: self._items(n, what, depth), None),
            properties=get("properties", lambda n, w: self._properties(n, w, depth + 1), ()),
            aliases=get("aliases", self.text_list, ()),
            location=location,
        )
        self._constraints_fit(spec, items, what)
        if spec.aliases and depth > 0:
            self.problem(
                items.key_locations["aliases"],
                f"{what}: aliases apply to top-level properties only (renames of nested keys"
                " are not tracked)",
            )
        if name in spec.aliases:
            self.problem(items.key_locations["aliases"], f"{what}: an alias equals the name")
        return spec

    def _use(self, name: str, node: Node, location: Location, what: str) -> PropertySpec:
        """`name: {use: shared_name, required: ..., description: ...}`: a shared property."""
        items = self.mapping(node, what, USE_KEYS)
        if self.reading_library:
            raise self.invalid(
                items.key_locations["use"],
                f"{what}: a shared property cannot use another; write its spec out",
            )
        ref = self.text(items["use"], f"{what}: use")
        definition = self.shared.get(ref)
        if definition is None:
            known = tuple(self.shared)
            match = process.extractOne(ref, known, score_cutoff=70) if known else None
            hint = f"; did you mean {match[0]!r}?" if match else ""
            listed = ", ".join(known) if known else "none are defined"
            raise self.invalid(
                items["use"].location,
                f"{what}: uses undefined shared property {ref!r} (the top-level 'properties:'"
                f" defines: {listed}){hint}",
            )

        def get(key: str, read: Callable[[Node, str], T], default: Any) -> T:
            return self.optional(items, key, lambda n: read(n, f"{what}: {key}"), default)

        return replace(
            definition,
            name=name,
            required=get("required", self.boolean, definition.required),
            description=get("description", self.any_text, definition.description),
            shared=ref,
            location=location,
        )

    def _type(self, node: Node, what: str) -> Any:
        value = node.value
        if node.kind != "scalar" or not isinstance(value, str) or value not in PROPERTY_TYPES:
            shown = repr(value) if node.kind == "scalar" else node.type_name
            hint = _TYPE_HINTS.get(str(value).lower()) if node.kind == "scalar" else None
            hint_text = f"; did you mean {hint!r}?" if hint else ""
            expected = ", ".join(PROPERTY_TYPES)
            raise self.invalid(
                node.location,
                f"{what}: unknown type {shown} (expected one of {expected}){hint_text}",
            )
        return value

    def _number(self, node: Node, what: str) -> float:
        return cast(float, self.scalar(node, what, (int, float), "a number"))

    def _pattern(self, node: Node, what: str) -> str:
        value = self.text(node, f"{what}: pattern")
        try:
            re.compile(value)
        except re.error as exc:
            raise self.invalid(
                node.location, f"{what}: pattern is not a valid regular expression: {exc}"
            ) from None
        return value

    def _enum(self, node: Node, what: str, type_: str) -> tuple[Scalar, ...]:
        if node.kind != "seq" or not node.value:
            raise self.invalid(
                node.location, f"{what}: enum must be a non-empty list of allowed values"
            )
        kinds = _ENUM_KINDS.get(type_)
        if kinds is None:
            raise self.invalid(node.location, f"{what}: enum is not allowed on type {type_!r}")
        values: list[Scalar] = []
        for item in cast(list[Node], node.value):
            try:
                value = self.scalar(item, f"{what}: enum value", kinds, f"a {type_} value")
            except _InvalidValueError:
                continue
            if value in values:
                self.problem(item.location, f"{what}: enum value {value!r} is listed twice")
            else:
                values.append(value)
        return tuple(values)

    def _items(self, node: Node, what: str, depth: int) -> PropertySpec:
        return self._property("items", node, node.location, depth + 1)

    def _constraints_fit(self, spec: PropertySpec, items: KeyedMap, what: str) -> None:
        def misplaced(key: str, allowed_types: str) -> None:
            self.problem(
                items.key_locations[key],
                f"{what}: {key!r} applies only to {allowed_types}, not {spec.type}",
            )

        numeric = spec.type in ("integer", "number", "timestamp")
        for key in ("minimum", "maximum"):
            if key in items and not numeric:
                misplaced(key, "integer, number and timestamp")
        for key in ("pattern", "format", "max_length"):
            if key in items and spec.type != "string":
                misplaced(key, "string")
        if "items" in items and spec.type != "array":
            misplaced("items", "array")
        if "properties" in items and spec.type != "object":
            misplaced("properties", "object")
        if spec.type == "array" and spec.items is None and "items" not in items:
            self.problem(
                items.key_locations["type"],
                f"{what}: an array needs 'items' (the type of its elements)",
            )
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            self.problem(
                items.key_locations["minimum"],
                f"{what}: minimum {spec.minimum} is above maximum {spec.maximum}",
            )


_ENUM_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
# Names people write for the types in other tools, so the error can say what they meant.
_TYPE_HINTS = {
    "int": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "bool": "boolean",
    "str": "string",
    "text": "string",
    "datetime": "timestamp",
    "date": "timestamp",
    "time": "timestamp",
    "list": "array",
    "dict": "object",
    "map": "object",
}


def _unknown_key_message(what: str, key: str, allowed: tuple[str, ...]) -> str:
    match = process.extractOne(key, allowed, score_cutoff=70)
    hint = f"; did you mean {match[0]!r}?" if match else ""
    return f"{what}: unknown key {key!r} (expected one of {', '.join(allowed)}){hint}"
