"""Rollups: per day (and hour) counts updated in the write transaction, read by the monitors."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from trackwell.core import histogram
from trackwell.core.time import DAY_MS
from trackwell.store.base import DeliveryRollup, PeopleRollup, VolumeRollup
from trackwell.store.sql.dialect import Conn

HOUR_MS = 3_600_000
HOURLY_DAYS = 7  # hour rows are kept this long; day rows for good
ALL_DAY = -1  # the `hour` of a whole-day row


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """One acked delivery, for the rollups."""

    name: str
    outcome: str
    now_ms: int
    action_ms: int | None
    received_ms: int | None


@dataclass
class EventTally:
    """Counts for one (day, hour, source, name, type)."""

    received: int = 0
    accepted: int = 0
    repaired: int = 0
    blocked: int = 0
    missing_timestamp: int = 0
    queue_time: int = 0


@dataclass
class Tally:
    """What one write batch adds to the rollups."""

    # Per message only a Counter increment; the day and hour rows are built once, at flush.
    raw: Counter[tuple[int, int, str, str, str, str, int]] = field(default_factory=Counter)
    codes: Counter[tuple[int, str, str, str]] = field(default_factory=Counter)
    # Of those, blocked messages that this code blocked: what a source must fix, exactly.
    blocking: Counter[tuple[int, str, str, str]] = field(default_factory=Counter)
    identifies: Counter[int] = field(default_factory=Counter)
    new_profiles: Counter[int] = field(default_factory=Counter)
    identifies_of_new: Counter[int] = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.raw.update(other.raw)
        self.codes.update(other.codes)
        self.blocking.update(other.blocking)
        self.identifies.update(other.identifies)
        self.new_profiles.update(other.new_profiles)
        self.identifies_of_new.update(other.identifies_of_new)

    def __len__(self) -> int:
        return len(self.raw) + len(self.codes)

    def count(
        self,
        received_ms: int,
        timestamp_ms: int | None,
        source: str,
        name: str,
        type_: str,
        verdict: str,
        codes: Sequence[str],
        blocking: Sequence[str] = (),
    ) -> None:
        """Count one message under its day and its hour (`blocking`: the codes that blocked it)."""
        day, hour = received_ms // DAY_MS, (received_ms % DAY_MS) // HOUR_MS
        if codes and "missing_timestamp" in codes:
            timing = 1
        elif timestamp_ms is not None and timestamp_ms // 1000 == received_ms // 1000:
            timing = 2  # action time equal to arrival, to the second
        else:
            timing = 0
        self.raw[(day, hour, source, name, type_, verdict, timing)] += 1
        if codes:
            for code in set(codes):
                self.codes[(day, source, name, code)] += 1
        for code in set(blocking):
            self.blocking[(day, source, name, code)] += 1
        if type_ == "identify":
            self.identifies[day] += 1

    @property
    def events(self) -> dict[tuple[int, int, str, str, str], EventTally]:
        """The batch's counts by (day, hour, source, name, type), with whole-day rows too."""
        events: dict[tuple[int, int, str, str, str], EventTally] = defaultdict(EventTally)
        for (day, hour, source, name, type_, verdict, timing), count in self.raw.items():
            for key in ((day, ALL_DAY, source, name, type_), (day, hour, source, name, type_)):
                tally = events[key]
                tally.received += count
                if verdict == "accepted":
                    tally.accepted += count
                elif verdict == "repaired":
                    tally.repaired += count
                else:
                    tally.blocked += count
                if timing == 1:
                    tally.missing_timestamp += count
                elif timing == 2:
                    tally.queue_time += count
        return events

    def flush(self, conn: Conn) -> None:
        """Add these counts to the rollup tables."""
        new_profiles, identifies_of_new = self.new_profiles, self.identifies_of_new
        events = self.events
        if events:
            conn.executemany(
                "INSERT INTO rollup_events VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (day, hour, source, name, type) DO UPDATE SET"
                " received = rollup_events.received + excluded.received,"
                " accepted = rollup_events.accepted + excluded.accepted,"
                " repaired = rollup_events.repaired + excluded.repaired,"
                " blocked = rollup_events.blocked + excluded.blocked,"
                " missing_timestamp = rollup_events.missing_timestamp + excluded.missing_timestamp,"
                " queue_time = rollup_events.queue_time + excluded.queue_time",
                [
                    (
                        *key,
                        t.received,
                        t.accepted,
                        t.repaired,
                        t.blocked,
                        t.missing_timestamp,
                        t.queue_time,
                    )
                    for key, t in events.items()
                ],
            )
        if self.codes or self.blocking:
            keys = set(self.codes) | set(self.blocking)
            conn.executemany(
                "INSERT INTO rollup_codes (day, source, name, code, count, blocked)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT (day, source, name, code) DO UPDATE SET"
                " count = rollup_codes.count + excluded.count,"
                " blocked = rollup_codes.blocked + excluded.blocked",
                [(*key, self.codes.get(key, 0), self.blocking.get(key, 0)) for key in keys],
            )
        days = set(self.identifies) | set(new_profiles)
        if days:
            conn.executemany(
                "INSERT INTO rollup_people VALUES (?,?,?,?) ON CONFLICT (day) DO UPDATE SET"
                " new_profiles = rollup_people.new_profiles + excluded.new_profiles,"
                " identifies = rollup_people.identifies + excluded.identifies,"
                " identifies_of_new = rollup_people.identifies_of_new + excluded.identifies_of_new",
                [
                    (
                        day,
                        new_profiles.get(day, 0),
                        self.identifies.get(day, 0),
                        identifies_of_new.get(day, 0),
                    )
                    for day in days
                ],
            )


