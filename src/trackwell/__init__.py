"""trackwell: a schema-first customer event pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackwell.core.version import __version__
    from trackwell.sdk.client import Client, PlanViolation

__all__ = ["Client", "PlanViolation", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import trackwell` alone loads nothing (generated helpers import only
    # `trackwell.interfaces`), and no module below the SDK reaches the SDK through the root.
    if name == "__version__":
        from trackwell.core import version

        return version.__version__
    if name in ("Client", "PlanViolation"):
        from trackwell.sdk import client

        return getattr(client, name)
    raise AttributeError(f"module 'trackwell' has no attribute {name!r}")
