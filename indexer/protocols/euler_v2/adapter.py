"""Euler v2 (Euler Vault Kit): one configured market is one controller (borrowing) vault, named by its address.

Design (how this package maps EVK onto the neutral position model):

* **Market**: the controller vault. Its Ethereum Vault Connector is the vault's own ``EVC()``, its price oracle the
  vault's ``oracle()`` (an EulerRouter) and its reference currency the vault's ``unitOfAccount()`` (USD =
  address(840), or a token such as WETH). Options: none.
* **Position**: one EVC account (an owner's sub-account) whose only controller is this vault. ``account`` is the
  sub-account's address; ``owner`` the owner the EVC registered for its 19-byte prefix (``getAccountOwner``). The
  owner cannot be derived from the address (any of the 256 addresses of a prefix may be the owner; it is the first
  one that authenticated): when the EVC has registered none the account is its own owner and
  ``detail.owner_registered`` is false. ``detail.sub_account_id`` is owner XOR account.
* **Which accounts**: discovery scans the EVC's ``ControllerStatus(account, controller, enabled)`` with the
  controller (topic2) fixed to this vault: every account that ever enabled the vault as its controller, whatever its
  owner — borrowing requires it (EVK's borrow refuses an account without the vault as controller), so no position is
  missed, and no owner's 256 sub-accounts have to be probed one by one (256 ``getControllers`` per wallet and
  block). A tracked wallet that is not discovered is read as its own sub-account 0, unless the market says
  ``options = { sub_accounts = true }``: then every account read stands for its owner's whole prefix, and one
  round asks the EVC's ``isControllerEnabled`` of all 256 sub-accounts (the prefix is the address's first 19
  bytes, a sub-account is the owner XOR its id) before the rest reads the ones this vault controls — for markets
  read by tracked wallets only (with discovery, every sub-account is found from the events anyway).
* **Reads**, all at the pinned block, in Multicall3 rounds (three once the previous read's hint is confirmed, up to
  six on a first read): the vault's ``EVC``, ``asset``, ``oracle``, ``unitOfAccount``, ``interestAccumulator``,
  ``liquidationCoolOffTime``, ``maxLiquidationDiscount`` and each account's ``debtOfExact``, with the EVC's
  ``getControllers``/``getCollaterals``/``getAccountOwner``/``getLastAccountStatusCheckTimestamp``; then each
  enabled collateral's ``balanceOf``, this vault's ``LTVFull`` and each collateral vault's ``asset``,
  ``totalAssets`` and ``totalSupply``; then, for every collateral that counts (a
  liquidation LTV and a balance above 0, as LiquidityUtils.getCollateralValue skips the others without asking the
  oracle) and for the debt, the router's ``getQuote(amount, base, unitOfAccount)`` — the very call EVK makes — and
  ``resolveOracle`` (the amount after ERC-4626 ``convertToAssets`` hops through ``resolvedVaults``, the final base
  and the adapter); then the adapters' parameters and their feeds (Chainlink ``latestRoundData``, Pyth
  ``getPriceUnsafe``, RedStone ``cache``).
* **Health**: EVK has no health factor, only liquidity. ``accountLiquidity(account, true)`` is
  (Σ getQuote(balance)·liquidationLTV/1e4, getQuote(owed rounded up)) with the liquidation LTV ramp interpolated
  at the block (``rules.liquidation_ltv``); Liquidation.sol finds a violation unless collateral > liability, so
  equal values are liquidated. ``Health.raw`` = collateral·1e18 / (liability + 1), floored: below 1e18 exactly when
  collateral <= liability (``rules.health_raw``); ``equity`` is the LTV-adjusted collateral value, ``requirement``
  liability + 1 (the smallest collateral value that is no violation), ``debt`` the liability value, ``collateral``
  the unadjusted quotes; all in the unit of account. ``detail.liquidity`` keeps both values, the violation verdict,
  and collateral·1e18/liability; ``detail.borrow`` the account status check's figures (borrow LTVs; the devnet's
  and the listed adapters' bid and ask equal their mid price).
* **Prices**: a leg's ``price`` is the raw figure of the feed behind the adapter the router resolves (a Chainlink
  answer, a Pyth price with its exponent as decimals, a RedStone cached price) and its ``price_key`` names that
  feed (the Chainlink feed's address; ``pyth:feedId`` as the oracle monitor keys Pyth readings; a RedStone
  adapter's address). A leg's value is exactly ScaleUtils.calcOutAmount of the resolved amount at that price, which
  is checked against the router's own quote every read (``terms.exact_model``). An adapter of another kind is
  priced by the router's quote, and its what-ifs by a unit price (the quote of one whole base token), linearly.
  A debt in the unit of account itself, or a collateral resolving to it, is priced 1 and moves with nothing.
* **Stale pull oracles**: when the router cannot quote because an adapter refuses a price as too old (a Pyth price
  published more than ``maxStaleness`` ago — an update has to be pushed —, a RedStone cache, a stale Chainlink
  answer), the position is kept, valued at the last published price, and marked: ``price_status`` STALE,
  ``detail.stale_quotes`` (which leg, which adapter, why) and ``detail.unverified`` (the protocol itself cannot value
  it until the price is updated). Its feed reading goes out as usual, so the oracle monitor judges it by its own
  heartbeat when the block is stored (list the Pyth feed with ``heartbeat`` = the adapter's ``maxStaleness`` for the
  monitor to agree). Any other refusal (no oracle for a pair, a price <= 0, an unknown adapter that is stale) leaves
  the account unpriced, as Comet's are.
* **What it takes to be safe** (``amount_after``): a debt leg is in the borrowed asset, a collateral leg in the
  collateral vault's shares; a repayment is booked as ``decreaseBorrow`` books it, a deposit of assets as the
  shares ``deposit`` mints. A leg whose amount is changed is revalued from its terms (``read_amount``, ``hops``,
  the vault's totals): the new share balance at the totals after the change, then the leg's price.
* **Self-check**: ``accountLiquidity(account, true)`` and ``debtOf`` for the checked accounts; on a disagreement the
  protocol's figures are kept and ``detail.unverified`` says so.
* **Not modelled**: interest accrued after the block (reads are at the block; the vault's views accrue to it),
  hooks, flash loans, caps, the liquidation cool-off beyond reporting it (``detail.liquidation_held`` while
  ``block.timestamp < lastAccountStatusCheck + liquidationCoolOffTime``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import Function, load
from indexer.chain.multicall import Call, Failed, Plan
from indexer.errors import MarketMismatchError
from indexer.health.liquidation import crossing_price
from indexer.hexutil import keccak, to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.pyth import pyth_calls, pyth_decode
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.protocols.base import DiscoverySpec, MarginAsset, MarketRead, MarketRef
from indexer.protocols.euler_v2 import rules
from indexer.protocols.euler_v2.options import EulerOptions
from indexer.types import (
    UINT256_MAX,
    ZERO_ADDRESS,
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    PositionSnapshot,
    PriceKey,
    Role,
    scaled,
)

log = logging.getLogger(__name__)

HEALTH_DECIMALS = 18
_VAULT = load("euler_v2", "EVault")
_EVC = load("euler_v2", "EVC")
_ROUTER = load("euler_v2", "EulerRouter")
_ADAPTER = load("euler_v2", "OracleAdapter")
_ERC20 = load("euler_v2", "ERC20")
_HEAD = ("EVC", "asset", "oracle", "unitOfAccount", "interestAccumulator", "liquidationCoolOffTime",
         "maxLiquidationDiscount")
_EVC_VIEWS = ("getControllers", "getCollaterals", "getAccountOwner", "getLastAccountStatusCheckTimestamp")
_ADAPTER_VIEWS = ("name", "base", "quote", "maxStaleness", "feed", "pyth", "feedId", "maxConfWidth", "feedDecimals")
# a collateral vault's ERC-4626 views, by signature (the shipped EVault ABI file lists only what the rest reads)
_SHARE_VIEWS = (Function("asset()", (), ("address",)), Function("totalAssets()", (), ("uint256",)),
                Function("totalSupply()", (), ("uint256",)))
# euler-price-oracle src/lib/Errors.sol: what an adapter reverts with for a price too old
TOO_STALE = "0x" + keccak(text="PriceOracle_TooStale(uint256,uint256)")[:4].hex()
# the adapter kinds whose price this package reads from their feed (their `name()`)
KINDS = {"ChainlinkOracle": "chainlink", "PythOracle": "pyth", "RedstoneCoreOracle": "redstone"}


class Token(NamedTuple):
    symbol: str
    decimals: int


class Adapter(NamedTuple):
    """An oracle adapter the router resolved to, as its getters describe it (immutable in the adapters listed in
    ``KINDS``; ``kind`` "other" for any other)."""

    address: Address
    kind: str
    name: str
    base: Address
    quote: Address
    max_staleness: int | None = None
    feed: Address | None = None  # chainlink
    pyth: Address | None = None  # pyth
    feed_id: str | None = None  # pyth, redstone (0x-hex bytes32)
    max_conf_width: int | None = None  # pyth
    feed_decimals: int | None = None  # redstone


class Layout(NamedTuple):
    """What the next read may speculate on (each part confirmed at its block before use): the EVC, the asset, the
    router and unit of account, token metadata and the adapters met so far."""

    evc: Address
    asset: Address
    oracle: Address
    unit_of_account: Address
    tokens: Mapping[Address, Token]
    adapters: Mapping[Address, Adapter]


class Totals(NamedTuple):
    """A collateral vault's ``asset()``, ``totalAssets()`` and ``totalSupply()`` at the block: what converts its
    shares (``rules.to_assets_down``) and books a deposit into it (``rules.to_shares_down``)."""

    asset: Address
    total_assets: int
    total_supply: int


class Resolution(NamedTuple):
    """``resolveOracle(amount, base, unitOfAccount)``: the amount after the ERC-4626 hops, the final pair, the adapter
    (ZERO_ADDRESS when the base resolved to the unit of account itself)."""

    amount: int
    base: Address
    quote: Address
    adapter: Address


@dataclass
class _Account:
    account: Address
    owed_exact: int
    controllers: list[Address] = field(default_factory=list)
    collaterals: list[Address] = field(default_factory=list)
    owner: Address = ZERO_ADDRESS
    last_check: int = 0
    protocol: tuple[int, int] | None = None  # accountLiquidity(account, true)
    protocol_debt: int | None = None  # debtOf(account)
    balances: dict[Address, int | None] = field(default_factory=dict)
    quotes: dict[Address, Any] = field(default_factory=dict)  # counted collateral -> (quote result, resolution)
    debt_quote: Any = None

    @property
    def owed(self) -> int:
        return rules.owed_to_assets_up(self.owed_exact)


def _addr(value: Any) -> Address:
    return to_checksum_address(value)


def _big(value: int | None) -> str | None:
    """uint256 figures go into ``detail`` as decimal strings (JSON readers lose integers above 2**53)."""
    return None if value is None else str(value)


def _topic(address: Address) -> str:
    return "0x" + address.lower().removeprefix("0x").rjust(64, "0")


def _revert_selector(result: Failed) -> str | None:
    text = result.reason
    if text.startswith("reverted 0x") and len(text) >= len("reverted 0x") + 8:
        return "0x" + text[len("reverted 0x"): len("reverted 0x") + 8].lower()
    return None


class EulerV2Adapter:
    kind: ClassVar[str] = "euler_v2"
    options: ClassVar[type[BaseModel] | None] = EulerOptions
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.euler_v2.devnet"
    # EthereumVaultConnector Events.sol: ControllerStatus(address indexed account, address indexed controller, bool)
    _CONTROLLER_STATUS: ClassVar[str] = _EVC.topic("ControllerStatus")

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        self.sweep = bool(market.options.get("sub_accounts", False))
        self._chainlink_feeds: set[Address] = set()

    def discovery(self) -> DiscoverySpec:
        """The EVC's ControllerStatus logs naming this vault as the controller (topic2); the account is topic1. The
        EVC is the vault's ``EVC()``."""
        return DiscoverySpec(account_topic={self._CONTROLLER_STATUS: 1}, match=(None, _topic(self.market.address)),
                             emitter_getter="EVC()")

    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"is not an Euler v2 vault ({what})")

    # -- reading -------------------------------------------------------------------------------
    def _sweep(self, accounts: Sequence[Address], hinted: Layout | None) -> Plan[list[Address]]:
        """The sub-accounts of every account's prefix that have this vault as a controller (EthereumVaultConnector:
        an account's owner prefix is its address >> 8; the 256 addresses sharing it are its sub-accounts). The EVC
        is the vault's ``EVC()``, asked in the same round when the hint names one (and the round is asked again in
        the rare block where it changed)."""
        vault = self.market.address
        prefixes = list(dict.fromkeys(int(a, 16) >> 8 for a in accounts))
        subs = [_addr(f"0x{(prefix << 8 | i):040x}") for prefix in prefixes for i in range(256)]
        head = [_VAULT.function("EVC").call(vault, allow_failure=True)]
        evc = hinted.evc if hinted is not None else None
        if evc is None:
            (answer,) = yield head
            if isinstance(answer, Failed):
                raise self._mismatch("EVC() did not answer")
            evc = _addr(answer[0])
        enabled = _EVC.function("isControllerEnabled")
        got = yield [*head, *(enabled.call(evc, sub, vault, allow_failure=True) for sub in subs)]
        if not isinstance(got[0], Failed) and _addr(got[0][0]) != evc:
            evc = _addr(got[0][0])
            got = [got[0], *(yield [enabled.call(evc, sub, vault, allow_failure=True) for sub in subs])]
        found = [sub for sub, r in zip(subs, got[1:], strict=True) if not isinstance(r, Failed) and r[0]]
        log.debug("euler_v2 sub-accounts market=%s owners=%d controlled=%d", self.market.key, len(prefixes),
                  len(found))
        return found

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        vault = self.market.address
        hinted = hint if isinstance(hint, Layout) else None
        if self.sweep and accounts:
            sampled = {int(c, 16) >> 8 for c in check}  # the self-check's sample: the owners it names, whole
            accounts = yield from self._sweep(accounts, hinted)
            check = [a for a in accounts if int(a, 16) >> 8 in sampled]
        checked = set(accounts) if self.market.verify_onchain else set(check)
        calls = [_VAULT.function(name).call(vault, allow_failure=True) for name in _HEAD]
        calls += [_VAULT.function("debtOfExact").call(vault, a, allow_failure=True) for a in accounts]
        looked = [a for a in accounts if a in checked]
        for a in looked:
            calls += [_VAULT.function("accountLiquidity").call(vault, a, True, allow_failure=True),
                      _VAULT.function("debtOf").call(vault, a, allow_failure=True)]
        if hinted is not None:
            calls += self._evc_calls(hinted.evc, accounts)
        got = yield calls
        head, at = got[:len(_HEAD)], len(_HEAD)
        if any(isinstance(r, Failed) for r in head[:5]):
            raise self._mismatch("EVC, asset, oracle, unitOfAccount or interestAccumulator did not answer")
        evc, asset, router, uoa = (_addr(head[i][0]) for i in range(4))
        accumulator = head[4][0]
        cool_off = 0 if isinstance(head[5], Failed) else head[5][0]
        max_discount = 0 if isinstance(head[6], Failed) else head[6][0]
        if evc == ZERO_ADDRESS or asset == ZERO_ADDRESS:
            raise self._mismatch("EVC() or asset() is empty")
        state: dict[Address, _Account] = {}
        for a in accounts:
            owed = got[at]
            at += 1
            if isinstance(owed, Failed):
                raise self._mismatch(f"debtOfExact({a}) reverted")
            state[a] = _Account(a, owed[0])
        for a in looked:
            liq, debt = got[at], got[at + 1]
            at += 2
            state[a].protocol = None if isinstance(liq, Failed) else (liq[0], liq[1])
            state[a].protocol_debt = None if isinstance(debt, Failed) else debt[0]
        evc_results = got[at:]
        if hinted is None or hinted.evc != evc:
            if hinted is not None:
                log.info("euler_v2 EVC changed market=%s block=%d evc=%s", self.market.key, block.number, evc)
            evc_results = (yield self._evc_calls(evc, accounts)) if accounts else []
        self._take_evc(state, accounts, evc_results)
        positions = [s for s in state.values() if s.controllers == [vault]]
        for s in state.values():
            if len(s.controllers) > 1 and vault in s.controllers:
                log.warning("euler_v2 account with several controllers skipped market=%s account=%s block=%d",
                            self.market.key, s.account, block.number)

        # round: collateral balances, LTVs of this vault, token metadata not known yet
        tokens: dict[Address, Token] = dict(hinted.tokens) if hinted is not None else {}
        if uoa == rules.USD:
            tokens.setdefault(uoa, Token("USD", rules.DEFAULT_DECIMALS))
        collaterals = list(dict.fromkeys(c for s in positions for c in s.collaterals))
        unknown = [t for t in dict.fromkeys([asset, uoa, *collaterals]) if t not in tokens]
        calls = []
        for s in positions:
            calls += [_VAULT.function("balanceOf").call(c, s.account, allow_failure=True) for c in s.collaterals]
        calls += [_VAULT.function("LTVFull").call(vault, c, allow_failure=True) for c in collaterals]
        calls += [view.call(c, allow_failure=True) for c in collaterals for view in _SHARE_VIEWS]
        calls += self._token_calls(unknown)
        got = (yield calls) if calls else []
        at = 0
        for s in positions:
            for c in s.collaterals:
                s.balances[c] = None if isinstance(got[at], Failed) else got[at][0]
                at += 1
        ltvs: dict[Address, rules.LTVConfig] = {}
        for c in collaterals:
            r = got[at]
            at += 1
            ltvs[c] = rules.LTVConfig(0, 0, 0, 0, 0) if isinstance(r, Failed) else rules.LTVConfig(*r)
        vaults: dict[Address, Totals] = {}
        for c in collaterals:
            part = got[at: at + len(_SHARE_VIEWS)]
            at += len(_SHARE_VIEWS)
            if not any(isinstance(r, Failed) for r in part):  # not an ERC-4626 vault: no deposit is booked for it
                vaults[c] = Totals(_addr(part[0][0]), part[1][0], part[2][0])
        tokens.update(self._take_tokens(unknown, got[at:]))

        # round: the router's quotes and resolutions, and the feeds of the adapters met before
        calls = []
        for s in positions:
            for c in s.collaterals:
                balance = s.balances.get(c)
                if balance and rules.liquidation_ltv(ltvs[c], block.timestamp) > 0:
                    s.quotes[c] = None
                    calls += self._quote_calls(router, balance, c, uoa)
            if s.owed and asset != uoa:
                calls += self._quote_calls(router, s.owed, asset, uoa)
        quotes_end = len(calls)
        adapters: dict[Address, Adapter] = dict(hinted.adapters) if hinted is not None else {}
        speculated = list(adapters.values())
        price_calls, spans = self._price_calls(speculated, feeds, tokens, router)
        calls += price_calls
        got = (yield calls) if calls else []
        at = 0
        for s in positions:
            for c in list(s.quotes):
                s.quotes[c] = (got[at], self._resolution(got[at + 1]))
                at += 2
            if s.owed and asset != uoa:
                s.debt_quote = (got[at], self._resolution(got[at + 1]))
                at += 2
        prices = self._take_prices(speculated, spans, got[quotes_end:], feeds, tokens, block)

        # rounds for what is new: adapters' parameters and resolved tokens, then their prices
        used: dict[Address, Resolution] = {}
        for s in positions:
            for _, r in [*s.quotes.values(), *([s.debt_quote] if s.debt_quote is not None else [])]:
                if r is not None and r.adapter != ZERO_ADDRESS:
                    used.setdefault(r.adapter, r)
        fresh = [a for a in used if a not in adapters]
        new_tokens = [t for t in dict.fromkeys(r.base for r in used.values()) if t not in tokens]
        if fresh or new_tokens:
            got = yield [*(_ADAPTER.function(n).call(a, allow_failure=True) for a in fresh for n in _ADAPTER_VIEWS),
                         *self._token_calls(new_tokens)]
            for i, a in enumerate(fresh):
                adapters[a] = self._take_adapter(a, got[i * len(_ADAPTER_VIEWS):(i + 1) * len(_ADAPTER_VIEWS)],
                                                 used[a])
            tokens.update(self._take_tokens(new_tokens, got[len(fresh) * len(_ADAPTER_VIEWS):]))
            new = [adapters[a] for a in fresh]
            price_calls, spans = self._price_calls(new, feeds, tokens, router)
            got = (yield price_calls) if price_calls else []
            prices.update(self._take_prices(new, spans, got, feeds, tokens, block))
        self._chainlink_feeds.update(a.feed for a in adapters.values() if a.kind == "chainlink" and a.feed)

        layout = Layout(evc, asset, router, uoa, tokens, adapters)
        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        mismatched: list[Address] = []
        compared = 0
        context = _Context(layout, adapters, prices, ltvs, block, cool_off, max_discount, accumulator, vaults)
        for s in positions:
            snapshot = self._snapshot(s, context)
            if snapshot is None:
                unpriced.append(s.account)
                continue
            if snapshot.health.requirement == 0 and not snapshot.legs:
                continue  # controller enabled, nothing held or owed
            if s.account in checked and "stale_quotes" not in snapshot.detail:
                if s.protocol is None or s.protocol_debt is None:
                    log.warning("euler_v2 self-check view reverted market=%s account=%s block=%d", self.market.key,
                                s.account, block.number)
                else:
                    compared += 1
                    if not self._agrees(snapshot, s):
                        mismatched.append(s.account)
            snapshots.append(snapshot)
        if unpriced:
            log.warning("euler_v2 positions without a price market=%s block=%d accounts=%d (the router refused a "
                        "quote for a reason other than a stale price)", self.market.key, block.number, len(unpriced))
        stale = sum(1 for s in snapshots if "stale_quotes" in s.detail)
        log.debug("euler_v2 read market=%s block=%d accounts=%d positions=%d stale=%d", self.market.key,
                  block.number, len(accounts), len(snapshots), stale)
        readings = list({r.key: r for p in prices.values() for r in ([p.reading] if p.reading else [])}.values())
        return MarketRead(snapshots, readings, unpriced, hint=layout, checked=compared, mismatched=mismatched)

    # -- read helpers --------------------------------------------------------------------------
    @staticmethod
    def _evc_calls(evc: Address, accounts: Sequence[Address]) -> list[Call]:
        return [_EVC.function(name).call(evc, a, allow_failure=True) for a in accounts for name in _EVC_VIEWS]

    def _take_evc(self, state: Mapping[Address, _Account], accounts: Sequence[Address],
                  results: Sequence[Any]) -> None:
        for i, a in enumerate(accounts):
            controllers, collaterals, owner, last = results[i * 4:(i + 1) * 4]
            if isinstance(controllers, Failed) or isinstance(collaterals, Failed):
                raise self._mismatch(f"the EVC did not answer getControllers / getCollaterals for {a}")
            s = state[a]
            s.controllers = [_addr(c) for c in controllers[0]]
            s.collaterals = [_addr(c) for c in collaterals[0]]
            s.owner = ZERO_ADDRESS if isinstance(owner, Failed) else _addr(owner[0])
            s.last_check = 0 if isinstance(last, Failed) else last[0]

    @staticmethod
    def _token_calls(tokens: Sequence[Address]) -> list[Call]:
        return [_ERC20.function(n).call(t, allow_failure=True) for t in tokens for n in ("symbol", "decimals")]

    @staticmethod
    def _take_tokens(tokens: Sequence[Address], results: Sequence[Any]) -> dict[Address, Token]:
        """Symbol and decimals; a token without ``decimals()`` counts as 18 (BaseAdapter._getDecimals)."""
        out = {}
        for i, t in enumerate(tokens):
            symbol, decimals = results[2 * i], results[2 * i + 1]
            out[t] = Token(t[:8] if isinstance(symbol, Failed) else str(symbol[0]),
                           rules.DEFAULT_DECIMALS if isinstance(decimals, Failed) else decimals[0])
        return out

    @staticmethod
    def _quote_calls(router: Address, amount: int, base: Address, uoa: Address) -> list[Call]:
        return [_ROUTER.function("getQuote").call(router, amount, base, uoa, allow_failure=True),
                _ROUTER.function("resolveOracle").call(router, amount, base, uoa, allow_failure=True)]

    @staticmethod
    def _resolution(result: Any) -> Resolution | None:
        if isinstance(result, Failed):
            return None
        amount, base, quote, adapter = result
        return Resolution(amount, _addr(base), _addr(quote), _addr(adapter))

    def _take_adapter(self, address: Address, results: Sequence[Any], used: Resolution) -> Adapter:
        values = {n: (None if isinstance(r, Failed) else r[0]) for n, r in zip(_ADAPTER_VIEWS, results, strict=True)}
        name = str(values["name"] or "")
        kind = KINDS.get(name, "other")
        base = _addr(values["base"]) if values["base"] else used.base
        quote = _addr(values["quote"]) if values["quote"] else used.quote
        feed_id = values["feedId"]
        adapter = Adapter(
            address=address, kind=kind, name=name, base=base, quote=quote, max_staleness=values["maxStaleness"],
            feed=_addr(values["feed"]) if values["feed"] else None,
            pyth=_addr(values["pyth"]) if values["pyth"] else None,
            feed_id="0x" + feed_id.hex() if isinstance(feed_id, bytes) else None,
            max_conf_width=values["maxConfWidth"], feed_decimals=values["feedDecimals"])
        complete = {"chainlink": adapter.feed is not None and adapter.max_staleness is not None,
                    "pyth": adapter.pyth is not None and adapter.feed_id is not None
                    and adapter.max_staleness is not None,
                    "redstone": adapter.feed_decimals is not None and adapter.max_staleness is not None,
                    "other": True}[kind]
        if kind == "other" or not complete or {base, quote} != {used.base, used.quote}:
            log.info("euler_v2 oracle adapter priced by the router's quote market=%s adapter=%s name=%s",
                     self.market.key, address, name or "?")
            adapter = adapter._replace(kind="other", base=used.base, quote=used.quote)
        return adapter

    def _price_calls(self, adapters: Sequence[Adapter], feeds: ChainlinkFeeds, tokens: Mapping[Address, Token],
                     router: Address) -> tuple[list[Call], list[int]]:
        calls: list[Call] = []
        spans: list[int] = []
        for a in adapters:
            if a.kind == "chainlink":
                assert a.feed is not None
                part = feeds.calls(a.feed)
            elif a.kind == "pyth":
                assert a.pyth is not None and a.feed_id is not None
                part = pyth_calls(a.pyth, a.feed_id)
            elif a.kind == "redstone":
                part = [_ADAPTER.function("cache").call(a.address, allow_failure=True)]
            else:  # the router's quote of one whole base token: the unit price of a linear what-if
                unit = 10 ** _decimals(tokens, a.base)
                part = [_ROUTER.function("getQuote").call(router, unit, a.base, a.quote, allow_failure=True)]
            spans.append(len(part))
            calls += part
        return calls, spans

    def _take_prices(self, adapters: Sequence[Adapter], spans: Sequence[int], results: Sequence[Any],
                     feeds: ChainlinkFeeds, tokens: Mapping[Address, Token],
                     block: BlockRef) -> dict[Address, _PriceRead]:
        out: dict[Address, _PriceRead] = {}
        at = 0
        for a, span in zip(adapters, spans, strict=True):
            part = list(results[at: at + span])
            at += span
            out[a.address] = _price_of(a, part, feeds, tokens, block)
        return out

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, s: _Account, ctx: _Context) -> PositionSnapshot | None:
        """The position, or None when the router refuses a quote for a reason other than a stale price."""
        layout, block = ctx.layout, ctx.block
        legs: list[Leg] = []
        stale: list[dict[str, Any]] = []
        listed: list[dict[str, Any]] = []
        for c in s.collaterals:
            config = ctx.ltvs.get(c, rules.LTVConfig(0, 0, 0, 0, 0))
            ltv = rules.liquidation_ltv(config, block.timestamp)
            balance = s.balances.get(c)
            token = layout.tokens.get(c, Token(c[:8], rules.DEFAULT_DECIMALS))
            totals = (ctx.vaults or {}).get(c)
            paid = None if totals is None else layout.tokens.get(totals.asset)
            listed.append({"vault": c, "symbol": token.symbol, "balance": _big(balance), "borrow_ltv": config.borrow,
                           "liquidation_ltv": ltv, "ltv_target": config.liquidation,
                           "ltv_initial": config.initial_liquidation, "ltv_target_timestamp": config.target_timestamp,
                           "ltv_ramp_duration": config.ramp_duration, "counted": c in s.quotes,
                           **({} if totals is None else {"asset": totals.asset}),
                           **({} if paid is None else {"asset_symbol": paid.symbol, "asset_decimals": paid.decimals})})
            if balance is None and ltv > 0:  # EVK asks balanceOf of every collateral with an LTV: it reverts too
                log.warning("euler_v2 collateral balance reverted market=%s account=%s collateral=%s block=%d",
                            self.market.key, s.account, c, block.number)
                return None
            if c not in s.quotes:
                continue
            quote, resolution = s.quotes[c]
            assert balance is not None  # only collaterals with a balance were quoted
            leg = self._leg(c, token, Role.COLLATERAL, balance, quote, resolution, ctx, stale,
                            {"ltv": ltv, "borrow_ltv": config.borrow, **_share_terms(c, balance, resolution, totals)})
            if leg is None:
                return None
            legs.append(leg)
        owed = s.owed
        if owed:
            asset = layout.tokens.get(layout.asset, Token(layout.asset[:8], rules.DEFAULT_DECIMALS))
            owing = {"read_amount": owed, "owed_exact": s.owed_exact}
            if layout.asset == layout.unit_of_account:
                legs.append(Leg(asset=layout.asset, symbol=asset.symbol, decimals=asset.decimals, role=Role.DEBT,
                                amount=owed, price=1, price_decimals=0, price_key=layout.asset, value=owed,
                                terms={**_terms(owed, rules.Scale(0, 0), False, fixed=True), **owing, "hops": 0}))
            else:
                quote, resolution = s.debt_quote
                hops = 0 if resolution is not None and (resolution.base, resolution.amount) == (layout.asset, owed) \
                    else _NOT_REPRODUCED
                leg = self._leg(layout.asset, asset, Role.DEBT, owed, quote, resolution, ctx, stale,
                                {**owing, "hops": hops})
                if leg is None:
                    return None
                legs.append(leg)
        uoa = layout.tokens.get(layout.unit_of_account, Token(layout.unit_of_account[:8], rules.DEFAULT_DECIMALS))
        sub_id = rules.sub_account_id(s.owner, s.account) if s.owner != ZERO_ADDRESS else None
        detail: dict[str, Any] = {
            "vault": self.market.address, "evc": layout.evc, "oracle": layout.oracle,
            "unit_of_account": layout.unit_of_account, "owner_registered": s.owner != ZERO_ADDRESS,
            "sub_account_id": sub_id, "collaterals": listed,
            "debt": {"owed_exact": _big(s.owed_exact), "owed_assets": _big(owed),
                     "interest_accumulator": _big(ctx.accumulator)},
            "max_liquidation_discount": ctx.max_discount,
            "cool_off": {"time": ctx.cool_off, "last_status_check": s.last_check},
        }
        if stale:
            detail["stale_quotes"] = stale
            detail["unverified"] = ("the vault's oracle cannot quote " + ", ".join(q["symbol"] for q in stale)
                                    + " at this block (a pull oracle needs an update): the figures are at the last "
                                      "published price")
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=s.account, block=block, legs=legs,
            health=Health(raw=UINT256_MAX, decimals=HEALTH_DECIMALS, health=None, equity=0, requirement=0,
                          collateral=0, debt=0, quote=uoa.symbol, quote_unit=10**uoa.decimals),
            detail=detail, owner=s.owner if s.owner != ZERO_ADDRESS else s.account)
        if stale:
            snapshot.price_status = "STALE"
        return _recompute(snapshot)

    def _leg(self, asset: Address, token: Token, role: Role, amount: int, quote: Any, resolution: Resolution | None,
             ctx: _Context, stale: list[dict[str, Any]], terms: dict[str, int]) -> Leg | None:
        """One priced leg: the router's quote as its value, the feed's price and the scale that reproduce it."""
        if resolution is None:
            log.warning("euler_v2 resolveOracle reverted market=%s asset=%s block=%d", self.market.key, asset,
                        ctx.block.number)
            return None
        base = Leg(asset=asset, symbol=token.symbol, decimals=token.decimals, role=role, amount=amount, price=1,
                   price_decimals=0, price_key=ctx.layout.unit_of_account, value=0)
        if resolution.adapter == ZERO_ADDRESS:  # resolved to the unit of account itself: the amount is the value
            value = resolution.amount if isinstance(quote, Failed) else quote[0]
            return dataclasses.replace(base, value=value,
                                       terms={**terms, **_terms(resolution.amount, rules.Scale(0, 0), False,
                                                                fixed=True)})
        adapter = ctx.adapters.get(resolution.adapter)
        price = ctx.prices.get(resolution.adapter)
        if adapter is None or price is None:
            return None
        inverse = adapter.kind != "other" and resolution.base == adapter.quote and resolution.quote == adapter.base
        model = None
        if price.price is not None and price.scale is not None and price.price > 0:
            model = rules.out_amount(resolution.amount, price.price, price.scale, inverse)
        if not isinstance(quote, Failed):
            value = quote[0]
            exact = model == value
            if not exact and not price.linear:
                log.warning("euler_v2 local quote differs from the router's market=%s asset=%s adapter=%s "
                            "local=%s router=%d block=%d", self.market.key, asset, adapter.address, model, value,
                            ctx.block.number)
        else:
            refused = price.refusal
            selector = _revert_selector(quote)
            if model is None or not (refused is not None and refused[0] == "stale"):
                why = refused[1] if refused else (f"revert {selector}" if selector else quote.reason)
                level = logging.INFO if selector == TOO_STALE else logging.WARNING
                log.log(level, "euler_v2 router refused a quote market=%s asset=%s adapter=%s (%s) block=%d "
                        "reason=%s", self.market.key, asset, adapter.address, adapter.name, ctx.block.number, why)
                return None
            value, exact = model, True
            stale.append({"asset": asset, "symbol": token.symbol, "role": role.value, "adapter": adapter.address,
                          "adapter_name": adapter.name, "max_staleness": adapter.max_staleness, "why": refused[1]})
        scale = price.scale or rules.Scale(0, 0)
        return dataclasses.replace(
            base, price=price.price or 0, price_decimals=price.decimals, price_key=price.key, value=value,
            feed=price.feed, round_id=price.round_id,
            terms={**terms, **_terms(resolution.amount, scale, inverse), "exact_model": int(exact),
                   "linear": int(price.linear)})

    def _agrees(self, snapshot: PositionSnapshot, s: _Account) -> bool:
        """The self-check: ``accountLiquidity(account, true)`` and ``debtOf`` against the local figures; on a
        disagreement the protocol's liquidity is kept."""
        assert s.protocol is not None
        local = (snapshot.health.equity, snapshot.health.debt)
        debt_leg = next((leg for leg in snapshot.legs if leg.role is Role.DEBT), None)
        owed = debt_leg.amount if debt_leg else 0
        if local == s.protocol and owed == s.protocol_debt:
            return True
        collateral, liability = s.protocol
        log.error("self-check: accountLiquidity differs from the local figures market=%s account=%s block=%d "
                  "local=%s protocol=%s local_debt=%d protocol_debt=%s", self.market.key, snapshot.account,
                  snapshot.block.number, local, s.protocol, owed, s.protocol_debt)
        raw = rules.health_raw(collateral, liability)
        if owed:
            snapshot.health = dataclasses.replace(snapshot.health, raw=raw, health=scaled(raw, HEALTH_DECIMALS),
                                                  equity=collateral, requirement=liability + 1, debt=liability)
        snapshot.detail["protocol_liquidity"] = {"collateral_value": _big(collateral),
                                                 "liability_value": _big(liability), "debt_of": _big(s.protocol_debt)}
        snapshot.detail["unverified"] = ("accountLiquidity(account, true) answered other values than the local "
                                         "computation; the health shown is the protocol's")
        return False

    # -- questions about a position ------------------------------------------------------------
    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """The feeds behind the collateral and debt quotes; legs in the unit of account itself move with nothing."""
        return {leg.price_key for leg in snapshot.legs if not leg.terms.get("fixed")}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        """Legs at the given prices, and legs whose amount is not the one read revalued at theirs (``_resolved``)."""
        legs = [_at(leg, prices[leg.price_key]) if leg.price_key in prices and not leg.terms.get("fixed")
                else _at(leg, leg.price) if _changed(leg) else leg for leg in snapshot.legs]
        return _recompute(dataclasses.replace(snapshot, legs=legs, detail=_copy(snapshot.detail)))

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.reprice(snapshot, prices).health

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → not liquidatable``: Liquidation.sol's ``collateral > liability`` (or nothing owed, or a liability
        worth 0), feed ``key`` at ``price``, the rest as in the snapshot."""
        moving = [leg for leg in snapshot.legs if leg.price_key == key and not leg.terms.get("fixed")]
        fixed = [_at(leg, leg.price) if _changed(leg) else leg for leg in snapshot.legs if leg not in moving]
        collateral_fixed = sum(_adjusted(leg) for leg in fixed)
        liability_fixed = sum(leg.value for leg in fixed if leg.role is Role.DEBT)
        owed = sum(leg.amount for leg in snapshot.legs if leg.role is Role.DEBT)

        def healthy(price: int) -> bool:
            legs = [_at(leg, price) for leg in moving]
            collateral = collateral_fixed + sum(_adjusted(leg) for leg in legs)
            liability = liability_fixed + sum(leg.value for leg in legs if leg.role is Role.DEBT)
            return not rules.in_violation(collateral, liability, owed)

        return healthy

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """Per feed, the last price at which the account is no violation, the others held fixed: a collateral's feed
        liquidates falling, the debt's rising (the other way round for an adapter pricing inversely); a feed moving
        both ways at once is left out."""
        if not snapshot.health.requirement:
            return {}
        wanted = self.price_dependencies(snapshot)
        if keys is not None:
            wanted &= set(keys)
        points: dict[PriceKey, LiquidationPoint] = {}
        for key in sorted(wanted):
            moving = [leg for leg in snapshot.legs if leg.price_key == key]
            rising_helps = {(leg.role is Role.COLLATERAL) != bool(leg.terms.get("inverse")) for leg in moving}
            if len(rising_helps) != 1:
                continue
            falling = rising_helps.pop()
            estimate = _estimate(snapshot, moving, falling)
            if estimate is None:
                continue
            price = crossing_price(self.healthy_at(snapshot, key), estimate, falling=falling)
            if price is not None:
                points[key] = LiquidationPoint(price, falling=falling)
        return points

    @staticmethod
    def deposit_asset(snapshot: PositionSnapshot, leg: Leg) -> MarginAsset | None:
        """A collateral vault's ``asset()``: what ``deposit`` takes (``amount_after``'s change is in its units, and
        the vault's shares carry its decimals); None where the vault's totals or its asset's metadata were not
        read."""
        for listed in snapshot.detail.get("collaterals", ()):
            if listed.get("vault") == leg.asset and "asset_symbol" in listed:
                return MarginAsset(asset=listed["asset"], symbol=listed["asset_symbol"],
                                   decimals=int(listed["asset_decimals"]))
        return None

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """The leg's amount once the account repays ``-change`` of its debt or deposits ``change`` into a collateral
        vault, as an EVault books it at the snapshot's block (a transaction at the block's own time: the vault's
        views the read took already accrue interest to it, and nothing more accrues).

        Units: a debt leg is in the borrowed asset (``debtOf``), a collateral leg in the collateral vault's shares
        (``balanceOf``), and a collateral's ``change`` is the asset amount passed to ``deposit`` (the vault's shares
        carry its asset's decimals).

        * Repaying ``x`` (Borrowing.repay, BorrowUtils.decreaseBorrow): the current debt is rounded up to assets,
          ``x`` taken off it and the rest stored as Owed (``rules.owed_after_repay``), so ``debtOf`` afterwards is
          the leg's amount less ``x``, to the unit; more than the debt reverts (E_RepayTooMuch): None.
        * Depositing ``x`` (Vault.deposit): ``x.toSharesDown`` shares are minted, floored over the vault's totals
          and the virtual deposit (``rules.to_shares_down``): the balance grows by that, fewer shares than ``x``
          once interest has raised the vault's assets above its shares. (EVK reverts E_ZeroShares when ``x`` mints
          none; that booking leaves the balance as it was.) ``health_at`` then values the new balance at the
          vault's totals after the deposit (``rules.assets_of_changed_balance``): exactly for the smallest deposit
          minting those shares, which is the amount the bisection settles on (see ``_resolved``).

        None for anything else: a leg whose amount is not the one read, a debt whose ``owed_exact`` does not round to
        it, a collateral that is not an ERC-4626 vault answering ``totalAssets``/``totalSupply``, a resolution this
        package does not reproduce (a vault nested in another: its inner conversion is not EVK math), an adapter
        priced linearly from the router's quote, or a local quote that disagreed with the router's."""
        terms = leg.terms
        if change == 0:
            return leg.amount
        if terms.get("read_amount") != leg.amount or terms.get("hops") not in (0, 1) or terms.get("linear") \
                or not terms.get("exact_model", 1):
            return None
        if leg.role is Role.DEBT and change < 0:
            owed_exact = terms.get("owed_exact")
            if owed_exact is None or rules.owed_to_assets_up(owed_exact) != leg.amount or -change > leg.amount:
                return None
            return rules.owed_to_assets_up(rules.owed_after_repay(owed_exact, -change))
        total_assets, total_supply = terms.get("total_assets"), terms.get("total_supply")
        if leg.role is Role.COLLATERAL and change > 0 and total_assets is not None and total_supply is not None:
            return leg.amount + rules.to_shares_down(change, total_assets, total_supply)
        return None

    def price_from_feed(self, reading: FeedReading) -> tuple[PriceKey, int] | None:
        """A ChainlinkOracle adapter's price is its feed's answer (refused when <= 0); the key is the feed. The
        adapter's ``maxStaleness`` is not judged here (a reading carries no block time): the next full read does."""
        if reading.kind != FeedKind.CHAINLINK or reading.address not in self._chainlink_feeds:
            return None
        if reading.answer is None or reading.answer <= 0:
            return None
        return reading.address, reading.answer


