"""The devnet deployment file: one chain, the chain-level services every protocol shares, and each protocol's
own record.

``contracts`` maps a name to an address (or a Morpho market id, …) across the whole devnet, so a config can
say ``address = "devnet:Pool"``; ``reserves`` are the devnet's priced assets (each with symbol, asset,
decimals, feed — the DevFeedProxy a protocol's oracle reads —, aggregator — the DevPriceFeed behind it —
and price, 8 decimals), which ``indexer devnet price SYMBOL`` and :mod:`indexer.devnet.prices` move;
``protocols`` holds what each protocol's devnet module deployed, by source kind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from indexer.devnet.abi import create_address, encode_args, encode_call
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import Tx

DEPLOY_GAS = 15_000_000
CALL_GAS = 1_000_000


@dataclass
class Deployment:
    """Where everything on one devnet lives. Addresses are checksummed.

    ``contracts`` also holds ``Multicall3`` (the canonical address), ``Pyth`` (a DevPyth; ``pyth_price_ids``
    maps a reserve symbol to its Pyth price id there) and ``SequencerUptimeFeed`` (a DevPriceFeed reporting
    the L2 sequencer up); see :mod:`indexer.devnet.chain`.
    """

    rpc_url: str
    chain_id: int
    deployer: str
    block_number: int
    contracts: dict[str, str] = field(default_factory=dict)
    reserves: list[dict[str, Any]] = field(default_factory=list)
    pyth_price_ids: dict[str, str] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)  # each protocol's devnet record, by kind

    def reserve(self, symbol: str) -> dict[str, Any]:
        for reserve in self.reserves:
            if reserve["symbol"] == symbol:
                return reserve
        raise KeyError(f"no reserve {symbol!r} in this deployment")

    def add(self, kind: str, record: dict[str, Any]) -> None:
        """Joins a protocol's devnet record: its ``contracts`` and ``reserves`` become the devnet's."""
        self.protocols[kind] = record
        self.contracts.update(record.get("contracts", {}))
        self.reserves.extend(record.get("reserves", []))

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> Deployment:
        data = json.loads(Path(path).read_text())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class DeployPlan:
    """One deployer's transactions, each created contract's address predicted from the deployer's nonce
    (CREATE address = f(sender, nonce)), so a whole deployment goes out as one JSON-RPC batch."""

    def __init__(self, deployer: str, first_nonce: int, *, deploy_gas: int = DEPLOY_GAS,
                 call_gas: int = CALL_GAS) -> None:  # fmt: skip
        self.deployer = deployer
        self.nonce = first_nonce
        self.deploy_gas = deploy_gas
        self.call_gas = call_gas
        self.txs: list[Tx] = []

    @classmethod
    def from_node(cls, rpc: JsonRpcClient, *, deploy_gas: int = DEPLOY_GAS, call_gas: int = CALL_GAS) -> DeployPlan:
        """A plan for the node's first unlocked dev account, from its pending nonce (none: DevnetError)."""
        accounts = rpc.call("eth_accounts")
        if not accounts:
            raise DevnetError(f"the node at {rpc.url} has no unlocked dev account to deploy from")
        deployer = to_checksum_address(accounts[0])
        return cls(deployer, int(rpc.call("eth_getTransactionCount", [deployer, "pending"]), 16),
                   deploy_gas=deploy_gas, call_gas=call_gas)

    def _add(self, step: str, to: str | None, data: str, gas: int) -> None:
        self.txs.append(Tx(step, self.deployer, to, data, gas, self.nonce))
        self.nonce += 1

    def create(self, step: str, bytecode: str, types: tuple[str, ...] = (), args: tuple[Any, ...] = ()) -> str:
        address = create_address(self.deployer, self.nonce)
        self._add(f"deploy {step}", None, bytecode + encode_args(types, args), self.deploy_gas)
        return address

    def call(self, step: str, to: str, signature: str, *args: Any, gas: int | None = None) -> None:
        self._add(step, to, encode_call(signature, *args), gas or self.call_gas)

    def send(self, step: str, to: str, data: str, gas: int | None = None) -> None:
        """A call whose calldata is already encoded."""
        self._add(step, to, data, gas or self.call_gas)
