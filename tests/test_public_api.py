"""The public API is declared: a name appearing or vanishing must be noticed here."""

from __future__ import annotations

import trackwell
import trackwell.plan


def test_trackwell_exports() -> None:
    assert sorted(trackwell.__all__) == ["Client", "PlanViolation", "__version__"]
    for name in trackwell.__all__:
        assert getattr(trackwell, name) is not None


def test_plan_exports() -> None:
    assert sorted(trackwell.plan.__all__) == [
        "EventSpec",
        "Plan",
        "PlanLoadError",
        "Policy",
        "PropertySpec",
        "load_plan",
        "parse_plan",
    ]
    for name in trackwell.plan.__all__:
        assert hasattr(trackwell.plan, name)


def test_interfaces_path_for_generated_code() -> None:
    """Generated helpers import `trackwell.interfaces`; the SDK's Client satisfies its Protocol."""
    import trackwell.interfaces

    assert sorted(trackwell.interfaces.__all__) == ["Timestamp", "TrackingClient"]
    from trackwell.sdk.client import Client

    client_methods = {"track", "identify"}
    assert client_methods <= set(dir(trackwell.interfaces.TrackingClient))
    assert client_methods <= set(dir(Client))


def test_testing_plugin_path() -> None:
    """`pytest_plugins = ["trackwell.testing"]` keeps working: the fixture and the hook are there."""
    import trackwell.testing

    assert sorted(trackwell.testing.__all__) == [
        "PLAN_OPTION",
        "TestClient",
        "pytest_addoption",
        "trackwell_client",
    ]
    for name in trackwell.testing.__all__:
        assert hasattr(trackwell.testing, name)


def test_destinations_exports() -> None:
    import trackwell.destinations

    assert sorted(trackwell.destinations.__all__) == [
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
    for name in trackwell.destinations.__all__:
        assert getattr(trackwell.destinations, name) is not None
