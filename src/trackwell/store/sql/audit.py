"""The audit log in SQL: admin actions appended, read newest first."""

from __future__ import annotations

from typing import Any

import orjson

from trackwell.core.privacy import AuditEntry
from trackwell.store.sql.dialect import Conn


def append(
    conn: Conn,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None,
    now_ms: int,
) -> None:
    """One audit entry (the caller keeps payload values out of `detail`)."""
    conn.execute(
        "INSERT INTO audit_log (at_ms, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (now_ms, actor, action, target, orjson.dumps(detail or {}).decode()),
    )


def entries(
    conn: Conn, *, limit: int, before_id: int | None, action: str | None
) -> list[AuditEntry]:
    """The newest entries first, older than `before_id`, of one action."""
    clauses: list[str] = []
    params: list[Any] = []
    if before_id is not None:
        clauses.append("id < ?")
        params.append(before_id)
    if action is not None:
        clauses.append("action = ?")
        params.append(action)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT id, at_ms, actor, action, target, detail FROM audit_log{where}"
        " ORDER BY id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [
        AuditEntry(int(i), int(at), actor, act, target, orjson.loads(detail))
        for i, at, actor, act, target, detail in rows
    ]
