"""Seeds the Aave v2 devnet market with many deterministic positions, as JSON-RPC batches.

Every account's position is planned in Python first (ETH values turned into token units at AaveOracle's current
prices), then sent phase by phase with automine off, each phase one batch: fund, mint, approve, deposit, turn a
collateral off, borrow (stable and variable), withdraw. A liquidity provider deposits every asset first
(four times what the borrowers take plus a fixed float), so utilisation stays moderate and every stable borrow
stays under v2's cap (25 % of the available liquidity, ValidationLogic.validateBorrow).

Kinds (``SeededV2.kind``):

* ``variable``: one collateral, one variable-rate borrow;
* ``stable``: one collateral, one stable-rate borrow (of another asset: v2 refuses a stable borrow of an asset
  the user holds as collateral);
* ``multi``: two or three collaterals of different decimals, a stable and a variable borrow (sometimes of the
  same asset); some also hold GUSD (LT 0: not counted) or a deposit they turned off as collateral;
* ``supply_only``: deposits, no debt;
* ``near_liquidation``: borrows close to the LTV, then withdraws collateral until the health factor is
  between ~1.003 and ~1.04 (a withdrawal only has to keep HF ≥ 1, GenericLogic.balanceDecreaseAllowed).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address

from indexer.devnet.abi import decode, encode_call, encode_words
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, send_and_mine

log = logging.getLogger(__name__)

KINDS = ("variable", "stable", "multi", "supply_only", "near_liquidation")
_CYCLE = ("variable", "stable", "multi", "near_liquidation", "variable", "supply_only", "multi", "stable",
          "near_liquidation", "multi")  # fmt: skip
STABLE, VARIABLE = 1, 2  # DataTypes.InterestRateMode
BPS = 10_000
WAD = 10**18
UINT256_MAX = 2**256 - 1
ETH_FUNDING = hex(1_000 * WAD)
LTV_MARGIN = 0.995  # borrows stay this far under the borrowing power (percentDiv rounding, index drift)
NEAR_HF = (1.003, 1.04)
FLOAT_ETH = 4_000  # what the liquidity provider deposits of every asset beyond 4x the planned borrows

GAS_MINT = 150_000
GAS_APPROVE = 100_000
GAS_DEPOSIT = 800_000
GAS_COLLATERAL = 800_000
GAS_BORROW = 1_500_000
GAS_WITHDRAW = 1_500_000


@dataclass
class SeededV2:
    address: str
    kind: str
    deposits: dict[str, int] = field(default_factory=dict)  # symbol -> token units
    disabled: list[str] = field(default_factory=list)  # deposits turned off as collateral
    borrows: list[tuple[str, int, int]] = field(default_factory=list)  # (symbol, units, rate mode)
    withdrawals: dict[str, int] = field(default_factory=dict)  # symbol -> token units, after borrowing


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


def account_address(seed: int, index: int) -> str:
    """Seeded account ``index`` of ``seed``: a keyless address, used through anvil's auto-impersonation."""
    return to_checksum_address(keccak(text=f"indexer-devnet/aave-v2/borrower/{seed}/{index}")[12:])


def _eth(rng: random.Random, low: float, high: float) -> int:
    """A log-uniform amount of ETH, in wei."""
    return int(math.exp(rng.uniform(math.log(low), math.log(high))) * WAD)


