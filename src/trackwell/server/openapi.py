"""The OpenAPI 3.1 description of the gateway: every route, its body and its answers."""

from __future__ import annotations

from typing import Any

from trackwell.core.messages import MAX_KEY_LENGTH, MESSAGE_TYPES
from trackwell.core.version import __version__
from trackwell.server import openapi_regulations, openapi_webhooks
from trackwell.server.cio_schemas import (
    CIO_OPERATION_SCHEMAS,
    CIO_PERSON_ID,
    DEDUP_ID,
    DELIVERY_ID,
    EVENT_NAME,
    MERGE_IDS,
    one_of,
)
from trackwell.server.jsonparts import MAYBE_OBJECT, NO_NUL, OBJECT, UNIX_SECONDS

JSON = "application/json"
ID = {"type": "string", "maxLength": 255, "pattern": NO_NUL}
# Segment ids: a string, or a number (analytics.js and many SDKs send numeric ids; Segment
# stringifies them) within the signed 64-bit range (messages.py refuses larger ones).
SEGMENT_ID = {
    "oneOf": [
        ID,
        {"type": "null", "description": "the same as absent"},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    ]
}
TIME = {
    "oneOf": [
        {"type": "string", "format": "date-time"},
        # Below 10^11: seconds; above: milliseconds; from 10^14 on, refused (messages.py).
        {"type": "number", "minimum": 0, "exclusiveMaximum": 100_000_000_000_000},
    ],
    "description": "ISO-8601, or Unix seconds or milliseconds",
}
MAYBE_TIME = {"oneOf": [*TIME["oneOf"], {"type": "null"}], "description": TIME["description"]}
# Read only when no Authorization header carries the key; then it must be the key (a string).
WRITE_KEY = {"description": "the write key, if not in the Authorization header"}


def _needs(key: str, pattern: str | None = None, max_length: int | None = None) -> dict[str, Any]:
    """A single call's own field: required, not empty, and matching `pattern` when given."""
    field: dict[str, Any] = {"type": "string", "minLength": 1}
    if max_length is not None:
        field["maxLength"] = max_length
    if pattern is not None:
        # Both must hold, and a schema has one `pattern`: the other goes in an `allOf`.
        field["allOf"] = [{"pattern": pattern}, {"pattern": NO_NUL}]
    else:
        field["pattern"] = NO_NUL
        # An id (previousId, groupId) may also be a number: not empty as a string, any in range.
        field = {"anyOf": [field, {"type": "integer"}]}
    return {"required": [key], "properties": {key: field}}


