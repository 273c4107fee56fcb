"""The node's own limit: the indexer's JSON-RPC payloads replayed raw, nothing decoded.

The same HTTP bodies, in the same order (each Multicall3 round depends on the one before), over one
aiohttp session: what is left is the node executing the calls plus HTTP on the loopback.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

_JSON = {"Content-Type": "application/json"}


def bodies_of(payloads: Sequence[list[dict[str, Any]]]) -> list[bytes]:
    """HTTP bodies exactly as the indexer's RpcClient serialises them (a batch of one is sent bare)."""
    return [json.dumps(p if len(p) > 1 else p[0], separators=(",", ":")).encode() for p in payloads]


@dataclass
class FloorRun:
    wall: float
    requests: int
    http_posts: int
    response_bytes: int


async def replay(url: str, payloads: Sequence[list[dict[str, Any]]]) -> FloorRun:
    bodies = bodies_of(payloads)
    answers: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for body in bodies:
            async with session.post(url, data=io.BytesIO(body), headers=_JSON) as response:
                answers.append(await response.read())
                if response.status != 200:
                    raise RuntimeError(f"replay: HTTP {response.status} from {url}")
        wall = time.perf_counter() - started
    for answer in answers:  # checked after the clock stopped: the floor does no decoding
        if b'"error"' in answer:
            raise RuntimeError(f"replay: the node answered with an error: {answer[:300]!r}")
    return FloorRun(wall, sum(len(p) for p in payloads), len(payloads), sum(len(a) for a in answers))
