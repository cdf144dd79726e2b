"""Fake Customer.io Track API: v1 people, events, anonymous events, merges, deletes, suppression,
devices and delivery metrics; the v2 batch.

Every request is first checked against the shapes written from Customer.io's published Track
API reference (`schemas/customerio-track-v1.json`, `schemas/customerio-track-v2.json`): a field
the reference does not list, a missing required one, a wrong type or an identifier outside the
documented kinds is refused as Customer.io refuses it (v1: 400 `meta.error`; v2: 207 with the
operation's `batch_index`).

It also reports back, as Customer.io's reporting webhooks do (`tests/fakes/cio_reporting.py`):
`report(event, metric)` builds the report of what the journey an accepted event triggered did,
and `send_report(url, event, metric)` posts it signed with `reporting_key`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import httpx

from tests.fakes.cio_reporting import DEFAULT_REPORTING_KEY, post_report, report_body
from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply, TlsFiles, basic_credentials, json_size

# Documented limits (docs: "Invalid API requests", Track API v2 batch).
MAX_ID_BYTES = 150  # the reference's "Customer limits": a person's ID
MAX_ATTRIBUTES = 300
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
MAX_BATCH_BYTES = 500 * 1024
MAX_OPERATION_BYTES = 32 * 1024
ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
ID_KINDS = ("id", "email", "cio_id")
_CUSTOMER = re.compile(r"^/api/v1/customers/([^/]+)$")
_CUSTOMER_EVENTS = re.compile(r"^/api/v1/customers/([^/]+)/events$")
# Calls without a request body in the reference: delete, suppress, unsuppress and device delete.
# A body, when a client sends one anyway (`{}`), is ignored.
_CUSTOMER_ACTION = re.compile(r"^/api/v1/customers/([^/]+)/(suppress|unsuppress)$")
_CUSTOMER_DEVICES = re.compile(r"^/api/v1/customers/([^/]+)/devices$")
_CUSTOMER_DEVICE = re.compile(r"^/api/v1/customers/([^/]+)/devices/([^/]+)$")
PLATFORMS = ("ios", "android")
V1 = "customerio-track-v1"
V2 = "customerio-track-v2"
# v1 routes and the definition of their body in the v1 schema file.
V1_SHAPES = (
    ("PUT", _CUSTOMER, "identify"),
    ("DELETE", _CUSTOMER, "no_body"),
    ("POST", _CUSTOMER_EVENTS, "customer_event"),
    ("POST", re.compile(r"^/api/v1/events$"), "anonymous_event"),
    ("POST", re.compile(r"^/api/v1/merge_customers$"), "merge_customers"),
    ("PUT", re.compile(r"^/api/v1/customers/[^/]+/devices$"), "add_device"),
    ("DELETE", re.compile(r"^/api/v1/customers/[^/]+/devices/[^/]+$"), "no_body"),
    ("POST", re.compile(r"^/api/v1/customers/[^/]+/(?:suppress|unsuppress)$"), "no_body"),
    ("POST", re.compile(r"^/api/v1/metrics$"), "metrics"),
)
# v2 operations by (type, action), the reference's discriminator, and their definition.
V2_SHAPES = {
    ("person", "identify"): "person_identify",
    ("person", "event"): "person_event",
    ("person", "page"): "person_event",
    ("person", "screen"): "person_event",
    ("person", "merge"): "person_merge",
    ("person", "delete"): "person_delete",
    ("person", "suppress"): "person_delete",
    ("person", "unsuppress"): "person_delete",
    ("person", "add_device"): "person_add_device",
    ("person", "delete_device"): "person_delete_device",
    ("person", "add_relationships"): "person_relationships_change",
    ("person", "delete_relationships"): "person_relationships_change",
    ("object", "identify"): "object_identify",
    ("object", "identify_anonymous"): "object_identify_anonymous",
    ("object", "delete"): "object_delete",
    ("object", "add_relationships"): "object_relationships_change",
    ("object", "delete_relationships"): "object_relationships_change",
    ("delivery", "event"): "delivery_event",
}


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"meta": {"error": message}})


class FakeCustomerIO(FakeServer):
    """Basic auth site_id:api_key; validates as documented; events de-duplicated by their ULID id."""

    def __init__(
        self,
        site_id: str = "site-1",
        api_key: str = "key-1",
        *,
        tls: TlsFiles | None = None,
        reporting_key: str = DEFAULT_REPORTING_KEY,
    ) -> None:
        super().__init__(tls=tls)
        self.site_id, self.api_key = site_id, api_key
        # The workspace's webhook signing key: reporting webhooks are signed with it.
        self.reporting_key = reporting_key
        self.people: dict[str, dict[str, Any]] = {}
        self.events: list[
            dict[str, Any]
        ] = []  # accepted once each, with "person" or "anonymous_id"
        self.merges: list[dict[str, Any]] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.updated_at: dict[str, int] = {}  # a person's latest `_timestamp` / `timestamp`
        # Operations, keyed by the identifier as sent (`cio_<id>` and emails as they came).
        self.deleted: list[str] = []
        self.suppressed: set[str] = set()
        self.devices: dict[str, dict[str, dict[str, Any]]] = {}  # person -> token -> device
        self.relationships_deleted: list[tuple[str, dict[str, Any]]] = []
        self.objects_deleted: list[dict[str, Any]] = []
        # Delivery metrics as received: the v1 body (`/api/v1/metrics`), or for a v2 `delivery`
        # operation `{"delivery_id", "metric", "device_token"}`; each with "api": "v1" | "v2".
        self.metrics: list[dict[str, Any]] = []

    def activity(self, person: str) -> list[dict[str, Any]]:
        """The events on a person's profile: their own, and anonymous ones whose anonymous_id
        an identify set on them (Customer.io's anonymous event merge)."""
        anonymous_id = self.people.get(person, {}).get("anonymous_id")
        return [
            event
            for event in self.events
            if event["person"] == person
            or (anonymous_id is not None and event["anonymous_id"] == anonymous_id)
        ]

    def person_of(self, event: dict[str, Any]) -> str:
        """Who a journey triggered by an accepted event runs for: its person, or for an
        anonymous event the person an identify merged its anonymous_id into."""
        if event["person"] is not None:
            return str(event["person"])
        for person, attributes in self.people.items():
            if attributes.get("anonymous_id") == event["anonymous_id"]:
                return person
        raise ValueError("no person has this anonymous event yet: Customer.io runs no journey")

    def report(self, event: dict[str, Any], metric: str, **options: Any) -> dict[str, Any]:
        """The reporting-webhook body for `metric` of the journey `event` triggered (options:
        object_type, campaign_id, action_id, at (Unix seconds), event_id)."""
        person = self.person_of(event)
        email = self.people.get(person, {}).get("email")
        return report_body(event, metric, person=person, email=email, **options)

    def send_report(
        self,
        url: str,
        event: dict[str, Any],
        metric: str,
        *,
        timestamp: int | None = None,
        **options: Any,
    ) -> httpx.Response:
        """Post `report(event, metric)` to `url`, signed with `reporting_key` at `timestamp`."""
        return post_report(
            url, self.report(event, metric, **options), key=self.reporting_key, timestamp=timestamp
        )

    def handle(self, request: Received) -> Reply:
        """Route as the Track API does."""
        if basic_credentials(request.headers) != (self.site_id, self.api_key):
            return _error(401, "Unauthorized request")
        if (problem := check_v1_shape(request)) is not None:
            return _error(400, problem)
        path, method = request.path, request.method
        if method == "DELETE" and (match := _CUSTOMER.match(path)):
            return self._reply(self._person_action(unquote(match.group(1)), "delete"))
        if method == "POST" and (match := _CUSTOMER_ACTION.match(path)):
            return self._reply(self._person_action(unquote(match.group(1)), match.group(2)))
        if method == "DELETE" and (match := _CUSTOMER_DEVICE.match(path)):
            person, token = unquote(match.group(1)), unquote(match.group(2))
            return self._reply(self._delete_device(person, token))
        try:
            body = request.json()
        except ValueError:
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        if method == "PUT" and (match := _CUSTOMER_DEVICES.match(path)):
            device = body.get("device")
            if not isinstance(device, dict):
                return _error(400, "device must be an object")
            return self._reply(self._add_device(unquote(match.group(1)), device, "id"))
        if method == "PUT" and (match := _CUSTOMER.match(path)):
            return self._reply(self._identify(unquote(match.group(1)), body))
        if method == "POST" and (match := _CUSTOMER_EVENTS.match(path)):
            return self._reply(self._event(body, person=unquote(match.group(1))))
        if method == "POST" and path == "/api/v1/events":
            return self._reply(self._event(body, anonymous_id=body.get("anonymous_id")))
        if method == "POST" and path == "/api/v1/merge_customers":
            return self._reply(self._merge(body))
        if method == "POST" and path == "/api/v1/metrics":
            self.metrics.append({**body, "api": "v1"})  # the shape was checked above
            return Reply(200, {})
        if method == "POST" and path == "/api/v2/batch":
            return self._batch(request, body)
        return _error(404, f"no route for {method} {path}")

    @staticmethod
    def _reply(error: str | None) -> Reply:
        return _error(400, error) if error else Reply(200, {})

    # -- v1 ---------------------------------------------------------------------------------

    def _identify(
        self, person: str, attributes: dict[str, Any], timestamp: int | None = None
    ) -> str | None:
        if not person:
            return "id attribute cannot be an empty string"
        if len(person.encode()) > MAX_ID_BYTES:
            return f"id cannot be longer than {MAX_ID_BYTES} bytes"
        if person in self.suppressed:
            return None  # "any future API calls ... referencing the specified ID are ignored"
        attributes = dict(attributes)
        timestamp = attributes.pop("_timestamp", timestamp)  # v1 in the body, v2 beside it
        if error := check_attributes(attributes):
            return error
        if timestamp is not None:
            if timestamp < self.updated_at.get(person, timestamp):
                return None  # an older update arriving late: the newer attributes stand
            self.updated_at[person] = timestamp
        self.people.setdefault(person, {}).update(attributes)
        return None

    def _event(
        self,
        body: dict[str, Any],
        *,
        person: str | None = None,
        anonymous_id: Any = None,
        data_key: str = "data",
    ) -> str | None:
        if error := check_event(body, data_key):
            return error
        if anonymous_id is not None and not isinstance(anonymous_id, str):
            return "anonymous_id must be a string"
        if person is not None and len(person.encode()) > MAX_ID_BYTES:
            return f"id cannot be longer than {MAX_ID_BYTES} bytes"
        if person is not None and person in self.suppressed:
            return None  # a suppressed identifier's calls are ignored
        key = body.get("id")
        if key is None or self.first_time(f"event:{key}"):
            self.events.append({**body, "person": person, "anonymous_id": anonymous_id})
        return None

    def _merge(self, body: dict[str, Any]) -> str | None:
        for side in ("primary", "secondary"):
            ident = body.get(side)
            if not isinstance(ident, dict) or len(ident) != 1 or next(iter(ident)) not in ID_KINDS:
                return f"{side} must be an object with one of {', '.join(ID_KINDS)}"
        self.merges.append({"primary": body["primary"], "secondary": body["secondary"]})
        return None

    def _person_action(self, person: str, action: str) -> str | None:
        """delete, suppress (delete and keep out) or unsuppress a person.

        Deleting removes "them, and all of their information" (the reference's words): the
        profile, devices, and the events on their profile, anonymous ones merged into it too."""
        if not person:
            return "identifier cannot be empty"
        if action in ("delete", "suppress"):
            gone = {id(event) for event in self.activity(person)}
            self.events = [event for event in self.events if id(event) not in gone]
            self.people.pop(person, None)
            self.devices.pop(person, None)
            self.updated_at.pop(person, None)
            self.deleted.append(person)
        if action == "suppress":
            self.suppressed.add(person)
        elif action == "unsuppress":
            self.suppressed.discard(person)
        return None

    def _add_device(self, person: str, device: dict[str, Any], token_key: str) -> str | None:
        """v1 `{"device": {"id", ...}}` or v2 `device: {"token", ...}`; platform ios or android."""
        token = device.get(token_key)
        if not isinstance(token, str) or not token:
            return f"device.{token_key} is required"
        if device.get("platform") not in PLATFORMS:
            return "device.platform must be one of ios, android"
        last_used = device.get("last_used")
        if last_used is not None and (
            isinstance(last_used, bool) or not isinstance(last_used, int)
        ):
            return "device.last_used must be a Unix timestamp (integer seconds)"
        attributes = device.get("attributes", {})
        if not isinstance(attributes, dict):
            return "device.attributes must be an object"
        self.devices.setdefault(person, {})[token] = dict(device)
        return None

    def _delete_device(self, person: str, token: str) -> str | None:
        if not token:
            return "device token is required"
        self.devices.get(person, {}).pop(token, None)
        return None

    # -- v2 ---------------------------------------------------------------------------------

    def _batch(self, request: Received, body: dict[str, Any]) -> Reply:
        if len(request.body) > MAX_BATCH_BYTES:
            return _error(413, "request body must be smaller than 500kb")
        if (wrong := violation(V2, "batch", body)) is not None:
            return _error(400, str(wrong))
        operations = body["batch"]
        errors = []
        for index, operation in enumerate(operations):
            problem = self._operation(operation)
            if problem:
                field, message = problem
                errors.append(
                    {"batch_index": index, "reason": "invalid", "field": field, "message": message}
                )
        return Reply(207, {"errors": errors}) if errors else Reply(200, {})

    def _operation(self, op: Any) -> tuple[str, str] | None:
        if not isinstance(op, dict):
            return "", "operation must be an object"
        if json_size(op) > MAX_OPERATION_BYTES:
            return "", "operation must be smaller than 32kb"
        kind, action = op.get("type"), op.get("action")
        shape = V2_SHAPES.get((str(kind), str(action)))
        if shape is None:
            return "action", f"unknown action {action!r} for type {kind!r}"
        if (wrong := violation(V2, shape, op)) is not None:
            return wrong.field, wrong.message
        if kind == "object":
            return self._object(op)
        if kind == "delivery":
            self.metrics.append({"delivery_id": op["identifiers"]["id"], "metric": op["name"],
                                 "device_token": op["attributes"]["device_token"], "api": "v2"})  # fmt: skip
            return None
        if action == "merge":
            error = self._merge(op)
            return ("primary", error) if error else None
        ((id_kind, value),) = op["identifiers"].items()
        if action == "identify":
            error = self._identify(value, op.get("attributes", {}), op.get("timestamp"))
            return ("attributes", error) if error else None
        person_key = f"cio_{value}" if id_kind == "cio_id" else value  # as a v1 path names it
        if action in ("delete", "suppress", "unsuppress"):
            error = self._person_action(person_key, action)
            return ("identifiers", error) if error else None
        if action in ("add_device", "delete_device"):
            device = op["device"]
            if action == "add_device":
                error = self._add_device(person_key, device, "token")
            else:
                error = self._delete_device(person_key, str(device.get("token") or ""))
            return ("device", error) if error else None
        if action == "delete_relationships":
            for relation in op["cio_relationships"]:
                self.relationships_deleted.append((person_key, relation["identifiers"]))
            return None
        if action in ("event", "page", "screen"):
            error = self._event(op, person=value, data_key="attributes")
            return ("name", error) if error else None
        return "action", f"unknown action {action!r} for a person"

    def _object(self, op: dict[str, Any]) -> tuple[str, str] | None:
        identifiers = op.get("identifiers")
        if op.get("action") == "delete" and isinstance(identifiers, dict):
            self.objects.pop(
                f"{identifiers.get('object_type_id')}:{identifiers.get('object_id')}", None
            )
            self.objects_deleted.append(identifiers)
            return None
        if op.get("action") not in ("identify", "identify_anonymous"):
            return "action", f"unknown action {op.get('action')!r} for an object"
        if not isinstance(identifiers, dict) or not {"object_type_id", "object_id"} <= set(
            identifiers
        ):
            return "identifiers", "objects need object_type_id and object_id"
        if error := check_attributes(op.get("attributes") or {}):
            return "attributes", error
        relationships = op.get("cio_relationships") or []
        if not isinstance(relationships, list):
            return "cio_relationships", "cio_relationships must be an array"
        key = f"{identifiers['object_type_id']}:{identifiers['object_id']}"
        entry = self.objects.setdefault(key, {"attributes": {}, "members": []})
        entry["attributes"].update(op.get("attributes") or {})
        entry["members"].extend(r.get("identifiers") for r in relationships)
        return None


def check_v1_shape(request: Received) -> str | None:
    """How a v1 request breaks its documented body shape, or None (also for other routes)."""
    for method, route, shape in V1_SHAPES:
        if request.method == method and route.match(request.path):
            if shape == "no_body" and not request.body.strip():
                return None
            try:
                body = request.json()
            except ValueError:
                return "request body is not valid JSON"
            wrong = violation(V1, shape, body)
            return None if wrong is None else str(wrong)
    return None


def check_attributes(attributes: Any) -> str | None:
    """Customer.io's identify limits, in its own words."""
    if not isinstance(attributes, dict):
        return "attributes must be an object"
    if len(attributes) > MAX_ATTRIBUTES:
        return f"cannot identify more than {MAX_ATTRIBUTES} attributes in one request"
    for name, value in attributes.items():
        if len(name.encode()) > MAX_ATTRIBUTE_NAME_BYTES:
            return f"attribute name cannot be longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes"
        if json_size(value) > MAX_ATTRIBUTE_VALUE_BYTES:
            return f"value for attribute '{name}' cannot be longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
    if "created_at" in attributes and not isinstance(attributes["created_at"], int):
        return "created_at must be a Unix timestamp (integer seconds)"
    return None


def check_event(body: dict[str, Any], data_key: str = "data") -> str | None:
    """Customer.io's event limits, in its own words (v1 data in `data`, v2 in `attributes`)."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        return "event name must not be blank"
    if len(name.encode()) > MAX_EVENT_NAME_BYTES:
        return f"event name cannot be longer than {MAX_EVENT_NAME_BYTES} bytes"
    data = body.get(data_key, {})
    if not isinstance(data, dict):
        return 'event data must be a hash (e.g., send "data":{} instead of "data":"")'
    if json_size(data) > MAX_EVENT_DATA_BYTES:
        return f"event data cannot be longer than {MAX_EVENT_DATA_BYTES} bytes"
    timestamp = body.get("timestamp")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
        return "timestamp must be a Unix timestamp (integer seconds)"
    if "id" in body and not (isinstance(body["id"], str) and ULID.match(body["id"])):
        return "id must be a ULID"
    if data_key == "data" and body.get("type", "event") not in ("event", "page", "screen"):
        return "type must be one of event, page, screen"
    return None
