"""What it takes to be safe on Liquity v1 and Liquity v2, held against the devnets' stand-ins (this project's contracts
behind each protocol's real ABI and documented math: no package ships Liquity's bytecode).

For every trove under the target (1.5 of the normalized health: ICR / MCR, in v1 ICR / the threshold of the mode),
``to_be_safe`` is computed from a fresh read; the reported deposit (and, where the stand-in has it, the reported
repayment) is then sent through BorrowerOperations in a block at the read's own time — no interest accrues in
between — and the trove's health is taken from the protocol's own figures after that block (``getCurrentICR`` at
the price the adjustment fetched, against MCR; in v1 against the threshold of the mode the TroveManager reports):
the amount reaches the target and one unit less does not. Each try runs inside an evm snapshot.

One anvil per protocol for the module: Liquity v1 with 60 troves seeded as the v1 devnet tests seed them (a
redistribution leaves pending rewards on the early troves); Liquity v2 with about 60 troves on its WETH and wstETH
branches, then 90 days, so every trove carries interest to be applied by the adjustment.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from indexer.devnet import Anvil, stack
from indexer.devnet.abi import encode_call
from indexer.devnet.calls import eth_call, revert_reason
from indexer.devnet.errors import DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.protocols.base import PositionRules
from indexer.protocols.liquity_v1 import rules as v1_rules
from indexer.protocols.liquity_v1.adapter import LiquityV1Adapter
from indexer.protocols.liquity_v1.devnet import (
    FEED_DECIMALS,
    LiquityDeployment,
    read_current_icr,
    read_entire_debt_and_coll,
    read_system,
    read_tcr,
    set_eth_price,
)
from indexer.protocols.liquity_v2 import devnet as dv
from indexer.protocols.liquity_v2 import rules as v2_rules
from indexer.protocols.liquity_v2.adapter import LiquityV2Adapter
from indexer.protocols.registry import source_for
from indexer.risk.safety import SafetyStep, to_be_safe
from indexer.settings import load_settings
from indexer.sync import read_chain
from indexer.types import Health, Leg, PositionSnapshot, PriceKey, Role
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at

SEEDED = 60
TARGET = Decimal("1.5")
V1_MARKET = "liquity"
RECOVERY_ANSWER = 1_300 * 10**FEED_DECIMALS  # ETH / USD under which the v1 devnet's TCR is below CCR
V2_ELAPSED = 90 * 86_400
V2_MARKETS = {dv.WETH: "lv2_weth", dv.WSTETH: "lv2_wsteth"}
V2_BRANCH_OF = {market: branch for branch, market in V2_MARKETS.items()}
MAX_UINT = 2**256 - 1


class _Generic:
    """The same health without the protocol's booking: what it takes to be safe falls back on ``amount ± x``."""

    def __init__(self, source: LiquityV1Adapter | LiquityV2Adapter) -> None:
        self.source = source

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.source.health_at(snapshot, prices)


def _legs(snapshot: PositionSnapshot) -> tuple[Leg, Leg]:
    coll = next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)
    debt = next(leg for leg in snapshot.legs if leg.role is Role.DEBT)
    return coll, debt


def _steps(source: LiquityV1Adapter | LiquityV2Adapter, snapshot: PositionSnapshot) -> dict[str, SafetyStep]:
    plan = to_be_safe(source, snapshot, TARGET)
    assert plan.unmodelled == [] and sorted(s.action for s in plan.steps) == ["add", "repay"], plan
    return {s.action: s for s in plan.steps}


def _generic_amounts(source: LiquityV1Adapter | LiquityV2Adapter, snapshot: PositionSnapshot) -> dict[str, int | None]:
    plan = to_be_safe(cast(PositionRules, _Generic(source)), snapshot, TARGET)
    assert all(not s.exact for s in plan.steps)
    return {s.action: s.amount for s in plan.steps}


