"""Python codegen: TypedDicts and an `Events` class that mypy and pyright hold to the plan."""

from __future__ import annotations

import itertools
import keyword
import re
import unicodedata
from dataclasses import dataclass

from trackwell.codegen import pysource as src
from trackwell.codegen.common import (
    Names,
    header,
    left_out_note,
    live_versions,
    one_line,
    ordered_properties,
    page_properties,
    sorted_events,
    without_sensitive,
)
from trackwell.plan import naming
from trackwell.plan.model import EventSpec, Plan, PropertySpec, Scalar

_SCALARS = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "timestamp": "Timestamp",
}
# Names every generated method uses for itself; a property called so gets a trailing `_`.
_METHOD_NAMES = frozenset(
    {"self", "user_id", "anonymous_id", "timestamp", "message_id", "properties", "traits"}
)
# Names the module imports or defines itself; generated types must not take them.
_MODULE_NAMES = frozenset(
    {
        "TYPE_CHECKING", "EventName", "Events", "Literal", "Mapping", "Never", "NotRequired",
        "Required", "Timestamp", "TrackingClient", "Traits", "TypedDict", "deprecated",
        "overload",
    }
)  # fmt: skip
_TYPING_ORDER = (
    "TYPE_CHECKING", "Literal", "Never", "NotRequired", "Required", "TypedDict", "overload",
)  # fmt: skip
# The keyword arguments every call passes through to the client unchanged.
_OPTIONS = (
    ("anonymous_id", "str | None"),
    ("timestamp", "Timestamp | None"),
    ("message_id", "str | None"),
)
_IDENTIFIERS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Parameters and statements of a method sit two levels in.
_IN_METHOD = src.INDENT * 2


@dataclass(frozen=True, slots=True)
class _Field:
    """One property as the module spells it: the key sent, its parameter and annotation."""

    spec: PropertySpec
    param: str
    annotation: str

    @property
    def key(self) -> str:
        return self.spec.name

    @property
    def qualifier(self) -> str:
        return "Required" if self.spec.required else "NotRequired"

    @property
    def param_annotation(self) -> str:
        # An optional property left at None is not sent, so its parameter accepts None.
        if self.spec.required or self.spec.nullable:
            return self.annotation
        return f"{self.annotation} | None"

    def parameter(self) -> str:
        default = None if self.spec.required else "None"
        return src.parameter(_IN_METHOD, self.param, self.param_annotation, default)


@dataclass(frozen=True, slots=True)
class _Event:
    """A planned event with the identifiers the module gives it."""

    spec: EventSpec
    method: str
    typeddict: str
    fields: list[_Field]
    # The TypedDict the event's method builds: `typeddict` itself, or for an event with
    # versions the current version's (`typeddict` is then the union of the live ones).
    built: str = ""

    @property
    def body_typeddict(self) -> str:
        return self.built or self.typeddict

    @property
    def has_required(self) -> bool:
        return any(f.spec.required for f in self.fields)


def generate_python(plan: Plan) -> str:
    """The typed helper module for a plan, formatted as `ruff format` leaves it; properties lint
    calls sensitive are left out (a comment at the top lists them)."""
    stripped, left = without_sensitive(plan)
    return _Module(stripped, left).render()