class _Planner:
    def __init__(self, assets: list[dict[str, Any]], prices: dict[str, int], seed: int) -> None:
        self.assets = {a["symbol"]: a for a in assets}
        self.symbols = [a["symbol"] for a in assets]
        self.collaterals = [s for s in self.symbols if self.assets[s]["liquidation_threshold"]]
        self.prices = prices
        self.seed = seed
        self.rank = dict.fromkeys(KINDS, 0)

    def units(self, symbol: str, wei: int) -> int:
        return wei * 10 ** self.assets[symbol]["decimals"] // self.prices[symbol]

    def value(self, symbol: str, units: int) -> int:
        """AaveOracle price × units / unit, rounded down as GenericLogic does."""
        return self.prices[symbol] * units // 10 ** self.assets[symbol]["decimals"]

    def plan(self, index: int) -> SeededV2:
        kind = _CYCLE[index % len(_CYCLE)]
        j = self.rank[kind]
        self.rank[kind] += 1
        rng = random.Random(f"indexer-devnet/aave-v2/{self.seed}/{index}")
        account = SeededV2(account_address(self.seed, index), kind)
        getattr(self, f"_{kind}")(account, j, rng)
        return account

    # -- helpers
    def _deposit(self, account: SeededV2, symbol: str, wei: int) -> None:
        account.deposits[symbol] = account.deposits.get(symbol, 0) + max(self.units(symbol, wei), 1)

    def _power(self, account: SeededV2) -> tuple[int, int]:
        """(borrowing power, LT-weighted collateral) in wei, from the counted collateral."""
        power = weighted = 0
        for symbol, units in account.deposits.items():
            if symbol in account.disabled:
                continue
            spec = self.assets[symbol]
            value = self.value(symbol, units)
            power += value * spec["ltv"] // BPS
            weighted += value * spec["liquidation_threshold"] // BPS
        return power, weighted

    def _borrow(self, account: SeededV2, wei: int, legs: list[tuple[str, int]], rng: random.Random) -> None:
        shares = [rng.uniform(0.3, 1.0) for _ in legs]
        for (symbol, mode), share in zip(legs, shares, strict=True):
            units = self.units(symbol, int(wei * share / sum(shares)))
            if units > 0:
                account.borrows.append((symbol, units, mode))

    def _other(self, taken: Iterable[str], rng: random.Random, pool: list[str] | None = None) -> str:
        return rng.choice([s for s in (pool or self.symbols) if s not in set(taken)])

    # -- kinds
    def _variable(self, account: SeededV2, j: int, rng: random.Random) -> None:
        collateral = self.collaterals[j % len(self.collaterals)]
        self._deposit(account, collateral, _eth(rng, 0.25, 1_000))
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(0.2, 0.8)), [(self._other([collateral], rng), VARIABLE)], rng)

    def _stable(self, account: SeededV2, j: int, rng: random.Random) -> None:
        collateral = self.collaterals[(j + 2) % len(self.collaterals)]
        self._deposit(account, collateral, _eth(rng, 0.25, 1_000))
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(0.2, 0.8)), [(self._other([collateral], rng), STABLE)], rng)

    def _multi(self, account: SeededV2, j: int, rng: random.Random) -> None:
        by_decimals: dict[int, list[str]] = {}
        for symbol in self.collaterals:
            by_decimals.setdefault(self.assets[symbol]["decimals"], []).append(symbol)
        groups = sorted(by_decimals)
        chosen = [rng.choice(by_decimals[groups[(j + k) % len(groups)]]) for k in range(2 + j % 2)]
        for symbol in chosen:
            self._deposit(account, symbol, _eth(rng, 0.2, 400))
        extras = [s for s in self.symbols if s not in chosen]
        if j % 3 == 0 and "GUSD" in extras:  # LT 0: its collateral bit is set on deposit, and it counts for nothing
            self._deposit(account, "GUSD", _eth(rng, 0.1, 50))
        elif j % 3 == 1:  # a deposit turned off as collateral: no collateral bit, no leg
            off = self._other(chosen + ["GUSD"], rng)
            self._deposit(account, off, _eth(rng, 0.1, 50))
            account.disabled.append(off)
        held = set(account.deposits) - set(account.disabled)
        debt = self._other(held - {"GUSD"}, rng)
        second = debt if j % 4 == 0 else self._other(held | {debt}, rng)  # both modes of one asset, sometimes
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(0.3, 0.85)), [(debt, STABLE), (second, VARIABLE)], rng)

    def _supply_only(self, account: SeededV2, j: int, rng: random.Random) -> None:
        picks = {self.symbols[j % len(self.symbols)], *rng.sample(self.symbols, k=rng.randint(0, 2))}
        for symbol in sorted(picks, key=self.symbols.index):
            self._deposit(account, symbol, _eth(rng, 0.05, 500))

    def _near_liquidation(self, account: SeededV2, j: int, rng: random.Random) -> None:
        collateral = self.collaterals[j % len(self.collaterals)]
        self._deposit(account, collateral, _eth(rng, 1, 800))
        mode = STABLE if j % 2 else VARIABLE
        debts = [(self._other([collateral], rng), mode)]
        if j % 3 == 0:
            debts.append((self._other([collateral, debts[0][0]], rng), VARIABLE if mode == STABLE else STABLE))
        power, _ = self._power(account)
        self._borrow(account, int(power * LTV_MARGIN), debts, rng)
        # then withdraw collateral until HF = C·LT / D lands in NEAR_HF (computed at the planning prices)
        debt_wei = sum(self.value(s, u) for s, u, _ in account.borrows)
        spec = self.assets[collateral]
        target = rng.uniform(*NEAR_HF)
        keep_wei = int(debt_wei * target * BPS / spec["liquidation_threshold"]) + 1
        held = account.deposits[collateral]
        keep = self.units(collateral, keep_wei) + 1
        if keep < held:
            account.withdrawals[collateral] = held - keep