SCHEMAS: dict[str, Any] = {
    "Message": {
        "type": "object",
        "description": "A Segment-spec message; `type` is taken from the path on single endpoints.",
        "properties": {
            "type": {"description": "taken from the path: any value sent here is replaced"},
            "messageId": SEGMENT_ID,
            "userId": SEGMENT_ID,
            "anonymousId": SEGMENT_ID,
            # Each is read by its own calls only (Track's and Page's schemas type them); on
            # another call Segment's spec has no such field, and it is kept as sent, unread.
            "event": {"description": "the event name of a track call; unread on the others"},
            "name": {"description": "the page or screen name; unread on the others"},
            "groupId": SEGMENT_ID,
            "previousId": SEGMENT_ID,
            "properties": MAYBE_OBJECT,
            "traits": MAYBE_OBJECT,
            "context": MAYBE_OBJECT,
            "integrations": MAYBE_OBJECT,
            "timestamp": MAYBE_TIME,
            "sentAt": MAYBE_TIME,
            "writeKey": WRITE_KEY,
        },
    },
    # The single endpoints: `type` comes from the path, and each call's own field is required.
    "Track": {
        "allOf": [
            {"$ref": "#/components/schemas/Message"},
            _needs("event", "\\S", max_length=MAX_KEY_LENGTH),
        ]
    },
    # Page and screen: the name is optional (null is absent) and, a key, holds no NUL.
    "Page": {
        "allOf": [
            {"$ref": "#/components/schemas/Message"},
            {"properties": {"name": {"type": ["string", "null"], "pattern": NO_NUL}}},
        ]
    },
    "Alias": {"allOf": [{"$ref": "#/components/schemas/Message"}, _needs("previousId")]},
    "Group": {"allOf": [{"$ref": "#/components/schemas/Message"}, _needs("groupId")]},
    "Batch": {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "maxItems": 2500,
                # Each item is a Message, but one that breaks its rules is kept, blocked, with
                # the violation in the 200's Result (no message of a batch is refused alone).
                "items": {"description": "a Message"},
            },
            # Every message inherits these; a wrongly typed one is refused (400, naming it).
            "sentAt": TIME,
            "context": OBJECT,
            "integrations": OBJECT,
            "writeKey": WRITE_KEY,
        },
    },
    "Violation": {
        "type": "object",
        "required": ["code", "path", "message", "effect"],
        "properties": {
            "index": {"type": "integer", "description": "position of the message in the request"},
            "messageId": {"type": "string"},
            "code": {"type": "string"},
            "path": {"type": "string"},
            "message": {"type": "string"},
            "effect": {"type": "string", "enum": ["block", "repair", "report"]},
            "suggestion": {"type": "string"},
            "kind": {"type": "string"},
        },
    },
    "Result": {
        "type": "object",
        "description": "The messages are durable in the store when this is returned.",
        "required": ["accepted", "repaired", "blocked", "duplicates", "violations"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "repaired": {"type": "integer", "minimum": 0},
            "blocked": {"type": "integer", "minimum": 0},
            "duplicates": {"type": "integer", "minimum": 0},
            "violations": {"type": "array", "items": {"$ref": "#/components/schemas/Violation"}},
            "violationsNotListed": {"type": "integer", "minimum": 1},
        },
    },
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the field, header or path at fault"},
        },
    },
    "CioEvent": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": EVENT_NAME,
            "data": {"type": ["object", "null"]},
            "timestamp": UNIX_SECONDS,
            "id": DEDUP_ID,
            "type": {"enum": ["event", "page", "screen", None], "description": "null: event"},
            "anonymous_id": {"type": ["string", "null"], "maxLength": 255, "pattern": NO_NUL},
        },
    },
    # Customer.io's Track API reference, operationIds `metrics` and `pushMetrics`.
    "CioMetric": {
        "type": "object",
        "required": ["delivery_id", "metric"],
        "properties": {
            "delivery_id": {
                **DELIVERY_ID,
                "description": "the CIO-Delivery-ID (not blank, no NUL)",
            },
            "metric": {
                "type": "string",
                "pattern": "\\S",
                "description": "opened, clicked, bounced, ... (not blank)",
            },
            "timestamp": UNIX_SECONDS,
            "recipient": {"type": "string"},
            "reason": {"type": "string"},
            "href": {"type": "string"},
        },
    },
    "CioPushMetric": {
        "type": "object",
        "required": ["delivery_id", "event"],
        "properties": {
            "delivery_id": {
                **DELIVERY_ID,
                "description": "the CIO-Delivery-ID (not blank, no NUL)",
            },
            "event": {"type": "string", "enum": ["opened", "converted", "delivered"]},
            "device_id": {
                "type": ["string", "null"],
                "minLength": 1,
                "description": "the CIO-Delivery-Token",
            },
            "timestamp": UNIX_SECONDS,
        },
    },
    # Customer.io's Track API v1 reference: identify (attributes as the body), add_device
    # (`device.id` is the token) and merge_customers (one identifier per side).
    "CioAttributes": {
        "type": "object",
        "description": "the person's attributes; `cio_relationships` ties them to objects",
    },
    "CioDevice": {
        "type": "object",
        "required": ["device"],
        "properties": {
            "device": {
                "type": "object",
                "required": ["id", "platform"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "description": "the push token"},
                    "platform": {"type": "string", "minLength": 1, "enum": ["ios", "android"]},
                    "last_used": {"type": ["integer", "null"]},
                    # Absent or null: no attributes (the device's own fields still count).
                    "attributes": {"type": ["object", "null"]},
                },
            }
        },
    },
    # Merges (v1 merge_customers, v2 person merge): each side is one existing person named by
    # exactly one of id, email or cio_id (the reference's person_merge: "You cannot pass
    # multiple identifiers"); other fields are ignored.
    "CioPerson": one_of(MERGE_IDS, CIO_PERSON_ID),
    "CioMerge": {
        "type": "object",
        "required": ["primary", "secondary"],
        "properties": {
            "primary": {"$ref": "#/components/schemas/CioPerson"},
            "secondary": {"$ref": "#/components/schemas/CioPerson"},
        },
    },
    "CioBatch": {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "maxItems": 2500,
                # Each item is a CioOperation, but one that breaks its rules is kept, blocked,
                # with the violation in the 200's Result (as in a Segment batch).
                "items": {"description": "a CioOperation"},
            }
        },
    },
    **CIO_OPERATION_SCHEMAS,
    **openapi_regulations.SCHEMAS,
    **openapi_webhooks.SCHEMAS,
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
COUNTS = {
    "X-Trackwell-Blocked": {
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "description": "how many of the request's messages were blocked (kept, not delivered)",
    },
    "X-Trackwell-Repaired": {
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "description": "how many of the request's messages were changed on the way",
    },
}
STRICT = {
    "name": "X-Strict-Mode",
    "in": "header",
    "required": False,
    # Any value is taken (Customer.io's libraries send 1); only 1 and true turn strict mode on.
    "schema": {"type": "string"},
    "description": "1 or true (any case): refuse the whole request (400) when any message is"
    " blocked, as the source's `strict = true` does; any other value, or none: not strict",
}
WRITE_ANSWERS: dict[str, Any] = {
    "200": {
        "description": "Stored durably; verdicts and violations per message.",
        "headers": COUNTS,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Result"}}},
    },
    "400": _error(
        "Malformed JSON, a broken gzip stream, a missing or invalid field, or a batch of more"
        " than 2,500 messages (`code` `too_large`); or, in strict mode"
        " (`code` `strict_mode`), a request with a blocked message: the body adds the counts and"
        " the violations of the Result, and nothing of the request is delivered."
    ),
    "401": _error("No key, or an unknown key."),
    "403": _error(
        "The key may not send this (its source's types, a browser key, another source), or a web"
        " page's Origin is not in its source's allowed_origins."
    ),
    "404": _error("No such call."),
    "413": _error("A body over 32 KB (one message) or 500 KB (a batch)."),
    "415": _error("Not JSON (Content-Type) or an unsupported Content-Encoding."),
    "429": _error("Backpressure: the delivery backlog is above the high-water mark.", RETRY_AFTER),
    "503": _error("The store cannot take writes right now; nothing was stored.", RETRY_AFTER),
}


