"""Names of events and properties: cases, tense, UI noise, and names a person would confuse."""

from __future__ import annotations

import keyword
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from trackwell.plan import vocabulary

_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")
_TITLE_RE = re.compile(r"^[A-Z0-9][A-Za-z0-9]*( [A-Z0-9][A-Za-z0-9]*)*$")
_SNAKE_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_CAMEL_RE = re.compile(r"^[a-z][a-z0-9]*([A-Z][a-z0-9]*)*$")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Past forms that do not end in -ed; enough for event names in SaaS plans.
_IRREGULAR_PAST = _word_set(
    """
    arisen awoke awoken began begun bent bet bid bitten blown bought brought built burnt
    caught chosen come cut dealt done drawn driven drunk eaten fallen felt fought found flown
    forgotten forgiven frozen given gone got gotten grown heard held hidden hit hung hurt kept
    known laid led left lent let lit lost made meant met paid put quit read rebuilt redone
    reset resent rewritten ridden risen run said seen sold sent set shaken shed shown shut
    sung sunk slept spent split spoken spun spread stood stolen struck sworn swept
    taken taught thrown thought told torn understood undone upheld upset withdrawn won worn
    written wound
    """
)
# Words ending in -ed that are not past tense.
_NOT_PAST = _word_set("bed bleed breed embed feed greed need red seed speed weed deed steed reed")
# Words that mark raw interface noise rather than a business action.
_UI_VERBS = _word_set(
    "clicked tapped scrolled hovered pressed focused blurred swiped dragged moused "
    "toggled expanded collapsed resized"
)
_UI_NOUNS = _word_set("button link mouse cursor scroll hover tooltip dropdown modal")

# Spelling variants (US / UK) reduced to one form when comparing names.
_VARIANTS = (
    (re.compile(r"cancell"), "cancel"),
    (re.compile(r"isation"), "ization"),
    (re.compile(r"ise(d|s)?$"), r"ize\1"),
    (re.compile(r"our$"), "or"),
    (re.compile(r"enrol(?!l)"), "enroll"),
)
_VARIANT_HINT = re.compile(r"cancell|isation|is|our$|enrol")


def words(name: str) -> list[str]:
    """The words of a name in any case or separator style, lower-cased."""
    return [w.lower() for w in _WORD_RE.findall(name)]


def to_title(name: str) -> str:
    """`account_created` -> `Account Created`."""
    return " ".join(w[:1].upper() + w[1:] for w in words(name))


def to_snake(name: str) -> str:
    """`Account Created` -> `account_created`."""
    return "_".join(words(name))


def to_camel(name: str) -> str:
    """`plan_name` -> `planName`."""
    parts = words(name)
    return parts[0] + "".join(w.capitalize() for w in parts[1:]) if parts else ""


def to_pascal(name: str) -> str:
    """`Account Created` -> `AccountCreated`."""
    return "".join(w.capitalize() for w in words(name))


def python_identifier(name: str) -> str:
    """A snake_case Python identifier for a name: never a keyword, never starting with a digit."""
    ident = to_snake(name) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    # Hard keywords only: soft keywords (`type`, `match`) differ between Python versions and
    # are valid names anyway, so generated code stays the same on every interpreter.
    if keyword.iskeyword(ident):
        ident += "_"
    return ident


def is_title_case(name: str) -> bool:
    """True for `Account Created`: capitalised words separated by single spaces."""
    return bool(_TITLE_RE.match(name))


def is_snake_case(name: str) -> bool:
    """True for `account_created`."""
    return bool(_SNAKE_RE.match(name))


def is_camel_case(name: str) -> bool:
    """True for `planName`."""
    return bool(_CAMEL_RE.match(name))


def is_past_tense(word: str) -> bool:
    """Whether a single word reads as a past-tense verb (`Created`, `Sent`, `Hit`)."""
    w = word.lower()
    if w in _IRREGULAR_PAST:
        return True
    return w.endswith("ed") and len(w) > 3 and w not in _NOT_PAST


def ui_noise_word(name: str) -> str | None:
    """The word that makes a name look like raw UI noise (`Button Clicked`), if any."""
    for word in words(name):
        if word in _UI_VERBS or word in _UI_NOUNS:
            return word
    return None


