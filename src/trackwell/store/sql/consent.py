"""Consent reads for the router: people's consent trait, and held messages looked at again.

A person is named as the router knows them, by user id or anonymous id; an anonymous id tied to
a user (`identities`) reads that user's profile. Both reads are bounded: by the batch's people,
and by a `limit` of held rows whose next check (`next_ms`) is due, over the `deliveries_due`
index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from trackwell.store.sql.dialect import Conn

CHUNK = 500  # placeholders per statement, well under both backends' limits


def consent_traits(conn: Conn, people: Sequence[str], trait: str) -> dict[str, Any]:
    """person -> their profile's `trait` value, for those whose profile holds it."""
    wanted = sorted(set(people))
    owner: dict[str, str] = {person: person for person in wanted}
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(part))
        for anonymous_id, user_id in conn.execute(
            f"SELECT anonymous_id, user_id FROM identities WHERE anonymous_id IN ({marks})", part
        ):
            owner[anonymous_id] = user_id
    users = sorted(set(owner.values()))
    found: dict[str, Any] = {}
    for start in range(0, len(users), CHUNK):
        part = users[start : start + CHUNK]
        marks = ",".join("?" * len(part))
        for user_id, traits in conn.execute(
            f"SELECT user_id, traits FROM profiles WHERE user_id IN ({marks})", part
        ):
            value = orjson.loads(traits).get(trait)
            if value is not None:
                found[user_id] = value
    return {person: found[user] for person, user in owner.items() if user in found}


def has_held(conn: Conn, destination: str) -> bool:
    """Whether the destination has any held message (one index probe)."""
    row = conn.execute(
        "SELECT 1 FROM deliveries WHERE destination = ? AND status = 'held' LIMIT 1",
        (destination,),
    ).fetchone()
    return row is not None


def release_held(
    conn: Conn,
    destination: str,
    trait: str | None,
    now_ms: int,
    *,
    recheck_ms: int,
    limit: int,
    every: bool = False,
) -> int:
    """Held messages whose check is due: due for delivery once the person's profile holds the
    consent trait (the router decides them again), else checked again `recheck_ms` later.
    `every`: all of them, due or not (nothing is held here any more)."""
    # `every`: nothing is held here any more, so none waits for its next check.
    due = (1 << 62) if every else now_ms
    rows = conn.execute(
        "SELECT seq, person FROM deliveries WHERE destination = ? AND status = 'held'"
        " AND next_ms <= ? ORDER BY next_ms, seq LIMIT ?",
        (destination, due, limit),
    ).fetchall()
    if not rows:
        return 0
    people = [person for _, person in rows if person is not None]
    known = consent_traits(conn, people, trait) if trait is not None and people else {}
    released = [seq for seq, person in rows if every or person in known]
    later = [seq for seq, person in rows if not every and person not in known]
    detail = "no longer held for consent" if every else "consent information arrived"
    if released:
        conn.executemany(
            "UPDATE deliveries SET status = 'retry', next_ms = ?, updated_ms = ?"
            " WHERE destination = ? AND seq = ?",
            [(now_ms, now_ms, destination, seq) for seq in released],
        )
        conn.executemany(
            "INSERT INTO delivery_history (destination, seq, status, at_ms, detail)"
            " VALUES (?, ?, 'released', ?, ?)",
            [(destination, seq, now_ms, detail) for seq in released],
        )
    if later:
        conn.executemany(
            "UPDATE deliveries SET next_ms = ? WHERE destination = ? AND seq = ?",
            [(now_ms + recheck_ms, destination, seq) for seq in later],
        )
    return len(released)