def plan_accounts(assets: list[dict[str, Any]], prices: dict[str, int], n: int, seed: int = 0) -> list[SeededV2]:
    """The accounts :func:`seed_positions` would open, without touching the chain."""
    planner = _Planner(assets, prices, seed)
    return [planner.plan(i) for i in range(n)]


def _oracle_prices(rpc: JsonRpcClient, record: dict[str, Any]) -> dict[str, int]:
    data = encode_call("getAssetsPrices(address[])", [a["asset"] for a in record["assets"]])
    (prices,) = decode(["uint256[]"], rpc.call("eth_call", [{"to": record["oracle"], "data": data}, "latest"]))
    return {a["symbol"]: int(p) for a, p in zip(record["assets"], prices, strict=True)}


def seed_positions(rpc_url: str, record: dict[str, Any], n: int, *, seed: int = 0) -> list[SeededV2]:
    """Opens ``n`` deterministic positions on the devnet's Aave v2 market (``record``: what
    :func:`~indexer.protocols.aave_v2.devnet.deploy.deploy_aave_v2` returned) and returns them."""
    rpc = JsonRpcClient(rpc_url)
    prices = _oracle_prices(rpc, record)
    planner = _Planner(record["assets"], prices, seed)
    accounts = [planner.plan(i) for i in range(n)]
    planned = dict.fromkeys(planner.symbols, 0)
    for account in accounts:
        for symbol, units, _ in account.borrows:
            planned[symbol] += units
    lp = SeededV2(to_checksum_address(keccak(text=f"indexer-devnet/aave-v2/liquidity/{seed}")[12:]), "liquidity",
                  {s: 4 * planned[s] + planner.units(s, FLOAT_ETH * WAD) for s in planner.symbols})
    everyone = [lp, *accounts]
    pool = record["pool"]
    asset = {a["symbol"]: a["asset"] for a in record["assets"]}

    rpc.batch(("anvil_setBalance", [a.address, ETH_FUNDING]) for a in everyone)
    nonces = NonceBook(rpc)
    nonces.prefetch([a.address for a in everyone])

    def txs(step: str, event: str, rows: Iterable[tuple[SeededV2, str, str, str, int]]) -> list[Tx]:
        topic = _topic(event)
        return [Tx(f"{step} {detail} by {a.address}", a.address, to, data, gas, nonces.take(a.address), 0,
                   (to, topic)) for a, detail, to, data, gas in rows]  # fmt: skip

    phases = [
        ("mint", txs("mint", "Transfer(address,address,uint256)", (
            (a, s, asset[s], encode_words("mint(uint256)", units), GAS_MINT)
            for a in everyone for s, units in a.deposits.items()))),
        ("approve", txs("approve", "Approval(address,address,uint256)", (
            (a, s, asset[s], encode_words("approve(address,uint256)", pool, UINT256_MAX), GAS_APPROVE)
            for a in everyone for s in a.deposits))),
        ("deposit", txs("deposit", "Deposit(address,address,address,uint256,uint16)", (
            (a, s, pool, encode_words("deposit(address,uint256,address,uint16)", asset[s], units, a.address, 0),
             GAS_DEPOSIT)
            for a in everyone for s, units in a.deposits.items()))),
        ("collateral off", txs("collateral off", "ReserveUsedAsCollateralDisabled(address,address)", (
            (a, s, pool, encode_words("setUserUseReserveAsCollateral(address,bool)", asset[s], False),
             GAS_COLLATERAL)
            for a in accounts for s in a.disabled))),
        ("borrow", txs("borrow", "Borrow(address,address,address,uint256,uint256,uint256,uint16)", (
            (a, f"{s} mode {mode}", pool,
             encode_words("borrow(address,uint256,uint256,uint16,address)", asset[s], units, mode, 0, a.address),
             GAS_BORROW)
            for a in accounts for s, units, mode in a.borrows))),
        ("withdraw", txs("withdraw", "Withdraw(address,address,address,uint256)", (
            (a, s, pool, encode_words("withdraw(address,uint256,address)", asset[s], units, a.address),
             GAS_WITHDRAW)
            for a in accounts for s, units in a.withdrawals.items()))),
    ]  # fmt: skip
    with automine_paused(rpc):
        for name, batch in phases:
            if batch:
                send_and_mine(rpc, batch, f"seed Aave v2 {name}")
    log.info("aave_v2 seeded accounts=%d transactions=%d", n, sum(len(b) for _, b in phases))
    return accounts