def _canonical_words(name: str, split: Iterable[str] | None = None) -> list[str]:
    result = []
    for word in words(name) if split is None else split:
        if _VARIANT_HINT.search(word):  # most words have no variant: skip five substitutions
            for pattern, replacement in _VARIANTS:
                word = pattern.sub(replacement, word)
        result.append(word)
    return result


# The vocabulary in the one spelling names are compared in (`cancelation`, `organization`).
_CANONICAL_VOCABULARY = frozenset(_canonical_words("", vocabulary.VOCABULARY))


@dataclass(frozen=True, slots=True)
class Confusion:
    """Why two names would be confused, in words a person understands."""

    kind: str  # "case", "order", "spelling", "plural", "typo"
    explanation: str


@dataclass(frozen=True, slots=True)
class Analysed:
    """A name split once: its words, their canonical spelling, and those joined."""

    name: str
    words: tuple[str, ...]
    canonical: tuple[str, ...]
    joined: str

    @classmethod
    def of(cls, name: str) -> Analysed:
        """`name` split and canonicalised."""
        split = tuple(words(name))
        canonical = tuple(_canonical_words(name, split))
        return cls(name, split, canonical, "".join(canonical))


# A typo is at most this many letters (`_typo_budget`); every other kind of confusion has the
# same canonical letters (or a plural ending), so names whose canonical lengths differ by more
# are never confused.
_MAX_TYPO = 2


def confusion(a: str, b: str) -> Confusion | None:
    """How a sender of `a` may have meant `b`, or None: the loose test behind did-you-mean.

    Any small edit counts as a typo here, even one that makes another word (`Tax Added` for
    `Tag Added`): suggesting the planned name costs a reader nothing when it is wrong.
    """
    if a == b:
        return None
    return _confusion(Analysed.of(a), Analysed.of(b))


def near_duplicate(a: str, b: str) -> Confusion | None:
    """How two planned names would be mistaken for each other, or None: the strict test of lint.

    Case and separator drift, word order, US/UK spelling, singular against plural, and typos
    that make a non-word (`Account Crated`); an edit that makes another known word
    (`Clients Exported`, `Tag Added`, `Import Started` / `Report Started`) is a different name.
    """
    if a == b:
        return None
    return _strict(Analysed.of(a), Analysed.of(b))


def _confusion(a: Analysed, b: Analysed) -> Confusion | None:
    """The loose test: same words in any case, order or spelling, or letters apart."""
    if a.name == b.name:
        return None
    if abs(len(a.joined) - len(b.joined)) > _MAX_TYPO:
        return None  # cheap exit: the common case for a name that matches nothing
    wa, wb = a.words, b.words
    if wa == wb or "".join(wa) == "".join(wb):
        return Confusion("case", "the same words in another case or separator")
    if sorted(wa) == sorted(wb):
        return Confusion("order", "the same words in another order")
    ca, cb = a.canonical, b.canonical
    if ca == cb or sorted(ca) == sorted(cb) or a.joined == b.joined:
        return Confusion("spelling", "the same words with another spelling")
    budget = _typo_budget(min(len(a.joined), len(b.joined)))
    if budget == 0:
        return None
    distance = OSA.distance(a.joined, b.joined, score_cutoff=budget)
    if 0 < distance <= budget:
        return Confusion("typo", f"{distance} letter{'s' if distance > 1 else ''} apart")
    return None


def _strict(a: Analysed, b: Analysed) -> Confusion | None:
    """`_confusion`, with its typos re-read word by word (and plurals told apart)."""
    if abs(len(a.joined) - len(b.joined)) > _MAX_TYPO:
        return None
    found = _confusion(a, b)
    if found is not None and found.kind != "typo":
        return found
    if len(a.canonical) != len(b.canonical):
        # Words split differently and letters apart as well: a typo only when a word that is
        # in one name and not the other is no known word (`Sign Upp` against `Signup`).
        if found is None:
            return None
        extra = set(a.canonical) ^ set(b.canonical)
        return found if not all(_known(w) for w in extra) else None
    differing = [(x, y) for x, y in _aligned(a, b) if x != y]
    plural = all(_plural_pair(x, y) for x, y in differing)
    if plural and differing:
        return Confusion("plural", "the same words, one in the plural")
    total = 0
    for x, y in differing:
        if _plural_pair(x, y):
            total += 1
            continue
        if _known(x) and _known(y):
            return None  # two real words: `Imported` / `Exported`, `Tag` / `Tax`
        distance = OSA.distance(x, y, score_cutoff=_word_budget(min(len(x), len(y))) + 1)
        if distance > _word_budget(min(len(x), len(y))):
            return None
        total += distance
    if total > _typo_budget(min(len(a.joined), len(b.joined))):
        return None
    return Confusion("typo", f"{total} letter{'s' if total > 1 else ''} apart")


