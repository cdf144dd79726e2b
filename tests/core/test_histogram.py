"""core.histogram: fixed-bucket latency counts that merge and give upper-bound percentiles."""

from __future__ import annotations

from trackwell.core.histogram import BOUNDS, add, empty, merge, percentile


def test_samples_land_in_the_first_bucket_that_holds_them() -> None:
    counts = empty()
    for seconds in (-1.0, 0.05, 0.06, 7200.0, 10**9):
        add(counts, seconds)
    assert counts[0] == 2  # a negative latency (clock skew) counts as the fastest
    assert counts[1] == 1 and counts[BOUNDS.index(7200)] == 1 and counts[-1] == 1


def test_percentiles_are_upper_bounds_and_none_without_samples() -> None:
    assert percentile(empty(), 0.5) is None
    counts = empty()
    for seconds in [0.2] * 90 + [40.0] * 10:
        add(counts, seconds)
    assert percentile(counts, 0.5) == 0.25
    assert percentile(counts, 0.95) == 60
    add(counts, 10**9)
    assert percentile(counts, 1.0) == BOUNDS[-2] * 2  # the open bucket: twice the last bound


def test_merge_tolerates_a_histogram_with_fewer_buckets() -> None:
    into = empty()
    merge(into, [1, 2, 3])
    merge(into, [1] * (len(BOUNDS) + 5))
    assert into[:3] == [2, 3, 4] and sum(into) == 6 + len(BOUNDS)
