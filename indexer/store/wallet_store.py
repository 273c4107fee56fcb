"""Wallets: the tracked addresses, their labels and their own alert levels."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    delete,
    func,
    select,
)

from indexer.store.models import (
    Wallet,
    WalletBase,
    WalletPublic,
)
from indexer.store.types import utc_now
from indexer.store.upsert import upsert_insert

_wallets: Table = Wallet.__table__  # type: ignore[attr-defined]


MAX_LABEL = 100  # characters of a wallet label (CLI and API)
LEVEL_RULE = "above 0 and below 1,000,000 with at most 18 decimal places"


def level_problem(level: Decimal) -> str | None:
    """Why ``level`` cannot be a wallet's alert level, or None: levels are stored with 18 places, so anything finer
    (``1e-999999``) would be stored as something else."""
    if not level.is_finite() or not 0 < level < 1_000_000 or level != level.quantize(Decimal("1e-18")):
        return f"must be {LEVEL_RULE}"
    return None


def label_problem(label: object) -> str | None:
    """Why ``label`` cannot be a wallet's label, or None (the CLI and wallet files; terminals print it)."""
    if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL or any(not c.isprintable() for c in label):
        return f"a label is 1 to {MAX_LABEL} printable characters"
    return None


def add_wallet(engine: Engine, *, address: str, label: str | None = None, warn_health: Decimal | None = None,
               critical_health: Decimal | None = None) -> WalletPublic:
    """Track ``address``; calling again is harmless and sets the label (and alert levels) if given.

    The address is stored as given: pass it checksummed, as positions store accounts that way.
    ``warn_health``/``critical_health`` are this wallet's own alert enter levels.
    """
    with engine.begin() as connection:
        _upsert(connection, WalletBase(address=address, label=label, warn_health=warn_health,
                                       critical_health=critical_health))
        row = connection.execute(select(_wallets).where(_wallets.c.address == address)).mappings().one()
    return WalletPublic.model_validate(dict(row))


def add_wallets(engine: Engine, wallets: Sequence[WalletBase]) -> int:
    """Track every one of ``wallets`` (as ``add_wallet`` does each) in one transaction: all or none."""
    with engine.begin() as connection:
        for wallet in wallets:
            _upsert(connection, wallet)
    return len(wallets)


def _upsert(connection: Connection, wallet: WalletBase) -> None:
    statement = upsert_insert(connection, _wallets).values(
        address=wallet.address, label=wallet.label, created_at=utc_now(), warn_health=wallet.warn_health,
        critical_health=wallet.critical_health)
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["address"],
            set_={"label": func.coalesce(excluded.label, _wallets.c.label),
                  "warn_health": func.coalesce(excluded.warn_health, _wallets.c.warn_health),
                  "critical_health": func.coalesce(excluded.critical_health, _wallets.c.critical_health)},
        )
    )


def remove_wallet(engine: Engine, *, address: str) -> bool:
    """Stop tracking ``address``; ``False`` if it was not tracked."""
    with engine.begin() as connection:
        result = connection.execute(delete(_wallets).where(_wallets.c.address == address))
    return result.rowcount > 0


def list_wallets(engine: Engine) -> list[WalletPublic]:
    with engine.connect() as connection:
        rows = connection.execute(select(_wallets).order_by(_wallets.c.id)).mappings()
        return [WalletPublic.model_validate(dict(row)) for row in rows]


def wallet_addresses(engine: Engine) -> list[str]:
    """Every tracked address, in the order they were added: what a refresh reads (no model objects built)."""
    with engine.connect() as connection:
        return list(connection.execute(select(_wallets.c.address).order_by(_wallets.c.id)).scalars())


def wallet_alert_settings(engine: Engine) -> dict[str, tuple[str | None, Decimal | None, Decimal | None]]:
    """account → (label, warn enter level, critical enter level) for every tracked wallet."""
    w = _wallets.c
    with engine.connect() as connection:
        rows = connection.execute(select(w.address, w.label, w.warn_health, w.critical_health))
        return {a: (label, warn, critical) for a, label, warn, critical in rows}


def wallet_exists(engine: Engine, *, address: str) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(_wallets.c.id).where(_wallets.c.address == address)).first() is not None
