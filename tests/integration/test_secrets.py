"""No secret in any output: a malformed RPC URL is refused at start-up with one line that shows it redacted,
and the API's access log never carries a query string."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web

from indexer.api.app import AccessLogger

SECRET = "k3yS3cr3t0000"
BAD_URLS = {
    "no scheme": f"eth.example.org/v2/{SECRET}",
    "bad port": f"https://eth.example.org:99999/v2/{SECRET}",
    "port not a number": f"https://eth.example.org:80a/v2/{SECRET}",
    "broken IPv6 literal": f"https://[2001:db8::1/v2/{SECRET}",
    "whitespace": f"https://eth.example.org/v2/ {SECRET}",
    "wrong scheme": f"ftp://eth.example.org/{SECRET}",
}


@pytest.mark.parametrize("case", BAD_URLS)
def test_a_malformed_rpc_url_is_refused_in_one_line_without_its_key(case, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/x.db"\n\n[chains.eth]\nchain_id = 1\n'
                      f'rpc_urls = ["{BAD_URLS[case]}"]\n')
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    done = subprocess.run([sys.executable, "-m", "indexer", "--config", str(config), "sync"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert SECRET not in out, out
    assert "Traceback" not in out and out.strip().count("\n") == 0, out
    assert "chains.eth.rpc_urls: " in out and "is not a usable URL" in out, out
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


async def test_the_access_log_never_carries_the_query_string(caplog):
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/v1/positions", ok)
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/v1/positions?token={SECRET}&limit=5"
        with caplog.at_level(logging.INFO, logger="aiohttp.access"):
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert lines and "GET /v1/positions 200" in lines[0]
    assert all(SECRET not in line and "token" not in line for line in lines)
