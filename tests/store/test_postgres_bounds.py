"""The PostgreSQL store's time bounds, below the gateway: an unanswered commit, and the router."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.postgres import fresh_schema_url, postgres_database
from tests.server.conftest import Recording
from tests.tcpproxy import PausableProxy
from trackwell.pipeline.router import Router
from trackwell.store import StoreError, StoreUncertainError
from trackwell.store.postgres import PostgresStore

__all__ = ["postgres_database"]

BOUNDS = "lock_timeout=300ms&call_timeout=1&pool_timeout=1"


def test_a_commit_left_unanswered_is_reported_as_uncertain(postgres_database: str) -> None:
    parts = urlsplit(postgres_database)
    with PausableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        direct = fresh_schema_url(postgres_database)
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
        query = f"{direct.split('?', 1)[1]}&{BOUNDS}"
        store = PostgresStore(urlunsplit((parts.scheme, netloc, parts.path, query, "")))
        try:
            started = time.monotonic()
            # The statements are answered; the COMMIT is sent into a partition.
            with (
                pytest.raises(StoreUncertainError, match="while committing"),
                store._pg.write() as conn,
            ):
                conn.execute("CREATE TABLE probe_uncertain (x INTEGER)")
                proxy.pause()
            assert time.monotonic() - started < 3
            proxy.resume()
        finally:
            store.close()


def test_the_router_gets_a_bounded_error_behind_a_lock_and_recovers(
    postgres_database: str,
) -> None:
    url = f"{fresh_schema_url(postgres_database)}&{BOUNDS}"
    store = PostgresStore(url)
    router = Router(store, [Recording()])
    schema = url.split("schema=", 1)[1].split("&", 1)[0]
    try:
        assert router.run_once("recording") == 0
        with psycopg.connect(postgres_database) as locker:
            locker.execute(f'LOCK TABLE "{schema}".destinations IN ACCESS EXCLUSIVE MODE')
            started = time.monotonic()
            with pytest.raises(StoreError, match="lock timeout"):
                router.run_once("recording")
            assert time.monotonic() - started < 2
        assert router.run_once("recording") == 0  # the lock is gone: the queue works again
    finally:
        router.stop()
        store.close()
