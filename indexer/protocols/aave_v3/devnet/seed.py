"""Seeds a devnet Aave market with many deterministic borrowers, fast.

Each account's positions are planned in Python first (USD values turned into token amounts at the
deployment's initial prices), then executed phase by phase, every phase being one JSON-RPC batch of
``eth_sendTransaction`` mined with automine off: fund ETH, mint, approve, supply, set eMode, borrow.
A liquidity provider supplies every asset (about four times what the borrowers take, so utilisation
stays low) before anyone borrows.

Kinds of account (``SeededAccount.kind``):

* ``single``: one collateral, one borrow.
* ``multi``: two or three collaterals of different decimals, one or two borrows.
* ``emode``: user eMode 1 (ETH correlated) or 2 (USD stables), borrows inside the category.
* ``supply_only``: collateral, no debt.
* ``near_liquidation``: health factor between 1.0 and ~1.08 right after seeding.
"""

from __future__ import annotations

import logging
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address

from indexer.devnet.abi import decode, encode_call, encode_words
from indexer.devnet.deployment import Deployment
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, send_and_mine
from indexer.protocols.aave_v3.devnet.record import aave_record, emode_categories

log = logging.getLogger(__name__)

KINDS = ("single", "multi", "emode", "supply_only", "near_liquidation")
# kinds cycle in this order, so any n >= 10 has every kind, in these proportions
_KIND_CYCLE = (
    "single", "multi", "emode", "near_liquidation", "single", "supply_only", "multi", "emode",
    "single", "near_liquidation",
)  # fmt: skip

BPS = 10_000
UINT256_MAX = 2**256 - 1
ETH_FUNDING = hex(1_000 * 10**18)
VARIABLE_RATE = 2

GAS_MINT = 150_000
GAS_APPROVE = 100_000
GAS_SUPPLY = 600_000
GAS_SET_EMODE = 600_000
GAS_BORROW = 1_500_000

# Stay this far below the borrowing power so integer rounding never makes a borrow exceed it.
LTV_MARGIN = 0.995
# near-liquidation accounts aim at a health factor in this range (the lower end rises when the LT/LTV
# spread of the collateral does not allow it)
NEAR_LIQ_HF = (1.01, 1.07)


@dataclass
class SeededAccount:
    address: str
    kind: str
    emode_category: int
    supplies: dict[str, int] = field(default_factory=dict)  # symbol -> token units
    borrows: dict[str, int] = field(default_factory=dict)  # symbol -> token units (variable debt)


def event_topic(event_signature: str) -> str:
    return "0x" + keccak(text=event_signature).hex()


def account_address(seed: int, index: int, namespace: str = "") -> str:
    """The seeded account ``index`` of ``seed`` (``namespace``: one market's accounts apart from another's): a
    keyless address, used through auto-impersonation."""
    return to_checksum_address(keccak(text=f"indexer-devnet/{namespace}borrower/{seed}/{index}")[12:])


def liquidity_provider_address(seed: int, namespace: str = "") -> str:
    return to_checksum_address(keccak(text=f"indexer-devnet/{namespace}liquidity-provider/{seed}")[12:])


class MarketFacts(ABC):
    """Reserve facts a planner needs (by symbol: decimals, LTV, LT, …) at the given prices (8-decimal USD); each
    market says how eMode decides an asset's LTV and LT (``ltv_lt``)."""

    def __init__(self, reserves: list[dict[str, Any]], emode: dict[int, dict[str, Any]],
                 prices: dict[str, int]) -> None:  # fmt: skip
        self.reserves = {r["symbol"]: r for r in reserves}
        self.symbols = [r["symbol"] for r in reserves]
        self.emode = emode
        self.prices = prices

    def units(self, symbol: str, value_base: int) -> int:
        """Token units worth ``value_base`` (8-decimal USD) at the price, rounded down."""
        return value_base * 10 ** int(self.reserves[symbol]["decimals"]) // self.prices[symbol]

    def value(self, symbol: str, units: int) -> int:
        """The base-currency value Aave computes for ``units`` (rounded down the same way)."""
        return units * self.prices[symbol] // 10 ** int(self.reserves[symbol]["decimals"])

    @abstractmethod
    def ltv_lt(self, symbol: str, emode: int) -> tuple[int, int]:
        """The (LTV, LT) an account in eMode category ``emode`` (0: none) gets for ``symbol`` as collateral."""

    def in_category(self, emode: int) -> list[str]:
        return [s for s in self.symbols if self.reserves[s]["emode_category"] == emode]

    def liquidity(self, accounts: list[SeededAccount]) -> dict[str, int]:
        """What the liquidity provider supplies: 4x the planned borrows of each asset plus $50M."""
        planned = dict.fromkeys(self.symbols, 0)
        for account in accounts:
            for symbol, units in account.borrows.items():
                planned[symbol] += units
        return {s: 4 * planned[s] + self.units(s, 50_000_000 * 10**8) for s in self.symbols}