class _Module:
    """Builds the module: type definitions in dependency order, then the `Events` class."""

    def __init__(self, plan: Plan, left_out: list[str]) -> None:
        self.plan = plan
        self.left_out = left_out
        self.types = Names(_MODULE_NAMES, separator="")
        self.definitions: list[str] = []
        self.typing = {"TYPE_CHECKING", "TypedDict"}
        # One type per shared property, named after it, whatever uses it.
        self.shared: dict[str, str] = {}

    def render(self) -> str:
        names = [e.name for e in sorted_events(self.plan)]
        if names:
            self.typing.add("Literal")
            literals = [src.string(name) for name in names]
            event_name = src.literal_alias("EventName", literals)
        else:
            self.typing.add("Never")
            event_name = "EventName = Never"
        self.definitions.append(event_name)
        traits = self.fields(self.plan.traits, "Traits", with_params=True)
        self.typeddict("Traits", traits, "The profile traits of the plan, sent with identify.")
        events = self.events()
        self.pages()
        definitions = [*self.definitions, self.events_class(events, traits)]
        body = definitions[0]
        for before, after in itertools.pairwise(definitions):
            # Classes take two blank lines around them; type aliases read better closer.
            apart = before.startswith("class ") or after.startswith("class ")
            body += ("\n\n\n" if apart else "\n\n") + after
        return f"{self.preamble(events)}\n\n\n{body}\n"

    # -- types ------------------------------------------------------------------------------

    def events(self) -> list[_Event]:
        methods = Names()
        named = []
        for spec in sorted_events(self.plan):
            method = methods.claim(_method_name(spec.name))
            named.append((spec, method, self.types.claim(f"{_pascal(method)}Properties")))
        events = []
        for spec, method, typeddict in named:
            if spec.versions:
                events.append(self.versioned(spec, method, typeddict))
                continue
            fields = self.fields(spec.properties, _pascal(method), with_params=True)
            doc = f"The properties of {_quoted(spec.name)}."
            self.typeddict(typeddict, fields, doc)
            events.append(_Event(spec, method, typeddict, fields))
        return events

    def versioned(self, spec: EventSpec, method: str, union: str) -> _Event:
        """An event valid in several versions: a TypedDict per live version, their union for
        `track`, and the method typed to the current version."""
        current = spec.current_version()
        members: list[str] = []
        built, built_fields = "", []
        for version in live_versions(spec):
            owner = _pascal(method) + (naming.to_pascal(version.label) or "Version")
            name = self.types.claim(f"{owner}Properties")
            fields = self.fields(spec.version_properties(version), owner, with_params=True)
            doc = f"The properties of {_quoted(spec.name)}, version {version.label}."
            self.typeddict(name, fields, doc)
            members.append(name)
            if version == current or not built:
                built, built_fields = name, fields
        self.definitions.append(src.alias(union, " | ".join(members)))
        return _Event(spec, method, union, built_fields, built)

    def pages(self) -> None:
        """TypedDicts for the properties of the pages and screens that plan them, and for the
        group traits: for `client.page`, `client.screen` and `client.group`."""
        for kind, specs in (("page", self.plan.page_specs), ("screen", self.plan.screen_specs)):
            for page in sorted(specs.values(), key=lambda p: p.name):
                base = (naming.to_pascal(page.name) or "Unnamed") + kind.title()
                name = self.types.claim(f"{base}Properties")
                fields = self.fields(page_properties(kind, page), base, with_params=False)
                summary = one_line(page.description)
                doc = f"The properties of the {kind} {_quoted(page.name)}." + (
                    f" {summary}" if summary else ""
                )
                self.typeddict(name, fields, doc)
        if self.plan.group_traits is not None:
            name = self.types.claim("GroupTraits")
            fields = self.fields(self.plan.group_traits, name, with_params=False)
            self.typeddict(name, fields, "The traits of a group, sent with group.")

    def fields(
        self, properties: tuple[PropertySpec, ...], owner: str, *, with_params: bool
    ) -> list[_Field]:
        params = Names()
        fields = []
        for prop in ordered_properties(properties):
            base = owner + (naming.to_pascal(prop.name) or "Value")
            annotation = self.annotation(prop, base, f"The {_quoted(prop.name)} object.")
            field = _Field(prop, params.claim(_param_name(prop.name)), annotation)
            if _too_long(field, with_params):
                # Only a bare name is left alone by the formatter; name the type to get one.
                name = self.types.claim(base)
                self.definitions.append(src.alias(name, field.annotation))
                field = _Field(prop, field.param, name)
            fields.append(field)
        return fields

    def annotation(self, prop: PropertySpec, base: str, what: str) -> str:
        """The annotation of a property, defining the aliases and TypedDicts it needs first.

        `base` names what needs a name (an enum, an object); `what` describes an object
        that has no description of its own.
        """
        if prop.shared is not None:
            core = self.shared.get(prop.shared)
            if core is None:
                shared_base = naming.to_pascal(prop.shared) or base
                core = self.shared[prop.shared] = self.core_type(prop, shared_base, what)
        else:
            core = self.core_type(prop, base, what)
        return f"{core} | None" if prop.nullable else core

    def core_type(self, prop: PropertySpec, base: str, what: str) -> str:
        values = _literal_values(prop)
        if values is not None:
            self.typing.add("Literal")
            name = self.types.claim(base)
            self.definitions.append(src.literal_alias(name, values))
            return name
        if prop.type == "array":
            if prop.items is None:
                return "list[object]"
            # Items of items keep the outer description: "items" names nothing to a reader.
            item_what = what if prop.name == "items" else f"An item of {_quoted(prop.name)}."
            return f"list[{self.annotation(prop.items, f'{base}Item', item_what)}]"
        if prop.type == "object":
            name = self.types.claim(base)
            doc = one_line(prop.description) or what
            self.typeddict(name, self.fields(prop.properties, name, with_params=False), doc)
            return name
        return _SCALARS[prop.type]

    def typeddict(self, name: str, fields: list[_Field], doc: str) -> None:
        self.typing.update(f.qualifier for f in fields)
        if all(_fits_class_syntax(f, fields) for f in fields):
            self.definitions.append(_typeddict_class(name, fields, doc))
        else:
            self.definitions.append(_typeddict_call(name, fields, doc))

    # -- the Events class -------------------------------------------------------------------

    def events_class(self, events: list[_Event], traits: list[_Field]) -> str:
        summary = "Typed calls for every planned event, sent through a client."
        lines = [
            "class Events:",
            src.docstring(src.INDENT, [[summary]]),
            "",
            f'{src.INDENT}__slots__ = ("_client",)',
            "",
            f'{src.INDENT}def __init__(self, client: "TrackingClient") -> None:',
            f"{_IN_METHOD}self._client = client",
        ]
        methods = [*self.track_methods(events), self.identify_method(traits)]
        methods += [self.event_method(event, events) for event in events]
        return "\n\n".join(["\n".join(lines), *methods])

    def track_methods(self, events: list[_Event]) -> list[str]:
        call = _client_call("track", ["user_id", "event", "properties"])
        if len(events) == 1:
            (event,) = events
            signature = _track_signature(event, deprecation=_deprecation(event, events))
            return [f"{signature}:\n{_track_doc()}\n{call}"]
        if events:
            self.typing.add("overload")
        methods = [
            _track_signature(e, deprecation=_deprecation(e, events), stub=True) for e in events
        ]
        params = [
            "self",
            "user_id: str | None",
            "event: EventName",
            "properties: Mapping[str, object] | None = None",
        ]
        signature = _signature("track", params, _options())
        methods.append(f"{signature}:\n{_track_doc()}\n{call}")
        return methods

    def identify_method(self, fields: list[_Field]) -> str:
        signature = _signature("identify", ["self", "user_id: str | None"], _keywords(fields))
        doc = _method_doc("Record who a person is, with the traits of the plan.", fields)
        body = _collect("traits", "Traits", fields)
        call = _client_call("identify", ["user_id", "traits"])
        return f"{signature}:\n{doc}\n{body}\n{call}"

    def event_method(self, event: _Event, events: list[_Event]) -> str:
        spec = event.spec
        deprecation = _deprecation(event, events)
        summary = one_line(spec.description) or f"Track {_quoted(spec.name)}."
        signature = _signature(
            event.method, ["self", "user_id: str | None"], _keywords(event.fields)
        )
        if deprecation:
            signature = f"{_deprecated_decorator(deprecation)}\n{signature}"
        doc = _method_doc(summary, event.fields, deprecation)
        body = _collect("properties", event.body_typeddict, event.fields)
        call = _client_call("track", ["user_id", src.string(spec.name), "properties"])
        return f"{signature}:\n{doc}\n{body}\n{call}"

    # -- imports ----------------------------------------------------------------------------

    def preamble(self, events: list[_Event]) -> str:
        first, second = header(self.plan, "python")
        summary = (
            f"Typed tracking helpers for the plan {_quoted(one_line(self.plan.name))}, "
            f"version {self.plan.version}."
        )
        usage = [
            "Build `Events(client)` with a trackwell client (anything shaped like",
            "`trackwell.interfaces.TrackingClient`), then call one method per event, or",
            "`track` with the event's name and properties.",
        ]
        stdlib = []
        if len(events) != 1:
            stdlib.append("from collections.abc import Mapping")
        names = [name for name in _TYPING_ORDER if name in self.typing]
        stdlib.append(src.import_from("typing", names))
        third_party = ["from trackwell.interfaces import Timestamp"]
        if any(e.spec.deprecated for e in events):
            third_party.append("from typing_extensions import deprecated")
        return "\n".join(
            [
                f"# {first}",
                f"# {second}",
                *(f"# {line}" for line in left_out_note(self.left_out)),
                src.docstring("", [[summary], usage]),
                "",
                *stdlib,
                "",
                *third_party,
                "",
                "if TYPE_CHECKING:",
                f"{src.INDENT}from trackwell.interfaces import TrackingClient",
            ]
        )


