"""Reading the protocol's own views at a block, for parity checks (through the same Multicall3)."""

from indexer.chain.multicall import Call, MulticallReader
from indexer.chain.rpc import RpcClient


async def user_account_data(url: str, pool: str, accounts: list[str], block: int) -> dict[str, tuple[int, ...]]:
    """``Pool.getUserAccountData`` for each account at ``block``."""
    async with RpcClient([url]) as rpc:
        reader = MulticallReader(rpc, block)
        results = await reader.read([
            Call.of(pool, "getUserAccountData(address)", [a], ["address"], ("uint256",) * 6) for a in accounts])
    return dict(zip(accounts, results, strict=True))
