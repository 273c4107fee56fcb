"""What it takes to be safe on Euler v2, booked as an EVault books it, checked on the devnet's EVK stand-in.

For every indebted sub-account under the target, ``to_be_safe`` from a fresh read names a repayment of the debt and a
deposit into each collateral vault; each is then made on the vault itself (by the sub-account's owner, in one block at
the read's own time, inside an evm snapshot that is reverted afterwards) and ``accountLiquidity(account, true)`` of
the controller says whether the target is reached. The reported amount reaches it, one unit less does not.

The generic ``amount ± x`` (no ``amount_after``) is measured beside it. A repayment is booked to the unit as
``debt − x`` (decreaseBorrow rounds the debt up to assets before taking ``x`` off), so the two agree on every debt. A
deposit of ``x`` assets mints ``x.toSharesDown`` shares, fewer than ``x`` in a vault whose interest has lifted its
assets above its shares (eWETH and eUSDC here; eWBTC and ewstETH convert one to one): there the generic answer, read
as a deposit, falls short, and the exact one is that many shares' ``previewMint``.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from indexer.devnet import Anvil, Deployment, stack
from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import eth_call, keyless_address
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.protocols.euler_v2 import devnet as euler
from indexer.protocols.euler_v2 import rules
from indexer.protocols.euler_v2.adapter import EulerV2Adapter
from indexer.protocols.registry import source_for
from indexer.risk.safety import SafetyStep, to_be_safe
from indexer.settings import load_settings
from indexer.sync import read_chain
from indexer.types import Health, Leg, PositionSnapshot, PriceKey, Role
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at

SEEDED = 66
MARKETS = ("eUSDC", "eWETH")
TARGET = Decimal("1.5")
E18 = 10**18


@dataclass
class EulerChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[euler.SeededEuler]
    file: Path

    def vault(self, name: str) -> str:
        return euler.vault_address(self.record, name)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EulerChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [EulerV2Adapter.kind])
        record = deployment.protocols[EulerV2Adapter.kind]
        seeded = euler.seed_positions(node.url, record, SEEDED)
        path = tmp_path_factory.mktemp("euler-safe") / "devnet.json"
        deployment.to_json(path)
        yield EulerChain(node.url, deployment, record, seeded, path)


def _config(tmp_path: Path, chain: EulerChain) -> Path:
    markets = "".join(
        f'\n[markets.{name}]\nchain = "devnet"\nprotocol = "euler_v2"\naddress = "devnet:EulerV2.{name}"\n'
        f'start_block = {chain.deployment.block_number}\n' for name in MARKETS)
    config = tmp_path / "euler.toml"
    config.write_text(f'[database]\nurl = "sqlite:///unused.db"\n\n[chains.devnet]\nchain_id = 31337\n'
                      f'devnet = "{chain.file}"\n{markets}')
    return config


class _Generic:
    """The same health, without the EVault's booking: what it takes to be safe falls back on ``amount ± x``."""

    def __init__(self, source: EulerV2Adapter) -> None:
        self.source = source

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.source.health_at(snapshot, prices)


def _underlying(chain: EulerChain, vault: str) -> str:
    """The token an EVault of the devnet holds."""
    name = next(n for n, v in chain.record["vaults"].items() if v["address"] == vault)
    return str(chain.record["tokens"][chain.record["vaults"][name]["asset"]]["address"])


def _act(chain: EulerChain, snapshot: PositionSnapshot, owner: str, step: SafetyStep, amount: int,
         timestamp: int) -> int:
    """The step made on the vault by the sub-account's owner, in one block at ``timestamp``: the owner mints the
    token, approves the vault and calls ``repay(amount, account)`` on the controller or ``deposit(amount, account)``
    on the collateral vault. The block's number."""
    if step.action == "repay":
        vault, token = chain.vault(snapshot.market), step.asset
        call = encode_call("repay(uint256,address)", amount, snapshot.account)
    else:
        vault, token = step.asset, _underlying(chain, step.asset)
        call = encode_call("deposit(uint256,address)", amount, snapshot.account)
    return mine_at(chain.url, timestamp, [
        {"from": owner, "to": token, "data": encode_call("mint(address,uint256)", owner, amount)},
        {"from": owner, "to": token, "data": encode_call("approve(address,uint256)", vault, euler.UINT256_MAX)},
        {"from": owner, "to": vault, "data": call}])


