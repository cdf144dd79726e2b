"""Loading plans: the model, and errors that name file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.plan import Plan, PlanLoadError, load_plan, parse_plan
from trackwell.plan.loader import MAX_PLAN_BYTES

from .helpers import dedent, plan_text


def load_error(text: str) -> str:
    with pytest.raises(PlanLoadError) as info:
        parse_plan(text, "tracking-plan.yaml")
    return str(info.value)


def test_example_plan_loads_into_the_model(example_plan: Plan) -> None:
    assert example_plan.name == "Acme Projects"
    assert len(example_plan.events) == 15
    started = example_plan.events["Subscription Started"]
    assert started.stage == "Expansion"
    assert started.used_by == ("Paid welcome", "Revenue segment")
    price = started.property("plan_price_cents")
    assert price is not None and price.type == "integer" and price.required
    assert price.minimum == 0
    assert example_plan.pages == ("Pricing", "Integrations", "Help Center")
    assert example_plan.trait("created_at") is not None
    assert example_plan.alias_map() == {
        "Signed Up": "Account Created",
        "Subscription Canceled": "Subscription Cancelled",
    }


def test_model_is_immutable(example_plan: Plan) -> None:
    with pytest.raises(AttributeError):
        example_plan.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        example_plan.events["New"] = example_plan.events["Trial Started"]  # type: ignore[index]


def test_unknown_type_names_file_line_column_and_expected_types() -> None:
    text = dedent(
        """
        trackwell: 1
        name: T
        version: 1
        events:
          Subscription Started:
            stage: Expansion
            properties:
              plan_price_cents:
                type: int
        """
    )
    message = load_error(text)
    assert message.startswith(
        "tracking-plan.yaml:9:15: property 'plan_price_cents': unknown type 'int'"
    )
    assert "expected one of string, integer, number" in message
    assert "did you mean 'integer'" in message


def test_unknown_key_is_an_error_with_a_suggestion() -> None:
    text = dedent(
        """
        trackwell: 1
        name: T
        version: 1
        events:
          Account Created:
            stage: Activation
            desciption: typo here
        """
    )
    message = load_error(text)
    assert "tracking-plan.yaml:7:5: event 'Account Created': unknown key 'desciption'" in message
    assert "did you mean 'description'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "trackwell: 1\nname: T\nversion: 1\nevents: [a, b]\n",
            "4:9: events: expected a map, got a list",
        ),
        ("- just\n- a list\n", "1:1: plan: expected a map, got a list"),
        ("trackwell: 1\nname: T\nversion: 1\nevents: {A: {stage: [x}\n", "invalid YAML"),
        ("trackwell: 2\nname: T\nversion: 1\n", "unsupported plan format 2"),
        ("name: T\nversion: 1\n", "missing required key 'trackwell'"),
        ("trackwell: 1\nname: T\n", "missing required key 'version'"),
        ("trackwell: 1\nname: T\nversion:\n", "missing required key 'version'"),
        (
            "trackwell: 1\nname: T\nversion: zero\n",
            "version: expected a whole number, got a string",
        ),
        (
            "trackwell: 1\nname: T\nversion: 1\nversion: 2\n",
            "4:1: duplicate key 'version' (first at line 3)",
        ),
        ("", "the plan is empty"),
        (
            "trackwell: 1\nname: T\nversion: 1\npolicy: {unplanned_event: drop}\n",
            "policy.unplanned_event: unknown value 'drop' (expected one of block, allow)",
        ),
    ],
)
def test_structural_errors_are_clear(text: str, expected: str) -> None:
    assert expected in load_error(text)


def test_constraint_errors() -> None:
    text = plan_text(
        {
            "Trial Started": {
                "stage": "Activation",
                "properties": {
                    "days": {"type": "integer", "minimum": 10, "maximum": 1},
                    "code": {"type": "string", "pattern": "("},
                    "tags": {"type": "array"},
                    "count": {"type": "integer", "max_length": 3},
                    "kind": {"type": "string", "enum": ["a", 3]},
                },
            }
        }
    )
    message = load_error(text)
    assert "minimum 10 is above maximum 1" in message
    assert "not a valid regular expression" in message
    assert "an array needs 'items'" in message
    assert "'max_length' applies only to string, not integer" in message
    assert "enum value: expected a string value, got an integer" in message
    assert len(message.splitlines()) == 5  # every problem reported, one line each


def test_shorthand_types_nested_objects_and_arrays() -> None:
    text = plan_text(
        {
            "Order Completed": {
                "stage": "Expansion",
                "properties": {
                    "order_id": "string",
                    "address": {
                        "type": "object",
                        "properties": {
                            "city": "string",
                            "zip": {"type": "string", "required": True},
                        },
                    },
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"sku": "string"}},
                    },
                },
            }
        }
    )
    plan = parse_plan(text)
    event = plan.events["Order Completed"]
    order_id, address, items = event.properties
    assert order_id.type == "string"
    assert [p.name for p in address.properties] == ["city", "zip"]
    assert address.child("zip") is not None and address.child("zip").required  # type: ignore[union-attr]
    assert items.items is not None and items.items.properties[0].name == "sku"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PlanLoadError, match="no such file"):
        load_plan(tmp_path / "missing.yaml")
    with pytest.raises(PlanLoadError, match="is a directory"):
        load_plan(tmp_path)


def test_a_five_megabyte_plan_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("trackwell: 1\n# " + "x" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(PlanLoadError) as info:
        load_plan(big)
    assert "plan file is 5.0 MB; the limit is 2 MB" in str(info.value)
    assert big.stat().st_size > MAX_PLAN_BYTES


def test_non_utf8_plan(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(PlanLoadError, match="not UTF-8"):
        load_plan(bad)


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 8)]
    with pytest.raises(PlanLoadError, match="more than"):
        parse_plan("\n".join(lines) + "\n")
