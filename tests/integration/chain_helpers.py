"""Reading the protocol's own views at a block, for parity checks (through the same Multicall3)."""

from indexer.chain.multicall import Call, MulticallReader
from indexer.chain.rpc import RpcClient
from indexer.devnet.jsonrpc import JsonRpcClient


def mine_at(url: str, timestamp: int, txs: list[dict[str, str]]) -> int:
    """The transactions in one block stamped ``timestamp`` (a read's own block time: no interest accrues between
    the read and them); each must succeed. The block's number."""
    rpc = JsonRpcClient(url)
    rpc.call("evm_setAutomine", [False])
    try:
        hashes = [rpc.call("eth_sendTransaction", [{**tx, "gas": hex(3_000_000), "gasPrice": "0x0"}]) for tx in txs]
        rpc.call("evm_setNextBlockTimestamp", [timestamp])
        rpc.call("evm_mine", [])
    finally:
        rpc.call("evm_setAutomine", [True])
    for tx_hash in hashes:
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        assert receipt and int(receipt["status"], 16) == 1, receipt
    block = rpc.call("eth_getBlockByNumber", ["latest", False])
    assert int(block["timestamp"], 16) == timestamp
    return int(block["number"], 16)


async def user_account_data(url: str, pool: str, accounts: list[str], block: int) -> dict[str, tuple[int, ...]]:
    """``Pool.getUserAccountData`` for each account at ``block``."""
    async with RpcClient([url]) as rpc:
        reader = MulticallReader(rpc, block)
        results = await reader.read([
            Call.of(pool, "getUserAccountData(address)", [a], ["address"], ("uint256",) * 6) for a in accounts])
    return dict(zip(accounts, results, strict=True))


def assert_health_at_is_reprices(sources, cached, moved, previous, now) -> None:
    """The fast path's steady check takes a holder's health at the new prices from its rules' ``health_at``: that must
    be the health its repricing gives (``moved``, by ``moved_positions``), for every holder."""
    from indexer.fastpath import PositionCache, feed_move

    move = feed_move(sources, PositionCache.of(cached), previous, now)
    assert move is not None
    repriced = {(s.market, s.account): s for s in moved}
    checked = 0
    for snapshot in cached:
        fast = repriced.get((snapshot.market, snapshot.account))
        if fast is not None:
            assert sources[snapshot.market].health_at(snapshot, move.prices[snapshot.market]) == fast.health
            checked += 1
    assert checked == len(moved)
