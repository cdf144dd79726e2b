"""Hostile input, generated: Segment messages, batches and tracking plans with deep nesting, any
unicode, huge numbers, NaN and Infinity, duplicate keys, byte order marks, invalid UTF-8 and
surrogate pairs (lone ones too). The parser and the checks never raise (only their documented
errors), the gateway never answers 5xx, and the same input gets the same verdict twice.

(Arbitrary JSON through `trackwell check`: tests/quality/test_fuzz.py; the OpenAPI-driven run:
test_hostile_http.py.)
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLE_PLAN
from tests.server.conftest import SERVER_KEY
from trackwell.pipeline.accept import prepare
from trackwell.plan import PlanLoadError, load_plan, parse_plan
from trackwell.quality import compile_plan
from trackwell.quality.compiled import CompiledPlan
from trackwell.server.body import parse_json
from trackwell.server.problems import Problem

from .helpers import in_process_gateway

COMPILED = compile_plan(load_plan(EXAMPLE_PLAN))
RECEIVED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FAST = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

# -- strategies -------------------------------------------------------------------------------

huge = st.integers(min_value=-(2**200), max_value=2**200)
odd_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -0.0, 5e-324])
texts = st.text(max_size=40) | st.sampled_from(
    ["", " ", "\u202e", "\ufeff", "\x00", "💳", "é" * 300, "4111 1111 1111 1111", "null"]
)
scalars = st.none() | st.booleans() | huge | odd_floats | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)
deep = st.integers(min_value=1, max_value=40).map(lambda depth: _nest(depth, {"leaf": "x"}))
KEYS = [
    "type", "userId", "anonymousId", "event", "name", "properties", "traits", "context",
    "timestamp", "sentAt", "messageId", "groupId", "previousId", "integrations", "receivedAt",
    "originalTimestamp", "writeKey", "batch",
]  # fmt: skip
field_values = (
    st.sampled_from(
        ["track", "identify", "page", "screen", "group", "alias", "Feature Used", "Account Created",
         "u-1", "2026-06-01T11:00:00Z", "1780000000", "9e99", "-1", "NaN"]
    )
    | values
    | deep
)  # fmt: skip
messages = st.dictionaries(st.sampled_from(KEYS), field_values, max_size=9) | st.builds(
    lambda props, kind: {"type": kind, "userId": "u", "event": "Feature Used", "properties": props},
    st.dictionaries(texts, values | deep, max_size=5),
    st.sampled_from(["track", "identify", "page"]),
)


def _nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for n in range(depth):
        value = {"k": value} if n % 2 else [value]
    return value


def _dump(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, allow_nan=True, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A request body: JSON of a message or a batch, then maybe broken in one hostile way."""
    item = draw(messages)
    document: Any = {"batch": draw(st.lists(messages, max_size=5))} if draw(st.booleans()) else item
    raw = _dump(document, draw(st.booleans()))
    damage = draw(
        st.sampled_from(
            ["none", "bom", "invalid-utf8", "lone-surrogate", "pair", "duplicate-key", "nan",
             "truncate", "huge-number"]
        )
    )  # fmt: skip
    if damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "invalid-utf8":
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = (
            raw[:cut]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
            + raw[cut:]
        )
    elif damage in ("lone-surrogate", "pair") and raw.startswith(b"{"):
        escape = b'"\\ud800"' if damage == "lone-surrogate" else b'"\\ud83d\\ude00"'
        raw = b'{"userId": ' + escape + b", " + raw[1:]
    elif damage == "duplicate-key" and raw.startswith(b"{"):
        raw = b'{"type": "track", "type": "identify", "event": 1, ' + raw[1:]
    elif damage == "nan" and raw.startswith(b"{"):
        raw = b'{"properties": {"n": NaN, "i": -Infinity}, ' + raw[1:]
    elif damage == "truncate":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif damage == "huge-number" and raw.startswith(b"{"):
        raw = b'{"properties": {"n": 1' + b"0" * 400 + b"}, " + raw[1:]
    return raw


# -- the parser and the checks ----------------------------------------------------------------


def _verdict(compiled: CompiledPlan, item: Any) -> tuple[str, tuple[str, ...]]:
    checked = prepare(compiled, copy.deepcopy(item), RECEIVED, source="fuzz")
    assert checked.verdict in ("accepted", "repaired", "blocked")
    if checked.verdict == "blocked":
        assert any(v.effect == "block" for v in checked.violations)
    return checked.verdict, tuple(sorted(v.code for v in checked.violations))


