"""GMX v2 (gmx-synthetics) position arithmetic in exact integers, as the protocol computes it.

Units (contracts/utils/Precision.sol): USD amounts are 1e30 (``FLOAT_PRECISION``); a token price is USD per
smallest token unit, i.e. ``USD * 1e30 / 10**decimals``; factors are 1e30. Solidity's signed division truncates
toward zero, Python's ``//`` floors: the signed helpers say which one they take.

Sources (gmx-io/gmx-synthetics, read through the published files):

* ``contracts/position/PositionUtils.sol`` — ``getPositionPnlUsd`` (long: sizeInTokens × price − sizeInUsd; short:
  sizeInUsd − sizeInTokens × price; for a full close the PnL is not pro-rated) and ``isPositionLiquidatable``
  (remaining collateral = collateralAmount × collateral min price + PnL + price impact − totalCostAmount ×
  collateral min price; the price impact of a full close capped to ≤ 0 and to ≥ −size × maxPositionImpactFactor-
  ForLiquidations; liquidatable when remaining < MIN_COLLATERAL_USD, remaining ≤ 0, or remaining < applyFactor(
  sizeInUsd, minCollateralFactor));
* ``contracts/utils/Precision.sol`` — ``applyFactor(value, factor) = value × factor / 1e30`` (floor);
* ``contracts/oracle/ChainlinkPriceFeedUtils.sol`` — a reference feed's price is ``answer × multiplier / 1e30``
  (``Precision.mulDiv``, floor), refused when the answer is ≤ 0 or older than the heartbeat;
* ``contracts/data/Keys.sol`` — DataStore keys: ``keccak256(abi.encode(NAME))`` for a plain key (the NAME constant
  is itself ``keccak256(abi.encode("NAME"))``), ``keccak256(abi.encode(NAME_CONSTANT, address))`` for a per-token or
  per-market key.
"""

from __future__ import annotations

from typing import NamedTuple

from indexer.hexutil import keccak

FLOAT_PRECISION = 10**30  # Precision.FLOAT_PRECISION: USD amounts and factors
WAD = 10**18
USD_DECIMALS = 30


def trunc_div(n: int, d: int) -> int:
    """Solidity's signed ``n / d``: the quotient truncated toward zero."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


def apply_factor(value: int, factor: int) -> int:
    """Precision.applyFactor for an unsigned value: ``value * factor / 1e30`` (floor)."""
    return value * factor // FLOAT_PRECISION


def feed_price(answer: int, multiplier: int) -> int | None:
    """ChainlinkPriceFeedUtils.getPriceFeedPrice: ``answer * multiplier / 1e30`` (floor); None where GMX reverts
    (an answer ≤ 0). The heartbeat check is the oracle monitor's (the feed's staleness), not repeated here."""
    if answer <= 0:
        return None
    return answer * multiplier // FLOAT_PRECISION


def price_multiplier(feed_decimals: int, token_decimals: int) -> int:
    """The multiplier that turns a feed answer into GMX's price units: ``10**(60 - feed - token decimals)``
    (answer / 10**feed_decimals USD per token = answer × 10**(30 - token_decimals - feed_decimals) per unit, × 1e30)."""
    return 10 ** (60 - feed_decimals - token_decimals)


# --- contracts/data/Keys.sol


def key_name(name: str) -> bytes:
    """A Keys.sol constant: ``keccak256(abi.encode("NAME"))``."""
    from eth_abi import encode  # imported on first use (start-up)

    return keccak(encode(["string"], [name]))


def keyed(name: str, address: str) -> bytes:
    """A per-token / per-market key: ``keccak256(abi.encode(NAME_CONSTANT, address))``."""
    from eth_abi import encode

    return keccak(encode(["bytes32", "address"], [key_name(name), address]))


# key_name("MIN_COLLATERAL_USD"), written out so that importing the adapter does not load eth-abi (a unit test checks)
MIN_COLLATERAL_USD_KEY = bytes.fromhex("6497f0f2c47edc68f06ede1c06d3475f939eb1a8341362460277bcd8ee7419f4")


def price_feed_key(token: str) -> bytes:
    return keyed("PRICE_FEED", token)


def price_feed_multiplier_key(token: str) -> bytes:
    return keyed("PRICE_FEED_MULTIPLIER", token)


def price_feed_heartbeat_duration_key(token: str) -> bytes:
    return keyed("PRICE_FEED_HEARTBEAT_DURATION", token)


def min_collateral_factor_key(market: str) -> bytes:
    return keyed("MIN_COLLATERAL_FACTOR", market)


def min_collateral_factor_for_liquidation_key(market: str) -> bytes:
    return keyed("MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION", market)


def max_position_impact_factor_for_liquidations_key(market: str) -> bytes:
    return keyed("MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS", market)


def position_key(account: str, market: str, collateral_token: str, is_long: bool) -> bytes:
    """PositionUtils.getPositionKey: ``keccak256(abi.encode(account, market, collateralToken, isLong))``."""
    from eth_abi import encode

    return keccak(encode(["address", "address", "address", "bool"], [account, market, collateral_token, is_long]))


# --- contracts/position/PositionUtils.sol


def position_pnl_usd(is_long: bool, size_in_usd: int, size_in_tokens: int, index_price: int) -> int:
    """getPositionPnlUsd for a full close (sizeDeltaUsd = sizeInUsd, so sizeDeltaInTokens = sizeInTokens and the
    pro-rating is exact). The cap by MAX_PNL_FACTOR_FOR_TRADERS applies only to a pool whose traders' PnL exceeds
    it; the read takes the Reader's capped figure, a recomputation at other prices does not cap (see the adapter)."""
    value = size_in_tokens * index_price
    return value - size_in_usd if is_long else size_in_usd - value


