"""Plans the generators are tested on, and the tools that check what they generate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trackwell.plan import Plan

from ..conftest import ROOT
from ..plan.helpers import make_plan

NPM_CACHE = ROOT / ".cache" / "npm"
# The npm packages the checks run: tsc for the TypeScript output, pyright for the Python one.
NPM_PACKAGES = {"tsc": "typescript@5", "pyright": "pyright@1"}

# One plan with every awkward case the generators must name or type correctly.
EDGE_EVENTS: dict[str, Any] = {
    "Account Created": {
        "stage": "Activation",
        "description": 'Title case; "quoted" and a \\ backslash.',
        "properties": {
            "plan": {"type": "string", "enum": ["free", "it's", 'say "hi"'], "required": True},
        },
    },
    # Collides with "Account Created" once snake-cased.
    "account_created": {
        "stage": "Activation",
        "description": '"Starts and ends with a quote"',
        "properties": {"source": "string"},
    },
    "3D Model Exported": {
        "stage": "Engagement",
        "properties": {
            "format": {"type": "string", "enum": ["stl", "obj"], "required": True},
            "polygon_count_v2": "integer",
        },
    },
    "Plan Upgraded V2": {"stage": "Expansion", "properties": {}},
    "Heartbeat Sent": {"stage": "Engagement"},
    # Named like a method of Events, with properties named like its parameters.
    "Track": {
        "stage": "Engagement",
        "properties": {
            "timestamp": {"type": "timestamp", "required": True},
            "message_id": "string",
            "self": "string",
            "properties": {"type": "object", "properties": {"a": "string"}},
        },
    },
    "Reserved Words Used": {
        "stage": "Engagement",
        "description": "Property names that are keywords, builtins or not identifiers.",
        "properties": {
            "class": {"type": "string", "required": True},
            "from": {"type": "integer", "required": True},
            "type": {"type": "string", "enum": ["a", "b"]},
            "import": "boolean",
            "plan-name": "string",
            "3d": "string",
            "str": "integer",
        },
    },
    "Order Completed": {
        "stage": "Expansion",
        "description": "Nested objects and arrays.",
        "properties": {
            "products": {
                "type": "array",
                "required": True,
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "required": True},
                        "quantity": {"type": "integer", "required": True},
                        "price": {"type": "number", "nullable": True},
                        "tags": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["new", "sale"]},
                        },
                    },
                },
            },
            "shipping_address": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "city": {"type": "string", "required": True},
                    "geo": {
                        "type": "object",
                        "properties": {
                            "lat": {"type": "number", "required": True},
                            "lon": {"type": "number", "required": True},
                        },
                    },
                },
            },
            "matrix": {"type": "array", "items": {"type": "array", "items": "integer"}},
            "discount_rate": {"type": "number", "enum": [0.1, 0.25]},
            "gift": {"type": "boolean", "enum": [True]},
            "priority": {"type": "integer", "enum": [1, 2, 3]},
            "next_retry_at": {"type": "timestamp", "nullable": True, "required": True},
        },
    },
    "Old Checkout Done": {
        "stage": "Expansion",
        "deprecated": True,
        "replaced_by": "Order Completed",
        "properties": {"total": {"type": "number", "required": True}},
    },
    "Legacy Thing Happened": {"stage": "Churn", "deprecated": True},
    "A Rather Long Event Name For Checking Line Lengths Of Generated Code": {
        "stage": "Churn",
        "properties": {
            "an_extraordinarily_long_property_name_here": {
                "type": "array",
                "items": {"type": "string", "enum": ["first_value", "second_value"]},
            },
            "another_rather_long_nullable_enum_property": {
                "type": "string",
                "nullable": True,
                "enum": ["alpha", "beta"],
                "required": True,
            },
        },
    },
}
EDGE_TRAITS: dict[str, Any] = {
    "email": {"type": "string", "format": "email", "required": True},
    "class": "string",
    "user_id": {"type": "string", "description": 'Clashes with the "user_id" parameter.'},
}


@pytest.fixture(scope="session")
def edge_plan() -> Plan:
    """A plan of awkward names, nesting and deprecations."""
    return make_plan(EDGE_EVENTS, name='Edge "Cases"', version=7, traits=EDGE_TRAITS)


@pytest.fixture(scope="session")
def npm_tools() -> dict[str, Path]:
    """tsc and pyright from the npm registry, installed once into the repository's cache."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the TypeScript and pyright checks need it")
    binaries = {tool: NPM_CACHE / "node_modules" / ".bin" / tool for tool in NPM_PACKAGES}
    if not all(path.exists() for path in binaries.values()):
        packages = NPM_PACKAGES.values()
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_CACHE), *packages],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, f"npm install failed:\n{result.stderr}"
    return binaries