@dataclass(frozen=True, slots=True)
class _PriceRead:
    """An adapter's price at the block and the feed reading behind it (for the oracle monitor)."""

    price: int | None
    decimals: int
    key: PriceKey
    scale: rules.Scale | None
    feed: str | None = None
    round_id: int | None = None
    refusal: tuple[str, str] | None = None
    linear: bool = False
    reading: FeedReading | None = None


class _Context(NamedTuple):
    layout: Layout
    adapters: Mapping[Address, Adapter]
    prices: Mapping[Address, _PriceRead]
    ltvs: Mapping[Address, rules.LTVConfig]
    block: BlockRef
    cool_off: int
    max_discount: int
    accumulator: int
    vaults: Mapping[Address, Totals] | None = None  # collateral vault -> its totals (ERC-4626 views answered)


def _decimals(tokens: Mapping[Address, Token], token: Address) -> int:
    return tokens.get(token, Token("", rules.DEFAULT_DECIMALS)).decimals


def _price_of(a: Adapter, part: list[Any], feeds: ChainlinkFeeds, tokens: Mapping[Address, Token],
              block: BlockRef) -> _PriceRead:
    """The adapter's price from its feed's answer, the scale it converts with (ScaleUtils), and whether it would
    refuse the price at this block."""
    base_decimals, quote_decimals = _decimals(tokens, a.base), _decimals(tokens, a.quote)
    symbol = tokens.get(a.base, Token(a.base[:8], 0)).symbol
    now = block.timestamp
    if a.kind == "chainlink":
        assert a.feed is not None and a.max_staleness is not None
        reading = feeds.decode(a.feed, part, asset=a.base, symbol=symbol)
        if reading.error is not None or reading.answer is None or reading.updated_at is None:
            return _PriceRead(None, 0, a.feed, None, feed=a.feed, refusal=("invalid", reading.error or "no answer"),
                              reading=reading)
        scale = rules.calc_scale(base_decimals, quote_decimals, reading.decimals or 0)
        return _PriceRead(reading.answer, reading.decimals or 0, a.feed, scale, feed=a.feed, round_id=reading.round_id,
                          refusal=rules.chainlink_refusal(reading.answer, reading.updated_at, now, a.max_staleness),
                          reading=reading)
    if a.kind == "pyth":
        assert a.pyth is not None and a.feed_id is not None and a.max_staleness is not None
        reading = pyth_decode(a.pyth, a.feed_id, part, asset=a.base, symbol=symbol)
        if reading.error is not None or reading.answer is None or reading.decimals is None:
            return _PriceRead(None, 0, reading.key, None, feed=reading.key,
                              refusal=("invalid", reading.error or "no price"), reading=reading)
        expo = -reading.decimals
        refusal = rules.pyth_refusal(reading.answer, reading.conf or 0, expo, reading.updated_at or 0, now,
                                     a.max_staleness, a.max_conf_width)
        return _PriceRead(reading.answer, reading.decimals, reading.key,
                          rules.pyth_scale(base_decimals, quote_decimals, expo), feed=reading.key, refusal=refusal,
                          reading=reading)
    if a.kind == "redstone":
        assert a.feed_decimals is not None and a.max_staleness is not None
        (cache,) = part
        if isinstance(cache, Failed):
            return _PriceRead(None, 0, a.address, None, refusal=("invalid", f"cache() {cache.reason}"))
        price, timestamp, _ = cache
        return _PriceRead(price, a.feed_decimals, a.address, rules.calc_scale(base_decimals, quote_decimals,
                                                                              a.feed_decimals),
                          refusal=rules.redstone_refusal(timestamp, now, a.max_staleness))
    (unit,) = part
    key = f"{a.address}:{a.base}"
    if isinstance(unit, Failed):
        return _PriceRead(None, 0, key, None, refusal=("invalid", f"unit quote {unit.reason}"), linear=True)
    return _PriceRead(unit[0], quote_decimals, key, rules.Scale(0, base_decimals), linear=True)