def _reaches(health: int) -> bool:
    """A health in 1e18 (the protocol's ICR over its threshold, floored) at or above the target."""
    return health >= int(TARGET * 10**18)


# --- Liquity v1


@dataclass
class V1Chain:
    url: str
    liquity: LiquityDeployment
    seeded: list[tuple[str, str]]
    file: Path

    @property
    def accounts(self) -> list[str]:
        return [account for account, _ in self.seeded]

    @property
    def whale(self) -> str:
        return next(account for account, kind in self.seeded if kind == "whale")


@pytest.fixture(scope="module")
def v1_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V1Chain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [LiquityV1Adapter.kind])
        seeded = stack.devnet_module(LiquityV1Adapter.kind).seed_devnet(node.url, deployment, SEEDED)
        path = tmp_path_factory.mktemp("liquity_v1") / "devnet.json"
        deployment.to_json(path)
        yield V1Chain(node.url, LiquityDeployment.from_dict(deployment.protocols[LiquityV1Adapter.kind]), seeded,
                      path)


@pytest.fixture
def v1(v1_chain: V1Chain) -> Iterator[V1Chain]:
    with reverting(v1_chain.url):
        yield v1_chain


def _v1_config(tmp_path: Path, chain: V1Chain) -> Path:
    config = tmp_path / "liquity_v1.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "unused.db"}"\n\n'
        f'[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n\n'
        f'[markets.{V1_MARKET}]\nchain = "devnet"\nprotocol = "liquity_v1"\naddress = "devnet:LiquityV1.TroveManager"\n'
        f'verify_onchain = true\nstart_block = {chain.liquity.block_number}\n')
    return config


def _v1_health_on_chain(chain: V1Chain, borrower: str, block: int) -> tuple[int, v1_rules.EntireTrove]:
    """The trove's health after ``block`` from the TroveManager's own figures: ``getCurrentICR`` at the price the
    adjustment fetched (the PriceFeed's ``lastGoodPrice``) over the threshold of the mode the TroveManager reports
    (``checkRecoveryMode``, ``getTCR``; the Stability Pool's deposits against the trove's entire debt), and the
    trove's ``getEntireDebtAndColl``."""
    d = chain.liquity
    system = read_system(chain.url, d, block=block)
    price = system.last_good_price
    (icr,) = read_current_icr(chain.url, d, [borrower], price, block=block)
    (entire,) = read_entire_debt_and_coll(chain.url, d, [borrower], block=block)
    total, recovery = read_tcr(chain.url, d, price, block=block)
    threshold = max(v1_rules.MCR, total) if recovery and system.stability_pool >= entire.debt else v1_rules.MCR
    return v1_rules.health_ratio(icr, threshold), entire


def _v1_adjust(chain: V1Chain, timestamp: int, borrower: str, action: str, amount: int) -> int:
    """``repayLUSD(amount)`` (the LUSD handed over by the whale first) or ``addColl`` with ``amount`` wei, from the
    borrower, in one block stamped ``timestamp``; that block's number."""
    d = chain.liquity
    JsonRpcClient(chain.url).batch([("anvil_impersonateAccount", [borrower]),
                                    ("anvil_impersonateAccount", [chain.whale])])
    if action == "repay":
        txs = [{"from": chain.whale, "to": d.lusd_token, "data": encode_call("transfer(address,uint256)", borrower,
                                                                            amount)},
               {"from": borrower, "to": d.borrower_operations,
                "data": encode_call("repayLUSD(uint256,address,address)", amount, borrower, borrower)}]
    else:
        txs = [{"from": borrower, "to": d.borrower_operations, "value": hex(amount),
                "data": encode_call("addColl(address,address)", borrower, borrower)}]
    return mine_at(chain.url, timestamp, txs)


