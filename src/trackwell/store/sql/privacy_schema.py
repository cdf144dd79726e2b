"""The tables of migration `0007_privacy`, written once for SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from trackwell.core.privacy import normalise_email
from trackwell.store.sql.dialect import Conn

PEPPER_BYTES = 32


def new_pepper() -> bytes:
    """A store's own random key for identifier hashes, made once at migration."""
    return secrets.token_bytes(PEPPER_BYTES)


def privacy_schema(serial_key: str, blob: str, bigint: str) -> list[str]:
    """The statements of `0007_privacy`, given the backend's auto-numbered key, byte and
    64-bit integer types."""
    return [
        # One row: the pepper, and a counter every erase, suppress and unsuppress bumps, so a
        # writer reloads its cached marks only when they changed.
        f"CREATE TABLE privacy_state (id INTEGER PRIMARY KEY, pepper {blob} NOT NULL,"
        f" generation {bigint} NOT NULL)",
        # What outlives an erase: the keyed hash of each identifier, never the identifier.
        f"CREATE TABLE privacy_marks (hash TEXT PRIMARY KEY, kind TEXT NOT NULL,"
        f" request_id TEXT NOT NULL, created_ms {bigint} NOT NULL)",
        f"CREATE TABLE privacy_requests (id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
        f" created_ms {bigint} NOT NULL, actor TEXT NOT NULL, identifiers INTEGER NOT NULL,"
        f" erased TEXT NOT NULL)",
        "CREATE INDEX privacy_requests_created ON privacy_requests (created_ms)",
        # One row per request and destination; `identifiers` (the JSON of the Subject, which
        # the tools need) is set to NULL as soon as the job settles.
        f"CREATE TABLE privacy_jobs (request_id TEXT NOT NULL, destination TEXT NOT NULL,"
        f" kind TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
        f" next_ms {bigint} NOT NULL, updated_ms {bigint} NOT NULL, detail TEXT,"
        f" identifiers TEXT, PRIMARY KEY (request_id, destination))",
        "CREATE INDEX privacy_jobs_due ON privacy_jobs (destination, status, next_ms)",
        # A person's email trait, lower-cased and trimmed: `resolve` finds people by email
        # through this index instead of reading every profile's JSON.
        "CREATE TABLE profile_emails (user_id TEXT PRIMARY KEY, email TEXT NOT NULL)",
        "CREATE INDEX profile_emails_email ON profile_emails (email)",
        # Erasing deletes a person's queue rows by log position.
        "CREATE INDEX deliveries_seq ON deliveries (seq)",
        f"CREATE TABLE audit_log (id {serial_key}, at_ms {bigint} NOT NULL, actor TEXT NOT NULL,"
        f" action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE INDEX audit_log_action ON audit_log (action, id)",
    ]


def copy_profile_emails(conn: Conn) -> None:
    """Index the emails of the profiles a store already has (once, at migration). Parsed in
    Python on both backends: the same normalisation as the write path, and PostgreSQL's
    `::jsonb` would refuse a NUL escape the stored JSON text may hold."""
    rows = conn.execute("SELECT user_id, traits FROM profiles WHERE traits LIKE '%\"email\"%'")
    emails = [(user, email) for user, traits in rows.fetchall() if (email := profile_email(traits))]
    if emails:
        conn.executemany("INSERT INTO profile_emails (user_id, email) VALUES (?, ?)", emails)


def profile_email(traits_json: str | bytes) -> str | None:
    """The normalised email trait of a profile's stored traits, if it has one."""
    try:
        traits: Any = orjson.loads(traits_json)
    except orjson.JSONDecodeError:
        return None
    return trait_email(traits)


def trait_email(traits: Any) -> str | None:
    """The normalised `email` of a traits object, if it is non-empty text."""
    value = traits.get("email") if isinstance(traits, dict) else None
    if isinstance(value, str) and value.strip():
        return normalise_email(value)
    return None
