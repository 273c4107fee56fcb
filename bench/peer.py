"""The peer baseline: what a bot or script that knows Multicall3 does — ``getUserAccountData`` for every account
batched through ``aggregate3`` (``batch_size`` calls per ``eth_call``, the batches sent together in one JSON-RPC
batch over one HTTP connection), the answers decoded with eth-abi, nothing stored, no feed checks, no alerts.

It is the best simple alternative to the indexer, not the worst: the table puts the indexer's refresh (which also
reads the feeds, judges them, runs the alert rules and stores every position) beside it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from eth_abi import decode, encode
from eth_utils import keccak

MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
_AGGREGATE3 = keccak(text="aggregate3((address,bool,bytes)[])")[:4]
_GET_USER_ACCOUNT_DATA = keccak(text="getUserAccountData(address)")[:4]


@dataclass
class PeerRun:
    wall: float
    requests: int  # eth_calls (one per batch of accounts)
    http_posts: int
    figures: dict[str, tuple[int, ...]]  # account -> getUserAccountData


async def peer_refresh(url: str, pool: str, accounts: Sequence[str], block: int, *, batch_size: int = 1000,
                       multicall: str = MULTICALL3) -> PeerRun:
    started = time.perf_counter()
    target = bytes.fromhex(pool[2:])
    batches = [accounts[i:i + batch_size] for i in range(0, len(accounts), batch_size)]
    payload = []
    for n, batch in enumerate(batches):
        calls = [(target, False, _GET_USER_ACCOUNT_DATA + encode(["address"], [a])) for a in batch]
        data = "0x" + (_AGGREGATE3 + encode(["(address,bool,bytes)[]"], [calls])).hex()
        payload.append({"jsonrpc": "2.0", "id": n, "method": "eth_call",
                        "params": [{"to": multicall, "data": data}, hex(block)]})
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
        answers = sorted(await response.json(), key=lambda a: a["id"])
    figures: dict[str, tuple[int, ...]] = {}
    for batch, answer in zip(batches, answers, strict=True):
        if "error" in answer:
            raise RuntimeError(f"aggregate3 failed: {answer['error']}")
        (results,) = decode(["(bool,bytes)[]"], bytes.fromhex(answer["result"][2:]))
        for account, (ok, data) in zip(batch, results, strict=True):
            if not ok:
                raise RuntimeError(f"getUserAccountData({account}) reverted")
            figures[account] = decode(["uint256"] * 6, data)
    return PeerRun(time.perf_counter() - started, len(payload), 1, figures)
