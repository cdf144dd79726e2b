"""The spill file's format: versioned, named fields, exact round trips, and safe with old or new files.

A spill file outlives its process, so the next process to read it may run another version of
trackwell: a file of version 1 (pickles, before the header existed) is still read; one of a version
this code does not know is kept aside and reported, never guessed at nor deleted.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import orjson
import pytest

from trackwell.core.messages import Message, encode
from trackwell.core.violations import Violation
from trackwell.sdk.outbox import Outbox
from trackwell.sdk.spill import (
    SPILL_FORMAT_VERSION,
    SPILL_HEADER,
    decode_spill_record,
    encode_spill_record,
)
from trackwell.store import Checked, Store, StoreError

V1_FILE = Path(__file__).parent / "data" / "spill-v1.bin"  # written by trackwell 0.1.0's outbox
T0 = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)


class Recorder:
    """A store that keeps what it is given; `gate` holds writes back while it is clear."""

    def __init__(self) -> None:
        self.written: list[Checked] = []
        self.gate = threading.Event()
        self.gate.set()

    def write_batch(self, batch: Sequence[Checked]) -> list[object]:
        """Record the batch (after the gate opens)."""
        self.gate.wait(10)
        self.written.extend(batch)
        return []


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def errors() -> list[Exception]:
    return []


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def outbox(folder: Path, store: Recorder, errors: list[Exception], **options: int) -> Outbox:
    return Outbox(
        cast(Store, store),
        spill_path=folder / "app.db.spill-999999999-0",  # never a live process of ours
        on_error=errors.append,
        **options,  # type: ignore[arg-type]
    )


def checked(message_id: str, **fields: object) -> Checked:
    message = Message(
        type="track",
        message_id=message_id,
        user_id="u-1",
        event="Feature Used",
        properties={"feature_name": "projects"},
        timestamp=T0,
        received_at=T0,
    )
    for name, value in fields.items():
        setattr(message, name, value)
    return Checked(message, "accepted", (), encode(message), "sdk")


def left_by_dead_process(folder: Path, pid: int, content: bytes) -> Path:
    path = folder / f"app.db.spill-{pid}-0"
    path.write_bytes(content)
    return path


def v2_file(*records: Checked) -> bytes:
    return SPILL_HEADER + b"".join(
        encode_spill_record(n, record) for n, record in enumerate(records, 1)
    )


# -- round trip ---------------------------------------------------------------------------------


def test_a_record_names_every_field_and_comes_back_exactly() -> None:
    plus_two = timezone(timedelta(hours=2))
    message = Message(
        type="identify",
        message_id="m-1",
        user_id="u-1",
        anonymous_id="a-1",
        event="e",
        name="n",
        properties={"nested": [1, 2.5, {"x": None, "nul": "a\x00b"}], "big": 2**62},
        traits={"email": "e@example.com", "é": "ü"},
        group_id="g-1",
        previous_id="p-1",
        timestamp=T0,
        original_timestamp=datetime(2026, 11, 29, 14, 0, tzinfo=plus_two),  # kept as given
        sent_at=datetime(2026, 11, 29, 12, 0, 1),  # naive stays naive
        received_at=T0,
        context={"ip": "203.0.113.9"},
        integrations={"All": False},
        extra={"custom": True},
        timestamp_missing=True,
    )
    violations = (
        Violation("unknown_property", "traits.x", "not in the plan", "repair", "x2", "kind"),
        Violation("missing", "traits.email", "required", "report"),
    )
    original = Checked(message, "repaired", violations, encode(message), "sdk")
    line = encode_spill_record(7, original)

    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = orjson.loads(line)
    assert set(record) == {"ticket", "verdict", "source", "violations", "message", "body"}
    assert record["message"]["message_id"] == "m-1"  # by name, not by position
    ticket, back = decode_spill_record(line)
    assert (ticket, back) == (7, original)
    assert back.message.timestamp is not None and back.message.timestamp.tzinfo is UTC
    assert back.message.original_timestamp == message.original_timestamp
    assert back.message.original_timestamp is not None
    assert back.message.original_timestamp.utcoffset() == timedelta(hours=2)
    assert back.message.sent_at is not None and back.message.sent_at.tzinfo is None


def test_a_body_that_is_not_utf8_comes_back_byte_for_byte() -> None:
    original = Checked(checked("m-1").message, "blocked", (), b"\xff\xfe{", "gateway")
    assert decode_spill_record(encode_spill_record(1, original)) == (1, original)


def test_a_blocked_message_with_values_json_cannot_carry_still_spills() -> None:
    """`prepare` blocks messages orjson cannot encode; spilling one must not fail the caller."""
    message = checked("m-1").message
    message.properties = {"huge": 2**70, 1: "int key", "nan": float("nan"), "obj": object()}
    original = Checked(message, "blocked", (), b'{"truncated":true}', "sdk")
    line = encode_spill_record(3, original)
    assert orjson.loads(line)["lossy"] is True
    ticket, back = decode_spill_record(line)
    assert ticket == 3 and back.body == original.body and back.verdict == "blocked"
    assert back.message.message_id == "m-1"
    assert back.message.properties == {
        "huge": str(2**70),
        "1": "int key",
        "nan": None,
        "obj": "[unserialisable:object]",
    }


def test_a_spill_file_starts_with_its_header_and_replays_in_order(
    tmp_path: Path, recorder: Recorder, errors: list[Exception]
) -> None:
    box = outbox(tmp_path, recorder, errors, max_queue=1)
    recorder.gate.clear()  # the writer is stuck: the queue fills and the rest spills
    for n in range(20):
        box.put(checked(f"m-{n}"))
    with box._lock:
        box._write_spill_group()
    content = box.spill_path.read_bytes()
    assert content.startswith(SPILL_HEADER)
    assert orjson.loads(SPILL_HEADER) == {"format": "trackwell-spill", "version": 2}
    assert SPILL_FORMAT_VERSION == 2
    recorder.gate.set()
    assert box.flush(timeout=10) is True
    box.close()
    assert [c.message.message_id for c in recorder.written] == [f"m-{n}" for n in range(20)]
    assert not box.spill_path.exists() and errors == []


# -- files left by a dead process ---------------------------------------------------------------


def test_a_file_of_version_1_is_replayed(
    tmp_path: Path, recorder: Recorder, errors: list[Exception], dead_pid: int
) -> None:
    left = left_by_dead_process(tmp_path, dead_pid, V1_FILE.read_bytes())
    box = outbox(tmp_path, recorder, errors)
    assert box.flush(timeout=10) is True
    box.close()

    ids = [c.message.message_id for c in recorder.written]
    assert ids == ["v1-a", "v1-b", "v1-c"]
    first, second, third = recorder.written
    assert first.verdict == "accepted" and first.message.event == "Feature Used"
    assert first.message.properties == {"feature_name": "projects", "n": [1, 2.5, None, True]}
    assert first.message.timestamp == T0 and first.message.timestamp.tzinfo is UTC
    assert first.body == b'{"type":"track","messageId":"v1-a"}'
    assert second.message.traits == {"email": "e@example.com"}
    assert second.message.original_timestamp == datetime(
        2026, 11, 29, 14, 0, tzinfo=timezone(timedelta(hours=2))
    )
    assert second.message.extra == {"custom": True} and second.message.timestamp_missing
    assert second.violations == (
        Violation("unknown_property", "traits.x", "not in the plan", "repair", "x2", "k"),
    )
    assert third.verdict == "blocked" and third.message.anonymous_id == "a-3"
    assert errors == []
    assert not left.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b'{"format":"trackwell-spill","version":99}\n{"ticket":1,"whatever":"new"}\n', "99"),
        (b"PK\x03\x04 something else entirely\n", "not in any spill format"),
        (b'{"format":"trackwell-spill","version":"two"}\n', "header line is damaged"),
    ],
    ids=["future version", "unknown format", "damaged header"],
)
def test_a_file_this_version_cannot_read_is_kept_aside_and_reported(
    tmp_path: Path,
    recorder: Recorder,
    errors: list[Exception],
    dead_pid: int,
    content: bytes,
    said: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    left_by_dead_process(tmp_path, dead_pid, content)
    # A readable file left by another dead process is still replayed after the unreadable one.
    readable = tmp_path / f"app.db.spill-{dead_pid}-1"
    readable.write_bytes(v2_file(checked("after")))
    with caplog.at_level(logging.WARNING, logger="trackwell.sdk.outbox"):
        box = outbox(tmp_path, recorder, errors)
        assert box.flush(timeout=10) is True
        box.close()

    assert [c.message.message_id for c in recorder.written] == ["after"]
    kept = sorted(tmp_path.glob("app.db.spill.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content  # kept whole, not deleted
    assert len(errors) == 1 and isinstance(errors[0], StoreError)
    assert said in str(errors[0]) and str(kept[0]) in str(errors[0])
    assert "not replayed" in caplog.text
    # A later outbox does not try it again (nor delete it).
    errors.clear()
    outbox(tmp_path, recorder, errors).close()
    assert errors == [] and kept[0].read_bytes() == content


def test_a_record_torn_by_a_crash_is_not_replayed_and_the_rest_is(
    tmp_path: Path,
    recorder: Recorder,
    errors: list[Exception],
    dead_pid: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    content = v2_file(checked("a"), checked("b"), checked("c"))
    torn = content[: -len(encode_spill_record(3, checked("c"))) // 2]  # c cut mid-write
    left = left_by_dead_process(tmp_path, dead_pid, torn)
    with caplog.at_level(logging.WARNING, logger="trackwell.sdk.outbox"):
        box = outbox(tmp_path, recorder, errors)
        assert box.flush(timeout=10) is True
        box.close()
    assert [c.message.message_id for c in recorder.written] == ["a", "b"]
    assert "torn by a crash" in caplog.text
    assert not left.exists() and errors == []


def test_a_file_torn_before_its_first_record_holds_nothing(
    tmp_path: Path, recorder: Recorder, errors: list[Exception], dead_pid: int
) -> None:
    left = left_by_dead_process(tmp_path, dead_pid, SPILL_HEADER[:10])
    box = outbox(tmp_path, recorder, errors)
    assert box.flush(timeout=10) is True
    box.close()
    assert recorder.written == [] and errors == [] and not left.exists()
