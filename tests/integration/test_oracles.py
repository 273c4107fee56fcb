"""Oracle freshness on the devnet: real AaveOracle sources (our Chainlink-style proxy + aggregator),
judged at each synced block, and every position marked by the worst status of the prices behind it."""

import json
import logging
import subprocess
import sys

import pytest

from indexer.devnet import (
    advance_time,
    deploy_price_feed,
    feed_aggregator,
    set_aggregator,
    set_price,
    set_round,
)
from indexer.settings import load_settings
from indexer.store.feed_store import list_oracles
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once

HOUR = 3600
HEARTBEAT_1H = "[oracles]\ndefault_heartbeat = 3600\n"


def _track(devnet, engine):
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)


def _holders(engine, symbol):
    return {p.account for p in list_positions(engine)
            if any(a.symbol == symbol for a in position_legs(engine, snapshot_id=p.snapshot_id))}


def _feed(engine, symbol):
    (row,) = [o for o in list_oracles(engine) if o.symbol == symbol]
    return row


def _refresh_all_but(devnet, skip):
    for reserve in devnet.deployment.reserves:
        if reserve["symbol"] != skip:
            set_price(devnet.url, devnet.deployment, reserve["symbol"], reserve["price"])


async def test_stale_feed_marks_every_position_holding_its_asset(devnet, chain_state, write_devnet_config, engine):
    config = load_settings(write_devnet_config(top=HEARTBEAT_1H))
    _track(devnet, engine)
    await sync_once(config, engine)
    assert {o.status for o in list_oracles(engine)} == {"FRESH"}
    assert {p.price_status for p in list_positions(engine)} == {"FRESH"}
    assert len(list_oracles(engine)) == len(devnet.deployment.reserves)

    advance_time(devnet.url, HOUR + 60)
    _refresh_all_but(devnet, "WETH")  # every feed gets a new round except WETH's
    (read,) = await sync_once(config, engine)
    weth = _feed(engine, "WETH")
    assert weth.status == "STALE" and weth.age > HOUR and weth.heartbeat == HOUR and weth.heartbeat_source == "default"
    assert {o.status for o in list_oracles(engine) if o.symbol != "WETH"} == {"FRESH"}
    stale = {p.account for p in list_positions(engine, price_status="STALE")}
    assert stale == _holders(engine, "WETH") and stale
    assert {p.price_status for p in list_positions(engine) if p.account not in stale} == {"FRESH"}
    # the feed and round behind each asset's price are stored with the position
    some = next(p for p in list_positions(engine) if p.account in stale)
    weth_asset = next(a for a in position_legs(engine, snapshot_id=some.snapshot_id) if a.symbol == "WETH")
    assert weth_asset.feed == devnet.deployment.reserve("WETH")["feed"] and weth_asset.round_id == weth.round_id

    set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"])
    await sync_once(config, engine)
    assert _feed(engine, "WETH").status == "FRESH"
    assert {p.price_status for p in list_positions(engine)} == {"FRESH"}


