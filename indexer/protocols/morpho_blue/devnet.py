"""A Morpho Blue devnet: the real Morpho contract, its IrmMock and OracleMocks, several markets and seeded borrowers.

The contracts are the @morpho-org/morpho-blue 1.0.0 sources, compiled offline by solcjs 0.8.19 (npm alias
``solc-0.8.19``: Morpho.sol pins exactly that version) with Morpho's production settings (via-IR, 999,999
optimizer runs, paris, no metadata hash); the output is cached under ``.build/morpho-blue/``. Tokens are
the devnet's shared ``DevToken`` (Morpho's ERC20Mock has no decimals or symbol).

Everything is sent as JSON-RPC batches with automine off, as the Aave devnet does: the deployment comes
from the node's first dev account (every address predicted from its nonce), and each seeded borrower is a
keyless address acting through anvil's auto-impersonation. Typical use::

    with Anvil() as node:
        deployment = deploy_morpho_blue(node.url)
        seeded = seed_morpho_positions(node.url, deployment, 120)
        advance_time(node.url, 5 * 86_400)
        accrue_interest(node.url, deployment)
        liquidation_succeeds(node.url, deployment, seeded[0].market_id, seeded[0].account)
"""

from __future__ import annotations

import functools
import json
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from indexer.devnet import toolchain
from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import eth_call, event_topic, keyless_address, revert_reason
from indexer.devnet.compile import CompiledContract, compile_dev_contracts, compile_sources
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, send_and_mine
from indexer.protocols.morpho_blue import rules

log = logging.getLogger(__name__)

MORPHO_PACKAGE = "@morpho-org/morpho-blue"
SOLC_PACKAGE = "solc-0.8.19"

_DEPLOYED = ("Morpho", "IrmMock", "OracleMock")
_ARTIFACTS = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]
# Morpho Blue's own build settings (the foundry.toml of its repository): via-IR, 999,999 runs, paris, and no
# metadata hash. The cold compile takes 20-40 s on two cores, once: the output is cached.
SETTINGS: dict[str, Any] = {
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 999_999},
    "evmVersion": "paris",
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "src/Morpho.sol": {"Morpho": _ARTIFACTS},
        "src/mocks/IrmMock.sol": {"IrmMock": _ARTIFACTS},
        "src/mocks/OracleMock.sol": {"OracleMock": _ARTIFACTS},
    },
}

MARKET_PARAMS = "(address,address,address,address,uint256)"  # loanToken, collateralToken, oracle, irm, lltv
MARKET = "(uint128,uint128,uint128,uint128,uint128,uint128)"  # supply assets/shares, borrow assets/shares, ...
UINT256_MAX = 2**256 - 1

DEPLOY_GAS = 10_000_000
CALL_GAS = 1_000_000
ETH_FUNDING = hex(1_000 * 10**18)

INITIAL_LIQUIDITY_USD = 1_000_000
LIQUIDATOR_FUNDING_USD = 10**12
# seeding tops the lender's supply up so that utilisation (= the IrmMock's APR) ends near this
TARGET_UTILIZATION = Fraction(3, 5)
# borrows stay this many loan units under maxBorrow: shares rounding can add one or two
BORROW_MARGIN = 3



TRANSFER = event_topic("Transfer(address,address,uint256)")
APPROVAL = event_topic("Approval(address,address,uint256)")
SUPPLY = event_topic("Supply(bytes32,address,address,uint256,uint256)")
SUPPLY_COLLATERAL = event_topic("SupplyCollateral(bytes32,address,address,uint256)")
BORROW = event_topic("Borrow(bytes32,address,address,address,uint256,uint256)")
REPAY = event_topic("Repay(bytes32,address,address,uint256,uint256)")


@dataclass(frozen=True)
class _TokenSpec:
    symbol: str
    name: str
    decimals: int
    usd: Fraction  # sizes positions and sets the initial oracle prices; nothing on chain knows it


@dataclass(frozen=True)
class _MarketSpec:
    collateral: str
    loan: str
    lltv: int
    fee: int


