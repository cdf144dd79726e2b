"""Destinations: each tool's wire format, and the HTTP seam they send through.

Names are resolved lazily (PEP 562), so importing one module of the package, or the package,
loads no tool's module: an application pays only for the destinations it builds.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from trackwell.core.outcomes import Outcome

if TYPE_CHECKING:
    from trackwell.destinations.amplitude import Amplitude
    from trackwell.destinations.base import Destination, Outgoing, Prepared
    from trackwell.destinations.common import MissingCredentialsError
    from trackwell.destinations.customerio import CustomerIO
    from trackwell.destinations.http import (
        CaptureTransport,
        HttpRequest,
        HttpResponse,
        HttpxTransport,
        Transport,
        TransportError,
    )
    from trackwell.destinations.mixpanel import Mixpanel
    from trackwell.destinations.segment import SegmentCompatible
    from trackwell.destinations.webhook import Webhook

# Public name -> the module that defines it.
_WHERE = {
    "Amplitude": "amplitude",
    "CaptureTransport": "http",
    "CustomerIO": "customerio",
    "Destination": "base",
    "HttpRequest": "http",
    "HttpResponse": "http",
    "HttpxTransport": "http",
    "MissingCredentialsError": "common",
    "Mixpanel": "mixpanel",
    "Outgoing": "base",
    "Prepared": "base",
    "SegmentCompatible": "segment",
    "Transport": "http",
    "TransportError": "http",
    "Webhook": "webhook",
}

__all__ = [
    "Amplitude",
    "CaptureTransport",
    "CustomerIO",
    "Destination",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "MissingCredentialsError",
    "Mixpanel",
    "Outcome",
    "Outgoing",
    "Prepared",
    "SegmentCompatible",
    "Transport",
    "TransportError",
    "Webhook",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        # AttributeError (not KeyError) also lets `from trackwell.destinations import submodule`
        # fall back to importing the submodule.
        raise AttributeError(f"module 'trackwell.destinations' has no attribute {name!r}")
    return getattr(import_module(f"trackwell.destinations.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
