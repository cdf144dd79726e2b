"""False positives and catches of `near_duplicate` on real event names, against the old rule.

Run by hand from the repository root: `python bench/bench_near_duplicate.py`. For each source
of real names (tests/plan/data/event_names/, each file citing where its names come from) it
counts the pairs of distinct names flagged, then the must-catch pairs (hand-written drifts and
typos plus drifts made from every real name) missed. "loose" is `naming.confusion`, the test
behind did-you-mean suggestions and the lint rule before it was reworked.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.plan.name_corpus import (
    Detector,
    false_positives,
    labelled,
    missed,
    must_catch,
)

from trackwell.plan import naming


def main() -> None:
    """Print the table."""
    detectors: dict[str, Detector] = {
        "near_duplicate": naming.near_duplicate,
        "loose": naming.confusion,
    }
    print(f"{'source':<22}{'names':>7}{'pairs':>8}" + "".join(f"{n:>18}" for n in detectors))
    results = {name: false_positives(detect) for name, detect in detectors.items()}
    first = next(iter(results.values()))
    for row, source in enumerate(first):
        cells = "".join(f"{len(r[row].flagged):>9} ({r[row].rate:6.2%})" for r in results.values())
        print(f"{source.source:<22}{source.names:>7}{source.pairs:>8}{cells}")
    pairs = sum(s.pairs for s in first)
    cells = "".join(
        f"{sum(len(s.flagged) for s in r):>9} ({sum(len(s.flagged) for s in r) / pairs:6.2%})"
        for r in results.values()
    )
    print(f"{'all sources':<22}{sum(s.names for s in first):>7}{pairs:>8}{cells}")
    catch = must_catch()
    distinct = labelled("distinct_pairs.txt")
    print()
    print(f"must-catch pairs: {len(catch)}")
    for name, detect in detectors.items():
        lost = missed(detect, catch)
        wrong = len(distinct) - len(missed(detect, distinct))
        print(
            f"  {name:<16} caught {len(catch) - len(lost)}/{len(catch)}"
            f" ({(len(catch) - len(lost)) / len(catch):.2%});"
            f" flags {wrong}/{len(distinct)} hand-written distinct pairs"
        )
        for a, b in lost[:5]:
            print(f"    missed: {a!r} / {b!r}")


if __name__ == "__main__":
    main()
