"""Operations: messages that change a person, a device or an object, or report on a message
Customer.io delivered, rather than record an action of a person.

They travel as Customer.io Data Pipelines' "semantic events" (track calls with a reserved name,
https://docs.customer.io/integrations/data-in/semantic-events/cio-journeys/), the form every
Segment-spec hop understands. This module is the one place that names them: the quality checks
(never plan-checked, never blocked as unplanned), the gateway (who may send them) and the
destinations (which tool call performs them) all ask it, never compare event names themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# Person operations: Customer.io deletes, suppresses or unsuppresses the person.
USER_DELETED: Final = "User Deleted"
USER_SUPPRESSED: Final = "User Suppressed"
USER_UNSUPPRESSED: Final = "User Unsuppressed"
# Device operations: a push token registered on, or removed from, a person.
DEVICE_UPDATED: Final = "Device Created or Updated"
DEVICE_DELETED: Final = "Device Deleted"
# Object operations: a person's relationship to an object, or the object, removed.
RELATIONSHIP_DELETED: Final = "Relationship Deleted"
OBJECT_DELETED: Final = "Object Deleted"
# Delivery operations: a metric (opened, clicked, bounced, ...) of a message Customer.io delivered,
# named by its delivery id. Data Pipelines' name and properties (`deliveryId`, `metric`,
# `recipient`, `reason`, `href`, `actionName`, `actionValue`): the Pipelines API reference,
# schema `report_delivery_event`.
DELIVERY_METRIC: Final = "Report Delivery Event"

PERSON_OPERATIONS: Final = frozenset([USER_DELETED, USER_SUPPRESSED, USER_UNSUPPRESSED])
DEVICE_OPERATIONS: Final = frozenset([DEVICE_UPDATED, DEVICE_DELETED])
OBJECT_OPERATIONS: Final = frozenset([RELATIONSHIP_DELETED, OBJECT_DELETED])
DELIVERY_OPERATIONS: Final = frozenset([DELIVERY_METRIC])
OPERATIONS: Final = PERSON_OPERATIONS | DEVICE_OPERATIONS | OBJECT_OPERATIONS | DELIVERY_OPERATIONS
# Operations that are about a person (or their device or relationships): a browser key may not
# send them. A delivery metric is about a message; Customer.io takes it without credentials.
PERSON_ADDRESSED_OPERATIONS: Final = OPERATIONS - DELIVERY_OPERATIONS
# Customer.io's own name for the person action that performs each person operation: the v1 path
# (`POST /api/v1/customers/{id}/suppress`) and the v2 `action` (Track API reference).
CUSTOMERIO_PERSON_ACTIONS: Final = {USER_DELETED: "delete", USER_SUPPRESSED: "suppress",
                                    USER_UNSUPPRESSED: "unsuppress"}  # fmt: skip

# Where a device operation carries its push token (Data Pipelines reads `context.device.token`;
# its JavaScript examples pass `device` in the properties). A token there is the payload of the
# call, not a leaked secret; anywhere else a `token` stays redacted.
DEVICE_TOKEN_PATHS: Final = (("context", "device", "token"), ("properties", "device", "token"))
# Operations whose push token at DEVICE_TOKEN_PATHS is delivered intact: device registrations,
# and push metrics (the token of the device the message went to, `context.device.token`).
TOKEN_OPERATIONS: Final = DEVICE_OPERATIONS | DELIVERY_OPERATIONS
# A delivery metric names no person: it gets this anonymous id plus its delivery id, so every
# Segment-spec hop has an identity (it makes no profile: anonymous ids only tie on identify).
DELIVERY_ANONYMOUS_PREFIX: Final = "cio_delivery:"

# A person addressed by the tool's own id, with no user id trackwell knows (Segment's
# `context.externalIds` entry; Customer.io writes these ids `cio_<id>` in paths).
CIO_ID_TYPE: Final = "cio_id"
CIO_ID_PREFIX: Final = "cio_"


def operation_of(kind: Any, event: Any) -> str | None:
    """The operation a message performs (its event name), or None for an ordinary message."""
    if kind == "track" and isinstance(event, str) and event in OPERATIONS:
        return event
    return None


def is_operation(message: Mapping[str, Any]) -> bool:
    """Whether a wire-form message is an operation."""
    return operation_of(message.get("type"), message.get("event")) is not None


def cio_external_id(cio_id: str) -> dict[str, str]:
    """The `context.externalIds` entry that addresses a person by their Customer.io id."""
    return {"id": cio_id, "type": CIO_ID_TYPE, "collection": "users", "encoding": "none"}


def cio_id_of(context: Any) -> str | None:
    """The Customer.io id a message's context addresses a person by, if any."""
    if not isinstance(context, Mapping):
        return None
    entries = context.get("externalIds")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("type") == CIO_ID_TYPE:
            value = entry.get("id")
            if isinstance(value, str) and value:
                return value
    return None