class _Market(MarketFacts):
    """The v3.0 devnet market: eMode membership by the reserve's category."""

    def __init__(self, deployment: Deployment, prices: dict[str, int] | None = None) -> None:
        reserves = aave_record(deployment)["reserves"]
        super().__init__(reserves, emode_categories(deployment),
                         prices or {r["symbol"]: r["price"] for r in reserves})

    def ltv_lt(self, symbol: str, emode: int) -> tuple[int, int]:
        r = self.reserves[symbol]
        if emode and r["emode_category"] == emode:
            cat = self.emode[emode]
            return cat["ltv"], cat["liquidation_threshold"]
        return r["ltv"], r["liquidation_threshold"]



def log_usd(rng: random.Random, low: float, high: float) -> int:
    """A log-uniform USD amount in base units (8 decimals)."""
    return int(math.exp(rng.uniform(math.log(low), math.log(high))) * 10**8)




class Planner:
    """Plans seeded accounts kind by kind (``cycle``), each by its ``_plan_<kind>`` method, deterministically."""

    cycle: tuple[str, ...] = ()
    namespace = ""  # keeps one market's accounts and random draws apart from another's

    def __init__(self, mkt: MarketFacts, seed: int) -> None:
        self.mkt = mkt
        self.seed = seed
        self.kind_counts: dict[str, int] = dict.fromkeys(self.cycle, 0)

    def kind_of(self, index: int) -> str:
        return self.cycle[index % len(self.cycle)]

    def plan(self, index: int) -> SeededAccount:
        kind = self.kind_of(index)
        j = self.kind_counts[kind]  # the account's rank among its kind, drives the rotations
        self.kind_counts[kind] += 1
        rng = random.Random(f"indexer-devnet/{self.namespace}{self.seed}/{index}")
        account = SeededAccount(account_address(self.seed, index, self.namespace), kind, 0)
        getattr(self, f"_plan_{kind}")(account, j, rng)
        return account

    # -- helpers

    def _supply(self, account: SeededAccount, symbol: str, value_base: int) -> None:
        units = max(self.mkt.units(symbol, value_base), 1)
        account.supplies[symbol] = account.supplies.get(symbol, 0) + units

    def _power(self, account: SeededAccount) -> tuple[int, int]:
        """(borrowing power, liquidation-weighted collateral), both in base units."""
        power = weighted = 0
        for symbol, units in account.supplies.items():
            ltv, lt = self.mkt.ltv_lt(symbol, account.emode_category)
            value = self.mkt.value(symbol, units)
            power += value * ltv // BPS
            weighted += value * lt // BPS
        return power, weighted

    def _borrow(self, account: SeededAccount, debt_base: int, symbols: list[str], rng: random.Random) -> None:
        """Spreads ``debt_base`` over ``symbols`` (random split) and records token amounts."""
        shares = [rng.uniform(0.3, 1.0) for _ in symbols]
        total = sum(shares)
        for symbol, share in zip(symbols, shares, strict=True):
            units = self.mkt.units(symbol, int(debt_base * share / total))
            if units > 0:
                account.borrows[symbol] = account.borrows.get(symbol, 0) + units

    def _borrow_fraction(self, account: SeededAccount, low: float, high: float, debts: list[str],
                         rng: random.Random) -> None:  # fmt: skip
        """Borrows a random fraction in [low, high] of the account's borrowing power, spread over ``debts``."""
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(low, high)), debts, rng)



