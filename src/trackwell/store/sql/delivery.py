"""Delivery queues over the log: a cursor per destination plus a small table of exceptions.

The happy path writes nothing per message: a destination's cursor says "everything up to here
is settled" (delivered or filtered out). Only messages that need attention get a row in
`deliveries`: `retry` (with the next attempt time), `dead`, `captured` (recorded by a destination
in capture mode and never sent: settled, but not delivered, and replayable), or `waiting` behind
an earlier message of the same person that is retrying, so one person's messages stay in order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from trackwell.core.delivery import DeliveryFilter
from trackwell.store.base import Delivery, DeliveryResult, DeliveryStats
from trackwell.store.sql.dialect import Conn, storable_text
from trackwell.store.sql.owners import owner_is_gone
from trackwell.store.sql.rollups import DeliveryCount, add_deliveries

log = logging.getLogger("trackwell.store.delivery")

# How many log rows one claim may look at past the cursor (filtered-out rows cost a look too).
SCAN_FACTOR = 4
# A router that stops claiming for this long loses its destination to another process
# (TRACKWELL_QUEUE_LEASE_MS tunes it: shorter fails over faster, longer tolerates GC pauses).
LEASE_MS = int(os.environ.get("TRACKWELL_QUEUE_LEASE_MS", "30000"))
# No retry is ever scheduled further ahead than this (Retry-After is capped at an hour, backoff
# at ten minutes): one that is, was scheduled by a clock that has since stepped back, and is due.
FURTHEST_RETRY_MS = 3_660_000


@dataclass
class ClaimState:
    """What one destination has claimed and not yet acked (in this process)."""

    owner: str = ""
    high: int = 0  # highest log seq handed out from the new-message scan
    fresh: dict[int, str | None] = field(default_factory=dict)  # seq -> person, new messages
    retries: dict[int, str | None] = field(default_factory=dict)  # seq -> person, retried ones


def filter_sql(flt: DeliveryFilter) -> tuple[str, list[Any]]:
    """A WHERE fragment over `log` that matches what the filter accepts."""
    clauses: list[str] = []
    params: list[Any] = []
    if flt.types is not None:
        clauses.append(f"type IN ({','.join('?' * len(flt.types))})")
        params.extend(sorted(flt.types))
    if flt.events is not None:
        clauses.append(f"(type != 'track' OR name IN ({','.join('?' * len(flt.events))}))")
        params.extend(sorted(flt.events))
    if flt.exclude_events:
        clauses.append(
            f"(type != 'track' OR name NOT IN ({','.join('?' * len(flt.exclude_events))}))"
        )
        params.extend(sorted(flt.exclude_events))
    return (" AND ".join(clauses) or "1 = 1"), params


def load_filter(conn: Conn, destination: str) -> tuple[int, DeliveryFilter]:
    """A destination's cursor and filter; raises KeyError when it is not registered."""
    row = conn.execute(
        "SELECT cursor, filter FROM destinations WHERE name = ?", (destination,)
    ).fetchone()
    if row is None:
        raise KeyError(destination)
    return row[0], DeliveryFilter.from_dict(orjson.loads(row[1]))


def _person(user_id: str | None, anonymous_id: str | None) -> str | None:
    return user_id or anonymous_id


def take_lease(conn: Conn, state: ClaimState, destination: str, now_ms: int) -> bool:
    """Own the destination's queue (or keep owning it); False while another process does."""
    row = conn.execute(
        "SELECT owner, lease_ms, cursor FROM destinations WHERE name = ?", (destination,)
    ).fetchone()
    if row is None:
        raise KeyError(destination)
    owner, lease_ms, cursor = row
    if owner not in (None, state.owner) and lease_ms > now_ms:
        if not owner_is_gone(owner):
            return False
        # Its holder was a process of this machine that has died: no need to wait out the lease.
        log.warning(
            "took over a delivery queue whose router is no longer running",
            extra={"fields": {"destination": destination}},
        )
    if owner != state.owner:
        # Newly owned (first claim, or taken over from a dead owner): start from the cursor.
        state.fresh.clear()
        state.retries.clear()
        state.high = cursor
    conn.execute(
        "UPDATE destinations SET owner = ?, lease_ms = ? WHERE name = ?",
        (state.owner, now_ms + LEASE_MS, destination),
    )
    return True


