"""Customer.io Track API requests (v1 and v2) as Segment-spec messages.

Calls without a Segment equivalent become the track events Customer.io's own Data Pipelines
use for them ("semantic events": `User Deleted`, `Device Created or Updated`, ...), so they are
checked against the plan like everything else instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Customer.io names for the calls that have no Segment message type.
DEVICE_UPDATED = "Device Created or Updated"
DEVICE_DELETED = "Device Deleted"
USER_DELETED = "User Deleted"
USER_SUPPRESSED = "User Suppressed"
USER_UNSUPPRESSED = "User Unsuppressed"
RELATIONSHIP_DELETED = "Relationship Deleted"
OBJECT_DELETED = "Object Deleted"
DELIVERY_EVENT = "Report Delivery Event"
# Identify attributes that steer Customer.io rather than describe the person.
RESERVED_ATTRIBUTES = frozenset(["anonymous_id", "_update", "cio_relationships", "timestamp"])
PERSON_IDS = ("id", "email", "cio_id", "phone")

Message = dict[str, Any]


class MapError(ValueError):
    """A request that cannot be mapped: the field at fault and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _object(body: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MapError(f"{where}{key}", "expected an object")
    return value


def _name(body: Mapping[str, Any], where: str) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MapError(f"{where}name", "an event needs a name")
    return name.strip()  # Customer.io trims event names


def _common(body: Mapping[str, Any]) -> Message:
    """messageId from `id`, action time from `timestamp` (Unix seconds)."""
    out: Message = {}
    if isinstance(body.get("id"), str | int) and not isinstance(body.get("id"), bool):
        out["messageId"] = str(body["id"])
    if body.get("timestamp") is not None:
        out["timestamp"] = body["timestamp"]
    return out


def identify(person: str, body: Mapping[str, Any], where: str = "") -> list[Message]:
    """PUT /api/v1/customers/{id}: attributes become traits; relationships become groups."""
    traits = {k: v for k, v in body.items() if k not in RESERVED_ATTRIBUTES}
    message: Message = {"type": "identify", "userId": person, "traits": traits}
    if isinstance(body.get("anonymous_id"), str) and body["anonymous_id"]:
        message["anonymousId"] = body["anonymous_id"]  # ties the cookie's history to the person
    if body.get("timestamp") is not None:
        message["timestamp"] = body["timestamp"]
    return [message, *_relationships(person, body.get("cio_relationships"), where)]


def _relationships(person: str, value: Any, where: str) -> list[Message]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MapError(f"{where}cio_relationships", "expected an array")
    groups = []
    for index, relation in enumerate(value):
        path = f"{where}cio_relationships[{index}]."
        if not isinstance(relation, dict):
            raise MapError(path.rstrip("."), "expected an object")
        ids = _object(relation, "identifiers", path)
        group_id = ids.get("object_id") or ids.get("cio_object_id")
        if not isinstance(group_id, str | int) or isinstance(group_id, bool) or group_id == "":
            raise MapError(f"{path}identifiers", "needs object_id or cio_object_id")
        groups.append(
            {
                "type": "group",
                "userId": person,
                "groupId": str(group_id),
                "traits": _object(relation, "relationship_attributes", path),
                "context": {"groupType": str(ids.get("object_type_id", ""))},
            }
        )
    return groups


def event(person: str | None, body: Mapping[str, Any], where: str = "") -> Message:
    """POST /api/v1/customers/{id}/events and /api/v1/events: an event, page or screen."""
    name = _name(body, where)
    data = _object(body, "data", where)
    kind = body.get("type", "event")
    message = _common(body)
    if kind in ("page", "screen"):
        message.update(type=kind, name=name, properties=data)
    elif kind in ("event", None):
        message.update(type="track", event=name, properties=data)
    else:
        raise MapError(f"{where}type", f"expected event, page or screen, not {kind!r}")
    if person is not None:
        message["userId"] = person
    elif isinstance(body.get("anonymous_id"), str) and body["anonymous_id"]:
        message["anonymousId"] = body["anonymous_id"]
    return message


def semantic(person: str, name: str, properties: Mapping[str, Any] | None = None) -> Message:
    """A call without a Segment equivalent, as Customer.io's semantic track event."""
    return {"type": "track", "userId": person, "event": name, "properties": dict(properties or {})}


def device(person: str, body: Mapping[str, Any], where: str = "") -> Message:
    """PUT /api/v1/customers/{id}/devices: a device token for push."""
    info = _object(body, "device", where)
    token = info.get("id", info.get("token"))
    if not isinstance(token, str) or not token:
        raise MapError(f"{where}device.id", "a device needs its token")
    attributes = {
        k: v for k, v in info.items() if k not in ("id", "token", "platform", "attributes")
    }
    attributes.update(_object(info, "attributes", f"{where}device."))
    message = semantic(person, DEVICE_UPDATED, attributes)
    message["context"] = {"device": {"token": token, "type": info.get("platform")}}
    return message


def device_deleted(person: str, token: str) -> Message:
    """DELETE /api/v1/customers/{id}/devices/{token}."""
    message = semantic(person, DEVICE_DELETED)
    message["context"] = {"device": {"token": token}}
    return message


def merge(body: Mapping[str, Any], where: str = "") -> Message:
    """POST /api/v1/merge_customers: the secondary person becomes an alias of the primary."""
    primary = _person(_object(body, "primary", where), f"{where}primary")
    secondary = _person(_object(body, "secondary", where), f"{where}secondary")
    return {"type": "alias", "userId": primary, "previousId": secondary}


def _person(identifiers: Mapping[str, Any], where: str) -> str:
    for key in PERSON_IDS:
        value = identifiers.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    raise MapError(where, f"needs one of {', '.join(PERSON_IDS)}")


def operation(op: Any, where: str) -> list[Message]:
    """One operation of a v2 request (`/api/v2/entity`, an item of `/api/v2/batch`)."""
    if not isinstance(op, dict):
        raise MapError(where.rstrip("."), "expected an object")
    kind, action = op.get("type"), op.get("action")
    if kind == "person":
        return _person_operation(op, action, where)
    if kind == "object":
        return _object_operation(op, action, where)
    if kind == "delivery":
        properties = {**_object(op, "attributes", where), "metric": op.get("name")}
        properties["delivery_id"] = _object(op, "identifiers", where).get("id")
        return [{"type": "track", "event": DELIVERY_EVENT, "properties": properties}]
    raise MapError(f"{where}type", f"expected person, object or delivery, not {kind!r}")


def _person_operation(op: dict[str, Any], action: Any, where: str) -> list[Message]:
    if action == "merge":
        return [merge(op, where)]
    ids = _object(op, "identifiers", where)
    anonymous = ids.get("anonymous_id")
    if (
        action == "event"
        and isinstance(anonymous, str)
        and anonymous
        and not any(ids.get(k) for k in PERSON_IDS)
    ):
        return [event(None, {**_v2_event(op), "anonymous_id": anonymous}, where)]
    person = _person(ids, f"{where}identifiers")
    if action == "identify":
        return identify(person, {**_object(op, "attributes", where), **_common(op)}, where)
    if action in ("event", "page", "screen"):
        return [event(person, {**_v2_event(op), "type": action}, where)]
    if action == "add_relationships":
        return _relationships(person, op.get("cio_relationships"), where)
    if action == "delete_relationships":
        return [
            semantic(person, RELATIONSHIP_DELETED, {"object_id": g["groupId"]})
            for g in _relationships(person, op.get("cio_relationships"), where)
        ]
    if action == "add_device":
        info = _object(op, "device", where)
        return [device(person, {"device": {**info, "id": info.get("token")}}, where)]
    if action == "delete_device":
        token = _object(op, "device", where).get("token")
        if not isinstance(token, str) or not token:
            raise MapError(f"{where}device.token", "a device needs its token")
        return [device_deleted(person, token)]
    names = {"delete": USER_DELETED, "suppress": USER_SUPPRESSED, "unsuppress": USER_UNSUPPRESSED}
    if action in names:
        return [semantic(person, names[action])]
    raise MapError(f"{where}action", f"unknown person action {action!r}")


def _v2_event(op: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": op.get("name"),
        "data": op.get("attributes"),
        "id": op.get("id"),
        "timestamp": op.get("timestamp"),
    }


def _object_operation(op: dict[str, Any], action: Any, where: str) -> list[Message]:
    ids = _object(op, "identifiers", where)
    group_id = ids.get("object_id") or ids.get("cio_object_id")
    if not isinstance(group_id, str | int) or isinstance(group_id, bool) or group_id == "":
        raise MapError(f"{where}identifiers", "needs object_id or cio_object_id")
    if action not in ("identify", "identify_anonymous", "add_relationships",
                      "delete_relationships", "delete"):  # fmt: skip
        raise MapError(f"{where}action", f"unknown object action {action!r}")
    people = []
    for index, relation in enumerate(op.get("cio_relationships") or []):
        rel_ids = (
            _object(relation, "identifiers", f"{where}cio_relationships[{index}].")
            if isinstance(relation, dict)
            else {}
        )
        people.append(rel_ids)
    if not people:
        people = [{}]  # no person: stored, and blocked for missing identity
    traits = _object(op, "attributes", where)
    messages: list[Message] = []
    for rel_ids in people:
        person = next((str(rel_ids[k]) for k in PERSON_IDS if rel_ids.get(k)), None)
        anonymous = rel_ids.get("anonymous_id")
        if action in ("delete", "delete_relationships"):
            name = OBJECT_DELETED if action == "delete" else RELATIONSHIP_DELETED
            message: Message = {
                "type": "track",
                "event": name,
                "properties": {"object_id": str(group_id)},
            }
        else:
            message = {"type": "group", "groupId": str(group_id), "traits": traits,
                       "context": {"groupType": str(ids.get("object_type_id", ""))}}  # fmt: skip
        if person is not None:
            message["userId"] = person
        elif isinstance(anonymous, str) and anonymous:
            message["anonymousId"] = anonymous
        messages.append(message)
    return messages