# -- names ----------------------------------------------------------------------------------


def _snake_identifier(name: str) -> str | None:
    """A snake_case identifier for a name, or None when the name has nothing to build one from.

    A name already in snake case is kept as written (`plan_v2`, not `plan_v_2`). Only hard
    keywords get a trailing underscore: soft ones differ between Python versions, and the
    generated code must not.
    """
    kept = name.isidentifier() and name.islower() and unicodedata.normalize("NFKC", name) == name
    ident = name if kept else naming.to_snake(name)
    if not ident:
        return None
    if ident[0].isdigit():
        ident = f"_{ident}"
    return f"{ident}_" if keyword.iskeyword(ident) else ident


def _method_name(event_name: str) -> str:
    ident = _snake_identifier(event_name) or "event"
    # A leading underscore would make the method private to linters and pyright.
    if ident.startswith("_"):
        return f"event{ident}"
    return f"{ident}_" if ident in ("track", "identify") else ident


def _pascal(identifier: str) -> str:
    return naming.to_pascal(identifier) or "Event"


def _param_name(key: str) -> str:
    ident = _snake_identifier(key) or "value"
    return f"{ident}_" if ident in _METHOD_NAMES else ident


def _quoted(name: str) -> str:
    return f'"{name}"'


# -- types ----------------------------------------------------------------------------------


