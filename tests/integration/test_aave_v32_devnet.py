"""The Aave v3.2 (aave-v3-origin, POOL_REVISION 5) devnet market: what was deployed and seeded is what the
record says, read back from the chain.

One anvil for the session (this module's own): the market from the pinned wheel's Forge artifacts (L2Pool,
sentinel, seven reserves, three eMode categories built with bitmaps), the chain's shared services (Multicall3
for the reads), and 200 seeded borrowers. Tests that change the chain run inside an evm snapshot.
"""

from __future__ import annotations

import collections

from indexer.devnet import Anvil, advance_time, chain
from indexer.devnet.abi import create_address, decode, encode_call
from indexer.devnet.errors import DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.devnet.wheel import origin_artifact
from indexer.protocols.aave_v3.devnet.origin import EXPECTED_POOL_REVISION, deploy_aave_v32
from indexer.protocols.aave_v3.devnet.origin_seed import KINDS, PRICE_MOVE, seed_v32
from tests.fixtures.aave_v32 import V32Devnet
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import user_account_data

SEEDED = 200
WAD = 10**18
# DataTypes.ReserveDataLegacy, what v3.2's Pool.getReserveData returns
RESERVE_DATA_LEGACY = "(uint256,uint128,uint128,uint128,uint128,uint128,uint40,uint16,address,address,address,address,uint128,uint128,uint128)"  # noqa: E501


def test_pool_revision_is_read_from_the_chain(v32: V32Devnet) -> None:
    pool = v32.record["contracts"]["Pool"]
    (revision,) = decode(["uint256"], v32.call(pool, "POOL_REVISION()"))
    assert revision == EXPECTED_POOL_REVISION == 5
    assert v32.record["pool_revision"] == 5 and v32.record["l2"] is True
    provider = v32.record["contracts"]["PoolAddressesProvider"]
    (got_pool,) = decode(["address"], v32.call(provider, "getPool()"))
    assert got_pool.lower() == pool.lower()
    # every reserve reports no stable debt token (v3.2 has none) and the record's aToken / variable debt token
    for reserve in v32.record["reserves"]:
        tokens = decode(
            ["address"] * 3,
            v32.call(
                v32.record["contracts"]["AaveProtocolDataProvider"],
                "getReserveTokensAddresses(address)",
                reserve["asset"],
            ),
        )
        assert [t.lower() for t in tokens] == [
            reserve["aToken"].lower(),
            "0x" + "0" * 40,
            reserve["variableDebtToken"].lower(),
        ]
    assert v32.deploy_seconds < 60 and v32.seed_seconds < 60


async def test_every_seeded_account_has_collateral(v32: V32Devnet) -> None:
    assert len(v32.accounts) >= SEEDED
    assert set(KINDS) <= {a.kind for a in v32.accounts}
    block = int(v32.rpc.call("eth_blockNumber"), 16)
    data = await user_account_data(v32.url, v32.record["contracts"]["Pool"], [a.address for a in v32.accounts], block)
    no_collateral = [a.address for a in v32.accounts if data[a.address][0] == 0]
    assert no_collateral == []
    no_debt = [a.address for a in v32.accounts if data[a.address][1] == 0]
    assert no_debt == []
    hf = {a.address: data[a.address][5] / WAD for a in v32.accounts}
    near = [hf[a.address] for a in v32.of_kind("near_liquidation")]
    assert near and all(1.0 <= h <= 1.10 for h in near)
    assert all(h > 1.0 for h in hf.values())


def test_emode_bitmaps_on_chain_equal_the_record(v32: V32Devnet) -> None:
    pool = v32.record["contracts"]["Pool"]
    assert len(v32.record["emode_categories"]) >= 2
    for key, cat in v32.record["emode_categories"].items():
        cid = int(key)
        (collateral,) = decode(["uint128"], v32.call(pool, "getEModeCategoryCollateralBitmap(uint8)", cid))
        (borrowable,) = decode(["uint128"], v32.call(pool, "getEModeCategoryBorrowableBitmap(uint8)", cid))
        ((ltv, lt, bonus),) = decode(
            ["(uint16,uint16,uint16)"], v32.call(pool, "getEModeCategoryCollateralConfig(uint8)", cid)
        )
        (label,) = decode(["string"], v32.call(pool, "getEModeCategoryLabel(uint8)", cid))
        assert (collateral, borrowable) == (cat["collateral_bitmap"], cat["borrowable_bitmap"])
        assert (ltv, lt, bonus, label) == (
            cat["ltv"],
            cat["liquidation_threshold"],
            cat["liquidation_bonus"],
            cat["label"],
        )
    cats = {int(k): v for k, v in v32.record["emode_categories"].items()}
    weth_bit = 1 << v32.reserve("WETH")["reserve_id"]
    wsteth_bit = 1 << v32.reserve("wstETH")["reserve_id"]
    # an asset that is collateral in one category and not in another
    assert cats[1]["collateral_bitmap"] & weth_bit and not cats[2]["collateral_bitmap"] & weth_bit
    # a category whose borrowable bitmap excludes an asset that is collateral in it
    assert cats[1]["collateral_bitmap"] & wsteth_bit and not cats[1]["borrowable_bitmap"] & wsteth_bit


