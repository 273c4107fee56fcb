"""A Maker (dss) devnet: a stand-in of our own behind dss's external ABI (``contracts/``), two ilks and seeded urns.

No package ships deployable dss bytecode, so ``contracts/`` implements the Vat (with the deployed LogNote), Spotter,
Jug, Dog, a Clipper that only starts auctions, Vow.fess, the OSM (with its ``bud`` whitelist) over a DSValue
source, GemJoin (any decimals), DssCdpManager with its UrnHandlers, DSProxy / DSProxyFactory / ProxyRegistry and a
proxy-actions contract — rule for rule where a vault's fate depends on it (see each contract's header). Compiled
with the npm ``solc`` (0.8.x), cached under ``.build/maker/``.

Ilks (:data:`ILKS`): ``ETH-A`` (WETH, 18 decimals, mat 145 %) and ``WBTC-C`` (WBTC, 8 decimals through the GemJoin's
``dec``, mat 175 %). Each OSM whitelists the Spotter, its Clipper and Multicall3 (so the indexer can read the
current and next price; on mainnet Multicall3 is not whitelisted) and starts with current = next = the initial
price; the Spotter is poked once.

Everything goes out as JSON-RPC batches with automine off (``indexer.devnet.txbatch``): the deployment from the
node's first dev account (every address predicted from its nonce), each wallet a keyless address acting through
anvil's impersonation. Typical use::

    with Anvil() as node:
        record = deploy_devnet(node.url)
        seeded = seed_urns(node.url, record, 60)
        set_osm(node.url, record, "ETH-A", 1_800 * WAD, 1_700 * WAD)   # current and next, then Spotter.poke
        bark_outcome(node.url, record, "ETH-A", seeded[0].urn)          # None: Dog.bark would liquidate it

The record (``deployment.protocols["maker"]``)::

    {"deployer", "chain_id", "block_number", "keeper",
     "contracts": {"Maker.Vat", "Maker.Spotter", "Maker.Jug", "Maker.Dog", "Maker.Vow", "Maker.CdpManager",
                   "Maker.ProxyRegistry", "Maker.ProxyFactory", "Maker.ProxyActions",
                   "Maker.PIP_ETH", "Maker.JOIN_ETH_A", "Maker.CLIP_ETH_A", "Maker.GEM_ETH", ... (WBTC, WBTC_C)},
     "ilks": {name: {"ilk", "symbol", "dec", "gem", "join", "pip", "src", "clip", "price", "mat", "chop", "duty",
                     "dust", "line", "hole"}}}

There are no ``reserves``: the devnet's shared, USD-priced reserves belong to Aave.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import block_tag, eth_call, event_topic, keyless_address, revert_reason
from indexer.devnet.chain import CANONICAL_MULTICALL3
from indexer.devnet.compile import CompiledContract, compile_dev_contracts, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, mine_txs
from indexer.protocols.maker import rules
from indexer.protocols.maker.adapter import FROB_TOPIC, ilk_bytes

log = logging.getLogger(__name__)

KIND = "maker"
PREFIX = "Maker."
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
_DEPLOYED = ("Vat", "Spotter", "Jug", "Dog", "Vow", "Clipper", "OSM", "DSValue", "GemJoin",
             "DssCdpManager", "DSProxyFactory", "ProxyRegistry", "DevProxyActions")

WAD, RAY, RAD = rules.WAD, rules.RAY, rules.RAD
DEPLOY_GAS = 15_000_000
CALL_GAS = 3_000_000
ETH_FUNDING = hex(10**21)
LINE_ALL = 10_000_000_000 * RAD  # Vat.Line
HOLE_ALL = 1_000_000_000 * RAD  # Dog.Hole
KEEPER = keyless_address("maker", "keeper")



TRANSFER = event_topic("Transfer(address,address,uint256)")
APPROVAL = event_topic("Approval(address,address,uint256)")
NEW_CDP = event_topic("NewCdp(address,address,uint256)")
CREATED = event_topic("Created(address,address,address,address)")


def per_second(yearly: str) -> int:
    """A yearly rate ("0.05") as the Jug's per-second factor [ray], ``(1 + r) ** (1 / 31536000)`` to 27 places."""
    with localcontext() as context:
        context.prec = 60
        factor = (Decimal(1) + Decimal(yearly)) ** (Decimal(1) / Decimal(31_536_000))
        return int(factor * RAY)


