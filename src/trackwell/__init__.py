"""trackwell: a schema-first customer event pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from trackwell.client import Client, PlanViolation

__all__ = ["Client", "PlanViolation", "__version__"]


def __getattr__(name: str) -> Any:
    # The SDK pulls in the store and the validators; `import trackwell` alone stays cheap
    # (generated helpers import only `trackwell.interfaces`).
    if name in ("Client", "PlanViolation"):
        from trackwell import client

        return getattr(client, name)
    raise AttributeError(f"module 'trackwell' has no attribute {name!r}")