TOKENS = (
    _TokenSpec("USDC", "USD Coin (devnet)", 6, Fraction(1)),
    _TokenSpec("DAI", "Dai Stablecoin (devnet)", 18, Fraction(1)),
    _TokenSpec("WETH", "Wrapped Ether (devnet)", 18, Fraction(2_500)),
    _TokenSpec("WBTC", "Wrapped BTC (devnet)", 8, Fraction(60_000)),
    _TokenSpec("wstETH", "Wrapped liquid staked Ether (devnet)", 18, Fraction(2_950)),
)
_TOKEN = {t.symbol: t for t in TOKENS}

MARKETS = (
    _MarketSpec("WETH", "USDC", 86 * 10**16, 10**17),  # loan 6 / collateral 18 decimals, 10 % fee
    _MarketSpec("WBTC", "DAI", 915 * 10**15, rules.MAX_FEE),  # loan 18 / collateral 8, the maximum fee
    _MarketSpec("wstETH", "WETH", 945 * 10**15, 0),  # 18 / 18
    _MarketSpec("USDC", "WETH", 77 * 10**16, 0),  # loan 18 / collateral 6
)


@dataclass(frozen=True)
class MorphoMarket:
    """One market of the deployment; addresses checksummed, ``id`` a 0x-prefixed bytes32."""

    id: str
    loan_token: str
    collateral_token: str
    oracle: str
    irm: str
    lltv: int  # WAD
    loan_symbol: str
    loan_decimals: int
    collateral_symbol: str
    collateral_decimals: int
    initial_price: int  # one collateral unit in loan units, scaled by 1e36
    fee: int  # WAD

    @property
    def params(self) -> tuple[str, str, str, str, int]:
        """MarketParams as Morpho takes it."""
        return (self.loan_token, self.collateral_token, self.oracle, self.irm, self.lltv)

    @property
    def label(self) -> str:
        return f"{self.collateral_symbol}/{self.loan_symbol} {self.lltv / 10**16:g}%"


@dataclass
class MorphoDeployment:
    """Where the devnet's Morpho Blue lives. ``block_number`` is the block that created Morpho.

    ``lender`` holds every market's supply (the owner supplies on its behalf: it never sends a transaction);
    ``liquidator`` holds loan tokens with Morpho approved (see :func:`liquidation_succeeds`);
    ``fee_recipient`` collects the fee shares of the markets that charge a fee.
    """

    rpc_url: str
    chain_id: int
    morpho: str
    irm: str
    owner: str
    fee_recipient: str
    lender: str
    liquidator: str
    block_number: int
    tokens: dict[str, str]  # symbol -> address
    markets: list[MorphoMarket]

    def market(self, market_id: str) -> MorphoMarket:
        for m in self.markets:
            if m.id == market_id.lower():
                return m
        raise KeyError(f"no market {market_id} in this deployment")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MorphoDeployment:
        fields = dict(data)
        fields["markets"] = [MorphoMarket(**m) for m in data["markets"]]
        fields["tokens"] = dict(data["tokens"])
        return cls(**fields)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> MorphoDeployment:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(frozen=True)
class MarketState:
    """Morpho's ``market(id)``."""

    total_supply_assets: int
    total_supply_shares: int
    total_borrow_assets: int
    total_borrow_shares: int
    last_update: int
    fee: int

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        """The Market struct, as an IRM's borrowRateView takes it."""
        return (
            self.total_supply_assets, self.total_supply_shares, self.total_borrow_assets,
            self.total_borrow_shares, self.last_update, self.fee,
        )  # fmt: skip


@dataclass(frozen=True)
class PositionState:
    """Morpho's ``position(id, user)``."""

    supply_shares: int
    borrow_shares: int
    collateral: int


KINDS = ("near_max", "moderate", "low", "collateral_only", "repaid")
# every market gets its positions' kinds in this order
_KIND_CYCLE = (
    "near_max", "moderate", "low", "near_max", "collateral_only", "moderate", "repaid", "low", "near_max",
    "moderate",
)  # fmt: skip
# fraction of maxBorrow each borrowing kind takes
_BORROW_FRACTION = {"near_max": (0.985, 0.998), "moderate": (0.5, 0.85), "low": (0.05, 0.3), "repaid": (0.2, 0.9)}


