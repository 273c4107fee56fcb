"""Euler v2 math: worked examples computed by hand from the published sources (euler-vault-kit's
shared/LiquidityUtils.sol, shared/types/LTVConfig.sol, shared/types/Owed.sol, shared/BorrowUtils.sol,
modules/Liquidation.sol; euler-price-oracle's lib/ScaleUtils.sol and the Chainlink and Pyth adapters; the
EthereumVaultConnector's sub-account rules), at the rounding boundaries, and the adapter's figures on them."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from eth_utils import keccak

from indexer.chain.abi import load
from indexer.chain.multicall import Failed
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import MarketRef
from indexer.protocols.euler_v2 import rules
from indexer.protocols.euler_v2.adapter import (
    TOO_STALE,
    Adapter,
    EulerV2Adapter,
    Layout,
    Resolution,
    Token,
    _Account,
    _Context,
    _PriceRead,
    _recompute,
)
from indexer.types import UINT256_MAX, BlockRef, Health, Leg, PositionSnapshot, Role

E18 = 10**18
VAULT = "0x00000000000000000000000000000000000000A1"
EWETH = "0x00000000000000000000000000000000000000B2"
EWBTC = "0x00000000000000000000000000000000000000B3"
EUSDC = "0x00000000000000000000000000000000000000B4"
USDC = "0x00000000000000000000000000000000000000C1"
WETH_FEED = "0x00000000000000000000000000000000000000F1"
WBTC_FEED = "0x00000000000000000000000000000000000000F2"
USDC_FEED = "0x00000000000000000000000000000000000000F3"
ETH_USDC_FEED = "0x00000000000000000000000000000000000000F4"


# --- EVC sub-accounts


def test_sub_accounts_share_the_owners_19_byte_prefix():
    owner = "0x1bfa48d38ee82b2416d04d4421e1c7fb4eca5530"
    assert rules.sub_account(owner, 1) == 0x1BFA48D38EE82B2416D04D4421E1C7FB4ECA5531  # the last byte XOR 1
    assert rules.sub_account(owner, 255) == 0x1BFA48D38EE82B2416D04D4421E1C7FB4ECA55CF  # 0x30 ^ 0xff
    assert rules.sub_account_id(owner, "0x1bfa48d38ee82b2416d04d4421e1c7fb4eca55cf") == 255
    assert rules.have_common_owner(owner, "0x1bfa48d38ee82b2416d04d4421e1c7fb4eca55ff")
    assert not rules.have_common_owner(owner, "0x1bfa48d38ee82b2416d04d4421e1c7fb4eca5630")  # byte 19 differs
    assert rules.sub_account_id(owner, "0x1bfa48d38ee82b2416d04d4421e1c7fb4eca5630") is None
    # the owner is whichever address of the prefix registered first, not the address with its last byte cleared:
    # for an owner ending in 0xab, the address ending in 0x00 is its sub-account 0xab
    other = "0x00000000000000000000000000000000000000ab"
    assert rules.sub_account_id(other, "0x0000000000000000000000000000000000000000") == 0xAB
    with pytest.raises(ValueError):
        rules.sub_account(owner, 256)


# --- debt: Owed.sol / BorrowUtils.sol


def test_owed_is_shifted_31_bits_and_rounds_up_to_assets():
    owed = 1000 << 31  # 1000 asset units exactly
    assert owed == 2_147_483_648_000
    assert rules.owed_to_assets_up(owed) == 1000
    assert rules.owed_to_assets_up(owed + 1) == 1001  # any fraction of a unit is owed in full
    assert rules.owed_to_assets_down(owed + 1) == 1000
    assert rules.owed_to_assets_up(0) == 0


def test_interest_accumulator_scales_the_owed_amount_down():
    # 1000 units borrowed at accumulator 1e27; the vault's is now 1.0123456789e27:
    # 2147483648000 * 1.0123456789 = 2147483648000 + 26512143561.4... = 2173995791561.4 -> floor
    owed = rules.current_owed(1000 << 31, 1_012_345_678_900_000_000_000_000_000, 10**27)
    assert owed == 2_173_995_791_561
    assert rules.owed_to_assets_up(owed) == 1013  # 1012.3456789 units, rounded up
    assert rules.current_owed(0, 2 * 10**27, 10**27) == 0


# --- LTVs: LTVConfig.sol


def test_liquidation_ltv_ramps_down_linearly_and_floors():
    start = 1_796_000_000
    ramp = rules.LTVConfig(borrow=9000, liquidation=9300, initial_liquidation=9500, target_timestamp=start + 86_400,
                           ramp_duration=86_400)
    assert rules.liquidation_ltv(ramp, start) == 9500  # 9300 + 200 * 86400 / 86400
    assert rules.liquidation_ltv(ramp, start + 21_600) == 9450  # 200 * 64800 / 86400 = 150
    assert rules.liquidation_ltv(ramp, start + 21_601) == 9449  # 200 * 64799 / 86400 = 149.998 -> 149
    assert rules.liquidation_ltv(ramp, start + 86_400) == 9300  # over
    assert rules.liquidation_ltv(ramp, start + 10**6) == 9300
    assert rules.borrow_ltv(ramp) == 9000  # never ramped
    raised = ramp._replace(liquidation=9600)  # a higher target applies at once
    assert rules.liquidation_ltv(raised, start) == 9600
    assert not rules.LTVConfig(0, 0, 0, 0, 0).recognized and ramp.recognized
    assert rules.liquidation_ltv(rules.LTVConfig(0, 0, 0, 0, 0), start) == 0


def test_ltv_adjustment_floors():
    assert rules.ltv_adjusted(3750 * E18, 8500) == 3187_500_000_000_000_000_000
    assert rules.ltv_adjusted(9_999, 8500) == 8_499  # 8499.15
    assert rules.liquidity([(3750 * E18, 8500), (600 * E18, 7800)], 2000 * E18) == (3655_500_000_000_000_000_000,
                                                                                   2000 * E18)


# --- prices: ScaleUtils.sol, ChainlinkOracle.sol, PythOracle.sol


def test_chainlink_scale_and_quotes():
    weth = rules.calc_scale(base_decimals=18, quote_decimals=18, feed_decimals=8)  # WETH in USD (18: address(840))
    assert weth == rules.Scale(18, 26)
    assert rules.out_amount(15 * 10**17, 2_500 * 10**8, weth, False) == 3_750 * E18  # 1.5 WETH at 2500
    wbtc = rules.calc_scale(8, 18, 8)
    assert rules.out_amount(10**6, 60_000 * 10**8, wbtc, False) == 600 * E18  # 0.01 WBTC at 60000
    usdc = rules.calc_scale(6, 18, 8)
    assert rules.out_amount(10**9, 100_010_000, usdc, False) == 1_000_100_000_000_000_000_000  # 1000 USDC at 1.0001


def test_an_adapter_priced_the_other_way_round_inverts():
    # ChainlinkOracle(base WETH, quote USDC, ETH/USDC feed, 8 decimals): scale from(6, 8 + 18); asked for USDC in
    # WETH it inverts: 1000 USDC -> 1e9 * 1e26 / (1e6 * 2500e8) = 0.4 WETH
    scale = rules.calc_scale(18, 6, 8)
    assert scale == rules.Scale(6, 26)
    assert rules.out_amount(10**9, 2_500 * 10**8, scale, True) == 4 * 10**17
    # one unit more on the feed: 1e35 / 250000000001000000 = 399999999998400000.0000064 -> floor
    assert rules.out_amount(10**9, 2_500 * 10**8 + 1, scale, True) == 399_999_999_998_400_000


def test_pyth_scale_from_the_exponent():
    # feedExponent = baseDecimals - expo: 18 + 8 = 26 > 0 -> from(quoteDecimals, 26)
    assert rules.pyth_scale(18, 18, -8) == rules.Scale(18, 26)
    assert rules.out_amount(2 * E18, 2_950 * 10**8, rules.pyth_scale(18, 18, -8), False) == 5_900 * E18
    assert rules.pyth_scale(6, 18, -8) == rules.Scale(18, 14)
    # feedExponent <= 0: from(quoteDecimals - feedExponent, 0): a 0-decimal base priced with expo 2
    assert rules.pyth_scale(0, 18, 2) == rules.Scale(20, 0)
    assert rules.out_amount(3, 7, rules.Scale(20, 0), False) == 21 * 10**20


def test_what_the_adapters_refuse():
    now = 1_796_000_000
    assert rules.chainlink_refusal(2_500 * 10**8, now - 3_600, now, 3_600) is None
    assert rules.chainlink_refusal(2_500 * 10**8, now - 3_601, now, 3_600)[0] == "stale"
    assert rules.chainlink_refusal(0, now, now, 3_600)[0] == "invalid"
    price = 2_950 * 10**8
    assert rules.pyth_refusal(price, price // 1_000, -8, now - 900, now, 900, 100) is None
    assert rules.pyth_refusal(price, price // 1_000, -8, now - 901, now, 900, 100)[0] == "stale"
    assert rules.pyth_refusal(price, price // 1_000, -8, now + 60, now, 900, 100) is None
    assert rules.pyth_refusal(price, price // 1_000, -8, now + 61, now, 900, 100)[0] == "invalid"
    # maxConfWidth 100 bp: conf may be 2950e8 * 100 / 1e4 = 29.5e8
    assert rules.pyth_refusal(price, 2_950_000_000, -8, now, now, 900, 100) is None
    assert rules.pyth_refusal(price, 2_950_000_001, -8, now, now, 900, 100)[0] == "invalid"
    assert rules.pyth_refusal(price, 0, -21, now, now, 900, 100)[0] == "invalid"
    assert rules.redstone_refusal(now - 180, now, 180) is None
    assert rules.redstone_refusal(now - 181, now, 180)[0] == "stale"
    assert rules.redstone_refusal(now + 30, now, 180) is None  # ahead is accepted
    assert "0x" + keccak(text="PriceOracle_TooStale(uint256,uint256)")[:4].hex() == TOO_STALE


# --- liquidity and liquidation: LiquidityUtils.sol, Liquidation.sol


def test_equal_values_are_a_violation_and_the_health_says_so():
    liability = 1_000 * E18
    # Liquidation.sol: no violation only while collateralAdjustedValue > liabilityValue
    assert rules.in_violation(liability, liability, 1)
    assert not rules.in_violation(liability + 1, liability, 1)
    assert rules.in_violation(liability - 1, liability, 1)
    assert rules.health_raw(liability, liability) == 999_999_999_999_999_999  # below 1e18: liquidatable
    assert rules.health_raw(liability + 1, liability) == E18  # exactly 1: not liquidatable
    assert rules.ratio_raw(liability, liability) == E18
    # nothing owed: never; a liability worth 0 in the unit of account: the discount would divide by 0
    assert not rules.in_violation(0, liability, 0)
    assert not rules.in_violation(0, 0, 5)
    assert rules.liquidation_blocked(0, 0, 5) is not None and rules.liquidation_blocked(1, 0, 5) is None
    # the account status check (borrow LTVs) also wants strictly more collateral value
    assert not rules.borrow_healthy(liability, liability, 1) and rules.borrow_healthy(liability + 1, liability, 1)


def test_max_liquidation_by_hand():
    # 900 against 1000 (health 0.9), discount capped at 15 %: factor 0.9e18. The 1 WETH seized is worth 2000:
    # yield value 1000e18 * 1e18 / 0.9e18 = 1111111111111111111111 (floor), repay the whole 1000 USDC,
    # yield 1111111111111111111111 * 1e18 / 2000e18 = 0.555... WETH
    assert rules.discount_factor(900 * E18, 1000 * E18, 1500) == 9 * 10**17
    assert rules.max_liquidation(900 * E18, 1000 * E18, 1000 * 10**6, 2000 * E18, E18, 1500) == \
        (1000 * 10**6, 555_555_555_555_555_555)
    # a collateral worth 500 only: all of it, repaying 500 * 0.9 = 450 USDC
    assert rules.max_liquidation(900 * E18, 1000 * E18, 1000 * 10**6, 500 * E18, E18, 1500) == (450 * 10**6, E18)
    # deep under water (0.1): the discount stops at 15 %, factor 0.85e18 -> 1176470588235294117647 of value,
    # 1176470588235294117647 * 1e18 / 2000e18 = 0.588... WETH
    assert rules.max_liquidation(100 * E18, 1000 * E18, 1000 * 10**6, 2000 * E18, E18, 1500) == \
        (1000 * 10**6, 588_235_294_117_647_058)
    # equal values: no discount, the whole debt for its value's worth of collateral
    assert rules.max_liquidation(1000 * E18, 1000 * E18, 1000 * 10**6, 2000 * E18, E18, 1500) == \
        (1000 * 10**6, 5 * 10**17)
    assert rules.max_liquidation(1000 * E18 + 1, 1000 * E18, 1000 * 10**6, 2000 * E18, E18, 1500) == (0, 0)
    assert rules.max_liquidation(900 * E18, 1000 * E18, 1000 * 10**6, 0, E18, 1500) == (0, E18)  # worthless


def test_cool_off():
    assert rules.in_cool_off(100, 100, 1) and not rules.in_cool_off(101, 100, 1) and not rules.in_cool_off(100, 100, 0)


# --- the adapter's figures


def _adapter() -> EulerV2Adapter:
    return EulerV2Adapter(MarketRef(key="eusdc", chain="devnet", address=VAULT))


def _leg(asset: str, role: Role, amount: int, price: int, key: str, scale: rules.Scale, *, ltv: int = 0,
         borrow_ltv: int = 0, inverse: bool = False, resolved: int | None = None, decimals: int = 18) -> Leg:
    resolved = amount if resolved is None else resolved
    value = rules.out_amount(resolved, price, scale, inverse)
    terms = {"resolved_amount": resolved, "price_exp": scale.price_exp, "feed_exp": scale.feed_exp,
             "inverse": int(inverse), "exact_model": 1, "linear": 0}
    if role is Role.COLLATERAL:
        terms |= {"ltv": ltv, "borrow_ltv": borrow_ltv}
    return Leg(asset=asset, symbol=asset[-2:], decimals=decimals, role=role, amount=amount, price=price,
               price_decimals=8, price_key=key, value=value, feed=key, terms=terms)


def _position(legs: list[Leg], *, timestamp: int = 1_796_000_000, cool_off: int = 0, last_check: int = 0):
    snapshot = PositionSnapshot(
        chain="devnet", protocol="euler_v2", market="eusdc", market_address=VAULT, account="0x" + "ab" * 20,
        block=BlockRef(number=1, hash="0x", timestamp=timestamp), legs=legs,
        health=Health(raw=UINT256_MAX, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0,
                      quote="USD", quote_unit=E18),
        detail={"max_liquidation_discount": 1500, "cool_off": {"time": cool_off, "last_status_check": last_check}})
    return _recompute(snapshot)


USD_18 = rules.Scale(18, 26)  # an 18-decimal asset on an 8-decimal feed, in USD


def _borrower(usdc: int = 2_000 * 10**6) -> PositionSnapshot:
    """1.5 WETH (liquidation LTV 85 %) and 0.01 WBTC (78 %) against ``usdc`` USDC at 1.0001."""
    return _position([
        _leg(EWETH, Role.COLLATERAL, 15 * 10**17, 2_500 * 10**8, WETH_FEED, USD_18, ltv=8500, borrow_ltv=8000,
             resolved=1_500_000_000_000_000_123),
        _leg(EWBTC, Role.COLLATERAL, 10**6, 60_000 * 10**8, WBTC_FEED, rules.Scale(18, 16), ltv=7800, borrow_ltv=7300,
             decimals=8),
        _leg(USDC, Role.DEBT, usdc, 100_010_000, USDC_FEED, rules.Scale(18, 14), decimals=6),
    ])


def test_health_and_liquidity_record():
    snap = _borrower()
    # eWETH: the resolved 1.500000000000000123 WETH at 2500 = 3750.0000000000003075 -> floor to wei of USD
    weth = 1_500_000_000_000_000_123 * 10**18 * 2_500 * 10**8 // 10**26
    collateral = rules.ltv_adjusted(weth, 8500) + rules.ltv_adjusted(600 * E18, 7800)
    liability = 2_000_200_000_000_000_000_000
    assert (snap.health.equity, snap.health.debt, snap.health.requirement) == (collateral, liability, liability + 1)
    assert snap.health.raw == collateral * E18 // (liability + 1) and not snap.health.liquidatable
    assert snap.health.collateral == weth + 600 * E18
    assert snap.detail["liquidity"] == {"collateral_value": str(collateral), "liability_value": str(liability),
                                        "violation": False, "ratio_raw": str(collateral * E18 // liability)}
    borrow = rules.ltv_adjusted(weth, 8000) + rules.ltv_adjusted(600 * E18, 7300)
    assert snap.detail["borrow"] == {"collateral_value": str(borrow), "liability_value": str(liability),
                                     "healthy": True}
    assert "liquidation_held" not in snap.detail


def test_no_debt_is_infinitely_healthy():
    snap = _position([_leg(EWETH, Role.COLLATERAL, E18, 2_500 * 10**8, WETH_FEED, USD_18, ltv=8500)])
    assert snap.health.health is None and snap.health.raw == UINT256_MAX and snap.health.requirement == 0
    assert _adapter().liquidation_points(snap) == {}


def test_cool_off_holds_a_liquidation():
    legs = _borrower(4_000 * 10**6).legs
    held = _position(legs, timestamp=500, cool_off=1, last_check=500)
    assert held.health.liquidatable and "cool-off" in held.detail["liquidation_held"]
    assert "liquidation_held" not in _position(legs, timestamp=501, cool_off=1, last_check=500).detail


@pytest.mark.parametrize("usdc", [2_000 * 10**6, 3_500 * 10**6, 3_657 * 10**6])
def test_liquidation_points_are_exact_both_directions(usdc):
    adapter = _adapter()
    snap = _borrower(usdc)
    points = adapter.liquidation_points(snap)
    # WBTC alone liquidates only once WETH's 3187.5 USD of adjusted value no longer covers the debt
    assert set(points) == {WETH_FEED, USDC_FEED} | ({WBTC_FEED} if usdc > 3_188 * 10**6 else set())
    for key, point in points.items():
        healthy = adapter.healthy_at(snap, key)
        assert healthy(point.price)
        worse = point.price - 1 if point.falling else point.price + 1
        assert not healthy(worse)
        assert not adapter.health_at(snap, {key: point.price}).liquidatable
        assert adapter.reprice(snap, {key: worse}).health.liquidatable
        assert point.falling is (key != USDC_FEED)


def test_liquidation_point_of_an_inverted_collateral_is_a_rising_price():
    # eUSDC collateral in a WETH-denominated vault, priced by an ETH/USDC feed the router inverts; debt in WETH
    # itself (price 1, fixed)
    scale = rules.calc_scale(18, 6, 8)
    usdc = _leg(EUSDC, Role.COLLATERAL, 10_000 * 10**6, 2_500 * 10**8, ETH_USDC_FEED, scale, ltv=8500,
                borrow_ltv=8000, inverse=True, decimals=6)
    assert usdc.value == 4 * E18  # 10000 USDC = 4 WETH at 2500
    debt = Leg(asset="0x" + "ee" * 20, symbol="WETH", decimals=18, role=Role.DEBT, amount=3 * E18, price=1,
               price_decimals=0, price_key="0x" + "ee" * 20, value=3 * E18,
               terms={"resolved_amount": 3 * E18, "price_exp": 0, "feed_exp": 0, "inverse": 0, "fixed": 1})
    snap = _position([usdc, debt])
    adapter = _adapter()
    assert adapter.price_dependencies(snap) == {ETH_USDC_FEED}  # the WETH debt moves with nothing
    [(key, point)] = adapter.liquidation_points(snap).items()
    assert key == ETH_USDC_FEED and not point.falling
    # 4 WETH * 0.85 = 3.4 against 3: the line is where 1e9*1e4*1e26/(1e6*p) * 0.85 <= 3e18, p ~ 2833.33e8
    assert point.price == 283_333_333_333
    healthy = adapter.healthy_at(snap, key)
    assert healthy(point.price) and not healthy(point.price + 1)
    assert not adapter.reprice(snap, {key: point.price}).health.liquidatable
    assert adapter.reprice(snap, {key: point.price + 1}).health.liquidatable


def test_a_feed_moving_both_sides_has_no_single_liquidation_price():
    # WETH collateral and a WETH debt on the same feed: no single direction liquidates
    snap = _position([
        _leg(EWETH, Role.COLLATERAL, 2 * E18, 2_500 * 10**8, WETH_FEED, USD_18, ltv=8500),
        _leg("0x" + "ee" * 20, Role.DEBT, E18, 2_500 * 10**8, WETH_FEED, USD_18),
    ])
    assert _adapter().liquidation_points(snap) == {}


def test_reprice_keeps_amounts_and_recomputes_exactly():
    snap = _borrower(3_000 * 10**6)
    moved = _adapter().reprice(snap, {WETH_FEED: 2_000 * 10**8})
    weth = next(leg for leg in moved.legs if leg.asset == EWETH)
    assert weth.amount == 15 * 10**17 and weth.price == 2_000 * 10**8
    assert weth.value == 1_500_000_000_000_000_123 * 10**18 * 2_000 * 10**8 // 10**26
    assert moved.health.equity == rules.ltv_adjusted(weth.value, 8500) + rules.ltv_adjusted(600 * E18, 7800)
    assert snap.legs[0].price == 2_500 * 10**8  # the original is untouched
    assert _adapter().health_at(snap, {WETH_FEED: 2_000 * 10**8}) == moved.health


def test_price_from_feed_only_for_followed_chainlink_feeds():
    adapter = _adapter()
    reading = FeedReading(address=WETH_FEED, kind="chainlink", round_id=3, answer=2_400 * 10**8, updated_at=1,
                          decimals=8)
    assert adapter.price_from_feed(reading) is None  # not a feed this market's adapters were seen to use
    adapter._chainlink_feeds.add(WETH_FEED)
    assert adapter.price_from_feed(reading) == (WETH_FEED, 2_400 * 10**8)
    assert adapter.price_from_feed(dataclasses.replace(reading, answer=0)) is None
    assert adapter.price_from_feed(dataclasses.replace(reading, kind="pyth", price_id="0x01")) is None


def test_discovery_scans_the_evcs_controller_status_for_this_vault():
    spec = _adapter().discovery()
    topic = "0x" + keccak(text="ControllerStatus(address,address,bool)").hex()
    assert spec.account_topic == {topic: 1} and spec.emitter_getter == "EVC()"
    assert spec.match == (None, "0x" + "0" * 24 + VAULT[2:].lower())
    assert spec.topics() == [[topic], None, spec.match[1]]


# --- the ABI: selectors as Euler's deployments know them (generated bindings of the EVault and the EVC)

SELECTORS = {("EVault", "accountLiquidity"): "a824bf67", ("EVault", "LTVFull"): "33708d0c",
             ("EVault", "debtOfExact"): "ab49b7f1", ("EVault", "debtOf"): "d283e75f",
             ("EVC", "getLastAccountStatusCheckTimestamp"): "df7c1384"}


@pytest.mark.parametrize(("contract", "name"), sorted(SELECTORS))
def test_selectors(contract, name):
    args = [USDC, True] if name == "accountLiquidity" else [USDC]
    assert load("euler_v2", contract).function(name).call(VAULT, *args).data[:4].hex() == SELECTORS[(contract, name)]


def test_outputs_as_the_adapter_decodes_them():
    vault = load("euler_v2", "EVault")
    assert vault.function("LTVFull").outputs == ("uint16", "uint16", "uint16", "uint48", "uint32")
    assert load("euler_v2", "EVC").function("getCollaterals").outputs == ("address[]",)
    assert load("euler_v2", "EulerRouter").function("resolveOracle").outputs == ("uint256", "address", "address",
                                                                                 "address")
    assert load("euler_v2", "OracleAdapter").function("cache").outputs == ("uint160", "uint48", "uint48")


def test_estimates_do_not_matter_to_the_exact_answer():
    """The liquidation price comes from bisection on the protocol's own test: the linear estimate only seeds it."""
    snap = _borrower(3_100 * 10**6)
    adapter = _adapter()
    point = adapter.liquidation_points(snap)[WETH_FEED]
    healthy = adapter.healthy_at(snap, WETH_FEED)
    lo, hi = 0, 10**16
    while hi - lo > 1:  # brute bisection, independent of the adapter's estimate
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if healthy(mid) else (mid, hi)
    assert point.price == hi
    assert Fraction(point.price, 10**8) < 2_500


