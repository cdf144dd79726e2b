"""Customer.io Track API requests (v1 and v2) as Segment-spec messages.

Calls without a Segment equivalent become the track events Customer.io's own Data Pipelines
use for them ("semantic events": `User Deleted`, `Device Created or Updated`, `Report Delivery
Event`, ...). Those that change a person, a device or an object, and delivery metrics, are
operations (`trackwell.core.operations`): stored and forwarded, never checked against the plan. Request shapes: Customer.io's Track API reference
(https://docs.customer.io/integrations/api/track/, its OpenAPI `journeys-track.json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trackwell.core.messages import NUL, NUL_MESSAGE
from trackwell.core.operations import (
    CIO_ID_PREFIX,
    CUSTOMERIO_PERSON_ACTIONS,
    DELIVERY_ANONYMOUS_PREFIX,
    DELIVERY_METRIC,
    DEVICE_DELETED,
    DEVICE_UPDATED,
    OBJECT_DELETED,
    RELATIONSHIP_DELETED,
    cio_external_id,
)

# Identify attributes that steer Customer.io rather than describe the person.
RESERVED_ATTRIBUTES = frozenset(["anonymous_id", "_update", "cio_relationships", "timestamp"])
PERSON_IDS = ("id", "email", "cio_id", "phone")
# v1 `cio_relationships.action` values: the reference lists add and delete; "remove" is read as
# delete, since that is what people write.
ADD_RELATIONSHIPS = "add_relationships"
DELETE_RELATIONSHIPS = frozenset(["delete_relationships", "remove_relationships"])
# An object operation without a person still needs an identity on the Segment hops.
OBJECT_ANONYMOUS_PREFIX = "cio_object:"


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


def _common(body: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """messageId from `id`, action time from `timestamp` (Unix seconds)."""
    out: dict[str, Any] = {}
    value = body.get("id")
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        value = int(value)  # 12.0 is the integer 12 to JSON Schema
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise MapError(f"{where}id", "expected the dedup id (a string or a number)")
        out["messageId"] = str(value)
    timestamp = unix_seconds(body, where)
    if timestamp is not None:
        out["timestamp"] = timestamp
    return out


def unix_seconds(body: Mapping[str, Any], where: str) -> int | None:
    """`timestamp` as Customer.io's Track API types it: an integer of Unix seconds, or absent."""
    value = body.get("timestamp")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 1e9 and 1.0e9 are integers to JSON Schema, as to Customer.io
    if isinstance(value, bool) or not isinstance(value, int):
        raise MapError(f"{where}timestamp", "expected Unix seconds (an integer)")
    return value


def _anonymous_id(body: Mapping[str, Any], where: str) -> str | None:
    """`anonymous_id`: the cookie's id, a string when sent."""
    value = body.get("anonymous_id")
    if value is not None and not isinstance(value, str):
        raise MapError(f"{where}anonymous_id", "expected a string")
    if value is not None and NUL in value:
        raise MapError(f"{where}anonymous_id", NUL_MESSAGE)
    return value or None


def identify(person: str, body: Mapping[str, Any], where: str = "") -> list[dict[str, Any]]:
    """PUT /api/v1/customers/{id}: attributes become traits; relationships become groups."""
    traits = {k: v for k, v in body.items() if k not in RESERVED_ATTRIBUTES}
    message: dict[str, Any] = {"type": "identify", "userId": person, "traits": traits}
    if isinstance(body.get("anonymous_id"), str) and body["anonymous_id"]:
        message["anonymousId"] = body["anonymous_id"]  # ties the cookie's history to the person
    if body.get("timestamp") is not None:
        message["timestamp"] = body["timestamp"]
    return [message, *_identify_relationships(person, body.get("cio_relationships"), where)]


