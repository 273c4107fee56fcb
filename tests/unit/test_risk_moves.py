"""Price moves for what-ifs: groups and symbols compose, a position's prices move in its own quote currency, only the
prices its health rests on move, and text that is not a move is refused in one line."""

from fractions import Fraction

import pytest

from indexer.protocols.base import MarketRef
from indexer.protocols.morpho_blue.adapter import MorphoBlueAdapter
from indexer.risk.moves import MoveError, moved_names, moved_prices, parse_moves
from indexer.settings import DEFAULT_GROUPS, RiskSettings
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

ORACLE = "0x" + "0c" * 20
WSTETH, WETH = "0x" + "57" * 20, "0x" + "e7" * 20
MORPHO = MorphoBlueAdapter(MarketRef(key="m", chain="devnet", address="0x" + "11" * 20,
                                     options={"market_id": "0x" + "22" * 32}))


def _morpho(collateral: str, loan: str, price: int) -> PositionSnapshot:
    """A Morpho position: collateral priced by the market's oracle in loan-token units, the loan token the quote."""
    legs = [Leg(asset=WSTETH, symbol=collateral, decimals=18, role=Role.COLLATERAL, amount=10**18, price=price,
                price_decimals=36, price_key=ORACLE, value=price // 10**18, terms={"lltv": 945 * 10**15}),
            Leg(asset=WETH, symbol=loan, decimals=18, role=Role.DEBT, amount=8 * 10**17, price=1, price_decimals=0,
                price_key=WETH, value=8 * 10**17)]
    return PositionSnapshot(
        chain="devnet", protocol="morpho_blue", market="m", market_address="0x" + "11" * 20, account="0x" + "ab" * 20,
        block=BlockRef(number=1, hash="0x00", timestamp=1), legs=legs,
        health=Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote=loan,
                      quote_unit=10**18), detail={"lltv": 945 * 10**15})


def test_a_group_moves_its_members_and_a_symbol_composes_on_top():
    moves = parse_moves(["eth=-25%", "wstETH:-4", "USDC=+1.5%"], DEFAULT_GROUPS)
    assert moves.factor("WETH") == moves.factor("ETH") == moves.factor("weETH") == Fraction(3, 4)
    assert moves.factor("WSTETH") == Fraction(3, 4) * Fraction(96, 100)
    assert moves.factor("USDC") == Fraction(1015, 1000) and moves.factor("DAI") == 1 == moves.factor("WBTC")
    assert moves.describe() == "eth -25%, wstETH -4%, USDC +1.5%"
    assert moved_names(moves, ["WETH", "DAI"]) == {"eth"} and moved_names(moves, ["wstETH"]) == {"eth", "wstETH"}


def test_the_same_name_twice_is_one_move_after_the_other():
    assert parse_moves(["ETH=-10", "ETH=-10%"], DEFAULT_GROUPS).factor("WETH") == Fraction(81, 100)


def test_prices_move_in_the_position_quote_and_only_those_its_health_rests_on():
    # wstETH/WETH: both move with ETH, so the oracle price (wstETH in WETH) does not move at all
    assert moved_prices(MORPHO, _morpho("wstETH", "WETH", 12 * 10**35), parse_moves(["ETH=-25"], DEFAULT_GROUPS)) == {}
    # ... until wstETH depegs on top: its price in WETH falls by 4 %, rounded down like a feed's answer
    moved = moved_prices(MORPHO, _morpho("wstETH", "WETH", 12 * 10**35 + 7),
                         parse_moves(["ETH=-25", "wstETH=-4"], DEFAULT_GROUPS))
    assert moved == {ORACLE: (12 * 10**35 + 7) * 96 // 100}
    # a WBTC/WETH market: WBTC in WETH rises by a third when ETH falls by a quarter; the loan token (the quote, a
    # debt leg at par) never moves
    moved = moved_prices(MORPHO, _morpho("WBTC", "WETH", 30 * 10**36), parse_moves(["ETH=-25"], DEFAULT_GROUPS))
    assert moved == {ORACLE: 40 * 10**36}


@pytest.mark.parametrize("spec, message", [
    ("ETH", "is not NAME=PERCENT"), ("ETH=-25%%", "is not NAME=PERCENT"), ("=5", "is not NAME=PERCENT"),
    ("ETH=-100", "less than 100%"), ("ETH=-250%", "less than 100%"), ("ETH=1e3", "is not NAME=PERCENT")])
def test_what_is_not_a_move_is_refused(spec, message):
    with pytest.raises(MoveError, match=message):
        parse_moves([spec], DEFAULT_GROUPS)
    with pytest.raises(MoveError, match="no price move"):
        parse_moves([], DEFAULT_GROUPS)


def test_configured_groups_add_to_the_defaults_and_a_symbol_sits_in_one_group():
    risk = RiskSettings(groups={"SOL": ["SOL", "JitoSOL"], "ETH": ["WETH", "wstETH"]})
    assert risk.groups["SOL"] == ["SOL", "JitoSOL"] and risk.groups["ETH"] == ["WETH", "wstETH"]
    assert "WBTC" in risk.groups["BTC"]
    with pytest.raises(ValueError, match="already in group"):
        RiskSettings(groups={"LST": ["wstETH"]})  # wstETH is in the default ETH group
