"""Generated code for the richer plan: versions as a union of the live ones, one type per shared
property, page/screen/group types; mypy --strict and tsc --strict accept right uses and reject
wrong ones, and the Markdown documents each shared property once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trackwell.codegen import generate_markdown, generate_python, generate_typescript
from trackwell.plan import Plan, parse_plan

from ..plan.rich import RICH_PLAN, rich_plan


def both_live() -> Plan:
    """The rich plan with v1 not retired, so two versions are live at once."""
    return parse_plan(RICH_PLAN.replace("deprecated: true", "deprecated: false"))


PY_PREAMBLE = """\
from recorder import Recorder
from rich_events import (
    CheckoutCompletedProperties,
    DashboardScreenProperties,
    Events,
    GroupTraits,
    PlanName,
    PricingPageProperties,
)

__all__ = [
    "CheckoutCompletedProperties", "DashboardScreenProperties", "GroupTraits", "PlanName",
    "PricingPageProperties",
]
events = Events(Recorder())
"""
PY_GOOD = """\
events.checkout_completed("u", order_id="o", total_cents=990, currency="EUR")
events.track("u", "Checkout Completed", {"order_id": "o", "total": "9.90"})
events.track("u", "Checkout Completed", {"order_id": "o", "total_cents": 1, "currency": "USD"})
v1: CheckoutCompletedProperties = {"order_id": "o", "total": "9.90"}
plan: PlanName = "team"
events.subscription_started("u", workspace_id="w", plan_name=plan)
events.identify("u", plan_name=plan)
page: PricingPageProperties = {"url": "https://x.test/pricing", "plan_name": "pro"}
screen: DashboardScreenProperties = {"workspace_id": "w", "name": "Dashboard"}
group: GroupTraits = {"workspace_name": "Acme", "seats": 2, "plan_name": plan}
"""
PY_BAD = {
    "method_is_the_current_version": 'events.checkout_completed("u", order_id="o", total="9.90")',
    "version_mixed": (
        'events.track("u", "Checkout Completed", {"order_id": "o", "total": "1", "currency": "EUR"})'
    ),
    "shared_enum": 'plan: PlanName = "gold"',
    "page_enum": 'page: PricingPageProperties = {"billing_period": "weekly"}',
    "page_unplanned": 'page: PricingPageProperties = {"coupon": "X"}',
    "screen_required": "screen: DashboardScreenProperties = {}",
    "group_required": 'group: GroupTraits = {"seats": 2}',
}


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("rich-python")
    (folder / "rich_events.py").write_text(generate_python(both_live()))
    (folder / "recorder.py").write_text((Path(__file__).parent / "recorder.py").read_text())
    (folder / "good.py").write_text(PY_PREAMBLE + PY_GOOD)
    for name, code in PY_BAD.items():
        (folder / f"bad_{name}.py").write_text(f"{PY_PREAMBLE}{code}\n")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-error-summary"),
            *("--cache-dir", str(folder / ".mypy"), "--python-version", "3.11"),
            *sorted(p.name for p in folder.glob("*.py")),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, str] = {}
    for line in result.stdout.splitlines():
        file = line.split(":", 1)[0]
        report[file] = report.get(file, "") + line + "\n"
    return report


def test_mypy_accepts_the_generated_module_and_right_calls(mypy_report: dict[str, str]) -> None:
    clean = ["rich_events.py", "recorder.py", "good.py"]
    assert {name: mypy_report[name] for name in clean if name in mypy_report} == {}


@pytest.mark.parametrize("case", sorted(PY_BAD))
def test_mypy_rejects_a_wrong_use(mypy_report: dict[str, str], case: str) -> None:
    assert f"bad_{case}.py" in mypy_report, f"mypy accepted: {PY_BAD[case]}"


def test_python_types_follow_the_versions_and_the_library() -> None:
    module = generate_python(both_live())
    union = "CheckoutCompletedV2Properties | CheckoutCompletedV1Properties"
    assert f"CheckoutCompletedProperties = (\n    {union}\n)" in module
    # One Literal for the shared enum, whatever uses it.
    assert module.count('Literal["starter", "pro", "team"]') == 1
    retired = generate_python(rich_plan())
    assert "CheckoutCompletedV1Properties" not in retired  # a retired version is not typed
    assert "CheckoutCompletedProperties = CheckoutCompletedV2Properties\n" in retired


TS_GOOD = """\
import { EventMap, GroupTraits, PageMap, ScreenMap, trackEvent } from './rich_events';

trackEvent('u', 'Checkout Completed', { order_id: 'o', total: '9.90' });
trackEvent('u', 'Checkout Completed', { order_id: 'o', total_cents: 1, currency: 'EUR' });
const page: PageMap['Pricing'] = { url: 'https://x.test', plan_name: 'pro' };
const screen: ScreenMap['Dashboard'] = { workspace_id: 'w' };
const group: GroupTraits = { workspace_name: 'Acme', seats: 2 };
const all: EventMap['Subscription Started'] = { workspace_id: 'w', plan_name: 'team' };
export { page, screen, group, all };
"""
TS_BAD = {
    "version_mixed": (
        "trackEvent('u', 'Checkout Completed', { order_id: 'o', total: '1', currency: 'EUR' });"
    ),
    "page_enum": "const page: PageMap['Pricing'] = { billing_period: 'weekly' }; export { page };",
    "group_required": "const group: GroupTraits = { seats: 2 }; export { group };",
}
TS_IMPORT = "import { GroupTraits, PageMap, trackEvent } from './rich_events';\nvoid trackEvent;\n"


def test_tsc_accepts_right_uses_and_rejects_wrong_ones(
    tmp_path: Path, npm_tools: dict[str, Path]
) -> None:
    (tmp_path / "rich_events.ts").write_text(generate_typescript(both_live()))
    (tmp_path / "good.ts").write_text(TS_GOOD)
    for name, code in TS_BAD.items():
        (tmp_path / f"bad_{name}.ts").write_text(f"{TS_IMPORT}{code}\n")
    result = subprocess.run(
        [
            *(str(npm_tools["tsc"]), "--strict", "--noEmit", "--pretty", "false"),
            *sorted(p.name for p in tmp_path.glob("*.ts")),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    failing = {line.split("(", 1)[0] for line in result.stdout.splitlines() if "): error" in line}
    assert failing == {f"bad_{name}.ts" for name in TS_BAD}, result.stdout


def test_markdown_documents_each_shared_property_once() -> None:
    text = generate_markdown(rich_plan())
    assert "## Shared properties" in text and "## Group traits" in text
    assert text.count("`starter`, `pro`, `team`") == 1
    assert text.count("Shared: [`plan_name`](#shared-properties).") == 4
    assert "- `plan_name`: traits, group traits, event 'Subscription Started', page 'Pricing'" in (
        text
    )
    assert "Old names: `period`." in text
    assert "**Version `v1`** (retired: still accepted, reported)." in text
    assert "**Version `v2`** (live, current)." in text
    assert "**The page `Pricing`.** The pricing table." in text
    assert "Shared: [`plan_name`](#shared-properties). The plan whose column was open." in text
