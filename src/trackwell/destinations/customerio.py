"""Customer.io Track API: per-message v1 calls, or the v2 batch endpoint for throughput.

Every request shape follows Customer.io's published Track API reference (the OpenAPI 3.1
document behind docs.customer.io/integrations/api/track): v1 `PUT /api/v1/customers/{id}`
(operationId `identify`), `POST /api/v1/customers/{id}/events` (`track`), `POST /api/v1/events`
(`trackAnonymous`), `POST /api/v1/merge_customers` (`merge`), and v2 `POST /api/v2/batch`
(`batch`, operations `identify_person`, `person_event`, `person_page`, `person_screen`,
`person_merge`, `object_identify`, `object_identify_anonymous`). Delivery metrics:
`customerio_metrics`. Privacy requests (`privacy`) are the person operations below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal, Unpack
from urllib.parse import quote

from trackwell.core.messages import WireMessage
from trackwell.core.operations import (
    CIO_ID_PREFIX,
    CUSTOMERIO_PERSON_ACTIONS,
    DELIVERY_METRIC,
    DELIVERY_OPERATIONS,
    DEVICE_DELETED,
    DEVICE_OPERATIONS,
    DEVICE_UPDATED,
    OBJECT_DELETED,
    OPERATIONS,
    PERSON_OPERATIONS,
    RELATIONSHIP_DELETED,
    USER_DELETED,
    USER_SUPPRESSED,
    USER_UNSUPPRESSED,
    cio_id_of,
    operation_of,
)
from trackwell.core.outcomes import Outcome
from trackwell.core.privacy import RequestKind, Subject
from trackwell.destinations import customerio_metrics
from trackwell.destinations.base import (
    DestinationSettings,
    Outgoing,
    Prepared,
    PrivacyAnswer,
    SettingKeywords,
)
from trackwell.destinations.common import (
    HttpDestination,
    UnsendableError,
    action_time,
    basic_auth,
    classify_response,
    dead,
    epoch_seconds,
    json_bytes,
    json_headers,
    message_id,
    one_of,
    required,
    response_json,
    size_of,
    to_epoch_seconds,
    ulid_from,
    within,
)
from trackwell.destinations.http import HttpRequest, HttpResponse
from trackwell.destinations.privacy import from_outcomes, operation_messages, people

HOSTS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
# Customer.io's documented limits ("Invalid API requests", and the Track API reference's
# "Customer limits"); over them a call is rejected.
MAX_ID_BYTES = 150
MAX_ATTRIBUTES = 300
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
# v2 batch: a request under 500 KB, each operation under 32 KB (decimal, to stay clear of both).
MAX_BATCH_BYTES = 500_000
MAX_OPERATION_BYTES = 32_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CustomerIO(HttpDestination):
    """Customer.io Journeys Track API (Basic auth with site id and API key; US or EU)."""

    kind = "customerio"

    def __init__(
        self,
        name: str | None = None,
        *,
        site_id: str | None = None,
        api_key: str | None = None,
        region: Literal["us", "eu"] = "us",
        api: Literal["v1", "v2"] | None = None,
        mode: Literal["v1", "v2"] | None = None,
        object_type_id: str = "1",
        base_url: str | None = None,
        settings: DestinationSettings | None = None,
        **common: Unpack[SettingKeywords],
    ) -> None:
        self.region = one_of("region", region, HOSTS)
        # `api` is the Track API version; `mode` is its deprecated name (now `mode = "capture"`
        # in trackwell.toml is every destination's switch to capture mode).
        if api is not None and mode is not None and api != mode:
            raise ValueError(f"api={api!r} and its deprecated name mode={mode!r} disagree")
        given = "mode" if api is None and mode is not None else "api"
        self.api = one_of(given, api or mode or "v2", ("v1", "v2"))
        self.object_type_id = object_type_id
        # v1 has no objects, so a group call has nowhere to go there.
        self.supported_types = frozenset(
            ["identify", "track", "page", "screen", "alias"]
            + (["group"] if self.api == "v2" else [])
        )
        # ... nor object operations (relationship and object deletes).
        self.operations = (
            OPERATIONS
            if self.api == "v2"
            else PERSON_OPERATIONS | DEVICE_OPERATIONS | DELIVERY_OPERATIONS
        )
        self._auth = basic_auth(site_id, api_key) if site_id and api_key else None
        super().__init__(
            name,
            missing=required(site_id=site_id, api_key=api_key),
            base_url=base_url or HOSTS[region],
            settings=settings,
            **common,
        )

    def tool_settings(self) -> dict[str, Any]:
        """Region and Track API version."""
        return {"region": self.region, "api": self.api}

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        """One request per message (v1) or batches of operations within the size limits (v2)."""
        prepared = Prepared()
        if self.api == "v1":
            for index, (method, path, body) in self.mapped(messages, prepared, self._v1_call):
                prepared.requests.append(Outgoing(self._request(method, path, body), (index,)))
            return prepared
        calls: list[tuple[int, tuple[str, str, bytes]]] = []
        operations: list[tuple[int, dict[str, Any]]] = []
        for index, (kind, item) in self.mapped(messages, prepared, self._v2_item):
            (calls if kind == "call" else operations).append((index, item))
        # Anonymous events first: they happened before the identify that ties them to a person.
        for index, (method, path, body) in calls:
            prepared.requests.append(Outgoing(self._request(method, path, body), (index,)))
        self.batched(
            prepared,
            operations,
            partial(self._request, "POST", "/api/v2/batch"),
            max_count=self.batch_size,
            max_bytes=MAX_BATCH_BYTES,
            max_item_bytes=MAX_OPERATION_BYTES,
            head=b'{"batch":',
            tail=b"}",
            what="the operation",
        )
        return prepared

    def parse(
        self, response: HttpResponse, outgoing: Outgoing, messages: Sequence[WireMessage]
    ) -> dict[int, Outcome]:
        """v2 answers 207 with `errors[].batch_index` for the operations it refused."""
        if not (200 <= response.status < 300) or self.api == "v1":
            return dict.fromkeys(outgoing.indices, classify_response(response))
        outcomes = dict.fromkeys(outgoing.indices, Outcome("delivered"))
        data = response_json(response)
        errors = data.get("errors") if isinstance(data, dict) else None
        for error in errors if isinstance(errors, list) else []:
            position = error.get("batch_index") if isinstance(error, dict) else None
            if isinstance(position, int) and 0 <= position < len(outgoing.indices):
                words = [str(error[k]) for k in ("field", "message", "reason") if error.get(k)]
                reason = ": ".join(words) or "refused by Customer.io"
                outcomes[outgoing.indices[position]] = dead(f"Customer.io: {reason}")
        return outcomes

    def privacy(
        self, kind: RequestKind, subject: Subject, *, request_id: str | None = None
    ) -> PrivacyAnswer:
        """Delete, suppress or unsuppress the person with Customer.io's own calls, in the
        configured Track API version: v1 `DELETE /api/v1/customers/{identifier}` and `POST
        .../suppress` / `.../unsuppress`; v2 the person `delete` / `suppress` / `unsuppress`
        actions (https://docs.customer.io/integrations/api/track/tag/track-customers/delete/,
        .../suppress/, and the v2 `/api/v2/batch` reference). They are the operations
        `User Deleted`, `User Suppressed` and `User Unsuppressed`, built by the code that
        delivers those (`_v1_operation`, `_v2_operation`), one per identifier.

        Customer.io names a person by id or email: each user id is sent, and the emails only
        when there is no user id (this destination made such a person from an identify's email
        trait). An anonymous visitor has no Customer.io person, only anonymous events that the
        Track API offers no call to delete, so that request is not supported."""
        targets = list(subject.user_ids) or list(subject.emails)
        if not targets:
            return PrivacyAnswer(
                "not_supported",
                "Customer.io keeps an anonymous visitor's events under their anonymous_id and has"
                f" no call to {kind} them; only a person with a user id or email can be",
            )
        messages = operation_messages(kind, targets, request_id)
        outcomes = self.deliver(messages)
        api = "v1 per-person calls" if self.api == "v1" else "v2 person actions"
        return from_outcomes(
            outcomes, f"Customer.io accepted {kind} ({api}) for {people(len(targets))}"
        )

    def _request(self, method: str, path: str, body: bytes) -> HttpRequest:
        headers = json_headers()
        if self._auth:
            headers["authorization"] = self._auth
        return HttpRequest(method, self.url(path), headers, body)

    def _v1_call(self, message: WireMessage) -> tuple[str, str, bytes]:
        kind, user_id = message["type"], _person_key(message)
        operation = operation_of(kind, message.get("event"))
        if operation is not None:
            return _v1_operation(operation, message)
        if kind == "identify":
            # operationId `identify`: flat attributes; `_timestamp` orders rapid updates.
            person = _person_for_identify(message)
            body = _attributes(message)
            body["_timestamp"] = epoch_seconds(message)
            return "PUT", f"/api/v1/customers/{_path(person)}", json_bytes(body)
        if kind == "alias":
            if _ties_anonymous_id(message):
                # An anonymous visitor is merged by identifying the person with `anonymous_id`.
                body = {
                    "anonymous_id": str(message["previousId"]),
                    "_timestamp": epoch_seconds(message),
                }
                return "PUT", f"/api/v1/customers/{_path(str(user_id))}", json_bytes(body)
            # operationId `merge`: two known people; `secondary` is merged into `primary`.
            return "POST", "/api/v1/merge_customers", json_bytes(_merge(message))
        body = _event(message)
        body["data"] = body.pop("attributes")
        if user_id:
            # operationId `track`: name, type, id (a ULID), timestamp, data.
            return "POST", f"/api/v1/customers/{_path(user_id)}/events", json_bytes(body)
        # operationId `trackAnonymous`: the same fields plus `anonymous_id`.
        body["anonymous_id"] = _anonymous(message)
        return "POST", "/api/v1/events", json_bytes(body)

    def _v2_item(self, message: WireMessage) -> tuple[Literal["call", "operation"], Any]:
        """A v2 batch operation, or a v1 call for what the v2 API has no documented form of.

        Customer.io's v2 reference lists only `id`, `email`, `phone` and `cio_id` as a person's
        `identifiers` (schema `person_common`), so an anonymous event has no documented v2 form.
        Segment's Customer.io (Actions) destination and RudderStack's v2 transformer send
        `identifiers: {anonymous_id}` anyway; Customer.io does not document that, while its v1
        `POST /api/v1/events` with `anonymous_id` is documented (operationId `trackAnonymous`)
        and is what its own libraries, RudderStack's v1 destination and Segment's "Track
        Anonymous Event" action send. Anonymous events therefore go through v1, one request each.
        """
        kind = message["type"]
        operation = operation_of(kind, message.get("event"))
        if operation == DELIVERY_METRIC:
            # The v2 `delivery` operation documents push metrics only, and no action time.
            delivery = customerio_metrics.v2_delivery(message)
            if delivery is not None:
                return "operation", delivery
            return "call", customerio_metrics.v1_metric(message)
        anonymous = kind in ("track", "page", "screen") and _person_key(message) is None
        if anonymous and operation is None:
            return "call", self._v1_call(message)
        return "operation", self._operation(message)

    def _operation(self, message: WireMessage) -> dict[str, Any]:
        kind = message["type"]
        user_id = _person_key(message)
        operation = operation_of(kind, message.get("event"))
        if operation is not None:
            return self._v2_operation(operation, message)
        if kind == "identify":
            # Schema `identify_person`; `timestamp` orders attribute updates sent in quick succession.
            person = _person_for_identify(message)
            return {
                "type": "person",
                "action": "identify",
                "identifiers": _identifiers(person),
                "attributes": _attributes(message),
                "timestamp": epoch_seconds(message),
            }
        if kind == "alias":
            if _ties_anonymous_id(message):
                return {
                    "type": "person",
                    "action": "identify",
                    "identifiers": _identifiers(str(user_id)),
                    "attributes": {"anonymous_id": str(message["previousId"])},
                    "timestamp": epoch_seconds(message),
                }
            # Schema `person_merge`: `primary` and `secondary` at the top, no `identifiers`.
            return {"type": "person", "action": "merge", **_merge(message)}
        if kind == "group":
            # Schemas `object_identify` (members by id, email or cio_id) and
            # `object_identify_anonymous` (members by anonymous_id).
            member = _identifiers(user_id) if user_id else {"anonymous_id": _anonymous(message)}
            return {
                "type": "object",
                "action": "identify" if user_id else "identify_anonymous",
                "identifiers": {
                    "object_type_id": self.object_type_id,
                    "object_id": str(message.get("groupId")),
                },
                "attributes": _checked_attributes(dict(message.get("traits") or {})),
                "cio_relationships": [{"identifiers": member}],
            }
        # Schemas `person_event`, `person_page`, `person_screen`: known people only (see _v2_item).
        event = _event(message)
        action = event.pop("type", "event")
        return {
            "type": "person",
            "action": action,
            "identifiers": _identifiers(str(user_id)),
            **event,
        }

    def _v2_operation(self, operation: str, message: WireMessage) -> dict[str, Any]:
        """An operation as Customer.io's own v2 person or object action (Track API reference,
        `/api/v2/batch`: person_delete, person_suppress, person_unsuppress, person_add_device,
        person_delete_device, person_delete_relationships, object_delete)."""
        if operation == OBJECT_DELETED:
            ids = _object_identifiers(message, self.object_type_id)
            return {"type": "object", "action": "delete", "identifiers": ids}
        person = {"type": "person", "identifiers": _identifiers(_operated_person(message))}
        if operation == RELATIONSHIP_DELETED:
            relation = {"identifiers": _object_identifiers(message, self.object_type_id)}
            return {**person, "action": "delete_relationships", "cio_relationships": [relation]}
        if operation == DEVICE_UPDATED:
            device = _device(message)
            device["token"] = device.pop("id")
            return {**person, "action": "add_device", "device": device}
        if operation == DEVICE_DELETED:
            return {**person, "action": "delete_device", "device": {"token": _token(message)}}
        return {**person, "action": CUSTOMERIO_PERSON_ACTIONS[operation]}


def _v1_operation(operation: str, message: WireMessage) -> tuple[str, str, bytes]:
    """An operation as Customer.io's own v1 call (Track API reference: `DELETE
    /api/v1/customers/{identifier}`, `POST .../suppress`, `POST .../unsuppress`, `PUT
    .../devices` with `{"device": {...}}`, `DELETE .../devices/{device_id}`; none has a body
    but the device's; a delivery metric is `POST /api/v1/metrics`, about no person)."""
    if operation == DELIVERY_METRIC:
        return customerio_metrics.v1_metric(message)
    customer = f"/api/v1/customers/{_path(_operated_person(message))}"
    if operation == USER_DELETED:
        return "DELETE", customer, b""
    if operation in (USER_SUPPRESSED, USER_UNSUPPRESSED):
        return "POST", f"{customer}/{CUSTOMERIO_PERSON_ACTIONS[operation]}", b""
    if operation == DEVICE_UPDATED:
        return "PUT", f"{customer}/devices", json_bytes({"device": _device(message)})
    if operation == DEVICE_DELETED:
        return "DELETE", f"{customer}/devices/{_path(_token(message))}", b""
    # Unreachable through `mapped` (v1 does not list object operations); kept for exhaustiveness.
    raise UnsendableError(f"Customer.io's v1 API has no objects, so no '{operation}' (use v2)")


def _person_key(message: WireMessage) -> str | None:
    """The user id, else the Customer.io id (`cio_<id>`, from `context.externalIds`) a message
    addresses its person by: the gateway keeps an unknown `cio_<id>` path there."""
    user_id = message.get("userId")
    if user_id:
        return str(user_id)
    cio_id = cio_id_of(message.get("context"))
    return CIO_ID_PREFIX + cio_id if cio_id is not None else None


def _operated_person(message: WireMessage) -> str:
    """Who an operation acts on: the user id, else the Customer.io id (`cio_<id>`) it names."""
    person = _person_key(message)
    if person is not None:
        return person
    raise UnsendableError(
        f"'{message.get('event')}' needs the person's id, email or Customer.io id;"
        " Customer.io cannot perform it for an anonymous visitor"
    )


def _device_info(message: WireMessage) -> tuple[dict[str, Any], dict[str, Any]]:
    """The device (context.device, else properties.device) and the remaining properties."""
    properties = dict(message.get("properties") or {})
    context_device = (message.get("context") or {}).get("device")
    device = properties.pop("device", None)
    if isinstance(context_device, dict) and context_device.get("token"):
        device = context_device
    return (device if isinstance(device, dict) else {}), properties


def _token(message: WireMessage) -> str:
    token = _device_info(message)[0].get("token")
    if not isinstance(token, str) or not token:
        raise UnsendableError(f"'{message.get('event')}' needs context.device.token")
    return token


def _device(message: WireMessage) -> dict[str, Any]:
    """v1's `device` object: id (the token), platform, last_used and string attributes."""
    info, properties = _device_info(message)
    platform = info.get("type") or properties.pop("platform", None)
    if platform not in ("ios", "android"):
        raise UnsendableError(
            f"Customer.io needs the device's platform, ios or android (context.device.type),"
            f" not {platform!r}"
        )
    properties.pop("platform", None)
    last_used = properties.pop("last_used", None)
    if isinstance(last_used, bool) or not isinstance(last_used, int):
        last_used = epoch_seconds(message)  # when the registration was made
    device: dict[str, Any] = {"id": _token(message), "platform": platform, "last_used": last_used}
    if properties:
        # Custom device attributes are strings in the reference (`push_enabled`: "true").
        device["attributes"] = {k: _attribute_text(v) for k, v in properties.items()}
    return device


def _attribute_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json_bytes(value).decode() if isinstance(value, dict | list) else str(value)


def _object_identifiers(message: WireMessage, default_type: str) -> dict[str, str]:
    """An object named by Data Pipelines' `objectId` / `objectTypeId` (or `cioObjectId`)."""
    properties = message.get("properties") or {}
    object_id = properties.get("objectId", properties.get("object_id"))
    if object_id not in (None, ""):
        type_id = properties.get("objectTypeId", properties.get("object_type_id"))
        return {"object_type_id": str(type_id or default_type), "object_id": str(object_id)}
    if properties.get("cioObjectId"):
        return {"cio_object_id": str(properties["cioObjectId"])}
    raise UnsendableError(f"'{message.get('event')}' needs properties.objectId")


def _path(identifier: str) -> str:
    """A person's identifier as the v1 path segment, within the documented ID limit."""
    text = str(identifier)
    within(len(text.encode()), MAX_ID_BYTES, "the person's identifier", "bytes")
    return quote(text, safe="")


def _identifiers(value: str) -> dict[str, str]:
    """Customer.io's identifier kinds: `cio_` ids, email addresses, otherwise an id."""
    text = str(value)
    within(len(text.encode()), MAX_ID_BYTES, "the person's identifier", "bytes")
    if text.startswith(CIO_ID_PREFIX) and len(text) > len(CIO_ID_PREFIX):
        return {"cio_id": text[len(CIO_ID_PREFIX) :]}
    if _EMAIL.match(text):
        return {"email": text}
    return {"id": text}


def _person_for_identify(message: WireMessage) -> str:
    traits = message.get("traits") or {}
    person = _person_key(message) or traits.get("email")
    if not person:
        raise UnsendableError(
            "Customer.io identifies people by id or email; this identify has neither "
            "(anonymous traits cannot be stored there)"
        )
    return str(person)


def _anonymous(message: WireMessage) -> str:
    anonymous_id = message.get("anonymousId")
    if not anonymous_id:
        raise UnsendableError("Customer.io needs a userId or an anonymousId")
    return str(anonymous_id)


def _attributes(message: WireMessage) -> dict[str, Any]:
    """Flat profile attributes: the traits, `created_at` in Unix seconds, the anonymous id."""
    attributes = dict(message.get("traits") or {})
    created = attributes.pop("createdAt", None)
    if "created_at" in attributes or created is not None:
        attributes["created_at"] = to_epoch_seconds(attributes.get("created_at", created))
    if message.get("anonymousId"):
        # Customer.io merges the anonymous profile's events into this person.
        attributes["anonymous_id"] = str(message["anonymousId"])
    return _checked_attributes(attributes)


def _checked_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    within(len(attributes), MAX_ATTRIBUTES, "the number of attributes")
    for key, value in attributes.items():
        within(len(key.encode()), MAX_ATTRIBUTE_NAME_BYTES, f"attribute name {key[:40]!r}", "bytes")
        within(size_of(value), MAX_ATTRIBUTE_VALUE_BYTES, f"the value of {key!r}", "bytes")
    return attributes


def _event(message: WireMessage) -> dict[str, Any]:
    """Name, data, action time and de-duplication id of a track, page or screen call."""
    kind = message["type"]
    properties = dict(message.get("properties") or {})
    if kind == "track":
        name = message.get("event")
    elif kind == "page":
        # Customer.io means a page view's name to be the page address.
        context_page = (message.get("context") or {}).get("page") or {}
        name = properties.get("url") or context_page.get("url") or message.get("name")
    else:
        name = message.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UnsendableError(f"a {kind} call needs a name for Customer.io")
    within(len(name.encode()), MAX_EVENT_NAME_BYTES, "the event name", "bytes")
    within(size_of(properties), MAX_EVENT_DATA_BYTES, "the event data", "bytes")
    event: dict[str, Any] = {
        "name": name,
        "attributes": properties,
        "timestamp": epoch_seconds(message),
        # The event's de-duplication key must be a ULID; derive it, so retries repeat it.
        "id": ulid_from(message_id(message), action_time(message)),
    }
    if kind != "track":
        event["type"] = kind
    return event


def _ties_anonymous_id(message: WireMessage) -> bool:
    """Whether an alias ties an anonymous visitor (rather than a known person) to its userId.

    Destinations see only the message, so the rule is the message's own evidence: analytics.js,
    Segment's and RudderStack's libraries fill `previousId` with the visitor's anonymous id when
    no user id was known yet, and send that same value as the message's `anonymousId`. Equal
    means anonymous; anything else is a known person's id, merged with `merge_customers`.
    """
    previous_id, anonymous_id = message.get("previousId"), message.get("anonymousId")
    if not message.get("userId") or not previous_id:
        raise UnsendableError("an alias needs both userId and previousId to merge people")
    return bool(anonymous_id) and str(previous_id) == str(anonymous_id)


def _merge(message: WireMessage) -> dict[str, Any]:
    user_id, previous_id = message.get("userId"), message.get("previousId")
    if not user_id or not previous_id:
        raise UnsendableError("an alias needs both userId and previousId to merge people")
    if str(user_id) == str(previous_id):
        raise UnsendableError("this alias names the same person twice; there is nothing to merge")
    return {"primary": _identifiers(user_id), "secondary": _identifiers(previous_id)}