def _booked(source: EulerV2Adapter, snapshot: PositionSnapshot, leg: Leg, change: int) -> Health:
    """The indexer's health once the leg's amount is what ``amount_after`` books for ``change``."""
    amount = source.amount_after(snapshot, leg, change)
    assert amount is not None
    legs = [dataclasses.replace(g, amount=amount) if g is leg else g for g in snapshot.legs]
    return source.health_at(dataclasses.replace(snapshot, legs=legs), {})


async def test_what_it_takes_to_be_safe_is_what_the_evault_books(chain, tmp_path):
    """Every indebted sub-account under 1.5, every step: made on the vault at the read's time, the reported amount
    reaches the target by accountLiquidity and one unit less does not; the balance or debt afterwards is what
    ``amount_after`` booked, and the indexer's two values are the vault's. The generic answer is measured beside it
    (printed): equal on every debt, and on a collateral the shares whose ``previewMint`` is the exact deposit."""
    settings = load_settings(_config(tmp_path, chain))
    read = await read_chain(settings, "devnet", [p.account for p in chain.seeded])
    owners = {p.account: p.owner for p in chain.seeded}
    under = [s for s in read.snapshots if s.health.health is not None and s.health.health < TARGET]
    assert len(under) >= 10 and {s.market for s in under} == set(MARKETS), len(under)
    tried = Counter[str]()
    differ: list[tuple[str, int, int]] = []  # (collateral symbol, exact, generic) where they differ
    same = Counter[str]()
    inexact: list[str] = []
    for snapshot in under:
        source = source_for(settings, snapshot.market)
        assert isinstance(source, EulerV2Adapter)
        plan = to_be_safe(source, snapshot, TARGET)
        generic = {s.asset: s for s in to_be_safe(_Generic(source), snapshot, TARGET).steps}
        assert plan.unmodelled == [] and "repay" in {s.action for s in plan.steps}
        assert len(plan.steps) == len(snapshot.legs)  # every counted collateral can be added to
        controller = chain.vault(snapshot.market)
        for step in plan.steps:
            leg = next(g for g in snapshot.legs if g.asset == step.asset)
            other = generic[step.asset]
            assert step.amount is not None and other.amount is not None
            if not step.exact:  # a nested vault (eSUSDS -> sUSDS -> USDS): the inner conversion is not EVK's
                assert leg.terms["hops"] == 2 and leg.role is Role.COLLATERAL
                inexact.append(step.symbol)
                continue
            if step.amount == other.amount:
                same[step.symbol] += 1
            else:
                differ.append((step.symbol, step.amount, other.amount))
            if leg.role is Role.COLLATERAL:  # paid in the vault's asset (what `deposit` takes), into the vault
                name = next(n for n, v in chain.record["vaults"].items() if v["address"] == step.asset)
                assert (step.symbol, step.into) == (chain.record["vaults"][name]["asset"], leg.symbol), step
            if leg.role is Role.DEBT:
                assert step.into is None
                assert step.amount == other.amount  # debtOf after a repayment of x is debt - x, to the unit
            else:  # the generic answer is a number of shares; the deposit that mints them is their previewMint
                assert step.amount == rules.to_assets_up(other.amount, leg.terms["total_assets"],
                                                         leg.terms["total_supply"])
            change = -1 if step.action == "repay" else 1
            for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                if amount == 0:
                    continue
                with reverting(chain.url):
                    block = _act(chain, snapshot, owners[snapshot.account], step, amount, read.block.timestamp)
                    collateral, liability = euler.account_liquidity(chain.url, controller, snapshot.account,
                                                                    block=block)
                    if step.action == "repay":
                        held = euler.debt_of(chain.url, controller, snapshot.account, block=block)
                    else:
                        held = euler.collateral_balance(chain.url, step.asset, snapshot.account, block=block)
                local = _booked(source, snapshot, leg, change * amount)
                assert held == source.amount_after(snapshot, leg, change * amount), (snapshot.account, step, amount)
                if step.action == "repay" or amount == step.amount:
                    # the same two values as the vault: a repayment always, a deposit at the reported amount (the
                    # smallest deposit minting its shares, the totals health_at values them at)
                    assert (local.equity, local.debt) == (collateral, liability), (snapshot.account, step, amount)
                else:  # a larger deposit than the smallest minting as many shares leaves the vault a bit richer
                    assert local.debt == liability and local.equity <= collateral
                health = rules.health_raw(collateral, liability) if liability else None
                assert (health is None or health >= TARGET * E18) is reaches, (snapshot.account, step, amount, health)
                tried[step.action] += 1
            if step.action == "add" and other.amount < step.amount:  # the generic amount as a deposit falls short
                with reverting(chain.url):
                    block = _act(chain, snapshot, owners[snapshot.account], step, other.amount,
                                 read.block.timestamp)
                    collateral, liability = euler.account_liquidity(chain.url, controller, snapshot.account,
                                                                    block=block)
                assert rules.health_raw(collateral, liability) < TARGET * E18
    print(f"\nunder {TARGET}: {len(under)} positions; on-chain tries {dict(tried)}; exact = generic "
          f"{dict(same)}; differ {len(differ)}: "
          + ", ".join(f"{sym} +{e - g} ({(e - g) * 10**6 // g} ppm)" for sym, e, g in differ)
          + f"; not exact (generic kept): {dict(Counter(inexact))}")
    assert tried["repay"] >= 2 * 10 and tried["add"] >= 2 * 10, tried


