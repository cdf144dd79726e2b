"""Customer.io request bodies as JSON Schema (held to by `cio_bodies.py`, served in /openapi.json).

Written from Customer.io's Track API reference (https://docs.customer.io/integrations/api/track/,
its OpenAPI `journeys-track.json`): v1 `merge_customers` and the v2 operations, one schema per
`type` and `action` (the reference's discriminator). Where the gateway takes more than the
reference lists, the schema says so: unknown fields are ignored, a v2 `event` may name an anonymous
person by `identifiers.anonymous_id`, and lengths stop where an id would pass the 255-character
key limit. The same schemas are served in /openapi.json, so the document and the answers agree.
"""

from __future__ import annotations

from typing import Any

from trackwell.core.operations import DELIVERY_ANONYMOUS_PREFIX
from trackwell.server.jsonparts import MAYBE_OBJECT, NO_NUL, UNIX_SECONDS, text

# The reference's limits: "ID | 150 bytes | Max length of a person's ID value" and the same for
# an object's id (here in characters, which keeps `cio_<id>` within the 255-character key).
CIO_PERSON_ID = text(150)
PERSON_IDS = ("id", "email", "cio_id", "phone")
MERGE_IDS = ("id", "email", "cio_id")
OBJECT_ID = text(150)
# An object's type is a small number as text in Customer.io; 64 keeps an object delete's
# anonymous id (`cio_object:<type>:<id>`) within the 255-character key.
OBJECT_TYPE_ID = text(64)
# The dedup id becomes the messageId: a string (a ULID) or a number, within the key's limits.
DEDUP_ID = {
    "type": ["string", "integer", "null"],
    "maxLength": 255,
    "pattern": NO_NUL,
    "minimum": -(2**63),
    "maximum": 2**63 - 1,
    "description": "dedup id (a ULID), becomes messageId",
}
EVENT_NAME = text(255, blank=False)
# The delivery id becomes the anonymous id `cio_delivery:<id>`, a key of at most 255 characters.
DELIVERY_ID = text(255 - len(DELIVERY_ANONYMOUS_PREFIX), blank=False)
REF = "#/components/schemas/"


def one_of(keys: tuple[str, ...], value: dict[str, Any]) -> dict[str, Any]:
    """An object naming its subject by exactly one of `keys`; other fields are ignored."""
    return {
        "type": "object",
        "oneOf": [{"required": [key]} for key in keys],
        "properties": dict.fromkeys(keys, value),
    }


def _operation(kind: str, actions: tuple[str, ...], required: tuple[str, ...],
               **fields: Any) -> dict[str, Any]:  # fmt: skip
    """One v2 operation: its `type`, its actions, and its fields."""
    action: dict[str, Any] = {"const": actions[0]} if len(actions) == 1 else {"enum": list(actions)}
    return {
        "type": "object",
        "required": ["type", "action", *required],
        "properties": {"type": {"const": kind}, "action": action, **fields},
    }


def _relationships(identifiers: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "required": ["identifiers"],
            "properties": {"identifiers": identifiers, "relationship_attributes": MAYBE_OBJECT},
        },
    }


PERSON = {"$ref": REF + "CioPersonIdentifiers"}
# Schema object_identifiers: object_type_id and object_id, or cio_object_id.
OBJECT_IDENTIFIERS = {
    "oneOf": [
        {
            "type": "object",
            "required": ["object_type_id", "object_id"],
            "properties": {"object_type_id": OBJECT_TYPE_ID, "object_id": OBJECT_ID},
        },
        {
            "type": "object",
            "required": ["cio_object_id"],
            "properties": {"cio_object_id": OBJECT_ID},
            "not": {"anyOf": [{"required": ["object_id"]}, {"required": ["object_type_id"]}]},
        },
    ]
}
ANONYMOUS = {
    "type": "object",
    "required": ["anonymous_id"],
    "properties": {"anonymous_id": text(255)},
    "description": "a person not identified yet (a gateway extension: an event only)",
    "not": {"anyOf": [{"required": [key]} for key in PERSON_IDS]},
}
OBJECT_RELATIONSHIPS = _relationships(OBJECT_IDENTIFIERS)
MEMBERS = _relationships({"$ref": REF + "CioPerson"})
EVENT_FIELDS: dict[str, Any] = {
    "name": EVENT_NAME,
    "id": DEDUP_ID,
    "timestamp": UNIX_SECONDS,
    "attributes": MAYBE_OBJECT,
}
DEVICE: dict[str, Any] = {
    "type": "object",
    "required": ["token", "platform"],
    "properties": {
        "token": {"type": "string", "minLength": 1, "description": "the push token"},
        "platform": {"enum": ["ios", "android"]},
        "last_used": {"type": ["integer", "null"]},
        "attributes": MAYBE_OBJECT,
    },
}
# Attributes Customer.io reads itself: the cookie's id, and the time of the update.
IDENTIFY_ATTRIBUTES = {
    "type": ["object", "null"],
    "properties": {"anonymous_id": text(255), "timestamp": UNIX_SECONDS},
}

