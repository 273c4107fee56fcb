"""Borrower discovery on the devnet: real anvil, real Aave v3 Pool events, SQLite and Postgres.

Some tests put a small JSON-RPC proxy on loopback in front of anvil: it records every eth_getLogs range
it serves and can refuse ranges wider than N blocks the way hosted providers do.
"""

import json
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from indexer.chain.logs import SpanPolicy
from indexer.chain.rpc import RpcClient
from indexer.devnet import mine
from indexer.devnet.abi import encode_words
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.discovery import discover, watched_accounts
from indexer.errors import RpcResponseError
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.aave_v3.devnet.seed import liquidity_provider_address
from indexer.protocols.base import MarketRef
from indexer.settings import load_settings
from indexer.store.chain_store import checkpoint, discovered_accounts
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy, error

CHAIN = "devnet"
MARKET = "devnet-aave-v3"
IPOOL_ABI = (Path(__file__).resolve().parents[2] / "node_modules/@aave/core-v3/artifacts/contracts/interfaces"
             "/IPool.sol/IPool.json")


class GetLogsProxy(JsonRpcProxy):
    """Records each eth_getLogs range served, refuses ranges wider than ``max_blocks`` with a provider-style
    error, and after ``fail_after`` served ranges answers eth_getLogs with an unrelated error (a provider
    falling over mid-scan)."""

    def __init__(self, upstream: str, *, max_blocks: int | None = None) -> None:
        super().__init__(upstream)
        self.max_blocks = max_blocks
        self.fail_after: int | None = None
        self.served: list[tuple[int, int]] = []
        self.refused: list[tuple[int, int]] = []

    async def answer(self, item: dict) -> dict | None:
        if item["method"] != "eth_getLogs":
            return None
        query = item["params"][0]
        first, last = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        if self.fail_after is not None and len(self.served) >= self.fail_after:
            return error(item, -32000, "backend gone")
        if self.max_blocks is not None and last - first + 1 > self.max_blocks:
            self.refused.append((first, last))
            return error(item, -32602, f"block range is too wide: at most {self.max_blocks} blocks per "
                                       "eth_getLogs request")
        self.served.append((first, last))
        return None


@pytest.fixture
async def proxy(devnet):
    got = GetLogsProxy(devnet.url)
    await got.start()
    try:
        yield got
    finally:
        await got.stop()


@pytest.fixture
def settings(write_devnet_config):
    return load_settings(write_devnet_config(tail="discover = true\n"))


def expected_accounts(devnet) -> set[str]:
    """Every seeded account holds a position (supply-only ones too), and so does the liquidity provider."""
    seeded = {a.address for a in devnet.accounts if a.supplies or a.borrows}
    assert len(seeded) == len(devnet.accounts)
    return seeded | {liquidity_provider_address(0)}


def head_of(devnet) -> int:
    return int(JsonRpcClient(devnet.url).call("eth_blockNumber"), 16)


def assert_each_block_once(ranges: list[tuple[int, int]], first: int, last: int) -> None:
    blocks = sorted(b for lo, hi in ranges for b in range(lo, hi + 1))
    assert blocks == list(range(first, last + 1))


def test_account_topics_match_the_pool_abi():
    """The account is the `onBehalfOf` indexed parameter where there is one, else `user`."""
    events = [e for e in json.loads(IPOOL_ABI.read_text())["abi"] if e["type"] == "event"]
    by_topic = {"0x" + keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})").hex(): e
                for e in events}
    for topic0, position in AaveV3Adapter(MarketRef("m", "c", "0x" + "00" * 20)).discovery().account_topic.items():
        indexed = [i["name"] for i in by_topic[topic0]["inputs"] if i["indexed"]]
        owner = "onBehalfOf" if "onBehalfOf" in indexed else "user"
        assert indexed.index(owner) + 1 == position, by_topic[topic0]["name"]
    assert len(AaveV3Adapter(MarketRef("m", "c", "0x" + "00" * 20)).discovery().account_topic) == 7


