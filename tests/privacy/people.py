"""The people of the privacy tests, their messages, and a search of the store's files for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE_PLAN
from trackwell.pipeline import accept
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.quality.compiled import CompiledPlan
from trackwell.store.base import LogWriter

# Ada is the person erased or suppressed; Bob is everyone else, who must be left alone.
ADA = "ada-5f1e9c"
ADA_ANON = "anon-ada-77d1e0"
ADA_EMAIL = "ada.5f1e9c@example.com"
ADA_IDENTIFIERS = (ADA, ADA_ANON, ADA_EMAIL)
BOB = "bob-0c2a41"

PLAN: CompiledPlan = compile_plan(load_plan(EXAMPLE_PLAN))


def recent(minutes: int = 5) -> str:
    """An action time a few minutes ago (ISO-8601)."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def track(message_id: str, user: str | None, *, anonymous: str | None = None) -> dict[str, Any]:
    """A planned `Feature Used` track of `user` (or only of `anonymous`)."""
    message: dict[str, Any] = {
        "type": "track",
        "event": "Feature Used",
        "properties": {"feature_name": "projects"},
        "messageId": message_id,
        "timestamp": recent(),
    }
    if user is not None:
        message["userId"] = user
    if anonymous is not None:
        message["anonymousId"] = anonymous
    return message


def identify(message_id: str, user: str, email: str, anonymous: str) -> dict[str, Any]:
    """An identify tying `anonymous` to `user`, with the email trait."""
    return {
        "type": "identify",
        "userId": user,
        "anonymousId": anonymous,
        "traits": {"email": email, "created_at": 1_700_000_000},
        "messageId": message_id,
        "timestamp": recent(),
    }


def ada_messages(prefix: str = "a") -> list[dict[str, Any]]:
    """Ada as an anonymous visitor, then identified, then tracking: every identifier in use."""
    return [
        track(f"{prefix}-1", None, anonymous=ADA_ANON),
        identify(f"{prefix}-2", ADA, ADA_EMAIL, ADA_ANON),
        track(f"{prefix}-3", ADA),
        track(f"{prefix}-4", ADA),
    ]


def bob_messages(prefix: str = "b") -> list[dict[str, Any]]:
    """Two tracks of Bob."""
    return [track(f"{prefix}-1", BOB), track(f"{prefix}-2", BOB)]


def seed(store: LogWriter, *batches: list[dict[str, Any]]) -> None:
    """Accept the messages; every one must be stored."""
    for batch in batches:
        results = accept(store, PLAN, batch)
        assert all(r.seq is not None for r in results), [r.to_dict() for r in results]


def leftovers(folder: Path, needles: tuple[str, ...] = ADA_IDENTIFIERS) -> dict[str, list[str]]:
    """file name -> the needles its bytes still hold, for every file under `folder` (the store's
    database, its WAL and shared memory, anything else)."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits = [n for n in needles if n.encode() in data or n.upper().encode() in data]
            if hits:
                found[path.name] = hits
    return found
