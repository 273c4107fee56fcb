"""`indexer alerts …` as a user runs it, against a real loopback receiver."""

import asyncio
import json
import sys

from indexer.devnet import set_price
from indexer.settings import load_settings
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once


async def run(env, *args):
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "indexer", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode, out.decode(), err.decode()


def channels(url):
    return (f'[channels.hook]\nkind = "webhook"\nbase_url = "{url}/hook"\nsecret_env = "CLI_HOOK_SECRET"\n'
            f'[channels.chat]\nkind = "telegram"\nbase_url = "{url}"\ntoken_env = "CLI_TG_TOKEN"\nchat_id = "42"\n')


async def test_alerts_list_deliveries_and_test(devnet, chain_state, write_devnet_config, engine, cli_env,
                                               receiver, monkeypatch):
    monkeypatch.setenv("CLI_HOOK_SECRET", "s")
    monkeypatch.setenv("CLI_TG_TOKEN", "123:SECRET")
    env = {**cli_env, "CLI_HOOK_SECRET": "s", "CLI_TG_TOKEN": "123:SECRET"}
    config = write_devnet_config(tail=channels(receiver.url), name="alerts")
    env["INDEXER_CONFIG"] = str(config)

    code, out, err = await run(env, "alerts", "test", "chat")
    assert code == 0, err
    assert "chat: delivered (HTTP 200)" in out
    (request,) = receiver.requests
    assert request.path == "/bot123:SECRET/sendMessage" and "TEST" in request.json()["text"]
    assert "SECRET" not in out + err

    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"] // 2)
    await sync_once(load_settings(config), engine)

    code, out, err = await run(env, "alerts", "--open", "--json")
    alerts = json.loads(out)
    assert code == 0 and alerts and all(a["status"] == "open" for a in alerts)
    assert {d["channel"] for a in alerts for e in a["events"] for d in e["deliveries"]} == {"hook", "chat"}

    receiver.always(400)  # every channel now refuses for good: the rows fail, visibly
    code, out, err = await run(env, "alerts", "dispatch", "--once")
    assert code == 0, err
    code, out, err = await run(env, "alerts", "deliveries", "--failed", "--json")
    failed = json.loads(out)
    assert failed and all(d["status"] == "failed" and "400" in d["last_error"] for d in failed)
    assert all("SECRET" not in (d["last_error"] or "") for d in failed)
    code, out, err = await run(env, "alerts", "deliveries", "--failed")
    assert code == 0 and "failed" in out

    code, out, err = await run(env, "alerts", "test", "nope")
    assert code == 1 and err.strip() == "error: no channel 'nope' (channels: chat, hook)"
