"""Bulk transactions on anvil: send many as JSON-RPC batches, mine them, confirm every one succeeded.

With automine on, anvil mines a block per transaction, which is what makes naive seeding slow. Here
automine is switched off, transactions go out in batches (explicit nonce, gas and a zero gas price, so
the node estimates nothing), blocks are mined until the pool is empty, and each transaction's success is
confirmed. Transactions of one sender keep their nonce order; across senders the caller must not depend
on order within one call, which is why seeding is split into phases.

Three anvil costs shape this (measured on anvil 1.7):

* adding a transaction to the pool costs time proportional to what is already pending, so a batch is
  sent and mined ``block_size`` transactions at a time, never all at once;
* every mined block costs time proportional to the whole state (anvil rebuilds its state root), so
  blocks are kept large rather than many;
* a receipt costs time proportional to the length of its block, so a full block of receipts is
  quadratic. A transaction that declares the event it must emit (``Tx.expect``) is therefore confirmed
  by one ``eth_getLogs`` over the mined blocks (a reverted transaction has no logs); receipts are
  fetched only for transactions that declare nothing or whose event is missing, and their ``status``
  decides.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.devnet import toolchain
from indexer.devnet.errors import DevnetError, DevnetRpcError, TransactionFailedError
from indexer.devnet.jsonrpc import JsonRpcClient

log = logging.getLogger(__name__)

MAX_EMPTY_MINES = 3
# transactions per mined block; see send_and_mine
BLOCK_SIZE = 1_500


@dataclass(frozen=True, slots=True)
class Tx:
    """One transaction to send; ``step`` names it in error messages."""

    step: str
    sender: str
    to: str | None
    data: str
    gas: int
    nonce: int
    value: int = 0
    expect: tuple[str, str] | None = None  # (emitting contract, topic0) of an event success must emit

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {
            "from": self.sender,
            "data": self.data,
            "gas": hex(self.gas),
            "gasPrice": "0x0",
            "nonce": hex(self.nonce),
        }
        if self.to is not None:
            p["to"] = self.to
        if self.value:
            p["value"] = hex(self.value)
        return p


class NonceBook:
    """Hands out consecutive nonces per sender, starting from the chain's pending count."""

    def __init__(self, rpc: JsonRpcClient) -> None:
        self._rpc = rpc
        self._next: dict[str, int] = {}

    def prefetch(self, senders: Sequence[str]) -> None:
        """One batch of eth_getTransactionCount for senders not seen yet."""
        unknown = [s for s in dict.fromkeys(senders) if s.lower() not in self._next]
        counts = self._rpc.batch(("eth_getTransactionCount", [s, "pending"]) for s in unknown)
        for sender, count in zip(unknown, counts, strict=True):
            self._next[sender.lower()] = int(count, 16)

    def take(self, sender: str) -> int:
        key = sender.lower()
        if key not in self._next:
            self.prefetch([sender])
        nonce = self._next[key]
        self._next[key] = nonce + 1
        return nonce


@contextlib.contextmanager
def automine_paused(rpc: JsonRpcClient) -> Iterator[None]:
    """Switches anvil's automine off inside the block and restores what it was (also on error)."""
    was_on = bool(rpc.call("anvil_getAutomine"))
    rpc.call("evm_setAutomine", [False])
    try:
        yield
    finally:
        if was_on:
            rpc.call("evm_setAutomine", [True])


def transact(rpc: JsonRpcClient, step: str, sender: str, to: str | None, data: str, gas: int = 1_000_000) -> str:
    """One transaction, mined and confirmed by its receipt whatever the node's automine setting; returns its hash."""
    nonce = int(rpc.call("eth_getTransactionCount", [sender, "pending"]), 16)
    with automine_paused(rpc):
        (tx_hash,) = send_and_mine(rpc, [Tx(step, sender, to, data, gas, nonce)], step)
    return tx_hash


def mine_until_empty(rpc: JsonRpcClient) -> tuple[int, int]:
    """Mines blocks until no transaction is pending; returns (first, last) block mined (first > last: none)."""
    mined = 0
    stuck = 0
    last_pending = None
    while True:
        status, head = rpc.batch([("txpool_status", []), ("eth_blockNumber", [])])
        pending, queued = int(status["pending"], 16), int(status["queued"], 16)
        if pending == 0:
            if queued:
                raise DevnetError(f"{queued} transactions stuck in the queue (nonce gap) after mining")
            head = int(head, 16)
            return head - mined + 1, head
        if pending == last_pending:
            stuck += 1
            if stuck >= MAX_EMPTY_MINES:
                raise DevnetError(f"{pending} transactions stay pending however many blocks are mined")
        else:
            stuck = 0
        last_pending = pending
        rpc.call("evm_mine")
        mined += 1