def _terms(resolved: int, scale: rules.Scale, inverse: bool, *, fixed: bool = False) -> dict[str, int]:
    terms = {"resolved_amount": resolved, "price_exp": scale.price_exp, "feed_exp": scale.feed_exp,
             "inverse": int(inverse)}
    if fixed:
        terms["fixed"] = 1
    return terms


_NOT_REPRODUCED = 2  # ``hops``: the router's resolution of the leg is not one this package reproduces


def _share_terms(vault: Address, balance: int, resolution: Resolution | None, totals: Totals | None) -> dict[str, int]:
    """A collateral leg's terms for a changed balance: the balance read (``read_amount``), the vault's totals, and
    ``hops``: 0 when the router prices the shares as they are, 1 when it resolved them through this vault's own
    ``convertToAssets`` alone (checked: ``rules.to_assets_down`` of the balance at the totals is the amount it
    resolved), ``_NOT_REPRODUCED`` otherwise (a vault nested in another, or conversion math that is not EVK's)."""
    terms = {"read_amount": balance, "hops": _NOT_REPRODUCED}
    if totals is None:
        return terms
    terms |= {"total_assets": totals.total_assets, "total_supply": totals.total_supply}
    if resolution is not None and (resolution.base, resolution.amount) == (vault, balance):
        terms["hops"] = 0
    elif resolution is not None and resolution.base == totals.asset and resolution.amount == rules.to_assets_down(
            balance, totals.total_assets, totals.total_supply):
        terms["hops"] = 1
    return terms


