"""The generated Python module under mypy --strict and pyright strict: right calls pass, wrong
ones fail with an error that names the problem.

Every snippet is a file of its own in one folder, checked by a single run of each tool, so the
suite pays for mypy and pyright once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackwell.codegen import generate_python
from trackwell.plan import Plan

from ..plan.helpers import good_event, make_plan

PREAMBLE = """\
from datetime import datetime, timezone

from edge_events import Events as EdgeEvents
from recorder import Recorder
from saas_events import Events, SubscriptionStartedProperties, Traits

# Re-exported so that no snippet has an unused import.
__all__ = ["SubscriptionStartedProperties", "Traits", "datetime", "timezone"]
events = Events(Recorder())
edge = EdgeEvents(Recorder())
"""

GOOD_CALLS = """\
when = datetime.now(timezone.utc)
events.subscription_started(
    "user-1", plan_name="pro", plan_price_cents=19900, billing_period="annual"
)
events.subscription_started(
    "user-1",
    plan_name="pro",
    plan_price_cents=19900,
    billing_period="annual",
    team_size=5,
    trial_converted=True,
    timestamp=when,
    message_id="m-1",
)
events.track(
    "user-1",
    "Subscription Started",
    {"plan_name": "pro", "plan_price_cents": 19900, "billing_period": "monthly"},
)
events.track("u", "Page Viewed", {"page_name": "Pricing"}, anonymous_id="a", timestamp=1)
events.payment_failed(
    "u", amount_cents=1, failure_reason="card_declined", attempt_number=1, next_retry_at=None
)
events.email_verified("u", verification_method="link", hours_to_verify=2)
events.identify("user-1", email="a@example.com", created_at="2024-01-01T00:00:00Z", plan="pro")
props: SubscriptionStartedProperties = {
    "plan_name": "starter",
    "plan_price_cents": 900,
    "billing_period": "monthly",
}
events.track("user-1", "Subscription Started", props, message_id="m-2")
traits: Traits = {"email": "a@example.com", "created_at": 1700000000}
edge.reserved_words_used(
    "u", class_="x", from_=1, type="a", import_=True, plan_name="p", _3_d="d", str=1
)
edge.track("u", "Reserved Words Used", {"class": "x", "from": 1, "plan-name": "p"})
edge.order_completed(
    "u",
    products=[{"sku": "a", "quantity": 1, "price": None, "tags": ["new"]}],
    next_retry_at=None,
    shipping_address={"city": "Berlin", "geo": {"lat": 52.5, "lon": 13}},
    matrix=[[1, 2], []],
    gift=True,
    priority=2,
    discount_rate=0.1,
)
edge.track_("u", timestamp_=1, properties_={"a": "x"}, self_="s", timestamp=when)
edge.track("u", "Track", {"timestamp": when, "properties": {"a": "b"}})
edge.track("u", "Heartbeat Sent")
edge.heartbeat_sent("u")
edge.plan_upgraded_v_2(None, anonymous_id="anon-1")
edge.event_3_d_model_exported("u", format="stl", polygon_count_v2=3)
edge.account_created("u", plan="it's")
edge.account_created_2("u", source="x")
edge.identify(None, email="e@example.com", class_="c", user_id_="x", anonymous_id="anon")
"""


@dataclass(frozen=True)
class Bad:
    """A wrong call, and the words mypy and pyright must use to reject it."""

    code: str
    mypy: str
    pyright: str


SUBSCRIPTION = 'plan_name="pro", plan_price_cents=1, billing_period="monthly"'
PROPS = '"plan_name": "pro", "plan_price_cents": 1, "billing_period": "monthly"'
# mypy reports every failed overload call the same way; pyright names the mismatch.
NO_OVERLOAD = 'No overload variant of "track" of "Events" matches'
BAD_CALLS = {
    "misspelled_event_method": Bad(
        f'events.subscription_startd("u", {SUBSCRIPTION})',
        '"Events" has no attribute "subscription_startd"; maybe "subscription_started"?',
        'Cannot access attribute "subscription_startd"',
    ),
    "misspelled_event_track": Bad(
        f'events.track("u", "Subscription Startd", {{{PROPS}}})',
        NO_OVERLOAD,
        "\"Literal['Subscription Startd']\" is not assignable",
    ),
    "missing_property_method": Bad(
        'events.subscription_started("u", plan_name="pro", billing_period="monthly")',
        'Missing named argument "plan_price_cents" for "subscription_started"',
        'Argument missing for parameter "plan_price_cents"',
    ),
    "missing_property_track": Bad(
        'events.track("u", "Subscription Started", {"plan_name": "pro"})',
        NO_OVERLOAD,
        '"plan_price_cents" is required in "SubscriptionStartedProperties"',
    ),
    "missing_property_typeddict": Bad(
        'p: SubscriptionStartedProperties = {"plan_name": "pro", "billing_period": "monthly"}',
        'Missing key "plan_price_cents" for TypedDict "SubscriptionStartedProperties"',
        '"plan_price_cents" is required in "SubscriptionStartedProperties"',
    ),
    "wrong_type_method": Bad(
        'events.subscription_started("u", plan_name="pro", plan_price_cents="1", '
        'billing_period="monthly")',
        'Argument "plan_price_cents" to "subscription_started" of "Events" has incompatible '
        'type "str"; expected "int"',
        '"Literal[\'1\']" is not assignable to "int"',
    ),
    "wrong_type_track": Bad(
        f'events.track("u", "Subscription Started", {{{PROPS.replace(": 1", ": 1.5")}}})',
        NO_OVERLOAD,
        '"float" is not assignable to "int"',
    ),
    "wrong_type_nested": Bad(
        'edge.order_completed("u", products=[{"sku": "a", "quantity": "1"}], next_retry_at=None)',
        'expression has type "str", TypedDict item "quantity" has type "int"',
        '"Literal[\'1\']" is not assignable to "int"',
    ),
    "enum_outside_method": Bad(
        f'events.subscription_started("u", {SUBSCRIPTION.replace("pro", "basic")})',
        "incompatible type \"Literal['basic']\"; expected "
        "\"Literal['starter', 'pro', 'enterprise']\"",
        "\"Literal['basic']\" is not assignable to type",
    ),
    "enum_outside_trait": Bad(
        'events.identify("u", email="e", created_at=1, plan="gold")',
        'Argument "plan" to "identify" of "Events" has incompatible type "Literal[\'gold\']"',
        "\"Literal['gold']\" is not assignable to type",
    ),
    "unknown_property_method": Bad(
        f'events.subscription_started("u", {SUBSCRIPTION}, seats=3)',
        'Unexpected keyword argument "seats" for "subscription_started" of "Events"',
        'No parameter named "seats"',
    ),
    "unknown_property_track": Bad(
        f'events.track("u", "Subscription Started", {{{PROPS}, "seats": 3}})',
        NO_OVERLOAD,
        '"seats" is an undefined item in type "SubscriptionStartedProperties"',
    ),
    "unknown_property_typeddict": Bad(
        f'p: SubscriptionStartedProperties = {{{PROPS}, "seats": 3}}',
        'Extra key "seats" for TypedDict "SubscriptionStartedProperties"',
        '"seats" is an undefined item in type "SubscriptionStartedProperties"',
    ),
    "keyword_property_by_its_python_name": Bad(
        'edge.reserved_words_used("u", class_="x")',
        'Missing named argument "from_" for "reserved_words_used"',
        'Argument missing for parameter "from_"',
    ),
    "empty_event_with_a_property": Bad(
        'edge.track("u", "Heartbeat Sent", {"extra": 1})',
        NO_OVERLOAD,
        '"dict[str, int]" is not assignable to "HeartbeatSentProperties"',
    ),
    "deprecated_method": Bad(
        'edge.old_checkout_done("u", total=1.0)',
        'is deprecated: Use "Order Completed" (Events.order_completed) instead.',
        'is deprecated\n  Use "Order Completed" (Events.order_completed) instead.',
    ),
    "deprecated_track": Bad(
        'edge.track("u", "Old Checkout Done", {"total": 1.0})',
        'is deprecated: Use "Order Completed" (Events.order_completed) instead.',
        'is deprecated\n  Use "Order Completed" (Events.order_completed) instead.',
    ),
}
GENERATED = ["saas_events.py", "edge_events.py", "one_event.py", "no_events.py"]
BAD_LINE = PREAMBLE.count("\n") + 1
_MYPY_LINE = re.compile(
    r"^(?P<file>[^:\n]+\.py):(?P<line>\d+): (?P<level>error|note): (?P<text>.*)$"
)


@pytest.fixture(scope="session")
def snippets(tmp_path_factory: pytest.TempPathFactory, example_plan: Plan, edge_plan: Plan) -> Path:
    """A folder with both generated modules, the recorder, and one file per snippet."""
    folder = tmp_path_factory.mktemp("python-snippets")
    (folder / "saas_events.py").write_text(generate_python(example_plan))
    (folder / "edge_events.py").write_text(generate_python(edge_plan))
    # With one event there are no overloads, with none `EventName` is Never.
    (folder / "one_event.py").write_text(
        generate_python(make_plan({"Trial Started": good_event()}))
    )
    (folder / "no_events.py").write_text(generate_python(make_plan({})))
    (folder / "recorder.py").write_text((Path(__file__).parent / "recorder.py").read_text())
    (folder / "good.py").write_text(PREAMBLE + GOOD_CALLS)
    for name, bad in BAD_CALLS.items():
        (folder / f"bad_{name}.py").write_text(f"{PREAMBLE}{bad.code}\n")
    return folder


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.py"))


@pytest.fixture(scope="session")
def mypy_report(snippets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy --strict's errors and notes, by file, as `line: level: text`."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--enable-error-code", "deprecated"),
            *("--cache-dir", str(cache), "--no-error-summary", "--python-version", "3.11"),
            *_files(snippets),
        ],
        cwd=snippets,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = _MYPY_LINE.match(line)
        assert match, f"unexpected mypy output: {line}"
        text = f"{match['line']}: {match['level']}: {match['text']}"
        report.setdefault(match["file"], []).append(text)
    return report


@pytest.fixture(scope="session")
def pyright_report(snippets: Path, npm_tools: dict[str, Path]) -> dict[str, list[str]]:
    """pyright (strict, deprecations as errors) diagnostics, by file, as `line: level: text`."""
    config = {"typeCheckingMode": "strict", "pythonVersion": "3.11", "reportDeprecated": "error"}
    (snippets / "pyrightconfig.json").write_text(json.dumps(config))
    result = subprocess.run(
        [str(npm_tools["pyright"]), "--outputjson", "--pythonpath", sys.executable],
        cwd=snippets,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report: dict[str, list[str]] = {}
    for diagnostic in json.loads(result.stdout)["generalDiagnostics"]:
        line = diagnostic["range"]["start"]["line"] + 1
        message = diagnostic["message"].replace("\xa0", " ")  # pyright indents with NBSPs
        text = f"{line}: {diagnostic['severity']}: {message}"
        report.setdefault(Path(diagnostic["file"]).name, []).append(text)
    return report


def test_mypy_accepts_the_modules_the_recorder_and_correct_calls(
    mypy_report: dict[str, list[str]],
) -> None:
    clean = [*GENERATED, "recorder.py", "good.py"]
    assert {name: mypy_report[name] for name in clean if name in mypy_report} == {}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_mypy_rejects_a_wrong_call_naming_the_problem(
    mypy_report: dict[str, list[str]], case: str
) -> None:
    found = mypy_report.get(f"bad_{case}.py", [])
    assert any(": error: " in line for line in found), f"mypy accepted: {BAD_CALLS[case].code}"
    assert all(line.startswith(f"{BAD_LINE}: ") for line in found), found
    assert any(BAD_CALLS[case].mypy in line for line in found), found


def test_pyright_accepts_the_modules_the_recorder_and_correct_calls(
    pyright_report: dict[str, list[str]],
) -> None:
    clean = [*GENERATED, "recorder.py", "good.py"]
    assert {name: pyright_report[name] for name in clean if name in pyright_report} == {}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_pyright_rejects_a_wrong_call_naming_the_problem(
    pyright_report: dict[str, list[str]], case: str
) -> None:
    found = pyright_report.get(f"bad_{case}.py", [])
    assert found, f"pyright accepted: {BAD_CALLS[case].code}"
    assert all(line.startswith(f"{BAD_LINE}: error: ") for line in found), found
    assert any(BAD_CALLS[case].pyright in line for line in found), found