def _aligned(a: Analysed, b: Analysed) -> list[tuple[str, str]]:
    """`a`'s words paired with `b`'s: shared words with themselves, the rest in order, so a
    word both moved and misspelt (`Crated Account`) meets the word it stands for."""
    shared = Counter(a.canonical) & Counter(b.canonical)
    skip = Counter(shared)
    rest = []  # `a`'s words that `b` does not have, in written order
    for word in a.canonical:
        if skip[word] > 0:
            skip[word] -= 1
        else:
            rest.append(word)
    pairs = []
    for word in b.canonical:
        if shared[word] > 0:
            shared[word] -= 1
            pairs.append((word, word))
        else:
            pairs.append((rest.pop(0), word))
    return pairs


def _known(word: str) -> bool:
    """Whether a (canonically spelt) word is a real word of product names."""
    return (
        word in _IRREGULAR_PAST
        or vocabulary.is_word(word)
        or vocabulary.is_word(word, _CANONICAL_VOCABULARY)
    )


def _plural_pair(x: str, y: str) -> bool:
    """`client` / `clients`, `reply` / `replies`, `box` / `boxes`: one word, two numbers."""
    short, long = sorted((x, y), key=len)
    return long in (short + "s", short + "es") or (
        short.endswith("y") and long == short[:-1] + "ies"
    )


def _word_budget(length: int) -> int:
    """How many letters a typo may change inside one word of `length` letters."""
    # Inside one word: three-letter words (`Tag`, `Tax`, `Ad`) never count as typos, because a
    # letter changes the word; long words may carry two slips.
    if length < 4:
        return 0
    if length < 8:
        return 1
    return 2


def _typo_budget(length: int) -> int:
    """How many letters a typo may change in a whole name of `length` canonical letters."""
    # Short names differ by one letter all the time on purpose ("Seat Added" vs "Seat Ended"
    # is already 3); only very close names count as a typo.
    if length < 5:
        return 0
    if length < 10:
        return 1
    return 2


_RANK = {"case": 0, "spelling": 1, "order": 2, "plural": 3, "typo": 4}


class NameIndex:
    """Candidate names analysed once, for many `closest` look-ups (a plan's events, pages).

    A look-up analyses the name once (linear in its length) and compares it in full only with
    candidates of about its length, so a long or odd name costs little whatever it holds.
    """

    __slots__ = ("_by_length",)

    def __init__(self, candidates: Iterable[str]) -> None:
        self._by_length: dict[int, list[Analysed]] = {}
        for candidate in candidates:
            analysed = Analysed.of(candidate)
            self._by_length.setdefault(len(analysed.joined), []).append(analysed)

    def closest(self, name: str | Analysed) -> str | None:
        """The candidate a sender of `name` most likely meant, or None when nothing is close."""
        if not self._by_length:
            return None
        analysed = name if isinstance(name, Analysed) else Analysed.of(name)
        name = analysed.name
        size = len(analysed.joined)
        best: tuple[int, int, str] | None = None
        for length in range(size - _MAX_TYPO, size + _MAX_TYPO + 1):
            for candidate in self._by_length.get(length, ()):
                found = _confusion(analysed, candidate)
                if found is None:
                    continue
                distance = OSA.distance(name.lower(), candidate.name.lower())
                key = (_RANK[found.kind], distance, candidate.name)
                if best is None or key < best:
                    best = key
        return best[2] if best else None


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a sender of `name` most likely meant, or None when nothing is close."""
    return NameIndex(candidates).closest(name)