def _changed(leg: Leg) -> bool:
    """The leg's amount is not the one read (a what-if: ``indexer.risk.safety`` moves amounts)."""
    return leg.terms.get("read_amount", leg.amount) != leg.amount


def _resolved(leg: Leg) -> int:
    """The amount the router prices for the leg's amount (``resolveOracle``): as read when the amount is; for a
    changed amount, the amount itself (``hops`` 0), the vault's ``convertToAssets`` at the totals the change leaves
    (``hops`` 1, ``rules.assets_of_changed_balance``), else the read resolution scaled in proportion (an estimate:
    ``amount_after`` answers None for such a leg, so no step built on it is called exact)."""
    terms = leg.terms
    resolved = terms.get("resolved_amount", leg.amount)
    read = terms.get("read_amount")
    if read is None or read == leg.amount:
        return resolved
    hops, total_assets, total_supply = terms.get("hops"), terms.get("total_assets"), terms.get("total_supply")
    if hops == 0:
        return leg.amount
    if hops == 1 and total_assets is not None and total_supply is not None:
        return rules.assets_of_changed_balance(leg.amount, read, total_assets, total_supply)
    return resolved * leg.amount // read if read else leg.amount


def _value_at(leg: Leg, price: int) -> int:
    """A leg's value at another price (or of another amount), as the adapter converts (ScaleUtils.calcOutAmount of
    the resolved amount)."""
    inverse = bool(leg.terms.get("inverse"))
    if price <= 0:
        return UINT256_MAX if inverse else 0  # no quote exists there; inverted it grows without bound
    scale = rules.Scale(leg.terms.get("price_exp", 0), leg.terms.get("feed_exp", 0))
    return rules.out_amount(_resolved(leg), price, scale, inverse)


