"""The tracking plan: model, loader, lint, diff, JSON Schema and Segment import/export."""

from trackwell.plan.loader import PlanLoadError, load_plan, parse_plan
from trackwell.plan.model import EventSpec, Plan, Policy, PropertySpec

__all__ = [
    "EventSpec",
    "Plan",
    "PlanLoadError",
    "Policy",
    "PropertySpec",
    "load_plan",
    "parse_plan",
]
