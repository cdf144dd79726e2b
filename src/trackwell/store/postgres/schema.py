"""PostgreSQL schema migrations, applied once under an advisory lock when processes start together."""

from __future__ import annotations

from collections.abc import Callable

from trackwell.core.time import now_ms
from trackwell.store.postgres.connection import Adapter
from trackwell.store.sql.privacy_schema import copy_profile_emails, new_pepper, privacy_schema
from trackwell.store.sql.reports_schema import reports_schema

# An arbitrary constant: the key of the advisory lock every trackwell process takes to migrate.
MIGRATION_LOCK = 7_231_004_911

_V1 = """
CREATE TABLE log (
    seq BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    timestamp_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    violations TEXT,
    body BYTEA NOT NULL
) PARTITION BY RANGE (received_ms);
CREATE INDEX log_seq ON log (seq);
CREATE INDEX log_user ON log (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX log_anonymous ON log (anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE TABLE log_counter (id INTEGER PRIMARY KEY, next BIGINT NOT NULL);
INSERT INTO log_counter VALUES (1, 1);
CREATE TABLE blocked (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT,
    type TEXT,
    name TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    timestamp_ms BIGINT,
    received_ms BIGINT NOT NULL,
    violations TEXT NOT NULL,
    body BYTEA
);
CREATE INDEX blocked_user ON blocked (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX blocked_anonymous ON blocked (anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX blocked_message ON blocked (message_id);
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY,
    traits TEXT NOT NULL,
    trait_times TEXT NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE TABLE identities (
    anonymous_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    merged_ms BIGINT NOT NULL
);
CREATE INDEX identities_user ON identities (user_id);
CREATE TABLE merges (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX merges_user ON merges (user_id);
CREATE INDEX merges_anonymous ON merges (anonymous_id);
CREATE TABLE destinations (
    name TEXT PRIMARY KEY,
    cursor BIGINT NOT NULL,
    filter TEXT NOT NULL,
    delivered BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    owner TEXT,
    lease_ms BIGINT NOT NULL DEFAULT 0,
    start_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE deliveries (
    destination TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_ms BIGINT,
    person TEXT,
    last_error TEXT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (destination, seq)
);
CREATE INDEX deliveries_due ON deliveries (destination, status, next_ms);
CREATE INDEX deliveries_person ON deliveries (destination, person, status);
CREATE TABLE delivery_history (
    id BIGSERIAL PRIMARY KEY,
    destination TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    detail TEXT
);
CREATE INDEX delivery_history_seq ON delivery_history (seq, destination);
CREATE TABLE rollup_events (
    day INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    received BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    repaired BIGINT NOT NULL,
    blocked BIGINT NOT NULL,
    missing_timestamp BIGINT NOT NULL,
    queue_time BIGINT NOT NULL,
    PRIMARY KEY (day, hour, source, name, type)
);
CREATE TABLE rollup_codes (
    day INTEGER NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (day, source, name, code)
);
CREATE TABLE rollup_deliveries (
    day INTEGER NOT NULL,
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    delivered BIGINT NOT NULL,
    retried BIGINT NOT NULL,
    dead BIGINT NOT NULL,
    action_latency TEXT NOT NULL,
    received_latency TEXT NOT NULL,
    PRIMARY KEY (day, destination, name)
);
CREATE TABLE rollup_people (
    day INTEGER PRIMARY KEY,
    new_profiles BIGINT NOT NULL,
    identifies BIGINT NOT NULL,
    identifies_of_new BIGINT NOT NULL
)
"""

Migration = Callable[[Adapter], None]


def _v1(conn: Adapter) -> None:
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2_blocked_codes(conn: Adapter) -> None:
    # Which codes blocked a source's messages, for the blocked_rate monitor (SQLite's 0005).
    conn.execute("ALTER TABLE rollup_codes ADD COLUMN blocked BIGINT NOT NULL DEFAULT 0")


def _v3_captured(conn: Adapter) -> None:
    # Messages recorded in capture mode are counted apart from delivered ones.
    conn.execute("ALTER TABLE rollup_deliveries ADD COLUMN captured BIGINT NOT NULL DEFAULT 0")


def _v7_privacy(conn: Adapter) -> None:
    # Erase and suppress (issue 18), as SQLite's 0007_privacy; named alike so both lists stay
    # comparable (PostgreSQL had no 0004-0006).
    for statement in privacy_schema("BIGSERIAL PRIMARY KEY", "BYTEA", "BIGINT"):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO privacy_state (id, pepper, generation) VALUES (1, ?, 0)", (new_pepper(),)
    )
    copy_profile_emails(conn)


def _v9_consent(conn: Adapter) -> None:
    # Messages not sent for want of consent are counted apart (SQLite's 0009 too).
    conn.execute("ALTER TABLE rollup_deliveries ADD COLUMN no_consent BIGINT NOT NULL DEFAULT 0")


def _v10_reports(conn: Adapter) -> None:
    # What the tools did (issue 20), as SQLite's 0010_reports.
    for statement in reports_schema("BIGSERIAL PRIMARY KEY", "BIGINT"):
        conn.execute(statement)


def _v11_blocked_position(conn: Adapter) -> None:
    # Where a blocked message arrived among the logged ones (SQLite's 0011 too).
    conn.execute("ALTER TABLE blocked ADD COLUMN log_position BIGINT")


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("0001_initial", _v1),
    ("0002_blocked_codes", _v2_blocked_codes),
    ("0003_captured", _v3_captured),
    ("0007_privacy", _v7_privacy),
    ("0009_consent", _v9_consent),
    ("0010_reports", _v10_reports),
    ("0011_blocked_position", _v11_blocked_position),
)


def migrate(conn: Adapter) -> list[str]:
    """Apply what is missing; several processes starting at once wait on one advisory lock."""
    conn.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_ms BIGINT NOT NULL)"
        )
        applied = []
        for name, migration in MIGRATIONS:
            with conn.raw.transaction():
                done = conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone()
                if done is None:
                    migration(conn)
                    conn.execute(
                        "INSERT INTO migrations (name, applied_ms) VALUES (?, ?)",
                        (name, now_ms()),
                    )
                    applied.append(name)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))
