"""A local devnet for tests and benchmarks: anvil running a real Aave v3.0 market with seeded positions.

Typical use::

    with Anvil() as node:
        deployment = deploy_aave_v3(node.url)
        accounts = seed_borrowers(node.url, deployment, 1_000)
        set_price(node.url, deployment, "WETH", 1_500 * 10**8)
        set_pyth_price(node.url, deployment, "WETH", 1_500 * 10**8)
        set_sequencer(node.url, deployment, down=True)

Needs the npm toolchain (anvil, @aave/core-v3, solc): run ``npm ci`` in the repository root.
"""

from indexer.devnet.anvil import Anvil
from indexer.devnet.chain_control import advance_time, mine, revert, snapshot
from indexer.devnet.deploy import CANONICAL_MULTICALL3, Deployment, deploy_aave_v3
from indexer.devnet.errors import DevnetError, ToolchainMissingError, TransactionFailedError
from indexer.devnet.oracles import PYTH_PRICE_IDS, set_pyth_price, set_sequencer
from indexer.devnet.prices import (
    deploy_price_feed,
    feed_aggregator,
    set_aggregator,
    set_price,
    set_round,
    set_updated_at,
)
from indexer.devnet.seed import KINDS, SeededAccount, plan_accounts, seed_borrowers

__all__ = [
    "CANONICAL_MULTICALL3",
    "KINDS",
    "PYTH_PRICE_IDS",
    "Anvil",
    "Deployment",
    "DevnetError",
    "SeededAccount",
    "ToolchainMissingError",
    "TransactionFailedError",
    "advance_time",
    "deploy_aave_v3",
    "deploy_price_feed",
    "feed_aggregator",
    "mine",
    "plan_accounts",
    "revert",
    "seed_borrowers",
    "set_aggregator",
    "set_price",
    "set_pyth_price",
    "set_round",
    "set_sequencer",
    "set_updated_at",
    "snapshot",
]