def _v1_refusal(chain: V1Chain, borrower: str, amount: int, block: int) -> str:
    """Why BorrowerOperations refuses ``repayLUSD(amount)`` from the borrower at ``block`` (eth_call); '' if not."""
    d = chain.liquity
    data = encode_call("repayLUSD(uint256,address,address)", amount, borrower, borrower)
    try:
        JsonRpcClient(chain.url).call(*eth_call(d.borrower_operations, data, block, sender=borrower))
    except DevnetRpcError as exc:
        return revert_reason(exc.data) or exc.rpc_message
    return ""


async def test_liquity_v1_what_it_takes_to_be_safe_is_what_borrower_operations_books(v1, tmp_path):
    """Every trove under 1.5 (normal mode: health = ICR / MCR): the reported repayment and the reported deposit, each
    on its own through BorrowerOperations, book the debt at ``amount - x`` and the collateral at ``amount + x``
    (pending redistribution rewards applied first: ``getEntireDebtAndColl`` after the block shows no pending reward
    and exactly those figures), reach 1.5 by the TroveManager's ICR, and one unit less does not. A repayment whose
    smallest safe amount would leave less than 2,000 LUSD is refused on chain (net debt under MIN_NET_DEBT):
    ``amount_after`` answers None for it, the largest repayment the protocol takes (down to 2,000 LUSD) falls
    short on chain, and ``to_be_safe`` offers no repayment for that trove, where the generic ``amount ± x`` names
    the refused amount. Otherwise the generic answer gives the same amounts (Liquity v1 books repayments and
    deposits to the unit)."""
    started = time.perf_counter()
    settings = load_settings(_v1_config(tmp_path, v1))
    read = await read_chain(settings, "devnet", v1.accounts)
    source = source_for(settings, V1_MARKET)
    assert isinstance(source, LiquityV1Adapter)
    troves = [s for s in read.snapshots if s.market == V1_MARKET]
    assert read.checks[V1_MARKET] == (len(troves), 0)
    under = [s for s in troves if s.health.health is not None and s.health.health < TARGET]
    assert len(under) >= 10 and all(s.detail["mode"] == "normal" for s in troves), len(under)
    counts: Counter[str] = Counter()
    differences: list[tuple[str, str, int | None, int | None]] = []
    refused: list[tuple[str, int | None, bool]] = []  # (borrower, the amount reported, reported exact)
    for snapshot in under:
        coll_leg, debt_leg = _legs(snapshot)
        borrower = snapshot.account
        steps = _steps(source, snapshot)
        generic = _generic_amounts(source, snapshot)
        for action, step in steps.items():
            if step.amount != generic[action] and not (action == "repay" and step.amount is None):
                differences.append((borrower, action, step.amount, generic[action]))
        pending = int(snapshot.detail["pending_debt"]) > 0
        counts["pending rewards"] += pending

        add = steps["add"]
        assert add.exact and add.amount and add.health_after is not None and add.health_after >= TARGET
        for amount, reaches in ((add.amount, True), (add.amount - 1, False)):
            with reverting(v1.url):
                block = _v1_adjust(v1, read.block.timestamp, borrower, "add", amount)
                health, entire = _v1_health_on_chain(v1, borrower, block)
            assert tuple(entire) == (debt_leg.amount, coll_leg.amount + amount, 0, 0), (borrower, amount, entire)
            assert entire.coll == source.amount_after(snapshot, coll_leg, amount)
            assert _reaches(health) is reaches, (borrower, "add", amount, health)
        counts["add"] += 1

        repay = steps["repay"]
        if repay.amount is None:
            # the smallest safe repayment would leave under 2,000 LUSD: BorrowerOperations refuses it, and the
            # largest one it takes (down to 2,000 LUSD) falls short on chain, so no repayment alone gets there; the
            # generic answer names an amount the protocol refuses
            minimum = v1_rules.MIN_NET_DEBT + v1_rules.LUSD_GAS_COMPENSATION
            largest = debt_leg.amount - minimum
            assert source.amount_after(snapshot, debt_leg, -largest) == minimum
            assert source.amount_after(snapshot, debt_leg, -largest - 1) is None
            assert repay.exact and repay.health_after is not None and repay.health_after < TARGET
            assert _v1_refusal(v1, borrower, largest, read.block.number) == ""
            with reverting(v1.url):
                block = _v1_adjust(v1, read.block.timestamp, borrower, "repay", largest)
                health, entire = _v1_health_on_chain(v1, borrower, block)
            assert entire.debt == minimum and not _reaches(health), (borrower, health)
            assert generic["repay"] is not None and generic["repay"] > largest
            reason = _v1_refusal(v1, borrower, generic["repay"], read.block.number)
            assert "net debt must be greater than minimum" in reason, reason
            refused.append((borrower, generic["repay"], repay.exact))
            continue
        assert repay.health_after is not None and repay.health_after >= TARGET
        assert repay.exact
        for amount, reaches in ((repay.amount, True), (repay.amount - 1, False)):
            with reverting(v1.url):
                block = _v1_adjust(v1, read.block.timestamp, borrower, "repay", amount)
                health, entire = _v1_health_on_chain(v1, borrower, block)
            assert tuple(entire) == (debt_leg.amount - amount, coll_leg.amount, 0, 0), (borrower, amount, entire)
            assert entire.debt == source.amount_after(snapshot, debt_leg, -amount)
            assert _reaches(health) is reaches, (borrower, "repay", amount, health)
        counts["repay"] += 1
        counts["repay with pending rewards"] += pending
    print(f"\nLiquity v1: {len(under)} troves under {TARGET} of {len(troves)}; {dict(counts)}; exact vs generic "
          f"differences: {differences}; no repayment offered, the generic one refused under the minimum debt "
          f"(borrower, the generic amount, exact flag): {refused}; {time.perf_counter() - started:.1f} s")
    assert differences == []
    assert counts["add"] == len(under) and counts["repay"] >= 10 and counts["repay with pending rewards"] >= 3


