"""Bounded reads for browsing the store (the console's people, violations feed and dead letters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from trackwell.store.base import DeadLetter, DeliveryError, PersonRow, StoredMessage
from trackwell.store.sql.dialect import Conn

# Log reads look only at the newest rows (a window over the `seq` key, which is indexed), so a
# 10-million-row log costs the same as a small one; what falls outside the window is said so on
# the page.

# How many of the newest log rows the violations feed looks at (one range of the key, no scan).
LOG_WINDOW = 50_000
# How many of the newest blocked rows the violations feed looks at.
BLOCKED_WINDOW = 20_000
# How many of the newest log rows "recently active people" is drawn from.
PEOPLE_WINDOW = 3_000
HISTORY_WINDOW = 20_000


def _like(text: str) -> str:
    """`text` as a LIKE substring pattern (ESCAPE '\\'), wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _stored(row: Sequence[Any]) -> StoredMessage:
    seq, received, timestamp, verdict, violations, body = row
    return StoredMessage(
        seq,
        int(received),
        int(timestamp) if timestamp is not None else None,
        str(verdict),
        orjson.loads(violations) if violations else [],
        orjson.loads(bytes(body)) if body else {},
    )


def _newest(conn: Conn, table: str, key: str) -> int:
    row = conn.execute(f"SELECT max({key}) FROM {table}").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def log_size(conn: Conn) -> int:
    """The highest log position: an upper bound of the log's size, read from the key."""
    return _newest(conn, "log", "seq")


def recent_people(conn: Conn, limit: int = 50) -> list[PersonRow]:
    """People with the newest messages, anonymous visitors shown under their person once tied."""
    low = _newest(conn, "log", "seq") - PEOPLE_WINDOW
    rows = conn.execute(
        "SELECT user_id, anonymous_id, type, name, received_ms FROM log WHERE seq > ?"
        " ORDER BY seq DESC",
        (low,),
    ).fetchall()
    loose = sorted({r[1] for r in rows if r[0] is None and r[1] is not None})
    owners: dict[str, str] = {}
    for start in range(0, len(loose), 500):
        part = loose[start : start + 500]
        marks = ",".join("?" * len(part))
        owners.update(
            conn.execute(
                f"SELECT anonymous_id, user_id FROM identities WHERE anonymous_id IN ({marks})",
                part,
            ).fetchall()
        )
    found: dict[str, PersonRow] = {}
    for user_id, anonymous_id, type_, name, received in rows:
        key = user_id or owners.get(anonymous_id) or anonymous_id
        if key is None or key in found:
            continue
        anonymous = user_id is None and anonymous_id not in owners
        found[key] = PersonRow(key, anonymous, int(received), str(name or type_))
        if len(found) >= limit:
            break
    return list(found.values())


def find_people(conn: Conn, text: str, limit: int = 20) -> list[str]:
    """User ids whose traits hold `text` (an email, a name, any value): reads profiles, not the log."""
    needle = orjson.dumps(text).decode()[1:-1]  # as it appears inside the stored JSON
    if not needle:
        return []
    rows = conn.execute(
        "SELECT user_id FROM profiles WHERE traits LIKE ? ESCAPE '\\' LIMIT ?",
        (_like(needle), limit),
    ).fetchall()
    return [str(r[0]) for r in rows]


def stored_violations(
    conn: Conn, *, code: str | None = None, event: str | None = None, limit: int = 100
) -> list[StoredMessage]:
    """The newest messages with violations, logged or blocked, newest arrival first."""
    clauses, params = ["violations IS NOT NULL"], []
    if event is not None:
        clauses.append("name = ?")
        params.append(event)
    if code is not None:
        clauses.append("violations LIKE ? ESCAPE '\\'")
        params.append(_like(f'"code":"{code}"'))
    where = " AND ".join(clauses)
    low_log = _newest(conn, "log", "seq") - LOG_WINDOW
    low_blocked = _newest(conn, "blocked", "id") - BLOCKED_WINDOW
    logged = conn.execute(
        "SELECT seq, received_ms, timestamp_ms, verdict, violations, body FROM log"
        f" WHERE seq > ? AND {where} ORDER BY seq DESC LIMIT ?",
        (low_log, *params, limit),
    ).fetchall()
    blocked = conn.execute(
        "SELECT NULL, received_ms, timestamp_ms, 'blocked', violations, body FROM blocked"
        f" WHERE id > ? AND {where} ORDER BY id DESC LIMIT ?",
        (low_blocked, *params, limit),
    ).fetchall()
    rows = [_stored(r) for r in logged + blocked]
    if code is not None:  # LIKE narrowed it; this makes it exact
        rows = [r for r in rows if any(v.get("code") == code for v in r.violations)]
    return sorted(rows, key=lambda r: r.received_ms, reverse=True)[:limit]


def dead_letters(conn: Conn, destination: str, limit: int = 50) -> list[DeadLetter]:
    """A destination's dead messages, most recently failed first."""
    rows = conn.execute(
        "SELECT d.seq, l.message_id, l.type, l.name, l.user_id, l.anonymous_id, d.attempts,"
        " d.last_error, d.updated_ms FROM deliveries d JOIN log l ON l.seq = d.seq"
        " WHERE d.destination = ? AND d.status = 'dead' ORDER BY d.updated_ms DESC LIMIT ?",
        (destination, limit),
    ).fetchall()
    return [
        DeadLetter(
            int(seq),
            str(message_id),
            str(name or type_),
            user_id or anonymous_id,
            int(attempts),
            error,
            int(updated),
        )
        for seq, message_id, type_, name, user_id, anonymous_id, attempts, error, updated in rows
    ]


def delivery_errors(conn: Conn, destination: str, limit: int = 10) -> list[DeliveryError]:
    """A destination's newest failed attempts (retries and dead), from the delivery history."""
    low = _newest(conn, "delivery_history", "id") - HISTORY_WINDOW
    rows = conn.execute(
        "SELECT seq, status, at_ms, detail FROM delivery_history WHERE id > ?"
        " AND destination = ? AND status IN ('retry', 'dead') AND detail IS NOT NULL"
        " ORDER BY id DESC LIMIT ?",
        (low, destination, limit),
    ).fetchall()
    return [DeliveryError(int(s), str(st), int(at), str(d)) for s, st, at, d in rows]
