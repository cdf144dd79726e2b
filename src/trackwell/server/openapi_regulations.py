"""The regulations API's part of /openapi.json: its paths and schemas (server/regulations.py)."""

from __future__ import annotations

from typing import Any

from trackwell.core.privacy import JOB_STATUSES, REQUEST_KINDS
from trackwell.server.jsonparts import NO_NUL
from trackwell.server.regulations import (
    DEFAULT_COUNT,
    KINDS,
    MAX_COUNT,
    MAX_SUBJECT_LENGTH,
    MAX_SUBJECTS,
    PREFIX,
    SEGMENT_ONLY,
    SUBJECT_TYPES,
)

JSON = "application/json"
OVERALL = ["INITIALIZED", "RUNNING", "FINISHED", "PARTIAL_SUCCESS", "FAILED", "NOT_SUPPORTED"]
DESTINATION = ["INITIALIZED", "IN_PROGRESS", "FINISHED", "FAILED", "NOT_SUPPORTED"]
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "CreateRegulation": {
        "type": "object",
        "description": "Segment's Public API createWorkspaceRegulation body. SUPPRESS_WITH_DELETE"
        " and DELETE_ONLY erase (and refuse later messages of the person), SUPPRESS_ONLY"
        " suppresses, UNSUPPRESS lifts a suppression; the Segment-only types ("
        + ", ".join(sorted(SEGMENT_ONLY))
        + ") are refused. One request is made per subject id.",
        "required": ["regulationType", "subjectType", "subjectIds"],
        "properties": {
            "regulationType": {"type": "string", "enum": list(KINDS)},
            "subjectType": {
                "type": "string",
                "enum": list(SUBJECT_TYPES),
                "description": "any of them names the person by every identifier they have",
            },
            "subjectIds": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SUBJECTS,
                "items": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SUBJECT_LENGTH,
                    "allOf": [{"pattern": "\\S"}, {"pattern": NO_NUL}],
                },
            },
        },
    },
    "RegulationCreated": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["regulateId", "regulateIds"],
                "properties": {
                    "regulateId": {"type": "string", "description": "the first id's request"},
                    "regulateIds": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "one request per subject id, in order",
                    },
                },
            }
        },
    },
    "DestinationStatus": {
        "type": "object",
        "required": ["id", "name", "status", "trackwellStatus", "attempts"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": DESTINATION},
            "trackwellStatus": {"type": "string", "enum": list(JOB_STATUSES)},
            "attempts": {"type": "integer", "minimum": 0},
            "finishedAt": TIME_OR_NULL,
            "errString": {"type": ["string", "null"], "description": "the tool's answer"},
            "detail": {"type": ["string", "null"]},
        },
    },
    "Regulation": {
        "type": "object",
        "description": "One request; never the person's identifiers, only how many.",
        "required": ["id", "overallStatus", "regulationType", "kind", "createdAt", "streamStatus"],
        "properties": {
            "id": {"type": "string"},
            "overallStatus": {"type": "string", "enum": OVERALL},
            "regulationType": {
                "type": "string",
                "enum": ["SUPPRESS_WITH_DELETE", "SUPPRESS_ONLY", "UNSUPPRESS"],
            },
            "kind": {"type": "string", "enum": list(REQUEST_KINDS)},
            "createdAt": {"type": "string", "format": "date-time"},
            "finishedAt": TIME_OR_NULL,
            "actor": {"type": "string"},
            "identifiers": {"type": "integer", "minimum": 0},
            "erased": {"type": "object", "additionalProperties": {"type": "integer"}},
            "streamStatus": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string", "enum": OVERALL},
                        "destinations": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/DestinationStatus"},
                        },
                    },
                },
            },
        },
    },
}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def paths(error: dict[str, Any]) -> dict[str, Any]:
    """The regulations paths; `error` is the document's Error answer schema."""
    errors = {
        "401": _answer("No admin token, or the wrong one (or none is configured).", error),
    }
    create = {
        "summary": "Erase, suppress or unsuppress people (one request per subject id).",
        "tags": ["privacy"],
        "security": [{"admin": []}],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/CreateRegulation"}}},
        },
        "responses": {
            "200": _answer(
                "Done in the store; queued for every destination.",
                {"$ref": "#/components/schemas/RegulationCreated"},
            ),
            "400": _answer("A field is missing or wrong (`field` names it).", error),
            **errors,
            "503": _answer("The store cannot take the request right now.", error),
        },
    }
    listing = {
        "summary": "The newest requests first.",
        "tags": ["privacy"],
        "security": [{"admin": []}],
        "parameters": [
            {
                "name": "pagination.count",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_COUNT,
                    "default": DEFAULT_COUNT,
                },
            }
        ],
        "responses": {
            "200": _answer(
                "The requests, each with its per-destination status.",
                {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "object",
                            "properties": {
                                "regulations": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Regulation"},
                                },
                                "pagination": {"type": "object"},
                            },
                        }
                    },
                },
            ),
            "400": _answer("A count out of range.", error),
            **errors,
        },
    }
    read = {
        "summary": "One request and where it stands, per destination.",
        "tags": ["privacy"],
        "security": [{"admin": []}],
        "parameters": [
            {"name": "regulateId", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": _answer(
                "The request.",
                {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "object",
                            "properties": {
                                "regulation": {"$ref": "#/components/schemas/Regulation"}
                            },
                        }
                    },
                },
            ),
            **errors,
            "404": _answer("No request has this id.", error),
        },
    }
    return {PREFIX: {"post": create, "get": listing}, PREFIX + "/{regulateId}": {"get": read}}


SECURITY = {
    "admin": {
        "type": "http",
        "scheme": "bearer",
        "description": "the admin token (TRACKWELL_ADMIN_TOKEN)",
    }
}
