"""The naive refresh: one ``getUserAccountData`` call per account with web3.py, as most scripts do it.

A plain ``Web3(HTTPProvider)`` with its default middleware and a contract object; the provider counts
every JSON-RPC request it sends (web3.py's validation middleware adds its own ``eth_chainId`` calls).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.providers.rpc import HTTPProvider

GET_USER_ACCOUNT_DATA_ABI = [{
    "type": "function", "name": "getUserAccountData", "stateMutability": "view",
    "inputs": [{"name": "user", "type": "address"}],
    "outputs": [{"name": name, "type": "uint256"} for name in (
        "totalCollateralBase", "totalDebtBase", "availableBorrowsBase", "currentLiquidationThreshold", "ltv",
        "healthFactor")],
}]


class CountingHTTPProvider(HTTPProvider):
    """An HTTPProvider that counts the requests it sends, by method."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.by_method: Counter[str] = Counter()

    def make_request(self, method: Any, params: Any) -> Any:
        self.by_method[str(method)] += 1
        return super().make_request(method, params)


@dataclass
class NaiveRun:
    wall: float
    requests: int
    by_method: dict[str, int]
    figures: dict[str, tuple[int, ...]]  # account -> getUserAccountData


def naive_refresh(url: str, pool: str, accounts: Sequence[str], block: int) -> NaiveRun:
    provider = CountingHTTPProvider(url)
    contract = Web3(provider).eth.contract(address=Web3.to_checksum_address(pool), abi=GET_USER_ACCOUNT_DATA_ABI)
    started = time.perf_counter()
    figures = {a: tuple(contract.functions.getUserAccountData(a).call(block_identifier=block)) for a in accounts}
    wall = time.perf_counter() - started
    return NaiveRun(wall, sum(provider.by_method.values()), dict(provider.by_method), figures)
