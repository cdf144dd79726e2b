"""Public path of the pytest plugin: `pytest_plugins = ["trackwell.testing"]` (lives in `trackwell.sdk`)."""

from trackwell.sdk.testing import PLAN_OPTION, TestClient, pytest_addoption, trackwell_client

__all__ = ["PLAN_OPTION", "TestClient", "pytest_addoption", "trackwell_client"]