@dataclass(frozen=True)
class IlkSpec:
    name: str
    symbol: str
    dec: int
    price: int  # OSM value [wad]
    mat: int  # [ray]
    chop: int  # [wad]
    duty: int  # per second [ray]
    dust: int  # [rad]
    line: int  # [rad]
    hole: int  # [rad]
    contract: str  # the contract-name suffix: PIP_<this>, GEM_<this>
    key: str  # JOIN_<this>, CLIP_<this>


ILKS = (
    IlkSpec("ETH-A", "WETH", 18, 2_500 * WAD, 145 * RAY // 100, 113 * WAD // 100, per_second("0.05"),
            5_000 * RAD, 500_000_000 * RAD, 100_000_000 * RAD, "ETH", "ETH_A"),
    IlkSpec("WBTC-C", "WBTC", 8, 60_000 * WAD, 175 * RAY // 100, 113 * WAD // 100, per_second("0.02"),
            7_500 * RAD, 500_000_000 * RAD, 100_000_000 * RAD, "WBTC", "WBTC_C"),
)
_ILK = {spec.name: spec for spec in ILKS}
RAISED_DUST = 6_000 * RAD  # ETH-A's dust after seeding: the "dust" urns (opened at 5,000 DAI) fall below it


# --- compiling


@functools.cache
def compile_maker() -> dict[str, CompiledContract]:
    """The stand-in's contracts and the devnet's shared ones (DevToken), by name; compiled once per input."""
    return compile_stand_in(CONTRACTS_DIR, cache_name="maker", deployed=_DEPLOYED)


# --- addresses and calls



def wallet_address(seed: int, index: int) -> str:
    """Seeded wallet ``index`` of ``seed``: a keyless address, used through impersonation."""
    return keyless_address("maker", f"wallet/{seed}/{index}")





# --- deployment