def _identify_relationships(person: str, value: Any, where: str) -> list[dict[str, Any]]:
    """`cio_relationships` of an identify in either documented shape.

    v1 (`PUT /api/v1/customers/{id}`): an object `{"action": "add_relationships" |
    "delete_relationships", "relationships": [...]}`; v2 identify: the array itself.
    """
    if value is None or isinstance(value, list):
        return _relationships(person, value, where)
    field = f"{where}cio_relationships"
    if not isinstance(value, dict):
        raise MapError(field, "expected an object with action and relationships, or an array")
    action = value.get("action", ADD_RELATIONSHIPS)
    items = value.get("relationships")
    if not isinstance(items, list):
        raise MapError(f"{field}.relationships", "expected an array of relationships")
    if action == ADD_RELATIONSHIPS:
        return _relationships(person, items, f"{field}.relationships")
    if action in DELETE_RELATIONSHIPS:
        return _relationships_deleted(person, items, f"{field}.relationships")
    raise MapError(
        f"{field}.action", f"expected add_relationships or delete_relationships, not {action!r}"
    )


def _relation_ids(relation: Any, path: str) -> tuple[str, dict[str, Any]]:
    """The object id of one relationship and its identifiers."""
    if not isinstance(relation, dict):
        raise MapError(path, "expected an object")
    ids = _object(relation, "identifiers", f"{path}.")
    group_id = ids.get("object_id") or ids.get("cio_object_id")
    if not isinstance(group_id, str | int) or isinstance(group_id, bool) or group_id == "":
        raise MapError(f"{path}.identifiers", "needs object_id or cio_object_id")
    return str(group_id), ids