# schema name -> (type, actions) it describes, for the check to pick one and name the field.
OPERATIONS: dict[str, Any] = {
    "CioPersonIdentify": _operation("person", ("identify",), ("identifiers",),
        identifiers=PERSON, attributes=IDENTIFY_ATTRIBUTES, timestamp=UNIX_SECONDS, id=DEDUP_ID,
        cio_relationships=OBJECT_RELATIONSHIPS),
    "CioPersonEvent": _operation("person", ("event", "page", "screen"), ("identifiers", "name"),
        identifiers=PERSON, **EVENT_FIELDS),
    "CioAnonymousEvent": _operation("person", ("event",), ("identifiers", "name"),
        identifiers=ANONYMOUS, **EVENT_FIELDS),
    "CioPersonMerge": _operation("person", ("merge",), ("primary", "secondary"),
        primary={"$ref": REF + "CioPerson"}, secondary={"$ref": REF + "CioPerson"}),
    "CioPersonChange": _operation("person", ("delete", "suppress", "unsuppress"),
        ("identifiers",), identifiers=PERSON),
    "CioPersonRelationships": _operation("person", ("add_relationships", "delete_relationships"),
        ("identifiers", "cio_relationships"), identifiers=PERSON,
        cio_relationships={**OBJECT_RELATIONSHIPS, "type": "array"}),
    "CioPersonAddDevice": _operation("person", ("add_device",), ("identifiers", "device"),
        identifiers=PERSON, device=DEVICE),
    "CioPersonDeleteDevice": _operation("person", ("delete_device",), ("identifiers", "device"),
        identifiers=PERSON, device={"type": "object", "required": ["token"],
                                    "properties": {"token": DEVICE["properties"]["token"]}}),
    "CioObjectIdentify": _operation("object", ("identify",), ("identifiers",),
        identifiers=OBJECT_IDENTIFIERS, attributes=MAYBE_OBJECT, cio_relationships=MEMBERS),
    "CioObjectIdentifyAnonymous": _operation("object", ("identify_anonymous",), ("identifiers",),
        identifiers=OBJECT_IDENTIFIERS, attributes=MAYBE_OBJECT,
        cio_relationships=_relationships(
            {"type": "object", "required": ["anonymous_id"],
             "properties": {"anonymous_id": text(255)}})),
    "CioObjectRelationships": _operation("object", ("add_relationships", "delete_relationships"),
        ("identifiers", "cio_relationships"), identifiers=OBJECT_IDENTIFIERS,
        cio_relationships={**MEMBERS, "type": "array"}),
    "CioObjectDelete": _operation("object", ("delete",), ("identifiers",),
        identifiers=OBJECT_IDENTIFIERS),
    # Schema delivery_operations: a push or in-app metric of a delivery.
    "CioDeliveryEvent": _operation("delivery", ("event",), ("identifiers", "name", "attributes"),
        identifiers={"type": "object", "required": ["id"], "properties": {"id": DELIVERY_ID}},
        name={"enum": ["opened", "converted", "delivered"]},
        timestamp=UNIX_SECONDS,
        attributes={"type": "object", "required": ["device_token"],
                    "properties": {"device_token": {"type": "string", "minLength": 1}}}),
}  # fmt: skip

CIO_OPERATION_SCHEMAS: dict[str, Any] = {
    # Schema person_common.identifiers: "one of id, email, phone, or cio_id. You cannot pass
    # multiple identifiers."
    "CioPersonIdentifiers": one_of(PERSON_IDS, CIO_PERSON_ID),
    **OPERATIONS,
    "CioOperation": {
        "description": "One Track v2 operation, chosen by `type` and `action`.",
        "oneOf": [{"$ref": REF + name} for name in OPERATIONS],
    },
}