@dataclass(frozen=True)
class MorphoSeeded:
    """A seeded position. ``borrowed`` is what was borrowed (for ``repaid``: before repaying it all)."""

    account: str
    market_id: str
    kind: str
    collateral: int
    borrowed: int


# --- compiling


def _sources() -> dict[str, str]:
    src = toolchain.package_dir(MORPHO_PACKAGE) / "src"
    sources = {f"src/{p.relative_to(src).as_posix()}": p.read_text() for p in sorted(src.rglob("*.sol"))}
    return sources


@functools.cache
def compile_morpho_blue() -> dict[str, CompiledContract]:
    """Morpho, IrmMock and OracleMock (by name, among others); compiled once per set of inputs."""
    contracts = compile_sources(
        _sources(), solc_dir=toolchain.package_dir(SOLC_PACKAGE), settings=SETTINGS, cache_name="morpho-blue"
    )
    for name in _DEPLOYED:
        if len(contracts[name].bytecode) <= 2:
            raise DevnetError(f"solc produced no bytecode for {name}")
    return contracts


# --- addresses and encodings


def market_id(params: tuple[str, str, str, str, int]) -> str:
    """MarketParamsLib.id: keccak256 of the ABI-encoded MarketParams, as a 0x-prefixed hex string."""
    return "0x" + keccak(abi_encode(["address", "address", "address", "address", "uint256"], list(params))).hex()



def borrower_address(seed: int, index: int) -> str:
    """Seeded borrower ``index`` of ``seed``: a keyless address, used through auto-impersonation."""
    return keyless_address("morpho-blue", f"borrower/{seed}/{index}")


def _id_bytes(mid: str) -> bytes:
    return bytes.fromhex(mid.removeprefix("0x"))



def _initial_price(spec: _MarketSpec) -> int:
    """One collateral unit in loan units, scaled by 1e36 (so 10^(36 + loan decimals - collateral decimals) = 1:1)."""
    collateral, loan = _TOKEN[spec.collateral], _TOKEN[spec.loan]
    scale = Fraction(10) ** (36 + loan.decimals - collateral.decimals)
    return int(collateral.usd / loan.usd * scale)


def _usd_to_units(symbol: str, usd: Fraction | int, decimals: int) -> int:
    token_usd = _TOKEN[symbol].usd if symbol in _TOKEN else Fraction(1)
    return int(Fraction(usd) * 10**decimals / token_usd)


# --- deployment


