"""Amplitude Data's CSV exports (events with properties and property groups, user properties)
import: property groups become shared properties, unmapped columns are listed once each."""

from __future__ import annotations

import pytest

from trackwell.plan.amplitude_csv import import_amplitude_csv
from trackwell.plan.jsonschema import SchemaImportError

from .imports import expected_plan, fixture_text, reloaded

FILES = ("events.csv", "user_properties.csv")


def files() -> list[tuple[str, str]]:
    return [(name, fixture_text("amplitude", name)) for name in FILES]


def test_exports_import_to_the_expected_plan() -> None:
    plan, _ = import_amplitude_csv(files())
    assert plan == expected_plan("amplitude")
    added = plan.events["Product Added"]
    quantity = added.property("quantity")
    assert quantity is not None and quantity.type == "integer" and quantity.maximum == 99
    cart = added.property("cart_id")
    assert cart is not None and cart.shared == "cart_id" and cart.required
    labels = added.property("labels")
    assert labels is not None and labels.items is not None and labels.items.type == "string"
    assert [t.name for t in plan.traits] == ["email", "plan"]


def test_exports_report_is_exact() -> None:
    _, report = import_amplitude_csv(files())
    unmapped = (
        "Event Display Name", "Event Category", "Tags", "Event Schema Status", "Event Source",
        "Event 30 Day Volume", "Event First Seen", "Event Last Seen", "Property Schema Status",
        "Property First Seen",
    )  # fmt: skip
    assert report.notes == [
        "events.csv:6: sku: 'String Property Value Min Length' has no equivalent; dropped",
        "events.csv:9: labels: 'Array Min Items' has no equivalent; dropped",
        "events.csv:9: labels: 'Array Unique Items' has no equivalent; dropped",
        "events.csv:10: payload: value type 'any' cannot be expressed as one plan type; skipped",
        "events.csv:11: inactive event; planned anyway (activity is not planned)",
        "events.csv:14: event 'Old Event' marked 'ignore'; it and its rows not planned",
        *(
            f"events.csv:{column}: column has no equivalent in a trackwell plan (1 row); dropped"
            for column in unmapped
        ),
        "user_properties.csv:4: user property 'legacy_id' marked 'ignore'; not planned",
        "user_properties.csv:Property Schema Status: column has no equivalent in a trackwell plan"
        " (1 row); dropped",
        "events.Product Added: Amplitude has no lifecycle stage; set 'stage'",
        "events.Checkout Started: Amplitude has no lifecycle stage; set 'stage'",
    ]


def test_exports_round_trip_through_yaml() -> None:
    plan, _ = import_amplitude_csv(files())
    assert reloaded(plan) == plan


def test_headers_match_in_any_case() -> None:
    text = (
        "action,object type,object name,object description,property type,"
        "event property name,property value type,property required\n"
        ",Event,Signed Up,A person made an account,,,,\n"
        ",,,,Event Property,method,string,true\n"
    )
    plan, report = import_amplitude_csv([("lower.csv", text)])
    prop = plan.events["Signed Up"].property("method")
    assert prop is not None and prop.required
    assert report.notes == ["events.Signed Up: Amplitude has no lifecycle stage; set 'stage'"]


def test_not_an_amplitude_export() -> None:
    with pytest.raises(SchemaImportError, match="neither an events export"):
        import_amplitude_csv([("x.csv", "a,b\n1,2\n")])
    with pytest.raises(SchemaImportError, match="no header row"):
        import_amplitude_csv([("empty.csv", "")])
