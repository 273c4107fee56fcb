"""What it takes to be safe on Maker, held against the devnet's Vat (the project's dss stand-in, see
indexer/protocols/maker/devnet.py): the repayment and the deposit ``to_be_safe`` reports, performed on the Vat the
way each urn's holder would (Vat.frob for an urn in the Vat, DssCdpManager.frob for a cdp, DSProxy.execute of the
proxy actions for a proxied cdp), reach the target by the Vat's own figures (``ink * spot`` against ``art * rate``
from ``Vat.urns``/``Vat.ilks``), and one unit less does not.

One anvil for the module: both ilks deployed and about 60 urns seeded as in test_maker_devnet.py, then three days
pass and the Jug drips both ilks, so the stored rate carries three days of stability fee. Nothing drips after that:
a repayment is booked at the stored rate, as the read saw it. Each test, and each try inside it, runs inside an evm
snapshot.

The DAI: the stand-in has no DaiJoin, an urn's drawn DAI sits in the Vat. A repayment of ``x`` DAI therefore first
leaves the paying address (the urn; a cdp's UrnHandler) holding exactly ``x * RAY`` rad (its own DAI moved away,
then ``Vat.suck`` from the deployer, a ward), which is what DssProxyActions ``wipe`` has after ``daiJoin_join``;
the frob's ``dart`` is ``_getWipeDart``'s ``-(x * RAY / rate)`` capped at ``art``, and one more unit of art is
checked to be more than that DAI pays for.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from indexer.devnet import Anvil, Deployment, advance_time, stack
from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import eth_call, keyless_address, revert_reason
from indexer.devnet.errors import DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.protocols.maker import rules
from indexer.protocols.maker.adapter import MakerAdapter, ilk_bytes
from indexer.protocols.maker.devnet import (
    MakerSeeded,
    block_timestamp,
    drip,
    file_vat,
    read_ilk,
    read_urns,
    seed_urns,
    set_osm,
)
from indexer.protocols.registry import source_for
from indexer.risk.safety import SafetyPlan, to_be_safe
from indexer.settings import Settings, load_settings
from indexer.sync import read_chain
from indexer.types import Health, Leg, PositionSnapshot, PriceKey, Role, scaled
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at

SEEDED = 60
ELAPSED = 3 * 86_400
TARGET = Decimal("1.5")  # [risk] target_health's default
WAD, RAY = rules.WAD, rules.RAY
MARKETS = {"maker-eth-a": ("ETH-A", "ETH_A"), "maker-wbtc-c": ("WBTC-C", "WBTC_C")}
MARKET_OF = {ilk: key for key, (ilk, _) in MARKETS.items()}
SINK = keyless_address("maker", "to-be-safe/sink")  # where an urn's own DAI goes, and the sin of the DAI sucked
UINT_MAX = 2**256 - 1


@dataclass
class SafeChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[MakerSeeded]
    file: Path

    def contract(self, name: str) -> str:
        return str(self.record["contracts"][f"Maker.{name}"])

    @property
    def wallets(self) -> list[str]:
        return list(dict.fromkeys(s.wallet for s in self.seeded))


@pytest.fixture(scope="module")
def maker_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SafeChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [MakerAdapter.kind])
        record = deployment.protocols[MakerAdapter.kind]
        seeded = seed_urns(node.url, record, SEEDED)
        advance_time(node.url, ELAPSED)
        drip(node.url, record)
        path = tmp_path_factory.mktemp("maker-safe") / "devnet.json"
        deployment.to_json(path)
        yield SafeChain(node.url, deployment, record, seeded, path)


@pytest.fixture
def chain(maker_chain: SafeChain) -> Iterator[SafeChain]:
    with reverting(maker_chain.url):
        yield maker_chain


def _settings(tmp_path: Path, chain: SafeChain) -> Settings:
    markets = "".join(
        f'\n[markets.{key}]\nchain = "devnet"\nprotocol = "maker"\naddress = "devnet:Maker.Vat"\n'
        f'start_block = {chain.deployment.block_number}\n'
        f'options = {{ ilk = "{ilk}", spotter = "devnet:Maker.Spotter", join = "devnet:Maker.JOIN_{name}", '
        f'jug = "devnet:Maker.Jug", dog = "devnet:Maker.Dog", cdp_manager = "devnet:Maker.CdpManager", '
        f'proxy_registry = "devnet:Maker.ProxyRegistry" }}\n'
        for key, (ilk, name) in MARKETS.items())
    config = tmp_path / "maker.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "unused.db"}"\n\n'
                      f'[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n{markets}')
    return load_settings(config)


class _Generic:
    """The same health, without the Vat's booking: what it takes to be safe falls back on ``debt - x`` and
    ``ink + x``."""

    def __init__(self, source: MakerAdapter) -> None:
        self.source = source

    def health_at(self, snapshot: PositionSnapshot, prices: dict[PriceKey, int]) -> Health:
        return self.source.health_at(snapshot, prices)


# --- the Vat's own figures and the holder's transactions


@dataclass(frozen=True)
class _Vat:
    ink: int
    art: int
    rate: int
    spot: int
    dust: int

    def reaches(self, target: Decimal) -> bool:
        """``ink * spot >= target * art * rate``, exactly (no debt: nothing to reach)."""
        num, den = target.as_integer_ratio()
        return self.art == 0 or self.ink * self.spot * den >= num * self.art * self.rate

    def health(self) -> Decimal | None:
        """The collateralization as the Vat's line sees it, in the indexer's 18 places (floored)."""
        return None if self.art == 0 else scaled(self.ink * self.spot * WAD // (self.art * self.rate), 18)


def _vat(chain: SafeChain, seeded: MakerSeeded, block: int | str = "latest") -> _Vat:
    _, rate, spot, _, dust = read_ilk(chain.url, chain.record, seeded.ilk, block=block)
    [(ink, art)] = read_urns(chain.url, chain.record, seeded.ilk, [seeded.urn], block=block)
    return _Vat(ink, art, rate, spot, dust)


def _vat_dai(chain: SafeChain, holder: str) -> int:
    raw = JsonRpcClient(chain.url).call(*eth_call(chain.contract("Vat"), encode_call("dai(address)", holder)))
    return int(decode(["uint256"], raw)[0])


def _frob(chain: SafeChain, seeded: MakerSeeded, dink: int, dart: int) -> dict[str, str]:
    """The frob as the urn's holder sends it (from the wallet): the Vat itself, the CDP manager, or the proxy."""
    if seeded.cdp is None:
        data = encode_call("frob(bytes32,address,address,address,int256,int256)", ilk_bytes(seeded.ilk),
                           seeded.urn, seeded.urn, seeded.urn, dink, dart)
        return {"from": seeded.wallet, "to": chain.contract("Vat"), "data": data}
    if seeded.proxy is None:
        return {"from": seeded.wallet, "to": chain.contract("CdpManager"),
                "data": encode_call("frob(uint256,int256,int256)", seeded.cdp, dink, dart)}
    inner = encode_call("frob(address,uint256,int256,int256)", chain.contract("CdpManager"), seeded.cdp, dink, dart)
    return {"from": seeded.wallet, "to": seeded.proxy,
            "data": encode_call("execute(address,bytes)", chain.contract("ProxyActions"), bytes.fromhex(inner[2:]))}