def deploy_morpho_blue(rpc_url: str) -> MorphoDeployment:
    """Deploys Morpho Blue with an IrmMock and the :data:`MARKETS` on the node at ``rpc_url``.

    Owner (and deployer) is the node's first dev account. Each market gets its own OracleMock; the
    lender supplies about $1M of loan tokens to each; the liquidator gets loan tokens and approves Morpho.
    """
    rpc = JsonRpcClient(rpc_url)
    code = compile_morpho_blue()
    chain_id_hex = rpc.call("eth_chainId")
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    fee_recipient, lender, liquidator = (keyless_address("morpho-blue", label)
                                         for label in ("fee-recipient", "lender", "liquidator"))

    morpho = plan.create("Morpho", code["Morpho"].bytecode, ("address",), (deployer,))
    irm = plan.create("IrmMock", code["IrmMock"].bytecode)
    tokens = {
        t.symbol: plan.create(
            f"DevToken {t.symbol}", compile_dev_contracts()["DevToken"].bytecode, ("string", "string", "uint8"),
            (t.name, t.symbol, t.decimals),
        )
        for t in TOKENS
    }  # fmt: skip
    plan.call("Morpho.enableIrm", morpho, "enableIrm(address)", irm)
    for lltv in sorted({spec.lltv for spec in MARKETS}):
        plan.call(f"Morpho.enableLltv {lltv}", morpho, "enableLltv(uint256)", lltv)
    plan.call("Morpho.setFeeRecipient", morpho, "setFeeRecipient(address)", fee_recipient)
    for symbol, token in tokens.items():
        plan.call(f"{symbol}.approve Morpho", token, "approve(address,uint256)", morpho, UINT256_MAX)

    markets: list[MorphoMarket] = []
    for spec in MARKETS:
        loan, collateral = _TOKEN[spec.loan], _TOKEN[spec.collateral]
        name = f"{spec.collateral}/{spec.loan}"
        oracle = plan.create(f"OracleMock {name}", code["OracleMock"].bytecode)
        price = _initial_price(spec)
        plan.call(f"OracleMock.setPrice {name}", oracle, "setPrice(uint256)", price)
        params = (tokens[spec.loan], tokens[spec.collateral], oracle, irm, spec.lltv)
        plan.call(f"Morpho.createMarket {name}", morpho, f"createMarket({MARKET_PARAMS})", params)
        if spec.fee:
            plan.call(f"Morpho.setFee {name}", morpho, f"setFee({MARKET_PARAMS},uint256)", params, spec.fee)
        liquidity = _usd_to_units(spec.loan, INITIAL_LIQUIDITY_USD, loan.decimals)
        plan.call(f"{spec.loan}.mint for {name}", tokens[spec.loan], "mint(address,uint256)", deployer, liquidity)
        plan.call(
            f"Morpho.supply {name} for the lender", morpho, f"supply({MARKET_PARAMS},uint256,uint256,address,bytes)",
            params, liquidity, 0, lender, b"",
        )  # fmt: skip
        markets.append(MorphoMarket(
            id=market_id(params), loan_token=tokens[spec.loan], collateral_token=tokens[spec.collateral],
            oracle=oracle, irm=irm, lltv=spec.lltv, loan_symbol=loan.symbol, loan_decimals=loan.decimals,
            collateral_symbol=collateral.symbol, collateral_decimals=collateral.decimals, initial_price=price,
            fee=spec.fee,
        ))  # fmt: skip
    for symbol in sorted({spec.loan for spec in MARKETS}):
        amount = _usd_to_units(symbol, LIQUIDATOR_FUNDING_USD, _TOKEN[symbol].decimals)
        plan.call(f"{symbol}.mint for the liquidator", tokens[symbol], "mint(address,uint256)", liquidator, amount)

    rpc.batch([("anvil_setBalance", [liquidator, ETH_FUNDING]), ("anvil_impersonateAccount", [liquidator])])
    liquidator_nonce = int(rpc.call("eth_getTransactionCount", [liquidator, "pending"]), 16)
    approvals = [
        Tx(f"{symbol}.approve Morpho by the liquidator", liquidator, tokens[symbol],
           encode_call("approve(address,uint256)", morpho, UINT256_MAX), CALL_GAS, liquidator_nonce + i, 0,
           (tokens[symbol], APPROVAL))
        for i, symbol in enumerate(sorted({spec.loan for spec in MARKETS}))
    ]  # fmt: skip
    with automine_paused(rpc):
        hashes = send_and_mine(rpc, plan.txs, "deploy Morpho Blue")
        send_and_mine(rpc, approvals, "fund the Morpho Blue liquidator")
    block_number = int(rpc.call("eth_getTransactionReceipt", [hashes[0]])["blockNumber"], 16)

    deployment = MorphoDeployment(
        rpc_url=rpc_url, chain_id=int(chain_id_hex, 16), morpho=morpho, irm=irm, owner=deployer,
        fee_recipient=fee_recipient, lender=lender, liquidator=liquidator, block_number=block_number,
        tokens=tokens, markets=markets,
    )  # fmt: skip
    _check(rpc, deployment)
    log.info("Morpho Blue devnet deployed at block %d (Morpho %s, %d markets)", block_number, morpho, len(markets))
    return deployment


