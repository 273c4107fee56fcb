"""Time travel and snapshots on the devnet node (anvil's evm_* methods)."""

from __future__ import annotations

from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient


def advance_time(rpc_url: str, seconds: int) -> int:
    """Moves the chain clock forward by ``seconds`` and mines a block; returns that block's timestamp."""
    rpc = JsonRpcClient(rpc_url)
    rpc.call("evm_increaseTime", [int(seconds)])
    rpc.call("evm_mine")
    return int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def mine(rpc_url: str, blocks: int = 1) -> int:
    """Mines ``blocks`` blocks; returns the new head number."""
    rpc = JsonRpcClient(rpc_url)
    rpc.call("anvil_mine", [hex(blocks)])
    return int(rpc.call("eth_blockNumber"), 16)


def snapshot(rpc_url: str) -> str:
    """Takes an evm snapshot of the whole chain state; pass the id to :func:`revert`."""
    return str(JsonRpcClient(rpc_url).call("evm_snapshot"))


def revert(rpc_url: str, snapshot_id: str) -> None:
    """Restores the chain to ``snapshot_id``. A snapshot can be reverted to once (anvil drops it then,
    along with every later snapshot)."""
    if not JsonRpcClient(rpc_url).call("evm_revert", [snapshot_id]):
        raise DevnetError(f"evm_revert to snapshot {snapshot_id} failed (unknown or already used id)")
