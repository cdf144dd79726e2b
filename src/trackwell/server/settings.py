"""What a gateway runs with: plan, store, keys, destinations and limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackwell.io.config import RetentionSettings
from trackwell.server.backlog import DEFAULT_HIGH_WATER
from trackwell.server.retention import INTERVAL_SECONDS
from trackwell.server.timeouts import BODY_TIMEOUT_SECONDS
from trackwell.server.webhook_keys import WebhookKeys
from trackwell.store import Store

if TYPE_CHECKING:
    from trackwell.destinations.base import Destination

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8500
# How often the plan file is checked for changes (seconds); SIGHUP reloads at once.
PLAN_WATCH_SECONDS = 1.0


@dataclass
class GatewaySettings:
    """Everything `create_app` needs; the CLI builds it from flags, environment and trackwell.toml."""

    plan: Path
    store: str | Store
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    write_key: str | None = None  # a quick-start key for the `default` source
    destinations: Sequence[Destination] = ()
    router: bool = True  # run the destinations' routers in this process
    high_water: int | None = DEFAULT_HIGH_WATER
    plan_watch_seconds: float | None = PLAN_WATCH_SECONDS
    backlog_poll_seconds: float = 0.5
    access_log: bool = True
    # Seconds a request body may take to arrive (408 past it); the head's deadline is uvicorn's
    # protocol's (server/timeouts.py).
    body_timeout: float = BODY_TIMEOUT_SECONDS
    # Called once the gateway has started (the CLI prints its banner then).
    on_ready: Callable[[], None] | None = None
    # Monitors inside the gateway: seconds between evaluations (None: not here), and their tables.
    monitor_interval: float | None = None
    monitors: Mapping[str, Any] = field(default_factory=dict)
    alerts: Mapping[str, Any] = field(default_factory=dict)
    destination_tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    base_dir: Path = Path()
    # The web console at `/`: `sha256:<hex>` of the admin token (None: nobody can log in).
    admin_token_hash: str | None = None
    # The outcome webhooks' signing keys (TRACKWELL_CUSTOMERIO_WEBHOOK_KEY,
    # TRACKWELL_OUTCOMES_<SOURCE>_KEY); none: those receivers answer 401.
    webhook_keys: WebhookKeys = field(default_factory=WebhookKeys)
    # /metrics: `sha256:<hex>` of the bearer token a scraper must send (None: open, as usual).
    metrics_token_hash: str | None = None
    # [retention]: days the log and blocked messages are kept, applied at start and then every
    # `retention_interval` seconds (nothing is removed when neither is set).
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    retention_interval: float = INTERVAL_SECONDS