def _error_code(v32: V32Devnet, name: str) -> str:
    """The Errors.sol code of ``name`` (e.g. NOT_BORROWABLE_IN_EMODE), read from the origin Errors library."""
    code = origin_artifact("Errors")["bytecode"]["object"]
    with reverting(v32.url):
        nonce = int(v32.rpc.call("eth_getTransactionCount", [v32.deployer, "pending"]), 16)
        transact(
            v32.rpc, "deploy Errors", v32.deployer, None, code if code.startswith("0x") else "0x" + code, gas=5_000_000
        )
        (value,) = decode(["string"], v32.call(create_address(v32.deployer, nonce), f"{name}()"))
    return str(value)


def _borrow_reverts(v32: V32Devnet, account: str, symbol: str, units: int) -> str | None:
    """None when ``account`` could borrow ``units`` of ``symbol`` now, else the revert message."""
    try:
        v32.call(
            v32.record["contracts"]["Pool"],
            "borrow(address,uint256,uint256,uint16,address)",
            v32.reserve(symbol)["asset"],
            units,
            2,
            0,
            account,
            sender=account,
        )
    except DevnetRpcError as exc:
        return exc.rpc_message
    return None


def test_borrow_outside_the_borrowable_bitmap_reverts(v32: V32Devnet) -> None:
    not_borrowable = _error_code(v32, "NOT_BORROWABLE_IN_EMODE")
    in_cat_1 = [a for a in v32.of_kind("emode_in_category") if a.emode_category == 1 and "wstETH" in a.supplies]
    assert in_cat_1
    user = in_cat_1[0].address
    (category,) = decode(["uint256"], v32.call(v32.record["contracts"]["Pool"], "getUserEMode(address)", user))
    assert category == 1
    small = 10**15  # 0.001 of an 18-decimal asset, far inside the account's borrowing power
    assert _borrow_reverts(v32, user, "WETH", small) is None  # in category 1's borrowable bitmap
    reason = _borrow_reverts(v32, user, "wstETH", small)  # collateral in category 1, not borrowable there
    assert not_borrowable.isdigit()
    assert reason is not None and reason.rstrip().endswith(f": {not_borrowable}"), reason
    assert _borrow_reverts(v32, user, "USDC", 10**6) is not None
    # the same borrow is fine outside eMode: it is the bitmap that refuses it
    plain = next(a for a in v32.of_kind("plain") if a.supplies.get("WETH"))
    assert _borrow_reverts(v32, plain.address, "wstETH", small) is None


