"""Findings: what a monitor tells the on-call engineer, with a severity and what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Severity: TypeAlias = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


_RANK: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}


def rank(severity: str) -> int:
    """A severity's order: info 0, warning 1, critical 2 (unknown names sort lowest)."""
    return _RANK.get(severity, -1)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a monitor found: about what, how bad, in words, and the numbers behind it."""

    monitor: str
    key: str  # what it is about (an event, a destination, a source); stable across runs
    severity: Severity
    title: str  # one line, fit for a chat message or a pager
    explanation: str  # plain language: what is happening and what to do
    value: float = 0.0  # the headline number; a larger value means worse (alerts re-fire on growth)
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """`monitor:key`, the identity alerts and de-duplication use."""
        return f"{self.monitor}:{self.key}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "monitor": self.monitor,
            "key": self.key,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "value": self.value,
            "numbers": self.numbers,
        }


def ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by monitor and key, so output and alerts are stable."""
    return sorted(findings, key=lambda f: (-rank(f.severity), f.monitor, f.key))


def percent(fraction: float) -> str:
    """0.053 -> '5.3 %'; whole numbers without decimals."""
    value = fraction * 100
    return f"{value:.0f} %" if abs(value - round(value)) < 0.05 else f"{value:.1f} %"


def count(number: float) -> str:
    """12345 -> '12,345'."""
    return f"{round(number):,}"
