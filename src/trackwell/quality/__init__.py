"""Checks against the plan: validation, privacy, identity, time, and naming suggestions."""

from trackwell.core.violations import CODES, CheckResult, Verdict, Violation
from trackwell.quality.check import check_message
from trackwell.quality.compiled import CompiledPlan, compile_plan

__all__ = [
    "CODES",
    "CheckResult",
    "CompiledPlan",
    "Verdict",
    "Violation",
    "check_message",
    "compile_plan",
]
