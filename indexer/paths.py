"""Where the indexer finds what it ships and where it keeps what it writes.

What ships (``abis/``, ``config/`` — defaults, feed tables, market configs — and ``migrations/``) is package data:
the wheel's build maps the project's top-level folders into ``indexer/_data/`` (pyproject.toml), and a source
checkout (an editable install) reads them from the checkout itself. Both are found through
``importlib.resources``, never through the current directory.

What the indexer writes (the SQLite database, the devnet's deployment file) lives in the data directory:

1. ``$INDEXER_HOME`` when set;
2. else, running from a source checkout, the checkout (so ``./data/`` there, as the quick start expects);
3. else ``$XDG_DATA_HOME/position-health-indexer`` (``~/.local/share/position-health-indexer``).

A relative path in the config (``sqlite:///data/indexer.db``, ``devnet = "data/devnet.json"``) is relative to the
data directory, whatever the working directory is.
"""

from __future__ import annotations

import functools
import logging
import os
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "position-health-indexer"
SHIPPED = ("abis", "config", "migrations")


def _package_dir() -> Path:
    return Path(str(resources.files("indexer")))


@functools.cache
def source_checkout() -> Path | None:
    """The source checkout this package runs from (its root holds pyproject.toml and the shipped folders), or
    None for an installed wheel."""
    root = _package_dir().parent
    if (root / "pyproject.toml").is_file() and all((root / name).is_dir() for name in SHIPPED):
        return root
    return None


@functools.cache
def shipped(name: str) -> Path:
    """The folder ``name`` (one of ``SHIPPED``) as installed: in the wheel's package data, or in the checkout."""
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not a shipped folder ({', '.join(SHIPPED)})")
    data = _package_dir() / "_data" / name
    if data.is_dir():
        return data
    checkout = source_checkout()
    if checkout is not None:
        return checkout / name
    return data  # missing: callers report this path in their error


def package_data(name: str) -> Path:
    """A folder only the wheel carries (``npm``: the devnet's package.json and lock, which a checkout has at its
    root)."""
    return _package_dir() / "_data" / name


def data_home() -> Path:
    """The data directory (see the module docstring); read on each call, so a changed environment applies."""
    if home := os.environ.get("INDEXER_HOME"):
        return Path(home).expanduser().resolve()
    checkout = source_checkout()
    if checkout is not None:
        return checkout
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser().resolve() / APP_NAME


def cache_home() -> Path:
    """Scratch output that can be rebuilt (compiled contracts, fetched artifacts)."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / ".build"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser().resolve() / APP_NAME / "build"


def data_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if absolute (``~`` expanded), else under the data directory."""
    given = Path(path).expanduser()
    return given if given.is_absolute() else data_home() / given
