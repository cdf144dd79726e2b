"""TypeScript codegen: an `EventMap` tsc holds every call to, and a dependency-free sender."""

from __future__ import annotations

import json
import re

from trackwell.codegen.common import (
    header,
    left_out_note,
    live_versions,
    one_line,
    ordered_properties,
    page_properties,
    sorted_events,
    without_sensitive,
)
from trackwell.plan.model import EventSpec, Plan, PropertySpec

INDENT = "  "
_SCALARS = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "timestamp": "Timestamp",
}
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

_TIMESTAMP = """\
/** When something happened: a Date, an ISO-8601 string, or Unix seconds or milliseconds. */
export type Timestamp = number | string | Date;
"""
# Everything after the types: configuration and the two senders. It posts the Segment HTTP API
# shape (POST {baseUrl}/v1/track, Basic auth with the write key as user name), which a trackwell
# gateway and every Segment-compatible endpoint accept. It compiles against the default
# libraries of `tsc` (ES5 + DOM), so no Promise constructor and no async functions.
_RUNTIME = """\
/** Where events go: a trackwell gateway or any Segment-compatible HTTP endpoint. */
export interface Config {
  /** Base URL of the endpoint, such as https://events.example.com (no /v1). */
  baseUrl: string;
  /** The source's write key, sent as the user name of HTTP Basic auth. */
  writeKey: string;
  /** The fetch to send with (default: the global one), e.g. to add retries or a proxy. */
  fetch?: typeof fetch;
}

/** Options of one call. */
export interface CallOptions {
  /** When it happened (default: now). */
  timestamp?: Timestamp;
  /** A unique id for this message, so a retried call counts once (default: a random UUID). */
  messageId?: string;
  /** The visitor's anonymous id, merged into the profile when they identify. */
  anonymousId?: string;
}

let settings: Config | undefined;

/** Sets where events are sent; call it once at startup. */
export function configure(config: Config): void {
  settings = {
    baseUrl: config.baseUrl.replace(/\\/+$/, ''),
    writeKey: config.writeKey,
    fetch: config.fetch,
  };
}

/** Sends a planned event; the compiler checks its name and properties against the plan. */
export function trackEvent<T extends EventName>(
  userId: string,
  event: T,
  props: EventMap[T],
  opts: CallOptions = {},
): Promise<void> {
  return send('track', { userId, event, properties: props }, opts);
}

/** Records who a person is, with the traits of the plan. */
export function identify(userId: string, traits: Traits, opts: CallOptions = {}): Promise<void> {
  return send('identify', { userId, traits }, opts);
}

function send(
  kind: 'track' | 'identify',
  fields: { [key: string]: unknown },
  opts: CallOptions,
): Promise<void> {
  if (settings === undefined) {
    throw new Error('trackwell: call configure({ baseUrl, writeKey }) before sending events');
  }
  const body: { [key: string]: unknown } = {
    ...fields,
    timestamp: isoTime(opts.timestamp ?? new Date()),
    messageId: opts.messageId ?? newMessageId(),
  };
  if (opts.anonymousId !== undefined) {
    body.anonymousId = opts.anonymousId;
  }
  // A detached reference: browsers refuse fetch called as a method of another object.
  const post = settings.fetch ?? fetch;
  return post(`${settings.baseUrl}/v1/${kind}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Basic ${btoa(`${settings.writeKey}:`)}`,
    },
    body: JSON.stringify(body),
  }).then((response) => {
    if (!response.ok) {
      throw new Error(`trackwell: POST /v1/${kind} answered HTTP ${response.status}`);
    }
  });
}

function isoTime(value: Timestamp): string {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number') {
    // As the gateway reads them: below 10^11 is Unix seconds, above is milliseconds.
    return new Date(value < 1e11 ? value * 1000 : value).toISOString();
  }
  return value.toISOString();
}

function newMessageId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
"""


def generate_typescript(plan: Plan) -> str:
    """`events.ts` for a plan: the event and trait types, `configure`, `trackEvent`, `identify`;
    properties lint calls sensitive are left out (a comment at the top lists them)."""
    plan, left = without_sensitive(plan)
    first, second = header(plan, "typescript")
    note = "".join(f"// {line}\n" for line in left_out_note(left))
    events = sorted_events(plan)
    event_entries = "".join(_event_entry(event) for event in events)
    # `keyof {}` is never as well, but saying so reads better in an empty plan.
    event_name = "keyof EventMap" if events else "never"
    parts = [
        f"// {first}\n// {second}\n{note}",
        _TIMESTAMP,
        "/** Every planned event, by name, with the properties it carries. */\n"
        f"export type EventMap = {{\n{event_entries}}};\n",
        f"/** The name of a planned event. */\nexport type EventName = {event_name};\n",
        "/** The profile traits of the plan, sent with identify. */\n"
        f"export type Traits = {_object_type(plan.traits, '')};\n",
        *_pages(plan),
        _RUNTIME,
    ]
    return "\n".join(parts)