def _at(leg: Leg, price: int) -> Leg:
    return dataclasses.replace(leg, price=price, value=_value_at(leg, price))


def _adjusted(leg: Leg) -> int:
    """LiquidityUtils.getCollateralValue: the quote times the liquidation LTV / 1e4."""
    if leg.role is not Role.COLLATERAL:
        return 0
    return rules.ltv_adjusted(leg.value, leg.terms.get("ltv", 0))


def _copy(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in detail.items()}


def _estimate(snapshot: PositionSnapshot, moving: Sequence[Leg], falling: bool) -> Fraction | None:
    """A starting point for the exact search: the price where the linearised values cross (the current price for
    inversely priced legs)."""
    current = Fraction(max(leg.price for leg in moving) or 1)
    if any(leg.terms.get("inverse") for leg in moving):
        return current
    fixed = [leg for leg in snapshot.legs if leg not in moving]
    collateral_fixed = sum(_adjusted(leg) for leg in fixed)
    liability_fixed = sum(leg.value for leg in fixed if leg.role is Role.DEBT)
    per_unit = Fraction(0)
    for leg in moving:
        unit = Fraction(leg.terms.get("resolved_amount", leg.amount) * 10 ** leg.terms.get("price_exp", 0),
                        10 ** leg.terms.get("feed_exp", 0))
        per_unit += unit * Fraction(leg.terms.get("ltv", 0), rules.CONFIG_SCALE) if leg.role is Role.COLLATERAL \
            else unit
    if per_unit <= 0:
        return None
    if falling:  # collateral: where adjusted collateral meets the liability
        gap = liability_fixed - collateral_fixed
        if gap < 0:
            return None  # the other legs alone keep it above water
        return max(Fraction(gap) / per_unit, Fraction(1))
    return max(Fraction(collateral_fixed) / per_unit, Fraction(1))


