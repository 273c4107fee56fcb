"""Maker / Sky vaults (dss): one configured market is one ilk of the Vat, one position per urn.

Configuration. ``address`` is the Vat (MCD_VAT): the contract whose state decides a vault's fate and whose
LogNote events name its urns. ``options.ilk`` names the collateral type ("ETH-A"); ``options.spotter``
(MCD_SPOT) and ``options.join`` (the ilk's GemJoin, for the token and its decimals) are required;
``options.jug`` (MCD_JUG: the rate a drip would set), ``options.dog`` (MCD_DOG: the liquidation limits, the
Clipper's breaker, the self-check), ``options.cdp_manager`` (CDP_MANAGER) and ``options.proxy_registry``
(PROXY_REGISTRY: urns held through a DSProxy) are optional; each may be ``devnet:NAME``. The price feed (the ilk's
OSM, "pip") is found on chain: ``Spotter.ilks(ilk).pip``. Each is checked at the block to belong to the Vat
(``Spotter.vat``, ``Jug.vat``, ``Dog.vat``, ``DssCdpManager.vat``) and the join to the ilk.

Positions. ``account`` is the urn (the address whose ``Vat.urns(ilk, urn)`` holds ink and art) and ``owner`` the
wallet: for a vault of the CDP manager held through a DSProxy, the proxy's owner; for a cdp the wallet owns in the
manager directly, that wallet; for an urn in the Vat itself (or one only discovery found), the urn. A tracked
wallet's urns are found through ``ProxyRegistry.proxies(wallet)`` and the manager's per-owner linked list
(``first``, ``list(cdp).next``, with ``urns``, ``ilks`` and ``owns`` of each cdp), one Multicall3 round per step
down the list; only cdps of this ilk are kept. Every read is pinned to the block. Each urn carries its own
collateral and debt: ``margin_mode`` is isolated (a wallet may hold several).

Health, exactly as the Vat and the Dog decide (``rules``): ``Health.raw = ink * spot * 1e18 / (art * rate)``,
floored, with the Vat's *stored* spot and rate — below 1e18 exactly when ``ink * spot < art * rate``, the test
``Dog.bark`` applies; ``equity`` and ``requirement`` are ``ink * spot`` and ``art * rate`` in rad, the quote DAI
with ``quote_unit = 1e45`` (rad), so no figure is rounded beyond what the protocol rounds.

Two things the Vat's figures do not show, and what the indexer does with them:

* the OSM delays prices by ``hop`` (an hour): ``peek()`` is the current value (what ``Spotter.poke`` files into
  the Vat), ``peep()`` the next, which becomes current at the first ``OSM.poke`` from ``zzz + hop`` on. Both are
  read and shown (``detail.osm``), and the *normalized* health is the worse of the health at the Vat's spot, at
  the spot a poke of the OSM's current value would file (when it differs: the Spotter was not poked since) and
  at the spot of the next value — so alerts fire an hour ahead when the next price is worse. When only those
  put it under 1 the position carries ``detail.liquidation_held`` = "liquidatable at the OSM's next price from
  <time>" (or "… once the Spotter is poked"): shown as not liquidatable yet. ``equity`` is ``ink`` times the
  spot that health was taken at. The OSM answers ``peek``/``peep`` only to whitelisted readers (``bud``): where
  Multicall3 is not one (mainnet) both fail, the next price is unknown (``detail.osm.error``), health rests on the
  Vat alone, and the collateral's price is the least OSM value that pokes to the Vat's spot
  (``rules.least_val_for_spot``, ``detail.price_source = "implied_by_spot"``);
* the rate only moves on ``Jug.drip``. ``bark`` does not drip, so the verdict is at the stored rate (the
  protocol's own); ``detail.rate_dripped`` and ``detail.health_raw_dripped`` show what a drip at this block
  would make of it (Jug ``ilks(ilk)`` duty and rho, ``base``, ``rules.drip_rate``), when a Jug is configured.

With a Dog configured, an unsafe urn that ``bark`` would still refuse (caged Dog, no room under ``Hole``/``hole``,
a dusty partial auction, a zero auction, the Clipper's breaker) carries ``liquidation_held`` with the Dog's
reason (``rules.bark``); ``detail.bark`` is the predicted outcome. Without one these limits are not checked.

The oracle monitor gets the pip as a reading of kind "osm": its current value (or the one the Vat's spot
implies), ``updated_at`` = ``zzz`` (public: the hour of its last poke), 18 decimals, so a stalled OSM shows STALE
by its heartbeat (``[[chains.X.feeds]]``; the default otherwise). A pip that is no OSM (a DSValue, for
stablecoins) has no ``peep`` and no ``zzz``: no next price, and the block's time. In emergency shutdown (the Vat
caged) nothing is barked: an unsafe urn is held with that reason.

Legs: the collateral (the join's gem, ``amount = ink`` in the Vat's wad whatever the token's decimals —
``detail.gem_decimals`` has the token's — priced at the OSM's current value [wad, 18 places], ``value = ink *
rdiv(val * 1e9, par)`` [rad], keyed by the OSM's address) and the DAI debt (``amount`` = ``art * rate / 1e27``
rounded up, what repaying all takes; ``value = art * rate`` [rad], price 1, depending on nothing). Terms: the
collateral's ``mat`` and ``gem_decimals``, the debt's ``art``, ``rate`` and ``dust``: what ``amount_after`` needs to
book a repayment or a deposit as the Vat would (what it takes to be safe), and what ``health_at`` reads a changed
leg back into (``_urn``, ``_mat``).

Dynamic margin: ``mat`` is this protocol's margin parameter (``margin_terms``). A ``Spotter.file(ilk, "mat", …)``
leaves the Vat's spot as the last poke filed it, but the spots a poke would file at the OSM's current and next
values follow the new ratio at once, so the next read's health (the worst of them) moves with it; the Vat's own
candidate follows after ``Spotter.poke``. The health before a change is the same figures with the old ratio in the
collateral leg's terms. Where the OSM cannot be read (mainnet) only the Vat's spot is left, so a new ``mat`` moves
the health only once the Spotter is poked.

Self-check: the Vat has no view that answers the verdict, and re-reading ``urns``/``ilks`` would compare the
indexer's inputs with themselves, so that is not counted. With a Dog configured, checked urns are also sent
``Dog.bark(ilk, urn, kpr)`` in a last Multicall3 round of the same pinned block (aggregate3 *calls*, so bark runs
and its effects are discarded with the eth_call): success or its revert reason is the protocol's own verdict and
is compared with the predicted one (``detail.bark``); only those comparisons count as ``checked``. Barks in one
round run in sequence on one state, so an earlier liquidation uses up room: after a successful bark in the same
round, a disagreement on anything that depends on the room (everything but "not-live" and "not-unsafe") is not
counted either way.

Closings: the pipeline closes a stored position that a full read asked for by its owner and did not find; an
urn held through the CDP manager is reached through its wallet, not asked for, so this source closes it itself:
an urn the previous read found open through a wallet (the hint's ``reached``) and this one finds empty gets a
closing snapshot. The first read after a restart has no hint: an urn emptied before it stays as stored, unless
discovery is on — then the urn is asked for by its own address and the pipeline closes it as usual.

``price_from_feed`` is None: an OSM is not a Chainlink feed. Discovery: the Vat's anonymous LogNote of ``frob``
(topic1 the ilk, topic2 the urn) and of ``fork`` (topic3 the destination urn), filtered to the ilk.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Failed, KeyedRound, Plan
from indexer.errors import MarketMismatchError
from indexer.hexutil import keccak, to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.maker import rules
from indexer.protocols.maker.options import MakerOptions
from indexer.types import (
    UINT256_MAX,
    ZERO_ADDRESS,
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    MarginMode,
    PositionSnapshot,
    PriceKey,
    Role,
    closing,
    scaled,
)

log = logging.getLogger(__name__)

KEEPER = "0x000000000000000000000000000000000000dEaD"  # the self-check's bark names this as keeper (kpr)
QUOTE = "DAI"
QUOTE_UNIT = rules.RAD
HEALTH_DECIMALS = 18
PRICE_DECIMALS = 18  # an OSM value is a wad of DAI-reference (USD) per whole collateral token
OSM_KIND = "osm"
MAX_CDPS_PER_OWNER = 1_000  # a wallet's cdp list is followed this far (one Multicall3 round per step)

_VAT = load("maker", "Vat")
_SPOTTER = load("maker", "Spotter")
_JUG = load("maker", "Jug")
_DOG = load("maker", "Dog")
_CLIPPER = load("maker", "Clipper")
_OSM = load("maker", "OSM")
_JOIN = load("maker", "GemJoin")
_ERC20 = load("maker", "ERC20")
_MANAGER = load("maker", "DssCdpManager")
_REGISTRY = load("maker", "ProxyRegistry")
_PROXY = load("maker", "DSProxy")

# bark outcomes decided before the room under the limits is looked at: an earlier bark in the same round cannot
# change them; every later outcome (the room, the dart it allows, the auction) it can
_ROOM_INDEPENDENT = frozenset({"Dog/not-live", "Dog/not-unsafe"})


def note_topic(signature: str) -> str:
    """topic0 of the Vat's anonymous LogNote for a call of ``signature``: the 4-byte selector left-aligned in a
    32-byte word (vat.sol ``note``: ``shl(224, shr(224, calldataload(0)))``), lower-case hex."""
    return "0x" + keccak(text=signature)[:4].hex() + "00" * 28


FROB_TOPIC = note_topic(_VAT.function("frob").signature)
FORK_TOPIC = note_topic(_VAT.function("fork").signature)


def ilk_bytes(ilk: str) -> bytes:
    """An ilk name as its bytes32 (left-aligned ASCII, zero-padded: how Solidity stores "ETH-A")."""
    raw = ilk.encode("ascii")
    if not 0 < len(raw) <= 32:
        raise ValueError(f"an ilk is 1 to 32 ASCII characters, not {ilk!r}")
    return raw.ljust(32, b"\0")


def ilk_name(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("ascii", errors="replace")


class Layout(NamedTuple):
    """What changes only by governance: the next read's hint, confirmed at every block before it is used; and the
    urns that read found open through a wallet's cdp list (``reached``: closed by this source when found empty)."""

    pip: Address
    gem: Address
    symbol: str
    dec: int
    clip: Address | None
    reached: frozenset[Address] = frozenset()


