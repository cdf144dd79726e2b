"""Opening the configured store from a command, without creating one by accident."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trackwell.cli.options import options
from trackwell.cli.output import fail

if TYPE_CHECKING:
    from trackwell.store import Store


def existing_store(url: str | None) -> Store:
    """The store a read-only command names (or the configured one); exit 2 if it does not exist."""
    from trackwell.io.config import ConfigError
    from trackwell.store import StoreError, open_store, sqlite_file

    try:
        resolved = url or options.settings().store
    except ConfigError as exc:
        fail(str(exc))
    path = sqlite_file(resolved)
    if path is not None and not Path(path).exists():
        fail(f"{resolved}: no store there yet (nothing has been stored); pass --store")
    try:
        return open_store(resolved)
    except StoreError as exc:
        fail(str(exc))