async def test_liquity_v1_amount_after_claims_nothing_it_cannot_know(v1, tmp_path):
    """On a trove as read: nothing for a borrowing or a collateral repayment; a repayment leaving under 2,000 LUSD
    refused; and nothing when the trove's ETH reward snapshot is at ``L_ETH`` while its debt snapshot is behind
    ``L_LUSDDebt`` (the adjustment would then leave the debt reward pending and re-stake the trove)."""
    settings = load_settings(_v1_config(tmp_path, v1))
    read = await read_chain(settings, "devnet", v1.accounts)
    source = source_for(settings, V1_MARKET)
    assert isinstance(source, LiquityV1Adapter)
    snapshot = next(s for s in read.snapshots if int(s.detail["pending_debt"]) > 0)
    coll_leg, debt_leg = _legs(snapshot)
    assert source.amount_after(snapshot, debt_leg, 0) == debt_leg.amount
    assert source.amount_after(snapshot, debt_leg, 1) is None and source.amount_after(snapshot, coll_leg, -1) is None
    minimum = v1_rules.MIN_NET_DEBT + v1_rules.LUSD_GAS_COMPENSATION
    assert source.amount_after(snapshot, debt_leg, minimum - debt_leg.amount) == minimum
    assert source.amount_after(snapshot, debt_leg, minimum - debt_leg.amount - 1) is None
    lagging = dataclasses.replace(snapshot, detail={**snapshot.detail,
                                                    "reward_snapshot_eth": snapshot.detail["l_eth"]})
    assert source.amount_after(lagging, debt_leg, -1) is None and source.amount_after(lagging, coll_leg, 1) is None