def _literal_values(prop: PropertySpec) -> list[str] | None:
    """The `Literal[...]` members of an enum, or None when Python cannot spell them."""
    if prop.enum is None:
        return None
    values = [v for v in prop.enum if v is not None]
    # Literal takes str, int and bool only; a number enum with fractions stays `float`.
    if not values or any(isinstance(v, float) for v in values):
        return None
    return [_literal(v) for v in values]


def _literal(value: Scalar) -> str:
    if isinstance(value, str):
        return src.string(value)
    return repr(value)


def _too_long(field: _Field, with_params: bool) -> bool:
    if src.is_bare(field.annotation):
        return False
    # Fields are written at most two levels deep, split after `Required[` when long.
    inner = f"{src.INDENT * 3}{field.annotation}"
    return not src.fits(inner) or (with_params and not src.fits(field.parameter()))


def _fits_class_syntax(field: _Field, fields: list[_Field]) -> bool:
    """Whether a key can be written as a class attribute and read back unchanged."""
    key = field.key
    if not key.isidentifier() or keyword.iskeyword(key) or key.startswith("__"):
        return False
    if unicodedata.normalize("NFKC", key) != key:
        return False
    # An attribute named like a type the class uses would shadow that type.
    used = {"Required", "NotRequired"}
    for other in fields:
        used.update(_IDENTIFIERS.findall(other.annotation))
    return key not in used


def _typeddict_class(name: str, fields: list[_Field], doc: str) -> str:
    lines = [src.class_header(name, "TypedDict"), src.docstring(src.INDENT, [[doc]])]
    if fields:
        lines.append("")
    for field in fields:
        head = f"{field.key}: "
        lines.append(src.subscript(src.INDENT, head, field.qualifier, field.annotation))
        if field.spec.description:
            lines.append(src.docstring(src.INDENT, [[one_line(field.spec.description)]]))
    return "\n".join(lines)


