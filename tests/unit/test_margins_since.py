"""A protocol changing the rules under a position (``indexer.risk.margin.margins_since``), on Aave v3's own math."""

from __future__ import annotations

import dataclasses

from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.risk.margin import margin_terms_of, margins_since
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

WETH, USDC, WBTC = ("0x" + f"{n:02x}" * 20 for n in (1, 2, 3))
adapter = AaveV3Adapter(MarketRef("m", "c", WETH))
SOURCES = {"m": adapter}
TERMS = margin_terms_of(SOURCES)


def position(lt: int = 8_250, *, wbtc: bool = False, account: str = "0xa") -> PositionSnapshot:
    legs = [Leg(asset=WETH, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=10**18, price=2_000 * 10**8,
                price_decimals=8, price_key=WETH, value=2_000 * 10**8,
                terms={"liquidation_threshold": lt, "ltv": 8_000, "counted": 1}),
            Leg(asset=USDC, symbol="USDC", decimals=6, role=Role.DEBT, amount=1_500 * 10**6, price=10**8,
                price_decimals=8, price_key=USDC, value=1_500 * 10**8)]
    if wbtc:
        legs.append(Leg(asset=WBTC, symbol="WBTC", decimals=8, role=Role.COLLATERAL, amount=10**6,
                        price=60_000 * 10**8, price_decimals=8, price_key=WBTC, value=600 * 10**8,
                        terms={"liquidation_threshold": 7_500, "ltv": 7_000, "counted": 1}))
    blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
                   quote_unit=10**8)
    return adapter.reprice(PositionSnapshot(chain="c", protocol="aave_v3", market="m", market_address=WETH,
                                            account=account, block=BlockRef(1, "0x", 1), legs=legs, health=blank), {})


def test_the_first_read_records_parameters_and_an_unmoved_one_changes_nothing():
    margins, changes = margins_since([position()], SOURCES, TERMS, {})
    assert changes == []
    assert margins[("m", "0xa")][f"liquidation_threshold:{WETH}"] == ("WETH", 8_250)
    again, changes = margins_since([position()], SOURCES, TERMS, margins)
    assert changes == [] and again == margins


def test_a_lowered_threshold_is_one_change_with_the_health_on_both_sides():
    margins, _ = margins_since([position(), position(account="0xb")], SOURCES, TERMS, {})
    now = position(7_800)
    _, changes = margins_since([now, position(account="0xb")], SOURCES, TERMS, margins)
    assert [(c.account, c.parameter, c.symbol, c.old, c.new) for c in changes] == [
        ("0xa", "liquidation_threshold", "WETH", 8_250, 7_800)]
    assert changes[0].health_before == position().health.health
    assert changes[0].health_after == now.health.health < changes[0].health_before


def test_a_collateral_added_is_not_a_change_of_the_rules():
    margins, _ = margins_since([position()], SOURCES, TERMS, {})
    more, changes = margins_since([position(wbtc=True)], SOURCES, TERMS, margins)
    assert changes == []
    assert more[("m", "0xa")][f"liquidation_threshold:{WBTC}"] == ("WBTC", 7_500)


def test_a_position_of_a_protocol_without_margin_terms_has_none():
    plain = dataclasses.replace(position(), market="other")
    margins, changes = margins_since([plain], {**SOURCES, "other": adapter}, TERMS, {})
    assert margins == {} and changes == []
