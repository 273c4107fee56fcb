import logging

from indexer.oracles.monitor import ChainOracles
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.settings import Settings
from indexer.types import BlockRef

ETH_USD = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"
UNLISTED = "0x00000000000000000000000000000000000fEEd1"
BLOCK = BlockRef(number=10, hash="0xab", timestamp=1_700_000_000)


def _oracles(**chain):
    settings = Settings(chains={"ethereum": {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:1"], **chain}})
    return ChainOracles(settings, "ethereum")


def _reading(address, age):
    return FeedReading(address, FeedKind.CHAINLINK, round_id=5, answer=1, started_at=BLOCK.timestamp - age,
                       updated_at=BLOCK.timestamp - age, decimals=8)


def test_table_heartbeat_is_used_for_a_listed_feed():
    oracles = _oracles()
    fresh = oracles.assess(BLOCK, [_reading(ETH_USD, 3600)], {})[ETH_USD]
    assert (fresh.heartbeat, fresh.heartbeat_source, fresh.deviation) == (3600, "table", 0.5)
    assert fresh.verdict.status == "FRESH"
    assert oracles.assess(BLOCK, [_reading(ETH_USD, 3601)], {})[ETH_USD].verdict.status == "STALE"


def test_hand_config_overrides_the_table():
    oracles = _oracles(feeds=[{"address": ETH_USD, "heartbeat": 60}])
    status = oracles.assess(BLOCK, [_reading(ETH_USD, 61)], {})[ETH_USD]
    assert (status.heartbeat, status.heartbeat_source, status.verdict.status) == (60, "config", "STALE")


def test_unlisted_feed_gets_the_explicit_default_logged_once(caplog):
    oracles = _oracles()
    with caplog.at_level(logging.WARNING, logger="indexer.oracles.monitor"):
        for _ in range(3):
            status = oracles.assess(BLOCK, [_reading(UNLISTED, 10)], {})[UNLISTED]
    assert (status.heartbeat, status.heartbeat_source) == (86400, "default")
    assert sum("no heartbeat known" in r.message and UNLISTED in r.message for r in caplog.records) == 1