def _dai_exactly(chain: SafeChain, seeded: MakerSeeded, wad: int) -> list[dict[str, str]]:
    """The urn (the frob's DAI source ``w`` on every path) left holding exactly ``wad`` DAI in the Vat."""
    vat = chain.contract("Vat")
    txs = []
    own = _vat_dai(chain, seeded.urn)
    if own:
        txs.append({"from": seeded.urn, "to": vat, "data": encode_call("move(address,address,uint256)", seeded.urn,
                                                                         SINK, own)})
    txs.append({"from": chain.record["deployer"], "to": vat,
                "data": encode_call("suck(address,address,uint256)", SINK, seeded.urn, wad * RAY)})
    return txs


def _wipe_dart(chain: SafeChain, seeded: MakerSeeded, wad: int) -> int:
    """DssProxyActions ``_getWipeDart`` for ``wad * ONE`` rad, from the Vat's figures now: ``-(dai / rate)``,
    at most the urn's art."""
    now = _vat(chain, seeded)
    return -min(wad * RAY // now.rate, now.art)


def _repay(chain: SafeChain, seeded: MakerSeeded, wad: int, timestamp: int, *, check_one_more: bool = False) -> int:
    """Repays ``wad`` DAI as ``wipe`` does, in a block at ``timestamp``; with ``check_one_more``, first checks that
    the same DAI does not pay for one more unit of art. The block's number."""
    mine_at(chain.url, timestamp, _dai_exactly(chain, seeded, wad))
    dart = _wipe_dart(chain, seeded, wad)
    if check_one_more:
        # the Vat's unchecked-sign guards (dai[w] and urn.art going below 0) revert without a reason string
        assert _reverts(chain, _frob(chain, seeded, 0, dart - 1)) == "", (seeded.urn, wad)
    return mine_at(chain.url, timestamp, [_frob(chain, seeded, 0, dart)])


def _lock_txs(chain: SafeChain, seeded: MakerSeeded, amt: int) -> list[dict[str, str]]:
    """``amt`` token units minted to the wallet, joined and locked into the urn the way its holder would: join +
    Vat.frob, join into the cdp's urn + DssCdpManager.frob, or the proxy actions' lockGemAndFrob."""
    spec = chain.record["ilks"][seeded.ilk]
    gem, join = spec["gem"], spec["join"]
    wad = amt * 10 ** (18 - spec["dec"])
    txs = [{"from": seeded.wallet, "to": gem, "data": encode_call("mint(address,uint256)", seeded.wallet, amt)}]
    if seeded.proxy is not None:
        inner = encode_call("lockGemAndFrob(address,address,uint256,uint256,uint256)", chain.contract("CdpManager"),
                            join, seeded.cdp, amt, 0)
        return [*txs, {"from": seeded.wallet, "to": gem, "data": encode_call("approve(address,uint256)",
                                                                              seeded.proxy, UINT_MAX)},
                {"from": seeded.wallet, "to": seeded.proxy, "data": encode_call(
                    "execute(address,bytes)", chain.contract("ProxyActions"), bytes.fromhex(inner[2:]))}]
    return [*txs, {"from": seeded.wallet, "to": gem, "data": encode_call("approve(address,uint256)", join, UINT_MAX)},
            {"from": seeded.wallet, "to": join, "data": encode_call("join(address,uint256)", seeded.urn, amt)},
            _frob(chain, seeded, wad, 0)]


def _reverts(chain: SafeChain, tx: dict[str, str]) -> str | None:
    """None when ``tx`` would succeed now (eth_call), else its revert reason ('' without one)."""
    try:
        JsonRpcClient(chain.url).call("eth_call", [tx, "latest"])
    except DevnetRpcError as exc:
        data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
        return revert_reason(data)
    return None


def _gem_unit(chain: SafeChain, seeded: MakerSeeded) -> int:
    return 10 ** (18 - int(chain.record["ilks"][seeded.ilk]["dec"]))


# --- reading


async def _read(settings: Settings, chain: SafeChain) -> tuple[dict[str, PositionSnapshot], int, int]:
    read = await read_chain(settings, "devnet", chain.wallets)
    return {s.account: s for s in read.snapshots}, read.block.number, read.block.timestamp


def _legs(snapshot: PositionSnapshot) -> tuple[Leg, Leg]:
    return (next(g for g in snapshot.legs if g.role is Role.COLLATERAL),
            next(g for g in snapshot.legs if g.role is Role.DEBT))


def _amounts(plan: SafetyPlan) -> dict[str, int | None]:
    return {s.action: s.amount for s in plan.steps}


# --- the tests


async def test_what_it_takes_to_be_safe_is_what_the_vat_books(chain, tmp_path):
    """Every indebted urn under the target, on both ilks and every way of holding one: the reported repayment and
    the reported deposit, each performed on the devnet's Vat, reach the target by the Vat's own figures, equal to
    the ``health_after`` reported, and one unit less does not; the Vat's art and ink afterwards are what
    ``amount_after`` booked; the DAI repaid pays for no more art than the wipe's floored dart."""
    started = time.perf_counter()
    settings = _settings(tmp_path, chain)
    snapshots, block, timestamp = await _read(settings, chain)
    under = [s for s in chain.seeded if s.art and snapshots[s.urn].health.health is not None
             and snapshots[s.urn].health.health < TARGET]
    assert len(under) >= 15, len(under)
    assert {s.ilk for s in under} == {"ETH-A", "WBTC-C"}
    assert {"direct", "manager", "proxy"} <= {s.kind for s in under}, Counter(s.kind for s in under)
    tries: Counter[str] = Counter()
    for seeded in under:
        snapshot = snapshots[seeded.urn]
        source = source_for(settings, snapshot.market)
        assert isinstance(source, MakerAdapter)
        coll, debt = _legs(snapshot)
        read_at = _vat(chain, seeded, block)
        assert (coll.amount, debt.terms["art"], debt.terms["rate"]) == (read_at.ink, read_at.art, read_at.rate)
        assert read_at.rate > RAY  # three days of fee dripped: the wipe's floor drops something
        plan = to_be_safe(source, snapshot, TARGET)
        assert plan.unmodelled == [] and sorted(s.action for s in plan.steps) == ["add", "repay"], plan
        for step in plan.steps:
            assert step.exact and step.amount and step.health_after is not None and step.health_after >= TARGET
            leg = debt if step.action == "repay" else coll
            for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                if amount == 0:
                    continue
                booked = source.amount_after(snapshot, leg, -amount if step.action == "repay" else amount)
                with reverting(chain.url):
                    if step.action == "repay":
                        at = _repay(chain, seeded, amount, timestamp, check_one_more=reaches)
                        after = _vat(chain, seeded, at)
                        assert (after.ink, after.rate) == (read_at.ink, read_at.rate)
                        assert rules.debt_wad(after.art, after.rate) == booked, (seeded.urn, amount)
                        assert after.art == read_at.art + _wipe_dart_at(read_at, amount)
                    else:
                        unit = _gem_unit(chain, seeded)
                        at = mine_at(chain.url, timestamp, _lock_txs(chain, seeded, amount // unit))
                        after = _vat(chain, seeded, at)
                        assert (after.ink, after.art) == (booked, read_at.art), (seeded.urn, amount)
                assert after.reaches(TARGET) is reaches, (seeded.urn, seeded.kind, step.action, amount)
                if reaches:
                    assert after.health() == step.health_after, (seeded.urn, step.action)
                tries[f"{seeded.ilk} {step.action} {'reaches' if reaches else 'short'}"] += 1
    print(f"\nMaker to-be-safe tries on the Vat: {dict(sorted(tries.items()))} "
          f"({len(under)} urns under {TARGET}, {time.perf_counter() - started:.1f} s)")
    assert all(tries[f"{ilk} {a} {r}"] for ilk in ("ETH-A", "WBTC-C") for a in ("repay", "add")
               for r in ("reaches", "short"))


def _wipe_dart_at(vat: _Vat, wad: int) -> int:
    return -min(wad * RAY // vat.rate, vat.art)


async def test_the_generic_answer_against_the_vats_booking(chain, tmp_path):
    """``debt - x`` and ``ink + x`` against the Vat's booking, for every indebted urn under the target.

    Repaying: the wipe takes ``floor(x * RAY / rate)`` art, so the DAI left owing is never below ``debt - x`` and
    the generic answer is never above the booked one; it is below by less than ``1 + rate / RAY`` (two units at
    most here), and where it is below, the Vat, given that generic amount, stays short of the target. Depositing:
    ETH-A's 18-decimal WETH books ``ink + x`` exactly (the same answer); WBTC-C's 8-decimal WBTC goes in by whole
    satoshis (``1e10`` wad), so the booked answer is the generic one rounded up to a whole satoshi. The counts are
    printed (what the report quotes)."""
    settings = _settings(tmp_path, chain)
    snapshots, _, timestamp = await _read(settings, chain)
    under = [s for s in chain.seeded if s.art and snapshots[s.urn].health.health is not None
             and snapshots[s.urn].health.health < TARGET]
    repay_diff: Counter[int] = Counter()
    add_diff: dict[str, Counter[int]] = {"ETH-A": Counter(), "WBTC-C": Counter()}
    short: list[MakerSeeded] = []
    for seeded in under:
        snapshot = snapshots[seeded.urn]
        source = source_for(settings, snapshot.market)
        assert isinstance(source, MakerAdapter)
        exact = _amounts(to_be_safe(source, snapshot, TARGET))
        generic = _amounts(to_be_safe(_Generic(source), snapshot, TARGET))
        repay_e, repay_g, add_e, add_g = exact["repay"], generic["repay"], exact["add"], generic["add"]
        assert repay_e is not None and repay_g is not None and add_e is not None and add_g is not None
        rate = _legs(snapshot)[1].terms["rate"]
        diff = repay_e - repay_g
        assert diff >= 0 and diff * RAY < RAY + rate, (seeded.urn, repay_e, repay_g)
        repay_diff[diff] += 1
        if diff:
            short.append(seeded)
            with reverting(chain.url):
                at = _repay(chain, seeded, repay_g, timestamp)
                assert not _vat(chain, seeded, at).reaches(TARGET), (seeded.urn, repay_g)
        unit = _gem_unit(chain, seeded)
        assert add_e == -(-add_g // unit) * unit, (seeded.urn, add_e, add_g)
        add_diff[seeded.ilk][add_e - add_g] += 1
    print(f"\nexact - generic over {len(under)} urns under {TARGET}: repay (wad) {dict(sorted(repay_diff.items()))}; "
          f"add ETH-A (wad) {dict(sorted(add_diff['ETH-A'].items()))}; "
          f"add WBTC-C (wad) {dict(sorted(add_diff['WBTC-C'].items()))}")
    assert set(add_diff["ETH-A"]) == {0}
    assert sum(repay_diff.values()) == len(under) >= 15
    assert len(short) == sum(n for d, n in repay_diff.items() if d)


async def test_an_urn_under_the_dust_can_only_repay_everything(chain, tmp_path):
    """A "dust" urn (its debt under ETH-A's raised dust) brought under the target by a lower price: the Vat refuses
    any frob that leaves it dusty, a deposit included, so the only step is repaying the whole debt. On the Vat a
    repayment one unit short and a deposit revert with "Vat/dust", the full repayment empties the urn; the generic
    answers (a part of the debt, a deposit) are both refused."""
    settings = _settings(tmp_path, chain)
    seeded = next(s for s in chain.seeded if s.kind == "dust")
    before = _vat(chain, seeded)
    assert 0 < before.art * before.rate < before.dust
    price = chain.record["ilks"]["ETH-A"]["price"]
    # about 1.2 by the Vat's line: the price scaled down by the urn's present health
    set_osm(chain.url, chain.record, "ETH-A", price * 6 * before.art * before.rate // (5 * before.ink * before.spot))
    snapshots, _, timestamp = await _read(settings, chain)
    snapshot = snapshots[seeded.urn]
    assert snapshot.health.health is not None and 1 < snapshot.health.health < TARGET
    source = source_for(settings, snapshot.market)
    assert isinstance(source, MakerAdapter)
    coll, debt = _legs(snapshot)
    plan = to_be_safe(source, snapshot, TARGET)
    assert [(s.action, s.amount, s.exact) for s in plan.steps] == [("repay", debt.amount, True)], plan
    assert plan.unmodelled == []

    with reverting(chain.url):
        mine_at(chain.url, timestamp, _dai_exactly(chain, seeded, debt.amount - 1))
        assert _reverts(chain, _frob(chain, seeded, 0, _wipe_dart(chain, seeded, debt.amount - 1))) == "Vat/dust"
    with reverting(chain.url):
        mine_at(chain.url, timestamp, _lock_txs(chain, seeded, 10**18)[:-1])  # minted and joined: only frob left
        assert _reverts(chain, _frob(chain, seeded, 10**18, 0)) == "Vat/dust"
    with reverting(chain.url):
        after = _vat(chain, seeded, _repay(chain, seeded, debt.amount, timestamp))
        assert (after.art, after.ink) == (0, before.ink) and after.reaches(TARGET)

    generic = _amounts(to_be_safe(_Generic(source), snapshot, TARGET))
    assert generic["repay"] is not None and 0 < generic["repay"] < debt.amount and generic["add"] is not None
    with reverting(chain.url):
        mine_at(chain.url, timestamp, _dai_exactly(chain, seeded, generic["repay"]))
        assert _reverts(chain, _frob(chain, seeded, 0, _wipe_dart(chain, seeded, generic["repay"]))) == "Vat/dust"
    print(f"\ndust urn: debt {debt.amount} wad, generic repayment {generic['repay']} and deposit {generic['add']} "
          "refused by the Vat (Vat/dust)")


async def test_a_repayment_that_would_leave_dust_is_repaying_everything(chain, tmp_path):
    """An ETH-A urn under the target, the ilk's dust then set around what the reported repayment leaves: one rad
    above that debt, the repayment would be refused ("Vat/dust") and the answer becomes the whole debt, which the Vat
    takes; at exactly that debt (``tab >= dust`` holds) the answer is the same as before and the Vat takes it."""
    settings = _settings(tmp_path, chain)
    snapshots, _, _ = await _read(settings, chain)
    seeded = max((s for s in chain.seeded if s.ilk == "ETH-A" and s.kind == "direct" and s.art
                  and snapshots[s.urn].health.health is not None and snapshots[s.urn].health.health < TARGET),
                 key=lambda s: s.art)
    snapshot = snapshots[seeded.urn]
    source = source_for(settings, snapshot.market)
    assert isinstance(source, MakerAdapter)
    _, debt = _legs(snapshot)
    first = _amounts(to_be_safe(source, snapshot, TARGET))["repay"]
    assert first is not None and first < debt.amount
    rate = debt.terms["rate"]
    left = debt.terms["art"] - min(first * RAY // rate, debt.terms["art"])  # the art the wipe leaves
    for dust, answer in ((left * rate + 1, debt.amount), (left * rate, first)):
        with reverting(chain.url):
            file_vat(chain.url, chain.record, "ETH-A", "dust", dust)
            snapshots, _, timestamp = await _read(settings, chain)
            now = snapshots[seeded.urn]
            assert now.detail["below_dust"] is False and int(now.detail["dust"]) == dust
            assert _amounts(to_be_safe(source, now, TARGET))["repay"] == answer, (dust, answer)
            if answer != first:
                mine_at(chain.url, timestamp, _dai_exactly(chain, seeded, first))
                assert _reverts(chain, _frob(chain, seeded, 0, _wipe_dart(chain, seeded, first))) == "Vat/dust"
            else:
                after = _vat(chain, seeded, _repay(chain, seeded, answer, timestamp))
                assert after.art * after.rate == dust and after.reaches(TARGET)
        if answer != first:
            with reverting(chain.url):
                file_vat(chain.url, chain.record, "ETH-A", "dust", dust)
                after = _vat(chain, seeded, _repay(chain, seeded, answer, block_timestamp(chain.url)))
                assert after.art == 0