def _typeddict_call(name: str, fields: list[_Field], doc: str) -> str:
    # Keys that are not identifiers (or are keywords) need the functional form.
    entries = []
    for field in fields:
        comment = one_line(field.spec.description)
        prefix = f"{_IN_METHOD}# {comment}\n" if comment else ""
        head = f"{src.string(field.key)}: "
        entry = src.subscript(_IN_METHOD, head, field.qualifier, field.annotation, ",")
        entries.append(prefix + entry)
    body = "\n".join(entries)
    call = (
        f"TypedDict(\n{src.INDENT}{src.string(name)},\n{src.INDENT}{{\n{body}\n{src.INDENT}}},\n)"
    )
    return f"# {doc}\n{src.assign(name, call)}"


# -- methods --------------------------------------------------------------------------------


def _signature(name: str, positional: list[str], keywords: list[str], stub: bool = False) -> str:
    params = "".join(f"{_IN_METHOD}{p},\n" for p in positional)
    params += f"{_IN_METHOD}*,\n" + "".join(f"{k}\n" for k in keywords)
    end = ": ..." if stub else ""
    return f"{src.INDENT}def {name}(\n{params}{src.INDENT}) -> None{end}"


def _options() -> list[str]:
    return [src.parameter(_IN_METHOD, name, type_, "None") for name, type_ in _OPTIONS]


def _keywords(fields: list[_Field]) -> list[str]:
    return [f.parameter() for f in fields] + _options()


def _track_signature(event: _Event, *, deprecation: str | None, stub: bool = False) -> str:
    literal = src.string(event.spec.name)
    event_param = src.subscript(_IN_METHOD, "event: ", "Literal", literal, ",")
    if event.has_required:
        properties = src.parameter(_IN_METHOD, "properties", event.typeddict)
    else:
        annotation = f"{event.typeddict} | None"
        properties = src.parameter(_IN_METHOD, "properties", annotation, "None")
    signature = (
        f"{src.INDENT}def track(\n{_IN_METHOD}self,\n{_IN_METHOD}user_id: str | None,\n"
        f"{event_param}\n{properties}\n{_IN_METHOD}*,\n"
        + "".join(f"{option}\n" for option in _options())
        + f"{src.INDENT}) -> None{': ...' if stub else ''}"
    )
    decorators = [f"{src.INDENT}@overload"] if stub else []
    if deprecation:
        decorators.append(_deprecated_decorator(deprecation))
    return "\n".join([*decorators, signature])


def _track_doc() -> str:
    summary = "Send a planned event with its properties, checked against the plan."
    return src.docstring(_IN_METHOD, [[summary]])


def _deprecation(event: _Event, events: list[_Event]) -> str | None:
    spec = event.spec
    if not spec.deprecated:
        return None
    # Type checkers print the message after the deprecated name, so it need not repeat it.
    replacement = next((e for e in events if e.spec.name == spec.replaced_by), None)
    if replacement is None:
        return "No longer in the tracking plan."
    return f"Use {_quoted(replacement.spec.name)} (Events.{replacement.method}) instead."


def _deprecated_decorator(message: str) -> str:
    return src.single_argument_call(src.INDENT, "@deprecated", src.string(message))


def _method_doc(summary: str, fields: list[_Field], deprecation: str | None = None) -> str:
    paragraphs = [[summary]]
    if deprecation:
        paragraphs.append([f"Deprecated: {deprecation}"])
    described = [f for f in fields if f.spec.description]
    if described:
        args = [f"{src.INDENT}{f.param}: {one_line(f.spec.description)}" for f in described]
        paragraphs.append(["Args:", *args])
    return src.docstring(_IN_METHOD, paragraphs)


def _collect(variable: str, typeddict: str, fields: list[_Field]) -> str:
    """The body lines that build the dict sent: required keys, then each optional one given."""
    entries = [f"{src.string(f.key)}: {f.param}" for f in fields if f.spec.required]
    head = f"{variable}: {typeddict} = "
    lines = [src.exploded(_IN_METHOD, head, entries, "", "{}")]
    for field in fields:
        if not field.spec.required:
            lines.append(src.if_not_none(_IN_METHOD, field.param))
            key = src.string(field.key)
            lines.append(src.item_assignment(_IN_METHOD + src.INDENT, variable, key, field.param))
    return "\n".join(lines)


def _client_call(method: str, arguments: list[str]) -> str:
    passed = [*arguments, *(f"{name}={name}" for name, _ in _OPTIONS)]
    return src.exploded(_IN_METHOD, f"self._client.{method}", passed, "", "()")