def test_sentinel_follows_the_sequencer_and_its_grace_period(v32: V32Devnet) -> None:
    c = v32.record["contracts"]
    sentinel, sequencer = c["PriceOracleSentinel"], c["SequencerOracle"]
    grace = v32.record["grace_period"]

    def allowed() -> tuple[bool, bool]:
        (liq,) = decode(["bool"], v32.call(sentinel, "isLiquidationAllowed()"))
        (borrow,) = decode(["bool"], v32.call(sentinel, "isBorrowAllowed()"))
        return liq, borrow

    (got_grace,) = decode(["uint256"], v32.call(sentinel, "getGracePeriod()"))
    assert got_grace == grace
    assert allowed() == (True, True)
    with reverting(v32.url):
        now = int(v32.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        transact(v32.rpc, "sequencer down", v32.deployer, sequencer, encode_call("setAnswer(bool,uint256)", True, now))
        assert allowed() == (False, False)
        now = int(v32.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        transact(v32.rpc, "sequencer up", v32.deployer, sequencer, encode_call("setAnswer(bool,uint256)", False, now))
        assert allowed() == (False, False)  # up again, but within the grace period
        advance_time(v32.url, grace + 1)
        assert allowed() == (True, True)


def test_isolation_and_ltv_zero_collateral(v32: V32Devnet) -> None:
    c = v32.record["contracts"]
    pool, data_provider = c["Pool"], c["AaveProtocolDataProvider"]
    link, arb = v32.reserve("LINK"), v32.reserve("ARB")
    # LINK: LTV 0 on chain (and in the record), its LT kept
    conf = decode(["uint256"] * 10, v32.call(data_provider, "getReserveConfigurationData(address)", link["asset"]))
    assert (conf[1], conf[2]) == (0, link["liquidation_threshold"]) and link["ltv"] == 0
    assert v32.record["ltv_zero"]["applied"] is True
    for account in v32.of_kind("ltv_zero"):
        (user_config,) = decode(["uint256"], v32.call(pool, "getUserConfiguration(address)", account.address))
        assert user_config >> (2 * link["reserve_id"] + 1) & 1, "LINK is still enabled as collateral"
        total_collateral, debt, _, lt, ltv, hf = v32.account_data(account.address)
        assert debt > 0 and hf > WAD
        if len(account.supplies) == 1:  # LINK only: no borrowing power, but its LT still counts
            assert ltv == 0 and lt == link["liquidation_threshold"]
    # ARB: isolated, debt ceiling on chain, its holders' debt counted against it
    (ceiling,) = decode(["uint256"], v32.call(data_provider, "getDebtCeiling(address)", arb["asset"]))
    assert ceiling == arb["debt_ceiling"] > 0
    reserve_data = decode([RESERVE_DATA_LEGACY], v32.call(pool, "getReserveData(address)", arb["asset"]))[0]
    isolated_debt = reserve_data[14]  # isolationModeTotalDebt, 2 decimals
    assert isolated_debt > 0
    holders = v32.of_kind("isolation")
    assert holders
    for account in holders:
        (user_config,) = decode(["uint256"], v32.call(pool, "getUserConfiguration(address)", account.address))
        collaterals = [i for i in range(len(v32.record["reserves"])) if user_config >> (2 * i + 1) & 1]
        assert collaterals == [arb["reserve_id"]]
        assert set(account.borrows) <= {r["symbol"] for r in v32.record["reserves"] if r["borrowable_in_isolation"]}


def test_emode_collateral_outside_the_category_counts_at_reserve_lt(v32: V32Devnet) -> None:
    cats = {int(k): v for k, v in v32.record["emode_categories"].items()}
    inside = [a for a in v32.of_kind("emode_in_category") if len(a.supplies) == 1]
    assert inside
    for account in inside:  # a single collateral in the category's collateral bitmap: the category's LT
        assert v32.account_data(account.address)[3] == cats[1]["liquidation_threshold"]
    outside = v32.of_kind("emode_outside_collateral")
    assert outside
    weth_lt = v32.reserve("WETH")["liquidation_threshold"]
    for account in outside:  # a stablecoin (in category 2) and WETH (not in it): WETH at its reserve LT
        assert "WETH" in account.supplies and account.emode_category == 2
        lt = v32.account_data(account.address)[3]
        assert weth_lt < lt < cats[2]["liquidation_threshold"]


def test_price_move_takes_price_move_accounts_between_0_95_and_1(v32: V32Devnet) -> None:
    symbol, num, den = PRICE_MOVE
    reserve = v32.reserve(symbol)
    movers = v32.of_kind("price_move")
    assert movers
    before = {a.address: v32.account_data(a.address)[5] / WAD for a in movers}
    assert all(1.0 < h <= 1.10 for h in before.values())
    with reverting(v32.url):
        transact(
            v32.rpc,
            f"setAnswer {symbol}",
            v32.deployer,
            reserve["aggregator"],
            encode_call("setAnswer(int256)", reserve["price"] * num // den),
        )
        after = {a.address: v32.account_data(a.address)[5] / WAD for a in movers}
    assert all(0.95 <= h < 1.0 for h in after.values()), after
    counts = collections.Counter(a.kind for a in v32.accounts)
    assert min(counts.values()) >= 10


def test_a_non_l2_pool_deploys_too() -> None:
    with Anvil() as node:
        chain.start(node.url)
        record = deploy_aave_v32(node.url, l2=False, grace_period=600)
        (revision,) = decode(
            ["uint256"],
            JsonRpcClient(node.url).call(
                "eth_call", [{"to": record["contracts"]["Pool"], "data": encode_call("POOL_REVISION()")}, "latest"]
            ),
        )
        assert (revision, record["l2"], record["pool_revision"]) == (5, False, 5)
        accounts = seed_v32(node.url, record, 20)
        assert {a.kind for a in accounts} == set(KINDS)