class _Osm(NamedTuple):
    """The ilk's pip at the block: ``current``/``next`` None when unreadable (``error`` says why)."""

    pip: Address
    current: int | None
    current_valid: bool | None
    next: int | None
    next_valid: bool | None
    zzz: int | None
    hop: int | None
    error: str | None


class _Urn(NamedTuple):
    urn: Address
    owner: Address
    via: str  # "vat" | "cdp_manager" | "ds_proxy"
    cdp: int | None
    proxy: Address | None


def _addr(value: Any) -> Address:
    return to_checksum_address(value)


def _big(value: int | None) -> str | None:
    """uint256 figures go into ``detail`` as decimal strings (JSON readers lose integers above 2**53)."""
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def revert_reason(result: Failed) -> str:
    """The reason string of a Multicall3 result that reverted with ``Error(string)``, else what was returned."""
    text = result.reason
    if text.startswith("reverted 0x08c379a0"):
        try:
            from eth_abi import decode as abi_decode

            (reason,) = abi_decode(["string"], bytes.fromhex(text[len("reverted 0x08c379a0"):]))
            return str(reason)
        except Exception:  # noqa: BLE001 - a malformed payload keeps the raw text
            return text
    return text


class MakerAdapter:
    kind: ClassVar[str] = "maker"
    options: ClassVar[type[BaseModel] | None] = MakerOptions
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.maker.devnet"

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        opts = market.options
        self.ilk = str(opts["ilk"])
        self.ilk_raw = ilk_bytes(self.ilk)
        self.spotter = _addr(opts["spotter"])
        self.join = _addr(opts["join"])
        self.jug = _addr(opts["jug"]) if opts.get("jug") else None
        self.dog = _addr(opts["dog"]) if opts.get("dog") else None
        self.manager = _addr(opts["cdp_manager"]) if opts.get("cdp_manager") else None
        self.registry = _addr(opts["proxy_registry"]) if opts.get("proxy_registry") else None

    def discovery(self) -> DiscoverySpec:
        """The Vat's LogNote of frob (the urn is topic2) and fork (the destination urn is topic3), for this ilk
        (topic1). Every urn that holds anything got it through one of them (or a grab, which only takes)."""
        return DiscoverySpec(account_topic={FROB_TOPIC: 2, FORK_TOPIC: 3},
                             match=("0x" + self.ilk_raw.hex(),), emitter=self.market.address)

    # -- reading -------------------------------------------------------------------------------
    def _mismatch(self, what: str) -> MarketMismatchError:
        return MarketMismatchError(f"market {self.market.key!r}: {what} (Vat {self.market.address} on chain "
                                   f"{self.market.chain!r}, ilk {self.ilk!r})")

    def _osm_calls(self, rnd: KeyedRound, pip: Address) -> None:
        for name in ("peek", "peep", "zzz", "hop"):
            rnd.add(("osm", name), _OSM.function(name).call(pip, allow_failure=True))

    @staticmethod
    def _osm(pip: Address, got: Mapping[tuple[Any, ...], Any]) -> _Osm:
        peek, peep, zzz, hop = (got[("osm", n)] for n in ("peek", "peep", "zzz", "hop"))
        current = next_ = None
        current_valid = next_valid = None
        error = None
        if isinstance(peek, Failed):
            error = f"peek() {revert_reason(peek)}"
        else:
            current, current_valid = int.from_bytes(peek[0], "big"), bool(peek[1])
        if isinstance(peep, Failed):
            if error is None:  # a pip without peep (a DSValue): no delayed price
                error = f"peep() {revert_reason(peep)}"
        else:
            next_, next_valid = int.from_bytes(peep[0], "big"), bool(peep[1])
        return _Osm(pip, current, current_valid, next_, next_valid,
                    None if isinstance(zzz, Failed) else int(zzz[0]),
                    None if isinstance(hop, Failed) else int(hop[0]), error)

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        vat, ilk = self.market.address, self.ilk_raw
        hinted = hint if isinstance(hint, Layout) else None
        first = KeyedRound()
        first.add(("ilk",), _VAT.function("ilks").call(vat, ilk, allow_failure=True))
        first.add(("vat_live",), _VAT.function("live").call(vat, allow_failure=True))
        first.add(("spot_ilk",), _SPOTTER.function("ilks").call(self.spotter, ilk, allow_failure=True))
        first.add(("par",), _SPOTTER.function("par").call(self.spotter, allow_failure=True))
        first.add(("spot_vat",), _SPOTTER.function("vat").call(self.spotter, allow_failure=True))
        for name in ("gem", "dec", "ilk"):
            first.add(("join", name), _JOIN.function(name).call(self.join, allow_failure=True))
        if self.jug:
            first.add(("jug_ilk",), _JUG.function("ilks").call(self.jug, ilk, allow_failure=True))
            first.add(("jug_base",), _JUG.function("base").call(self.jug, allow_failure=True))
            first.add(("jug_vat",), _JUG.function("vat").call(self.jug, allow_failure=True))
        if self.dog:
            first.add(("dog_ilk",), _DOG.function("ilks").call(self.dog, ilk, allow_failure=True))
            for name in ("Hole", "Dirt", "live", "vat"):
                first.add(("dog", name), _DOG.function(name).call(self.dog, allow_failure=True))
        if self.manager:
            first.add(("manager_vat",), _MANAGER.function("vat").call(self.manager, allow_failure=True))
        if hinted is not None:  # the previous read's pip and clipper, confirmed below at this block
            self._osm_calls(first, hinted.pip)
            if hinted.clip:
                first.add(("clip_stopped",), _CLIPPER.function("stopped").call(hinted.clip, allow_failure=True))
        for account in accounts:
            first.add(("urn", account), _VAT.function("urns").call(vat, ilk, account))
            if self.registry:
                first.add(("proxy", account), _REGISTRY.function("proxies").call(self.registry, account))
            if self.manager:
                first.add(("first", account), _MANAGER.function("first").call(self.manager, account))
        got = first.results((yield first.calls))

        ilk_state, pip, mat, par, gem, dec = self._market(got)
        clip: Address | None = None
        dog_ilk = got.get(("dog_ilk",))
        if self.dog and dog_ilk is not None and not isinstance(dog_ilk, Failed):
            clip = _addr(dog_ilk[0]) if _addr(dog_ilk[0]) != ZERO_ADDRESS else None

        # the second round: the pip (unless the hint held), the proxies' owners and first cdps, the wallets' own
        # first cdps
        second = KeyedRound()
        layout_ok = (hinted is not None and (hinted.pip, hinted.gem, hinted.dec, hinted.clip) == (pip, gem, dec, clip))
        if not layout_ok:
            if hinted is not None:
                log.info("maker layout changed market=%s block=%d pip=%s clip=%s; reading it afresh",
                         self.market.key, block.number, pip, clip)
            self._osm_calls(second, pip)
            second.add(("symbol",), _ERC20.function("symbol").call(gem, allow_failure=True))
            if clip:
                second.add(("clip_stopped",), _CLIPPER.function("stopped").call(clip, allow_failure=True))
        proxies: dict[Address, Address] = {}
        if self.registry:
            for account in accounts:
                proxy = _addr(got[("proxy", account)][0])
                if proxy != ZERO_ADDRESS:
                    proxies[account] = proxy
                    second.add(("proxy_owner", proxy), _PROXY.function("owner").call(proxy, allow_failure=True))
                    second.add(("urn", proxy), _VAT.function("urns").call(vat, ilk, proxy))  # its own, if any
                    if self.manager:
                        second.add(("first", proxy), _MANAGER.function("first").call(self.manager, proxy))
        cursors: dict[Address, tuple[int, Address, Address | None]] = {}  # holder -> (cdp, wallet, proxy)
        if self.manager:
            for account in accounts:
                cdp = int(got[("first", account)][0])
                if cdp:
                    cursors[account] = (cdp, account, None)
        for holder, (cdp, _, _) in cursors.items():
            self._cdp_calls(second, holder, cdp)
        more = second.results((yield second.calls)) if second.calls else {}
        pip_results = got if layout_ok else more
        osm = self._osm(pip, pip_results)
        stopped_result = pip_results.get(("clip_stopped",))
        clip_stopped = None if stopped_result is None or isinstance(stopped_result, Failed) else int(stopped_result[0])
        if layout_ok and hinted is not None:
            layout = hinted._replace(reached=frozenset())
        else:
            symbol_result = more.get(("symbol",))
            symbol = (str(symbol_result[0]) if symbol_result is not None and not isinstance(symbol_result, Failed)
                      else self.ilk.split("-")[0])
            layout = Layout(pip, gem, symbol, dec, clip)

        # walk the cdp lists: the wallets' own (their first cdp was asked in the second round) and the proxies'
        # (their first cdp is known now): one round per step down the lists, all lists at once
        owners: dict[Address, Address] = {}  # proxy -> its owner (the wallet)
        for wallet, proxy in proxies.items():
            owner = more.get(("proxy_owner", proxy))
            owners[proxy] = wallet if owner is None or isinstance(owner, Failed) else _addr(owner[0])
            if owners[proxy] != wallet:
                log.info("maker proxy changed hands market=%s block=%d wallet=%s proxy=%s owner=%s",
                         self.market.key, block.number, wallet, proxy, owners[proxy])
        found: list[tuple[int, Address, Address, Address | None]] = []  # (cdp, urn, owner, proxy) of this ilk
        in_hand, results = cursors, more
        asking: dict[Address, tuple[int, Address, Address | None]] = {}
        if self.manager:
            for proxy in proxies.values():
                cdp = int(more[("first", proxy)][0])
                if cdp and proxy not in cursors:
                    asking[proxy] = (cdp, owners[proxy], proxy)
        steps: dict[Address, int] = {}
        while in_hand or asking:
            for holder, (cdp, owner, via_proxy) in in_hand.items():
                urn, cdp_ilk, owns, (_, following) = (results[(n, holder, cdp)]
                                                      for n in ("urns", "ilks", "owns", "list"))
                if cdp_ilk[0] == ilk and _addr(owns[0]) == holder:
                    found.append((cdp, _addr(urn[0]), owner, via_proxy))
                steps[holder] = steps.get(holder, 0) + 1
                if following and steps[holder] < MAX_CDPS_PER_OWNER:
                    asking[holder] = (int(following), owner, via_proxy)
                elif following:
                    log.warning("maker cdp list cut short market=%s block=%d owner=%s after=%d",
                                self.market.key, block.number, holder, MAX_CDPS_PER_OWNER)
            if not asking:
                break
            walk = KeyedRound()
            for holder, (cdp, _, _) in asking.items():
                self._cdp_calls(walk, holder, cdp)
            results = walk.results((yield walk.calls))
            in_hand, asking = asking, {}

        # the urns: read directly (round 1) or found through the manager (read now)
        urns: dict[Address, _Urn] = {}
        amounts: dict[Address, tuple[int, int]] = {}
        for account in accounts:
            ink, art = got[("urn", account)]
            urns[account] = _Urn(account, account, "vat", None, None)
            amounts[account] = (int(ink), int(art))
        for proxy in proxies.values():  # an urn the proxy holds in the Vat itself (not through a cdp)
            ink, art = more[("urn", proxy)]
            if ink or art:
                urns[proxy] = _Urn(proxy, owners[proxy], "ds_proxy", None, proxy)
                amounts[proxy] = (int(ink), int(art))
        last = KeyedRound()
        for cdp, urn, owner, via_proxy in found:
            urns[urn] = _Urn(urn, owner, "ds_proxy" if via_proxy else "cdp_manager", cdp, via_proxy)
            last.add(("urn", urn), _VAT.function("urns").call(vat, ilk, urn))
        if last.calls:
            for key, value in last.results((yield last.calls)).items():
                amounts[key[1]] = (int(value[0]), int(value[1]))

        jug = self._jug(got, block)
        dog = self._dog(got, clip, clip_stopped)
        reading = self._reading(osm, layout, ilk_state, par, mat, block)
        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        was_open = hinted.reached if hinted is not None else frozenset()
        for urn, held in urns.items():
            ink, art = amounts[urn]
            if ink == 0 and art == 0:
                if urn in was_open:  # emptied since the last read: its stored position ends here
                    snapshots.append(closing(chain=self.market.chain, protocol=self.kind, market=self.market.key,
                                             market_address=self.market.address, account=urn, block=block))
                continue
            if ilk_state[2] == 0:  # spot 0: the Spotter had no price; Dog.bark refuses every urn
                unpriced.append(urn)
                continue
            snapshots.append(self._snapshot(held, ink, art, block, layout, ilk_state, par, mat, osm, jug, dog))
            if isinstance(got[("vat_live",)], Failed) or int(got[("vat_live",)][0]) != 1:
                snapshots[-1].detail["vat_live"] = 0
                _recompute(snapshots[-1])
        layout = layout._replace(reached=frozenset(s.account for s in snapshots if not s.closed
                                                   and s.detail["held_through"] != "vat"))
        if unpriced:
            log.warning("maker urns without a price market=%s block=%d urns=%d (the Vat's spot is 0)",
                        self.market.key, block.number, len(unpriced))

        compared, mismatched = 0, list[Address]()
        wanted = set(accounts) if self.market.verify_onchain else set(check)
        looked = ([s for s in snapshots if not s.closed and (s.account in wanted or s.owner in wanted)]
                  if self.dog else [])
        if looked and self.dog:
            barks = yield [_DOG.function("bark").call(self.dog, ilk, s.account, KEEPER, allow_failure=True)
                           for s in looked]
            compared, mismatched = self._self_check(looked, barks, block)
        log.debug("maker read market=%s ilk=%s block=%d accounts=%d urns=%d checked=%d", self.market.key, self.ilk,
                  block.number, len(accounts), len(snapshots), compared)
        return MarketRead(snapshots, [reading], unpriced, hint=layout, checked=compared, mismatched=mismatched)

    def _cdp_calls(self, rnd: KeyedRound, holder: Address, cdp: int) -> None:
        assert self.manager is not None
        for name in ("urns", "ilks", "owns", "list"):
            rnd.add((name, holder, cdp), _MANAGER.function(name).call(self.manager, cdp))

    def _market(self, got: Mapping[tuple[Any, ...], Any]) -> tuple[tuple[int, ...], Address, int, int, Address, int]:
        """The ilk in the Vat, the Spotter's pip, mat and par, the join's gem and decimals; checks that the
        contracts belong together."""
        needed = [("ilk",), ("spot_ilk",), ("par",), ("spot_vat",), ("join", "gem"), ("join", "dec"),
                  ("join", "ilk")]
        if any(isinstance(got[k], Failed) for k in needed):
            raise self._mismatch("the Vat's ilks, the Spotter or the GemJoin did not answer")
        ilk_state = tuple(int(v) for v in got[("ilk",)])
        if ilk_state[1] == 0:
            raise self._mismatch("the ilk is not initialised in the Vat (rate 0)")
        if _addr(got[("spot_vat",)][0]) != self.market.address:
            raise self._mismatch(f"the Spotter {self.spotter} belongs to another Vat")
        if got[("join", "ilk")][0] != self.ilk_raw:
            raise self._mismatch(f"the GemJoin {self.join} joins {ilk_name(got[('join', 'ilk')][0])!r}")
        for key, name in ((("jug_vat",), "Jug"), (("dog", "vat"), "Dog"), (("manager_vat",), "DssCdpManager")):
            if key in got and (isinstance(got[key], Failed) or _addr(got[key][0]) != self.market.address):
                raise self._mismatch(f"the {name} does not answer vat() with this Vat")
        pip, mat = got[("spot_ilk",)]
        par = int(got[("par",)][0])
        if int(mat) == 0 or par == 0:
            raise self._mismatch(f"the Spotter has mat={mat} and par={par} for the ilk")
        return ilk_state, _addr(pip), int(mat), par, _addr(got[("join", "gem")][0]), int(got[("join", "dec")][0])

    def _jug(self, got: Mapping[tuple[Any, ...], Any], block: BlockRef) -> dict[str, Any] | None:
        if not self.jug:
            return None
        ilk_result, base_result = got[("jug_ilk",)], got[("jug_base",)]
        if isinstance(ilk_result, Failed) or isinstance(base_result, Failed):
            return None
        duty, rho = (int(v) for v in ilk_result)
        return {"duty": duty, "rho": rho, "base": int(base_result[0]), "now": block.timestamp}

    def _dog(self, got: Mapping[tuple[Any, ...], Any], clip: Address | None,
             clip_stopped: int | None) -> rules.DogIlk | None:
        if not self.dog:
            return None
        parts = [got[("dog_ilk",)], *(got[("dog", n)] for n in ("Hole", "Dirt", "live"))]
        if any(isinstance(p, Failed) for p in parts):
            return None
        (_, chop, hole, dirt), (hole_all,), (dirt_all,), (live,) = parts
        return rules.DogIlk(clip=clip or ZERO_ADDRESS, chop=int(chop), hole=int(hole), dirt=int(dirt),
                            hole_all=int(hole_all), dirt_all=int(dirt_all), live=int(live), clip_stopped=clip_stopped)

    def _reading(self, osm: _Osm, layout: Layout, ilk_state: tuple[int, ...], par: int, mat: int,
                 block: BlockRef) -> FeedReading:
        """The pip as a feed reading for the oracle monitor: its current value (or the one the Vat's spot implies
        when the OSM cannot be read) and the time of its last poke (``zzz``; a pip without one — a DSValue — has no
        time: the block's)."""
        answer = (osm.current if osm.current is not None and osm.current_valid
                  else 0 if osm.current_valid is False else rules.least_val_for_spot(ilk_state[2], par, mat))
        description = f"OSM {self.ilk}" if osm.zzz is not None else f"pip {self.ilk}"
        return FeedReading(address=osm.pip, kind=OSM_KIND, round_id=None, answer=answer,
                           updated_at=osm.zzz if osm.zzz is not None else block.timestamp, decimals=PRICE_DECIMALS,
                           description=description, asset=layout.gem, symbol=layout.symbol)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, held: _Urn, ink: int, art: int, block: BlockRef, layout: Layout, ilk_state: tuple[int, ...],
                  par: int, mat: int, osm: _Osm, jug: dict[str, Any] | None,
                  dog: rules.DogIlk | None) -> PositionSnapshot:
        big_art, rate, spot, line, dust = ilk_state
        readable = osm.current is not None and bool(osm.current_valid)
        price = osm.current if readable and osm.current is not None else rules.least_val_for_spot(spot, par, mat)
        rate_dripped = None
        if jug is not None:
            try:
                rate_dripped = rules.drip_rate(rate, duty=jug["duty"], base=jug["base"], rho=jug["rho"],
                                               now=jug["now"])
            except ValueError:
                rate_dripped = None
        next_from = osm.zzz + osm.hop if osm.zzz is not None and osm.hop is not None else None
        detail: dict[str, Any] = {
            "ilk": self.ilk, "urn": held.urn, "held_through": held.via, "cdp": held.cdp, "proxy": held.proxy,
            "ink": str(ink), "art": str(art), "rate": str(rate), "spot": str(spot), "mat": str(mat), "par": str(par),
            "dust": str(dust), "line": str(line), "ilk_art": str(big_art),
            "rate_dripped": _big(rate_dripped),
            "jug": None if jug is None else {"duty": str(jug["duty"]), "rho": jug["rho"], "base": str(jug["base"])},
            "gem": layout.gem, "gem_decimals": layout.dec,
            "osm": {"pip": osm.pip, "current": _big(osm.current), "current_valid": osm.current_valid,
                    "next": _big(osm.next), "next_valid": osm.next_valid, "zzz": osm.zzz, "hop": osm.hop,
                    "next_from": next_from, "error": osm.error},
            "price_source": "osm_current" if readable else "implied_by_spot",
            "dog": None if dog is None else {
                "clip": dog.clip, "chop": str(dog.chop), "hole": str(dog.hole), "dirt": str(dog.dirt),
                "Hole": str(dog.hole_all), "Dirt": str(dog.dirt_all), "live": dog.live,
                "clip_stopped": dog.clip_stopped},
        }
        legs = [Leg(asset=layout.gem, symbol=layout.symbol, decimals=18, role=Role.COLLATERAL, amount=ink, price=price,
                    price_decimals=PRICE_DECIMALS, price_key=osm.pip, value=0, feed=osm.pip,
                    terms={"mat": mat, "gem_decimals": layout.dec}),
                Leg(asset=self.market.address, symbol="DAI", decimals=18, role=Role.DEBT,
                    amount=rules.debt_wad(art, rate), price=1, price_decimals=0, price_key=self.market.address,
                    value=rules.tab(art, rate), terms={"art": art, "rate": rate, "dust": dust})]
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=held.urn, owner=held.owner, block=block, legs=legs,
            health=Health(raw=UINT256_MAX, decimals=HEALTH_DECIMALS, health=None, equity=0, requirement=0,
                          collateral=0, debt=0, quote=QUOTE, quote_unit=QUOTE_UNIT),
            margin_mode=MarginMode.ISOLATED, detail=detail)
        return _recompute(snapshot)

    def _self_check(self, looked: Sequence[PositionSnapshot], barks: Sequence[Any],
                    block: BlockRef) -> tuple[int, list[Address]]:
        """Each checked urn's predicted bark outcome against ``Dog.bark`` itself (see the module docstring)."""
        compared, mismatched = 0, list[Address]()
        barked_before = False
        for snapshot, result in zip(looked, barks, strict=True):
            actual = "ok" if not isinstance(result, Failed) else revert_reason(result)
            predicted = snapshot.detail.get("bark") or "ok"
            if actual == predicted:
                compared += 1
            elif barked_before and not {predicted, actual} & _ROOM_INDEPENDENT:
                log.info("maker self-check inconclusive market=%s urn=%s block=%d: an earlier bark in the round "
                         "used room under the limits (local=%s protocol=%s)", self.market.key, snapshot.account,
                         block.number, predicted, actual)
            else:
                compared += 1
                mismatched.append(snapshot.account)
                log.error("maker self-check: Dog.bark differs from the local verdict market=%s urn=%s block=%d "
                          "local=%s protocol=%s", self.market.key, snapshot.account, block.number, predicted, actual)
                snapshot.detail["self_check"] = {"local": predicted, "protocol": actual}
                snapshot.detail["bark"] = None if actual == "ok" else actual
                if actual == "ok":
                    snapshot.detail.pop("liquidation_held", None)
                    snapshot.detail["unverified"] = ("Dog.bark liquidates this urn at the block; the local figures "
                                                     f"predicted {predicted}")
                else:
                    snapshot.detail["liquidation_held"] = f"Dog.bark reverts at this block: {rules.explain(actual)}"
            barked_before = barked_before or actual == "ok"
        return compared, mismatched

    # -- questions about a position ------------------------------------------------------------
    @staticmethod
    def margin_terms() -> tuple[str, ...]:
        """The collateral leg's ``mat``: the Spotter's liquidation ratio of the ilk, which governance sets with
        ``Spotter.file(ilk, "mat", value)`` (dss src/spot.sol). The Vat's spot keeps the old ratio until someone
        calls ``Spotter.poke(ilk)``, but the health here is the worst of the Vat's spot and the spots a poke would
        file (``_recompute``), so a new ``mat`` moves it at the first read after the change."""
        return ("mat",)

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """The ilk's OSM: the DAI debt is the quote at face value."""
        return {leg.price_key for leg in snapshot.legs if leg.role is Role.COLLATERAL}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        """The urn with the OSM at ``price`` [wad], current and next alike, and the Spotter poked with it (the
        Vat's spot = ``rules.poke_spot(price, par, mat)``); the stored rate as read, ink and art as the legs hold
        them (``_urn``: as read, unless a what-if changed a leg's amount), ``mat`` as the collateral leg's terms
        hold it (``_mat``: as read, unless a margin change put the old ratio back). Without a price the Vat's spot
        stays as read: only the spots a poke would file follow a different ``mat``."""
        coll, _ = _legs(snapshot)
        copy = dataclasses.replace(snapshot, legs=list(snapshot.legs), detail=_copy(snapshot.detail))
        ink, art = _urn(snapshot)
        mat = _mat(snapshot)
        moved = (ink, art, mat) != (int(copy.detail["ink"]), int(copy.detail["art"]), int(copy.detail["mat"]))
        if moved:
            copy.detail.update(ink=str(ink), art=str(art), mat=str(mat))
        if coll.price_key not in prices:
            return _recompute(copy) if moved else copy
        price = prices[coll.price_key]
        detail = copy.detail
        detail["spot"] = str(rules.poke_spot(price, int(detail["par"]), mat))
        detail["osm"].update(current=str(price), current_valid=True, next=str(price), next_valid=True)
        detail["price_source"] = "what_if"
        copy.legs = [dataclasses.replace(coll, price=price), *copy.legs[1:]]
        return _recompute(copy)

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.reprice(snapshot, prices).health

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → ink * poke_spot(price) >= art * rate`` (the stored rate): not liquidatable at that OSM value."""
        coll, _ = _legs(snapshot)
        d = snapshot.detail
        ink, art = _urn(snapshot)
        rate, par, mat = int(d["rate"]), int(d["par"]), _mat(snapshot)
        if key != coll.price_key:
            fixed = snapshot.health.health is None or snapshot.health.health >= 1
            return lambda price: fixed
        owed = art * rate
        return lambda price: owed <= ink * rules.poke_spot(price, par, mat)

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """The last OSM value at which the urn is safe once poked through the Spotter (``rules.liquidation_price``,
        exact), prices falling."""
        coll, _ = _legs(snapshot)
        if keys is not None and coll.price_key not in set(keys):
            return {}
        d = snapshot.detail
        price = rules.liquidation_price(*_urn(snapshot), int(d["rate"]), int(d["par"]), _mat(snapshot))
        return {} if price is None else {coll.price_key: LiquidationPoint(price, falling=True)}

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """The leg's amount once the urn's holder repays ``-change`` DAI [wad] or locks ``change`` more collateral
        [wad], as the Vat books it at the snapshot's block: with the stored rate (repaying does not drip, only
        DssProxyActions' ``draw`` does), from the ``art``, ``rate`` and ``dust`` the read put in the debt leg's terms.

        A repayment takes the path of makerdao/dss-proxy-actions src/DssProxyActions.sol ``wipe``: the DAI joined
        becomes ``wad * ONE`` rad and ``_getWipeDart`` frobs ``-(dai / rate)``, floored and capped at the urn's art
        (the most a direct dss/src/vat.sol ``frob`` can take for that DAI, too). The debt shown is then
        ``rules.debt_wad`` of the art left (``tab = rate * art``, what ``wipeAll`` would ask in wad), so repaying
        ``x`` can leave a unit or two above ``debt - x``. vat.sol ``frob`` refuses a result under the ilk's dust
        ("Vat/dust"): see ``rules.art_after_repay`` for how that is booked (the smallest repayment reaching a health
        is then always one the Vat takes; for an urn already under the dust, only repaying everything).

        A deposit is DssProxyActions ``lockGem``: GemJoin ``join`` of whole token units (``gem_decimals`` in the
        collateral leg's terms) and a frob of ``dink = amt * 10**(18 - dec)`` (``rules.ink_after_lock``). The
        same dust rule applies to every frob, so an urn under the dust can lock nothing, and in a caged Vat
        (``Vat/not-live``) nothing is booked at all: the amount stays.

        None: terms missing or not this urn's (``debt_wad(art, rate)`` is not the debt leg's amount), a rate below
        RAY on a debt leg (the debt in wad then no longer names one art, which ``health_at`` reads back through
        ``rules.art_for_debt``), or a change that is neither a repayment of the debt nor a deposit of
        collateral."""
        debt = next((g for g in snapshot.legs if g.role is Role.DEBT), None)
        if debt is None:
            return None
        art, rate, dust = (debt.terms.get(k) for k in ("art", "rate", "dust"))
        if art is None or rate is None or dust is None or rate <= 0 or rules.debt_wad(art, rate) != debt.amount:
            return None
        caged = snapshot.detail.get("vat_live") == 0
        if leg.role is Role.COLLATERAL and change >= 0:
            dec = leg.terms.get("gem_decimals")
            if dec is None or not 0 <= dec <= 18:
                return None
            if caged or rules.below_dust(art, rate, dust):
                return leg.amount
            return rules.ink_after_lock(leg.amount, change, dec)
        if leg.role is not Role.DEBT or change > 0 or rate < rules.RAY or leg.amount != debt.amount:
            return None
        if caged:
            return leg.amount
        return rules.debt_wad(rules.art_after_repay(art, rate, dust, -change), rate)

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """None: the Vat's spot moves only when the Spotter is poked with an OSM value, not with a feed's answer."""
        return None


def _copy(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in detail.items()}


def _legs(snapshot: PositionSnapshot) -> tuple[Leg, Leg]:
    coll = next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)
    debt = next(leg for leg in snapshot.legs if leg.role is Role.DEBT)
    return coll, debt


def _urn(snapshot: PositionSnapshot) -> tuple[int, int]:
    """The urn's ink and art as the legs hold them: ink is the collateral leg's amount; art is ``detail``'s while
    the debt leg's amount is still the one it gives (``rules.debt_wad``), else read back from that amount
    (``rules.art_for_debt``: exact for an amount ``amount_after`` booked, the most art owing no more for any
    other)."""
    coll, debt = _legs(snapshot)
    art, rate = int(snapshot.detail["art"]), int(snapshot.detail["rate"])
    if debt.amount != rules.debt_wad(art, rate):
        art = rules.art_for_debt(debt.amount, rate)
    return coll.amount, art


def _mat(snapshot: PositionSnapshot) -> int:
    """The ilk's ``mat`` [ray] the figures are taken at: the collateral leg's terms (where ``indexer.risk.margin``
    puts the old ratio back to recompute the health before a change), else ``detail`` (snapshots stored before the
    leg carried it)."""
    coll, _ = _legs(snapshot)
    mat = coll.terms.get("mat")
    return int(snapshot.detail["mat"]) if mat is None else int(mat)


def _recompute(snapshot: PositionSnapshot) -> PositionSnapshot:
    """Health, legs' values, the spots and healths at the OSM's values, the dripped figure, the Dog's verdict and
    ``liquidation_held``, from the legs and ``detail`` (in place; returned). ``mat`` is the collateral leg's
    (``_mat``): it moves the spots a poke would file and the liquidation price, never the Vat's stored spot."""
    d = snapshot.detail
    ink, art, rate, spot, par, dust = (int(d[k]) for k in ("ink", "art", "rate", "spot", "par", "dust"))
    mat = _mat(snapshot)
    coll, debt = _legs(snapshot)
    owed = rules.tab(art, rate)
    osm = d["osm"]
    raw = rules.health_raw(ink, art, spot, rate)
    candidates: list[tuple[str, int | None, int]] = [("vat", raw, spot)]
    spot_current = spot_next = None
    if osm.get("current") is not None and osm.get("current_valid"):
        spot_current = rules.poke_spot(int(osm["current"]), par, mat)
        if spot_current != spot:
            candidates.append(("current", rules.health_raw(ink, art, spot_current, rate), spot_current))
    if osm.get("next") is not None and osm.get("next_valid"):
        spot_next = rules.poke_spot(int(osm["next"]), par, mat)
        candidates.append(("next", rules.health_raw(ink, art, spot_next, rate), spot_next))
    worst_kind, worst_raw, worst_spot = min(candidates, key=lambda c: (UINT256_MAX if c[1] is None else c[1]))
    value = rules.value_at_par(ink, coll.price, par)
    if debt.value != owed or debt.terms.get("art", art) != art:  # a what-if moved the art: the leg follows it
        debt = dataclasses.replace(debt, value=owed, terms={**debt.terms, "art": art} if "art" in debt.terms
                                   else debt.terms)
    snapshot.legs = [dataclasses.replace(coll, value=value), debt]
    snapshot.health = Health(
        raw=UINT256_MAX if raw is None else raw, decimals=HEALTH_DECIMALS,
        health=None if worst_raw is None else scaled(worst_raw, HEALTH_DECIMALS),
        equity=ink * worst_spot, requirement=owed, collateral=value, debt=owed, quote=QUOTE, quote_unit=QUOTE_UNIT)
    rate_dripped = _int(d.get("rate_dripped"))
    d.update(
        tab=str(owed), below_dust=rules.below_dust(art, rate, dust),
        spot_at_current=_big(spot_current), spot_at_next=_big(spot_next),
        health_raw_at_current=_big(rules.health_raw(ink, art, spot_current, rate)) if spot_current is not None
        else None,
        health_raw_next=_big(rules.health_raw(ink, art, spot_next, rate)) if spot_next is not None else None,
        health_raw_dripped=_big(rules.health_raw(ink, art, spot, rate_dripped)) if rate_dripped else None,
        health_basis=worst_kind,
        liquidation_price=_big(rules.liquidation_price(ink, art, rate, par, mat)),
    )
    dog_detail = d.get("dog")
    verdict: rules.Bark | None = None
    if dog_detail is not None:
        dog = rules.DogIlk(clip=dog_detail["clip"], chop=int(dog_detail["chop"]), hole=int(dog_detail["hole"]),
                           dirt=int(dog_detail["dirt"]), hole_all=int(dog_detail["Hole"]),
                           dirt_all=int(dog_detail["Dirt"]), live=int(dog_detail["live"]),
                           clip_stopped=dog_detail["clip_stopped"])
        verdict = rules.bark(ink, art, rate=rate, spot=spot, dust=dust, dog=dog, osm_has=osm.get("current_valid"))
        d["bark"] = verdict.reason
        d["bark_take"] = None if verdict.dart == 0 else {
            "dart": str(verdict.dart), "dink": str(verdict.dink), "due": str(verdict.due), "tab": str(verdict.tab),
            "partial": verdict.partial}
    else:
        d["bark"] = None
        d["bark_take"] = None
    d.pop("liquidation_held", None)
    if raw is not None and raw < rules.WAD:
        if d.get("vat_live") == 0:
            d["liquidation_held"] = "the Vat is caged (emergency shutdown): the End settles vaults, nothing is barked"
        elif spot == 0:
            d["liquidation_held"] = "the Vat's spot is 0 (no OSM value was poked): Dog.bark refuses every urn"
        elif verdict is not None and not verdict.ok:
            d["liquidation_held"] = f"Dog.bark reverts at this block: {rules.explain(verdict.reason or '')}"
    elif worst_raw is not None and worst_raw < rules.WAD:
        current_raw = rules.health_raw(ink, art, spot_current, rate) if spot_current is not None else None
        if current_raw is not None and current_raw < rules.WAD and spot_current != spot:
            d["liquidation_held"] = ("liquidatable once the Spotter is poked with the OSM's current price "
                                     "(Spotter.poke may be called by anyone)")
        else:
            next_from = osm.get("next_from")
            when = _iso(next_from) if next_from is not None else "the next OSM poke"
            due = next_from is not None and snapshot.block.timestamp >= next_from
            d["liquidation_held"] = (f"liquidatable at the OSM's next price, due since {when} (OSM.poke, then "
                                     "Spotter.poke, may be called by anyone)" if due
                                     else f"liquidatable at the OSM's next price from {when}")
    return snapshot
