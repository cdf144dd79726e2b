"""The one JSON Lines reader: the same entries from a file in memory and from a streamed file."""

from __future__ import annotations

from pathlib import Path

from trackwell.io.backfill_files import read_rows
from trackwell.io.eventfile import JsonLine, parse_events, read_json_lines
from trackwell.plan import Plan

TEXT = b'{"a": 1}\n\n  \n[2]\n{"a": \n\xff\n{"b": "\xc3\xa9"}\r\n'


def test_values_and_reasons_by_line_number() -> None:
    assert list(read_json_lines(TEXT.split(b"\n"))) == [
        JsonLine(1, 8, {"a": 1}),
        JsonLine(4, 3, [2]),
        JsonLine(5, 6, None, "not JSON (Expecting value at column 7)"),
        JsonLine(6, 1, None, "not UTF-8 text"),
        JsonLine(7, 12, {"b": "é"}),
    ]


def test_a_streamed_file_reads_as_the_same_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(TEXT)
    with path.open("rb") as handle:
        assert list(read_json_lines(handle)) == list(read_json_lines(TEXT.split(b"\n")))


def test_check_and_backfill_agree_on_every_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(TEXT)
    events = parse_events(TEXT).events
    rows = list(read_rows(path, "jsonl", Plan("p", 1)))
    assert [e.line for e in events] == [r.line for r in rows] == [1, 4, 5, 6, 7]
    assert [e.error for e in events][2:4] == [r.error for r in rows][2:4]
    assert rows[1].error == "not a JSON object"  # backfill takes objects only