def deploy_maker(rpc_url: str) -> dict[str, Any]:
    """Deploys the core (Vat, Spotter, Jug, Vow, Dog, the CDP manager, the proxy registry and actions) and both ilks
    of :data:`ILKS` from the node's first dev account, wired as dss wires them; returns the record."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_maker()
    chain_id_hex = rpc.call("eth_chainId")
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    vat = plan.create("Vat", code["Vat"].bytecode)
    spotter = plan.create("Spotter", code["Spotter"].bytecode, ("address",), (vat,))
    jug = plan.create("Jug", code["Jug"].bytecode, ("address",), (vat,))
    vow = plan.create("Vow", code["Vow"].bytecode)
    dog = plan.create("Dog", code["Dog"].bytecode, ("address",), (vat,))
    manager = plan.create("DssCdpManager", code["DssCdpManager"].bytecode, ("address",), (vat,))
    factory = plan.create("DSProxyFactory", code["DSProxyFactory"].bytecode)
    registry = plan.create("ProxyRegistry", code["ProxyRegistry"].bytecode, ("address",), (factory,))
    actions = plan.create("DevProxyActions", code["DevProxyActions"].bytecode)
    for ward in (spotter, jug, dog):
        plan.call(f"Vat.rely {ward}", vat, "rely(address)", ward)
    plan.call("Vow.rely Dog", vow, "rely(address)", dog)
    plan.call("Vat.file Line", vat, "file(bytes32,uint256)", b"Line", LINE_ALL)
    plan.call("Jug.file vow", jug, "file(bytes32,address)", b"vow", vow)
    plan.call("Dog.file vow", dog, "file(bytes32,address)", b"vow", vow)
    plan.call("Dog.file Hole", dog, "file(bytes32,uint256)", b"Hole", HOLE_ALL)
    contracts = {f"{PREFIX}Vat": vat, f"{PREFIX}Spotter": spotter, f"{PREFIX}Jug": jug, f"{PREFIX}Dog": dog,
                 f"{PREFIX}Vow": vow, f"{PREFIX}CdpManager": manager, f"{PREFIX}ProxyRegistry": registry,
                 f"{PREFIX}ProxyFactory": factory, f"{PREFIX}ProxyActions": actions}
    ilks: dict[str, dict[str, Any]] = {}
    for spec in ILKS:
        ilk = ilk_bytes(spec.name)
        gem = plan.create(f"DevToken {spec.symbol}", compile_dev_contracts()["DevToken"].bytecode,
                          ("string", "string", "uint8"), (f"{spec.symbol} (Maker devnet)", spec.symbol, spec.dec))
        join = plan.create(f"GemJoin {spec.name}", code["GemJoin"].bytecode, ("address", "bytes32", "address"),
                           (vat, ilk, gem))
        src = plan.create(f"DSValue {spec.name}", code["DSValue"].bytecode)
        pip = plan.create(f"OSM {spec.name}", code["OSM"].bytecode, ("address",), (src,))
        clip = plan.create(f"Clipper {spec.name}", code["Clipper"].bytecode,
                           ("address", "address", "address", "bytes32"), (vat, spotter, dog, ilk))
        plan.call(f"Vat.rely join {spec.name}", vat, "rely(address)", join)
        plan.call(f"DSValue.poke {spec.name}", src, "poke(bytes32)", spec.price.to_bytes(32, "big"))
        for bud in (spotter, clip, CANONICAL_MULTICALL3):
            plan.call(f"OSM.kiss {spec.name} {bud}", pip, "kiss(address)", bud)
        plan.call(f"Clipper.rely Dog {spec.name}", clip, "rely(address)", dog)
        plan.call(f"Dog.file clip {spec.name}", dog, "file(bytes32,bytes32,address)", ilk, b"clip", clip)
        plan.call(f"Dog.file chop {spec.name}", dog, "file(bytes32,bytes32,uint256)", ilk, b"chop", spec.chop)
        plan.call(f"Dog.file hole {spec.name}", dog, "file(bytes32,bytes32,uint256)", ilk, b"hole", spec.hole)
        plan.call(f"Vat.init {spec.name}", vat, "init(bytes32)", ilk)
        plan.call(f"Vat.file line {spec.name}", vat, "file(bytes32,bytes32,uint256)", ilk, b"line", spec.line)
        plan.call(f"Vat.file dust {spec.name}", vat, "file(bytes32,bytes32,uint256)", ilk, b"dust", spec.dust)
        plan.call(f"Spotter.file pip {spec.name}", spotter, "file(bytes32,bytes32,address)", ilk, b"pip", pip)
        plan.call(f"Spotter.file mat {spec.name}", spotter, "file(bytes32,bytes32,uint256)", ilk, b"mat", spec.mat)
        plan.call(f"Jug.init {spec.name}", jug, "init(bytes32)", ilk)
        plan.call(f"Jug.file duty {spec.name}", jug, "file(bytes32,bytes32,uint256)", ilk, b"duty", spec.duty)
        plan.call(f"OSM.devSet {spec.name}", pip, "devSet(uint128,uint128)", spec.price, spec.price)
        plan.call(f"Spotter.poke {spec.name}", spotter, "poke(bytes32)", ilk)
        ilks[spec.name] = {"ilk": spec.name, "symbol": spec.symbol, "dec": spec.dec, "gem": gem, "join": join,
                           "pip": pip, "src": src, "clip": clip, "price": spec.price, "mat": spec.mat,
                           "chop": spec.chop, "duty": spec.duty, "dust": spec.dust, "line": spec.line,
                           "hole": spec.hole}
        contracts.update({f"{PREFIX}PIP_{spec.contract}": pip, f"{PREFIX}GEM_{spec.contract}": gem,
                          f"{PREFIX}JOIN_{spec.key}": join, f"{PREFIX}CLIP_{spec.key}": clip})
    block = mine_txs(rpc, plan.txs, "deploy Maker")
    record = {"deployer": deployer, "chain_id": int(chain_id_hex, 16), "block_number": block, "keeper": KEEPER,
              "contracts": contracts, "ilks": ilks}
    for spec in ILKS:
        state = read_ilk(rpc_url, record, spec.name)
        expected = rules.poke_spot(spec.price, RAY, spec.mat)
        if state[2] != expected or state[1] != RAY:
            raise DevnetError(f"{spec.name} starts with rate={state[1]} spot={state[2]} (expected spot {expected})")
    log.info("Maker devnet deployed block=%d vat=%s ilks=%s", block, vat, ",".join(ilks))
    return record


# --- reads


def _contract(record: dict[str, Any], name: str) -> str:
    return str(record["contracts"][PREFIX + name])


def _ilk(record: dict[str, Any], ilk: str) -> dict[str, Any]:
    return dict(record["ilks"][ilk])


def read_ilk(rpc_url: str, record: dict[str, Any], ilk: str, *, block: int | str = "latest") -> tuple[int, ...]:
    """``Vat.ilks(ilk)``: (Art, rate, spot, line, dust)."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(_contract(record, "Vat"),
                                                 encode_call("ilks(bytes32)", ilk_bytes(ilk)), block))
    return tuple(int(v) for v in decode(["uint256"] * 5, raw))