# --- assembling a position from what a read returned (no chain): stale quotes, refusals, the self-check

PYTH = "0x00000000000000000000000000000000000000D1"
PYTH_ADAPTER = "0x00000000000000000000000000000000000000D2"
RED_ADAPTER = "0x00000000000000000000000000000000000000D3"
WSTETH = "0x00000000000000000000000000000000000000E1"
USD = "0x0000000000000000000000000000000000000348"
FEED_ID = "0x" + "12" * 32
NOW = 1_796_000_000


def _context(pyth_refusal: tuple[str, str] | None, redstone_refusal: tuple[str, str] | None = None):
    tokens = {USDC: Token("USDC", 6), USD: Token("USD", 18), EWETH: Token("ewstETH", 18), WSTETH: Token("wstETH", 18)}
    adapters = {
        PYTH_ADAPTER: Adapter(PYTH_ADAPTER, "pyth", "PythOracle", WSTETH, USD, 900, pyth=PYTH, feed_id=FEED_ID,
                              max_conf_width=100),
        RED_ADAPTER: Adapter(RED_ADAPTER, "redstone", "RedstoneCoreOracle", USDC, USD, 180, feed_id=FEED_ID,
                             feed_decimals=8),
    }
    prices = {
        PYTH_ADAPTER: _PriceRead(2_950 * 10**8, 8, f"{PYTH}:{FEED_ID}", rules.pyth_scale(18, 18, -8),
                                 feed=f"{PYTH}:{FEED_ID}", refusal=pyth_refusal),
        RED_ADAPTER: _PriceRead(100_000_000, 8, RED_ADAPTER, rules.calc_scale(6, 18, 8), refusal=redstone_refusal),
    }
    layout = Layout(evc="0x" + "0e" * 20, asset=USDC, oracle="0x" + "0f" * 20, unit_of_account=USD, tokens=tokens,
                    adapters=adapters)
    ltvs = {EWETH: rules.LTVConfig(7500, 8000, 0, NOW - 1, 0)}
    return _Context(layout, adapters, prices, ltvs, BlockRef(number=9, hash="0x", timestamp=NOW), 0, 1500, 10**27)


