"""The embedded Python SDK: validate on the caller's thread, store durably in the background."""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from trackwell.core.ids import new_message_id
from trackwell.core.messages import Message, MessageError, MessageType, parse_time
from trackwell.core.version import __version__
from trackwell.core.violations import Violation
from trackwell.destinations.base import Destination
from trackwell.interfaces import Timestamp
from trackwell.io.config import load_settings
from trackwell.pipeline.accept import prepare
from trackwell.pipeline.router import Router
from trackwell.plan import Plan, load_plan
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.sdk.outbox import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_QUEUE,
    Outbox,
    OutboxStats,
)
from trackwell.sdk.serialize import json_object, unix_seconds
from trackwell.store import Checked, Store, StoreError, open_store, sqlite_file

log = logging.getLogger("trackwell.sdk.client")

OnViolation = Literal["raise", "report"]
Durability = Literal["batched", "sync"]
LIBRARY = {"name": "trackwell-python", "version": __version__}
SYNC_TIMEOUT_SECONDS = 10.0


class PlanViolation(Exception):  # noqa: N818 - the name users catch, as the issue specifies
    """Raised in `on_violation="raise"` mode: the event, the path and the suggestion."""

    def __init__(self, label: str, violations: list[Violation]) -> None:
        self.label = label
        self.violations = violations
        first = violations[0]
        hint = (
            f" (did you mean '{first.suggestion}'?)"
            if first.suggestion and "did you mean" not in first.message
            else ""
        )
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(
            f"{label}: {first.code} at {first.path or 'message'}: {first.message}{hint}{more}"
        )