def read_urns(rpc_url: str, record: dict[str, Any], ilk: str, urns: Sequence[str], *,
              block: int | str = "latest") -> list[tuple[int, int]]:
    """``Vat.urns(ilk, urn)`` of each urn: (ink, art)."""
    vat = _contract(record, "Vat")
    raws = JsonRpcClient(rpc_url).batch(
        eth_call(vat, encode_call("urns(bytes32,address)", ilk_bytes(ilk), u), block) for u in urns)
    return [(int(a), int(b)) for a, b in (decode(["uint256", "uint256"], raw) for raw in raws)]


def read_jug(rpc_url: str, record: dict[str, Any], ilk: str, *, block: int | str = "latest") -> tuple[int, int, int]:
    """The Jug's (duty, rho) of ``ilk`` and its ``base``."""
    jug = _contract(record, "Jug")
    ilk_raw, base_raw = JsonRpcClient(rpc_url).batch([
        eth_call(jug, encode_call("ilks(bytes32)", ilk_bytes(ilk)), block), eth_call(jug, encode_call("base()"),
                                                                                        block)])
    duty, rho = decode(["uint256", "uint256"], ilk_raw)
    return int(duty), int(rho), int(decode(["uint256"], base_raw)[0])


def _reason(exc: DevnetRpcError) -> str:
    data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
    return revert_reason(data) or exc.rpc_message


def bark_outcome(rpc_url: str, record: dict[str, Any], ilk: str, urn: str, *,
                 block: int | str = "latest") -> str | None:
    """What ``Dog.bark(ilk, urn, keeper)`` does by an eth_call from the keeper at ``block``: None when it goes
    through (the urn would be liquidated), else its revert reason ("Dog/not-unsafe", ...)."""
    data = encode_call("bark(bytes32,address,address)", ilk_bytes(ilk), urn, record["keeper"])
    try:
        JsonRpcClient(rpc_url).call(*eth_call(_contract(record, "Dog"), data, block, sender=record["keeper"]))
    except DevnetRpcError as exc:
        return _reason(exc)
    return None


def block_timestamp(rpc_url: str, block: int | str = "latest") -> int:
    return int(JsonRpcClient(rpc_url).call("eth_getBlockByNumber", [block_tag(block), False])["timestamp"], 16)


# --- chain control (the deployer is a ward of every contract)


def _deployer_txs(rpc: JsonRpcClient, record: dict[str, Any], calls: Sequence[tuple[str, str, str]]) -> list[Tx]:
    """(step, to, calldata) sent from the deployer, in order."""
    nonces = NonceBook(rpc)
    deployer = record["deployer"]
    return [Tx(step, deployer, to, data, CALL_GAS, nonces.take(deployer)) for step, to, data in calls]


def set_osm(rpc_url: str, record: dict[str, Any], ilk: str, current: int, following: int | None = None, *,
            poke: bool = True) -> int:
    """Sets the OSM's current and next values [wad] (``devSet``; next = current when not given) and, with
    ``poke``, pokes the Spotter in the same block; returns the block."""
    spec = _ilk(record, ilk)
    rpc = JsonRpcClient(rpc_url)
    calls = [(f"OSM.devSet {ilk}", spec["pip"], encode_call("devSet(uint128,uint128)", current,
                                                             current if following is None else following))]
    if poke:
        calls.append((f"Spotter.poke {ilk}", _contract(record, "Spotter"),
                      encode_call("poke(bytes32)", ilk_bytes(ilk))))
    return mine_txs(rpc, _deployer_txs(rpc, record, calls), f"set the {ilk} OSM")


