"""trackwell.testing, used the way a team would: a pytest run in a subprocess on its own tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import EXAMPLE_PLAN

TEAM_TESTS = """
import pytest
import trackwell

def signup(analytics, user_id):
    analytics.identify(user_id, {"email": "ada@example.com", "created_at": 1700000000})
    analytics.track(user_id, "Account Created", {"plan": "free", "signup_source": "organic"})

def test_signup_is_tracked(trackwell_client):
    signup(trackwell_client, "u-1")
    trackwell_client.assert_tracked("u-1", "Account Created", plan="free")
    trackwell_client.assert_identified("u-1", email="ada@example.com")
    trackwell_client.assert_not_tracked("u-1", "Trial Started")

def test_wrong_property_value_fails_the_assertion(trackwell_client):
    signup(trackwell_client, "u-2")
    with pytest.raises(AssertionError, match="did not track 'Account Created'"):
        trackwell_client.assert_tracked("u-2", "Account Created", plan="pro")

def test_a_typo_raises_plan_violation(trackwell_client):
    with pytest.raises(trackwell.PlanViolation, match="did you mean 'Account Created'"):
        trackwell_client.track("u-3", "Account Crated", {"plan": "free", "signup_source": "organic"})
"""


def test_plugin_fixture_and_assertions(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["trackwell.testing"]\n')
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ntrackwell_plan = {EXAMPLE_PLAN}\n")
    (tmp_path / "test_team.py").write_text(TEAM_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
