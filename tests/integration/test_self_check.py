"""The runtime self-check: each block a rotating sample of positions is also read through the protocol's own
view (Aave: getUserAccountData) in the same Multicall3 round. A node that flips one bit of one balance makes
the local figures wrong: the check catches it, logs both, stores the protocol's figures for that position and
marks the market UNVERIFIED; the others are stored from local math as usual."""

from __future__ import annotations

import time
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from indexer.api import shapes
from indexer.api.dashboard import read_dashboard, render
from indexer.api.shapes import self_check_status
from indexer.chain.multicall import AGGREGATE3
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.position_store import list_markets, list_positions
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy
from tests.integration.chain_helpers import user_account_data

SCALED_BALANCE = keccak(text="scaledBalanceOf(address)")[:4]


class FlipOneBalance(JsonRpcProxy):
    """Flips bit 70 of the aToken balance that ``victim`` is read with, inside the node's aggregate3 answer."""

    def __init__(self, upstream: str, victim: str) -> None:
        super().__init__(upstream)
        self.victim = bytes.fromhex(victim[2:].lower())
        self.flipped = 0

    async def respond(self, item: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if item.get("method") != "eth_call" or "result" not in answer:
            return answer
        data = bytes.fromhex(item["params"][0]["data"][2:])
        if data[:4] != AGGREGATE3:
            return answer
        (calls,) = abi_decode(["(address,bool,bytes)[]"], data[4:])
        (results,) = abi_decode(["(bool,bytes)[]"], bytes.fromhex(answer["result"][2:]))
        results = list(results)
        for i, (_, _, calldata) in enumerate(calls):
            if calldata[:4] == SCALED_BALANCE and calldata[16:36] == self.victim and results[i][0]:
                value = int.from_bytes(results[i][1], "big") ^ (1 << 70)
                results[i] = (True, value.to_bytes(32, "big"))
                self.flipped += 1
        return {**answer, "result": "0x" + abi_encode(["(bool,bytes)[]"], [results]).hex()}


async def test_a_flipped_bit_is_caught_and_the_protocols_figures_are_stored(devnet, chain_state,
                                                                           write_devnet_config, engine, caplog):
    victim = next(a for a in devnet.accounts_of("multi"))
    proxy = FlipOneBalance(devnet.url, victim.address)
    await proxy.start()
    try:
        config = write_devnet_config(chain=f'rpc_urls = ["{proxy.url}"]\n', tail="self_check = 100\n")
        settings = load_settings(config)
        for account in devnet.accounts:
            add_wallet(engine, address=account.address)
        pipeline = ChainPipeline(settings, engine, "devnet")
        try:
            read = await pipeline.sync()
        finally:
            await pipeline.close()
    finally:
        await proxy.stop()
    assert proxy.flipped >= 1
    stored = {p.account: p for p in list_positions(engine)}
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"], list(stored),
                                      read.block.number)
    # every stored figure is the protocol's: the victim's from the check, the others' from local math
    assert all(stored[a].health_raw == onchain[a][5] for a in stored)
    assert stored[victim.address].detail["self_check"]["protocol"][5] == str(onchain[victim.address][5])
    assert stored[victim.address].detail["self_check"]["local"] != stored[victim.address].detail["self_check"][
        "protocol"]
    assert [a for a in stored if "self_check" in stored[a].detail] == [victim.address]
    assert read.checks == {"devnet-aave-v3": (len(stored), 1)}
    assert pipeline.reads.mismatched["devnet-aave-v3"] == 1
    (market,) = list_markets(engine)
    assert self_check_status(market.checked_block, market.mismatch_block) == "UNVERIFIED"
    assert shapes.market(market)["self_check"] == "UNVERIFIED"  # what GET /v1/markets answers
    data = read_dashboard(engine, ["devnet"])
    assert data.unverified == ["devnet/devnet-aave-v3"]
    page = render(data, now=time.time(), refresh=30, max_lag=300)
    assert "<b>1</b><span class=\"muted\">markets UNVERIFIED</span>" in page
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "self-check" in r.getMessage()]
    assert len(errors) == 1 and victim.address in errors[0] and "protocol=" in errors[0]