def _check(rpc: JsonRpcClient, d: MorphoDeployment) -> None:
    """Confirms the predicted ids: Morpho knows each market under the id computed here."""
    raws = rpc.batch(eth_call(d.morpho, encode_call("idToMarketParams(bytes32)", _id_bytes(m.id))) for m in d.markets)
    for m, raw in zip(d.markets, raws, strict=True):
        loan, collateral, oracle, irm, lltv = decode(["address", "address", "address", "address", "uint256"], raw)
        got = (to_checksum_address(loan), to_checksum_address(collateral), to_checksum_address(oracle),
               to_checksum_address(irm), int(lltv))  # fmt: skip
        if got != m.params:
            raise DevnetError(f"Morpho has {got} under market id {m.id}, expected {m.params}")


# --- reads



def read_markets(
    rpc_url: str, deployment: MorphoDeployment, market_ids: Sequence[str], *, block: int | str = "latest"
) -> list[MarketState]:
    raws = JsonRpcClient(rpc_url).batch(
        eth_call(deployment.morpho, encode_call("market(bytes32)", _id_bytes(mid)), block) for mid in market_ids
    )
    return [MarketState(*(int(v) for v in decode(["uint128"] * 6, raw))) for raw in raws]


def read_market(
    rpc_url: str, deployment: MorphoDeployment, market_id: str, *, block: int | str = "latest"
) -> MarketState:
    return read_markets(rpc_url, deployment, [market_id], block=block)[0]


def read_positions(
    rpc_url: str, deployment: MorphoDeployment, keys: Sequence[tuple[str, str]], *, block: int | str = "latest"
) -> list[PositionState]:
    """Positions by (market id, account), in one batch."""
    raws = JsonRpcClient(rpc_url).batch(
        eth_call(deployment.morpho, encode_call("position(bytes32,address)", _id_bytes(mid), account), block)
        for mid, account in keys
    )
    return [PositionState(*(int(v) for v in decode(["uint256", "uint128", "uint128"], raw))) for raw in raws]


def read_position(
    rpc_url: str, deployment: MorphoDeployment, market_id: str, account: str, *, block: int | str = "latest"
) -> PositionState:
    return read_positions(rpc_url, deployment, [(market_id, account)], block=block)[0]


def read_prices(
    rpc_url: str, deployment: MorphoDeployment, market_ids: Sequence[str], *, block: int | str = "latest"
) -> list[int]:
    """The markets' oracle prices (``IOracle.price()``)."""
    raws = JsonRpcClient(rpc_url).batch(
        eth_call(deployment.market(mid).oracle, encode_call("price()"), block) for mid in market_ids
    )
    return [int(decode(["uint256"], raw)[0]) for raw in raws]


def read_borrow_rate(rpc_url: str, deployment: MorphoDeployment, market_id: str, *, block: int | str = "latest") -> int:
    """The IRM's ``borrowRateView(marketParams, market)`` for the market as stored at ``block`` (WAD per second)."""
    m = deployment.market(market_id)
    state = read_market(rpc_url, deployment, market_id, block=block)
    data = encode_call(f"borrowRateView({MARKET_PARAMS},{MARKET})", m.params, state.as_tuple())
    raw = JsonRpcClient(rpc_url).call(*eth_call(m.irm, data, block))
    return int(decode(["uint256"], raw)[0])


def read_debts(
    rpc_url: str, deployment: MorphoDeployment, keys: Sequence[tuple[str, str]], *, block: int | str = "latest"
) -> list[int]:
    """What Morpho itself says each (market id, account) owes: the assets ``repay`` would take for all its borrow
    shares, by an eth_call from the liquidator (Morpho lets anyone repay on anyone's behalf), so interest up to
    ``block``'s timestamp is accrued inside the call. 0 for a position without borrow shares.
    """
    positions = read_positions(rpc_url, deployment, keys, block=block)
    indebted = [(i, key, pos.borrow_shares) for i, (key, pos) in enumerate(zip(keys, positions, strict=True))
                if pos.borrow_shares]  # fmt: skip
    calls = [
        eth_call(deployment.morpho,
                  encode_call(f"repay({MARKET_PARAMS},uint256,uint256,address,bytes)", deployment.market(mid).params,
                              0, shares, account, b""), block, sender=deployment.liquidator)
        for _, (mid, account), shares in indebted
    ]  # fmt: skip
    debts = [0] * len(keys)
    for (i, _, _), raw in zip(indebted, JsonRpcClient(rpc_url).batch(calls), strict=True):
        debts[i] = int(decode(["uint256", "uint256"], raw)[0])
    return debts