def add_deliveries(conn: Conn, destination: str, rows: Sequence[DeliveryCount]) -> None:
    """Count delivery outcomes per day and event, with latency histograms for delivered ones
    (captured and no_consent messages are counted apart: they never reached the tool; a held
    message is counted once it settles, not while it waits)."""
    if not rows:
        return
    grouped: dict[tuple[int, str], list[DeliveryCount]] = defaultdict(list)
    for row in rows:
        grouped[(row.now_ms // DAY_MS, row.name)].append(row)
    for (day, name), items in grouped.items():
        current = conn.execute(
            "SELECT delivered, retried, dead, action_latency, received_latency, captured,"
            " no_consent FROM rollup_deliveries WHERE day = ? AND destination = ? AND name = ?",
            (day, destination, name),
        ).fetchone()
        delivered, retried, dead = (current[0], current[1], current[2]) if current else (0, 0, 0)
        captured, no_consent = (current[5], current[6]) if current else (0, 0)
        action = orjson.loads(current[3]) if current else histogram.empty()
        received = orjson.loads(current[4]) if current else histogram.empty()
        for item in items:
            if item.outcome == "delivered":
                delivered += 1
                if item.action_ms is not None:
                    histogram.add(action, (item.now_ms - item.action_ms) / 1000)
                if item.received_ms is not None:
                    histogram.add(received, (item.now_ms - item.received_ms) / 1000)
            elif item.outcome == "captured":
                captured += 1
            elif item.outcome == "no_consent":
                no_consent += 1
            elif item.outcome == "retry":
                retried += 1
            elif item.outcome == "dead":
                dead += 1
        conn.execute(
            "INSERT INTO rollup_deliveries (day, destination, name, delivered, retried, dead,"
            " action_latency, received_latency, captured, no_consent) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (day, destination, name) DO UPDATE SET delivered = excluded.delivered,"
            " retried = excluded.retried, dead = excluded.dead, action_latency = excluded.action_latency,"
            " received_latency = excluded.received_latency, captured = excluded.captured,"
            " no_consent = excluded.no_consent",
            (
                day,
                destination,
                name,
                delivered,
                retried,
                dead,
                orjson.dumps(action).decode(),
                orjson.dumps(received).decode(),
                captured,
                no_consent,
            ),
        )


def prune_hours(conn: Conn, now_ms: int) -> None:
    """Drop hour rows older than a week (day rows stay)."""
    conn.execute(
        "DELETE FROM rollup_events WHERE hour != ? AND day < ?",
        (ALL_DAY, now_ms // DAY_MS - HOURLY_DAYS),
    )


def volume(
    conn: Conn, since_day: int, until_day: int, *, hourly: bool = False
) -> list[VolumeRollup]:
    """Event counts per day (or hour) between two days, inclusive."""
    hour_clause = "hour != ?" if hourly else "hour = ?"
    return [
        VolumeRollup(*row)
        for row in conn.execute(
            "SELECT day, hour, source, name, type, received, accepted, repaired, blocked, missing_timestamp,"
            f" queue_time FROM rollup_events WHERE day BETWEEN ? AND ? AND {hour_clause} ORDER BY day, hour, name",
            (since_day, until_day, ALL_DAY),
        )
    ]


def violation_counts(
    conn: Conn, since_day: int, until_day: int
) -> list[tuple[int, str, str, str, int]]:
    """(day, source, name, code, count) between two days."""
    return [
        tuple(row)
        for row in conn.execute(
            "SELECT day, source, name, code, count FROM rollup_codes WHERE day BETWEEN ? AND ? ORDER BY day",
            (since_day, until_day),
        )
    ]


def blocking_counts(
    conn: Conn, since_day: int, until_day: int
) -> list[tuple[int, str, str, str, int]]:
    """(day, source, name, code, blocked messages) between two days: the codes that blocked."""
    return [
        tuple(row)
        for row in conn.execute(
            "SELECT day, source, name, code, blocked FROM rollup_codes"
            " WHERE day BETWEEN ? AND ? AND blocked > 0 ORDER BY day",
            (since_day, until_day),
        )
    ]


def deliveries(conn: Conn, since_day: int, until_day: int) -> list[DeliveryRollup]:
    """Per day, destination and event: outcomes and latency histograms."""
    return [
        DeliveryRollup(
            day,
            destination,
            name,
            delivered,
            retried,
            dead,
            orjson.loads(action),
            orjson.loads(received),
            captured,
            no_consent,
        )
        for (
            day,
            destination,
            name,
            delivered,
            retried,
            dead,
            action,
            received,
            captured,
            no_consent,
        ) in conn.execute(
            "SELECT day, destination, name, delivered, retried, dead, action_latency, received_latency,"
            " captured, no_consent FROM rollup_deliveries WHERE day BETWEEN ? AND ? ORDER BY day",
            (since_day, until_day),
        )
    ]


def people(conn: Conn, since_day: int, until_day: int) -> list[PeopleRollup]:
    """Per day: new profiles, identify calls, identify calls for new profiles."""
    return [
        PeopleRollup(*row)
        for row in conn.execute(
            "SELECT day, new_profiles, identifies, identifies_of_new FROM rollup_people"
            " WHERE day BETWEEN ? AND ? ORDER BY day",
            (since_day, until_day),
        )
    ]