def _account(quote, debt_quote):
    s = _Account("0x" + "ab" * 20, 1_000 * 10**6 << 31, controllers=[VAULT], collaterals=[EWETH],
                 owner="0x" + "ab" * 19 + "00")
    s.balances[EWETH] = 2 * E18
    s.quotes[EWETH] = (quote, Resolution(2 * E18, WSTETH, USD, PYTH_ADAPTER))
    s.debt_quote = (debt_quote, Resolution(1_000 * 10**6, USDC, USD, RED_ADAPTER))
    return s


def test_a_quote_refused_as_stale_keeps_the_position_at_the_last_price():
    ctx = _context(("stale", "published 1000s ago > maxStaleness 900s"))
    s = _account(Failed("reverted 0x" + keccak(text="PriceOracle_InvalidAnswer()")[:4].hex()), (1_000 * E18,))
    snap = _adapter()._snapshot(s, ctx)
    assert snap is not None and snap.price_status == "STALE"
    assert snap.detail["stale_quotes"][0]["adapter_name"] == "PythOracle"
    assert "pull oracle needs an update" in snap.detail["unverified"]
    collateral = rules.ltv_adjusted(5_900 * E18, 8000)  # 2 wstETH at the last published 2950
    assert (snap.health.equity, snap.health.debt) == (collateral, 1_000 * E18)
    assert snap.owner == "0x" + "ab" * 19 + "00" and snap.detail["sub_account_id"] == 0xAB