def _write(summary: str, schema: str | None, tag: str, security: str, path_param: bool = False,
           optional_body: bool = False) -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "security": [{security: []}],
        "responses": WRITE_ANSWERS,
    }
    if schema is not None:
        operation["requestBody"] = {
            "required": not optional_body,
            "content": {
                JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}},
                # navigator.sendBeacon's type: the text is the same JSON document.
                "text/plain": {
                    "schema": {
                        "$ref": f"#/components/schemas/{schema}",
                        "description": "the JSON text of the same body (navigator.sendBeacon)",
                    }
                },
            },
        }
    operation["parameters"] = [STRICT]
    if path_param:
        operation["parameters"].insert(
            0,
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NO_NUL},
            },
        )
    return operation


def _get(
    summary: str, content_type: str, schema: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": summary, "content": {content_type: {"schema": schema}}}
    }
    responses.update(extra or {})
    return {"get": {"summary": summary, "tags": ["operations"], "responses": responses}}


def _single(kind: str) -> str:
    """The body schema of a single Segment endpoint."""
    names = {"track": "Track", "alias": "Alias", "group": "Group", "page": "Page", "screen": "Page"}
    return names.get(kind, "Message")


def openapi_document(server_url: str) -> dict[str, Any]:
    """The document served at /openapi.json."""
    paths: dict[str, Any] = {}
    for kind in MESSAGE_TYPES:
        paths[f"/v1/{kind}"] = {
            "post": _write(
                f"One {kind} message (Segment HTTP API).", _single(kind), "segment", "segment"
            )
        }
    paths["/v1/batch"] = {
        "post": _write("Up to 2,500 messages (Segment HTTP API).", "Batch", "segment", "segment")
    }
    paths["/v1/import"] = {"post": _write("The same as /v1/batch.", "Batch", "segment", "segment")}
    # The short paths analytics.js (@segment/analytics-next) posts to.
    for kind in MESSAGE_TYPES:
        paths[f"/v1/{kind[0]}"] = {
            "post": _write(
                f"The same as /v1/{kind} (analytics.js).", _single(kind), "segment", "segment"
            )
        }
    paths["/v1/b"] = {
        "post": _write(
            "The same as /v1/batch (analytics.js, batching).", "Batch", "segment", "segment"
        )
    }
    customer = "/api/v1/customers/{id}"
    paths[customer] = {
        "put": _write(
            "Identify a person: attributes become traits.",
            "CioAttributes",
            "customerio",
            "customerio",
            True,
        ),
        "delete": _write(
            "Delete a person (the `User Deleted` operation).",
            None,
            "customerio",
            "customerio",
            True,
        ),
    }
    paths[customer + "/events"] = {
        "post": _write(
            "An event, page or screen of a person.", "CioEvent", "customerio", "customerio", True
        )
    }
    paths[customer + "/devices"] = {
        "put": _write(
            "A push device (the `Device Created or Updated` operation; the token is kept).",
            "CioDevice",
            "customerio",
            "customerio",
            True,
        )
    }
    paths[customer + "/suppress"] = {
        "post": _write(
            "Suppress a person (the `User Suppressed` operation).",
            None,
            "customerio",
            "customerio",
            True,
        )
    }
    paths[customer + "/unsuppress"] = {
        "post": _write(
            "Unsuppress a person (the `User Unsuppressed` operation).",
            None,
            "customerio",
            "customerio",
            True,
        )
    }
    paths["/api/v1/events"] = {
        "post": _write(
            "An anonymous event (`anonymous_id`).", "CioEvent", "customerio", "customerio"
        )
    }
    paths["/api/v1/merge_customers"] = {
        "post": _write("Merge two people (an alias).", "CioMerge", "customerio", "customerio")
    }
    paths["/api/v1/metrics"] = {
        "post": _write(
            "A delivery metric of any channel (the `Report Delivery Event` operation).",
            "CioMetric",
            "customerio",
            "customerio",
        )
    }
    paths["/api/v1/push/events"] = {
        "post": _write(
            "A push delivery metric (the `Report Delivery Event` operation; the token is kept).",
            "CioPushMetric",
            "customerio",
            "customerio",
        )
    }
    paths["/api/v2/entity"] = {
        "post": _write("One Track v2 operation.", "CioOperation", "customerio", "customerio")
    }
    paths["/api/v2/batch"] = {
        "post": _write("Track v2 operations.", "CioBatch", "customerio", "customerio")
    }
    status = {
        "type": "object",
        "properties": {"status": {"type": "string"}},
        "required": ["status"],
    }
    paths.update(openapi_regulations.paths({"$ref": "#/components/schemas/Error"}))
    paths.update(openapi_webhooks.paths({"$ref": "#/components/schemas/Error"}))
    paths["/healthz"] = _get("The process is alive.", JSON, status)
    paths["/readyz"] = _get(
        "Ready to take writes.",
        JSON,
        status,
        {
            "503": {
                "description": "Not ready: the body says why.",
                "content": {JSON: {"schema": status}},
            }
        },
    )
    paths["/metrics"] = _get(
        "Prometheus metrics.",
        "text/plain",
        {"type": "string"},
        {"401": _error("TRACKWELL_METRICS_TOKEN is set: a matching bearer token is needed.")},
    )
    paths["/openapi.json"] = _get("This document.", JSON, OBJECT)
    paths["/trackwell.js"] = _get(
        "The marketing-page snippet.", "application/javascript", {"type": "string"}
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trackwell gateway",
            "version": __version__,
            "description": "Segment- and Customer.io-compatible event intake, checked against the tracking plan. A 200 means the messages are durable in the store.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "segment": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "the write key as user name, empty password (or writeKey in the body)",
                },
                "customerio": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "site_id = the source name, api_key = its key",
                },
                **openapi_regulations.SECURITY,
            },
        },
    }
