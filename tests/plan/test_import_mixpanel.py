"""Mixpanel Lexicon CSV exports import: events with their properties, profile properties as
traits, dropped entities left out, unmapped columns listed once each."""

from __future__ import annotations

import pytest

from trackwell.plan.jsonschema import SchemaImportError
from trackwell.plan.mixpanel_csv import import_mixpanel_csv

from .imports import expected_plan, fixture_text, reloaded


def files() -> list[tuple[str, str]]:
    return [("lexicon.csv", fixture_text("mixpanel", "lexicon.csv"))]


def test_export_imports_to_the_expected_plan() -> None:
    plan, _ = import_mixpanel_csv(files())
    assert plan == expected_plan("mixpanel")
    played = plan.events["Song Played"]
    assert played.description == "A song started playing"
    song = played.property("song_id")
    assert song is not None and song.required and song.description == "The song's id"
    played_at = played.property("played_at")
    assert played_at is not None and played_at.type == "timestamp"
    assert "Ad Clicked" not in plan.events
    assert [t.name for t in plan.traits] == ["$email", "plan"]


def test_export_report_is_exact() -> None:
    _, report = import_mixpanel_csv(files())
    assert report.notes == [
        "lexicon.csv:5: genres: a List's element type is not in the export; typed string",
        "lexicon.csv:7: debug: type 'Unknown' cannot be expressed as one plan type; skipped",
        "lexicon.csv:8: event 'Ad Clicked' is dropped in Mixpanel; it and its rows not planned",
        "lexicon.csv:Entity Display Name: column has no equivalent in a trackwell plan (1 row);"
        " dropped",
        "lexicon.csv:Entity Tags: column has no equivalent in a trackwell plan (1 row); dropped",
        "lexicon.csv:Property Display Name: column has no equivalent in a trackwell plan (6 rows);"
        " dropped",
        "lexicon.csv:Property Example Value: column has no equivalent in a trackwell plan (6 rows);"
        " dropped",
        "lexicon.csv:Property Sensitive: column has no equivalent in a trackwell plan (1 row);"
        " dropped",
        "events.Song Played: Mixpanel has no lifecycle stage; set 'stage'",
    ]


def test_export_round_trips_through_yaml() -> None:
    plan, _ = import_mixpanel_csv(files())
    assert reloaded(plan) == plan


def test_event_properties_named_by_an_event_column() -> None:
    text = (
        "Entity Type,Entity Name,Entity Description,Event Name,Property Name,Property Type\n"
        "Event Property,,,Signed Up,method,String\n"
        "Event,Signed Up,A person made an account,,,\n"
        "Event Property,,,Signed Up,referrer,String\n"
        "Event Property,,,Logged In,device,String\n"
    )
    plan, report = import_mixpanel_csv([("by-event.csv", text)])
    assert [p.name for p in plan.events["Signed Up"].properties] == ["referrer"]
    assert report.notes == [
        "by-event.csv:2: property of event 'Signed Up', which no event row lists; skipped",
        "by-event.csv:5: property of event 'Logged In', which no event row lists; skipped",
        "events.Signed Up: Mixpanel has no lifecycle stage; set 'stage'",
    ]


def test_not_a_lexicon_export() -> None:
    with pytest.raises(SchemaImportError, match="no entity column"):
        import_mixpanel_csv([("x.csv", "Name,Value\na,1\n")])