def drip(rpc_url: str, record: dict[str, Any], *ilks: str) -> int:
    """``Jug.drip`` of each ilk (all of them by default) in one block; returns it."""
    rpc = JsonRpcClient(rpc_url)
    names = ilks or tuple(record["ilks"])
    calls = [(f"Jug.drip {i}", _contract(record, "Jug"), encode_call("drip(bytes32)", ilk_bytes(i))) for i in names]
    return mine_txs(rpc, _deployer_txs(rpc, record, calls), "drip")


def file_vat(rpc_url: str, record: dict[str, Any], ilk: str, what: str, value: int) -> int:
    """``Vat.file(ilk, what, value)`` ("dust", "line", "spot"); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    data = encode_call("file(bytes32,bytes32,uint256)", ilk_bytes(ilk), what.encode(), value)
    return mine_txs(rpc, _deployer_txs(rpc, record, [(f"Vat.file {what}", _contract(record, "Vat"), data)]),
                 f"file {ilk} {what}")


def file_dog(rpc_url: str, record: dict[str, Any], what: str, value: int, *, ilk: str | None = None) -> int:
    """``Dog.file`` of a global (``Hole``) or, with ``ilk``, of the ilk (``hole``, ``chop``); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    data = (encode_call("file(bytes32,uint256)", what.encode(), value) if ilk is None
            else encode_call("file(bytes32,bytes32,uint256)", ilk_bytes(ilk), what.encode(), value))
    return mine_txs(rpc, _deployer_txs(rpc, record, [(f"Dog.file {what}", _contract(record, "Dog"), data)]),
                 f"file the Dog's {what}")