# --- chain control


def set_oracle_price(
    rpc_url: str, deployment: MorphoDeployment, market_id: str, price: int, *, mine: bool = True
) -> None:
    """Sets the market's OracleMock price (1e36 scale).

    ``mine=True`` sends ``setPrice`` in a block of its own (the clock moves on, so interest accrues until
    the next interaction). ``mine=False`` writes the oracle's storage instead: no block, no time passes,
    which is what a test comparing against a fixed accrued state wants.
    """
    oracle = deployment.market(market_id).oracle
    rpc = JsonRpcClient(rpc_url)
    if not mine:
        rpc.call("anvil_setStorageAt", [oracle, "0x0", "0x" + f"{price:064x}"])  # OracleMock.price is slot 0
        return
    tx = Tx(f"OracleMock.setPrice {market_id}", deployment.owner, oracle, encode_call("setPrice(uint256)", price),
            CALL_GAS, int(rpc.call("eth_getTransactionCount", [deployment.owner, "pending"]), 16))  # fmt: skip
    with automine_paused(rpc):
        send_and_mine(rpc, [tx], "set the Morpho oracle price")


def accrue_interest(rpc_url: str, deployment: MorphoDeployment, market_id: str | None = None) -> int:
    """Calls ``Morpho.accrueInterest`` for one market, or for every market when ``market_id`` is None, all in one
    block; returns that block's number."""
    rpc = JsonRpcClient(rpc_url)
    markets = deployment.markets if market_id is None else [deployment.market(market_id)]
    nonce = int(rpc.call("eth_getTransactionCount", [deployment.owner, "pending"]), 16)
    txs = [
        Tx(f"Morpho.accrueInterest {m.label}", deployment.owner, deployment.morpho,
           encode_call(f"accrueInterest({MARKET_PARAMS})", m.params), CALL_GAS, nonce + i)
        for i, m in enumerate(markets)
    ]  # fmt: skip
    with automine_paused(rpc):
        hashes = send_and_mine(rpc, txs, "accrue Morpho interest")
    receipts = rpc.batch(("eth_getTransactionReceipt", [h]) for h in hashes)
    blocks = {int(r["blockNumber"], 16) for r in receipts}
    if len(blocks) != 1:
        raise DevnetError(f"accrueInterest calls landed in blocks {sorted(blocks)}, not in one")
    return blocks.pop()


HEALTHY_POSITION = "position is healthy"


def liquidation_succeeds(
    rpc_url: str, deployment: MorphoDeployment, market_id: str, borrower: str, *, block: int | str = "latest"
) -> bool:
    """Whether Morpho would let the liquidator liquidate ``borrower`` now, by an eth_call of
    ``liquidate(marketParams, borrower, 0, 1, "")`` (repay one borrow share) from the funded liquidator.

    False when Morpho reverts "position is healthy"; any other revert raises :class:`DevnetError` (a position
    without debt is healthy to Morpho, so it answers False). eth_call runs at the state of ``block`` and, on
    anvil, with that block's timestamp: interest accrues inside the call only for time the stored market has
    not yet accrued. Repaying one share seizes ``floor(assets(1 share) * LIF / price)`` collateral, usually 0,
    and divides by the price: at price 0 the call panics (raised here) even though the position is unhealthy.
    """
    m = deployment.market(market_id)
    data = encode_call(f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)", m.params, borrower, 0, 1, b"")
    try:
        JsonRpcClient(rpc_url).call(*eth_call(deployment.morpho, data, block, sender=deployment.liquidator))
    except DevnetRpcError as exc:
        if HEALTHY_POSITION in exc.rpc_message or HEALTHY_POSITION in revert_reason(exc.data):
            return False
        raise DevnetError(f"liquidate({borrower}) on {m.label} reverted for another reason: {exc}") from exc
    return True



# --- seeding


