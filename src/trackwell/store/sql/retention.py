"""Retention: remove log and blocked rows received before a cut-off, a bounded step at a time.

PostgreSQL's log is partitioned by day of receipt, so whole days are detached and dropped (no
DELETE, no vacuum debt). SQLite's log is one table keyed by `seq`, whose order follows arrival:
the first position to keep is found by a binary search over the key (a few dozen index look-ups,
never a scan), and everything before it is deleted in ranges of the key, `CHUNK_ROWS` positions
per transaction, pausing between transactions so a writer waiting for the lock gets it. The
blocked table is cut the same way on both backends (its key, `id`, follows arrival too).

What points into removed log rows goes with them: the queues' exceptions (`deliveries`: retry,
waiting, dead, captured) and the delivery history. A destination's cursor needs nothing: it only
says that everything up to it is settled, and positions are never handed out twice
(`Dialect.keep_seqs_above`). Profiles, identities, merges and rollups stay (counts and the people
themselves are not the log), and so do the dedup tables, which leave on their own schedule.
The tools' outcome reports follow the log's retention, by their own arrival time (through their
`received_ms` index, `chunk` rows per transaction).

A cut-off is the start of a UTC day, so both backends remove the same rows. Because a hash hit
in the dedup window is confirmed against its log row, the log must outlive the window: a shorter
log retention would let a late retry of a removed message in again, and is refused.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from trackwell.core.time import DAY_MS
from trackwell.store.base import RetentionReport, check_retention
from trackwell.store.sql.dialect import Conn, Database, Dialect

# Positions of the key removed per transaction: a few tens of milliseconds of SQLite's one writer.
CHUNK_ROWS = 5_000
# After each transaction the pass waits as long as the transaction took (at least this long), so
# retention takes at most about half of the write lock's time and waiting writers get their turn.
MIN_PAUSE_S = 0.005


@dataclass(frozen=True, slots=True)
class Cut:
    """Remove the rows of `table` whose `key` is below `below` (found for `cutoff_ms`)."""

    table: str
    key: str
    cutoff_ms: int
    below: int | None  # None: nothing older than the cut-off


def cutoff_ms(days: int, now_ms: int) -> int:
    """The start of the UTC day `days` days before today's: rows received before it go."""
    return (now_ms // DAY_MS - days) * DAY_MS


def apply(
    db: Database,
    dialect: Dialect,
    *,
    log_days: int | None,
    blocked_days: int | None,
    dedup_window_days: int,
    now_ms: int,
    dry_run: bool = False,
    chunk: int = CHUNK_ROWS,
) -> RetentionReport:
    """One retention pass over the log and the blocked table (see the module's docstring)."""
    check_retention(log_days, blocked_days, dedup_window_days=dedup_window_days)
    log_cut = cutoff_ms(log_days, now_ms) if log_days is not None else None
    blocked_cut = cutoff_ms(blocked_days, now_ms) if blocked_days is not None else None
    log_rows = delivery_rows = blocked_rows = 0
    dropped: tuple[str, ...] = ()
    if log_cut is not None:
        with db.read() as conn:
            partitions = dialect.log_partitions(conn)
        if partitions is None:
            log_rows, delivery_rows = _cut_log(db, dialect, log_cut, dry_run, chunk)
        else:
            dropped, log_rows, delivery_rows = _drop_days(
                db, dialect, partitions, log_cut, dry_run, chunk
            )
    report_rows = 0
    if log_cut is not None:
        report_rows = _cut_reports(db, log_cut, dry_run, chunk)
    if blocked_cut is not None:
        with db.read() as conn:
            cut = find_cut(conn, "blocked", "id", blocked_cut)
        blocked_rows = _count(db, cut) if dry_run else _delete_ranges(db, dialect, cut, chunk)[0]
    return RetentionReport(
        log_cutoff_ms=log_cut,
        blocked_cutoff_ms=blocked_cut,
        log_rows=log_rows,
        blocked_rows=blocked_rows,
        partitions_dropped=dropped,
        delivery_rows=delivery_rows,
        report_rows=report_rows,
        dry_run=dry_run,
    )


def find_cut(conn: Conn, table: str, key: str, cutoff: int) -> Cut:
    """The first key to keep: a binary search over the key's range, each step one index look-up
    (the first row at or after a position), assuming arrival order follows the key.

    Invariant: the row found from `low` was received before the cut-off, the one from `high`
    (or the end of the table) not; when they meet, every key below `high` goes."""
    low, top = conn.execute(f"SELECT min({key}), max({key}) FROM {table}").fetchone()
    if low is None or _kept(conn, table, key, low, cutoff):
        return Cut(table, key, cutoff, None)
    high = int(top) + 1
    low = int(low)
    while high - low > 1:
        middle = (low + high) // 2
        if _kept(conn, table, key, middle, cutoff):
            high = middle
        else:
            low = middle
    return Cut(table, key, cutoff, high)


def _kept(conn: Conn, table: str, key: str, position: int, cutoff: int) -> bool:
    """Whether the first row at or after `position` was received at or after the cut-off (true
    past the end of the table)."""
    row = conn.execute(
        f"SELECT received_ms FROM {table} WHERE {key} >= ? ORDER BY {key} LIMIT 1", (position,)
    ).fetchone()
    return row is None or int(row[0]) >= cutoff


def _cut_log(
    db: Database, dialect: Dialect, cutoff: int, dry_run: bool, chunk: int
) -> tuple[int, int]:
    """The one-table log (SQLite): (log rows, delivery rows) removed, or counted in a dry run."""
    with db.read() as conn:
        cut = find_cut(conn, "log", "seq", cutoff)
    if dry_run:
        if cut.below is None:
            return 0, 0
        rows = _count(db, cut)
        with db.read() as conn:
            return rows, _count_dependents(conn, None, cut.below, None)
    return _delete_ranges(db, dialect, cut, chunk)


def _delete_ranges(db: Database, dialect: Dialect, cut: Cut, chunk: int) -> tuple[int, int]:
    """Delete the rows below the cut, `chunk` positions of the key per transaction, oldest
    first; for the log, with what points into each range. (rows, delivery rows) removed."""
    rows = dependents = 0
    if cut.below is None:
        return rows, dependents
    while True:
        started = time.monotonic()
        with db.write() as conn:
            first = conn.execute(f"SELECT min({cut.key}) FROM {cut.table}").fetchone()[0]
            if first is None or first >= cut.below:
                break
            low, high = int(first), min(int(first) + chunk, cut.below)
            if cut.table == "log":
                dependents += _delete_dependents(conn, low, high, None)
                dialect.keep_seqs_above(conn, high - 1)
            rows += conn.execute(
                f"DELETE FROM {cut.table} WHERE {cut.key} >= ? AND {cut.key} < ?", (low, high)
            ).rowcount
        time.sleep(max(time.monotonic() - started, MIN_PAUSE_S))
    return rows, dependents


def _drop_days(
    db: Database,
    dialect: Dialect,
    partitions: dict[int, str],
    cutoff: int,
    dry_run: bool,
    chunk: int,
) -> tuple[tuple[str, ...], int, int]:
    """The partitioned log (PostgreSQL): each day wholly before the cut-off is dropped after
    what points into it (in bounded steps); (partitions, log rows, delivery rows).

    A day's rows are read through the log with the day's bounds of `received_ms` (the partition
    key, so only that partition is read), never by the partition's name: another process's pass
    may drop it meanwhile, and then there is simply nothing left to read."""
    dropped: list[str] = []
    rows = dependents = 0
    for day, name in sorted(partitions.items()):
        if (day + 1) * DAY_MS > cutoff:
            break
        with db.read() as conn:
            # Both ends from the partition's index on seq: no scan of the day.
            low, high = conn.execute(
                "SELECT min(seq), max(seq) FROM log WHERE received_ms >= ? AND received_ms < ?",
                (day * DAY_MS, (day + 1) * DAY_MS),
            ).fetchone()
        count = 0
        if low is not None:
            count, cleared = _walk_day(db, day, int(low), int(high) + 1, chunk, dry_run)
            dependents += cleared
        if dry_run:
            dropped.append(name)
            rows += count
            continue
        with db.write() as conn:
            # Touching no row here: a router's transaction may hold a queue row and wait for
            # the log, and the detach waits for it; holding a row too could make a cycle.
            if dialect.drop_log_partition(conn, name):
                dropped.append(name)
                rows += count
        if low is not None:
            with db.write() as conn:
                # An ack may have recorded a retry of one of its rows since the clearing above.
                dependents += _delete_orphans(conn, int(low), int(high) + 1)
    return tuple(dropped), rows, dependents


def _walk_day(
    db: Database, day: int, low: int, high: int, chunk: int, dry_run: bool
) -> tuple[int, int]:
    """Over one day's positions, `chunk` at a time (one transaction each): count its rows, and
    remove (or, in a dry run, count) what points into them; (rows, delivery rows)."""
    rows = dependents = 0
    for start in range(low, high, chunk):
        began = time.monotonic()
        end = min(start + chunk, high)
        with db.read() if dry_run else db.write() as conn:
            rows += int(
                conn.execute(
                    "SELECT count(*) FROM log WHERE received_ms >= ? AND received_ms < ?"
                    " AND seq >= ? AND seq < ?",
                    (day * DAY_MS, (day + 1) * DAY_MS, start, end),
                ).fetchone()[0]
            )
            if dry_run:
                dependents += _count_dependents(conn, start, end, day)
                continue
            dependents += _delete_dependents(conn, start, end, day)
        time.sleep(max(time.monotonic() - began, MIN_PAUSE_S))
    return rows, dependents


def _destinations(conn: Conn) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM destinations ORDER BY name")]


def _delete_dependents(conn: Conn, low: int, high: int, day: int | None) -> int:
    """Delete queue exceptions and delivery history of the log positions in [low, high) (of
    one day's rows only, when given: positions of neighbouring days may interleave)."""
    inside, params = _inside(day, low, high)
    removed = 0
    for destination in _destinations(conn):
        # The key (destination, seq) makes each a range look-up.
        removed += conn.execute(
            f"DELETE FROM deliveries WHERE destination = ? AND seq >= ? AND seq < ?{inside}",
            (destination, low, high, *params),
        ).rowcount
    removed += conn.execute(
        f"DELETE FROM delivery_history WHERE seq >= ? AND seq < ?{inside}",
        (low, high, *params),
    ).rowcount
    return removed


def _delete_orphans(conn: Conn, low: int, high: int) -> int:
    """Delete queue exceptions and delivery history in [low, high) whose log row is gone."""
    orphan = " AND NOT EXISTS (SELECT 1 FROM log WHERE log.seq = {table}.seq)"
    removed = 0
    for destination in _destinations(conn):
        removed += conn.execute(
            "DELETE FROM deliveries WHERE destination = ? AND seq >= ? AND seq < ?"
            + orphan.format(table="deliveries"),
            (destination, low, high),
        ).rowcount
    removed += conn.execute(
        "DELETE FROM delivery_history WHERE seq >= ? AND seq < ?"
        + orphan.format(table="delivery_history"),
        (low, high),
    ).rowcount
    return removed


def _count_dependents(conn: Conn, low: int | None, high: int, day: int | None) -> int:
    """What `_delete_dependents` would remove (from the start of the log when `low` is None)."""
    start = -(2**62) if low is None else low
    inside, params = _inside(day, start, high)
    counted = 0
    for table in ("deliveries", "delivery_history"):
        counted += int(
            conn.execute(
                f"SELECT count(*) FROM {table} WHERE seq >= ? AND seq < ?{inside}",
                (start, high, *params),
            ).fetchone()[0]
        )
    return counted


def _inside(day: int | None, low: int, high: int) -> tuple[str, Sequence[int]]:
    """A condition keeping a statement to the positions of one day's rows (none: every row)."""
    if day is None:
        return "", ()
    return (
        " AND seq IN (SELECT seq FROM log WHERE received_ms >= ? AND received_ms < ?"
        " AND seq >= ? AND seq < ?)",
        (day * DAY_MS, (day + 1) * DAY_MS, low, high),
    )


def _cut_reports(db: Database, cutoff: int, dry_run: bool, chunk: int) -> int:
    """Remove (or count, in a dry run) the outcome reports received before the cut-off."""
    if dry_run:
        with db.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM reports WHERE received_ms < ?", (cutoff,)
            ).fetchone()
        return int(row[0])
    removed = 0
    while True:
        started = time.monotonic()
        with db.write() as conn:
            gone = conn.execute(
                "DELETE FROM reports WHERE id IN"
                " (SELECT id FROM reports WHERE received_ms < ? LIMIT ?)",
                (cutoff, chunk),
            ).rowcount
        removed += max(gone, 0)
        if gone < chunk:
            return removed
        time.sleep(max(time.monotonic() - started, MIN_PAUSE_S))


def _count(db: Database, cut: Cut) -> int:
    """How many rows are below the cut (a dry run)."""
    if cut.below is None:
        return 0
    with db.read() as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {cut.table} WHERE {cut.key} < ?", (cut.below,)
        ).fetchone()
    return int(row[0])