def test_a_refusal_that_is_not_staleness_leaves_the_account_unpriced():
    invalid = _context(("invalid", "price 0 <= 0"))
    assert _adapter()._snapshot(_account(Failed("reverted 0x1234abcd"), (1_000 * E18,)), invalid) is None
    # the adapter would accept the price yet the router refused: not a stale price either
    fresh = _context(None)
    assert _adapter()._snapshot(_account(Failed("reverted 0x1234abcd"), (1_000 * E18,)), fresh) is None


def test_a_stale_redstone_cache_on_the_debt_is_stale_too():
    ctx = _context(None, ("stale", "cached price 200s old > maxStaleness 180s"))
    stale = Failed(f"reverted {TOO_STALE}" + "00" * 64)
    snap = _adapter()._snapshot(_account((5_900 * E18,), stale), ctx)
    assert snap is not None and snap.price_status == "STALE"
    debt = next(leg for leg in snap.legs if leg.role is Role.DEBT)
    assert debt.value == 1_000 * E18 and debt.price_key == RED_ADAPTER  # 1000 USDC at 1.00000000
    assert [q["role"] for q in snap.detail["stale_quotes"]] == ["debt"]


def test_self_check_keeps_the_protocols_figures_on_a_disagreement():
    ctx = _context(None)
    s = _account((5_900 * E18,), (1_000 * E18,))
    snap = _adapter()._snapshot(s, ctx)
    assert snap is not None and "unverified" not in snap.detail
    s.protocol, s.protocol_debt = (snap.health.equity, snap.health.debt), 1_000 * 10**6
    assert _adapter()._agrees(snap, s)
    s.protocol = (900 * E18, 1_000 * E18)  # the chain says it is under water
    assert not _adapter()._agrees(snap, s)
    assert (snap.health.equity, snap.health.debt, snap.health.liquidatable) == (900 * E18, 1_000 * E18, True)
    assert "accountLiquidity" in snap.detail["unverified"]
    assert snap.detail["protocol_liquidity"]["collateral_value"] == str(900 * E18)