def _view(chain: EulerChain, to: str, signature: str, block: int | str = "latest") -> int:
    raw = JsonRpcClient(chain.url).call(*eth_call(to, encode_call(signature), block))
    return int(decode(["uint256"], raw)[0])


def _now(chain: EulerChain) -> int:
    return int(JsonRpcClient(chain.url).call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


async def test_a_deposit_is_valued_at_the_totals_it_leaves(chain, tmp_path):
    """A sub-account holding about half of eUSDC's shares, borrowing WETH from eWETH under the target. A deposit of
    ``x`` raises eUSDC's assets by ``x`` and its shares by ``x.toSharesDown``: the rate moves a little, and at half
    the supply the account's shares gain up to half an asset unit from it, so valuing the new balance at the totals
    read would land a unit of USDC off for many amounts. For every deposit around the reported one, on the vault:
    the balance is what ``amount_after`` books; where ``x`` is the smallest deposit minting its shares the indexer's
    two values are accountLiquidity's; a larger one (minting no more shares) leaves the vault richer, never poorer;
    the reported amount is the first to reach the target."""
    owner = keyless_address("euler-v2", "test/to-be-safe-whale")
    account = euler.sub_account(owner, 5)
    usdc, weth = (chain.record["tokens"][t]["address"] for t in ("USDC", "WETH"))
    eusdc, eweth, evc = chain.vault("eUSDC"), chain.vault("eWETH"), chain.record["evc"]
    lender = keyless_address("euler-v2", "test/to-be-safe-lender")
    with reverting(chain.url):
        deposit = _view(chain, eusdc, "totalAssets()")  # as much again as the vault holds
        mine_at(chain.url, _now(chain) + 1, [
            {"from": owner, "to": usdc, "data": encode_call("mint(address,uint256)", owner, deposit)},
            {"from": owner, "to": usdc, "data": encode_call("approve(address,uint256)", eusdc, euler.UINT256_MAX)},
            {"from": owner, "to": eusdc, "data": encode_call("deposit(uint256,address)", deposit, account)},
            {"from": owner, "to": evc, "data": encode_call("enableCollateral(address,address)", account, eusdc)},
            {"from": owner, "to": evc, "data": encode_call("enableController(address,address)", account, eweth)}])
        shares = euler.collateral_balance(chain.url, eusdc, account)
        worth = euler.router_quote(chain.url, chain.record, shares, eusdc, weth)  # in WETH
        borrowed = worth * 85 // 100 * 10 // 13  # a health of about 1.3 at eUSDC's liquidation LTV of 85 %
        borrow = encode_call("borrow(uint256,address)", borrowed, owner)
        mine_at(chain.url, _now(chain) + 1, [
            {"from": lender, "to": weth, "data": encode_call("mint(address,uint256)", lender, borrowed)},
            {"from": lender, "to": weth, "data": encode_call("approve(address,uint256)", eweth, euler.UINT256_MAX)},
            {"from": lender, "to": eweth, "data": encode_call("deposit(uint256,address)", borrowed, lender)},
            {"from": owner, "to": evc, "data": encode_call("call(address,address,uint256,bytes)", eweth, account, 0,
                                                           bytes.fromhex(borrow[2:]))}])
        settings = load_settings(_config(tmp_path, chain))
        read = await read_chain(settings, "devnet", [account])
        [snapshot] = read.snapshots
        assert snapshot.health.health is not None and Decimal(1) < snapshot.health.health < TARGET
        source = source_for(settings, "eWETH")
        assert isinstance(source, EulerV2Adapter)
        [leg] = [g for g in snapshot.legs if g.role is Role.COLLATERAL]
        total_assets, total_supply = leg.terms["total_assets"], leg.terms["total_supply"]
        assert leg.terms["hops"] == 1 and 4 * shares >= 3 * total_supply // 2  # about half the supply is ours
        assert total_assets > total_supply  # interest: a deposit mints fewer shares than assets
        [step] = [s for s in to_be_safe(source, snapshot, TARGET).steps if s.action == "add"]
        assert step.exact and step.amount is not None and step.health_after is not None
        # the reported amount, one unit less, amounts spread over ±10 % of it (the fraction of a unit the rate gains
        # varies between them), and the amounts just above the smallest deposit of a share count that two deposits
        # mint (one in about 7,800 at eUSDC's rate): those mint no more shares than one unit less
        spread = random.Random(0)
        first = rules.to_shares_down(step.amount, total_assets, total_supply)
        wide = [x for x in (rules.to_assets_up(n, total_assets, total_supply) for n in range(first, first + 10**5))
                if rules.to_shares_down(x + 1, total_assets, total_supply)
                == rules.to_shares_down(x, total_assets, total_supply)][:3]
        amounts = sorted({step.amount - 1, step.amount, *(x + 1 for x in wide),
                          *(spread.randrange(step.amount * 9 // 10, step.amount * 11 // 10) for _ in range(30))})
        counted = {"smallest": 0, "larger": 0, "read_totals_off": 0}
        for x in amounts:
            minted = rules.to_shares_down(x, total_assets, total_supply)
            with reverting(chain.url):
                block = _act(chain, snapshot, owner, step, x, read.block.timestamp)
                collateral, liability = euler.account_liquidity(chain.url, eweth, account, block=block)
                held = euler.collateral_balance(chain.url, eusdc, account, block=block)
            assert held == source.amount_after(snapshot, leg, x) == leg.amount + minted
            local = _booked(source, snapshot, leg, x)
            if x == rules.to_assets_up(minted, total_assets, total_supply):
                assert (local.equity, local.debt) == (collateral, liability), x
                counted["smallest"] += 1
            else:
                assert local.debt == liability and local.equity <= collateral, x
                counted["larger"] += 1
            at_read = rules.ltv_adjusted(rules.out_amount(
                rules.to_assets_down(held, total_assets, total_supply), leg.price,
                rules.Scale(leg.terms["price_exp"], leg.terms["feed_exp"]), True), leg.terms["ltv"])
            counted["read_totals_off"] += at_read != collateral
            assert (rules.health_raw(collateral, liability) >= TARGET * E18) is (x >= step.amount), x
        print(f"\nwhale: deposit {step.amount} of {len(amounts)} amounts tried: {counted}")
        assert counted["smallest"] >= 30 and counted["larger"] == len(wide) == 3, counted
        assert counted["read_totals_off"] >= 5, counted  # the totals after the deposit decide it, not the ones read
