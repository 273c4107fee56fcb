"""The Compound v3 devnet's DevComet answers as Comet does, checked against expectations computed by hand.

One anvil per module: both Comets (cUSDCv3 in USD, cWETHv3 in ETH) deployed and 60 positions seeded. Each test
runs inside an evm snapshot. The expected values are plain integer arithmetic written here from the published
compound-finance/comet sources (CometCore.sol: present/principal values; CometWithExtendedAssetList.sol: rates,
accrual, the health loops, withdrawBase, absorbInternal; AssetList.sol: four decimals per factor, whole-token
caps), independently of the indexer's rules and of the devnet module's own planning math.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from indexer.devnet import Anvil
from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import keyless_address
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.protocols.compound_v3 import devnet as cd
from tests.fixtures.devnet import reverting

SEEDED = 60
FACTOR = 10**18
INDEX = 10**15
YEAR = 31_536_000
ABSORB_DEBT = cd.ABSORB_DEBT
ABSORB_COLLATERAL = cd.ABSORB_COLLATERAL


@dataclass
class CometNet:
    url: str
    record: dict[str, Any]
    seeded: list[cd.SeededComet]
    timings: dict[str, float]

    def market(self, name: str) -> dict[str, Any]:
        return dict(self.record["markets"][name])

    def asset(self, market: str, symbol: str) -> dict[str, Any]:
        return next(a for a in self.market(market)["assets"] if a["symbol"] == symbol)


@pytest.fixture(scope="module")
def comet_net() -> Iterator[CometNet]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cd.compile_compound_v3()
    timings["compile"] = time.perf_counter() - started
    with Anvil() as node:
        started = time.perf_counter()
        record = cd.deploy_compound_v3(node.url)
        timings["deploy"] = time.perf_counter() - started
        started = time.perf_counter()
        seeded = cd.seed_positions(node.url, record, SEEDED)
        timings["seed"] = time.perf_counter() - started
        yield CometNet(node.url, record, seeded, timings)


@pytest.fixture
def net(comet_net: CometNet) -> Iterator[CometNet]:
    with reverting(comet_net.url):
        yield comet_net


# --- Comet's arithmetic, by hand


def present_value(principal: int, index: int) -> int:
    """presentValueSupply / presentValueBorrow of a principal magnitude: truncated."""
    return principal * index // INDEX


def borrow_principal(present: int, index: int) -> int:
    """principalValueBorrow: rounded UP."""
    return (present * INDEX + index - 1) // index


def supply_principal(present: int, index: int) -> int:
    """principalValueSupply: rounded down."""
    return present * INDEX // index


def kink_rate(u: int, kink: int, base: int, low: int, high: int) -> int:
    if u <= kink:
        return base + low * u // FACTOR
    return base + low * kink // FACTOR + high * (u - kink) // FACTOR


def per_second(spec: cd.MarketSpec) -> dict[str, int]:
    r = spec.rates
    return {
        "supplyKink": r.supply_kink, "borrowKink": r.borrow_kink,
        "supplyPerSecondInterestRateBase": r.supply_base // YEAR,
        "supplyPerSecondInterestRateSlopeLow": r.supply_slope_low // YEAR,
        "supplyPerSecondInterestRateSlopeHigh": r.supply_slope_high // YEAR,
        "borrowPerSecondInterestRateBase": r.borrow_base // YEAR,
        "borrowPerSecondInterestRateSlopeLow": r.borrow_slope_low // YEAR,
        "borrowPerSecondInterestRateSlopeHigh": r.borrow_slope_high // YEAR,
    }  # fmt: skip


def utilization(t: cd.TotalsBasic) -> int:
    supplied = present_value(t.total_supply_base, t.base_supply_index)
    borrowed = present_value(t.total_borrow_base, t.base_borrow_index)
    return 0 if supplied == 0 else borrowed * FACTOR // supplied


def accrued(t: cd.TotalsBasic, spec: cd.MarketSpec, now: int) -> tuple[int, int]:
    """accruedInterestIndices(now - lastAccrualTime): (supply index, borrow index)."""
    rates, elapsed = per_second(spec), now - t.last_accrual_time
    supply_index, borrow_index = t.base_supply_index, t.base_borrow_index
    if elapsed > 0:
        u = utilization(t)
        supply_rate = kink_rate(u, rates["supplyKink"], rates["supplyPerSecondInterestRateBase"],
                                rates["supplyPerSecondInterestRateSlopeLow"],
                                rates["supplyPerSecondInterestRateSlopeHigh"])  # fmt: skip
        borrow_rate = kink_rate(u, rates["borrowKink"], rates["borrowPerSecondInterestRateBase"],
                                rates["borrowPerSecondInterestRateSlopeLow"],
                                rates["borrowPerSecondInterestRateSlopeHigh"])  # fmt: skip
        supply_index += supply_index * (supply_rate * elapsed) // FACTOR
        borrow_index += borrow_index * (borrow_rate * elapsed) // FACTOR
    return supply_index, borrow_index


def collateral_value(units: int, price: int, decimals: int, factor: int) -> int:
    """mulFactor(mulPrice(balance, price, scale), factor)."""
    return units * price // 10**decimals * factor // FACTOR


def liquidity(debt: int, base_price: int, base_scale: int, weights: list[int]) -> int:
    """The health loop's liquidity: signedMulPrice(-debt, ...) truncates toward zero, then each collateral adds
    its weight (the early `liquidity >= 0` exit never changes the sign of the answer)."""
    return -(debt * base_price // base_scale) + sum(weights)


# --- chain helpers


def spec(name: str) -> cd.MarketSpec:
    return next(m for m in cd.MARKETS if m.name == name)


def call(url: str, to: str, data: str, block: int | str = "latest", sender: str | None = None) -> str:
    params: dict[str, Any] = {"to": to, "data": data}
    if sender:
        params["from"] = sender
    tag = hex(block) if isinstance(block, int) else block
    return str(JsonRpcClient(url).call("eth_call", [params, tag]))


def call_error(url: str, to: str, data: str, block: int | str = "latest", sender: str | None = None) -> str | None:
    """The Comet custom error the call reverts with; None when it succeeds."""
    try:
        call(url, to, data, block, sender)
    except DevnetRpcError as exc:
        name = cd.revert_error(exc)
        assert name is not None, exc
        return name
    return None


def block_time(url: str, block: int | str = "latest") -> int:
    tag = hex(block) if isinstance(block, int) else block
    return int(JsonRpcClient(url).call("eth_getBlockByNumber", [tag, False])["timestamp"], 16)


def mine_at(url: str, timestamp: int) -> int:
    rpc = JsonRpcClient(url)
    rpc.call("evm_setNextBlockTimestamp", [timestamp])
    rpc.call("evm_mine")
    return int(rpc.call("eth_blockNumber"), 16)


def send(url: str, sender: str, to: str, signature: str, *args: Any) -> dict[str, Any]:
    rpc = JsonRpcClient(url)
    tx_hash = transact(rpc, f"{signature} by {sender}", sender, to, encode_call(signature, *args))
    receipt: dict[str, Any] = rpc.call("eth_getTransactionReceipt", [tx_hash])
    return receipt


def fresh_collateral(net: CometNet, market: str, account: str, symbol: str, units: int) -> None:
    """A new keyless account mints, approves and supplies ``units`` of ``symbol`` as collateral."""
    token, comet = net.asset(market, symbol)["address"], net.market(market)["comet"]
    JsonRpcClient(net.url).call("anvil_setBalance", [account, hex(10**18)])
    send(net.url, account, token, "mint(address,uint256)", account, units)
    send(net.url, account, token, "approve(address,uint256)", comet, 2**256 - 1)
    send(net.url, account, comet, "supply(address,uint256)", token, units)


# --- tests


def test_deployment_record_and_seeding(comet_net):
    net, url = comet_net, comet_net.url
    print(f"\nCompound v3 devnet timings: {net.timings}")
    assert net.timings["deploy"] + net.timings["seed"] < 15
    record = net.record
    assert set(record) == {"deployer", "lender", "block_number", "contracts", "tokens", "markets", "feeds"}
    assert "reserves" not in record
    assert record["contracts"] == {f"CompoundV3.{m}": record["markets"][m]["comet"] for m in ("cUSDCv3", "cWETHv3")}
    assert set(record["feeds"]) == {
        "cUSDCv3/USDC", "cUSDCv3/WETH", "cUSDCv3/WBTC", "cUSDCv3/wstETH", "cUSDCv3/COMP",
        "cWETHv3/WETH", "cWETHv3/wstETH", "cWETHv3/cbETH",
    }  # fmt: skip
    for name, market in record["markets"].items():
        comet = market["comet"]
        assert set(market["base"]) >= {"symbol", "address", "decimals", "feed"}
        assert record["feeds"][f"{name}/{market['base']['symbol']}"] == market["base"]["feed"]
        assert [a["offset"] for a in market["assets"]] == list(range(len(market["assets"])))
        assert decode(["address"], call(url, comet, encode_call("baseToken()")))[0].lower() == (
            market["base"]["address"].lower())
        assert int(decode(["uint256"], call(url, comet, encode_call("baseScale()")))[0]) == 10 ** market["base"][
            "decimals"]
        for a in market["assets"]:
            assert set(a) >= {"symbol", "address", "decimals", "feed", "offset"}
            assert record["feeds"][f"{name}/{a['symbol']}"] == a["feed"]
            assert cd.feed_answer(url, record, name, a["symbol"]) == a["price"]
    # the WETH market's figures are in ETH: its base feed answers a constant 1e8
    assert cd.feed_answer(url, record, "cWETHv3", "WETH") == 10**8
    assert cd.feed_answer(url, record, "cWETHv3", "wstETH") == 118_000_000
    assert cd.feed_answer(url, record, "cUSDCv3", "WETH") == 2_500 * 10**8

    seeded = net.seeded
    assert len(seeded) == SEEDED and len({p.account for p in seeded}) == SEEDED
    kinds = collections.Counter(p.kind for p in seeded)
    assert set(kinds) == set(cd.KINDS)
    assert {p.kind for p in seeded if p.market == "cWETHv3"} >= {"eth", "edge", "multi", "supplier"}
    assert all(p.market == "cWETHv3" for p in seeded if p.kind == "eth")
    assert all(set(p.collateral) == {"WBTC"} for p in seeded if p.kind == "wbtc")
    assert all(2 <= len(p.collateral) <= 4 for p in seeded if p.kind == "multi")
    for p in seeded:
        basic = cd.read_user_basic(url, p.comet, p.account)
        offsets = {a["symbol"]: a["offset"] for a in net.market(p.market)["assets"]}
        assert basic.assets_in == sum(1 << offsets[s] for s in p.collateral) and basic.reserved == 0, p
        for symbol, units in p.collateral.items():
            assert cd.collateral_balance(url, p.comet, p.account, net.asset(p.market, symbol)["address"]) == units
        assert (basic.principal < 0) == (p.borrowed > 0), p
        assert (basic.principal > 0) == (p.kind == "supplier"), p
        if p.kind == "collateral_only":
            assert basic.principal == 0
        if p.borrowed:
            assert cd.is_borrow_collateralized(url, p.comet, p.account)
            assert not cd.is_liquidatable(url, p.comet, p.account)
    # a borrow only 50-95 % of the borrowing power
    for p in seeded:
        if p.kind in ("single", "multi", "wbtc", "eth"):
            market = net.market(p.market)
            power = sum(collateral_value(u, net.asset(p.market, s)["price"], net.asset(p.market, s)["decimals"],
                                        net.asset(p.market, s)["borrow_collateral_factor"])
                        for s, u in p.collateral.items())  # fmt: skip
            borrow_value = p.borrowed * market["base"]["price"] // market["base_scale"]
            assert 0.49 * power <= borrow_value <= 0.951 * power, p


def test_asset_info_keeps_four_decimals_and_whole_token_caps(comet_net):
    url = comet_net.url
    for m in cd.MARKETS:
        comet = comet_net.market(m.name)["comet"]
        assert int(decode(["uint8"], call(url, comet, encode_call("numAssets()")))[0]) == len(m.assets)
        for offset, a in enumerate(m.assets):
            token = cd._TOKEN[a.symbol]
            expected = (
                offset, comet_net.asset(m.name, a.symbol)["address"].lower(),
                comet_net.record["feeds"][f"{m.name}/{a.symbol}"].lower(), 10**token.decimals,
                a.borrow_collateral_factor // 10**14 * 10**14, a.liquidate_collateral_factor // 10**14 * 10**14,
                a.liquidation_factor // 10**14 * 10**14, a.supply_cap // 10**token.decimals * 10**token.decimals,
            )  # fmt: skip
            info = cd.read_asset_info(url, comet, offset)
            assert tuple(v.lower() if isinstance(v, str) else v for v in info) == expected
            by_address = decode(["(" + ",".join(cd.ASSET_INFO_TYPES) + ")"], call(
                url, comet, encode_call("getAssetInfoByAddress(address)", info[1])))[0]
            assert tuple(by_address) == tuple(info)
        assert call_error(url, comet, encode_call("getAssetInfo(uint8)", len(m.assets))) == "BadAsset"
        assert call_error(url, comet, encode_call("getAssetInfoByAddress(address)", comet)) == "BadAsset"
    # the two configured values Comet cannot hold exactly
    comp = cd.read_asset_info(url, comet_net.market("cUSDCv3")["comet"], 3)
    assert comp[4] == 65 * 10**16 != spec("cUSDCv3").assets[3].borrow_collateral_factor
    wbtc = cd.read_asset_info(url, comet_net.market("cUSDCv3")["comet"], 1)
    assert wbtc[7] == 18_000 * 10**8 != spec("cUSDCv3").assets[1].supply_cap
    assert comet_net.asset("cUSDCv3", "COMP")["borrow_collateral_factor"] == 65 * 10**16


def test_rates_and_utilization(comet_net):
    url = comet_net.url
    for m in cd.MARKETS:
        comet = comet_net.market(m.name)["comet"]
        rates = per_second(m)
        for getter, value in rates.items():
            assert int(decode(["uint256"], call(url, comet, encode_call(f"{getter}()")))[0]) == value, getter
        for u in (0, 3 * 10**17, rates["borrowKink"], rates["borrowKink"] + 1, 95 * 10**16, FACTOR):
            borrow = kink_rate(u, rates["borrowKink"], rates["borrowPerSecondInterestRateBase"],
                               rates["borrowPerSecondInterestRateSlopeLow"],
                               rates["borrowPerSecondInterestRateSlopeHigh"])  # fmt: skip
            supply = kink_rate(u, rates["supplyKink"], rates["supplyPerSecondInterestRateBase"],
                               rates["supplyPerSecondInterestRateSlopeLow"],
                               rates["supplyPerSecondInterestRateSlopeHigh"])  # fmt: skip
            assert int(decode(["uint64"], call(url, comet, encode_call("getBorrowRate(uint256)", u)))[0]) == borrow
            assert int(decode(["uint64"], call(url, comet, encode_call("getSupplyRate(uint256)", u)))[0]) == supply
        totals = cd.read_totals_basic(url, comet)
        assert totals.tracking_supply_index == totals.tracking_borrow_index == totals.pause_flags == 0
        u = int(decode(["uint256"], call(url, comet, encode_call("getUtilization()")))[0])
        assert u == utilization(totals) and 0 < u < 7 * 10**17


def test_borrow_principal_rounds_up_and_supply_principal_down(net):
    url, market = net.url, net.market("cUSDCv3")
    comet, usdc = market["comet"], market["base"]["address"]
    mine_at(url, block_time(url) + 10 * 86_400)  # an index well away from 1e15
    borrower, supplier = (keyless_address("compound-v3", f"test/{who}") for who in ("borrower", "supplier"))
    fresh_collateral(net, "cUSDCv3", borrower, "WETH", 3 * 10**18)  # $7,500
    amount = 4_321_987_654  # 4,321.987654 USDC
    receipt = send(url, borrower, comet, "withdraw(address,uint256)", usdc, amount)
    block = int(receipt["blockNumber"], 16)
    index = cd.read_totals_basic(url, comet, block).base_borrow_index
    principal = cd.read_user_basic(url, comet, borrower, block).principal
    assert index > INDEX and (amount * INDEX) % index  # rounding matters
    assert principal == -borrow_principal(amount, index) == -(amount * INDEX // index) - 1
    assert cd.borrow_balance(url, comet, borrower, block) == present_value(-principal, index)

    JsonRpcClient(url).call("anvil_setBalance", [supplier, hex(10**18)])
    deposit = 9_876_543_211
    send(url, supplier, usdc, "mint(address,uint256)", supplier, deposit)
    send(url, supplier, usdc, "approve(address,uint256)", comet, 2**256 - 1)
    receipt = send(url, supplier, comet, "supply(address,uint256)", usdc, deposit)
    block = int(receipt["blockNumber"], 16)
    supply_index = cd.read_totals_basic(url, comet, block).base_supply_index
    assert supply_index > INDEX and (deposit * INDEX) % supply_index
    assert cd.read_user_basic(url, comet, supplier, block).principal == supply_principal(deposit, supply_index)
    balance = int(decode(["uint256"], call(url, comet, encode_call("balanceOf(address)", supplier), block))[0])
    assert balance == present_value(supply_principal(deposit, supply_index), supply_index) < deposit

    # below baseBorrowMin a borrow is refused, at it not (the check is on the present value)
    other = keyless_address("compound-v3", "test/small")
    fresh_collateral(net, "cUSDCv3", other, "WETH", 10**18)
    withdraw = "withdraw(address,uint256)"
    assert call_error(url, comet, encode_call(withdraw, usdc, market["base_borrow_min"] - 1), sender=other) == (
        "BorrowTooSmall")
    assert call_error(url, comet, encode_call(withdraw, usdc, market["base_borrow_min"]), sender=other) is None


def test_edge_positions_are_one_unit_from_the_borrow_limit(comet_net):
    url = comet_net.url
    edges = [p for p in comet_net.seeded if p.kind == "edge"]
    assert len(edges) >= 10 and {p.market for p in edges} == {"cUSDCv3", "cWETHv3"}
    assert any(len(p.collateral) > 1 for p in edges)
    for p in edges:
        market = comet_net.market(p.market)
        base = market["base"]
        assert p.block is not None
        index = cd.read_totals_basic(url, p.comet, p.block).base_borrow_index
        principal = cd.read_user_basic(url, p.comet, p.account, p.block).principal
        assert principal == -borrow_principal(p.borrowed, index), p
        weights = [collateral_value(u, comet_net.asset(p.market, s)["price"], comet_net.asset(p.market, s)["decimals"],
                                    comet_net.asset(p.market, s)["borrow_collateral_factor"])
                   for s, u in p.collateral.items()]  # fmt: skip
        room = [liquidity(present_value(borrow_principal(amount, index), index), base["price"], market["base_scale"],
                          weights) for amount in (p.borrowed, p.borrowed + 1)]  # fmt: skip
        assert room[0] >= 0 > room[1], p  # by hand: the largest amount accepted
        assert cd.is_borrow_collateralized(url, p.comet, p.account, p.block)
        # and the Comet agrees: at that block one more unit is refused
        more = encode_call("withdraw(address,uint256)", base["address"], 1)
        assert call_error(url, p.comet, more, p.block, sender=p.account) == "NotCollateralized", p


def test_min_borrow_principal_just_above_the_minimum(comet_net):
    for p in (p for p in comet_net.seeded if p.kind == "min_borrow"):
        market = comet_net.market(p.market)
        principal = -cd.read_user_basic(comet_net.url, p.comet, p.account).principal
        assert market["base_borrow_min"] < principal <= market["base_borrow_min"] + market["base_scale"] // 1_000, p


def test_stored_index_decides_is_liquidatable_accrued_index_decides_absorb(net):
    url, market = net.url, net.market("cUSDCv3")
    comet, m = market["comet"], spec("cUSDCv3")
    p = next(p for p in net.seeded if p.kind == "single" and set(p.collateral) == {"WETH"})
    weth = net.asset("cUSDCv3", "WETH")
    principal = -cd.read_user_basic(url, comet, p.account).principal
    stored = cd.read_totals_basic(url, comet)
    target = block_time(url) + 30 * 86_400
    _, accrued_index = accrued(stored, m, target)
    base_price, base_scale = market["base"]["price"], market["base_scale"]
    debt_stored = present_value(principal, stored.base_borrow_index) * base_price // base_scale
    debt_accrued = present_value(principal, accrued_index) * base_price // base_scale
    assert debt_accrued > debt_stored

    def weight(price: int) -> int:
        return collateral_value(p.collateral["WETH"], price, weth["decimals"], weth["liquidate_collateral_factor"])

    lo, hi = 1, weth["price"]  # the lowest WETH price at which the stored debt is still covered
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if weight(mid) >= debt_stored else (mid + 1, hi)
    price = lo
    assert debt_stored <= weight(price) < debt_accrued  # between the two

    cd.set_feed_price(url, net.record, "cUSDCv3", "WETH", price)
    block = mine_at(url, target)
    assert cd.read_totals_basic(url, comet, block) == stored  # nothing accrued on chain
    assert cd.borrow_balance(url, comet, p.account, block) == present_value(principal, accrued_index)
    assert not cd.is_liquidatable(url, comet, p.account, block)  # the view: stored index
    assert cd.absorb_succeeds(url, comet, p.account, block)  # absorb accrues first

    # once accrued on chain, the view agrees
    accrued_block = cd.accrue(url, net.record, "cUSDCv3")
    assert cd.is_liquidatable(url, comet, p.account, accrued_block)


@pytest.mark.parametrize(("market_name", "kind", "surplus"), [("cUSDCv3", "multi", True), ("cWETHv3", "eth", False)])
def test_absorb_seizes_everything_and_emits_the_events(net, market_name, kind, surplus):
    """cUSDCv3: prices put just under the liquidation line, so the liquidation factors (above the liquidate
    factors) turn the seized collateral into more than the debt and the rest becomes supply. cWETHv3: a crash to
    30 %, the protocol absorbs the bad debt and the balance ends at 0."""
    url, market = net.url, net.market(market_name)
    comet, m = market["comet"], spec(market_name)
    wanted = 3 if surplus else 1  # collaterals
    p = next(p for p in net.seeded if p.kind == kind and p.market == market_name and len(p.collateral) >= wanted)
    healthy = next(q for q in net.seeded if q.kind == "collateral_only" and q.market == market_name)
    assert not cd.absorb_succeeds(url, comet, p.account)  # healthy for now: NotLiquidatable
    assert not cd.absorb_succeeds(url, comet, healthy.account)

    base_price, base_scale = market["base"]["price"], market["base_scale"]
    principal = cd.read_user_basic(url, comet, p.account).principal
    debt_value = present_value(-principal, cd.read_totals_basic(url, comet).base_borrow_index) * base_price // (
        base_scale)
    assets = {s: net.asset(market_name, s) for s in p.collateral}
    covered = sum(collateral_value(u, a["price"], a["decimals"], a["liquidate_collateral_factor"])
                  for a, u in ((assets[s], u) for s, u in p.collateral.items()))  # fmt: skip
    prices = {s: (a["price"] * debt_value * 99 // (100 * covered) if surplus else a["price"] * 3 // 10)
              for s, a in assets.items()}  # fmt: skip
    for symbol, price in prices.items():
        cd.set_feed_price(url, net.record, market_name, symbol, price)
    assert cd.is_liquidatable(url, comet, p.account)

    before = cd.read_totals_basic(url, comet)
    collateral_totals = {
        s: int(decode(["uint128", "uint128"], call(url, comet, encode_call("totalsCollateral(address)",
                                                                             a["address"])))[0])
        for s, a in assets.items()
    }  # fmt: skip
    absorber = keyless_address("compound-v3", "test/absorber")
    receipt = cd.absorb(url, net.record, market_name, [p.account], absorber)
    block = int(receipt["blockNumber"], 16)

    # accrued first, to the absorb block's timestamp
    supply_index, borrow_index = accrued(before, m, block_time(url, block))
    after = cd.read_totals_basic(url, comet, block)
    assert (after.base_supply_index, after.base_borrow_index) == (supply_index, borrow_index)
    old_balance = -present_value(-principal, borrow_index)
    credited = 0
    expected_logs = []
    for symbol in sorted(p.collateral, key=lambda s: assets[s]["offset"]):
        seized = p.collateral[symbol]
        value = seized * prices[symbol] // 10 ** assets[symbol]["decimals"]  # mulPrice
        credited += value * assets[symbol]["liquidation_factor"] // FACTOR  # mulFactor, summed
        expected_logs.append((assets[symbol]["address"], seized, value))
    new_balance = max(old_balance + credited * base_scale // base_price, 0)  # divPrice once; never below 0
    new_principal = supply_principal(new_balance, supply_index)
    paid_out = new_balance - old_balance
    assert (new_principal > 0) is surplus

    logs = [entry for entry in receipt["logs"] if entry["address"].lower() == comet.lower()]
    absorbed = [entry for entry in logs if entry["topics"][0] == ABSORB_COLLATERAL]
    assert len(absorbed) == len(p.collateral)
    for entry, (asset_address, seized, value) in zip(absorbed, expected_logs, strict=True):
        assert int(entry["topics"][1], 16) == int(absorber, 16)
        assert int(entry["topics"][2], 16) == int(p.account, 16)
        assert int(entry["topics"][3], 16) == int(asset_address, 16)
        assert tuple(int(v) for v in decode(["uint256", "uint256"], entry["data"])) == (seized, value)
    (debt,) = [entry for entry in logs if entry["topics"][0] == ABSORB_DEBT]
    assert int(debt["topics"][1], 16) == int(absorber, 16) and int(debt["topics"][2], 16) == int(p.account, 16)
    assert tuple(int(v) for v in decode(["uint256", "uint256"], debt["data"])) == (
        paid_out, paid_out * base_price // base_scale)
    minted = [entry for entry in logs if entry["topics"][0] == cd.TRANSFER]
    assert [int(decode(["uint256"], e["data"])[0]) for e in minted] == (
        [present_value(new_principal, supply_index)] if surplus else [])

    basic = cd.read_user_basic(url, comet, p.account, block)
    assert (basic.principal, basic.assets_in, basic.reserved) == (new_principal, 0, 0)
    for symbol, asset in assets.items():
        assert cd.collateral_balance(url, comet, p.account, asset["address"], block) == 0
        total = int(decode(["uint128", "uint128"], call(url, comet, encode_call("totalsCollateral(address)",
                                                                              asset["address"]), block))[0])
        assert total == collateral_totals[symbol] - p.collateral[symbol]
    assert after.total_borrow_base == before.total_borrow_base + principal  # the whole debt repaid
    assert after.total_supply_base == before.total_supply_base + new_principal
    assert not cd.is_liquidatable(url, comet, p.account, block)
    points = decode(["uint32", "uint64", "uint128", "uint32"],
                    call(url, comet, encode_call("liquidatorPoints(address)", absorber), block))  # fmt: skip
    assert tuple(int(v) for v in points[:2]) == (1, 1)


def test_get_price_refuses_zero_and_negative_answers(net):
    url, market = net.url, net.market("cUSDCv3")
    comet = market["comet"]
    wbtc = net.asset("cUSDCv3", "WBTC")
    holder = next(p for p in net.seeded if p.kind == "wbtc")
    assert cd.get_price(url, comet, wbtc["feed"]) == 60_000 * 10**8
    for answer in (0, -1, -(60_000 * 10**8)):
        cd.set_feed_price(url, net.record, "cUSDCv3", "WBTC", answer)
        assert cd.feed_answer(url, net.record, "cUSDCv3", "WBTC") == answer
        assert call_error(url, comet, encode_call("getPrice(address)", wbtc["feed"])) == "BadPrice"
        assert call_error(url, comet, encode_call("isLiquidatable(address)", holder.account)) == "BadPrice"
        with pytest.raises(DevnetError, match="BadPrice"):
            cd.absorb_succeeds(url, comet, holder.account)
    cd.set_feed_round(url, net.record, "cUSDCv3", "WBTC", 7, 61_000 * 10**8, 1, 1)
    assert cd.get_price(url, comet, wbtc["feed"]) == 61_000 * 10**8
    # a position without WBTC never reads its feed
    other = next(p for p in net.seeded if p.kind == "single" and "WBTC" not in p.collateral and p.market == "cUSDCv3")
    cd.set_feed_price(url, net.record, "cUSDCv3", "WBTC", 0)
    assert not cd.is_liquidatable(url, comet, other.account)


def test_weth_market_is_priced_in_eth(net):
    url, market = net.url, net.market("cWETHv3")
    comet = market["comet"]
    p = next(p for p in net.seeded if p.kind == "eth")
    (symbol, units), = p.collateral.items()
    asset = net.asset("cWETHv3", symbol)
    principal = -cd.read_user_basic(url, comet, p.account).principal
    index = cd.read_totals_basic(url, comet).base_borrow_index
    debt = present_value(principal, index) * market["base"]["price"] // market["base_scale"]  # ETH, 8 decimals
    weight = collateral_value(units, asset["price"], asset["decimals"], asset["liquidate_collateral_factor"])
    assert weight > debt
    # the ETH price of the collateral that makes its weight fall short of the debt
    price = asset["price"] * debt // weight - 1
    cd.set_feed_price(url, net.record, "cWETHv3", symbol, price)
    assert collateral_value(units, price, asset["decimals"], asset["liquidate_collateral_factor"]) < debt
    assert cd.is_liquidatable(url, comet, p.account)
    # the USD market's WETH feed is another contract: moving it leaves the WETH market alone
    cd.set_feed_price(url, net.record, "cUSDCv3", "WETH", 1)
    assert cd.feed_answer(url, net.record, "cWETHv3", "WETH") == 10**8