def file_clipper(rpc_url: str, record: dict[str, Any], ilk: str, what: str, value: int) -> int:
    """``Clipper.file(what, value)`` of the ilk's Clipper (``stopped``: the breaker); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    data = encode_call("file(bytes32,uint256)", what.encode(), value)
    return mine_txs(rpc, _deployer_txs(rpc, record, [(f"Clipper.file {what}", _ilk(record, ilk)["clip"], data)]),
                 f"file the {ilk} Clipper's {what}")


def osm_whitelist(rpc_url: str, record: dict[str, Any], ilk: str, reader: str, *, allowed: bool) -> int:
    """``OSM.kiss(reader)`` or ``OSM.diss(reader)`` (e.g. Multicall3: without it the indexer cannot read the OSM)."""
    rpc = JsonRpcClient(rpc_url)
    data = encode_call(f"{'kiss' if allowed else 'diss'}(address)", reader)
    return mine_txs(rpc, _deployer_txs(rpc, record, [("OSM whitelist", _ilk(record, ilk)["pip"], data)]),
                 f"whitelist {reader} on the {ilk} OSM")


# --- seeding


KINDS = ("direct", "manager", "proxy", "proxy_multi", "dust", "no_debt")
_CYCLE = ("proxy", "direct", "manager", "proxy", "direct", "proxy_multi", "proxy", "manager", "direct", "dust",
          "proxy", "no_debt")
_MULTI_ILKS = ("ETH-A", "WBTC-C", "ETH-A")  # a proxy_multi wallet's cdps, in the order it opens them


@dataclass(frozen=True)
class MakerSeeded:
    """A seeded urn: the wallet that holds it, how (``KINDS``), its ilk, the urn, the cdp and proxy when held through
    the CDP manager, and what it locked (token units) and drew (normalised art)."""

    wallet: str
    kind: str
    ilk: str
    urn: str
    cdp: int | None
    proxy: str | None
    amount: int
    art: int


@dataclass
class _Planned:
    wallet: str
    kind: str
    ilk: str
    amount: int  # token units
    art: int


def _plan_one(rng: random.Random, ilk: str, kind: str, rate: int) -> tuple[int, int]:
    """(token amount, art) of an urn: collateral worth 40,000 to 2,000,000 DAI, drawn to a collateralization of 1.02
    to 3 times mat (or exactly the dust, or nothing)."""
    spec = _ILK[ilk]
    worth = math.exp(rng.uniform(math.log(40_000), math.log(2_000_000)))
    amount = int(worth * 10**spec.dec * WAD // spec.price)
    ink = amount * 10 ** (18 - spec.dec)
    spot = rules.poke_spot(spec.price, RAY, spec.mat)
    if kind == "no_debt":
        return amount, 0
    if kind == "dust":
        return amount, -(-spec.dust // rate)  # debt exactly at the floor (rounded up to a whole art)
    ratio = rng.uniform(1.02, 1.15) if rng.random() < 0.4 else rng.uniform(1.15, 3.0)
    art = int(ink * spot // rate / ratio)
    if art * rate < spec.dust:
        art = -(-spec.dust // rate)
    return amount, art


def plan_urns(count: int, rates: dict[str, int], *, seed: int = 0) -> list[_Planned]:
    """The urns :func:`seed_urns` opens, without the chain: kinds follow a fixed cycle; ilks alternate two ETH-A for
    one WBTC-C (a proxy_multi wallet opens three cdps: ETH-A, WBTC-C, ETH-A); the dust urns are on ETH-A."""
    planned: list[_Planned] = []
    index = 0
    while len(planned) < count:
        kind = _CYCLE[index % len(_CYCLE)]
        rng = random.Random(f"indexer-devnet/maker/{seed}/{index}")
        wallet = wallet_address(seed, index)
        ilks = _MULTI_ILKS if kind == "proxy_multi" else ("ETH-A",) if kind == "dust" else (
            "WBTC-C" if index % 3 == 2 else "ETH-A",)
        for ilk in ilks:
            amount, art = _plan_one(rng, ilk, kind, rates[ilk])
            planned.append(_Planned(wallet, kind, ilk, amount, art))
        index += 1
    return planned


def seed_urns(rpc_url: str, record: dict[str, Any], count: int, *, seed: int = 0) -> list[MakerSeeded]:
    """Opens about ``count`` urns (:func:`plan_urns`) in phases, each one batch: a drip of both ilks (rate above 1);
    the wallets mint their collateral, build their proxies, open their urns in the Vat (``direct``, ``dust``,
    ``no_debt``: join + Vat.frob) and their own cdps (``manager``: DssCdpManager.open); the cdps get collateral
    and debt (``manager``: join into the urn + DssCdpManager.frob; ``proxy``/``proxy_multi``: DSProxy.execute of
    the proxy actions, which open the cdp for the proxy); finally ETH-A's dust is raised above the ``dust`` urns'
    debt. Raises :class:`~indexer.devnet.errors.TransactionFailedError` naming the phase and step on failure."""
    rpc = JsonRpcClient(rpc_url)
    vat, manager = _contract(record, "Vat"), _contract(record, "CdpManager")
    registry = _contract(record, "ProxyRegistry")
    actions, factory = _contract(record, "ProxyActions"), _contract(record, "ProxyFactory")
    drip(rpc_url, record)
    rates = {name: read_ilk(rpc_url, record, name)[1] for name in record["ilks"]}
    planned = plan_urns(count, rates, seed=seed)
    wallets = list(dict.fromkeys(p.wallet for p in planned))
    rpc.batch(call for w in wallets for call in (("anvil_setBalance", [w, ETH_FUNDING]),
                                                 ("anvil_impersonateAccount", [w])))
    nonces = NonceBook(rpc)
    nonces.prefetch(wallets)
    uint_max = 2**256 - 1

    def tx(step: str, sender: str, to: str, data: str, expect: tuple[str, str] | None) -> Tx:
        return Tx(step, sender, to, data, CALL_GAS, nonces.take(sender), 0, expect)

    first: list[Tx] = []
    built: set[str] = set()
    for p in planned:
        spec = record["ilks"][p.ilk]
        gem, join = spec["gem"], spec["join"]
        first.append(tx(f"mint {p.ilk} for {p.wallet}", p.wallet, gem,
                        encode_call("mint(address,uint256)", p.wallet, p.amount), (gem, TRANSFER)))
        if p.kind in ("direct", "dust", "no_debt"):
            ink = p.amount * 10 ** (18 - spec["dec"])
            first += [
                tx(f"approve the {p.ilk} join by {p.wallet}", p.wallet, gem,
                   encode_call("approve(address,uint256)", join, uint_max), (gem, APPROVAL)),
                tx(f"join {p.ilk} by {p.wallet}", p.wallet, join,
                   encode_call("join(address,uint256)", p.wallet, p.amount), (gem, TRANSFER)),
                tx(f"Vat.frob {p.ilk} by {p.wallet}", p.wallet, vat,
                   encode_call("frob(bytes32,address,address,address,int256,int256)", ilk_bytes(p.ilk), p.wallet,
                               p.wallet, p.wallet, ink, p.art), (vat, FROB_TOPIC)),
            ]
        elif p.kind == "manager":
            first.append(tx(f"open a cdp by {p.wallet}", p.wallet, manager,
                            encode_call("open(bytes32,address)", ilk_bytes(p.ilk), p.wallet), (manager, NEW_CDP)))
        elif p.wallet not in built:
            built.add(p.wallet)
            first.append(tx(f"build a proxy for {p.wallet}", p.wallet, registry, encode_call("build()"),
                            (factory, CREATED)))
    mine_txs(rpc, first, "seed Maker collateral, proxies and Vat urns")

    proxied = [w for w in wallets if w in built]
    managed = [p for p in planned if p.kind == "manager"]
    answers = rpc.batch([*(eth_call(registry, encode_call("proxies(address)", w)) for w in proxied),
                         *(eth_call(manager, encode_call("last(address)", p.wallet)) for p in managed)])
    proxies = {w: to_checksum_address(decode(["address"], raw)[0])
               for w, raw in zip(proxied, answers[:len(proxied)], strict=True)}
    cdps = {p.wallet: int(decode(["uint256"], raw)[0]) for p, raw in zip(managed, answers[len(proxied):], strict=True)}
    cdp_urns = rpc.batch(eth_call(manager, encode_call("urns(uint256)", cdps[p.wallet])) for p in managed)
    manager_urns = {p.wallet: to_checksum_address(decode(["address"], raw)[0])
                    for p, raw in zip(managed, cdp_urns, strict=True)}

    second: list[Tx] = []
    approved: set[tuple[str, str]] = set()
    for p in planned:
        spec = record["ilks"][p.ilk]
        gem, join = spec["gem"], spec["join"]
        if p.kind == "manager":
            ink = p.amount * 10 ** (18 - spec["dec"])
            second += [
                tx(f"approve the {p.ilk} join by {p.wallet}", p.wallet, gem,
                   encode_call("approve(address,uint256)", join, uint_max), (gem, APPROVAL)),
                tx(f"join {p.ilk} into cdp {cdps[p.wallet]}", p.wallet, join,
                   encode_call("join(address,uint256)", manager_urns[p.wallet], p.amount), (gem, TRANSFER)),
                tx(f"frob cdp {cdps[p.wallet]}", p.wallet, manager,
                   encode_call("frob(uint256,int256,int256)", cdps[p.wallet], ink, p.art), (vat, FROB_TOPIC)),
            ]
        elif p.kind in ("proxy", "proxy_multi"):
            proxy = proxies[p.wallet]
            if (p.wallet, gem) not in approved:
                approved.add((p.wallet, gem))
                second.append(tx(f"approve {p.ilk} to the proxy of {p.wallet}", p.wallet, gem,
                                 encode_call("approve(address,uint256)", proxy, uint_max), (gem, APPROVAL)))
            inner = encode_call("openLockGemAndFrob(address,address,bytes32,uint256,uint256)", manager, join,
                                ilk_bytes(p.ilk), p.amount, p.art)
            second.append(tx(f"open a {p.ilk} cdp through the proxy of {p.wallet}", p.wallet, proxy,
                             encode_call("execute(address,bytes)", actions, bytes.fromhex(inner[2:])),
                             (vat, FROB_TOPIC)))
    mine_txs(rpc, second, "seed Maker cdps")
    file_vat(rpc_url, record, "ETH-A", "dust", RAISED_DUST)

    # where each planned urn ended up: the wallet itself, its own cdp, or its proxy's cdps in opening order
    proxy_cdps: dict[str, list[tuple[int, str]]] = {}
    for wallet, proxy in proxies.items():
        proxy_cdps[wallet] = _cdp_list(rpc, manager, proxy)
    seeded: list[MakerSeeded] = []
    taken: dict[str, int] = {}
    for p in planned:
        if p.kind in ("direct", "dust", "no_debt"):
            seeded.append(MakerSeeded(p.wallet, p.kind, p.ilk, p.wallet, None, None, p.amount, p.art))
        elif p.kind == "manager":
            seeded.append(MakerSeeded(p.wallet, p.kind, p.ilk, manager_urns[p.wallet], cdps[p.wallet], None, p.amount,
                                      p.art))
        else:
            n = taken.get(p.wallet, 0)
            taken[p.wallet] = n + 1
            cdp, urn = proxy_cdps[p.wallet][n]
            seeded.append(MakerSeeded(p.wallet, p.kind, p.ilk, urn, cdp, proxies[p.wallet], p.amount, p.art))
    log.info("seeded Maker urns=%d wallets=%d proxies=%d", len(seeded), len(wallets), len(proxies))
    return seeded


def _cdp_list(rpc: JsonRpcClient, manager: str, owner: str) -> list[tuple[int, str]]:
    """(cdp, urn) of ``owner``'s cdps in the manager, first to last."""
    out: list[tuple[int, str]] = []
    cdp = int(decode(["uint256"], rpc.call(*eth_call(manager, encode_call("first(address)", owner))))[0])
    while cdp:
        urn_raw, list_raw = rpc.batch([eth_call(manager, encode_call("urns(uint256)", cdp)),
                                       eth_call(manager, encode_call("list(uint256)", cdp))])
        out.append((cdp, to_checksum_address(decode(["address"], urn_raw)[0])))
        cdp = int(decode(["uint256", "uint256"], list_raw)[1])
    return out


