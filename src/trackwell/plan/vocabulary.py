"""The words of product-analytics names, to tell a typo (`Crated`) from another word (`Tax`)."""

from __future__ import annotations

import re
from functools import lru_cache

# Base forms only (`import`, `client`, `cancel`): inflections (`imported`, `clients`,
# `cancelling`) and prefixes (`unsubscribe`, `reactivate`) are derived by `is_word`. The list is
# the vocabulary of event and property names in SaaS, e-commerce, media and mobile plans, not
# the whole language: `crate`, `tax` and `tag` are both plausible English, but only the last two
# name things a product tracks, so `Account Crated` reads as a typo and `Tax Added` does not.
_BASE = """
a about above accept access account achieve achievement acquire acquisition act action activate
active activity ad add address admin adjust advance affiliate after agent agree agreement alert
all allow amount analytics android annotation annual answer api app appear append application
apply appointment approve archive area article ask assign assignment attach attachment attempt
attend attribute attribution audience audio audit auth author authorize auto automation available
avatar award back background backup badge balance ban bank banner base basket batch become begin
bid bill billing bitrate block board book booking bookmark boost bot bounce brand break browse
bucket budget buffer bug build bulk bundle button buy cache calendar call campaign cancel
cancellation card cart case cast catalog category change channel charge chat check checkout
choose churn claim class clear click client clip close cloud code coin collection comment commit
community company compare complete completion compose config configure confirm confirmation
connect connection consent contact content continue contract control convert conversation
conversion cookie copy cost count country coupon course cover create credit crop crash csv
currency custom customer cycle daily dashboard data database date day deal debit decline default
delete deliver delivery demo deny deploy deposit design detail device dial digest disable
discount dismiss display dispute document domain donate donation download downgrade draft drag
drop due duplicate earn edit editor email embed employee enable end enroll enrollment enter entry
error estimate event exit expand expense experiment expiration expire export extend extension
fail failure favorite feature feed feedback fee field file fill filter find finish first flag
flow folder follow form forward free friend fullscreen funnel game gateway generate gift give goal
grant group guest guide heartbeat help hide highlight hint history home hour identify idle image
impression import inbox install installation integrate integration interrupt interview invite
invitation invoice issue item job join key keyword kick label language launch layout lead learn
leave lesson level library license like limit link list listing live load location lock log login
logout lose lost mail manage mark market match media meeting member membership mention menu
merge message method migrate milestone minute mode modify month move mute name navigate network
new newsletter next note notification notify offer onboard onboarding open option order
organization organize owner package page paid pass password pause pay payment payout pending
permission phone photo pin place plan platform play playback player playlist pledge plugin
point policy poll popup portal post preference premium preview price pricing print privacy
problem process product profile program progress project promo promote promotion prompt
property provider publish purchase push qualify quality query question queue quiz quota quote
rate rating reach read reason receipt receive recommend recommendation record redeem redirect
referral refer refund region register registration reject release reload remind reminder remove
rename renew renewal reorder repeat reply report request require reservation reserve reset
resolve resource respond response restore result resume retry return revenue review revoke
reward role rollback room rule run sale save scan schedule score screen search seat second
section secure see seek segment select sell send session set setting setup share ship shipment
shipping shop show sign signup sidebar site size skip slide snooze social sort source spam spend
sponsor stage start status step stock stop storage store story stream submit subscribe
subscriber subscription success suggest suggestion summary support survey suspend swap switch
sync tab table tag tap task tax team template tenant term test text theme thread ticket tier time
timeout tip title token topic tour track trade transaction transcript transfer trial trigger
trip tutorial undo unit unlock update upgrade upload usage use user validate value variant
verification verify version video view visit voice vote voucher wallet warning watch webhook
webinar week widget win wishlist withdraw withdrawal word work workflow workspace write year zoom
"""
# Short words that name things in a plan too: `Ad Started` and `Up` (from `Signed Up`) differ
# from their neighbours by a letter, so they must be known rather than guessed.
_SHORT = "ab ad api app bot cta faq id in ip kyc no of off on out pdf pin sms sso to ui up url vip"

VOCABULARY: frozenset[str] = frozenset((_BASE + " " + _SHORT).split())

# Prefixes that make another word of a known one: `unsubscribe`, `reactivate`, `disqualify`.
_PREFIXES = ("un", "re", "dis", "de", "pre", "non", "sub", "co", "multi", "auto", "in")
_DOUBLED = re.compile(r"([b-df-hj-np-tv-z])\1$")


def _stems(word: str) -> set[str]:
    """What `word` could be an inflection of: `clients` -> client, `stopped` -> stop."""
    stems = {word}
    for suffix in ("s", "es", "ed", "ing", "er", "ers", "ment", "ments", "al", "ion", "ions"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            base = word[: -len(suffix)]
            stems.add(base)
            if suffix[0] in "ei":
                stems.add(base + "e")  # `created` -> create, `making` -> make
            if _DOUBLED.search(base):
                stems.add(base[:-1])  # `stopped` -> stop
    for suffix in ("ies", "ied"):
        if word.endswith(suffix):
            stems.add(word[: -len(suffix)] + "y")  # `replies` -> reply, `verified` -> verify
    return stems


@lru_cache(maxsize=8192)
def is_word(word: str, known: frozenset[str] = VOCABULARY) -> bool:
    """Whether `word` (lower case) is a known word of product-analytics names, or a number.

    `known` is the base list, or the same respelt (`naming` compares words in one spelling of
    US/UK pairs). Irregular past forms (`sent`, `paid`) are known to `naming`, which asks both.
    """
    if word.isdigit():
        return True
    if any(stem in known for stem in _stems(word)):
        return True
    # `unsubscribed`, `reactivated`, `disqualify`: a prefix on a known word.
    return any(
        word.startswith(prefix)
        and len(word) - len(prefix) >= 3
        and is_word(word[len(prefix) :], known)
        for prefix in _PREFIXES
    )