def give_up_lease(conn: Conn, state: ClaimState, destination: str) -> None:
    """Let another process take the queue at once (a router stopping cleanly)."""
    conn.execute(
        "UPDATE destinations SET owner = NULL, lease_ms = 0 WHERE name = ? AND owner = ?",
        (destination, state.owner),
    )


def claim(
    conn: Conn, state: ClaimState, destination: str, limit: int, now_ms: int
) -> list[Delivery]:
    """Due retries first, then new messages after the cursor; inside the caller's transaction."""
    if not take_lease(conn, state, destination, now_ms):
        return []
    cursor, flt = load_filter(conn, destination)
    state.high = max(state.high, cursor)
    claimed: list[Delivery] = []
    busy = set(state.retries)
    due = conn.execute(
        "SELECT d.seq, d.attempts, d.person, l.body FROM deliveries d JOIN log l ON l.seq = d.seq"
        " WHERE d.destination = ? AND d.status = 'retry' AND (d.next_ms <= ? OR d.next_ms > ?)"
        " ORDER BY d.seq LIMIT ?",
        (destination, now_ms, now_ms + FURTHEST_RETRY_MS, limit),
    ).fetchall()
    # Each retry has its own jittered backoff, so a person's later message can come due before
    # an earlier one: it is taken only once every earlier unsettled message of that person is.
    unsettled = _unsettled(conn, destination, {row[2] for row in due if row[2] is not None})
    held: set[str] = set()
    for seq, attempts, person, body in due:
        if person is not None:
            earlier = unsettled.get(person)
            if person in held or seq in busy or (earlier and earlier[0] != seq):
                held.add(person)
                continue
            if earlier:
                earlier.pop(0)
        elif seq in busy:
            continue
        state.retries[seq] = person
        claimed.append(Delivery(destination, seq, orjson.loads(body), attempts))
    if len(claimed) >= limit:
        return claimed
    blocked_people = _blocked_people(conn, destination) | set(state.retries.values())
    # The highest position written so far, read BEFORE the scan: every row up to it is visible
    # to the scan (positions are reserved in commit order), so when the scan looks at every
    # matching row, the cursor may pass the rest up to here. Read after the scan, it could name
    # a batch another writer committed in between (each statement sees the latest commits on
    # PostgreSQL), and the cursor would pass that batch without handing it out: lost.
    last = conn.execute("SELECT max(seq) FROM log").fetchone()[0] or 0
    where, params = filter_sql(flt)
    wanted = (limit - len(claimed)) * SCAN_FACTOR
    rows = conn.execute(
        f"SELECT seq, type, user_id, anonymous_id, body FROM log WHERE seq > ? AND {where} ORDER BY seq LIMIT ?",
        (state.high, *params, wanted),
    ).fetchall()
    waiting: list[tuple[Any, ...]] = []
    processed = 0
    identified: set[str] = set()
    for seq, type_, user_id, anonymous_id, body in rows:
        person = _person(user_id, anonymous_id)
        if len(claimed) >= limit or (person is not None and person in identified):
            # A person's messages after their identify go in a later batch: if the identify
            # has to be retried, they wait behind it instead of reaching the tool first.
            break
        processed += 1
        if type_ == "identify" and person is not None:
            identified.add(person)
        state.high = seq
        if person is not None and person in blocked_people:
            waiting.append((destination, seq, "waiting", 0, None, person, None, now_ms))
            continue
        state.fresh[seq] = person
        claimed.append(Delivery(destination, seq, orjson.loads(body), 0))
    if processed == len(rows) < wanted:
        # Every matching row was looked at: the rows up to `last` that the filter does not take
        # are settled too, so the cursor may pass them.
        state.high = max(state.high, last)
    if waiting:
        conn.executemany(
            "INSERT INTO deliveries (destination, seq, status, attempts, next_ms, person,"
            " last_error, updated_ms) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            waiting,
        )
        _history(
            conn,
            destination,
            [(w[1], "waiting", "behind an earlier message of the same person") for w in waiting],
            now_ms,
        )
    _advance(conn, state, destination, 0)
    return claimed