class Client:
    """Checks every call against the plan and stores it durably; never blocks or raises in report mode."""

    def __init__(
        self,
        plan: str | Path | Plan | None = None,
        store: str | Store | None = None,
        *,
        on_violation: OnViolation = "report",
        durability: Durability = "batched",
        max_queue_size: int = DEFAULT_MAX_QUEUE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        on_error: Callable[[Exception], None] | None = None,
        context: Mapping[str, Any] | None = None,
        spill_dir: str | Path | None = None,
        config: str | Path | None = None,
        destinations: Sequence[Destination] = (),
        gateway: str | None = None,
        write_key: str | None = None,
    ) -> None:
        if on_violation not in ("raise", "report"):
            raise ValueError(f"on_violation must be 'raise' or 'report', not {on_violation!r}")
        if durability not in ("batched", "sync"):
            raise ValueError(f"durability must be 'batched' or 'sync', not {durability!r}")
        settings = load_settings(
            config=config,
            plan=None if isinstance(plan, Plan) else plan,
            store=store if isinstance(store, str) else None,
        )
        self.plan: Plan = plan if isinstance(plan, Plan) else load_plan(settings.plan)
        self.compiled: CompiledPlan = compile_plan(self.plan)
        self._owns_store = store is None or isinstance(store, str)
        self.store: Store = (
            store
            if store is not None and not isinstance(store, str)
            else open_store(settings.store)
        )
        self.on_violation = on_violation
        self.durability = durability
        self.on_error = on_error
        self._context = {**(context or {}), "library": LIBRARY}
        self._timestamp_traits = frozenset(
            t.name for t in self.plan.traits if t.type == "timestamp"
        )
        self._stamps_last_seen = self.plan.trait("last_seen_at") is not None
        targets = list(destinations)
        if gateway is not None:
            targets.append(_gateway_destination(gateway, write_key))
        spill_path = _spill_path(self.store.url, spill_dir)
        memory = spill_dir is None and ":memory:" in self.store.url
        self._temporary_spill = spill_path.parent if memory else None
        self.router: Router | None = None
        if targets:
            self.router = Router(
                self.store,
                targets,
                on_error=self._delivery_error,
                consent=self.plan.policy.consent,
            )
        self.outbox = Outbox(
            self.store,
            spill_path=spill_path,
            max_queue=max_queue_size,
            batch_size=batch_size,
            flush_interval=flush_interval,
            on_error=self._store_error,
            after_write=self._written,
        )
        self._pid = os.getpid()
        if self.router is not None:
            self.router.start()
        _register_exit(self)

    @classmethod
    def from_config(cls, path: str | Path = "trackwell.toml", **options: Any) -> Client:
        """A client configured by a trackwell.toml file (plan and store)."""
        return cls(config=path, **options)

    # -- the calls ---------------------------------------------------------------------------

    def track(
        self,
        user_id: str | None,
        event: str,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Record that a person did something; returns the messageId."""
        message = self._message("track", user_id, anonymous_id, timestamp, message_id, context)
        message.event = event
        message.properties = json_object(properties)
        return self._send(message)

    def identify(
        self,
        user_id: str | None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Record who a person is; stamps `last_seen_at` when the plan has it."""
        message = self._message("identify", user_id, anonymous_id, timestamp, message_id, context)
        values = json_object(traits, self._timestamp_traits)
        if (
            self._stamps_last_seen
            and isinstance(values, dict)
            and "last_seen_at" not in values
            and message.timestamp is not None
        ):
            values["last_seen_at"] = unix_seconds(message.timestamp)
        message.traits = values
        return self._send(message)

    def page(
        self,
        user_id: str | None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> str:
        """Record a page view (only the plan's pages are meaningful)."""
        return self._named("page", user_id, name, properties, **options)

    def screen(
        self,
        user_id: str | None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> str:
        """Record a mobile screen view."""
        return self._named("screen", user_id, name, properties, **options)

    def group(
        self,
        user_id: str | None,
        group_id: str,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Tie a person to an account or company."""
        message = self._message("group", user_id, anonymous_id, timestamp, message_id, context)
        message.group_id = None if group_id is None else str(group_id)
        message.traits = json_object(traits)
        return self._send(message)

    def alias(
        self,
        previous_id: str,
        user_id: str,
        *,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Tie a previous id (usually an anonymous one) to a user."""
        message = self._message("alias", user_id, None, timestamp, message_id, context)
        message.previous_id = None if previous_id is None else str(previous_id)
        return self._send(message)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every call so far is durably stored; False on timeout."""
        return self.outbox.flush(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Flush, then stop the background threads (undelivered messages wait in the store)."""
        flushed = self.outbox.close(timeout)
        if self.router is not None:
            self.router.close()
        if self._owns_store and flushed:
            self.store.close()
        if self._temporary_spill is not None and flushed:
            shutil.rmtree(self._temporary_spill, ignore_errors=True)
        return flushed

    @property
    def stats(self) -> OutboxStats:
        """Counters: enqueued, written, spilled, dropped, write errors."""
        return self.outbox.stats

    # -- internals ---------------------------------------------------------------------------

    def _named(
        self,
        kind: MessageType,
        user_id: str | None,
        name: str | None,
        properties: Mapping[str, Any] | None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        message = self._message(kind, user_id, anonymous_id, timestamp, message_id, context)
        message.name = name
        message.properties = json_object(properties)
        return self._send(message)

    def _message(
        self,
        kind: MessageType,
        user_id: Any,
        anonymous_id: Any,
        timestamp: Timestamp | None,
        message_id: str | None,
        context: Mapping[str, Any] | None,
    ) -> Message:
        now = datetime.now(UTC)
        return Message(
            type=kind,
            message_id=str(message_id) if message_id is not None else new_message_id(),
            user_id=None if user_id is None else str(user_id),
            anonymous_id=None if anonymous_id is None else str(anonymous_id),
            # A server-side call happens at action time unless told otherwise.
            timestamp=self._action_time(timestamp, now),
            received_at=now,
            context=_context(self._context, context),
        )

    def _action_time(self, value: Timestamp | None, now: datetime) -> datetime:
        if value is None:
            return now
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            return parse_time(value, "timestamp")
        except MessageError as exc:
            if self.on_violation == "raise":
                raise PlanViolation(
                    "timestamp", [Violation(exc.code, "timestamp", exc.message, "block")]
                ) from None
            log.warning(
                "trackwell: unusable timestamp (%s); using the time of the call", exc.message
            )
            return now

    def _send(self, message: Message) -> str:
        checked = prepare(self.compiled, message, message.received_at or datetime.now(UTC))
        # The checked copy's label: a sensitive event or page name is a marker there.
        label = checked.message.label
        if self.on_violation == "raise":
            serious = [v for v in checked.violations if v.effect != "report"]
            if serious:
                raise PlanViolation(label, serious)
        elif checked.violations:
            codes = ",".join(sorted({v.code for v in checked.violations}))
            log.info("trackwell: %s %s (%s)", label, checked.verdict, codes)
        if self._pid != os.getpid():
            self._pid = os.getpid()
            if self.router is not None:
                self.router.restart_after_fork()
        wait = SYNC_TIMEOUT_SECONDS if self.durability == "sync" else None
        if not self.outbox.put(checked, wait=wait):
            # Sync durability could not be reached in time: say so, never pretend.
            error = StoreError(f"message {message.message_id} is queued but not yet durable")
            if self.on_violation == "raise":
                raise error
            self._store_error(error)
        return message.message_id

    def _store_error(self, exc: Exception) -> None:
        if self.on_error is not None:
            self.on_error(exc)

    def _delivery_error(self, destination: str, exc: Exception) -> None:
        if self.on_error is not None:
            self.on_error(exc)

    def _written(self, batch: Sequence[Checked]) -> None:
        if self.router is not None:
            self.router.wake()


_instances = itertools.count()


def _context(base: dict[str, Any], extra: Mapping[str, Any] | None) -> Any:
    if not extra:
        return dict(base)
    values = json_object(extra)
    # Not a mapping: keep it as given, and the checks block the message as malformed.
    return {**base, **values} if isinstance(values, dict) else values


def _gateway_destination(url: str, write_key: str | None) -> Destination:
    """A trackwell gateway or any Segment-compatible endpoint, fed from the local outbox."""
    from trackwell.destinations.segment import SegmentCompatible

    if not write_key:
        raise ValueError("gateway= needs write_key= (the source's write key)")
    return SegmentCompatible("gateway", write_key=write_key, base_url=url)


def _spill_path(store_url: str, spill_dir: str | Path | None) -> Path:
    """Where the outbox spills: beside a file store, or a private temp folder for a memory one."""
    if spill_dir is not None:
        folder = Path(spill_dir)
        stem = "trackwell"
    elif (file := sqlite_file(store_url)) is not None:
        path = Path(file)
        folder, stem = path.parent, path.name
    else:
        folder, stem = Path(tempfile.mkdtemp(prefix="trackwell-spill-")), "memory"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stem}.spill-{os.getpid()}-{next(_instances)}"


def write_leftover_spills(store: Store, *, timeout: float = 30.0) -> bool | None:
    """Write now the spill files that dead processes left beside a SQLite store, instead of at
    the next `Client`'s start: through `write_batch`, so an erase's marks drop its person's
    records and the files are removed. None when the store keeps no spill files (not a SQLite
    file); else whether every leftover was written within `timeout`. Files of live processes are
    left to their own writers."""
    file = sqlite_file(store.url)
    if file is None or ":memory:" in file:
        return None
    path = Path(file)
    if not path.parent.is_dir():
        return True
    # An outbox replays the leftovers it finds when made; this one takes nothing else.
    outbox = Outbox(store, spill_path=path.parent / f"{path.name}.spill-{os.getpid()}-leftovers")
    return outbox.close(timeout)


_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _register_exit(client: Client) -> None:
    _clients.add(client)


@atexit.register
def _flush_all_at_exit() -> None:
    for client in list(_clients):
        try:
            client.close(timeout=5.0)
        except Exception:
            log.exception("trackwell: flush at exit failed")