async def test_invalid_answers_and_rounds(devnet, chain_state, write_devnet_config, engine):
    config = load_settings(write_devnet_config())
    _track(devnet, engine)
    (first,) = await sync_once(config, engine)
    holders = _holders(engine, "WETH")
    weth = devnet.deployment.reserve("WETH")

    for bad in (0, -5):
        # AaveOracle cannot price WETH now (no fallback oracle): positions keep their last figures,
        # flagged INVALID; everything else is stored at the new block.
        set_price(devnet.url, devnet.deployment, "WETH", bad)
        (read,) = await sync_once(config, engine)
        feed = _feed(engine, "WETH")
        assert feed.status == "INVALID" and "not positive" in feed.reason and feed.answer == bad
        flagged = {p.account: p for p in list_positions(engine, price_status="INVALID")}
        assert set(flagged) == holders
        assert all(p.block_number == first.block.number for p in flagged.values())
        assert all(p.block_number == read.block.number for p in list_positions(engine) if p.account not in holders)

    set_price(devnet.url, devnet.deployment, "WETH", weth["price"])
    await sync_once(config, engine)
    current = _feed(engine, "WETH")
    assert current.status == "FRESH"
    aggregator_round = current.round_id & (2**64 - 1)
    block_time = int(devnet.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    set_round(devnet.url, devnet.deployment, "WETH", aggregator_round - 2, weth["price"], block_time, block_time)
    await sync_once(config, engine)
    feed = _feed(engine, "WETH")
    assert feed.status == "INVALID" and "went backwards" in feed.reason
    assert {p.account for p in list_positions(engine, price_status="INVALID")} == holders

    set_round(devnet.url, devnet.deployment, "WETH", aggregator_round + 5, weth["price"], 0, 0)
    await sync_once(config, engine)
    assert "updatedAt is zero" in _feed(engine, "WETH").reason

    set_round(devnet.url, devnet.deployment, "WETH", aggregator_round + 6, weth["price"], block_time,
              block_time + 10 * HOUR)
    await sync_once(config, engine)
    assert "after the block" in _feed(engine, "WETH").reason


async def test_aggregator_swap_behind_a_proxy_is_noticed(devnet, chain_state, write_devnet_config, engine, caplog):
    config = load_settings(write_devnet_config())
    _track(devnet, engine)
    await sync_once(config, engine)
    before = _feed(engine, "WETH")
    assert before.aggregator == feed_aggregator(devnet.url, devnet.deployment, "WETH")

    replacement = deploy_price_feed(devnet.url, devnet.deployment.reserve("WETH")["price"],
                                    description="ETH / USD", sender=devnet.deployment.deployer)
    set_aggregator(devnet.url, devnet.deployment, "WETH", replacement)
    with caplog.at_level(logging.WARNING, logger="indexer.oracles.monitor"):
        await sync_once(config, engine)
    after = _feed(engine, "WETH")
    assert after.aggregator == replacement != before.aggregator
    assert after.status == "FRESH"  # the proxy's round id moved to a new phase: not "backwards"
    assert after.round_id >> 64 == (before.round_id >> 64) + 1
    assert any("aggregator swapped" in r.message and replacement in r.message for r in caplog.records)


async def test_feeds_cost_no_extra_round_trip(devnet, chain_state, write_devnet_config, engine):
    _track(devnet, engine)
    (read,) = await sync_once(load_settings(write_devnet_config()), engine)
    # Four Multicall3 rounds for the positions (provider, pool, market+accounts, balances+feeds), each one
    # HTTP round trip; the head and chain id share one more. The feeds add calls, not requests.
    assert read.stats.http_posts == 5 and read.stats.by_method["eth_call"] == 4
    assert len(read.feeds) == len(devnet.deployment.reserves)


@pytest.mark.one_database("sqlite")  # the CLI's output; the feed store's on both databases are the tests above
def test_oracles_cli(devnet, chain_state, cli_env, devnet_config):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "indexer", *args], env=cli_env, capture_output=True,
                              text=True, timeout=120)

    assert run("wallets", "add", devnet.accounts[0].address).returncode == 0
    assert run("sync").returncode == 0
    rows = json.loads(run("oracles", "--json").stdout)
    assert {r["symbol"] for r in rows} == {r["symbol"] for r in devnet.deployment.reserves}
    weth = next(r for r in rows if r["symbol"] == "WETH")
    assert weth["answer"] == "2000.00000000" and weth["status"] == "FRESH" and weth["heartbeat_seconds"] == 86400
    assert json.loads(run("oracles", "--stale", "--json").stdout) == []
    table = run("oracles")
    assert table.returncode == 0 and "WETH" in table.stdout and "FRESH" in table.stdout
    positions = json.loads(run("positions", "--json", "--price-status", "fresh").stdout)
    assert [p["price_status"] for p in positions] == ["FRESH"]
    assert json.loads(run("positions", "--json", "--price-status", "STALE").stdout) == []


