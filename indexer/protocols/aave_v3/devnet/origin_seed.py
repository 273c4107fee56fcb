"""Seeds the Aave v3.2 devnet market (:mod:`.origin`) with many deterministic borrowers, fast.

As :mod:`.seed` does for v3.0: each account is planned in Python (USD values turned into token amounts at the
oracle's current prices), then executed phase by phase, each phase one lot of JSON-RPC batches of
``eth_sendTransaction`` from keyless, auto-impersonated addresses, mined with automine off
(:func:`indexer.devnet.txbatch.send_and_mine`): fund ETH, mint, approve, supply, enable isolated collateral,
set eMode, borrow. A liquidity provider supplies every asset first. Last, the market's ``ltv_zero`` reserve
(LINK) has its LTV set to 0 (:func:`.origin.set_ltv_zero`), so those who supplied it keep an LTV-0 collateral.

Kinds of account (``SeededAccount.kind``), cycling through :data:`KIND_CYCLE`:

* ``plain``: one collateral, one debt, no eMode.
* ``multi``: two or three collaterals, one or two debts (LINK and ARB among the debts).
* ``emode_in_category``: eMode 1 (ETH correlated), a collateral that is collateral in 1 (WETH or wstETH),
  borrowing WETH, the only asset 1's borrowable bitmap holds.
* ``emode_outside_collateral``: eMode 2 (USD stables) with a stablecoin and WETH, which is NOT in 2's
  collateral bitmap and so counts at its reserve LTV/LT; borrows a stablecoin.
* ``emode_lst``: eMode 3 (wstETH leverage): wstETH (in 3's collateral bitmap), sometimes WETH too (not in it);
  borrows WETH or USDC.
* ``isolation``: ARB (debt ceiling set) as the only collateral, borrowing USDC or DAI.
* ``ltv_zero``: LINK supplied (and enabled) while its LTV was 5000, borrowed against, then LTV set to 0.
* ``near_liquidation``: health factor in [1.02, 1.09] right after seeding (plain and eMode accounts).
* ``price_move``: WETH collateral against stablecoin debt at a health factor in [1.035, 1.05], so the
  WETH price move of :data:`PRICE_MOVE` (-6%) puts it between 0.95 and 1.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from indexer.devnet.abi import decode, encode_call, encode_words
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, automine_paused, send_and_mine
from indexer.protocols.aave_v3.devnet.origin import set_ltv_zero
from indexer.protocols.aave_v3.devnet.seed import (
    MarketFacts,
    Planner,
    SeededAccount,
    liquidity_provider_address,
    log_usd,
    supply_phases,
    tx_maker,
)

log = logging.getLogger(__name__)

KINDS = (
    "plain", "multi", "emode_in_category", "emode_outside_collateral", "emode_lst", "isolation", "ltv_zero",
    "near_liquidation", "price_move",
)  # fmt: skip
KIND_CYCLE = (
    "plain", "multi", "emode_in_category", "near_liquidation", "emode_outside_collateral", "isolation",
    "plain", "ltv_zero", "emode_lst", "price_move",
)  # fmt: skip

# (symbol, numerator, denominator): the price move that takes every ``price_move`` account below HF 1
PRICE_MOVE = ("WETH", 94, 100)
PRICE_MOVE_HF = (1.035, 1.05)
NEAR_LIQ_HF = (1.02, 1.09)

BPS = 10_000
UINT256_MAX = 2**256 - 1
ETH_FUNDING = hex(1_000 * 10**18)
VARIABLE_RATE = 2
LTV_MARGIN = 0.995  # stay this far below the borrowing power so rounding never makes a borrow exceed it

GAS_COLLATERAL = 600_000
GAS_SET_EMODE = 600_000
GAS_BORROW = 1_500_000

PLAIN_COLLATERALS = ("WETH", "wstETH", "WBTC", "USDC", "DAI")
DEBTS = ("WETH", "wstETH", "WBTC", "USDC", "DAI", "LINK", "ARB")


class _Market(MarketFacts):
    """The v3.2 record's reserves at the given prices."""

    def __init__(self, record: dict[str, Any], prices: dict[str, int]) -> None:
        super().__init__(record["reserves"], {int(k): v for k, v in record["emode_categories"].items()}, prices)

    def ltv_lt(self, symbol: str, category: int) -> tuple[int, int]:
        """v3.2: eMode LTV/LT only for an asset in the category's collateral bitmap, else the reserve's."""
        r = self.reserves[symbol]
        if category and (self.emode[category]["collateral_bitmap"] >> r["reserve_id"]) & 1:
            cat = self.emode[category]
            return int(cat["ltv"]), int(cat["liquidation_threshold"])
        return int(r["ltv"]), int(r["liquidation_threshold"])


