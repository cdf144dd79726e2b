"""Real event names and labelled pairs, to measure how well `near_duplicate` tells drift from
distinct names: false positives over every pair of one source, catches over must-catch pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from trackwell.plan import naming, vocabulary

DATA = Path(__file__).parent / "data" / "event_names"
PAIR_FILES = ("must_catch.txt", "distinct_pairs.txt")
Detector = Callable[[str, str], object | None]


def _lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def sources() -> dict[str, list[str]]:
    """Each source file's real names, by file stem (a name listed twice is kept once)."""
    return {
        path.stem: list(dict.fromkeys(_lines(path)))
        for path in sorted(DATA.glob("*.txt"))
        if path.name not in PAIR_FILES
    }


def labelled(file: str) -> list[tuple[str, str]]:
    """The `A | B` pairs of a labelled file."""
    pairs = []
    for line in _lines(DATA / file):
        a, _, b = line.partition("|")
        pairs.append((a.strip(), b.strip()))
    return pairs


def generated_drifts(name: str) -> Iterator[tuple[str, str]]:
    """The drifts a real name can suffer: other case styles, words reversed, a plural, a US/UK
    spelling, and two typos (adjacent letters swapped, a letter dropped) in its longest word.

    A typo that happens to spell another known word is no typo by the rule's definition
    (`Stared` for `Started` is kept, `Sated` would be too; `Ended` for `Enede` is not made).
    """
    words = naming.words(name)
    styles = {naming.to_snake(name), naming.to_title(name), naming.to_pascal(name)}
    for other in sorted(styles - {name}):
        yield name, other
    if len(words) > 1 and words[::-1] != words:
        yield name, " ".join(words[::-1])
    if not words[0].endswith("s"):
        yield name, " ".join([words[0] + "s", *words[1:]])
    for us, uk in (("cancel", "cancell"), ("ization", "isation"), ("ize", "ise")):
        if us in name.lower() and uk not in name.lower():
            yield name, name.lower().replace(us, uk)
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    if len(word) >= 5:
        middle = len(word) // 2
        swapped = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
        # A letter dropped from a five-letter word leaves a name too short to call a typo.
        dropped = word[:middle] + word[middle + 1 :] if len(word) > 5 else word
        for typo in (swapped, dropped):
            if typo != word and not vocabulary.is_word(typo):
                yield name, " ".join([*words[:longest], typo, *words[longest + 1 :]])


@dataclass(frozen=True, slots=True)
class SourceResult:
    """False positives of one source: pairs flagged among its distinct real names."""

    source: str
    names: int
    pairs: int
    flagged: tuple[tuple[str, str], ...]

    @property
    def rate(self) -> float:
        """Flagged pairs over all pairs."""
        return len(self.flagged) / self.pairs if self.pairs else 0.0


def false_positives(detect: Detector) -> list[SourceResult]:
    """Every pair of real names within each source, and those `detect` flags."""
    results = []
    for source, names in sources().items():
        pairs = list(combinations(names, 2))
        flagged = tuple((a, b) for a, b in pairs if detect(a, b) is not None)
        results.append(SourceResult(source, len(names), len(pairs), flagged))
    return results


def must_catch() -> list[tuple[str, str]]:
    """The hand-written pairs plus every generated drift of every real name."""
    pairs = labelled("must_catch.txt")
    for names in sources().values():
        for name in names:
            pairs.extend(generated_drifts(name))
    return list(dict.fromkeys(pairs))


def missed(detect: Detector, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs `detect` does not flag."""
    return [(a, b) for a, b in pairs if detect(a, b) is None]
