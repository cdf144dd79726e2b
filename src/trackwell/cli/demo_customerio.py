"""A local stand-in for Customer.io, started by `trackwell serve --demo`: it takes the Track API
calls trackwell's Customer.io destination makes, runs a workflow per name in the plan's
`used_by`, and posts signed reporting webhooks back to the gateway, so the demo shows the whole
loop (an event, its delivery, the messages it started, one workflow that did not start and why).

Standard library only: it is part of the CLI (imported only when `--demo` is given), and a demo
must not need a dependency the gateway does not already have."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from trackwell.plan import Plan

log = logging.getLogger("trackwell.demo")

# The demo workspace's Track API credentials: made up, and accepted by this server only.
DEMO_SITE_ID = "demo-site"
DEMO_API_KEY = "demo-track-key"
# The reporting webhooks' signing key in demo mode (TRACKWELL_CUSTOMERIO_WEBHOOK_KEY).
DEMO_WEBHOOK_KEY = "demo-reporting-webhook-key"
WEBHOOK_PATH = "/webhooks/customerio"
# Every `BOUNCE_EVERY`-th person's email from the bouncing workflow bounces.
BOUNCE_EVERY = 3


@dataclass(frozen=True, slots=True)
class Workflow:
    """A campaign of the demo workspace: triggered by events, maybe filtered, maybe bouncing."""

    name: str
    campaign_id: int
    triggers: frozenset[str]
    # A person attribute that must be set for the journey to start (Customer.io's trigger
    # "filter"); None: every triggering event starts one.
    requires: str | None = None
    bounces: bool = False


def workflows_for(
    plan: Plan, campaigns: Mapping[str, Iterable[str]] | None = None
) -> list[Workflow]:
    """A workflow per name in the plan's `used_by`, triggered by the events that list it. The
    first is filtered on the first required trait that is not an email (the demo leaves it out
    of a few people's identify), the second bounces for some people; the rest just send.

    Campaign ids are those `[workflows]` gives a name (`campaigns`, so `trackwell why
    --workflow` maps the demo's reports as it would a real workspace's), else 1, 2, ... in
    order, skipping the configured ones."""
    configured = {
        name: int(ids[0])
        for name, given in (campaigns or {}).items()
        if (ids := [i for i in given if str(i).isdigit()])
    }
    free = (n for n in range(1, 1_000_000) if n not in set(configured.values()))
    triggers: dict[str, set[str]] = {}
    for event in plan.events.values():
        if event.browser:
            continue  # anonymous page-level events start no journey for a person
        for name in event.used_by:
            triggers.setdefault(name, set()).add(event.name)
    required = [t.name for t in plan.traits if t.required and t.format != "email"]
    filter_on = required[0] if required else None
    workflows = []
    for index, (name, events) in enumerate(triggers.items()):
        workflows.append(
            Workflow(
                name,
                configured[name] if name in configured else next(free),
                frozenset(events),
                requires=filter_on if index == 0 else None,
                bounces=index == 1,
            )
        )
    return workflows


def filtered_trait(plan: Plan) -> str | None:
    """The trait the first workflow filters on (the demo leaves it out for a few people)."""
    workflows = workflows_for(plan)
    return workflows[0].requires if workflows else None


def sign(key: str, timestamp: str, body: bytes) -> str:
    """Customer.io's reporting webhook signature: hex HMAC-SHA256 of `v0:<timestamp>:<body>`
    under the signing key (https://docs.customer.io/api/webhooks/, "Securely verify requests":
    the X-CIO-Signature and X-CIO-Timestamp headers)."""
    signed = b"v0:" + timestamp.encode() + b":" + body
    return hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()


@dataclass
class DemoCustomerIO:
    """The stand-in: a Track API server on a loopback port and a thread posting the reports."""

    plan: Plan
    gateway_url: str = ""  # set once the gateway's address is known
    campaigns: Mapping[str, Iterable[str]] = field(default_factory=dict)  # `[workflows]`
    webhook_key: str = DEMO_WEBHOOK_KEY
    workflows: list[Workflow] = field(default_factory=list)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    posted: list[dict[str, Any]] = field(default_factory=list)  # every report the gateway took
    _server: ThreadingHTTPServer | None = None
    _refused: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.workflows = self.workflows or workflows_for(self.plan, self.campaigns)

    @property
    def url(self) -> str:
        """The Track API's base URL (the destination's `base_url`)."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoCustomerIO:
        """Listen on a free loopback port and start posting reports."""
        demo = self

        class Handler(_TrackHandler):
            """The Track API handler bound to this stand-in."""

            owner = demo

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="trackwell-demo-cio", daemon=True
        ).start()
        threading.Thread(
            target=self._post_reports, name="trackwell-demo-reports", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening and posting (what is queued is dropped)."""
        self.reports.put(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued report has been posted (for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reports.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    # -- the Track API's effects ------------------------------------------------------------

    def identify(self, person: str, attributes: Mapping[str, Any]) -> None:
        """A person's attributes, merged as Customer.io merges them."""
        with self._lock:
            self.people.setdefault(person, {}).update(attributes)

    def event(self, person: str, name: str, event_id: str | None, at: int | None) -> None:
        """A person's event: start the journeys it triggers (a report per message step)."""
        with self._lock:
            attributes = dict(self.people.get(person, {}))
        when = at if at is not None else int(time.time())
        for workflow in self.workflows:
            if name not in workflow.triggers:
                continue
            if workflow.requires is not None and attributes.get(workflow.requires) in (None, ""):
                continue  # the trigger's filter excludes the person: no journey, no report
            for report in _journey(workflow, person, attributes, event_id, when):
                self.reports.put(report)

    # -- reporting webhooks -----------------------------------------------------------------

    def _post_reports(self) -> None:
        """The posting thread: queued reports in order until `stop()`."""
        while True:
            report = self.reports.get()
            try:
                if report is None:
                    return
                if self._post(report):
                    self.posted.append(report)
            finally:
                self.reports.task_done()

    def _post(self, report: dict[str, Any]) -> bool:
        """Post one signed report, retrying while the gateway is busy (as Customer.io does)."""
        body = json.dumps(report, separators=(",", ":")).encode()
        for attempt in range(5):
            timestamp = str(int(time.time()))
            request = urllib.request.Request(
                self.gateway_url + WEBHOOK_PATH,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-CIO-Timestamp": timestamp,
                    "X-CIO-Signature": sign(self.webhook_key, timestamp, body),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=4):
                    return True
            except urllib.error.HTTPError as exc:
                if exc.code not in (408, 429, 500, 502, 503):
                    if not self._refused:  # once: every later report would say the same
                        self._refused = True
                        log.warning("demo report refused", extra={"fields": {"status": exc.code}})
                    return False
            except OSError:
                pass
            time.sleep(0.2 * (attempt + 1))
        return False


def _journey(
    workflow: Workflow,
    person: str,
    attributes: Mapping[str, Any],
    trigger_event_id: str | None,
    at: int,
) -> Iterable[dict[str, Any]]:
    """The reports of one email journey: sent and delivered, then opened, or a bounce."""
    email = next((v for k, v in attributes.items() if "email" in k and isinstance(v, str)), None)
    delivery_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # Fields as in the reference's email events (https://docs.customer.io/api/webhooks/):
    # `data` names the person (customer_id, identifiers), the message (delivery_id, campaign and
    # action) and the event that triggered the campaign (trigger_event_id).
    data: dict[str, Any] = {
        "customer_id": person,
        "identifiers": {"id": person, **({"email": email} if email else {})},
        "delivery_id": delivery_id,
        "campaign_id": workflow.campaign_id,
        "action_id": workflow.campaign_id * 10 + 1,
        "subject": workflow.name,
        **({"recipient": email} if email else {}),
        **({"trigger_event_id": trigger_event_id} if trigger_event_id else {}),
    }
    now = int(time.time())
    bounced = workflow.bounces and _bucket(person) == 0
    steps = (
        [("sent", 60), ("bounced", 90)]
        if bounced
        else [("sent", 60), ("delivered", 90), ("opened", 1800)]
    )
    for metric, after in steps:
        extra = (
            {"failure_message": "550 5.1.1 mailbox does not exist"} if metric == "bounced" else {}
        )
        yield {
            "event_id": _ulid(),
            "object_type": "email",
            "metric": metric,
            "timestamp": min(at + after, now),
            "data": {**data, **extra},
        }


def _bucket(person: str) -> int:
    """A stable share of people (not Python's salted hash): who bounces."""
    return int(hashlib.sha256(person.encode()).hexdigest(), 16) % BOUNCE_EVERY


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid() -> str:
    """A ULID (48-bit milliseconds, 80 random bits), the form of Customer.io's event ids."""
    number = (int(time.time() * 1000) << 80) | int.from_bytes(uuid.uuid4().bytes[:10], "big")
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


class _TrackHandler(BaseHTTPRequestHandler):
    """The Track API calls the destination makes (v1 and v2); others are answered 200 and
    ignored, since the demo only needs people and their events."""

    owner: DemoCustomerIO
    server_version = "trackwell-demo-customerio"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the gateway's own log is the demo's output."""

    def _authorised(self) -> bool:
        """Whether the call carries the demo workspace's Basic credentials."""
        expected = base64.b64encode(f"{DEMO_SITE_ID}:{DEMO_API_KEY}".encode()).decode()
        return hmac.compare_digest(self.headers.get("Authorization", ""), f"Basic {expected}")

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        """Send a JSON answer."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        """The request's JSON body ({} when empty), or None when it is not JSON."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def _handle(self) -> None:
        """Route one call: people's identifies and events matter, the rest is answered 200."""
        if not self._authorised():
            self._answer(401, {"meta": {"error": "Unauthorized request"}})
            return
        body = self._body()
        if body is None:
            self._answer(400, {"meta": {"error": "request body is not valid JSON"}})
            return
        parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
        owner = self.owner
        if parts[:2] == ["api", "v2"] and parts[2:] == ["batch"]:
            for operation in body.get("batch") or []:
                _v2(owner, operation)
        elif parts[:3] == ["api", "v1", "customers"] and len(parts) == 4 and self.command == "PUT":
            owner.identify(parts[3], {k: v for k, v in body.items() if not k.startswith("_")})
        elif parts[:3] == ["api", "v1", "customers"] and parts[4:] == ["events"]:
            owner.event(parts[3], str(body.get("name")), body.get("id"), body.get("timestamp"))
        self._answer(200, {})

    def do_POST(self) -> None:
        """POST calls."""
        self._handle()

    def do_PUT(self) -> None:
        """PUT calls (v1 identify)."""
        self._handle()

    def do_DELETE(self) -> None:
        """DELETE calls (v1 person and device deletes)."""
        self._handle()


def _v2(owner: DemoCustomerIO, operation: Any) -> None:
    """One operation of a v2 batch: a person's identify or event."""
    if not isinstance(operation, dict) or operation.get("type") != "person":
        return
    identifiers = operation.get("identifiers") or {}
    person = identifiers.get("id") or identifiers.get("email")
    if not isinstance(person, str):
        return
    if operation.get("action") == "identify":
        owner.identify(person, operation.get("attributes") or {})
    elif operation.get("action") == "event":
        at = operation.get("timestamp")
        owner.event(
            person,
            str(operation.get("name")),
            operation.get("id"),
            at if isinstance(at, int) else None,
        )
