"""What it takes to be safe on Hyperliquid, against the loopback venue of ``test_hyperliquid_sync`` (its accounts, the
venue's documented ``/info`` shapes).

The stand-in (``tests/fixtures/hyperliquid_venue.py``) computes its figures from its state with the venue's documented
math, not canned numbers: accountValue = cash + Σ size × mark, crossMaintenanceMarginUsed from the margin tiers, an
isolated position's marginUsed = rawUsd + size × mark. Wallet 1's isolated ETH long is given less margin here, so it
is under the target too. After a sync, every account under the target gets one step, "add x USDC"; the amounts are
applied to the stand-in's state as the venue books them — a cross deposit raises the account's cash (totalRawUsd), an
``updateIsolatedMargin`` the position's rawUsd (its cross account taken as funded by the same amount: each step is
checked on its own) — and the venue is synced again: its own figures (accountValue / crossMaintenanceMarginUsed;
marginUsed over the position's maintenance by the stand-in's tiers) then reach the target, and with one micro-USDC
less each they do not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from indexer.protocols.base import MarketRef
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.risk.safety import to_be_safe
from indexer.settings import load_settings
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import PositionSnapshot, scaled
from tests.fixtures.hyperliquid_venue import HyperliquidVenue
from tests.integration.test_hyperliquid_sync import ACCOUNTS, address, populate, venue_raw_health, write_config

TARGET = Decimal("1.5")


@pytest.fixture
async def venue() -> AsyncIterator[HyperliquidVenue]:
    v = await HyperliquidVenue().start()
    populate(v)
    isolated = next(h for h in v.accounts[address(1).lower()].positions if h.isolated)
    isolated.raw_usd = Decimal("-98.0")  # 0.0335 ETH at 3000.5: margin 2.51675 over maintenance 2.010335 (25x)
    yield v
    await v.stop()


def venue_health(venue: HyperliquidVenue, account: str) -> Decimal:
    """The health the venue's own figures give: a cross account's accountValue / crossMaintenanceMarginUsed (WAD,
    floored, as stored), an isolated position's printed marginUsed over its maintenance by the stand-in's tiers."""
    wallet, _, coin = account.partition(":")
    if not coin:
        raw = venue_raw_health(venue, wallet.lower())
        assert raw is not None
        return scaled(raw, 18)
    (p,) = (e["position"] for e in venue.clearinghouse(wallet)["assetPositions"] if e["position"]["coin"] == coin)
    return Decimal(p["marginUsed"]) / venue.maintenance(coin, Decimal(p["positionValue"]))


def deposit(venue: HyperliquidVenue, account: str, amount: int) -> None:
    """Book ``amount`` micro-USDC (negative: take it back) into a cross account's cash or an isolated margin."""
    wallet, _, coin = account.partition(":")
    held = venue.accounts[wallet.lower()]
    usd = scaled(amount, 6)
    if coin:
        next(h for h in held.positions if h.isolated and h.coin == coin).raw_usd += usd
    else:
        held.cash += usd


@pytest.mark.one_database("sqlite")  # the subject is the venue's figures, not the store
async def test_the_reported_deposit_is_what_the_venue_needs_to_the_micro_usdc(venue, tmp_path, db_url, engine):
    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    for i in range(ACCOUNTS):
        add_wallet(engine, address=address(i), label=None)
    source = HyperliquidAdapter(MarketRef(key="hl-main", chain="hyperliquid", address="", options={"dex": ""}))

    async def healths() -> dict[str, PositionSnapshot]:
        (read,) = await sync_once(settings, engine)
        return {s.account: s for s in read.snapshots}

    amounts: dict[str, int] = {}
    for account, snapshot in (await healths()).items():
        plan = to_be_safe(source, snapshot, TARGET)
        assert snapshot.health.health is not None
        if snapshot.health.health >= TARGET:
            assert plan.steps == [], account
            continue
        (step,) = plan.steps
        assert (step.action, step.symbol, step.decimals) == ("add", "USDC", 6) and step.amount is not None
        amounts[account] = step.amount
    isolated = f"{address(1)}:ETH"
    assert isolated in amounts and len(amounts) >= 6, amounts  # cross accounts on both sides of 1, and the isolated

    for account, amount in amounts.items():
        deposit(venue, account, amount)
    after = await healths()
    for account in amounts:
        assert venue_health(venue, account) >= TARGET, account
        health = after[account].health.health
        assert health is not None and health >= TARGET, account

    for account in amounts:
        deposit(venue, account, -1)
    short = await healths()
    for account in amounts:
        assert venue_health(venue, account) < TARGET, account
        health = short[account].health.health
        assert health is not None and health < TARGET, account
