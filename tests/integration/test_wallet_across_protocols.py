"""One wallet, one position on every lending protocol of the devnet: `indexer positions --wallet W` and
`GET /v1/positions?wallet=W` show them together, riskiest first, each with its nearest liquidation price.

The wallet opens its positions itself (anvil impersonates it): an Aave v3 borrow against WETH, a Compound v3
borrow of USDC against WETH on the devnet Comet, a Liquity v1 trove, a Liquity v2 trove on the WETH branch, a Morpho
Blue borrow against wstETH, a Maker ETH-A vault held directly, and an Euler v2 borrow of USDC in its sub-account 1
against WETH. A second test adds a GMX v2 short and a Hyperliquid cross account (a loopback venue) to the same wallet:
lending and perps on one health scale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from eth_utils import to_checksum_address

from indexer.api.app import make_app
from indexer.devnet import Anvil, Deployment, stack
from indexer.devnet.abi import encode_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.health.nearest import liquidation_prices, stored_points, stored_snapshots
from indexer.settings import load_settings
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once

WALLET = "0x00000000000000000000000000000000C0FFEE01"
MAX = 2**256 - 1
PROTOCOLS = ["aave_v3", "morpho_blue", "compound_v3", "liquity_v1", "liquity_v2", "maker", "euler_v2"]


def _send(rpc: JsonRpcClient, to: str, signature: str, *args: object, value: int = 0) -> None:
    tx = {"from": WALLET, "to": to, "data": encode_call(signature, *args), "gas": hex(3_000_000), "gasPrice": "0x0"}
    if value:
        tx["value"] = hex(value)
    tx_hash = rpc.call("eth_sendTransaction", [tx])
    receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
    if receipt is None:  # automine is off on this node: mine the block ourselves
        rpc.call("evm_mine", [])
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
    assert receipt and int(receipt["status"], 16) == 1, f"{signature} to {to} reverted"


def _open_everywhere(url: str, deployment: Deployment) -> None:
    rpc = JsonRpcClient(url)
    rpc.call("anvil_setBalance", [WALLET, hex(100 * 10**18)])
    # Aave v3: 2 WETH supplied, 2,500 USDC borrowed (variable)
    pool, weth, usdc = (deployment.contracts["Pool"], deployment.reserve("WETH")["asset"],
                        deployment.reserve("USDC")["asset"])
    _send(rpc, weth, "mint(uint256)", 2 * 10**18)
    _send(rpc, weth, "approve(address,uint256)", pool, MAX)
    _send(rpc, pool, "supply(address,uint256,address,uint16)", weth, 2 * 10**18, WALLET, 0)
    _send(rpc, pool, "borrow(address,uint256,uint256,uint16,address)", usdc, 2_500 * 10**6, 2, 0, WALLET)
    # Compound v3: 1 WETH in the USDC Comet, 1,500 USDC borrowed
    comet_record = deployment.protocols["compound_v3"]
    comet = comet_record["markets"]["cUSDCv3"]["comet"]
    comet_weth = next(a["address"] for a in comet_record["markets"]["cUSDCv3"]["assets"] if a["symbol"] == "WETH")
    comet_usdc = comet_record["markets"]["cUSDCv3"]["base"]["address"]
    _send(rpc, comet_weth, "mint(address,uint256)", WALLET, 10**18)
    _send(rpc, comet_weth, "approve(address,uint256)", comet, MAX)
    _send(rpc, comet, "supply(address,uint256)", comet_weth, 10**18)
    _send(rpc, comet, "withdraw(address,uint256)", comet_usdc, 1_500 * 10**6)
    # Liquity v1: a trove of 3 ETH and 4,000 LUSD
    borrower_operations = deployment.contracts["LiquityV1.BorrowerOperations"]
    _send(rpc, borrower_operations, "openTrove(uint256,uint256,address,address)", 5 * 10**16, 4_000 * 10**18,
          WALLET, WALLET, value=3 * 10**18)
    # Morpho Blue: 1 wstETH as collateral in the wstETH/WETH market, 0.8 WETH borrowed
    morpho_record = deployment.protocols["morpho_blue"]
    market = next(m for m in morpho_record["markets"] if m["collateral_symbol"] == "wstETH")
    params = (market["loan_token"], market["collateral_token"], market["oracle"], market["irm"], market["lltv"])
    morpho = morpho_record["morpho"]
    market_params = "(address,address,address,address,uint256)"
    _send(rpc, market["collateral_token"], "mint(address,uint256)", WALLET, 10**18)
    _send(rpc, market["collateral_token"], "approve(address,uint256)", morpho, MAX)
    _send(rpc, morpho, f"supplyCollateral({market_params},uint256,address,bytes)", params, 10**18, WALLET, b"")
    _send(rpc, morpho, f"borrow({market_params},uint256,uint256,address,address)", params, 8 * 10**17, 0, WALLET,
          WALLET)
    # Liquity v2: a trove of 4 WETH and 5,000 BOLD at 5 % a year on the WETH branch (owner index 0)
    branch = deployment.protocols["liquity_v2"]["branches"]["WETH"]
    _send(rpc, branch["coll_token"], "mint(address,uint256)", WALLET, 4 * 10**18)
    _send(rpc, branch["coll_token"], "approve(address,uint256)", branch["borrower_operations"], MAX)
    _send(rpc, branch["borrower_operations"],
          "openTrove(address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,address,address,address)",
          WALLET, 0, 4 * 10**18, 5_000 * 10**18, 0, 0, 5 * 10**16, MAX, WALLET, WALLET, WALLET)
    # Maker: an ETH-A urn of the wallet's own, 10 ETH locked, 5,000 DAI of normalized debt drawn
    eth_a = deployment.protocols["maker"]["ilks"]["ETH-A"]
    vat = deployment.contracts["Maker.Vat"]
    _send(rpc, eth_a["gem"], "mint(address,uint256)", WALLET, 10 * 10**18)
    _send(rpc, eth_a["gem"], "approve(address,uint256)", eth_a["join"], MAX)
    _send(rpc, eth_a["join"], "join(address,uint256)", WALLET, 10 * 10**18)
    _send(rpc, vat, "frob(bytes32,address,address,address,int256,int256)", b"ETH-A".ljust(32, b"\0"), WALLET, WALLET,
          WALLET, 10 * 10**18, 5_000 * 10**18)
    # Euler v2: 2 WETH deposited in the eWETH vault for sub-account 1, which borrows 2,000 USDC from eUSDC
    euler = deployment.protocols["euler_v2"]
    evc, e_weth, e_usdc = euler["evc"], deployment.contracts["EulerV2.eWETH"], deployment.contracts["EulerV2.eUSDC"]
    sub = to_checksum_address(f"0x{int(WALLET, 16) ^ 1:040x}")
    weth_token = euler["tokens"]["WETH"]["address"]
    _send(rpc, weth_token, "mint(address,uint256)", WALLET, 2 * 10**18)
    _send(rpc, weth_token, "approve(address,uint256)", e_weth, MAX)
    _send(rpc, e_weth, "deposit(uint256,address)", 2 * 10**18, sub)
    _send(rpc, evc, "enableCollateral(address,address)", sub, e_weth)
    _send(rpc, evc, "enableController(address,address)", sub, e_usdc)
    _send(rpc, evc, "call(address,address,uint256,bytes)", e_usdc, sub, 0,
          bytes.fromhex(encode_call("borrow(uint256,address)", 2_000 * 10**6, WALLET)[2:]))


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with Anvil() as node:
        deployment = stack.deploy(node.url)  # every protocol the default config names
        for kind in ("aave_v3", "morpho_blue", "liquity_v1", "liquity_v2", "euler_v2"):  # liquidity; other troves
            stack.devnet_module(kind).seed_devnet(node.url, deployment, 4)
        _open_everywhere(node.url, deployment)
        folder = tmp_path_factory.mktemp("everywhere")
        deployment.to_json(folder / "devnet.json")
        yield folder


def _config(folder: Path, db_url: str) -> Path:
    default = (Path(__file__).resolve().parents[2] / "config" / "default.toml").read_text()
    body = default.split("[chains.devnet]", 1)[1].replace('devnet = "data/devnet.json"',
                                                             f'devnet = "{folder / "devnet.json"}"')
    path = folder / f"config-{abs(hash(db_url))}.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n\n[chains.devnet]{body}')
    return path


async def test_one_wallet_on_every_protocol_riskiest_first_with_liquidation_prices(everywhere, db_url, engine):
    config = _config(everywhere, db_url)
    settings = load_settings(config)
    add_wallet(engine, address=WALLET, label="everywhere")
    await sync_once(settings, engine)
    # the points stored with each snapshot are the ones its protocol's rules give from its stored legs (each
    # protocol's own devnet test checks those against the protocol's view), every price dependency's
    views = list_positions(engine, wallet=WALLET)
    for view, rules, snapshot in stored_snapshots(engine, settings=settings, views=views):
        assert rules is not None and view.liquidations, view.market
        assert stored_points(view) == liquidation_prices(rules, snapshot), view.market

    env = {**os.environ, "INDEXER_CONFIG": str(config), "DATABASE_URL": db_url}
    shown = subprocess.run([sys.executable, "-X", "importtime", "-m", "indexer", "positions", "--wallet", WALLET,
                            "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    # shown from what is stored: no protocol's adapter is imported to show them
    assert [line for line in shown.stderr.splitlines() if line.endswith(".adapter")] == []
    rows = json.loads(shown.stdout)
    assert sorted(r["protocol"] for r in rows) == sorted(PROTOCOLS)
    assert all(r["owner"] == WALLET for r in rows)
    healths = [Decimal(r["health"]) for r in rows]
    assert healths == sorted(healths), "riskiest first"
    for r in rows:
        point = r["liquidation"]
        assert point is not None, r["market"]
        assert Decimal(point["distance"]) > 0 and point["direction"] in ("falling", "rising")
        moved = Decimal(point["current"]) - Decimal(point["price"])
        assert (moved > 0) is (point["direction"] == "falling")

    table = subprocess.run([sys.executable, "-m", "indexer", "positions", "--wallet", WALLET], env=env,
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    for r in rows:
        assert r["market"][:20] in table.stdout
        assert f"{r['liquidation']['symbol']} {'<' if r['liquidation']['direction'] == 'falling' else '>'}" \
            in table.stdout

    async with TestClient(TestServer(make_app(settings))) as client:
        response = await client.get("/v1/positions", params={"wallet": WALLET})
        assert response.status == 200
        items = (await response.json())["items"]
    assert [(i["market"], i["health"], i["liquidation"]) for i in items] == [
        (r["market"], r["health"], r["liquidation"]) for r in rows]


async def test_one_wallet_on_aave_a_hyperliquid_cross_account_and_a_gmx_short(everywhere, db_url, engine):
    """The lending positions above, a GMX v2 short (10× on ETH, USDC collateral) and a Hyperliquid cross account (a BTC
    long) on a loopback venue, for one wallet: `indexer positions --wallet W` shows them on one health scale, riskiest
    first, the perps each with side, size and a direction-aware liquidation price; `--side short` finds the GMX short
    alone; the API's `side` and `margin_mode` filters agree."""
    from indexer.devnet.deployment import Deployment as Loaded
    from indexer.protocols.gmx_v2 import devnet as gmx
    from tests.fixtures.hyperliquid_venue import Account, Asset, Held, HyperliquidVenue

    deployment = Loaded.from_json(everywhere / "devnet.json")
    rpc = JsonRpcClient(deployment.rpc_url)
    snapshot = rpc.call("evm_snapshot", [])
    venue = await HyperliquidVenue().start()
    try:
        record = gmx.gmx_record(deployment)
        eth, usdc = record["markets"]["ETH-USD"], record["tokens"]["USDC"]["address"]
        size = 20_000 * gmx.USD
        _send(rpc, record["contracts"][gmx.PREFIX + "DataStore"],
              "openPosition(address,address,address,bool,uint256,uint256,uint256)", WALLET, eth["market_token"], usdc,
              False, size, gmx.token_price(record, "WETH"), 2_000 * 10**6)  # a 10× short at today's price
        venue.assets = {"BTC": Asset("BTC", 5, Decimal("60000"), 40)}
        venue.accounts = {WALLET.lower(): Account(Decimal("-50000"), [Held("BTC", Decimal("1"), Decimal("58000"), 10)])}
        config = _config(everywhere, db_url)
        config.write_text(config.read_text() + f'\n[venues.hyperliquid]\nurl = "{venue.url}"\n\n'
                          '[markets.hl-main]\nchain = "hyperliquid"\nprotocol = "hyperliquid"\n')
        settings = load_settings(config)
        add_wallet(engine, address=WALLET, label="everywhere")
        await sync_once(settings, engine)

        env = {**os.environ, "INDEXER_CONFIG": str(config), "DATABASE_URL": db_url}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run([sys.executable, "-m", "indexer", "positions", "--wallet", WALLET, *args], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            return done

        rows = json.loads(cli("--json").stdout)
        by_protocol = {r["protocol"]: r for r in rows}
        assert {"aave_v3", "gmx_v2", "hyperliquid"} <= set(by_protocol), sorted(by_protocol)
        healths = [Decimal(r["health"]) for r in rows]
        assert healths == sorted(healths), "riskiest first, one scale for lending and perps"
        (short,) = by_protocol["gmx_v2"]["perps"]
        assert (short["side"], short["symbol"], short["margin_mode"], short["liquidates"]) == \
               ("short", "ETH", "isolated", "above")
        assert Decimal(short["liquidation_price"]) > Decimal(short["mark"])  # a short liquidates as the price rises
        (long,) = by_protocol["hyperliquid"]["perps"]
        assert (long["side"], long["size"], long["margin_mode"], long["liquidates"]) == \
               ("long", "1.00000", "cross", "below")
        assert Decimal(long["liquidation_price"]) < Decimal(long["mark"])
        # the venue's own verdict at the recomputed price: not liquidatable there, liquidatable one tick below
        venue.assets["BTC"].mark = Decimal(long["liquidation_price"])
        assert not venue.liquidatable(WALLET.lower())
        venue.assets["BTC"].mark -= Decimal(1)
        assert venue.liquidatable(WALLET.lower())

        table = cli().stdout
        assert "Perp positions" in table and "short" in table and "long" in table, table
        shorts = json.loads(cli("--side", "short", "--json").stdout)
        assert [r["protocol"] for r in shorts] == ["gmx_v2"]

        async with TestClient(TestServer(make_app(settings))) as client:
            response = await client.get("/v1/positions", params={"wallet": WALLET, "margin_mode": "isolated"})
            assert response.status == 200
            isolated = (await response.json())["items"]
            bad = await client.get("/v1/positions", params={"side": "sideways"})
            assert bad.status == 400
        # a trove or an urn carries its own collateral too: isolated; the Hyperliquid account and Aave's are cross
        assert "gmx_v2" in {i["protocol"] for i in isolated} and all(i["margin_mode"] == "isolated" for i in isolated)
        assert not {"aave_v3", "hyperliquid"} & {i["protocol"] for i in isolated}
    finally:
        await venue.stop()
        rpc.call("evm_revert", [snapshot])