def _unsettled(conn: Conn, destination: str, people: set[str]) -> dict[str, list[int]]:
    """person -> seqs of their messages still retrying, oldest first (a waiting message is
    always behind one of these, and becomes due only when they have all settled)."""
    found: dict[str, list[int]] = {}
    ordered = sorted(people)
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        marks = ",".join("?" * len(part))
        for person, seq in conn.execute(
            "SELECT person, seq FROM deliveries WHERE destination = ? AND status = 'retry'"
            f" AND person IN ({marks}) ORDER BY seq",
            (destination, *part),
        ):
            found.setdefault(person, []).append(seq)
    return found


def _blocked_people(conn: Conn, destination: str) -> set[str]:
    rows = conn.execute(
        "SELECT DISTINCT person FROM deliveries WHERE destination = ? AND status IN ('retry', 'waiting')"
        " AND person IS NOT NULL",
        (destination,),
    )
    return {row[0] for row in rows}


def ack(
    conn: Conn,
    state: ClaimState,
    destination: str,
    results: Sequence[DeliveryResult],
    now_ms: int,
) -> None:
    """Record outcomes, release people whose blocking message settled, advance the cursor."""
    owner = conn.execute("SELECT owner FROM destinations WHERE name = ?", (destination,)).fetchone()
    if owner is None or owner[0] != state.owner:
        # The lease passed to another process, which re-sends these (ids keep it idempotent).
        state.fresh.clear()
        state.retries.clear()
        return
    delivered = 0
    released: set[str] = set()
    history: list[tuple[int, str, str | None]] = []
    erased = _erased(conn, [r.seq for r in results if r.outcome != "delivered"])
    for result in results:
        seq = result.seq
        fresh = seq in state.fresh
        person = state.fresh.pop(seq) if fresh else state.retries.pop(seq, None)
        if seq in erased:
            # Its person was erased while it was out: no queue row may bring their id back.
            continue
        was_retry = not fresh and _has_row(conn, destination, seq)
        if result.outcome == "delivered":
            delivered += 1
            if was_retry:
                conn.execute(
                    "DELETE FROM deliveries WHERE destination = ? AND seq = ?", (destination, seq)
                )
                history.append((seq, "delivered", None))
                if person:
                    released.add(person)
            continue
        person = person or _log_person(conn, seq)
        conn.execute(
            "INSERT INTO deliveries (destination, seq, status, attempts, next_ms, person, last_error,"
            " updated_ms) VALUES (?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (destination, seq) DO UPDATE SET"
            " status = excluded.status, attempts = deliveries.attempts + ?, next_ms = excluded.next_ms,"
            " last_error = excluded.last_error, updated_ms = excluded.updated_ms",
            (
                destination,
                seq,
                result.outcome,
                result.next_attempt_ms,
                person,
                storable_text(result.error),  # a tool's answer may quote anything
                now_ms,
                1 if result.counted else 0,
            ),
        )
        history.append((seq, result.outcome, storable_text(result.error)))
        if result.outcome in ("dead", "captured") and person:
            released.add(person)  # a settled message never holds the others back
    for person in released:
        _release_person(conn, destination, person, now_ms)
    _history(conn, destination, history, now_ms)
    _advance(conn, state, destination, delivered)
    _roll_up(conn, destination, results, now_ms)