async def test_liquity_v1_in_recovery_mode_exact_only_where_the_threshold_stays_mcr(v1, tmp_path):
    """In recovery mode (ETH at 1,300 USD: TCR under 150 %) the threshold of a trove whose entire debt the Stability
    Pool covers is the TCR, which the adjustment itself moves; ``amount_after`` claims an exact step only where the
    pool cannot cover the trove after the change (here: a deposit on a trove owing more than the pool's 60,000 LUSD;
    no repayment, as the pool holds more than the 2,000 LUSD a trove keeps). Every trove under 1.5: an exact step
    reaches 1.5 by the TroveManager's own figures after the block (ICR over the threshold of the mode it reports) and
    one unit less does not; what the other, generic, steps give on chain is counted and printed (the measured cost of
    the TCR moving under them)."""
    set_eth_price(v1.url, v1.liquity, RECOVERY_ANSWER)
    settings = load_settings(_v1_config(tmp_path, v1))
    read = await read_chain(settings, "devnet", v1.accounts)
    source = source_for(settings, V1_MARKET)
    assert isinstance(source, LiquityV1Adapter)
    troves = [s for s in read.snapshots if s.market == V1_MARKET]
    assert troves and all(s.detail["mode"] == "recovery" for s in troves)
    under = [s for s in troves if s.health.health is not None and s.health.health < TARGET]
    outcome: Counter[str] = Counter()
    for snapshot in under:
        coll_leg, debt_leg = _legs(snapshot)
        pool = int(snapshot.detail["stability_pool_lusd"])
        for step in to_be_safe(source, snapshot, TARGET).steps:
            assert step.exact is (step.action == "add" and pool < debt_leg.amount), (snapshot.account, step)
            if step.amount is None or (step.action == "repay" and debt_leg.amount - step.amount
                                       < v1_rules.MIN_NET_DEBT + v1_rules.LUSD_GAS_COMPENSATION):
                outcome[f"{step.action} not tried"] += 1
                continue
            if step.exact:
                for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                    with reverting(v1.url):
                        block = _v1_adjust(v1, read.block.timestamp, snapshot.account, step.action, amount)
                        health, entire = _v1_health_on_chain(v1, snapshot.account, block)
                    assert entire.coll == source.amount_after(snapshot, coll_leg, amount)
                    assert _reaches(health) is reaches, (snapshot.account, step.action, amount, health)
                outcome["add exact: reaches, one unit less does not"] += 1
                continue
            with reverting(v1.url):
                block = _v1_adjust(v1, read.block.timestamp, snapshot.account, step.action, step.amount)
                health, _ = _v1_health_on_chain(v1, snapshot.account, block)
            outcome[f"{step.action} generic {'reaches' if _reaches(health) else 'falls short'}"] += 1
    print(f"\nLiquity v1 recovery mode, {len(under)} troves under {TARGET}: {dict(outcome)}")
    assert outcome["add exact: reaches, one unit less does not"] >= 2, outcome


# --- Liquity v2


@dataclass
class V2Chain:
    url: str
    record: dv.LiquityV2Deployment
    seeded: list[tuple[str, str]]
    file: Path

    @property
    def owners(self) -> list[str]:
        return [owner for owner, _ in self.seeded]


@pytest.fixture(scope="module")
def v2_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V2Chain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [LiquityV2Adapter.kind])
        seeded = stack.devnet_module(LiquityV2Adapter.kind).seed_devnet(node.url, deployment, SEEDED)
        record = dv.LiquityV2Deployment.from_dict(deployment.protocols[LiquityV2Adapter.kind])
        dv.elapse(node.url, record, V2_ELAPSED)
        path = tmp_path_factory.mktemp("liquity_v2") / "devnet.json"
        deployment.to_json(path)
        yield V2Chain(node.url, record, seeded, path)


@pytest.fixture
def v2(v2_chain: V2Chain) -> Iterator[V2Chain]:
    with reverting(v2_chain.url):
        yield v2_chain


