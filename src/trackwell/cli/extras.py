"""Optional installs: a command that needs an extra the user did not install says which one."""

from __future__ import annotations

from importlib.util import find_spec

from trackwell.cli.output import fail

# What each extra of pyproject.toml brings, by the module its code imports. `trackwell[server]`:
# the gateway and the console; `trackwell[postgres]`: the PostgreSQL store.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "server": ("starlette", "uvicorn", "httptools", "prometheus_client", "jinja2", "tomlkit"),
    "postgres": ("psycopg", "psycopg_pool"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (none when it is installed)."""
    return [name for name in EXTRA_MODULES[extra] if find_spec(name) is None]


def require_extra(extra: str, what: str) -> None:
    """Exit 2 with the command to run when `what` needs an extra that is not installed."""
    missing = missing_modules(extra)
    if missing:
        fail(
            f"{what} needs the {extra} extra, which is not installed (missing: "
            f"{', '.join(missing)}); install it with: pip install 'trackwell[{extra}]'"
        )
