"""The generated TypeScript: tsc --strict holds calls to the plan, and the sender speaks the
Segment HTTP API to a real server over loopback."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from trackwell.codegen import generate_typescript
from trackwell.plan import Plan

from ..plan.helpers import good_event, make_plan
from .conftest import EDGE_EVENTS, EDGE_TRAITS

PREAMBLE = """\
import { configure, identify, trackEvent, EventMap } from './saas_events';
import { trackEvent as trackEdge } from './edge_events';
export const names = { configure, identify, trackEvent, trackEdge };
export type Props = EventMap['Trial Started'];
"""

GOOD_CALLS = """\
configure({ baseUrl: 'https://events.example.com', writeKey: 'wk' });
void trackEvent('user-1', 'Subscription Started', {
  plan_name: 'pro',
  plan_price_cents: 19900,
  billing_period: 'annual',
});
void trackEvent('u', 'Page Viewed', { page_name: 'Pricing' }, { timestamp: new Date() });
void trackEvent(
  'u',
  'Payment Failed',
  { amount_cents: 1, failure_reason: 'card_declined', attempt_number: 1, next_retry_at: null },
  { messageId: 'm-1', anonymousId: 'anon-1', timestamp: 1700000000 },
);
const props: Props = { plan_name: 'pro', trial_days: 14, trial_ends_at: '2024-06-01T00:00:00Z' };
void trackEvent('u', 'Trial Started', props);
void identify('user-1', { email: 'a@example.com', created_at: 1700000000, plan: 'pro' });
void trackEdge('u', 'Heartbeat Sent', {});
void trackEdge('u', 'Reserved Words Used', { class: 'x', from: 1, 'plan-name': 'p', '3d': 'd' });
void trackEdge('u', 'Order Completed', {
  products: [{ sku: 'a', quantity: 1, price: null, tags: ['new'] }],
  next_retry_at: null,
  shipping_address: { city: 'Berlin', geo: { lat: 52.5, lon: 13 } },
  matrix: [[1, 2], []],
  discount_rate: 0.25,
  gift: true,
  priority: 2,
});
void trackEdge('u', 'Track', { timestamp: new Date(), properties: { a: 'b' } });
"""

SUBSCRIPTION = "plan_name: 'pro', plan_price_cents: 1, billing_period: 'monthly'"
BAD_CALLS = {
    "misspelled_event": (
        f"trackEvent('u', 'Subscription Startd', {{ {SUBSCRIPTION} }});",
        "Argument of type '\"Subscription Startd\"' is not assignable to parameter of type "
        "'keyof EventMap'",
    ),
    "missing_property": (
        "trackEvent('u', 'Subscription Started', { plan_name: 'pro', billing_period: 'monthly' });",
        "Property 'plan_price_cents' is missing in type",
    ),
    "wrong_type": (
        "trackEvent('u', 'Subscription Started', "
        "{ plan_name: 'pro', plan_price_cents: '1', billing_period: 'monthly' });",
        "Type 'string' is not assignable to type 'number'",
    ),
    "enum_outside": (
        f"trackEvent('u', 'Subscription Started', {{ {SUBSCRIPTION.replace('pro', 'basic')} }});",
        # tsc orders the union its own way, so only its start is stable.
        "Type '\"basic\"' is not assignable to type '\"",
    ),
    "unknown_property": (
        f"trackEvent('u', 'Subscription Started', {{ {SUBSCRIPTION}, seats: 3 }});",
        "Object literal may only specify known properties, and 'seats' does not exist",
    ),
    "null_for_a_property_that_is_not_nullable": (
        "trackEvent('u', 'Page Viewed', { page_name: 'Pricing', referrer: null });",
        "Type 'null' is not assignable to type 'string | undefined'",
    ),
    "wrong_type_nested": (
        "trackEdge('u', 'Order Completed', { products: [{ sku: 'a', quantity: '1' }], "
        "next_retry_at: null });",
        "Type 'string' is not assignable to type 'number'",
    ),
    "property_on_an_event_without_any": (
        "trackEdge('u', 'Heartbeat Sent', { extra: 1 });",
        "Type 'number' is not assignable to type 'never'",
    ),
    "trait_outside_enum": (
        "identify('u', { email: 'e', created_at: 1, plan: 'gold' });",
        "Type '\"gold\"' is not assignable to type",
    ),
    "missing_trait": (
        "identify('u', { email: 'e' });",
        "Property 'created_at' is missing in type",
    ),
}
BAD_LINE = PREAMBLE.count("\n") + 1
_DIAGNOSTIC = re.compile(r"^(?P<file>[\w.]+\.ts)\((?P<line>\d+),\d+\): error (?P<text>.*)$")


@pytest.fixture(scope="session")
def ts_folder(
    tmp_path_factory: pytest.TempPathFactory, example_plan: Plan, edge_plan: Plan
) -> Path:
    """Both generated files, the one- and no-event variants, and one file per snippet."""
    folder = tmp_path_factory.mktemp("typescript")
    (folder / "saas_events.ts").write_text(generate_typescript(example_plan))
    (folder / "edge_events.ts").write_text(generate_typescript(edge_plan))
    (folder / "one_event.ts").write_text(
        generate_typescript(make_plan({"Trial Started": good_event()}))
    )
    (folder / "no_events.ts").write_text(generate_typescript(make_plan({})))
    (folder / "good.ts").write_text(PREAMBLE + GOOD_CALLS)
    for name, (code, _) in BAD_CALLS.items():
        (folder / f"bad_{name}.ts").write_text(f"{PREAMBLE}{code}\n")
    return folder


@pytest.fixture(scope="session")
def tsc_report(ts_folder: Path, npm_tools: dict[str, Path]) -> dict[str, list[str]]:
    """tsc --strict --noEmit errors (default ES5 + DOM libraries), by file, as `line: text`."""
    files = sorted(p.name for p in ts_folder.glob("*.ts"))
    result = subprocess.run(
        [str(npm_tools["tsc"]), "--strict", "--noEmit", "--pretty", "false", *files],
        cwd=ts_folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    report: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.stdout.splitlines():
        match = _DIAGNOSTIC.match(line)
        if match:
            current = report.setdefault(match["file"], [])
            current.append(f"{match['line']}: {match['text']}")
        else:  # the indented detail lines of the diagnostic before
            assert current is not None, result.stdout
            current[-1] += "\n" + line.strip()
    return report


def test_tsc_accepts_the_generated_files_and_correct_calls(
    tsc_report: dict[str, list[str]],
) -> None:
    clean = ["saas_events.ts", "edge_events.ts", "one_event.ts", "no_events.ts", "good.ts"]
    assert {name: tsc_report[name] for name in clean if name in tsc_report} == {}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_tsc_rejects_a_wrong_call_naming_the_problem(
    tsc_report: dict[str, list[str]], case: str
) -> None:
    found = tsc_report.get(f"bad_{case}.ts", [])
    assert found, f"tsc accepted: {BAD_CALLS[case][0]}"
    assert all(line.startswith(f"{BAD_LINE}: ") for line in found), found
    assert any(BAD_CALLS[case][1] in line for line in found), found


def test_types_follow_the_plan(example_plan: Plan, edge_plan: Plan) -> None:
    saas, edge = generate_typescript(example_plan), generate_typescript(edge_plan)
    assert saas.startswith(
        '// Generated by trackwell from the tracking plan "Acme Projects", version 3.'
    )
    assert "export type EventMap = {\n  /** A user finished signing up" in saas
    assert "    plan: 'free' | 'starter' | 'pro' | 'enterprise';\n" in saas
    assert "    referral_code?: string;\n" in saas
    assert "    next_retry_at?: Timestamp | null;\n" in saas
    assert "    completed_steps?: Array<string>;\n" in saas
    assert "  'Heartbeat Sent': Record<string, never>;\n" in edge
    assert "    'plan-name'?: string;\n    str?: number;" in edge
    assert "    plan: 'free' | 'it\\'s' | 'say \"hi\"';\n" in edge
    assert "  /** @deprecated Use 'Order Completed' instead. */\n  'Old Checkout Done'" in edge


def test_output_does_not_depend_on_the_order_of_the_yaml() -> None:
    backwards = dict(reversed(list(EDGE_EVENTS.items())))
    assert generate_typescript(make_plan(backwards, traits=EDGE_TRAITS)) == generate_typescript(
        make_plan(EDGE_EVENTS, traits=EDGE_TRAITS)
    )


class _Gateway(BaseHTTPRequestHandler):
    """Answers like a Segment-compatible endpoint and keeps what it was sent."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            {
                "path": self.path,
                "authorization": self.headers["Authorization"],
                "content_type": self.headers["Content-Type"],
                "body": json.loads(body),
            }
        )
        self.send_response(500 if self.path.startswith("/failing/") else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Gateway,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


SENDER_SCRIPT = """\
const events = require('./saas_events.js');
(async () => {
  try {
    events.trackEvent('u', 'Page Viewed', { page_name: 'Pricing' });
  } catch (error) {
    console.log(JSON.stringify({ unconfigured: String(error.message) }));
  }
  events.configure({ baseUrl: process.argv[2], writeKey: 'wk-123' });
  await events.trackEvent(
    'user-1',
    'Subscription Started',
    { plan_name: 'pro', plan_price_cents: 19900, billing_period: 'annual' },
    { timestamp: 1700000000, messageId: 'm-1' },
  );
  await events.identify('user-1', { email: 'a@example.com', created_at: 1700000000 }, {
    timestamp: new Date('2024-05-01T10:00:00Z'),
    anonymousId: 'anon-1',
  });
  events.configure({ baseUrl: process.argv[2] + 'failing', writeKey: 'wk-123' });
  const milliseconds = { timestamp: 1700000000000 };
  await events.trackEvent('u', 'Page Viewed', { page_name: 'Pricing' }, milliseconds).then(
    () => console.log(JSON.stringify({ failed: null })),
    (error) => console.log(JSON.stringify({ failed: String(error.message) })),
  );
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_sender_posts_the_segment_http_api_to_a_real_server(
    ts_folder: Path,
    npm_tools: dict[str, Path],
    gateway: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    assert node is not None, "npm is installed but node is not"
    out = tmp_path / "js"
    subprocess.run(
        [
            *(str(npm_tools["tsc"]), "--strict", "--target", "es2020", "--module", "commonjs"),
            *("--outDir", str(out), str(ts_folder / "saas_events.ts")),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (out / "send.js").write_text(SENDER_SCRIPT)
    url, received = gateway
    result = subprocess.run(
        [node, "send.js", url], cwd=out, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    unconfigured, failed = (json.loads(line) for line in result.stdout.splitlines())
    assert "call configure({ baseUrl, writeKey })" in unconfigured["unconfigured"]
    assert failed["failed"] == "trackwell: POST /v1/track answered HTTP 500"
    track, identify, failing = received
    basic = "Basic " + base64.b64encode(b"wk-123:").decode()
    assert track["path"] == "/v1/track" and identify["path"] == "/v1/identify"
    assert track["authorization"] == identify["authorization"] == basic
    assert track["content_type"] == "application/json"
    assert track["body"] == {
        "userId": "user-1",
        "event": "Subscription Started",
        "properties": {"plan_name": "pro", "plan_price_cents": 19900, "billing_period": "annual"},
        "timestamp": "2023-11-14T22:13:20.000Z",
        "messageId": "m-1",
    }
    assert identify["body"]["traits"] == {"email": "a@example.com", "created_at": 1700000000}
    assert identify["body"]["timestamp"] == "2024-05-01T10:00:00.000Z"
    assert identify["body"]["anonymousId"] == "anon-1"
    assert re.fullmatch(r"[0-9a-f-]{36}", identify["body"]["messageId"])
    assert failing["body"]["timestamp"] == track["body"]["timestamp"]  # milliseconds, told apart