def _v2_config(tmp_path: Path, chain: V2Chain) -> Path:
    markets = "".join(
        f'\n[markets.{market}]\nchain = "devnet"\nprotocol = "liquity_v2"\n'
        f'address = "devnet:LiquityV2.{branch}.TroveManager"\nverify_onchain = true\n'
        f'start_block = {chain.record.block_number}\n'
        f'options = {{ addresses_registry = "devnet:LiquityV2.{branch}.AddressesRegistry" }}\n'
        for branch, market in V2_MARKETS.items())
    config = tmp_path / "liquity_v2.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "unused.db"}"\n\n'
                      f'[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n{markets}')
    return config


def _trove_id(snapshot: PositionSnapshot) -> int:
    return int(snapshot.account.partition(":")[2])


async def _v2_under(chain: V2Chain, tmp_path: Path) -> tuple[list[tuple[PositionSnapshot, LiquityV2Adapter]], int]:
    """Every trove under the target, with its branch's source, and the read's block timestamp."""
    settings = load_settings(_v2_config(tmp_path, chain))
    read = await read_chain(settings, "devnet", chain.owners)
    out = []
    for snapshot in read.snapshots:
        source = source_for(settings, snapshot.market)
        assert isinstance(source, LiquityV2Adapter)
        assert "unverified" not in snapshot.detail and int(snapshot.detail["accrued_interest"]) > 0
        if snapshot.health.health is not None and snapshot.health.health < TARGET:
            out.append((snapshot, source))
    assert {s.market for s, _ in out} == set(V2_MARKETS.values()) and len(out) >= 10, len(out)
    return out, read.block.timestamp


def _v2_health_on_chain(chain: V2Chain, branch: str, trove_id: int, block: int) -> tuple[int, tuple[int, ...]]:
    """The trove's health after ``block`` from the TroveManager's own figures: ``getCurrentICR`` at what
    ``fetchPrice()`` returns there, over the branch's MCR; and its ``getLatestTroveData``."""
    price, _ = dv.fetch_price_call(chain.url, chain.record, branch, block=block)
    (icr,) = dv.read_current_icr(chain.url, chain.record, branch, [trove_id], price, block=block)
    (latest,) = dv.read_latest(chain.url, chain.record, branch, [trove_id], block=block)
    return v2_rules.health_ratio(icr, chain.record.branch(branch).mcr), latest


def _v2_adjust(chain: V2Chain, timestamp: int, snapshot: PositionSnapshot, action: str, amount: int) -> int:
    """``addColl(troveId, amount)`` (the collateral minted and approved first) or ``repayBold(troveId, amount)`` (the
    BOLD minted first) from the trove's owner, in one block stamped ``timestamp``; that block's number."""
    b = chain.record.branch(V2_BRANCH_OF[snapshot.market])
    owner, trove_id = str(snapshot.owner), _trove_id(snapshot)
    JsonRpcClient(chain.url).call("anvil_impersonateAccount", [owner])
    token = b.coll_token if action == "add" else chain.record.bold_token
    call = (encode_call("addColl(uint256,uint256)", trove_id, amount) if action == "add"
            else encode_call("repayBold(uint256,uint256)", trove_id, amount))
    return mine_at(chain.url, timestamp, [
        {"from": owner, "to": token, "data": encode_call("mint(address,uint256)", owner, amount)},
        {"from": owner, "to": token, "data": encode_call("approve(address,uint256)", b.borrower_operations, MAX_UINT)},
        {"from": owner, "to": b.borrower_operations, "data": call}])


def _v2_has_repay_bold(chain: V2Chain, snapshot: PositionSnapshot) -> bool:
    """Whether the branch's BorrowerOperations answers ``repayBold`` at all: a contract without the function (and
    without a fallback) reverts with no data, whereas any refusal of Liquity's own carries an error selector."""
    b = chain.record.branch(V2_BRANCH_OF[snapshot.market])
    data = encode_call("repayBold(uint256,uint256)", _trove_id(snapshot), 1)
    try:
        JsonRpcClient(chain.url).call(*eth_call(b.borrower_operations, data, "latest", sender=str(snapshot.owner)))
    except DevnetRpcError as exc:
        payload = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
        return bool(payload) and payload != "0x"
    return True