def _pages(plan: Plan) -> list[str]:
    """`PageMap`, `ScreenMap` and `GroupTraits`, for the plans that have them."""
    parts = []
    for kind, specs in (("page", plan.page_specs), ("screen", plan.screen_specs)):
        if not specs:
            continue
        entries = ""
        for page in sorted(specs.values(), key=lambda p: p.name):
            doc = _doc_comment(INDENT, [one_line(page.description)] if page.description else [])
            props = _object_type(page_properties(kind, page), INDENT)
            entries += f"{doc}{INDENT}{_string(page.name)}: {props};\n"
        parts.append(
            f"/** The {kind}s that plan their properties, by name, with those properties. */\n"
            f"export type {kind.title()}Map = {{\n{entries}}};\n"
        )
    if plan.group_traits is not None:
        parts.append(
            "/** The traits of a group, sent with group. */\n"
            f"export type GroupTraits = {_object_type(plan.group_traits, '')};\n"
        )
    return parts


def _event_entry(event: EventSpec) -> str:
    lines = [one_line(event.description)] if event.description else []
    if event.deprecated:
        replacement = f"Use {_string(event.replaced_by)} instead." if event.replaced_by else ""
        lines.append(f"@deprecated {replacement}".rstrip())
    if event.versions:
        # One object type per live version, newest first: a call may send any of them.
        versions = live_versions(event)
        lines.append("Versions: " + ", ".join(v.label for v in versions) + " (newest first).")
        # A key of another version is typed `?: never`: tsc checks excess keys against a union
        # as a whole, so without it a mix of two versions would pass.
        keys = {p.name for v in versions for p in v.properties}
        props = " | ".join(
            _object_type(
                event.version_properties(v),
                INDENT,
                sorted(keys - {p.name for p in v.properties}),
            )
            for v in versions
        )
    else:
        props = _object_type(event.properties, INDENT)
    doc = _doc_comment(INDENT, lines)
    return f"{doc}{INDENT}{_string(event.name)}: {props};\n"


def _object_type(
    properties: tuple[PropertySpec, ...], indent: str, absent: list[str] | None = None
) -> str:
    """An inline object type; an empty one admits only `{}`. `absent` keys must not be sent."""
    if not properties and not absent:
        return "Record<string, never>"
    inner = indent + INDENT
    members = []
    for prop in ordered_properties(properties):
        doc = _doc_comment(inner, [one_line(prop.description)] if prop.description else [])
        optional = "" if prop.required else "?"
        members.append(f"{doc}{inner}{_key(prop.name)}{optional}: {_type(prop, inner)};\n")
    members.extend(f"{inner}{_key(name)}?: never;\n" for name in absent or ())
    return "{\n" + "".join(members) + f"{indent}}}"


def _type(prop: PropertySpec, indent: str) -> str:
    if prop.enum is not None and any(v is not None for v in prop.enum):
        core = " | ".join(_literal(v) for v in prop.enum if v is not None)
    elif prop.type == "array":
        core = f"Array<{_type(prop.items, indent) if prop.items else 'unknown'}>"
    elif prop.type == "object":
        core = _object_type(prop.properties, indent)
    else:
        core = _SCALARS[prop.type]
    return f"{core} | null" if prop.nullable else core


def _literal(value: str | int | float | bool) -> str:
    if isinstance(value, str):
        return _string(value)
    return json.dumps(value)


def _key(name: str) -> str:
    return name if _IDENTIFIER.fullmatch(name) else _string(name)


def _string(value: str) -> str:
    """A single-quoted TypeScript string literal."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1].replace('\\"', '"').replace("'", "\\'")
    # JSON leaves these two line terminators bare; older JavaScript parsers reject them.
    return "'" + escaped.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "'"


def _doc_comment(indent: str, lines: list[str]) -> str:
    """A JSDoc comment, or nothing when there is nothing to say."""
    lines = [line.replace("*/", "*\\/") for line in lines]
    if not lines:
        return ""
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} * {line}\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"