def empty_urn(rpc_url: str, record: dict[str, Any], seeded: MakerSeeded) -> int:
    """Repays all of a seeded urn's debt with the DAI it drew (still in the urn's Vat balance: exact while no drip
    happened since) and frees all its collateral, the way its holder would: Vat.frob for an urn in the Vat,
    DssCdpManager.frob for a cdp the wallet owns, DSProxy.execute of the proxy actions' frob for a proxied cdp;
    returns the block."""
    rpc = JsonRpcClient(rpc_url)
    [(ink, art)] = read_urns(rpc_url, record, seeded.ilk, [seeded.urn])
    if seeded.cdp is None:
        to, data = _contract(record, "Vat"), encode_call("frob(bytes32,address,address,address,int256,int256)",
                                                         ilk_bytes(seeded.ilk), seeded.urn, seeded.urn, seeded.urn,
                                                         -ink, -art)
    elif seeded.proxy is None:
        to, data = _contract(record, "CdpManager"), encode_call("frob(uint256,int256,int256)", seeded.cdp, -ink,
                                                                 -art)
    else:
        inner = encode_call("frob(address,uint256,int256,int256)", _contract(record, "CdpManager"), seeded.cdp,
                            -ink, -art)
        to, data = seeded.proxy, encode_call("execute(address,bytes)", _contract(record, "ProxyActions"),
                                             bytes.fromhex(inner[2:]))
    rpc.batch([("anvil_setBalance", [seeded.wallet, ETH_FUNDING]), ("anvil_impersonateAccount", [seeded.wallet])])
    tx = Tx(f"empty {seeded.urn}", seeded.wallet, to, data, CALL_GAS, NonceBook(rpc).take(seeded.wallet), 0,
            (_contract(record, "Vat"), FROB_TOPIC))
    return mine_txs(rpc, [tx], f"empty the urn {seeded.urn}")


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Both ilks as a record for the devnet deployment file: ``contracts`` names ``Maker.Vat`` (a market's address:
    ``devnet:Maker.Vat``), the Spotter, Jug, Dog, CDP manager, proxy registry and, per ilk, its PIP_*, JOIN_*,
    CLIP_* and GEM_*."""
    return deploy_maker(rpc_url)


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    """Opens about ``count`` urns; returns each wallet once (the address to track: a proxied urn is found through
    its proxy's owner) with the kind of its first urn."""
    seeded = seed_urns(rpc_url, deployment.protocols[KIND], count)
    return list(dict.fromkeys((s.wallet, s.kind) for s in seeded))
