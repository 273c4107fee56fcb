"""What-if shocks against the chain: `indexer shock ETH=-25% …` over the stored positions equals moving the devnet's
feeds by the same amounts and syncing, position by position, to the last unit of every figure.

Real anvil with the real Aave v3.0 bytecode (the session devnet), real SQLite and Postgres. The feed moves are mined
at the timestamp of the first sync's block, so no interest accrues between the two reads: the only change is the
prices, which is what a shock models.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

from indexer.devnet import set_price
from indexer.risk.moves import parse_moves
from indexer.risk.shock import shock_json, shock_stored
from indexer.settings import load_settings
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from tests.integration.chain_helpers import user_account_data

MOVES = ["ETH=-25%", "BTC=-20%", "wstETH=-4%", "USDC=-3%"]


async def _track_and_sync(devnet, config, engine):
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    (read,) = await sync_once(load_settings(config), engine)
    return read


async def test_a_shock_equals_moving_the_feeds_and_syncing(devnet, chain_state, devnet_config, engine):
    settings = load_settings(devnet_config)
    first = await _track_and_sync(devnet, devnet_config, engine)
    moves = parse_moves(MOVES, settings.risk.groups)
    result = shock_stored(engine, settings=settings, moves=moves)
    assert len(result.positions) == len(list_positions(engine)) > 40
    assert result.unused == []

    # the price each moved asset takes in the shock: the same for every position, price × factor rounded down
    by_symbol: dict[str, set[int]] = {}
    for shocked in result.positions:
        for moved in shocked.prices:
            by_symbol.setdefault(moved.symbol, set()).add(moved.after)
            factor = moves.factor(moved.symbol)
            assert moved.after == moved.before * factor.numerator // factor.denominator
    assert set(by_symbol) == {"WETH", "wstETH", "WBTC", "USDC"}
    assert moves.factor("wstETH") == Fraction(75, 100) * Fraction(96, 100)
    assert all(len(prices) == 1 for prices in by_symbol.values())

    rpc = devnet.rpc
    for symbol, (price,) in by_symbol.items():
        rpc.call("evm_setNextBlockTimestamp", [first.block.timestamp])  # no time passes: no interest accrues
        set_price(devnet.url, devnet.deployment, symbol, price)
    (second,) = await sync_once(settings, engine)
    assert second.block.timestamp == first.block.timestamp and second.block.number > first.block.number

    synced = {p.account: p for p in list_positions(engine)}
    assert set(synced) == {s.view.account for s in result.positions}
    crossing = 0
    for shocked in result.positions:
        stored = synced[shocked.view.account]
        after = shocked.after
        assert (after.raw, after.collateral, after.debt, after.health) == \
            (stored.health_raw, stored.collateral_value, stored.debt_value, stored.health), shocked.view.account
        crossing += shocked.crossing
    assert crossing >= 3, "the moves must take some positions under 1 for the comparison to mean anything"

    # and the protocol's own view at the synced block says the same health, position by position
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [s.view.account for s in result.positions], second.block.number)
    for shocked in result.positions:
        assert onchain[shocked.view.account][5] == shocked.after.raw


async def test_shock_command_prints_the_same_figures_and_refuses_bad_moves(devnet, chain_state, devnet_config,
                                                                          engine, cli_env):
    await _track_and_sync(devnet, devnet_config, engine)
    settings = load_settings(devnet_config)
    expected = shock_json(shock_stored(engine, settings=settings, moves=parse_moves(MOVES, settings.risk.groups)),
                          limit=500)

    def indexer(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "indexer", *args], env=cli_env, capture_output=True, text=True,
                              timeout=120)

    done = indexer("shock", *MOVES, "--json", "--limit", "500")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected
    assert expected["liquidatable_after"] == len(expected["positions"]) > 0

    text = indexer("shock", "eth=-25", "FOO=-10")  # a group in any case; a name nothing rests on is said
    assert text.returncode == 0, text.stderr
    assert "devnet-aave-v3" in text.stdout and "Under 1 after the shock" in text.stdout
    assert "FOO moves no price a stored position rests on" in text.stderr

    wallet = expected["positions"][0]["wallet"]
    one = json.loads(indexer("shock", *MOVES, "--json", "--wallet", wallet).stdout)
    assert {p["wallet"] for p in one["positions"]} == {wallet}
    assert [w["wallet"] for w in one["wallets"]] == [wallet]

    for bad, message in [("ETH=-100%", "less than 100%"), ("ETH", "is not NAME=PERCENT")]:
        done = indexer("shock", bad)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


async def test_wallet_curve_and_var_commands_print_what_the_api_answers(devnet, chain_state, devnet_config, engine,
                                                                       cli_env):
    from decimal import Decimal

    from indexer.api.risk import wallet_risk_json
    from indexer.risk.curve import market_curve
    from indexer.risk.wallet import wallet_risk

    await _track_and_sync(devnet, devnet_config, engine)
    settings = load_settings(devnet_config)

    def indexer(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "indexer", *args], env=cli_env, capture_output=True, text=True,
                              timeout=120)

    view = next(v for v in list_positions(engine) if v.health is not None and 1 < v.health < Decimal("1.5"))
    done = indexer("wallet", view.owner.lower(), "--json", "--horizon", "1h")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == wallet_risk_json(wallet_risk(engine, settings=settings, wallet=view.owner,
                                                                   horizon="1h"))
    text = indexer("wallet", view.owner)
    assert text.returncode == 0 and "To reach health 1.5" in text.stdout and "repay" in text.stdout
    assert "insufficient history" in text.stdout  # one sync is no price history: said, not guessed

    done = indexer("curve", "devnet-aave-v3", "--json")
    assert json.loads(done.stdout) == market_curve(engine, settings=settings, market="devnet-aave-v3").as_json()
    assert "WETH" in indexer("curve", "devnet-aave-v3", "--symbol", "WETH").stdout

    for args, code, message in [(("var",), 2, "exactly one of --wallet and --market"),
                                (("var", "--market", "devnet-aave-v3", "--horizon", "soon"), 1, "horizon 'soon'"),
                                (("curve", "nowhere"), 1, "market 'nowhere' is not configured"),
                                (("curve", "devnet-aave-v3", "--symbol", "WETH", "--cascade", "-10%"), 1,
                                 "no market depth for WETH")]:
        done = indexer(*args)
        assert done.returncode == code and message in done.stderr and "Traceback" not in done.stderr, done.stderr
