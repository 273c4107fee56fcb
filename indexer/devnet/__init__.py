"""A local devnet for tests and benchmarks: anvil with every protocol that has a devnet module (the real Aave v3.0
market, Morpho Blue, …), the chain's shared services, and seeded positions.

Typical use::

    from indexer.devnet import Anvil, stack
    from indexer.protocols.aave_v3.devnet import seed_borrowers

    with Anvil() as node:
        deployment = stack.deploy(node.url, ["aave_v3"])
        accounts = seed_borrowers(node.url, deployment, 1_000)
        set_price(node.url, deployment, "WETH", 1_500 * 10**8)
        set_pyth_price(node.url, deployment, "WETH", 1_500 * 10**8)
        set_sequencer(node.url, deployment, down=True)

Each protocol's deployment lives in its own package (``indexer/protocols/<name>/devnet``). Needs the npm
toolchain (anvil, @aave/core-v3, solc): ``./dev setup`` installs it.
"""

from indexer.devnet.anvil import Anvil
from indexer.devnet.chain import CANONICAL_MULTICALL3
from indexer.devnet.chain_control import advance_time, mine, revert, snapshot
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, ToolchainMissingError, TransactionFailedError
from indexer.devnet.oracles import PRICE_DECIMALS, PYTH_PRICE_IDS, set_pyth_price, set_sequencer
from indexer.devnet.prices import (
    deploy_price_feed,
    feed_aggregator,
    set_aggregator,
    set_price,
    set_round,
    set_updated_at,
)

__all__ = [
    "CANONICAL_MULTICALL3",
    "PRICE_DECIMALS",
    "PYTH_PRICE_IDS",
    "Anvil",
    "DeployPlan",
    "Deployment",
    "DevnetError",
    "ToolchainMissingError",
    "TransactionFailedError",
    "advance_time",
    "deploy_price_feed",
    "feed_aggregator",
    "mine",
    "revert",
    "set_aggregator",
    "set_price",
    "set_pyth_price",
    "set_round",
    "set_sequencer",
    "set_updated_at",
    "snapshot",
]
