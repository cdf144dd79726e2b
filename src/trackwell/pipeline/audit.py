"""Appending to the audit log from the faces (console, gateway, CLI) without failing what was done.

The action itself has happened (a replay queued, a plan reloaded, a key written to
trackwell.toml), or must not depend on the audit log's health (a console login): a store that
cannot take the entry is logged, never raised. Entries hold who, when and what, never a payload
value; callers pass counts and names only."""

from __future__ import annotations

import logging
import time
from typing import Any

from trackwell.core.privacy import AuditEntry
from trackwell.core.time import iso_seconds
from trackwell.store.base import AuditLog, StoreError

log = logging.getLogger("trackwell.audit")


def record(
    store: AuditLog,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    now_ms: int | None = None,
) -> bool:
    """Append one entry; False (and an error logged, naming the action only) when the store
    refused it."""
    at = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        store.append_audit(actor, action, target, detail, now_ms=at)
    except StoreError as exc:
        log.error(
            "audit entry not written",
            extra={"fields": {"action": action, "error": type(exc).__name__}},
        )
        return False
    return True


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """One entry as JSON: one shape for `trackwell audit-log --json` and the console's
    `/api/audit` (when as ISO-8601 UTC, like every other `--json` time)."""
    return {
        "id": entry.id,
        "at": iso_seconds(entry.at_ms),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": dict(entry.detail),
    }