async def test_liquity_v2_what_it_takes_by_adding_collateral_is_what_borrower_operations_books(v2, tmp_path):
    """Every trove under 1.5 on both branches (health = ICR / the branch's MCR): the reported deposit, sent through
    ``addColl`` in a block at the read's time, books the collateral at ``amount + x`` with the debt as read (the
    interest accrued to that second and the redistribution gains applied: ``getLatestTroveData`` shows exactly
    those), reaches 1.5 by ``getCurrentICR`` and one unit less does not. The reported repayments are exact steps too,
    and where the smallest one would take the debt under MIN_DEBT (where BorrowerOperations caps a repayment) no
    repayment reaches the target: the step says so, with the health at MIN_DEBT. The generic ``amount ± x`` gives the
    same amounts except there (it reports a repayment the protocol would not take in full)."""
    started = time.perf_counter()
    under, timestamp = await _v2_under(v2, tmp_path)
    counts: Counter[str] = Counter()
    differences: list[tuple[str, str, int | None, int | None]] = []
    for snapshot, source in under:
        coll_leg, debt_leg = _legs(snapshot)
        branch = V2_BRANCH_OF[snapshot.market]
        steps = _steps(source, snapshot)
        generic = _generic_amounts(source, snapshot)
        repay = steps["repay"]
        assert repay.exact and repay.health_after is not None
        if repay.amount is None:  # capped at entireDebt - MIN_DEBT: the trove cannot repay its way to the target
            assert source.amount_after(snapshot, debt_leg, -debt_leg.amount) == v2_rules.MIN_DEBT
            assert repay.health_after < TARGET and generic["repay"] is not None
            assert debt_leg.amount - generic["repay"] < v2_rules.MIN_DEBT
            counts["repay capped at MIN_DEBT"] += 1
        else:
            assert repay.health_after >= TARGET and repay.amount == generic["repay"]
            assert debt_leg.amount - repay.amount >= v2_rules.MIN_DEBT
        for action, step in steps.items():
            if step.amount != generic[action]:
                differences.append((snapshot.account, action, step.amount, generic[action]))

        add = steps["add"]
        assert add.exact and add.amount and add.health_after is not None and add.health_after >= TARGET
        assert add.amount == generic["add"]
        for amount, reaches in ((add.amount, True), (add.amount - 1, False)):
            with reverting(v2.url):
                block = _v2_adjust(v2, timestamp, snapshot, "add", amount)
                health, latest = _v2_health_on_chain(v2, branch, _trove_id(snapshot), block)
            assert latest[:2] == (debt_leg.amount, coll_leg.amount + amount), (snapshot.account, amount, latest)
            assert latest[1] == source.amount_after(snapshot, coll_leg, amount) and latest[2:5] == (0, 0, 0)
            assert _reaches(health) is reaches, (snapshot.account, "add", amount, health)
        counts[f"add {branch}"] += 1
        counts["with redistribution gains"] += int(snapshot.detail["redist_debt_gain"]) > 0
    print(f"\nLiquity v2: {len(under)} troves under {TARGET}; {dict(counts)}; exact vs generic differences: "
          f"{differences}; {time.perf_counter() - started:.1f} s")
    assert all(action == "repay" and exact is None for _, action, exact, _ in differences)
    assert len(differences) == counts["repay capped at MIN_DEBT"]
    assert sum(n for k, n in counts.items() if k.startswith("add ")) == len(under)
    assert counts["with redistribution gains"] >= 3


