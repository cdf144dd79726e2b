"""The Store protocol in SQL shared by SQLite and PostgreSQL; backends bring connections and a dialect."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from trackwell.core.delivery import DeliveryFilter
from trackwell.core.privacy import (
    AuditEntry,
    MarkKind,
    PrivacyJob,
    PrivacyRequest,
    Subject,
    message_identifiers,
)
from trackwell.core.time import DAY_MS, now_ms
from trackwell.store.base import (
    DEFAULT_DEDUP_WINDOW_DAYS,
    SAMPLE_SCAN_ROWS,
    Checked,
    DeadLetter,
    Delivery,
    DeliveryError,
    DeliveryResult,
    DeliveryRollup,
    DeliveryStats,
    EventOutcomes,
    MergeRecord,
    OutcomeReport,
    PeopleRollup,
    PersonRow,
    Profile,
    RecordedReports,
    ReportCount,
    RetentionReport,
    StoredMessage,
    StoreError,
    Timeline,
    TimelineEntry,
    VolumeRollup,
    Written,
)
from trackwell.store.sql import (
    audit,
    browse,
    consent,
    delivery,
    privacy,
    retention,
    rollups,
)
from trackwell.store.sql import reports as _reports
from trackwell.store.sql.dialect import Conn, Database, Dialect
from trackwell.store.sql.marks import Marks
from trackwell.store.sql.owners import new_owner
from trackwell.store.sql.writes import (
    DedupWindow,
    chunks,
    days_needed,
    message_hash,
    unstorable,
    write_batch,
)

# The store's clock, looked up at each call: tests turn the day by replacing it.
_now_ms = now_ms


class SQLStore:
    """The Store protocol over a SQL database; subclasses open it and migrate it."""

    def __init__(
        self,
        db: Database,
        dialect: Dialect,
        *,
        url: str,
        dedup_window_days: int = DEFAULT_DEDUP_WINDOW_DAYS,
    ) -> None:
        self.url = url
        self._db = db
        self._window = DedupWindow(dedup_window_days, dialect)
        # Key positions removed per retention transaction (tests make it small).
        self.retention_chunk = retention.CHUNK_ROWS
        self._claims: dict[str, delivery.ClaimState] = {}
        self._claims_lock = threading.Lock()
        self._pid = os.getpid()
        self._marks = Marks()

    def prepare_days(self, now_ms: int | None = None) -> None:
        """Create today's and tomorrow's tables (dedup, log partitions) in a transaction of their
        own, ahead of traffic; a backend calls it once migrated, and writes call it as days turn.
        At open a failure is left to the first write, which tries again (a full disk must not
        keep the store from opening for reads)."""
        with contextlib.suppress(StoreError):
            self._prepare(days_needed((), _now_ms() if now_ms is None else now_ms), now_ms)

    def _prepare(self, days: set[int], now_ms: int | None = None) -> None:
        missing = days - self._window.ready
        if not missing:
            return
        today = (_now_ms() if now_ms is None else now_ms) // DAY_MS
        with self._db.write() as conn:
            made = self._window.prepare_days(conn, missing, today)
        self._window.prepared(missing, made, today)

    # -- writes ---------------------------------------------------------------------------

    def write_batch(self, batch: Sequence[Checked]) -> list[Written]:
        """Store a batch in one transaction: dedup, log or blocked table, profiles, identities."""
        if not batch:
            return []
        reason = unstorable(batch)
        if reason is not None:
            raise ValueError(reason)
        now = _now_ms()
        self._prepare(days_needed(batch, now), now)
        with self._db.write() as conn:
            return write_batch(conn, self._window, self._marks, batch, now)

    # -- reads ----------------------------------------------------------------------------

    def count(self) -> int:
        """Messages in the log (not counting blocked ones)."""
        with self._db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM log").fetchone()[0])

    def count_blocked(self) -> int:
        """Messages in the blocked table."""
        with self._db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM blocked").fetchone()[0])

    def get(self, message_id: str) -> TimelineEntry | None:
        """One stored message by id (accepted, repaired or blocked)."""
        with self._db.read() as conn:
            row = self._by_dedup(conn, message_id)
            if row is None:
                row = conn.execute(
                    "SELECT NULL, 'blocked', violations, body FROM blocked WHERE message_id = ?"
                    " ORDER BY id DESC LIMIT 1",
                    (message_id,),
                ).fetchone()
            if row is None:
                # Older than the dedup window: the log has no index by id, so this one scans.
                row = conn.execute(
                    "SELECT seq, verdict, violations, body FROM log WHERE message_id = ? ORDER BY seq LIMIT 1",
                    (message_id,),
                ).fetchone()
            if row is None:
                return None
            deliveries = self._deliveries(conn, [row[0]]) if row[0] is not None else {}
        return _entry(row, deliveries.get(row[0], {}))

    def _by_dedup(self, conn: Conn, message_id: str) -> Any:
        """A message within the dedup window, found through its hash (no scan)."""
        hash_ = message_hash(message_id)
        for table in sorted(self._window.dialect.tables(conn, "dedup_"), reverse=True):
            found = conn.execute(f'SELECT seq FROM "{table}" WHERE hash = ?', (hash_,)).fetchone()
            if found is None:
                continue
            row = conn.execute(
                "SELECT seq, verdict, violations, body FROM log WHERE seq = ? AND message_id = ?",
                (found[0], message_id),
            ).fetchone()
            if row is not None:
                return row
        return None

    def _resolve(self, conn: Conn, key: str) -> tuple[str | None, tuple[str, ...]]:
        """(user id, anonymous ids) of the person `key` names."""
        owner = conn.execute(
            "SELECT user_id FROM identities WHERE anonymous_id = ?", (key,)
        ).fetchone()
        user = owner[0] if owner else None
        if user is None:
            known = conn.execute("SELECT 1 FROM profiles WHERE user_id = ?", (key,)).fetchone()
            if known is None:
                in_log = conn.execute(
                    "SELECT 1 FROM log WHERE user_id = ? LIMIT 1", (key,)
                ).fetchone()
                if in_log is None:
                    return None, (key,)  # an anonymous visitor not tied to anyone
            user = key
        anonymous = tuple(
            row[0]
            for row in conn.execute(
                "SELECT anonymous_id FROM identities WHERE user_id = ? ORDER BY merged_ms", (user,)
            )
        )
        return user, anonymous

    def profile(self, key: str) -> Profile | None:
        """A person by user id or any of their anonymous ids."""
        with self._db.read() as conn:
            user, anonymous = self._resolve(conn, key)
            if user is None:
                return None
            row = conn.execute(
                "SELECT traits, trait_times, first_seen_ms, last_seen_ms FROM profiles WHERE user_id = ?",
                (user,),
            ).fetchone()
        if row is None:
            return None
        return Profile(user, orjson.loads(row[0]), orjson.loads(row[1]), anonymous, row[2], row[3])

    def timeline(self, key: str, *, limit: int = 1000) -> Timeline:
        """A person's merged timeline, by user id or any anonymous id, in action-time order."""
        with self._db.read() as conn:
            user, anonymous = self._resolve(conn, key)
            where, params = _person_where(user, anonymous)
            # The last three columns are the sort key: action time, then arrival order. A
            # blocked message arrived just before the log position it recorded (`log_position`,
            # the position the next logged message took); blocked ones among themselves keep
            # their id order.
            rows = conn.execute(
                f"SELECT seq, verdict, violations, body, timestamp_ms, seq, 1, 0 FROM log"
                f" WHERE {where} ORDER BY timestamp_ms DESC, seq DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
            blocked = conn.execute(
                "SELECT NULL, 'blocked', violations, body, coalesce(timestamp_ms, received_ms),"
                f" coalesce(log_position, 0), 0, id FROM blocked WHERE {where}"
                " ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
            deliveries = self._deliveries(conn, [r[0] for r in rows])
            merges = self._merges(conn, user, anonymous)
        profile = self.profile(user) if user is not None else None
        ordered = sorted(rows + blocked, key=lambda r: (r[4], r[5], r[6], r[7]))[-limit:]
        entries = tuple(_entry(r, deliveries.get(r[0], {})) for r in ordered)
        return Timeline(profile, anonymous, tuple(merges), entries)

    def merges(self, key: str | None = None) -> list[MergeRecord]:
        """The merge log, for one person or everyone."""
        with self._db.read() as conn:
            if key is None:
                return self._merges(conn, None, ())
            user, anonymous = self._resolve(conn, key)
            return self._merges(conn, user, anonymous)

    def _merges(
        self, conn: Conn, user: str | None, anonymous: tuple[str, ...]
    ) -> list[MergeRecord]:
        query = "SELECT at_ms, kind, anonymous_id, user_id, message_id, outcome, detail FROM merges"
        params: list[Any] = []
        if user is not None or anonymous:
            ids = [user] if user else []
            marks = ",".join("?" * len(anonymous)) or "NULL"
            query += f" WHERE user_id IN ({','.join('?' * len(ids)) or 'NULL'}) OR anonymous_id IN ({marks})"
            params = [*ids, *anonymous]
        return [MergeRecord(*row) for row in conn.execute(query + " ORDER BY id", params)]

    def _deliveries(self, conn: Conn, seqs: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
        """seq -> destination -> {status, attempts, error, at_ms} for the given log rows (`at_ms`:
        when the state was last recorded; None for a message the cursor passed, which was
        delivered on its first attempt and left no row)."""
        found: dict[int, dict[str, dict[str, Any]]] = {}
        if not seqs:
            return found
        destinations = conn.execute(
            "SELECT name, cursor, filter, start_seq FROM destinations"
        ).fetchall()
        exceptions: dict[tuple[int, str], tuple[str, int, str | None, int]] = {}
        for part in chunks(seqs):
            marks = ",".join("?" * len(part))
            for seq, name, status, attempts, error, updated in conn.execute(
                "SELECT seq, destination, status, attempts, last_error, updated_ms FROM deliveries"
                f" WHERE seq IN ({marks})",
                part,
            ):
                exceptions[(seq, name)] = (status, attempts, error, updated)
        kinds: dict[int, tuple[str, str | None]] = {}
        for part in chunks(seqs):
            marks = ",".join("?" * len(part))
            for seq, type_, name in conn.execute(
                f"SELECT seq, type, name FROM log WHERE seq IN ({marks})", part
            ):
                kinds[seq] = (type_, name)
        for name, cursor, filter_json, start_seq in destinations:
            flt = DeliveryFilter.from_dict(orjson.loads(filter_json))
            in_flight = self._claims.get(name)
            for seq in seqs:
                exception = exceptions.get((seq, name))
                if exception is not None:
                    status, attempts, error, updated = exception
                    state = {
                        "status": status,
                        "attempts": attempts,
                        "error": error,
                        "at_ms": updated,
                    }
                elif seq <= start_seq or not flt.accepts(*kinds.get(seq, ("", None))):
                    continue  # stored before the destination existed, or not for it
                elif in_flight is not None and seq in in_flight.fresh:
                    state = {"status": "in_flight", "attempts": 0, "error": None, "at_ms": None}
                else:
                    state = {
                        "status": "delivered" if seq <= cursor else "pending",
                        "attempts": 0,
                        "error": None,
                        "at_ms": None,
                    }
                found.setdefault(seq, {})[name] = state
        return found

    # -- delivery queues ------------------------------------------------------------------

    def register_destination(self, name: str, filter: DeliveryFilter | None = None) -> None:
        """Create (or update the filter of) a delivery queue; a new one starts at the log's end."""
        flt = orjson.dumps((filter or DeliveryFilter()).to_dict()).decode()
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO destinations (name, cursor, start_seq, filter, created_ms)"
                " VALUES (?, (SELECT coalesce(max(seq), 0) FROM log), (SELECT coalesce(max(seq), 0) FROM log), ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET filter = excluded.filter",
                (name, flt, _now_ms()),
            )

    def destinations(self) -> list[str]:
        """Registered destination names."""
        with self._db.read() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM destinations ORDER BY name")]

    def _state(self, destination: str) -> delivery.ClaimState:
        with self._claims_lock:
            if os.getpid() != self._pid:  # a forked child owns nothing of its parent's
                self._pid = os.getpid()
                self._claims = {}
            state = self._claims.get(destination)
            if state is None:
                state = delivery.ClaimState(owner=new_owner())
                self._claims[destination] = state
            return state

    def claim(self, destination: str, limit: int, now_ms: int) -> list[Delivery]:
        """Due retries and new messages for a destination, oldest first, per-person ordered."""
        state = self._state(destination)
        try:
            with self._db.write() as conn:
                return delivery.claim(conn, state, destination, limit, now_ms)
        except KeyError:
            raise StoreError(f"unknown destination {destination!r}") from None

    def ack(self, destination: str, results: Sequence[DeliveryResult], now_ms: int) -> None:
        """Record the outcome of claimed deliveries."""
        state = self._state(destination)
        with self._db.write() as conn:
            delivery.ack(conn, state, destination, results, now_ms)

    def release(self, destination: str) -> None:
        """Forget claims that were never acked and give up the lease; they will be claimed again."""
        with self._claims_lock:
            state = self._claims.pop(destination, None)
        if state is not None:
            with self._db.write() as conn:
                delivery.give_up_lease(conn, state, destination)

    def delivery_stats(self, now_ms: int) -> list[DeliveryStats]:
        """Per destination: pending, in flight, delivered, retry, dead, oldest pending, last error."""
        with self._db.read() as conn:
            return delivery.stats(conn, self._claims, now_ms)

    def pull_forward(
        self,
        destination: str,
        now_ms: int,
        *,
        window_ms: int,
        limit: int | None = None,
        group: int = 1,
    ) -> list[int]:
        """Make retries scheduled for later due over the next `window_ms`; returns their seqs."""
        with self._db.write() as conn:
            return delivery.pull_forward(conn, destination, now_ms, window_ms, limit, group)

    def consent_traits(self, people: Sequence[str], trait: str) -> dict[str, Any]:
        """person -> their profile's consent trait, for those whose profile holds it."""
        if not people:
            return {}
        with self._db.read() as conn:
            return consent.consent_traits(conn, people, trait)

    def release_held(
        self,
        destination: str,
        trait: str | None,
        now_ms: int,
        *,
        recheck_ms: int,
        limit: int,
        every: bool = False,
    ) -> int:
        """Held messages whose person now has consent information become due again."""
        with self._db.read() as conn:
            # Most checks find nothing held: a read answers them without taking the writer.
            if not consent.has_held(conn, destination):
                return 0
        with self._db.write() as conn:
            return consent.release_held(
                conn, destination, trait, now_ms, recheck_ms=recheck_ms, limit=limit, every=every
            )

    def requeue(
        self,
        destination: str,
        *,
        dead_only: bool = False,
        captured_only: bool = False,
        held_only: bool = False,
        since_ms: int | None = None,
        message_id: str | None = None,
        now_ms: int,
    ) -> int:
        """Schedule stored messages for re-delivery (replay); returns how many."""
        try:
            with self._db.write() as conn:
                return delivery.requeue(
                    conn,
                    destination,
                    dead_only=dead_only,
                    captured_only=captured_only,
                    held_only=held_only,
                    since_ms=since_ms,
                    message_id=message_id,
                    now_ms=now_ms,
                )
        except KeyError:
            raise StoreError(f"unknown destination {destination!r}") from None

    # -- rollups ---------------------------------------------------------------------------

    def volume(self, since_day: int, until_day: int, *, hourly: bool = False) -> list[VolumeRollup]:
        """Event counts per day (or per hour, kept for 7 days) between two days inclusive."""
        self.flush_rollups()
        with self._db.read() as conn:
            return rollups.volume(conn, since_day, until_day, hourly=hourly)

    def violation_counts(
        self, since_day: int, until_day: int
    ) -> list[tuple[int, str, str, str, int]]:
        """(day, source, name, code, count) between two days inclusive."""
        self.flush_rollups()
        with self._db.read() as conn:
            return rollups.violation_counts(conn, since_day, until_day)

    def blocking_counts(
        self, since_day: int, until_day: int
    ) -> list[tuple[int, str, str, str, int]]:
        """(day, source, name, code, blocked messages) between two days inclusive."""
        self.flush_rollups()
        with self._db.read() as conn:
            return rollups.blocking_counts(conn, since_day, until_day)

    def delivery_rollups(self, since_day: int, until_day: int) -> list[DeliveryRollup]:
        """Per day, destination and event: outcomes and latency histograms."""
        self.flush_rollups()
        with self._db.read() as conn:
            return rollups.deliveries(conn, since_day, until_day)

    def people_rollups(self, since_day: int, until_day: int) -> list[PeopleRollup]:
        """Per day: new profiles and identify calls."""
        self.flush_rollups()
        with self._db.read() as conn:
            return rollups.people(conn, since_day, until_day)

    def sample(
        self,
        *,
        limit: int = 1000,
        since_ms: int | None = None,
        type: str | None = None,
        name: str | None = None,
    ) -> list[TimelineEntry]:
        """The most recent stored messages (newest first), optionally of one type or name."""
        clauses = ["seq > (SELECT coalesce(max(seq), 0) FROM log) - ?"]
        params: list[Any] = [SAMPLE_SCAN_ROWS]
        for column, value in (
            ("received_ms >= ?", since_ms),
            ("type = ?", type),
            ("name = ?", name),
        ):
            if value is not None:
                clauses.append(column)
                params.append(value)
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT seq, verdict, violations, body FROM log WHERE "
                + " AND ".join(clauses)
                + " ORDER BY seq DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_entry(row, {}) for row in rows]

    def profiles_without_traits(self) -> int:
        """Profiles that no identify has given a trait."""
        with self._db.read() as conn:
            return int(
                conn.execute("SELECT count(*) FROM profiles WHERE traits = '{}'").fetchone()[0]
            )

    # -- browsing (bounded to the newest rows; see sql/browse.py) ----------------------------

    def log_size(self) -> int:
        """The highest log position: an upper bound of the log's size, read from the key."""
        with self._db.read() as conn:
            return browse.log_size(conn)

    def recent_people(self, limit: int = 50) -> list[PersonRow]:
        """People with the newest messages, anonymous visitors shown under their person once tied."""
        with self._db.read() as conn:
            return browse.recent_people(conn, limit)

    def find_people(self, text: str, limit: int = 20) -> list[str]:
        """User ids whose traits hold `text` (an email, a name, any value): reads profiles, not the log."""
        with self._db.read() as conn:
            return browse.find_people(conn, text, limit)

    def stored_violations(
        self, *, code: str | None = None, event: str | None = None, limit: int = 100
    ) -> list[StoredMessage]:
        """The newest messages with violations, logged or blocked, newest arrival first."""
        with self._db.read() as conn:
            return browse.stored_violations(conn, code=code, event=event, limit=limit)

    def dead_letters(self, destination: str, limit: int = 50) -> list[DeadLetter]:
        """A destination's dead messages, most recently failed first."""
        with self._db.read() as conn:
            return browse.dead_letters(conn, destination, limit)

    def delivery_errors(self, destination: str, limit: int = 10) -> list[DeliveryError]:
        """A destination's newest failed attempts (retries and dead), from the delivery history."""
        with self._db.read() as conn:
            return browse.delivery_errors(conn, destination, limit)

    # -- retention --------------------------------------------------------------------------

    def apply_retention(
        self, *, log_days: int | None, blocked_days: int | None, now_ms: int, dry_run: bool = False
    ) -> RetentionReport:
        """Remove log rows (with their queue entries and delivery history) and blocked rows
        received before the cut-offs, a bounded transaction at a time (`sql/retention.py`)."""
        report = retention.apply(
            self._db,
            self._window.dialect,
            log_days=log_days,
            blocked_days=blocked_days,
            dedup_window_days=self._window.days,
            now_ms=now_ms,
            dry_run=dry_run,
            chunk=self.retention_chunk,
        )
        if report.partitions_dropped and report.log_cutoff_ms is not None:
            # Forgotten, so a late message received on such a day makes its partition again.
            first_kept = report.log_cutoff_ms // DAY_MS
            self._window.ready = {day for day in self._window.ready if day >= first_kept}
        return report

    def flush_rollups(self) -> None:
        """Write the rollup counts still gathered in memory (readers want current numbers)."""
        pending = self._window.take_pending()
        if not len(pending):
            return
        try:
            with self._db.write() as conn:
                pending.flush(conn)
        except StoreError:
            self._window.give_back(pending)
            raise

    # -- privacy (store/sql/privacy.py) and the audit log ----------------------------------------

    def resolve(self, person: str) -> Subject:
        """Every identifier of the person a user id, anonymous id or email names."""
        with self._db.read() as conn:
            return privacy.resolve(conn, person)

    def erase(
        self,
        subject: Subject,
        *,
        request_id: str,
        actor: str,
        destinations: Sequence[str],
        now_ms: int,
    ) -> PrivacyRequest:
        """Remove everything of the person in one transaction and mark them erased; then make
        sure no file keeps a copy (`_after_erase`, per backend)."""
        with self._db.write() as conn:
            subject, erased = privacy.erase(conn, self._window.dialect, subject, request_id, now_ms)
            privacy.record(
                conn,
                request_id=request_id,
                kind="erase",
                actor=actor,
                subject=subject,
                destinations=destinations,
                now_ms=now_ms,
                erased=erased.counts,
            )
        self._after_erase(erased)
        found = self.privacy_request(request_id)
        assert found is not None
        return found

    def _after_erase(self, erased: privacy.Erased) -> None:
        """Make the deleted rows unreadable in the backend's files (see the subclasses)."""

    def suppress(
        self,
        subject: Subject,
        *,
        request_id: str,
        actor: str,
        destinations: Sequence[str],
        now_ms: int,
    ) -> PrivacyRequest:
        """Mark the person suppressed (nothing new taken or delivered), keeping what is stored."""
        with self._db.write() as conn:
            subject = privacy.suppress(conn, self._window.dialect, subject, request_id, now_ms)
            privacy.record(
                conn,
                request_id=request_id,
                kind="suppress",
                actor=actor,
                subject=subject,
                destinations=destinations,
                now_ms=now_ms,
            )
            return self._request(conn, request_id)

    def unsuppress(
        self,
        subject: Subject,
        *,
        request_id: str,
        actor: str,
        destinations: Sequence[str],
        now_ms: int,
    ) -> PrivacyRequest:
        """Lift a suppression (an erase mark stays for ever)."""
        with self._db.write() as conn:
            subject = privacy.unsuppress(conn, self._window.dialect, subject)
            privacy.record(
                conn,
                request_id=request_id,
                kind="unsuppress",
                actor=actor,
                subject=subject,
                destinations=destinations,
                now_ms=now_ms,
            )
            return self._request(conn, request_id)

    def _request(self, conn: Conn, request_id: str) -> PrivacyRequest:
        found = privacy.request(conn, request_id)
        assert found is not None, request_id
        return found

    def privacy_request(self, request_id: str) -> PrivacyRequest | None:
        """One request with its per-destination receipts."""
        with self._db.read() as conn:
            return privacy.request(conn, request_id)

    def privacy_requests(self, *, limit: int = 100) -> list[PrivacyRequest]:
        """The newest requests first."""
        with self._db.read() as conn:
            return privacy.requests(conn, limit)

    def claim_privacy_jobs(
        self, destination: str, now_ms: int, limit: int = 10
    ) -> list[PrivacyJob]:
        """Due pending jobs of one destination, oldest first, leased to this caller for a minute."""
        with self._db.write() as conn:
            return privacy.claim_jobs(conn, destination, now_ms, limit)

    def settle_privacy_job(
        self,
        request_id: str,
        destination: str,
        status: str,
        *,
        detail: str | None,
        next_ms: int | None,
        now_ms: int,
    ) -> None:
        """Record one attempt: `retry` stays pending; a settled status forgets the identifiers."""
        with self._db.write() as conn:
            privacy.settle_job(
                conn, request_id, destination, status, detail=detail, next_ms=next_ms, now_ms=now_ms
            )
        if status != "retry":
            self._after_settle()

    def _after_settle(self) -> None:
        """Make the identifiers a settled job forgot unreadable in the files (the subclasses)."""

    def screen(self, messages: Sequence[dict[str, Any]]) -> list[MarkKind | None]:
        """Per wire-form message: whether its person is erased or suppressed (cached marks)."""
        if not messages:
            return []
        with self._db.read() as conn:
            marked = self._marks.refresh(conn)
        return [self._marks.kind_of(marked, message_identifiers(m)) for m in messages]

    def append_audit(
        self,
        actor: str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        *,
        now_ms: int,
    ) -> None:
        """Append one entry (no payload values in `detail`)."""
        with self._db.write() as conn:
            audit.append(conn, actor, action, target, detail, now_ms)

    def audit_entries(
        self, *, limit: int = 100, before_id: int | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """The newest entries first (older than `before_id`, of one action)."""
        with self._db.read() as conn:
            return audit.entries(conn, limit=limit, before_id=before_id, action=action)

    # -- the tools' outcome reports (store/sql/reports.py) --------------------------------------

    def record_reports(self, reports: Sequence[OutcomeReport], now_ms: int) -> RecordedReports:
        """Store reports once per (source, event_id), each resolved to its person and trigger
        message, in one transaction; those naming an erased or suppressed person are dropped."""
        if not reports:
            return RecordedReports()
        with self._db.write() as conn:
            # Serialised with write batches and erases (the same lock), as `write_batch` is, so
            # a report never slips in beside an erase of its person.
            self._window.dialect.reserve_seqs(conn, 0)
            return _reports.record(conn, self._window.dialect, self._marks, reports, now_ms)

    def reports_for_person(
        self, key: str, *, limit: int = 100, since_ms: int | None = None
    ) -> list[OutcomeReport]:
        """A person's newest `limit` reports, oldest first by their own time."""
        with self._db.read() as conn:
            return _reports.for_person(conn, key, limit=limit, since_ms=since_ms)

    def reports_for_message(self, message_id: str) -> list[OutcomeReport]:
        """The reports a trackwell message triggered, oldest first by their own time."""
        with self._db.read() as conn:
            return _reports.for_message(conn, self._window.dialect, message_id)

    def report_counts(
        self, since_ms: int, until_ms: int, *, source: str | None = None
    ) -> list[ReportCount]:
        """Reports per source, campaign, object type and metric in [since_ms, until_ms)."""
        with self._db.read() as conn:
            return _reports.counts(conn, since_ms, until_ms, source)

    def event_outcomes(self, event: str, since_ms: int, until_ms: int) -> EventOutcomes:
        """People who sent `event` in the window and what the tools reported it triggered."""
        with self._db.read() as conn:
            return _reports.event_outcomes(conn, event, since_ms, until_ms)

    def close(self) -> None:
        """Write pending rollup counts, then close every connection."""
        # Closing anyway if that fails: at most a second of counts is lost, never a message.
        with contextlib.suppress(StoreError):
            self.flush_rollups()
        self._db.close()


def _person_where(user: str | None, anonymous: tuple[str, ...]) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if user is not None:
        clauses.append("user_id = ?")
        params.append(user)
    if anonymous:
        clauses.append(f"anonymous_id IN ({','.join('?' * len(anonymous))})")
        params.extend(anonymous)
    return " OR ".join(clauses) or "1 = 0", params


def _entry(row: Sequence[Any], deliveries: dict[str, dict[str, Any]]) -> TimelineEntry:
    seq, verdict, violations, body = row[0], row[1], row[2], row[3]
    return TimelineEntry(
        seq=seq,
        message=orjson.loads(body) if body else {},
        verdict=verdict,
        violations=orjson.loads(violations) if violations else [],
        deliveries=deliveries,
    )