SEQUENCER = 'sequencer_uptime_feed = "devnet:SequencerUptimeFeed"\nsequencer_grace = 3600\n'


async def test_sequencer_down_grace_and_up(devnet, chain_state, write_devnet_config, engine):
    from indexer.devnet import set_sequencer

    config = load_settings(write_devnet_config(chain=SEQUENCER))
    _track(devnet, engine)
    await sync_once(config, engine)
    assert {p.price_status for p in list_positions(engine)} == {"FRESH"}

    set_sequencer(devnet.url, devnet.deployment, down=True)
    await sync_once(config, engine)
    seq = next(o for o in list_oracles(engine) if o.kind == "sequencer-uptime")
    assert seq.status == "SEQUENCER_DOWN"
    assert {p.price_status for p in list_positions(engine)} == {"SEQUENCER_DOWN"}
    assert {o.status for o in list_oracles(engine) if o.kind == "chainlink"} == {"FRESH"}  # feeds keep their own

    set_sequencer(devnet.url, devnet.deployment, down=False)
    await sync_once(config, engine)
    assert {p.price_status for p in list_positions(engine)} == {"SEQUENCER_GRACE"}

    advance_time(devnet.url, HOUR + 1)
    await sync_once(config, engine)  # default heartbeat is a day: the prices themselves are still fresh
    assert {p.price_status for p in list_positions(engine)} == {"FRESH"}


async def test_pyth_feed_listed_by_hand(devnet, chain_state, write_devnet_config, engine):
    from indexer.devnet import set_pyth_price

    price_id = devnet.deployment.pyth_price_ids["WETH"]
    weth = devnet.deployment.reserve("WETH")
    feed = (f'[[chains.devnet.feeds]]\nkind = "pyth"\naddress = "devnet:Pyth"\nprice_id = "{price_id}"\n'
            f'asset = "{weth["asset"]}"\nsymbol = "WETH"\nheartbeat = 60\n')
    config = load_settings(write_devnet_config(chain=feed))
    _track(devnet, engine)
    (read,) = await sync_once(config, engine)
    pyth = next(o for o in list_oracles(engine) if o.kind == "pyth")
    assert pyth.status == "FRESH" and pyth.heartbeat == 60 and pyth.heartbeat_source == "config"
    assert pyth.answer == weth["price"] and pyth.decimals == 8 and str(pyth.answer_scaled) == "2000.00000000"
    assert pyth.key.endswith(price_id.lower())

    advance_time(devnet.url, 61)
    await sync_once(config, engine)
    pyth = next(o for o in list_oracles(engine) if o.kind == "pyth")
    assert pyth.status == "STALE" and pyth.age == pyth.block_timestamp - pyth.updated_at > 60

    set_pyth_price(devnet.url, devnet.deployment, "WETH", weth["price"] + 1)
    await sync_once(config, engine)
    assert next(o for o in list_oracles(engine) if o.kind == "pyth").status == "FRESH"

    set_pyth_price(devnet.url, devnet.deployment, "WETH", -1)
    await sync_once(config, engine)
    assert next(o for o in list_oracles(engine) if o.kind == "pyth").status == "INVALID"


async def test_hand_listed_feeds_share_the_same_round_trips(devnet, chain_state, write_devnet_config, engine):
    _track(devnet, engine)
    extra = (SEQUENCER + f'[[chains.devnet.feeds]]\nkind = "pyth"\naddress = "devnet:Pyth"\n'
             f'price_id = "{devnet.deployment.pyth_price_ids["WETH"]}"\nheartbeat = 60\n')
    (plain,) = await sync_once(load_settings(write_devnet_config(name="plain")), engine)
    (more,) = await sync_once(load_settings(write_devnet_config(chain=extra, name="more")), engine)
    assert len(more.feeds) == len(plain.feeds) + 2
    assert (more.stats.requests, more.stats.http_posts) == (plain.stats.requests, plain.stats.http_posts)