async def test_liquity_v2_what_it_takes_by_repaying_is_what_borrower_operations_books(v2, tmp_path):
    """Every trove under 1.5 whose smallest safe repayment keeps MIN_DEBT: ``repayBold`` of the reported amount, in a
    block at the read's time, books the debt at ``amount - x`` (interest to that second and the redistribution gains
    applied first), reaches 1.5 by ``getCurrentICR`` and one unit less does not; repaying the whole debt of a trove
    books MIN_DEBT (the repayment capped)."""
    under, timestamp = await _v2_under(v2, tmp_path)
    tries = []
    for snapshot, source in under:
        _, debt_leg = _legs(snapshot)
        repay = _steps(source, snapshot)["repay"]
        assert repay.exact
        if repay.amount is not None:
            assert source.amount_after(snapshot, debt_leg, -repay.amount) == debt_leg.amount - repay.amount
            tries.append((snapshot, source, repay.amount))
    assert len(tries) >= 10, len(tries)
    assert _v2_has_repay_bold(v2, tries[0][0])
    for snapshot, source, step_amount in tries:
        coll_leg, debt_leg = _legs(snapshot)
        branch = V2_BRANCH_OF[snapshot.market]
        for amount, reaches in ((step_amount, True), (step_amount - 1, False)):
            with reverting(v2.url):
                block = _v2_adjust(v2, timestamp, snapshot, "repay", amount)
                health, latest = _v2_health_on_chain(v2, branch, _trove_id(snapshot), block)
            assert latest[:2] == (debt_leg.amount - amount, coll_leg.amount), (snapshot.account, amount, latest)
            assert latest[0] == source.amount_after(snapshot, debt_leg, -amount)
            assert _reaches(health) is reaches, (snapshot.account, "repay", amount, health)
    snapshot, source, _ = tries[0]
    _, debt_leg = _legs(snapshot)
    with reverting(v2.url):
        block = _v2_adjust(v2, timestamp, snapshot, "repay", debt_leg.amount)
        _, latest = _v2_health_on_chain(v2, V2_BRANCH_OF[snapshot.market], _trove_id(snapshot), block)
    assert latest[0] == source.amount_after(snapshot, debt_leg, -debt_leg.amount) == v2_rules.MIN_DEBT


async def test_liquity_v2_amount_after_claims_nothing_it_cannot_know(v2, tmp_path):
    """On a trove as read: nothing for a borrowing or a collateral repayment, nor for a batched trove, a zombie, a
    branch shut down, a price feed that would newly detect an oracle failure or revert; a repayment capped at
    ``entireDebt - MIN_DEBT``, and none at all at MIN_DEBT."""
    under, _ = await _v2_under(v2, tmp_path)
    snapshot, source = under[0]
    coll_leg, debt_leg = _legs(snapshot)
    assert source.amount_after(snapshot, debt_leg, 0) == debt_leg.amount
    assert source.amount_after(snapshot, debt_leg, 1) is None and source.amount_after(snapshot, coll_leg, -1) is None
    assert source.amount_after(snapshot, debt_leg, -debt_leg.amount) == v2_rules.MIN_DEBT
    assert source.amount_after(snapshot, debt_leg, v2_rules.MIN_DEBT + 1 - debt_leg.amount) == v2_rules.MIN_DEBT + 1
    for change in ({"interest_batch_manager": snapshot.owner}, {"status": int(v2_rules.TroveStatus.zombie)},
                   {"shut_down": True}, {"shutdown_time": 1}, {"oracle_failure": True}, {"price_reverts": True}):
        changed = dataclasses.replace(snapshot, detail={**snapshot.detail, **change})
        assert source.amount_after(changed, debt_leg, -1) is None, change
        assert source.amount_after(changed, coll_leg, 1) is None, change
    at_minimum = dataclasses.replace(debt_leg, amount=v2_rules.MIN_DEBT)
    floor = dataclasses.replace(snapshot, legs=[coll_leg, at_minimum])
    assert source.amount_after(floor, at_minimum, -1) is None
    assert source.amount_after(floor, coll_leg, 1) == coll_leg.amount + 1
