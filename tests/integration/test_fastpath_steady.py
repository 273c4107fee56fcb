"""The fast path judges only the holders a feed update may carry across an alert level (``split_steady``); the
others are repriced after the block's alerts commit. Two pipelines follow the same devnet blocks into two
databases: one as `indexer run` does, one with the steady bands switched off (every holder judged, as before the
split). What they store must be the same, row for row: alerts, their events and messages, rule states, positions."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from indexer.devnet import set_price, set_updated_at
from indexer.devnet.abi import encode_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.prices import feed_aggregator
from indexer.devnet.txbatch import NonceBook, Tx, mine_txs
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.db import make_engine, upgrade
from indexer.store.wallet_store import add_wallet
from tests.integration.chain_helpers import stored


def set_prices(devnet, answers: dict[str, int]) -> None:
    """New rounds of several feeds in one block."""
    rpc = JsonRpcClient(devnet.url)
    nonces = NonceBook(rpc)
    deployer = devnet.deployment.deployer
    mine_txs(rpc, [Tx(f"setAnswer {symbol}", deployer, feed_aggregator(devnet.url, devnet.deployment, symbol),
                      encode_call("setAnswer(int256)", answer), 1_000_000, nonces.take(deployer))
                   for symbol, answer in answers.items()], "set prices")


@pytest.mark.parametrize("overlap,full", [(False, False), (True, False), (False, True)],
                         ids=["in-turn", "overlapping", "full-reads"])
async def test_judging_only_the_holders_that_may_cross_stores_what_judging_every_holder_stores(
        devnet, chain_state, write_devnet_config, engine, tmp_path, caplog, overlap, full):
    # hold_blocks = 1: levels wait a block (pending states, which the split must always judge); one full read, then
    # the fast path only ("full-reads": a full read every block, the rules seeing only the positions outside their
    # steady bands); one wallet with its own alert levels. "overlapping": the split pipeline catches up three
    # blocks a step, writing each block in a thread while it reads the next (the steady holders are repriced
    # before the thread starts)
    settings = load_settings(write_devnet_config(top="[alerts]\nhold_blocks = 1\n",
                                                 tail="" if full else "snapshot_every = 1000\n"))
    other = f"sqlite:///{tmp_path / 'every-holder.db'}"
    upgrade(other)
    whole_engine = make_engine(other)
    for number, account in enumerate(devnet.accounts):
        own = (Decimal("1.6"), Decimal("1.3")) if number % 7 == 0 else (None, None)
        for target in (engine, whole_engine):
            add_wallet(target, address=account.address, label=account.kind, warn_health=own[0],
                       critical_health=own[1])
    split = ChainPipeline(settings, engine, "devnet", overlap=overlap)
    whole = ChainPipeline(settings, whole_engine, "devnet", steady_split=False)  # its rules see every holder
    reserves = devnet.deployment.reserve
    weth, usdc, dai = (reserves(symbol)["price"] for symbol in ("WETH", "USDC", "DAI"))
    # block by block: a blip (levels called for one block, pending, then not any more), then each move held a
    # block by a small one (so that levels pending for a block take effect): down across levels, both feeds at
    # once, back up, down again, a block without a move
    moves = [{"WETH": weth * 90 // 100}, {"WETH": weth}, {"WETH": weth * 1001 // 1000},
             {"WETH": weth * 90 // 100}, {"WETH": weth * 901 // 1000}, {"WETH": weth * 80 // 100},
             {"WETH": weth * 801 // 1000}, {"WETH": weth * 85 // 100, "USDC": usdc * 103 // 100},
             {"WETH": weth * 851 // 1000}, {"WETH": weth * 110 // 100}, {"WETH": weth * 1101 // 1000},
             {"WETH": weth * 95 // 100}, {"WETH": weth * 951 // 1000}, {"WETH": weth * 75 // 100},
             {"WETH": weth * 751 // 1000}, {}, {"WETH": weth * 120 // 100}, {"WETH": weth * 1201 // 1000},
             {"stale": "DAI"}, {"WETH": weth * 90 // 100}, {"WETH": weth * 901 // 1000},
             {"WETH": weth * 902 // 1000, "DAI": dai}, {"WETH": weth * 903 // 1000}]  # DAI fresh again, same answer
    caplog.set_level(logging.DEBUG if full else logging.INFO, logger="indexer.pipeline.chain")
    try:
        assert await split.step() == 1 and await whole.step() == 1  # the full read both start from
        behind = 0
        for number, move in enumerate(moves, start=1):
            if "stale" in move:  # a feed whose last round is older than its heartbeat: its holders' prices STALE
                latest = JsonRpcClient(devnet.url).call("eth_getBlockByNumber", ["latest", False])
                set_updated_at(devnet.url, devnet.deployment, move["stale"], int(latest["timestamp"], 16) - 2 * 86_400)
            elif len(move) == 1:
                ((symbol, answer),) = move.items()
                set_price(devnet.url, devnet.deployment, symbol, answer)
            elif move:
                set_prices(devnet, move)
            else:
                JsonRpcClient(devnet.url).call("anvil_mine", [hex(1)])
            assert await whole.step() == 1
            behind += 1
            if not overlap or number % 3 == 0 or number == len(moves):
                assert await split.step() == behind
                behind = 0
    finally:
        await split.close()
        await whole.close()
    ours, theirs = stored(engine), stored(whole_engine)
    whole_engine.dispose()
    assert ours["events"] and {e[2] for e in ours["events"]} >= {"opened", "escalated", "deescalated", "resolved"}
    assert any(e[5] == "STALE" for e in ours["events"])  # the oracle family, and levels on untrusted prices
    assert any(e[0].endswith("/oracle") and e[2] == "resolved" for e in ours["events"])  # fresh again
    for name in ours:
        assert ours[name] == theirs[name], name
    # the split did leave holders out of the rules: fewer judged than held in some fast block, none in others
    lines = [line for line in caplog.messages if line.startswith("full read chain=devnet" if full else
                                                                 "fast path chain=devnet")]
    field = "positions=" if full else "holders="
    counts = [(int(line.split(field)[1].split()[0]), int(line.split("judged=")[1].split()[0])) for line in lines]
    assert any(judged < holders for holders, judged in counts if holders)
    assert not full or any(judged for _, judged in counts)  # and judged some