def send_and_mine(rpc: JsonRpcClient, txs: Sequence[Tx], phase: str, *, block_size: int = BLOCK_SIZE) -> list[str]:
    """Sends ``txs`` (automine must be off) ``block_size`` at a time, mines each lot, and confirms them.

    Returns the transaction hashes. Raises :class:`TransactionFailedError` naming ``phase`` and the step
    of the first transaction that was rejected or reverted, with the revert reason when an eth_call
    replay gives one.
    """
    hashes: list[str] = []
    for start in range(0, len(txs), block_size):
        hashes += _send_chunk(rpc, txs[start : start + block_size], phase, len(txs))
    log.debug("%s: %d transactions mined", phase, len(txs))
    return hashes


def mine_txs(rpc: JsonRpcClient, txs: Sequence[Tx], phase: str) -> int:
    """``send_and_mine`` with automine paused around it (and restored); returns the head block after them."""
    if txs:
        with automine_paused(rpc):
            send_and_mine(rpc, txs, phase)
    return int(rpc.call("eth_blockNumber"), 16)


def _send_chunk(rpc: JsonRpcClient, txs: Sequence[Tx], phase: str, total: int) -> list[str]:
    hashes, errors = rpc.batch_raw(("eth_sendTransaction", [tx.params()]) for tx in txs)
    rejected = [(tx, err) for tx, err in zip(txs, errors, strict=True) if err is not None]
    if rejected:
        tx, err = rejected[0]
        mine_until_empty(rpc)  # what was accepted must not leak into the caller's next phase
        raise TransactionFailedError(
            f"{phase}: node rejected {len(rejected)} of {total} transactions; first: {tx.step}: {err}"
        )
    first, last = mine_until_empty(rpc)
    unconfirmed = _unconfirmed_by_logs(rpc, txs, hashes, first, last)
    if unconfirmed:
        receipts = rpc.batch(("eth_getTransactionReceipt", [hashes[i]]) for i in unconfirmed)
        failed = [(txs[i], rc) for i, rc in zip(unconfirmed, receipts, strict=True) if not _succeeded(rc)]
        if failed:
            tx, receipt = failed[0]
            state = "was not mined" if receipt is None else f"reverted (tx {receipt['transactionHash']})"
            raise TransactionFailedError(
                f"{phase}: {len(failed)} transactions failed; first: {tx.step} {state}{_replay_reason(rpc, tx)}"
            )
    return hashes


def _succeeded(receipt: dict[str, Any] | None) -> bool:
    return receipt is not None and int(receipt["status"], 16) == 1


def _unconfirmed_by_logs(
    rpc: JsonRpcClient, txs: Sequence[Tx], hashes: Sequence[str], first: int, last: int
) -> list[int]:
    """Positions of transactions whose expected event is missing from blocks first..last, or that expect none."""
    expecting = [tx.expect for tx in txs if tx.expect is not None]
    seen: set[tuple[str, str, str]] = set()
    if expecting and first <= last:
        log_filter = {
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "address": sorted({emitter for emitter, _ in expecting}),
            "topics": [sorted({topic for _, topic in expecting})],
        }
        for entry in rpc.call("eth_getLogs", [log_filter]):
            seen.add((entry["transactionHash"], entry["address"].lower(), entry["topics"][0]))
    return [
        i
        for i, (tx, h) in enumerate(zip(txs, hashes, strict=True))
        if tx.expect is None or (h, tx.expect[0].lower(), tx.expect[1]) not in seen
    ]


def _replay_reason(rpc: JsonRpcClient, tx: Tx) -> str:
    """Best-effort revert reason: replays the call on the current state (which may differ a little).

    Aave reverts with numeric codes ("34"); those are translated to their names in Errors.sol.
    """
    call = {k: v for k, v in tx.params().items() if k != "nonce"}
    try:
        rpc.call("eth_call", [call, "latest"])
    except DevnetRpcError as exc:
        reason = exc.rpc_message
        code = reason.rsplit(":", 1)[-1].strip()
        name = toolchain.aave_error_name(code) if code.isdigit() else None
        if name:
            reason += f" ({name})"
        elif exc.data and reason.strip().endswith("reverted"):
            reason += f" {exc.data}"
        return f": {reason}"
    except DevnetError:
        return ""
    return " (a replay on the current state succeeds)"
