"""Opening the configured store from a command, without creating one by accident."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackwell.cli.options import cli_actor, options
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


def audit(action: str, target: str, detail: dict[str, Any]) -> None:
    """Append an admin action of the CLI (`cli_actor()`) to the configured store's audit log; a
    store that is not there or not reachable is said on stderr, never fails the command (the
    action, e.g. a key written to trackwell.toml, is already done)."""
    from trackwell.cli.output import stderr
    from trackwell.io.config import ConfigError
    from trackwell.pipeline.audit import record
    from trackwell.store import StoreError, open_store, sqlite_file

    try:
        url = options.settings().store
    except ConfigError as exc:
        stderr.print(f"Not in the audit log: {exc}", markup=False, highlight=False)
        return
    path = sqlite_file(url)
    if path is not None and not Path(path).exists():
        # Creating a store only to audit would leave an empty database behind.
        stderr.print(f"Not in the audit log: no store at {url} yet.", markup=False, highlight=False)
        return
    try:
        store = open_store(url)
    except StoreError as exc:
        stderr.print(f"Not in the audit log: {exc}", markup=False, highlight=False)
        return
    try:
        if not record(store, cli_actor(), action, target, detail):
            stderr.print(
                f"Not in the audit log: the store at {url} refused the entry.",
                markup=False,
                highlight=False,
            )
    finally:
        store.close()