class _Planner(Planner):
    """The v3.0 devnet market's kinds."""

    cycle = _KIND_CYCLE

    # -- kinds

    def _plan_single(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        symbols = self.mkt.symbols
        c = j % len(symbols)
        collateral = symbols[c]
        debt_symbol = symbols[(c + 1 + (j // len(symbols)) % (len(symbols) - 1)) % len(symbols)]
        self._supply(account, collateral, log_usd(rng, 500, 2_000_000))
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(0.2, 0.8)), [debt_symbol], rng)

    def _plan_multi(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        by_decimals: dict[int, list[str]] = {}
        for s in self.mkt.symbols:
            by_decimals.setdefault(self.mkt.reserves[s]["decimals"], []).append(s)
        groups = sorted(by_decimals)
        count = 2 + (j % 2)
        # rotate the starting group so every decimals class (the 2-decimal EURS too) comes up often
        chosen_groups = [groups[(j + k) % len(groups)] for k in range(count)]
        collaterals = [rng.choice(by_decimals[g]) for g in chosen_groups]
        for symbol in collaterals:
            self._supply(account, symbol, log_usd(rng, 300, 800_000))
        candidates = [s for s in self.mkt.symbols if s not in collaterals]
        debts = rng.sample(candidates, k=1 + (j // 2) % 2)
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(0.25, 0.8)), debts, rng)

    def _plan_emode(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        category = 1 + j % 2
        account.emode_category = category
        members = self.mkt.in_category(category)
        collateral = members[(j // 2) % len(members)]
        self._supply(account, collateral, log_usd(rng, 1_000, 1_500_000))
        if rng.random() < 0.3:  # sometimes an outside collateral, counted at its own LTV/LT
            outside = [s for s in self.mkt.symbols if s not in members]
            self._supply(account, rng.choice(outside), log_usd(rng, 300, 200_000))
        debt_symbol = next(s for s in members if s != collateral)
        power, _ = self._power(account)
        self._borrow(account, int(power * rng.uniform(0.5, 0.9)), [debt_symbol], rng)

    def _plan_supply_only(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        symbols = self.mkt.symbols
        picks = {symbols[j % len(symbols)], *rng.sample(symbols, k=rng.randint(0, 2))}
        for symbol in sorted(picks, key=symbols.index):
            self._supply(account, symbol, log_usd(rng, 100, 1_000_000))

    def _plan_near_liquidation(self, account: SeededAccount, j: int, rng: random.Random) -> None:
        # collateral whose LT/LTV spread is small enough to land below ~1.08 at (almost) full borrow
        variant = j % 4
        if variant == 0:
            collateral, debts = "WETH", [["USDC"], ["DAI"], ["USDC", "WBTC"]][(j // 4) % 3]
        elif variant == 1:
            collateral, debts = "USDC", [["WETH"], ["WBTC"], ["EURS"]][(j // 4) % 3]
        else:
            account.emode_category = 1 if variant == 2 else 2
            members = self.mkt.in_category(account.emode_category)
            collateral = members[(j // 4) % len(members)]
            debts = [next(s for s in members if s != collateral)]
        self._supply(account, collateral, log_usd(rng, 2_000, 1_000_000))
        power, weighted = self._power(account)
        max_debt = int(power * LTV_MARGIN)
        floor_hf = max(NEAR_LIQ_HF[0], weighted / max_debt + 0.002)
        target_hf = rng.uniform(floor_hf, max(floor_hf, NEAR_LIQ_HF[1]))
        self._borrow(account, min(max_debt, int(weighted / target_hf)), debts, rng)


def plan_accounts(
    deployment: Deployment, n: int, seed: int = 0, prices: dict[str, int] | None = None
) -> list[SeededAccount]:
    """The accounts :func:`seed_borrowers` would create, without touching the chain.

    ``prices`` (symbol -> oracle price) default to the deployment's initial prices.
    """
    planner = _Planner(_Market(deployment, prices), seed)
    return [planner.plan(i) for i in range(n)]


def _oracle_prices(rpc: JsonRpcClient, deployment: Deployment) -> dict[str, int]:
    """Current AaveOracle prices, so amounts stay right after prices were moved."""
    aave = aave_record(deployment)
    assets = [r["asset"] for r in aave["reserves"]]
    data = encode_call("getAssetsPrices(address[])", assets)
    raw = rpc.call("eth_call", [{"to": aave["contracts"]["AaveOracle"], "data": data}, "latest"])
    prices = decode(["uint256[]"], raw)[0]
    return {r["symbol"]: int(p) for r, p in zip(aave["reserves"], prices, strict=True)}


TxRows = Iterable[tuple[SeededAccount, str, str, str, int]]  # (account, detail, to, calldata, gas)


def tx_maker(nonces: NonceBook) -> Callable[[str, str | None, TxRows], list[Tx]]:
    """Builds one phase's transactions from rows, each account's nonces taken in order; success is ``to``
    emitting ``event`` (None: the receipt's status decides)."""

    def txs(step: str, event: str | None, rows: TxRows) -> list[Tx]:
        topic = event_topic(event) if event else None
        return [
            Tx(f"{step} {detail} by {a.address}", a.address, to, data, gas, nonces.take(a.address), 0,
               (to, topic) if topic else None)
            for a, detail, to, data, gas in rows
        ]  # fmt: skip

    return txs


def supply_phases(txs: Callable[[str, str | None, TxRows], list[Tx]], everyone: list[SeededAccount],
                  asset: dict[str, str], pool: str) -> list[tuple[str, list[Tx]]]:  # fmt: skip
    """Mint, approve the Pool, supply: each account's planned supplies, phase by phase."""
    return [
        ("mint", txs("mint", "Transfer(address,address,uint256)", (
            (a, s, asset[s], encode_words("mint(uint256)", units), GAS_MINT)
            for a in everyone for s, units in a.supplies.items()
        ))),
        ("approve", txs("approve", "Approval(address,address,uint256)", (
            (a, s, asset[s], encode_words("approve(address,uint256)", pool, UINT256_MAX), GAS_APPROVE)
            for a in everyone for s in a.supplies
        ))),
        ("supply", txs("supply", "Supply(address,address,address,uint256,uint16)", (
            (a, s, pool, encode_words("supply(address,uint256,address,uint16)", asset[s], units, a.address, 0),
             GAS_SUPPLY)
            for a in everyone for s, units in a.supplies.items()
        ))),
    ]  # fmt: skip


def seed_borrowers(rpc_url: str, deployment: Deployment, n: int, *, seed: int = 0) -> list[SeededAccount]:
    """Creates ``n`` deterministic accounts with Aave positions on the devnet and returns them.

    The same (deployment, n, seed) always yields the same addresses and amounts. Raises
    :class:`~indexer.devnet.errors.TransactionFailedError` naming the phase and step if anything fails.
    """
    rpc = JsonRpcClient(rpc_url)
    prices = _oracle_prices(rpc, deployment)
    mkt = _Market(deployment, prices)
    accounts = plan_accounts(deployment, n, seed, prices)
    lp = SeededAccount(liquidity_provider_address(seed), "liquidity_provider", 0, mkt.liquidity(accounts))
    everyone = [lp, *accounts]
    pool = aave_record(deployment)["contracts"]["Pool"]
    asset = {s: mkt.reserves[s]["asset"] for s in mkt.symbols}

    rpc.batch(("anvil_setBalance", [a.address, ETH_FUNDING]) for a in everyone)
    nonces = NonceBook(rpc)
    nonces.prefetch([a.address for a in everyone])

    txs = tx_maker(nonces)
    # built one after the other, so each account's nonces run mint < approve < supply < eMode < borrow
    phases = [
        *supply_phases(txs, everyone, asset, pool),
        ("set eMode", txs("setUserEMode", "UserEModeSet(address,uint8)", (
            (a, str(a.emode_category), pool, encode_words("setUserEMode(uint8)", a.emode_category),
             GAS_SET_EMODE)
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
            send_and_mine(rpc, batch, f"seed {name}")
    log.info("seeded %d accounts (%d transactions)", n, sum(len(b) for _, b in phases))
    return accounts