class _Planner(Planner):
    cycle = KIND_CYCLE
    namespace = "aave-v32/"

    def __init__(self, mkt: _Market, seed: int, ltv_zero_symbol: str | None) -> None:
        super().__init__(mkt, seed)
        self.ltv_zero_symbol = ltv_zero_symbol  # None: already applied, no new holder can be made

    def kind_of(self, index: int) -> str:
        kind = super().kind_of(index)
        return "multi" if kind == "ltv_zero" and self.ltv_zero_symbol is None else kind

    def _borrow_to_hf(self, account: SeededAccount, hf_range: tuple[float, float], debts: list[str],
                      rng: random.Random) -> None:  # fmt: skip
        """Borrows so that the health factor lands in ``hf_range`` (its floor raised when the LT/LTV spread of
        the collateral does not allow it)."""
        power, weighted = self._power(account)
        max_debt = int(power * LTV_MARGIN)
        floor_hf = max(hf_range[0], weighted / max_debt + 0.002)
        target = rng.uniform(floor_hf, max(floor_hf, hf_range[1]))
        self._borrow(account, min(max_debt, int(weighted / target)), debts, rng)

    # -- kinds

    def _plan_plain(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        collateral = PLAIN_COLLATERALS[j % len(PLAIN_COLLATERALS)]
        debt_choices = [s for s in DEBTS if s != collateral]
        debt = debt_choices[(j // len(PLAIN_COLLATERALS)) % len(debt_choices)]
        self._supply(account, collateral, log_usd(rng, 500, 2_000_000))
        self._borrow_fraction(account, 0.2, 0.8, [debt], rng)

    def _plan_multi(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        collaterals = rng.sample(PLAIN_COLLATERALS, k=2 + j % 2)
        for symbol in collaterals:
            self._supply(account, symbol, log_usd(rng, 300, 800_000))
        debts = rng.sample([s for s in DEBTS if s not in collaterals], k=1 + (j // 2) % 2)
        self._borrow_fraction(account, 0.25, 0.8, debts, rng)

    def _plan_emode_in_category(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        account.emode_category = 1
        self._supply(account, ("wstETH", "WETH")[j % 2], log_usd(rng, 1_000, 1_500_000))
        self._borrow_fraction(account, 0.5, 0.9, ["WETH"], rng)

    def _plan_emode_outside_collateral(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        account.emode_category = 2
        stable, other = ("USDC", "DAI") if j % 2 == 0 else ("DAI", "USDC")
        self._supply(account, stable, log_usd(rng, 1_000, 1_000_000))
        self._supply(account, "WETH", log_usd(rng, 500, 500_000))  # not in category 2: reserve LTV/LT
        self._borrow_fraction(account, 0.4, 0.9, [other], rng)

    def _plan_emode_lst(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        account.emode_category = 3
        self._supply(account, "wstETH", log_usd(rng, 1_000, 1_000_000))
        if j % 2:
            self._supply(account, "WETH", log_usd(rng, 500, 300_000))  # not in category 3's collateral bitmap
        self._borrow_fraction(account, 0.4, 0.9, [("WETH", "USDC")[(j // 2) % 2]], rng)

    def _plan_isolation(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        self._supply(account, "ARB", log_usd(rng, 1_000, 200_000))
        self._borrow_fraction(account, 0.3, 0.8, [("USDC", "DAI")[j % 2]], rng)

    def _plan_ltv_zero(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        assert self.ltv_zero_symbol is not None
        self._supply(account, self.ltv_zero_symbol, log_usd(rng, 1_000, 500_000))
        if j % 2:  # half also hold a collateral that keeps its LTV
            self._supply(account, ("WETH", "WBTC")[(j // 2) % 2], log_usd(rng, 500, 200_000))
        # borrowed while the LTV still counts; once it is 0 the health factor still counts the LT
        self._borrow_fraction(account, 0.2, 0.6, [("USDC", "DAI")[j % 2]], rng)

    def _plan_near_liquidation(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        variant = j % 4
        if variant == 0:
            collateral, debts = "WETH", [("USDC",), ("DAI",), ("USDC", "WBTC")][(j // 4) % 3]
        elif variant == 1:
            collateral, debts = "WBTC", [("USDC",), ("WETH",), ("DAI",)][(j // 4) % 3]
        elif variant == 2:
            account.emode_category, collateral, debts = 1, "wstETH", ("WETH",)
        else:
            account.emode_category = 2
            collateral, debts = ("USDC", ("DAI",)) if (j // 4) % 2 == 0 else ("DAI", ("USDC",))
        self._supply(account, collateral, log_usd(rng, 2_000, 1_000_000))
        self._borrow_to_hf(account, NEAR_LIQ_HF, list(debts), rng)

    def _plan_price_move(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        self._supply(account, PRICE_MOVE[0], log_usd(rng, 2_000, 1_000_000))
        self._borrow_to_hf(account, PRICE_MOVE_HF, [("USDC", "DAI")[j % 2]], rng)


def plan_v32_accounts(record: dict[str, Any], count: int, seed: int = 0,
                      prices: dict[str, int] | None = None) -> list[SeededAccount]:  # fmt: skip
    """The accounts :func:`seed_v32` would create, without touching the chain (prices default to the
    record's initial ones)."""
    mkt = _Market(record, prices or {r["symbol"]: r["price"] for r in record["reserves"]})
    ltv_zero = None if record["ltv_zero"]["applied"] else str(record["ltv_zero"]["symbol"])
    planner = _Planner(mkt, seed, ltv_zero)
    return [planner.plan(i) for i in range(count)]


def oracle_prices(rpc: JsonRpcClient, record: dict[str, Any]) -> dict[str, int]:
    """The AaveOracle's current price of every reserve, by symbol."""
    assets = [r["asset"] for r in record["reserves"]]
    raw = rpc.call("eth_call", [{"to": record["contracts"]["AaveOracle"],
                                 "data": encode_call("getAssetsPrices(address[])", assets)}, "latest"])  # fmt: skip
    return {r["symbol"]: int(p) for r, p in zip(record["reserves"], decode(["uint256[]"], raw)[0], strict=True)}


def seed_v32(rpc_url: str, record: dict[str, Any], count: int = 200, *, seed: int = 0) -> list[SeededAccount]:
    """Creates ``count`` deterministic borrowers of every kind (:data:`KINDS`) on the v3.2 market of ``record``
    (:func:`~indexer.protocols.aave_v3.devnet.origin.deploy_aave_v32`) and returns them (address, kind, eMode
    category, planned supplies and borrows). Sets the ``ltv_zero`` reserve's LTV to 0 at the end and updates
    ``record`` accordingly. Raises :class:`~indexer.devnet.errors.TransactionFailedError` naming the phase and
    step if anything fails."""
    if count < 0:
        raise DevnetError(f"cannot seed {count} accounts")
    started = time.perf_counter()
    rpc = JsonRpcClient(rpc_url)
    prices = oracle_prices(rpc, record)
    mkt = _Market(record, prices)
    accounts = plan_v32_accounts(record, count, seed, prices)
    lp = SeededAccount(liquidity_provider_address(seed, _Planner.namespace), "liquidity_provider", 0,
                       mkt.liquidity(accounts))
    everyone = [lp, *accounts]
    pool = record["contracts"]["Pool"]
    asset = {s: r["asset"] for s, r in mkt.reserves.items()}
    isolated = {s for s, r in mkt.reserves.items() if r.get("debt_ceiling")}

    rpc.batch(("anvil_setBalance", [a.address, ETH_FUNDING]) for a in everyone)
    nonces = NonceBook(rpc)
    nonces.prefetch([a.address for a in everyone])

    txs = tx_maker(nonces)
    # built one after the other, so each account's nonces run mint < approve < supply < collateral < eMode < borrow
    phases = [
        *supply_phases(txs, everyone, asset, pool),
        # an isolated asset is only enabled as collateral by its holder's explicit call (when it is the
        # holder's only collateral); a call that changes nothing emits nothing, so the receipt decides
        ("enable isolated collateral", txs("setUserUseReserveAsCollateral", None, (
            (a, s, pool, encode_words("setUserUseReserveAsCollateral(address,bool)", asset[s], True),
             GAS_COLLATERAL)
            for a in accounts for s in a.supplies if s in isolated and len(a.supplies) == 1
        ))),
        ("set eMode", txs("setUserEMode", "UserEModeSet(address,uint8)", (
            (a, str(a.emode_category), pool, encode_words("setUserEMode(uint8)", a.emode_category), GAS_SET_EMODE)
            for a in accounts if a.emode_category
        ))),
        ("borrow", txs("borrow", "Borrow(address,address,address,uint256,uint8,uint256,uint16)", (
            (a, s, pool, encode_words("borrow(address,uint256,uint256,uint16,address)", asset[s], units,
                                      VARIABLE_RATE, 0, a.address), GAS_BORROW)
            for a in accounts for s, units in a.borrows.items()
        ))),
    ]  # fmt: skip
    with automine_paused(rpc):
        for name, batch in phases:
            send_and_mine(rpc, batch, f"seed Aave v3.2 {name}")
    set_ltv_zero(rpc_url, record)
    log.info("seeded Aave v3.2 accounts=%d transactions=%d seconds=%.2f", count,
             sum(len(b) for _, b in phases) + 1, time.perf_counter() - started)  # fmt: skip
    return accounts