def _recompute(snapshot: PositionSnapshot) -> PositionSnapshot:
    """Health and the liquidity record from the legs (amounts as read, prices as the legs have them)."""
    legs, detail = snapshot.legs, snapshot.detail
    collateral = sum(_adjusted(leg) for leg in legs)
    gross = sum(leg.value for leg in legs if leg.role is Role.COLLATERAL)
    borrow_collateral = sum(rules.ltv_adjusted(leg.value, leg.terms.get("borrow_ltv", 0))
                            for leg in legs if leg.role is Role.COLLATERAL)
    debt_leg = next((leg for leg in legs if leg.role is Role.DEBT), None)
    liability = debt_leg.value if debt_leg else 0
    owed = debt_leg.amount if debt_leg else 0
    if owed == 0:
        snapshot.health = dataclasses.replace(snapshot.health, raw=UINT256_MAX, health=None, equity=collateral,
                                              requirement=0, collateral=gross, debt=0)
    else:
        raw = rules.health_raw(collateral, liability)
        snapshot.health = dataclasses.replace(snapshot.health, raw=raw, health=scaled(raw, HEALTH_DECIMALS),
                                              equity=collateral, requirement=liability + 1, collateral=gross,
                                              debt=liability)
    violation = rules.in_violation(collateral, liability, owed)
    detail["liquidity"] = {"collateral_value": _big(collateral), "liability_value": _big(liability),
                           "violation": violation, "ratio_raw": _big(rules.ratio_raw(collateral, liability))}
    detail["borrow"] = {"collateral_value": _big(borrow_collateral), "liability_value": _big(liability),
                        "healthy": rules.borrow_healthy(borrow_collateral, liability, owed)}
    if violation:
        detail["liquidity"]["discount_factor"] = _big(rules.discount_factor(
            collateral, liability, int(detail.get("max_liquidation_discount", 0))))
    held = rules.liquidation_blocked(collateral, liability, owed)
    cool = detail.get("cool_off") or {}
    if held is None and rules.in_cool_off(snapshot.block.timestamp, int(cool.get("last_status_check", 0)),
                                          int(cool.get("time", 0))):
        held = (f"liquidation cool-off: the last account status check at {cool.get('last_status_check')} is within "
                f"liquidationCoolOffTime={cool.get('time')}s of the block")
    if held is None:
        detail.pop("liquidation_held", None)
    else:
        detail["liquidation_held"] = held
    return snapshot
