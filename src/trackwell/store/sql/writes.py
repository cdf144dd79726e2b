"""The write path: one transaction per batch for dedup, log, blocked, profiles and identities."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from trackwell.core.messages import NUL, NUL_MESSAGE, Message, encode
from trackwell.core.operations import CIO_ID_PREFIX, cio_id_of
from trackwell.core.time import DAY_MS, day_start, to_ms
from trackwell.core.violations import Violation
from trackwell.store.base import Checked, Written
from trackwell.store.identity import decide_merge
from trackwell.store.sql.dialect import Conn, Dialect, storable_text, value_rows
from trackwell.store.sql.marks import Marks, identifiers_of
from trackwell.store.sql.privacy_schema import trait_email
from trackwell.store.sql.rollups import Tally, prune_hours

ROLLUP_FLUSH_MS = 1_000
ROLLUP_FLUSH_KEYS = 20_000
# SQLite caps bound parameters per statement; stay well under the oldest default (999).
CHUNK = 500

# The columns `write_batch` inserts in bulk, with their types (PostgreSQL sends them as arrays).
LOG_COLUMNS = (
    ("seq", "bigint"), ("message_id", "text"), ("type", "text"), ("name", "text"),
    ("user_id", "text"), ("anonymous_id", "text"), ("timestamp_ms", "bigint"),
    ("received_ms", "bigint"), ("verdict", "text"), ("violations", "text"), ("body", "bytea"),
)  # fmt: skip
_LOG_ANONYMOUS = [name for name, _ in LOG_COLUMNS].index("anonymous_id")
DEDUP_COLUMNS = (("hash", "bigint"), ("seq", "bigint"))
PROFILE_COLUMNS = (
    ("user_id", "text"), ("traits", "text"), ("trait_times", "text"),
    ("first_seen_ms", "bigint"), ("last_seen_ms", "bigint"),
)  # fmt: skip


def message_hash(message_id: str) -> int:
    """A signed 64-bit hash of a messageId, the dedup key (collisions are confirmed in the log)."""
    return int.from_bytes(
        hashlib.blake2b(message_id.encode(), digest_size=8).digest(), "big", signed=True
    )


def dedup_table(day: int) -> str:
    """The name of one day's dedup table (day = days since the epoch, UTC)."""
    return "dedup_" + day_start(day).strftime("%Y%m%d")


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """Slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class DedupWindow:
    """The day tables that make up the dedup window, remembered between batches."""

    days: int
    dialect: Dialect
    tables: set[str] = field(default_factory=set)
    loaded: bool = False
    pruned_day: int = 0  # the day hour-level rollups were last pruned
    # Rollup counts are gathered over ROLLUP_FLUSH_MS of batches and then written in one go:
    # with many event names, an upsert per name per batch would cost a quarter of ingest.
    pending: Tally = field(default_factory=Tally)
    flushed_ms: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: set[int] = field(default_factory=set)  # days whose tables are committed

    def add_counts(self, conn: Conn, tally: Tally, now_ms: int) -> None:
        """Keep a batch's counts; write them all (in this transaction) once a second has passed."""
        with self.lock:
            self.pending.merge(tally)
            if now_ms - self.flushed_ms < ROLLUP_FLUSH_MS and len(self.pending) < ROLLUP_FLUSH_KEYS:
                return
            pending, self.pending, self.flushed_ms = self.pending, Tally(), now_ms
        pending.flush(conn)

    def take_pending(self) -> Tally:
        """Everything not yet written (for a reader that wants current numbers)."""
        with self.lock:
            pending, self.pending = self.pending, Tally()
            return pending

    def give_back(self, tally: Tally) -> None:
        """Counts whose write failed go back to the pending ones."""
        with self.lock:
            self.pending.merge(tally)

    def live_tables(self, conn: Conn, today: int) -> list[str]:
        """Tables within the window (known ones; dropping is `prepare_days`'s job)."""
        if not self.loaded:
            self.tables = self.dialect.tables(conn, "dedup_")
            self.loaded = True
        oldest = dedup_table(today - self.days)
        return sorted(table for table in self.tables if table >= oldest)

    def prepare_days(self, conn: Conn, days: set[int], today: int) -> set[str]:
        """Create these days' dedup tables and log partitions and drop the tables that left the
        window, in the caller's own transaction (never a message's); the tables made.

        A table created in the transaction of a write that then fails is rolled back with it:
        the day's first write would leave no table behind, and every later write would fail
        (`no such table`, `no partition of relation "log"`) while this process thought it had
        one. So days are prepared ahead of traffic, committed alone, and remembered only after
        their commit (`DedupWindow.ready`).
        """
        self.live_tables(conn, today)
        oldest = dedup_table(today - self.days)
        for table in sorted(self.tables):
            if table < oldest:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        made = {dedup_table(day) for day in days if day >= today - self.days}
        for table in sorted(made):
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (hash BIGINT PRIMARY KEY, seq BIGINT NOT NULL)'
            )
        self.dialect.prepare_log(conn, days)
        return made

    def prepared(self, days: set[int], made: set[str], today: int) -> None:
        """Remember what `prepare_days` made, once its transaction committed."""
        oldest = dedup_table(today - self.days)
        self.tables = {table for table in self.tables | made if table >= oldest}
        self.ready |= days


