"""The web console: people and timelines, the event catalog, violations, delivery and quality."""

from trackwell.console.app import create_console, is_console_path
from trackwell.console.auth import TOKEN_ENV, admin_token_hash
from trackwell.core.tokens import hash_token

__all__ = ["TOKEN_ENV", "admin_token_hash", "create_console", "hash_token", "is_console_path"]