@FAST
@given(bodies())
def test_the_parser_and_the_checks_never_raise_and_answer_the_same_twice(raw: bytes) -> None:
    try:
        document = parse_json(raw)
    except Problem as problem:  # the one documented refusal: a 400 with the reason
        assert problem.status == 400 and problem.code == "invalid_json"
        return
    items = document.get("batch") if isinstance(document, dict) else None
    for item in items if isinstance(items, list) else [document]:
        first = _verdict(COMPILED, item)
        assert _verdict(COMPILED, item) == first


# -- the gateway ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with in_process_gateway(tmp_path_factory.mktemp("hostile")) as (url, _):
        yield url


def _answer(client: httpx.Client, url: str, path: str, raw: bytes) -> tuple[int, Any]:
    response = client.post(
        f"{url}{path}", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert body.get("code") and body.get("message"), body
        return response.status_code, body["code"]
    counts = (body["accepted"], body["repaired"], body["blocked"])
    codes = sorted((v["index"], v["code"]) for v in body["violations"])
    return response.status_code, (counts, codes)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(raw=bodies(), single=st.booleans())
def test_the_gateway_never_fails_on_hostile_bodies_and_answers_the_same_twice(
    gateway_url: str, raw: bytes, single: bool
) -> None:
    path = "/v1/track" if single else "/v1/batch"
    with httpx.Client(auth=(SERVER_KEY, ""), timeout=10) as client:
        first = _answer(client, gateway_url, path, raw)
        assert _answer(client, gateway_url, path, raw) == first


# -- tracking plans ---------------------------------------------------------------------------

EXAMPLE_DOC = yaml.safe_load(EXAMPLE_PLAN.read_text())


@st.composite
def plan_texts(draw: st.DrawFn) -> str:
    """The example plan with a few nodes replaced by hostile values, as YAML (maybe broken)."""
    doc = copy.deepcopy(EXAMPLE_DOC)
    if draw(st.booleans()):
        # Hostile but well-formed: unicode names and texts, huge bounds, odd enums.
        events = doc["events"]
        event = events[draw(st.sampled_from(sorted(events)))]
        event["description"] = draw(st.text(max_size=200))
        props = event.setdefault("properties", {})
        props[draw(st.text(min_size=1, max_size=30))] = {
            "type": "string",
            "enum": draw(
                st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5, unique=True)
            ),
        }
        props["huge_bound"] = {"type": "integer", "minimum": draw(huge), "maximum": 2**201}
        events[draw(st.text(min_size=1, max_size=40))] = {
            "stage": "Engagement",
            "properties": {"deep": _nest(draw(st.integers(0, 6)), {"type": "string"})},
        }
        return yaml.safe_dump(doc, allow_unicode=draw(st.booleans()), sort_keys=False)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(PLAN_PATHS))
        target = doc
        for step in path[:-1]:
            target = target.get(step) if isinstance(target, dict) else None
        if isinstance(target, dict):  # an earlier replacement may have cut this path off
            target[path[-1]] = draw(
                values | deep | st.sampled_from(["integer", "Feature Used", -1, 2**70])
            )
    text = yaml.safe_dump(doc, allow_unicode=draw(st.booleans()), sort_keys=False)
    damage = draw(st.sampled_from(["none", "bom", "duplicate", "tabs", "cut"]))
    if damage == "bom":
        text = "\ufeff" + text
    elif damage == "duplicate":
        text = text + "\nversion: 99\n"
    elif damage == "tabs":
        text = text.replace("  ", "\t", 1)
    elif damage == "cut":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    return found


PLAN_PATHS = _paths(EXAMPLE_DOC)[:400]
PROBES: list[Any] = [
    {
        "type": "track",
        "userId": "u",
        "event": "Feature Used",
        "properties": {"feature_name": "projects"},
    },
    {
        "type": "identify",
        "userId": "u",
        "traits": {"email": "a@b.co", "created_at": 1, "x": [1, {"y": None}]},
    },
    {"type": "page", "anonymousId": "a", "name": "Pricing"},
    {"type": "track", "userId": "u", "event": "Account Crated", "properties": {"plan": 10**30}},
]


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(plan_texts())
def test_hostile_plans_load_or_fail_clearly_and_check_the_same_twice(text: str) -> None:
    try:
        plan = parse_plan(text, "hostile.yaml")
    except PlanLoadError as exc:
        assert str(exc).startswith("hostile.yaml"), str(exc)
        return
    compiled = compile_plan(plan)
    for probe in PROBES:
        assert _verdict(compiled, probe) == _verdict(compiled, probe)


def test_the_strategies_reach_both_sides(tmp_path: Path) -> None:
    """Guard against a strategy that only ever produces refusals (or only successes)."""
    refused = parsed = 0
    for raw in (b"\xef\xbb\xbf{}", b'{"a": NaN}', b'{"userId": "\\ud800"}', b'{"type": "track"}'):
        try:
            parse_json(raw)
            parsed += 1
        except Problem:
            refused += 1
    assert refused and parsed