def plan_morpho_positions(
    deployment: MorphoDeployment, n: int, *, seed: int = 0, prices: dict[str, int] | None = None
) -> list[MorphoSeeded]:
    """The positions :func:`seed_morpho_positions` would open, without touching the chain.

    Position ``i`` goes to market ``i mod len(markets)``; within a market, kinds follow a fixed cycle.
    Collateral is log-uniform between $100 and $2M of loan value, except one in ten positions that is dust
    (1,000 to 1,000,000 loan units). ``prices`` (market id -> oracle price) default to the initial ones.
    """
    planned: list[MorphoSeeded] = []
    for index in range(n):
        m = deployment.markets[index % len(deployment.markets)]
        kind = _KIND_CYCLE[(index // len(deployment.markets)) % len(_KIND_CYCLE)]
        rng = random.Random(f"indexer-devnet/morpho-blue/{seed}/{index}")
        price = (prices or {}).get(m.id, m.initial_price)
        if rng.random() < 0.1:
            value = rng.randint(1_000, 1_000_000)
        else:
            usd = Fraction(math.exp(rng.uniform(math.log(100), math.log(2_000_000)))).limit_denominator(100)
            value = _usd_to_units(m.loan_symbol, usd, m.loan_decimals)
        collateral = max(value * rules.ORACLE_PRICE_SCALE // price, 1)
        borrowed = 0
        if kind in _BORROW_FRACTION:
            cap = rules.max_borrow(collateral, price, m.lltv)
            low, high = _BORROW_FRACTION[kind]
            borrowed = min(int(cap * rng.uniform(low, high)), cap - BORROW_MARGIN)
            if borrowed <= 0:
                raise DevnetError(f"position {index}: collateral {collateral} on {m.label} is too small to borrow")
        planned.append(MorphoSeeded(borrower_address(seed, index), m.id, kind, collateral, borrowed))
    return planned


def seed_morpho_positions(rpc_url: str, deployment: MorphoDeployment, n: int, *, seed: int = 0) -> list[MorphoSeeded]:
    """Opens ``n`` deterministic positions (:func:`plan_morpho_positions` at the current oracle prices).

    Every borrower mints, approves and supplies its own collateral, then borrows; ``repaid`` ones repay
    all their borrow shares afterwards. Before anyone borrows, the lender's supply is topped up so that each
    market's utilisation lands near 60 %. Raises :class:`~indexer.devnet.errors.TransactionFailedError`
    naming the phase and step if anything fails.
    """
    rpc = JsonRpcClient(rpc_url)
    ids = [m.id for m in deployment.markets]
    prices = dict(zip(ids, read_prices(rpc_url, deployment, ids), strict=True))
    states = dict(zip(ids, read_markets(rpc_url, deployment, ids), strict=True))
    planned = plan_morpho_positions(deployment, n, seed=seed, prices=prices)
    market = {m.id: m for m in deployment.markets}
    morpho, owner = deployment.morpho, deployment.owner

    # anvil's --auto-impersonate would do, but a node started without it needs each sender impersonated
    rpc.batch(call for p in planned for call in (("anvil_setBalance", [p.account, ETH_FUNDING]),
                                                  ("anvil_impersonateAccount", [p.account])))  # fmt: skip
    nonces = NonceBook(rpc)
    nonces.prefetch([owner, *(p.account for p in planned)])

    def tx(step: str, sender: str, to: str, data: str, expect: tuple[str, str]) -> Tx:
        return Tx(step, sender, to, data, CALL_GAS, nonces.take(sender), 0, expect)

    def supply_call(mid: str, assets: int, on_behalf: str) -> str:
        return encode_call(f"supply({MARKET_PARAMS},uint256,uint256,address,bytes)", market[mid].params, assets, 0,
                           on_behalf, b"")  # fmt: skip

    fund: list[Tx] = []
    for mid, state in states.items():
        borrows = sum(p.borrowed for p in planned if p.market_id == mid)
        wanted = math.ceil((state.total_borrow_assets + borrows) / TARGET_UTILIZATION)
        top_up = wanted - state.total_supply_assets
        if borrows and top_up > 0:
            loan = market[mid].loan_token
            fund.append(tx(f"mint {top_up} for the lender on {mid}", owner, loan,
                           encode_call("mint(address,uint256)", owner, top_up), (loan, TRANSFER)))  # fmt: skip
            fund.append(tx(f"supply {top_up} for the lender on {mid}", owner, morpho,
                           supply_call(mid, top_up, deployment.lender), (morpho, SUPPLY)))  # fmt: skip
    for p in planned:
        m = market[p.market_id]
        who = f"by {p.account} on {m.label}"
        fund += [
            tx(f"mint collateral {who}", p.account, m.collateral_token,
               encode_call("mint(address,uint256)", p.account, p.collateral), (m.collateral_token, TRANSFER)),
            tx(f"approve collateral {who}", p.account, m.collateral_token,
               encode_call("approve(address,uint256)", morpho, UINT256_MAX), (m.collateral_token, APPROVAL)),
            tx(f"supplyCollateral {who}", p.account, morpho,
               encode_call(f"supplyCollateral({MARKET_PARAMS},uint256,address,bytes)", m.params, p.collateral,
                           p.account, b""), (morpho, SUPPLY_COLLATERAL)),
        ]  # fmt: skip
        if p.kind == "repaid":  # the interest accrued between borrow and repay, and a rounding unit, on top
            extra = p.borrowed // 1_000 + 1_000
            fund += [
                tx(f"mint repayment margin {who}", p.account, m.loan_token,
                   encode_call("mint(address,uint256)", p.account, extra), (m.loan_token, TRANSFER)),
                tx(f"approve loan token {who}", p.account, m.loan_token,
                   encode_call("approve(address,uint256)", morpho, UINT256_MAX), (m.loan_token, APPROVAL)),
            ]  # fmt: skip
    borrow = [
        tx(f"borrow {p.borrowed} by {p.account} on {market[p.market_id].label}", p.account, morpho,
           encode_call(f"borrow({MARKET_PARAMS},uint256,uint256,address,address)", market[p.market_id].params,
                       p.borrowed, 0, p.account, p.account), (morpho, BORROW))
        for p in planned if p.borrowed
    ]  # fmt: skip
    repaying = [p for p in planned if p.kind == "repaid"]
    with automine_paused(rpc):
        send_and_mine(rpc, fund, "seed Morpho collateral")
        send_and_mine(rpc, borrow, "seed Morpho borrows")
        shares = read_positions(rpc_url, deployment, [(p.market_id, p.account) for p in repaying])
        repay = [
            tx(f"repay all by {p.account} on {market[p.market_id].label}", p.account, morpho,
               encode_call(f"repay({MARKET_PARAMS},uint256,uint256,address,bytes)", market[p.market_id].params, 0,
                           s.borrow_shares, p.account, b""), (morpho, REPAY))
            for p, s in zip(repaying, shares, strict=True)
        ]  # fmt: skip
        send_and_mine(rpc, repay, "seed Morpho repayments")
    log.info("seeded %d Morpho Blue positions (%d transactions)", n, len(fund) + len(borrow) + len(repay))
    return planned


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Morpho Blue with its markets, as a record for the devnet deployment file: ``contracts`` names Morpho
    (``Morpho``) and each market's id and oracle (``MorphoMarket.WETH/USDC``, ``MorphoOracle.WETH/USDC``), so a
    config can say ``address = "devnet:Morpho"`` and ``options = { market_id = "devnet:MorphoMarket.WETH/USDC" }``."""
    deployment = deploy_morpho_blue(rpc_url)
    contracts = {"Morpho": deployment.morpho, "MorphoIrm": deployment.irm}
    for m in deployment.markets:
        contracts[f"MorphoMarket.{m.collateral_symbol}/{m.loan_symbol}"] = m.id
        contracts[f"MorphoOracle.{m.collateral_symbol}/{m.loan_symbol}"] = m.oracle
    return {**deployment.to_dict(), "contracts": contracts}


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    morpho = MorphoDeployment.from_dict(
        {k: v for k, v in deployment.protocols["morpho_blue"].items() if k != "contracts"}
    )
    return [(s.account, s.kind) for s in seed_morpho_positions(rpc_url, morpho, count)]
