"""Vendors' well-known secret formats, in one table, each with the catalogue it comes from."""

from __future__ import annotations

import re

# Why a table here rather than the catalogue package itself: detect-secrets (Yelp, Apache-2.0,
# on PyPI) keeps these formats as one regex list per plugin class, but it has no Google API key
# and only OpenAI's legacy key format, its import pulls `requests` into the gateway, and its
# plugins run one regex per plugin per line; the gateway needs a single pass per value. The
# formats below are read from its plugins (version 1.5.0, `detect_secrets/plugins/*.py`) and,
# for what it lacks, from gitleaks' rule set (MIT, `config/gitleaks.toml`). Loosened where noted
# so a key of the same family with a newer length is still caught.
DS = "detect-secrets 1.5.0"
GL = "gitleaks config/gitleaks.toml"

# (vendor, source, pattern). Patterns are matched with re.ASCII, against values already
# NFKC-normalised, and combined into one alternation.
SECRET_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("AWS access key id (AKIA, ASIA, ...)", DS, r"\b(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("Stripe secret or restricted key (live and test)", DS, r"\b[rs]k_(?:live|test)_[0-9a-zA-Z]{10,}"),
    ("GitHub token", DS, r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{20,}"),
    ("GitHub fine-grained token", GL, r"\bgithub_pat_[A-Za-z0-9_]{40,}"),
    ("Slack token", DS, r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    ("Slack webhook", DS, r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/]{20,}"),
    ("Twilio account or key sid", DS, r"\b(?:AC|SK)[a-f0-9]{32}\b"),
    ("SendGrid key", DS, r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    ("Mailchimp key", DS, r"\b[0-9a-f]{32}-us[0-9]{1,2}\b"),
    ("npm token", GL, r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("PyPI token", DS, r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    ("Private key block", DS, r"BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY|PuTTY-User-Key-File-\d"),
    ("Azure storage account key", DS, r"AccountKey=[A-Za-z0-9+/=]{88}"),
    ("Discord bot token", DS, r"\b[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27}\b"),
    ("GitLab token", DS, r"\b(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-[A-Za-z0-9_-]{20,}"),
    ("GitLab runner registration token", DS, r"\bGR1348941[A-Za-z0-9_-]{20,50}"),
    ("Telegram bot token", DS, r"\b[0-9]{8,10}:[0-9A-Za-z_-]{35}\b"),
    ("Square OAuth secret or token", GL, r"\bsq0(?:csp|atp)-[0-9A-Za-z_-]{22,43}"),
    ("Artifactory token", DS, r"\bAKC[a-zA-Z0-9]{10,}\b"),
    ("Google API key", GL, r"\bAIza[0-9A-Za-z_-]{35}"),
    ("Google OAuth access token", GL, r"\bya29\.[0-9A-Za-z_-]{20,}"),
    # gitleaks anchors on the T3BlbkFJ marker; project, service-account and admin keys are
    # caught by their prefix alone (loosened).
    ("OpenAI key", GL, r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})"),
    ("Anthropic key", GL, r"\bsk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{40,}"),
    ("Shopify token", GL, r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
    ("Segment public API token", GL, r"\bsgp_[A-Za-z0-9]{64}\b"),
    ("Password in a URL", DS, r"://[^{}\s/:@]+:[^{}\s/:@]+@"),
)  # fmt: skip

SECRET_RE = re.compile("|".join(f"(?:{pattern})" for _, _, pattern in SECRET_FORMATS), re.ASCII)