def find_duplicates(
    conn: Conn, window: DedupWindow, by_hash: dict[int, str], today: int
) -> dict[str, int]:
    """messageId -> seq of its earlier copy, for ids already in the window (by hash)."""
    if not by_hash:
        return {}
    candidates: dict[int, int] = {}
    for table in window.live_tables(conn, today):
        for part in chunks(list(by_hash)):
            marks = ",".join("?" * len(part))
            for hash_, seq in conn.execute(
                f'SELECT hash, seq FROM "{table}" WHERE hash IN ({marks})', part
            ):
                candidates.setdefault(hash_, seq)
    found: dict[str, int] = {}
    for hash_, seq in candidates.items():
        row = conn.execute("SELECT message_id FROM log WHERE seq = ?", (seq,)).fetchone()
        if row is not None and row[0] == by_hash[hash_]:  # a real duplicate, not a hash collision
            found[row[0]] = seq
    return found


def days_needed(batch: Sequence[Checked], now_ms: int) -> set[int]:
    """The days whose tables a batch writes into: today and tomorrow (dedup tables, partitions
    ahead of traffic), and each stored message's day of receipt (the log's partition key)."""
    today = now_ms // DAY_MS
    days = {today, today + 1}
    for checked in batch:
        if checked.verdict != "blocked":
            received = checked.message.received_at
            days.add(to_ms(received) // DAY_MS if received else today)
    return days


def unstorable(batch: Sequence[Checked]) -> str | None:
    """Why a batch cannot be stored, if a message to be logged has a NUL in a value kept in a
    column of its own (PostgreSQL's `text` refuses NUL; `prepare` blocks such messages, so only
    a caller that builds `Checked` itself can get here): the same refusal on every backend."""
    for index, checked in enumerate(batch):
        if checked.verdict == "blocked":
            continue
        message = checked.message
        for name, value in (
            ("type", message.type),
            ("messageId", message.message_id),
            ("userId", message.user_id),
            ("anonymousId", message.anonymous_id),
            ("previousId", message.previous_id),
            ("event", message.event),
            ("name", message.name),
            ("context.externalIds", _external_person(message)),
        ):
            if isinstance(value, str) and NUL in value:
                return f"message {index}: {name} {NUL_MESSAGE}"
    return None


def write_batch(
    conn: Conn, window: DedupWindow, marks: Marks, batch: Sequence[Checked], now_ms: int
) -> list[Written]:
    """Everything `Store.write_batch` does, inside the caller's transaction.

    A message whose person is erased or suppressed (a mark matches one of its identifiers) is
    acknowledged and not stored, and counted under its event with the code `erased` or
    `suppressed` in the rollup codes."""
    today = now_ms // DAY_MS
    hashes = {
        c.message.message_id: message_hash(c.message.message_id)
        for c in batch
        if c.verdict != "blocked"
    }
    earlier = find_duplicates(conn, window, {h: i for i, h in hashes.items()}, today)
    # Positions are reserved in commit order; duplicates (and dropped messages) leave gaps,
    # which cursors skip. Reserved even for a batch with nothing to log: on PostgreSQL this
    # takes the counter's row lock, which an erase takes too, so the marks read next are the
    # ones of every erase committed before this batch, and no erase commits until it does.
    next_seq = window.dialect.reserve_seqs(conn, len(hashes))
    marked = marks.refresh(conn)
    screening = bool(marked.kinds)
    people = _People(conn, window.dialect)
    identities = _Identities(conn, people.seen)
    log_rows: list[tuple[Any, ...]] = []
    dedup_rows: list[tuple[int, int]] = []
    blocked_rows: list[tuple[Any, ...]] = []
    results: list[Written] = []
    in_batch: dict[str, int] = {}
    seen_users = people.seen
    tally = Tally()
    for checked in batch:
        message = checked.message
        message_id = message.message_id
        if screening:
            dropped = marks.kind_of(marked, identifiers_of(message))
            if dropped is not None:
                results.append(Written(message_id, None, dropped=dropped))
                _count_dropped(tally, checked, dropped, now_ms)
                continue
        if checked.verdict == "blocked":
            # `next_seq` is the position the next logged message takes: where this one arrived.
            blocked_rows.append(_blocked_row(checked, now_ms, next_seq))
            results.append(Written(message_id, None))
            _count(tally, checked, now_ms)
            continue
        seen = earlier.get(message_id) or in_batch.get(message_id)
        if seen is not None:
            results.append(Written(message_id, seen, duplicate=True))
            continue
        seq = next_seq
        next_seq += 1
        in_batch[message_id] = seq
        kind = message.type
        # The hot loop of the store: everything per row is inlined and computed once.
        identity = identities.apply(message, now_ms) if kind in ("identify", "alias") else []
        body = checked.body
        if (
            kind == "alias"
            and message.anonymous_id is None
            and identities.tied_visitor(message, log_rows)
        ):
            # A server's alias(previousId=<visitor>) names no anonymousId: say that previousId is
            # this person's anonymous id (the store knows it as a visitor's), so a tool merges the
            # visitor's history into the person instead of merging two people (Customer.io).
            message = dataclasses.replace(message, anonymous_id=message.previous_id)
            body = encode(message)
        timestamp = message.timestamp or message.received_at
        at = to_ms(timestamp) if timestamp else 0
        received = message.received_at
        received_ms = to_ms(received) if received else now_ms
        violations = checked.violations
        name = message.event if kind == "track" else message.name
        log_rows.append(
            (
                seq,
                message_id,
                kind,
                name,
                message.user_id,
                message.anonymous_id or _external_person(message),
                at,
                received_ms,
                checked.verdict,
                _violations_json([*violations, *identity]) if violations or identity else None,
                body or encode(message),
            )
        )
        dedup_rows.append((hashes[message_id], seq))
        user = message.user_id
        if user is not None and kind != "alias":
            span = seen_users.get(user)
            seen_users[user] = (at, at) if span is None else (min(span[0], at), max(span[1], at))
            if kind == "identify" and message.traits:
                people.identifies.append(message)
        results.append(
            Written(message_id, seq, identity=tuple(identity))
            if identity
            else Written(message_id, seq)
        )
        tally.count(
            received_ms,
            at,
            _label(checked.source or "unknown"),
            name or "",
            kind,
            checked.verdict,
            [v.code for v in violations] if violations else (),
        )
    if log_rows:
        # The day's tables exist already, committed on their own (`days_needed`, `prepare_days`).
        window.dialect.insert_rows(conn, "log", LOG_COLUMNS, log_rows)
        table = dedup_table(today)
        window.dialect.insert_rows(
            conn, f'"{table}"', DEDUP_COLUMNS, dedup_rows, " ON CONFLICT DO NOTHING"
        )
    if blocked_rows:
        conn.executemany(
            "INSERT INTO blocked (message_id, type, name, user_id, anonymous_id, timestamp_ms,"
            " received_ms, violations, body, log_position) VALUES (?,?,?,?,?,?,?,?,?,?)",
            blocked_rows,
        )
    new_users = people.flush()
    identities.flush()
    if new_users:
        tally.new_profiles[today] += len(new_users)
        of_new = sum(1 for m in people.identifies if m.user_id in new_users)
        if of_new:
            tally.identifies_of_new[today] += of_new
    window.add_counts(conn, tally, now_ms)
    if window.pruned_day != today:
        prune_hours(conn, now_ms)
        window.pruned_day = today
    return results


def _count(tally: Tally, checked: Checked, now_ms: int) -> None:
    message = checked.message
    received = message.received_at
    tally.count(
        to_ms(received) if received else now_ms,
        None,
        _label(checked.source or "unknown"),
        _label((message.event if message.type == "track" else message.name) or ""),
        _label(message.type),
        checked.verdict,
        [v.code for v in checked.violations],
        [v.code for v in checked.violations if v.effect == "block"],
    )


def _count_dropped(tally: Tally, checked: Checked, kind: str, now_ms: int) -> None:
    """Count a message dropped for an erased or suppressed person: its event's rollup codes
    get `erased` or `suppressed` (not the received counts: it was never taken in)."""
    message = checked.message
    received = message.received_at
    day = (to_ms(received) if received else now_ms) // DAY_MS
    name = _label((message.event if message.type == "track" else message.name) or "")
    tally.codes[(day, _label(checked.source or "unknown"), name, kind)] += 1


def _violations_json(violations: Sequence[Violation]) -> str | None:
    if not violations:
        return None
    return orjson.dumps([v.to_dict() for v in violations]).decode()


def _external_person(message: Message) -> str | None:
    """`cio_<id>` for a message that names its person only by Customer.io id: the log's person
    column, so such a person's messages keep their order per destination and share a timeline."""
    if message.user_id:
        return None
    cio_id = cio_id_of(message.context)
    return CIO_ID_PREFIX + cio_id if cio_id is not None else None


def _blocked_row(checked: Checked, now_ms: int, position: int) -> tuple[Any, ...]:
    message = checked.message
    timestamp = message.timestamp
    received = message.received_at
    return (
        storable_text(message.message_id or None),
        storable_text(message.type),
        storable_text(message.event if message.type == "track" else message.name),
        storable_text(message.user_id),
        storable_text(message.anonymous_id),
        to_ms(timestamp) if timestamp else None,
        to_ms(received) if received else now_ms,
        _violations_json(checked.violations) or "[]",
        checked.body or encode(message),
        position,
    )


def _label(value: str) -> str:
    """A rollup label (source, name, type) that any backend can hold (see `storable_text`)."""
    return storable_text(value) or ""


class _People:
    """Profile updates for one batch: first/last seen for everyone, traits from identify."""

    def __init__(self, conn: Conn, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect
        self.seen: dict[str, tuple[int, int]] = {}
        self.identifies: list[Message] = []

    def flush(self) -> set[str]:
        """Write the batch's profile changes; returns the users whose profile is new."""
        new_users: set[str] = set()
        if self.seen:
            users = list(self.seen)
            for part in chunks(users):
                # Ask for the new ones, not the known ones: usually a handful of rows instead of
                # one per person of the batch (each row fetched is another wait for the lock,
                # see `Dialect.insert_rows`).
                new_users.update(
                    row[0]
                    for row in self.conn.execute(
                        f"WITH batch (user_id) AS (VALUES {value_rows(1, len(part))})"
                        " SELECT user_id FROM batch WHERE NOT EXISTS"
                        " (SELECT 1 FROM profiles WHERE profiles.user_id = batch.user_id)",
                        part,
                    )
                )
            self.dialect.insert_rows(
                self.conn,
                "profiles",
                PROFILE_COLUMNS,
                [(user, "{}", "{}", first, last) for user, (first, last) in self.seen.items()],
                " ON CONFLICT (user_id) DO UPDATE SET"
                " first_seen_ms = CASE WHEN excluded.first_seen_ms < profiles.first_seen_ms"
                " THEN excluded.first_seen_ms ELSE profiles.first_seen_ms END,"
                " last_seen_ms = CASE WHEN excluded.last_seen_ms > profiles.last_seen_ms"
                " THEN excluded.last_seen_ms ELSE profiles.last_seen_ms END",
            )
        if self.identifies:
            self._traits()
        return new_users

    def _traits(self) -> None:
        users = sorted({m.user_id for m in self.identifies if m.user_id})
        current: dict[str, tuple[dict[str, Any], dict[str, int]]] = {}
        for part in chunks(users):
            marks = ",".join("?" * len(part))
            query = f"SELECT user_id, traits, trait_times FROM profiles WHERE user_id IN ({marks})"
            for user, traits, times in self.conn.execute(query, part):
                current[user] = (orjson.loads(traits), orjson.loads(times))
        emails_before = {user: trait_email(traits) for user, (traits, _) in current.items()}
        for message in self.identifies:
            traits, times = current.setdefault(message.user_id or "", ({}, {}))
            at = to_ms(message.timestamp) if message.timestamp else 0
            for key, value in message.traits.items():
                # An older identify arriving late must not overwrite newer traits.
                if times.get(key, -1) <= at:
                    traits[key] = value
                    times[key] = at
        self.conn.executemany(
            "UPDATE profiles SET traits = ?, trait_times = ? WHERE user_id = ?",
            [
                (orjson.dumps(t).decode(), orjson.dumps(s).decode(), u)
                for u, (t, s) in current.items()
            ],
        )
        # The email index `resolve` reads (store/sql/privacy_schema.py): rows for changes only.
        changed = {
            user: email
            for user, (traits, _) in current.items()
            if (email := trait_email(traits)) != emails_before.get(user)
        }
        set_rows = [(user, email) for user, email in changed.items() if email is not None]
        if set_rows:
            self.conn.executemany(
                "INSERT INTO profile_emails (user_id, email) VALUES (?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET email = excluded.email",
                set_rows,
            )
        cleared = [(user,) for user, email in changed.items() if email is None]
        if cleared:
            self.conn.executemany("DELETE FROM profile_emails WHERE user_id = ?", cleared)


class _Identities:
    """Anonymous-id merges decided in arrival order within one batch."""

    def __init__(self, conn: Conn, users_in_batch: dict[str, tuple[int, int]]) -> None:
        self.conn = conn
        self.users_in_batch = users_in_batch  # users this batch has seen (profiles not yet written)
        self.owners: dict[str, str | None] = {}
        self.new_links: list[tuple[str, str, int]] = []
        self.merges: list[tuple[Any, ...]] = []

    def _owner(self, anonymous_id: str) -> str | None:
        if anonymous_id not in self.owners:
            row = self.conn.execute(
                "SELECT user_id FROM identities WHERE anonymous_id = ?", (anonymous_id,)
            ).fetchone()
            self.owners[anonymous_id] = row[0] if row else None
        return self.owners[anonymous_id]

    def _is_user(self, key: str) -> bool:
        if key in self.users_in_batch:
            return True
        row = self.conn.execute("SELECT 1 FROM profiles WHERE user_id = ?", (key,)).fetchone()
        return row is not None

    def apply(self, message: Message, now_ms: int) -> list[Violation]:
        if message.type == "identify" and message.user_id and message.anonymous_id:
            kind, anonymous_id = "identify", message.anonymous_id
        elif message.type == "alias" and message.user_id and message.previous_id:
            kind, anonymous_id = "alias", message.previous_id
        else:
            return []
        user_id = message.user_id
        decision = decide_merge(
            anonymous_id=anonymous_id,
            user_id=user_id,
            current_owner=self._owner(anonymous_id),
            anonymous_is_user=anonymous_id != user_id and self._is_user(anonymous_id),
        )
        if decision.outcome is None:
            return []
        self.merges.append(
            (
                now_ms,
                kind,
                anonymous_id,
                user_id,
                message.message_id,
                decision.outcome,
                decision.detail,
            )
        )
        if decision.outcome == "merged":
            self.owners[anonymous_id] = user_id
            self.new_links.append((anonymous_id, user_id, now_ms))
            return []
        path = "anonymousId" if kind == "identify" else "previousId"
        return [Violation("identity_conflict", path, decision.detail + "; not merged")]

    def tied_visitor(self, message: Message, pending: Sequence[tuple[Any, ...]]) -> bool:
        """Whether an alias's previousId is a visitor's anonymous id, now tied to its user: the
        merge was made (not refused as two identified people) and the id was seen as an
        anonymousId, in the log or in this batch's `pending` log rows. An id never seen is left
        alone: a Customer.io `merge_customers` of a person trackwell never saw stays a merge."""
        previous = message.previous_id
        if previous is None or self.owners.get(previous) != message.user_id:
            return False
        if any(row[_LOG_ANONYMOUS] == previous for row in pending):
            return True
        seen = self.conn.execute("SELECT 1 FROM log WHERE anonymous_id = ? LIMIT 1", (previous,))
        return seen.fetchone() is not None

    def flush(self) -> None:
        if self.new_links:
            self.conn.executemany(
                "INSERT INTO identities (anonymous_id, user_id, merged_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                self.new_links,
            )
        if self.merges:
            self.conn.executemany(
                "INSERT INTO merges (at_ms, kind, anonymous_id, user_id, message_id, outcome, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                self.merges,
            )