def pull_forward(
    conn: Conn, destination: str, now_ms: int, window_ms: int, limit: int | None, group: int = 1
) -> list[int]:
    """Bring retries scheduled for later forward, oldest first, spread evenly over the next
    `window_ms` `group` at a time (the first group at once); returns their seqs.

    With a `limit` (a probe of a tool that looks down) nothing moves while a retry is already
    due: the next claim takes that one.
    """
    if limit is not None:
        due = conn.execute(
            "SELECT 1 FROM deliveries WHERE destination = ? AND status = 'retry' AND next_ms <= ?"
            " LIMIT 1",
            (destination, now_ms),
        ).fetchone()
        if due is not None:
            return []
    query = (
        "SELECT seq FROM deliveries WHERE destination = ? AND status = 'retry' AND next_ms > ?"
        " ORDER BY seq"
    )
    params: list[Any] = [destination, now_ms]
    if limit is not None:
        query += " LIMIT ?"
        params.append(limit)
    seqs = [row[0] for row in conn.execute(query, params)]
    if seqs:
        group = max(group, 1)
        step = window_ms / -(-len(seqs) // group)  # per group; the groups fill the window
        conn.executemany(
            "UPDATE deliveries SET next_ms = ?, updated_ms = ? WHERE destination = ? AND seq = ?",
            [
                (now_ms + int((i // group) * step), now_ms, destination, seq)
                for i, seq in enumerate(seqs)
            ],
        )
    return seqs


def _roll_up(conn: Conn, destination: str, results: Sequence[DeliveryResult], now_ms: int) -> None:
    seqs = [r.seq for r in results]
    meta: dict[int, tuple[str, int, int]] = {}
    for start in range(0, len(seqs), 500):
        part = seqs[start : start + 500]
        marks = ",".join("?" * len(part))
        for seq, type_, name, action_ms, received_ms in conn.execute(
            f"SELECT seq, type, name, timestamp_ms, received_ms FROM log WHERE seq IN ({marks})",
            part,
        ):
            meta[seq] = (name or type_, action_ms, received_ms)
    add_deliveries(
        conn,
        destination,
        [
            DeliveryCount(meta[r.seq][0], r.outcome, now_ms, meta[r.seq][1], meta[r.seq][2])
            for r in results
            if r.seq in meta
        ],
    )


def _erased(conn: Conn, seqs: Sequence[int]) -> set[int]:
    """Of these log positions, the ones no longer in the log (erased since they were claimed)."""
    present: set[int] = set()
    for start in range(0, len(seqs), 500):
        part = seqs[start : start + 500]
        query = f"SELECT seq FROM log WHERE seq IN ({','.join('?' * len(part))})"
        present.update(row[0] for row in conn.execute(query, part))
    return set(seqs) - present


def _has_row(conn: Conn, destination: str, seq: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM deliveries WHERE destination = ? AND seq = ?", (destination, seq)
    ).fetchone()
    return row is not None


def _log_person(conn: Conn, seq: int) -> str | None:
    row = conn.execute("SELECT user_id, anonymous_id FROM log WHERE seq = ?", (seq,)).fetchone()
    return _person(row[0], row[1]) if row else None


def _release_person(conn: Conn, destination: str, person: str, now_ms: int) -> None:
    """When nothing of a person is retrying any more, their waiting messages become due."""
    still = conn.execute(
        "SELECT 1 FROM deliveries WHERE destination = ? AND person = ? AND status = 'retry' LIMIT 1",
        (destination, person),
    ).fetchone()
    if still is None:
        conn.execute(
            "UPDATE deliveries SET status = 'retry', next_ms = ?, updated_ms = ?"
            " WHERE destination = ? AND person = ? AND status = 'waiting'",
            (now_ms, now_ms, destination, person),
        )


def _advance(conn: Conn, state: ClaimState, destination: str, delivered: int) -> None:
    # Everything below the oldest unacked new message is settled.
    position = min(state.fresh) - 1 if state.fresh else state.high
    conn.execute(
        "UPDATE destinations SET cursor = CASE WHEN cursor > ? THEN cursor ELSE ? END,"
        " delivered = delivered + ? WHERE name = ?",
        (position, position, delivered, destination),
    )


def _history(
    conn: Conn, destination: str, rows: list[tuple[int, str, str | None]], now_ms: int
) -> None:
    if rows:
        conn.executemany(
            "INSERT INTO delivery_history (destination, seq, status, at_ms, detail) VALUES (?, ?, ?, ?, ?)",
            [(destination, seq, status, now_ms, detail) for seq, status, detail in rows],
        )


def stats(conn: Conn, claims: dict[str, ClaimState], now_ms: int) -> list[DeliveryStats]:
    """Per destination counts for `trackwell deliveries`."""
    out = []
    for name, cursor, filter_json, delivered in conn.execute(
        "SELECT name, cursor, filter, delivered FROM destinations ORDER BY name"
    ).fetchall():
        where, params = filter_sql(DeliveryFilter.from_dict(orjson.loads(filter_json)))
        pending, oldest = conn.execute(
            f"SELECT count(*), min(received_ms) FROM log WHERE seq > ? AND {where}",
            (cursor, *params),
        ).fetchone()
        counts = dict(
            conn.execute(
                "SELECT status, count(*) FROM deliveries WHERE destination = ? GROUP BY status",
                (name,),
            ).fetchall()
        )
        retry_oldest = conn.execute(
            "SELECT min(l.received_ms) FROM deliveries d JOIN log l ON l.seq = d.seq"
            " WHERE d.destination = ? AND d.status IN ('retry', 'waiting')",
            (name,),
        ).fetchone()[0]
        last_error = conn.execute(
            "SELECT last_error FROM deliveries WHERE destination = ? AND last_error IS NOT NULL"
            " AND status != 'captured' ORDER BY updated_ms DESC LIMIT 1",
            (name,),
        ).fetchone()
        state = claims.get(name)
        in_flight = len(state.fresh) + len(state.retries) if state else 0
        oldest_values = [v for v in (oldest, retry_oldest) if v is not None]
        out.append(
            DeliveryStats(
                destination=name,
                pending=max(pending - (len(state.fresh) if state else 0), 0),
                in_flight=in_flight,
                delivered=delivered,
                retry=max(counts.get("retry", 0) - (len(state.retries) if state else 0), 0),
                dead=counts.get("dead", 0),
                captured=counts.get("captured", 0),
                waiting=counts.get("waiting", 0),
                oldest_pending_ms=now_ms - min(oldest_values) if oldest_values else None,
                last_error=last_error[0] if last_error else None,
            )
        )
    return out


def requeue(
    conn: Conn,
    destination: str,
    *,
    dead_only: bool,
    captured_only: bool = False,
    since_ms: int | None,
    message_id: str | None,
    now_ms: int,
) -> int:
    """Mark messages for re-delivery; returns how many were scheduled."""
    _, flt = load_filter(conn, destination)  # KeyError for an unknown destination
    where, filter_params = filter_sql(flt)
    statuses = [s for s, chosen in (("dead", dead_only), ("captured", captured_only)) if chosen]
    if statuses:
        marks = ",".join("?" * len(statuses))
        query = f"SELECT seq FROM deliveries WHERE destination = ? AND status IN ({marks})"
        params: list[Any] = [destination, *statuses]
        if since_ms is not None:
            query += " AND seq IN (SELECT seq FROM log WHERE received_ms >= ?)"
            params.append(since_ms)
        if message_id is not None:
            query += " AND seq IN (SELECT seq FROM log WHERE message_id = ?)"
            params.append(message_id)
        seqs = [row[0] for row in conn.execute(query, params)]
    else:
        # Replay only what this destination takes: its filter applies to history too.
        query = f"SELECT seq FROM log WHERE {where}"
        params = list(filter_params)
        if since_ms is not None:
            query += " AND received_ms >= ?"
            params.append(since_ms)
        if message_id is not None:
            query += " AND message_id = ?"
            params.append(message_id)
        seqs = [row[0] for row in conn.execute(query + " ORDER BY seq", params)]
    for seq in seqs:
        conn.execute(
            "INSERT INTO deliveries (destination, seq, status, attempts, next_ms, person, last_error,"
            " updated_ms) VALUES (?, ?, 'retry', 0, ?, ?, NULL, ?) ON CONFLICT (destination, seq)"
            " DO UPDATE SET status = 'retry', next_ms = excluded.next_ms, updated_ms = excluded.updated_ms",
            (destination, seq, now_ms, _log_person(conn, seq), now_ms),
        )
    _history(conn, destination, [(seq, "replay", None) for seq in seqs], now_ms)
    return len(seqs)
