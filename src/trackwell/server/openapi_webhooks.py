"""The outcome webhooks' part of /openapi.json: their paths and schemas (server/webhooks.py)."""

from __future__ import annotations

from typing import Any

from trackwell.server.webhook_keys import REPLAY_WINDOW_SECONDS, SOURCE_NAME
from trackwell.server.webhooks import (
    CIO_SIGNATURE,
    CIO_TIMESTAMP,
    CUSTOMERIO_PATH,
    MAX_BODY_BYTES,
    MAX_REPORTS,
    OUTCOMES_PATH,
)

JSON = "application/json"
ID = {"type": ["string", "integer"], "description": "text, or a whole number"}
TIME = {
    "type": ["integer", "number", "string"],
    "description": "Unix seconds, or (outcome webhooks) an ISO-8601 time with an offset;"
    " missing: the arrival time",
}

SCHEMAS: dict[str, Any] = {
    "CustomerioReport": {
        "type": "object",
        "description": "A Customer.io reporting webhook"
        " (https://customer.io/docs/api/webhooks/#operation/reportingWebhook). Any other field,"
        " object type or metric is kept as sent; the whole body is stored with the report.",
        "properties": {
            "event_id": {"type": "string", "description": "stored once per event id"},
            "object_type": {
                "type": "string",
                "description": "email, push, in_app, sms, slack, webhook, customer, ...",
            },
            "metric": {
                "type": "string",
                "description": "sent, delivered, opened, clicked, converted, bounced, ...",
            },
            "timestamp": TIME,
            "data": {
                "type": "object",
                "properties": {
                    "customer_id": ID,
                    "identifiers": {
                        "type": "object",
                        "properties": {"id": ID, "email": {"type": "string"}, "cio_id": ID},
                    },
                    "campaign_id": ID,
                    "broadcast_id": ID,
                    "journey_id": ID,
                    "action_id": ID,
                    "delivery_id": ID,
                    "trigger_event_id": {
                        "type": "string",
                        "description": "the id trackwell sent the triggering event under",
                    },
                },
            },
        },
    },
    "OutcomeReport": {
        "type": "object",
        "description": "One outcome a tool reports (any field beyond these is kept).",
        "properties": {
            "event_id": {"type": "string", "description": "stored once per source and event id"},
            "metric": {"type": "string"},
            "object_type": {"type": "string"},
            "timestamp": TIME,
            "user_id": ID,
            "anonymous_id": ID,
            "email": {"type": "string"},
            "message_id": {"type": "string", "description": "the trackwell messageId it followed"},
            "campaign_id": ID,
            "broadcast_id": ID,
            "action_id": ID,
            "delivery_id": ID,
        },
    },
    "ReportsStored": {
        "type": "object",
        "required": ["received", "stored", "duplicates", "dropped", "linked"],
        "properties": {
            "received": {"type": "integer", "minimum": 0},
            "stored": {"type": "integer", "minimum": 0},
            "duplicates": {
                "type": "integer",
                "minimum": 0,
                "description": "already stored (a retry)",
            },
            "dropped": {
                "type": "integer",
                "minimum": 0,
                "description": "naming an erased or suppressed person: acknowledged, not stored",
            },
            "linked": {
                "type": "integer",
                "minimum": 0,
                "description": "tied to the logged trackwell message that triggered them",
            },
        },
    },
}


def _body(schema: str) -> dict[str, Any]:
    """A request body of one report or an array of them."""
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "oneOf": [
                        ref,
                        {"type": "array", "maxItems": MAX_REPORTS, "items": ref},
                    ]
                }
            }
        },
    }


def _header(name: str, description: str) -> dict[str, Any]:
    """An optional string header parameter."""
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"},
            "description": description}  # fmt: skip


def paths(error: dict[str, Any]) -> dict[str, Any]:
    """The webhook paths, answering errors with `error` (the document's Error schema)."""

    def answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        """A JSON response (the Error schema unless another is given)."""
        return {"description": description, "content": {JSON: {"schema": schema or error}}}

    responses = {
        "200": answer(
            "Committed (or already stored): Customer.io moves on.",
            {"$ref": "#/components/schemas/ReportsStored"},
        ),
        "400": answer("The body is not JSON."),
        "401": answer(
            "Not signed, signed with another key, or a timestamp more than"
            f" {REPLAY_WINDOW_SECONDS} seconds away; or the receiver has no key (off)."
        ),
        "413": answer(
            f"A body over {MAX_BODY_BYTES // (1024 * 1024)} MB or {MAX_REPORTS} reports."
        ),
        "415": answer("An unsupported Content-Encoding."),
        "503": {
            **answer("The store cannot take the report right now; nothing was stored: retry."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
        },
    }
    customerio = {
        "summary": "Customer.io's reporting webhooks: stored as outcome reports, linked to the"
        " person and to the trackwell message that triggered the journey.",
        "tags": ["outcomes"],
        "parameters": [
            _header(CIO_TIMESTAMP, "Unix seconds the call was signed at"),
            _header(
                CIO_SIGNATURE,
                "hex HMAC-SHA256 of `v0:<timestamp>:<body>` under the webhook signing key"
                " (TRACKWELL_CUSTOMERIO_WEBHOOK_KEY)",
            ),
        ],
        "requestBody": _body("CustomerioReport"),
        "responses": responses,
    }
    outcomes = {
        "summary": "Another tool's outcome reports, signed as trackwell's webhook destination"
        " signs (key: TRACKWELL_OUTCOMES_<SOURCE>_KEY).",
        "tags": ["outcomes"],
        "parameters": [
            {
                "name": "source",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": f"^{SOURCE_NAME.pattern}$"},
            },
            _header("x-trackwell-timestamp", "Unix seconds the call was signed at"),
            _header(
                "x-trackwell-signature", "`v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>`"
            ),
        ],
        "requestBody": _body("OutcomeReport"),
        "responses": {**responses, "404": answer("A source name that cannot be one.")},
    }
    return {CUSTOMERIO_PATH: {"post": customerio}, OUTCOMES_PATH: {"post": outcomes}}
