"""SQLite schema migrations: named, ordered, recorded in a table, applied on open."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from trackwell.core.time import now_ms
from trackwell.store.sql.privacy_schema import copy_profile_emails, new_pepper, privacy_schema
from trackwell.store.sql.reports_schema import reports_schema

# The log's INTEGER PRIMARY KEY (`seq`) is the internal, time-ordered key: appends go to the
# end of the b-tree. Dedup keeps a 64-bit hash of each messageId in one small table per day
# (`dedup_YYYYMMDD`, made on demand and dropped whole when it leaves the window) instead of a
# unique index over random UUIDs that grows forever.
_V1 = """
CREATE TABLE log (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    timestamp_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    violations TEXT,
    body BLOB NOT NULL
);
CREATE INDEX log_user ON log(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX log_anonymous ON log(anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE TABLE blocked (
    id INTEGER PRIMARY KEY,
    message_id TEXT,
    type TEXT,
    name TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    timestamp_ms INTEGER,
    received_ms INTEGER NOT NULL,
    violations TEXT NOT NULL,
    body BLOB
);
CREATE INDEX blocked_user ON blocked(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX blocked_anonymous ON blocked(anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX blocked_message ON blocked(message_id);
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY,
    traits TEXT NOT NULL,
    trait_times TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE TABLE identities (
    anonymous_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    merged_ms INTEGER NOT NULL
);
CREATE INDEX identities_user ON identities(user_id);
CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX merges_user ON merges(user_id);
CREATE INDEX merges_anonymous ON merges(anonymous_id);
CREATE TABLE destinations (
    name TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL,
    filter TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE TABLE deliveries (
    destination TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_ms INTEGER,
    person TEXT,
    last_error TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (destination, seq)
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries(destination, status, next_ms);
CREATE INDEX deliveries_person ON deliveries(destination, person, status);
CREATE TABLE delivery_history (
    id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    detail TEXT
);
CREATE INDEX delivery_history_seq ON delivery_history(seq, destination);
"""

Migration = Callable[[sqlite3.Connection], None]


def _v1(conn: sqlite3.Connection) -> None:
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2_leases(conn: sqlite3.Connection) -> None:
    # One router owns a destination's queue at a time (in-memory claims must not be shared);
    # the lease expires so a crashed owner's queue is taken over.
    conn.execute("ALTER TABLE destinations ADD COLUMN owner TEXT")
    conn.execute("ALTER TABLE destinations ADD COLUMN lease_ms INTEGER NOT NULL DEFAULT 0")


_V3 = """
CREATE TABLE rollup_events (
    day INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    received INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    repaired INTEGER NOT NULL,
    blocked INTEGER NOT NULL,
    missing_timestamp INTEGER NOT NULL,
    queue_time INTEGER NOT NULL,
    PRIMARY KEY (day, hour, source, name, type)
) WITHOUT ROWID;
CREATE TABLE rollup_codes (
    day INTEGER NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, source, name, code)
) WITHOUT ROWID;
CREATE TABLE rollup_deliveries (
    day INTEGER NOT NULL,
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    delivered INTEGER NOT NULL,
    retried INTEGER NOT NULL,
    dead INTEGER NOT NULL,
    action_latency TEXT NOT NULL,
    received_latency TEXT NOT NULL,
    PRIMARY KEY (day, destination, name)
) WITHOUT ROWID;
CREATE TABLE rollup_people (
    day INTEGER PRIMARY KEY,
    new_profiles INTEGER NOT NULL,
    identifies INTEGER NOT NULL,
    identifies_of_new INTEGER NOT NULL
);
"""


def _v3_rollups(conn: sqlite3.Connection) -> None:
    # Counts kept as events arrive, so monitors read a few thousand rows for 13 months
    # instead of scanning the log.
    for statement in _V3.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v4_destination_start(conn: sqlite3.Connection) -> None:
    # Messages stored before a destination existed were never meant for it.
    conn.execute("ALTER TABLE destinations ADD COLUMN start_seq INTEGER NOT NULL DEFAULT 0")
    conn.execute("UPDATE destinations SET start_seq = 0")


def _v5_blocked_codes(conn: sqlite3.Connection) -> None:
    # Which codes blocked a source's messages (not only which codes they carried), for the
    # blocked_rate monitor; earlier days keep 0, as nothing counted them.
    conn.execute("ALTER TABLE rollup_codes ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0")


def _v6_captured(conn: sqlite3.Connection) -> None:
    # Messages recorded in capture mode are counted apart from delivered ones.
    conn.execute("ALTER TABLE rollup_deliveries ADD COLUMN captured INTEGER NOT NULL DEFAULT 0")


def _v7_privacy(conn: sqlite3.Connection) -> None:
    # Erase and suppress (issue 18): marks checked at the edge, requests, propagation jobs, the
    # pepper of the identifier hashes, an email index that spares a scan, and the audit log.
    for statement in privacy_schema("INTEGER PRIMARY KEY", "BLOB", "INTEGER"):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO privacy_state (id, pepper, generation) VALUES (1, ?, 0)", (new_pepper(),)
    )
    copy_profile_emails(conn)


def _v8_retention(conn: sqlite3.Connection) -> None:
    # Retention removes the oldest rows of the log, and may remove them all: positions must still
    # never be handed out twice, or a destination's cursor (already past them) would skip the
    # new rows. The highest removed position is kept here; `reserve_seqs` starts after it.
    conn.execute(
        "CREATE TABLE log_floor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)"
    )


def _v9_consent(conn: sqlite3.Connection) -> None:
    # Messages not sent for want of consent are counted apart from delivered and dead ones.
    conn.execute("ALTER TABLE rollup_deliveries ADD COLUMN no_consent INTEGER NOT NULL DEFAULT 0")


def _v10_reports(conn: sqlite3.Connection) -> None:
    # What the tools did (issue 20): Customer.io's reporting webhooks and signed outcome webhooks.
    for statement in reports_schema("INTEGER PRIMARY KEY", "INTEGER"):
        conn.execute(statement)


def _v11_blocked_position(conn: sqlite3.Connection) -> None:
    # Where a blocked message arrived among the logged ones (the log position the next logged
    # message took), so a timeline keeps arrival order within one millisecond. Older rows keep
    # NULL and sort before the logged messages of their millisecond, as they did.
    conn.execute("ALTER TABLE blocked ADD COLUMN log_position INTEGER")


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("0001_initial", _v1),
    ("0002_destination_leases", _v2_leases),
    ("0003_rollups", _v3_rollups),
    ("0004_destination_start", _v4_destination_start),
    ("0005_blocked_codes", _v5_blocked_codes),
    ("0006_captured", _v6_captured),
    ("0007_privacy", _v7_privacy),
    ("0008_retention", _v8_retention),
    ("0009_consent", _v9_consent),
    ("0010_reports", _v10_reports),
    ("0011_blocked_position", _v11_blocked_position),
)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; returns their names."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)"
    )
    applied = []
    for name, migration in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone()
            if done is None:
                migration(conn)
                conn.execute(
                    "INSERT INTO migrations (name, applied_ms) VALUES (?, ?)",
                    (name, now_ms()),
                )
                applied.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied
