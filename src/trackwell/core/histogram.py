"""Latency histograms with fixed buckets: mergeable counts, percentiles without raw samples."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

# Upper bounds in seconds; the last bucket takes everything above the previous bound.
BOUNDS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 259200,
    float("inf"),
)  # fmt: skip


def empty() -> list[int]:
    """A histogram with no samples."""
    return [0] * len(BOUNDS)


def add(histogram: list[int], seconds: float) -> None:
    """Count one sample."""
    histogram[bisect.bisect_left(BOUNDS, max(seconds, 0.0))] += 1


def merge(into: list[int], other: Sequence[int]) -> None:
    """Add another histogram's counts (tolerates one written with fewer buckets)."""
    for index, count in enumerate(other[: len(into)]):
        into[index] += count


def percentile(histogram: Sequence[int], fraction: float) -> float | None:
    """The bucket bound below which `fraction` of the samples fall (an upper estimate)."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = fraction * total
    running = 0
    for bound, count in zip(BOUNDS, histogram, strict=False):
        running += count
        if running >= rank:
            return bound if bound != float("inf") else BOUNDS[-2] * 2
    return BOUNDS[-2] * 2