async def test_discovers_every_seeded_account_then_only_new_blocks(chain_state, settings, engine):
    devnet = chain_state
    head = head_of(devnet)
    async with RpcClient([devnet.url]) as rpc:
        result = await discover(settings, engine, chain=CHAIN, head=head, rpc=rpc)
        assert set(discovered_accounts(engine, chain=CHAIN, market=MARKET)) == expected_accounts(devnet)
        assert (result.new_accounts, result.scanned_from, result.scanned_to) == (61, 0, head)
        # eth_blockNumber and getPool() in one batch, then one eth_getLogs for the whole devnet
        assert result.requests == 3 and rpc.stats.by_method["eth_getLogs"] == 1
        assert checkpoint(engine, chain=CHAIN, name=f"discovery:{MARKET}") == head

        again = await discover(settings, engine, chain=CHAIN, head=head, rpc=rpc)
        assert (again.new_accounts, again.scanned_from, again.requests) == (0, None, 0)

        # someone supplies on behalf of a fresh address and repays a seeded borrower's debt: the fresh
        # address and the borrower are the accounts, the sender is neither
        node = JsonRpcClient(devnet.url)
        sender = to_checksum_address(keccak(text="test-discovery/sender")[12:])
        beneficiary = to_checksum_address(keccak(text="test-discovery/beneficiary")[12:])
        borrower = next(a for a in devnet.accounts if a.borrows)
        symbol, units = next(iter(borrower.borrows.items()))
        asset, pool = devnet.deployment.reserve(symbol)["asset"], devnet.deployment.contracts["Pool"]
        node.call("anvil_setBalance", [sender, hex(10**20)])
        transact(node, "mint", sender, asset, encode_words("mint(uint256)", 2 * units))
        transact(node, "approve", sender, asset, encode_words("approve(address,uint256)", pool, 2**256 - 1))
        transact(node, "supply", sender, pool, encode_words(
            "supply(address,uint256,address,uint16)", asset, units, beneficiary, 0), 600_000)
        transact(node, "repay", sender, pool, encode_words(
            "repay(address,uint256,uint256,address)", asset, units // 10, 2, borrower.address), 600_000)
        mine(devnet.url, 3)
        later = head_of(devnet)

        more = await discover(settings, engine, chain=CHAIN, head=later, rpc=rpc)
        assert (more.new_accounts, more.scanned_from, more.scanned_to) == (1, head + 1, later)
        assert more.requests == 3
    found = discovered_accounts(engine, chain=CHAIN, market=MARKET)
    assert set(found) == expected_accounts(devnet) | {beneficiary}
    assert found[-1] == beneficiary and sender not in found

    tracked = to_checksum_address(keccak(text="test-discovery/tracked")[12:])
    add_wallet(engine, address=tracked)
    add_wallet(engine, address=borrower.address)
    watched = watched_accounts(engine, chain=CHAIN, market=MARKET)
    assert watched[:2] == [tracked, borrower.address]
    assert sorted(watched) == sorted(set(found) | {tracked})


async def test_restart_after_a_partial_scan_scans_no_block_twice(chain_state, settings, engine, proxy, capsys):
    devnet = chain_state
    head = head_of(devnet)
    middle = head // 2
    assert head - middle >= 3  # room for a crash between the middle and the head
    policy = SpanPolicy(initial=1, maximum=1)  # the devnet has a handful of blocks: one per request
    async with RpcClient([proxy.url], attempts=1) as rpc:
        first = await discover(settings, engine, chain=CHAIN, head=middle, rpc=rpc, policy=policy, progress=True)
        assert (first.scanned_from, first.scanned_to) == (0, middle)
        assert checkpoint(engine, chain=CHAIN, name=f"discovery:{MARKET}") == middle

        # the provider falls over mid-scan: what was committed stays, and the next run resumes after it
        proxy.fail_after = len(proxy.served) + 1
        with pytest.raises(RpcResponseError, match="backend gone"):
            await discover(settings, engine, chain=CHAIN, head=head, rpc=rpc, policy=policy)
        resumed_at = checkpoint(engine, chain=CHAIN, name=f"discovery:{MARKET}")
        assert resumed_at == proxy.served[-1][1] and middle < resumed_at < head

        proxy.fail_after = None
        rest = await discover(settings, engine, chain=CHAIN, head=head, rpc=rpc, policy=policy)
        assert (rest.scanned_from, rest.scanned_to) == (resumed_at + 1, head)
    assert_each_block_once(proxy.served, 0, head)
    assert set(discovered_accounts(engine, chain=CHAIN, market=MARKET)) == expected_accounts(devnet)
    assert first.new_accounts + rest.new_accounts <= 61  # the interrupted run committed its part
    assert "discovery devnet-aave-v3" in capsys.readouterr().err  # the backfill's progress bar


async def test_provider_limit_of_three_blocks_still_finds_everything(chain_state, settings, engine, proxy):
    devnet = chain_state
    head = head_of(devnet)
    proxy.max_blocks = 3
    async with RpcClient([proxy.url], attempts=1) as rpc:
        result = await discover(settings, engine, chain=CHAIN, head=head, rpc=rpc)
    assert set(discovered_accounts(engine, chain=CHAIN, market=MARKET)) == expected_accounts(devnet)
    assert result.new_accounts == 61
    assert all(hi - lo + 1 <= 3 for lo, hi in proxy.served)
    assert_each_block_once(proxy.served, 0, head)
    # from the default 2,000 blocks down to 3 by halving, then the limit is kept: few refusals
    assert len(proxy.refused) <= 13
    assert result.requests == 2 + len(proxy.served) + len(proxy.refused)