def _relationships(person: str, value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    field = where if where.endswith("relationships") else f"{where}cio_relationships"
    if not isinstance(value, list):
        raise MapError(field, "expected an array")
    groups = []
    for index, relation in enumerate(value):
        path = f"{field}[{index}]"
        group_id, ids = _relation_ids(relation, path)
        groups.append(
            {
                "type": "group",
                "userId": person,
                "groupId": group_id,
                "traits": _object(relation, "relationship_attributes", f"{path}."),
                "context": {"groupType": str(ids.get("object_type_id", ""))},
            }
        )
    return groups


def _relationships_deleted(person: str | None, value: Any, where: str) -> list[dict[str, Any]]:
    """A `Relationship Deleted` operation per relationship removed."""
    field = where if where.endswith("relationships") else f"{where}cio_relationships"
    if not isinstance(value, list):
        raise MapError(field, "expected an array")
    messages = []
    for index, relation in enumerate(value):
        _, ids = _relation_ids(relation, f"{field}[{index}]")
        message = semantic(person, RELATIONSHIP_DELETED, object_properties(ids))
        messages.append(message)
    return messages


def object_properties(ids: Mapping[str, Any]) -> dict[str, str]:
    """Data Pipelines' names for an object: `objectId` and `objectTypeId` (or `cioObjectId`)."""
    if ids.get("object_id") not in (None, ""):
        out = {"objectId": str(ids["object_id"])}
        if ids.get("object_type_id") not in (None, ""):
            out["objectTypeId"] = str(ids["object_type_id"])
        return out
    return {"cioObjectId": str(ids.get("cio_object_id"))}


def event(person: str | None, body: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """POST /api/v1/customers/{id}/events and /api/v1/events: an event, page or screen."""
    name = _name(body, where)
    data = _object(body, "data", where)
    kind = body.get("type", "event")
    message = _common(body, where)
    if kind in ("page", "screen"):
        message.update(type=kind, name=name, properties=data)
    elif kind in ("event", None):
        message.update(type="track", event=name, properties=data)
    else:
        raise MapError(f"{where}type", f"expected event, page or screen, not {kind!r}")
    anonymous = _anonymous_id(body, where)  # checked even when the person is known
    if person is not None:
        message["userId"] = person
    elif anonymous is not None:
        message["anonymousId"] = anonymous
    return message


def semantic(
    person: str | None, name: str, properties: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A call without a Segment equivalent, as Customer.io's semantic track event."""
    message: dict[str, Any] = {"type": "track", "event": name, "properties": dict(properties or {})}
    if person is not None:
        message["userId"] = person
    return message


def device(person: str, body: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """PUT /api/v1/customers/{id}/devices: `{"device": {"id", "platform", "last_used",
    "attributes"}}`; the token goes to `context.device.token`, as Data Pipelines has it."""
    info = _object(body, "device", where)
    token = info.get("id", info.get("token"))
    if not isinstance(token, str) or not token:
        raise MapError(f"{where}device.id", "a device needs its token")
    platform = info.get("platform")
    # The Track API reference's add_device: `platform` is one of ios, android.
    if platform not in ("ios", "android"):
        raise MapError(f"{where}device.platform", "a device needs its platform (ios or android)")
    last_used = info.get("last_used")
    if isinstance(last_used, float) and last_used.is_integer():
        last_used = int(last_used)  # 1.7e9 is an integer to JSON Schema
    if last_used is not None and (isinstance(last_used, bool) or not isinstance(last_used, int)):
        raise MapError(f"{where}device.last_used", "expected Unix seconds (an integer)")
    attributes = {
        k: v for k, v in info.items() if k not in ("id", "token", "platform", "attributes")
    }
    attributes.update(_object(info, "attributes", f"{where}device."))
    message = semantic(person, DEVICE_UPDATED, attributes)
    message["context"] = {"device": {"token": token, "type": platform}}
    return message


def device_deleted(person: str, token: str) -> dict[str, Any]:
    """DELETE /api/v1/customers/{id}/devices/{token}."""
    message = semantic(person, DEVICE_DELETED)
    message["context"] = {"device": {"token": token}}
    return message


def merge(body: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """POST /api/v1/merge_customers: the secondary person becomes an alias of the primary."""
    primary = _person(_object(body, "primary", where), f"{where}primary")
    secondary = _person(_object(body, "secondary", where), f"{where}secondary")
    return {"type": "alias", "userId": primary, "previousId": secondary}


def _person(identifiers: Mapping[str, Any], where: str) -> str:
    """A person's key: a `cio_id` keeps Customer.io's prefix, as in a v1 path."""
    for key in PERSON_IDS:
        value = identifiers.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return f"{CIO_ID_PREFIX}{value}" if key == "cio_id" else str(value)
    raise MapError(where, f"needs one of {', '.join(PERSON_IDS)}")


def address(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages whose person is named by a Customer.io id (`cio_<id>`), addressed through
    `context.externalIds` instead, so no profile named `cio_...` is made.

    The name is never looked up among profiles' traits: a trait is whatever a client last set,
    so resolving through it could turn a delete of one person into a delete of another."""
    for message in messages:
        name = message.get("userId")
        if isinstance(name, str) and is_cio_id(name):
            del message["userId"]
            context = message.setdefault("context", {})
            context["externalIds"] = [cio_external_id(name[len(CIO_ID_PREFIX) :])]
    return messages


def is_cio_id(name: str) -> bool:
    """Whether a person's name is a Customer.io id (`cio_<id>`)."""
    return name.startswith(CIO_ID_PREFIX) and len(name) > len(CIO_ID_PREFIX)


def operation(op: Any, where: str) -> list[dict[str, Any]]:
    """One operation of a v2 request (`/api/v2/entity`, an item of `/api/v2/batch`)."""
    if not isinstance(op, dict):
        raise MapError(where.rstrip("."), "expected an object")
    kind, action = op.get("type"), op.get("action")
    if kind == "person":
        return _person_operation(op, action, where)
    if kind == "object":
        return _object_operation(op, action, where)
    if kind == "delivery":
        return [_delivery_operation(op, action, where)]
    raise MapError(f"{where}type", f"expected person, object or delivery, not {kind!r}")


# v2 person actions that delete, suppress or unsuppress (reference: person_delete,
# person_suppress, person_unsuppress).
_PERSON_ACTIONS = {action: name for name, action in CUSTOMERIO_PERSON_ACTIONS.items()}


def _person_operation(op: dict[str, Any], action: Any, where: str) -> list[dict[str, Any]]:
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
        # identify_person: `cio_relationships` sits beside `attributes`, not inside.
        body = {**_object(op, "attributes", where), **_common(op, where)}
        if op.get("cio_relationships") is not None:
            body["cio_relationships"] = op["cio_relationships"]
        return identify(person, body, where)
    if action in ("event", "page", "screen"):
        return [event(person, {**_v2_event(op), "type": action}, where)]
    if action == "add_relationships":
        return _relationships(person, op.get("cio_relationships"), where)
    if action == "delete_relationships":
        return _relationships_deleted(person, op.get("cio_relationships"), where)
    if action == "add_device":
        # person_add_device: `device: {token, platform, last_used, attributes}`.
        info = _object(op, "device", where)
        return [device(person, {"device": {**info, "id": info.get("token")}}, where)]
    if action == "delete_device":
        token = _object(op, "device", where).get("token")
        if not isinstance(token, str) or not token:
            raise MapError(f"{where}device.token", "a device needs its token")
        return [device_deleted(person, token)]
    if action in _PERSON_ACTIONS:
        return [semantic(person, _PERSON_ACTIONS[action])]
    raise MapError(f"{where}action", f"unknown person action {action!r}")


def _v2_event(op: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": op.get("name"),
        "data": op.get("attributes"),
        "id": op.get("id"),
        "timestamp": op.get("timestamp"),
    }


_OBJECT_ACTIONS = ("identify", "identify_anonymous", "add_relationships",
                   "delete_relationships", "delete")  # fmt: skip


def _object_operation(op: dict[str, Any], action: Any, where: str) -> list[dict[str, Any]]:
    ids = _object(op, "identifiers", where)
    group_id = ids.get("object_id") or ids.get("cio_object_id")
    if not isinstance(group_id, str | int) or isinstance(group_id, bool) or group_id == "":
        raise MapError(f"{where}identifiers", "needs object_id or cio_object_id")
    if action not in _OBJECT_ACTIONS:
        raise MapError(f"{where}action", f"unknown object action {action!r}")
    relations = op.get("cio_relationships") or []
    if not isinstance(relations, list):
        raise MapError(f"{where}cio_relationships", "expected an array")
    if action == "delete":
        # object_delete names no person: the operation is the object's.
        message = semantic(None, OBJECT_DELETED, object_properties(ids))
        message["anonymousId"] = (
            f"{OBJECT_ANONYMOUS_PREFIX}{ids.get('object_type_id', '')}:{group_id}"
        )
        return [message]
    people = [
        _object(relation, "identifiers", f"{where}cio_relationships[{index}].")
        if isinstance(relation, dict)
        else {}
        for index, relation in enumerate(relations)
    ] or [{}]  # no person: stored, and blocked for missing identity
    traits = _object(op, "attributes", where)
    messages: list[dict[str, Any]] = []
    for rel_ids in people:
        person = next((_person({k: rel_ids[k]}, where) for k in PERSON_IDS if rel_ids.get(k)), None)
        anonymous = rel_ids.get("anonymous_id")
        if action == "delete_relationships":
            message = semantic(None, RELATIONSHIP_DELETED, object_properties(ids))
        else:
            message = {"type": "group", "groupId": str(group_id), "traits": traits,
                       "context": {"groupType": str(ids.get("object_type_id", ""))}}  # fmt: skip
        if person is not None:
            message["userId"] = person
        elif isinstance(anonymous, str) and anonymous:
            message["anonymousId"] = anonymous
        messages.append(message)
    return messages


# Request fields of the metric calls and the `Report Delivery Event` property each becomes
# (Data Pipelines' names; the Pipelines API reference, schema `report_delivery_event`).
METRIC_FIELDS = {"recipient": "recipient", "reason": "reason", "href": "href",
                 "action_name": "actionName", "action_value": "actionValue"}  # fmt: skip


def metric(body: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """POST /api/v1/metrics (operationId `metrics`): `{delivery_id, metric, timestamp?,
    recipient?, reason?, href?}`, one channel's metric of a message Customer.io delivered."""
    fields = {k: v for k, v in body.items() if k not in ("delivery_id", "metric", "timestamp")}
    for key in ("recipient", "reason", "href"):  # strings in the reference's `metrics` schema
        if key in fields and not isinstance(fields[key], str):
            raise MapError(f"{where}{key}", "expected a string")
    return delivery_metric(
        _text(body, "delivery_id", where),
        _text(body, "metric", where),
        fields,
        unix_seconds(body, where),
    )


def push_metric(body: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """POST /api/v1/push/events (operationId `pushMetrics`, deprecated for /api/v1/metrics):
    `{delivery_id, event, device_id, timestamp}`; `device_id` is the device's push token."""
    device_token = body.get("device_id")
    if device_token is not None and (not isinstance(device_token, str) or not device_token):
        raise MapError(f"{where}device_id", "expected the device's token (a string)")
    # The reference's pushMetrics: `event` is one of opened, converted, delivered.
    if body.get("event") not in ("opened", "converted", "delivered"):
        raise MapError(f"{where}event", "expected opened, converted or delivered")
    fields = {k: v for k, v in body.items() if k not in ("delivery_id", "event", "timestamp")}
    fields.pop("device_id", None)
    return delivery_metric(
        _text(body, "delivery_id", where),
        _text(body, "event", where),
        fields,
        unix_seconds(body, where),
        device_token,
    )


def _delivery_operation(op: Mapping[str, Any], action: Any, where: str) -> dict[str, Any]:
    """v2 `{"type": "delivery", "action": "event", "identifiers": {"id"}, "name",
    "attributes": {"device_token", ...}}` (schema `delivery_operations`)."""
    if action != "event":
        raise MapError(f"{where}action", f"a delivery has only the event action, not {action!r}")
    delivery_id = _text(_object(op, "identifiers", where), "id", f"{where}identifiers.")
    attributes = dict(_object(op, "attributes", where))
    device_token = attributes.pop("device_token", None)
    if device_token is not None and (not isinstance(device_token, str) or not device_token):
        raise MapError(f"{where}attributes.device_token", "expected the device's token (a string)")
    return delivery_metric(
        delivery_id, _text(op, "name", where), attributes, op.get("timestamp"), device_token
    )


def delivery_metric(
    delivery_id: str,
    name: str,
    fields: Mapping[str, Any],
    timestamp: Any = None,
    device_token: str | None = None,
) -> dict[str, Any]:
    """The `Report Delivery Event` operation: about a message, not a person, so its identity is
    the delivery (`cio_delivery:<id>`, which makes no profile). A push token is both the
    `recipient` (as Data Pipelines reports push metrics) and `context.device.token`, which says
    the recipient is a device."""
    if NUL in delivery_id:  # it becomes the message's anonymousId, a key
        raise MapError("delivery_id", NUL_MESSAGE)
    properties: dict[str, Any] = {"deliveryId": delivery_id, "metric": name}
    for key, value in fields.items():
        properties[METRIC_FIELDS.get(key, key)] = value
    if device_token is not None:
        properties.setdefault("recipient", device_token)
    message = semantic(None, DELIVERY_METRIC, properties)
    message["anonymousId"] = f"{DELIVERY_ANONYMOUS_PREFIX}{delivery_id}"
    if device_token is not None:
        message["context"] = {"device": {"token": device_token}}
    if timestamp is not None:
        message["timestamp"] = timestamp
    return message


def _text(body: Mapping[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MapError(f"{where}{key}", "required: a non-empty string")
    return value.strip()