def capped_price_impact(price_impact_usd: int, size_in_usd: int, max_impact_factor: int) -> int:
    """isPositionLiquidatable's price impact: ≥ 0 counts as 0; a negative one no lower than
    ``-applyFactor(sizeInUsd, maxPositionImpactFactorForLiquidations)``."""
    if price_impact_usd >= 0:
        return 0
    return max(price_impact_usd, -apply_factor(size_in_usd, max_impact_factor))


class Verdict(NamedTuple):
    """isPositionLiquidatable's figures (IsPositionLiquidatableInfo) and its answer."""

    remaining_collateral_usd: int
    min_collateral_usd: int
    min_collateral_usd_for_leverage: int
    liquidatable: bool
    reason: str  # "min collateral", "< 0", "min collateral for leverage" or ""


class Position(NamedTuple):
    """What the check needs of one position, prices apart."""

    is_long: bool
    size_in_usd: int
    size_in_tokens: int
    collateral_amount: int
    # PositionFees, contracts/pricing/PositionPricingUtils.sol: the position fee is applyFactor(sizeInUsd,
    # positionFeeFactor) and the borrowing fee borrowingFeeUsd, each turned into collateral tokens at the
    # collateral's min price (floor); the rest of totalCostAmount (funding fee, UI fee, less discounts) is in
    # tokens already
    position_fee_usd: int
    borrowing_fee_usd: int
    other_cost_amount: int
    price_impact_usd: int  # the full close's impact, already capped (capped_price_impact)
    min_collateral_factor: int
    min_collateral_usd: int


def total_cost_amount(p: Position, collateral_price: int) -> int:
    """PositionFees.totalCostAmount at ``collateral_price``: position fee + borrowing fee (each USD / price, floor)
    + the token-denominated rest."""
    return p.position_fee_usd // collateral_price + p.borrowing_fee_usd // collateral_price + p.other_cost_amount


def remaining_collateral_usd(p: Position, index_price: int, collateral_price: int, pnl: int | None = None) -> int:
    """collateralAmount × collateral min price + PnL + price impact − totalCostAmount × collateral min price."""
    if pnl is None:
        pnl = position_pnl_usd(p.is_long, p.size_in_usd, p.size_in_tokens, index_price)
    cost = total_cost_amount(p, collateral_price) if collateral_price > 0 else 0
    return p.collateral_amount * collateral_price + pnl + p.price_impact_usd - cost * collateral_price


def verdict(p: Position, index_price: int, collateral_price: int, pnl: int | None = None) -> Verdict:
    """isPositionLiquidatable with shouldValidateMinCollateralUsd = true: the three tests in the source's order."""
    remaining = remaining_collateral_usd(p, index_price, collateral_price, pnl)
    for_leverage = apply_factor(p.size_in_usd, p.min_collateral_factor)
    if remaining < p.min_collateral_usd:
        return Verdict(remaining, p.min_collateral_usd, for_leverage, True, "min collateral")
    if remaining <= 0:
        return Verdict(remaining, p.min_collateral_usd, for_leverage, True, "< 0")
    if remaining < for_leverage:
        return Verdict(remaining, p.min_collateral_usd, for_leverage, True, "min collateral for leverage")
    return Verdict(remaining, p.min_collateral_usd, for_leverage, False, "")


def health_raw(remaining: int, requirement: int) -> int | None:
    """``remaining / requirement`` in WAD, floored (Python floor: below 1e18 exactly when remaining < requirement);
    None without a requirement. With requirement = max(min collateral USD for leverage, MIN_COLLATERAL_USD) > 0,
    ``health_raw < 1e18`` ⇔ isPositionLiquidatable (remaining ≤ 0 is then below the requirement too)."""
    if requirement <= 0:
        return None
    return remaining * WAD // requirement
