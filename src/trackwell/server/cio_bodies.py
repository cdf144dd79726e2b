"""The check that holds a Customer.io body to its schema, naming the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema_rs

from trackwell.server.cio_schemas import OPERATIONS, PERSON_IDS, REF
from trackwell.server.openapi import SCHEMAS  # the document's schemas, as served


class BodyError(ValueError):
    """A body its schema refuses: the field at fault (a dotted path) and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@cache
def _validator(name: str) -> Any:
    """A validator of components schema `name`, its references resolved among the others."""
    return jsonschema_rs.validator_for({"$ref": REF + name, "components": {"schemas": SCHEMAS}})


def _operation_schema(op: Mapping[str, Any]) -> str | None:
    """The schema of a v2 operation by its type and action, or None when none describes it."""
    ids = op.get("identifiers")
    anonymous = isinstance(ids, Mapping) and not any(key in ids for key in PERSON_IDS)
    for name, schema in OPERATIONS.items():
        props = schema["properties"]
        action = props["action"]
        if props["type"]["const"] != op.get("type"):
            continue
        if op.get("action") in action.get("enum", [action.get("const")]):
            if name == "CioPersonEvent" and anonymous and op.get("action") == "event":
                continue  # the anonymous event's schema, next
            return name
    return None


def check(name: str, body: Any, where: str = "") -> None:
    """Raise BodyError, naming the field, unless `body` is valid under schema `name`
    (`CioOperation` picks the operation's own schema by its type and action)."""
    if name == "CioOperation" and isinstance(body, Mapping):
        chosen = _operation_schema(body)
        if chosen is None:
            field = "type" if body.get("type") not in ("person", "object", "delivery") else "action"
            raise BodyError(f"{where}{field}", f"no {body.get('type')!r} operation has this action")
        name = chosen
    error = next(iter(_validator(name).iter_errors(body)), None)
    if error is None:
        return
    steps = [str(step) for step in error.instance_path]
    if error.kind.name == "required":
        steps.append(str(error.kind.as_dict().get("property", "")))
    raise BodyError(f"{where}{'.'.join(steps)}".rstrip("."), _reason(error.kind, name))


def _reason(kind: Any, schema: str) -> str:
    """What a schema error means, never quoting the value (it may be a card number or a key)."""
    details = {key: value for key, value in kind.as_dict().items() if key != "instance"}
    named = kind.name
    if named == "required":
        return "required"
    if named.startswith("oneOf"):
        return "matches none, or more than one, of its forms: name exactly one identifier"
    shown = ", ".join(f"{key} {value}" for key, value in details.items() if key != "context")
    return f"breaks {schema} ({named}{': ' + shown if shown else ''})"
