"""The shipped monitoring against real parts: `indexer run` and `indexer serve` follow and serve the session devnet,
a real Prometheus (Debian's package; `./dev test` installs it) scrapes both, `promtool` passes their expositions
and the shipped rules, histogram_quantile works on the health histogram, and every metric the shipped Grafana
dashboard and rules query is one the processes export."""

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from indexer.paths import source_checkout
from indexer.store.wallet_store import add_wallet

pytestmark = pytest.mark.one_database("sqlite")
DEPLOY = (source_checkout() or Path(".")) / "deploy"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: install Debian's `prometheus` package (./dev test does, as root)"
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def wait_until(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s")


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([tool("promtool"), *args], input=stdin, capture_output=True, timeout=60)


def test_the_shipped_rules_and_config_pass_promtool():
    rules = promtool("check", "rules", str(DEPLOY / "prometheus" / "rules.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr


def test_prometheus_scrapes_run_and_serve(devnet, chain_state, write_devnet_config, engine, tmp_path):
    tracked = [a.address for a in devnet.accounts[:3]]
    for address in tracked:
        add_wallet(engine, address=address)
    config = write_devnet_config(chain="poll_interval = 0.2\n")
    run_port, serve_port, prom_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env.update(INDEXER_CONFIG=str(config), INDEXER__RUN__LISTEN=f"127.0.0.1:{run_port}",
               INDEXER__API__POSITION_SERIES="5")
    processes = [subprocess.Popen([sys.executable, "-m", "indexer", *args], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
                 for args in (["run"], ["serve", "--port", str(serve_port)])]
    prometheus = None
    try:
        run_metrics, serve_metrics = f"http://127.0.0.1:{run_port}/metrics", f"http://127.0.0.1:{serve_port}/metrics"
        wait_until(lambda: b"indexer_run_chain_stored_block{" in get(run_metrics)[1], "a stored block in run")
        wait_until(lambda: get(serve_metrics)[0] == 200, "serve's /metrics")
        bodies = {}
        for name, url in (("run", run_metrics), ("serve", serve_metrics)):
            status, body = get(url)
            assert status == 200
            checked = promtool("check", "metrics", stdin=body)
            assert checked.returncode == 0, (name, checked.stdout + checked.stderr)
            bodies[name] = body.decode()
        assert "indexer_rpc_requests_total{" in bodies["run"] and 'outcome="ok"' in bodies["run"]
        assert "indexer_block_phase_seconds_bucket{" in bodies["run"]
        assert 'indexer_position_health_bucket{chain="devnet"' in bodies["serve"]

        exported = set(re.findall(r"^(indexer_\w+)", bodies["run"] + bodies["serve"], re.M))
        suffixes = {"counter": ("", "_total"), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
        for name, kind in re.findall(r"^# TYPE (indexer_\w+) (\w+)", bodies["run"] + bodies["serve"], re.M):
            # declared, if not observed yet
            exported |= {name.removesuffix("_total") + suffix for suffix in suffixes.get(kind, ("",))}
        dashboard = json.loads((DEPLOY / "grafana" / "position-health-indexer.json").read_text())
        queried = {name for panel in dashboard["panels"] for target in panel["targets"]
                   for name in re.findall(r"indexer_\w+", target["expr"])}
        queried |= set(re.findall(r"indexer_\w+", (DEPLOY / "prometheus" / "rules.yml").read_text()))
        assert queried and queried <= exported, f"queried but never exported: {sorted(queried - exported)}"

        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{json.dumps(str(DEPLOY / 'prometheus' / 'rules.yml'))}]\n"
            "scrape_configs:\n"
            f"  - {{job_name: indexer-run, static_configs: [{{targets: ['127.0.0.1:{run_port}']}}]}}\n"
            f"  - {{job_name: indexer-serve, static_configs: [{{targets: ['127.0.0.1:{serve_port}']}}]}}\n")
        prometheus = subprocess.Popen([tool("prometheus"), f"--config.file={prom_config}",
                                       f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                       f"--web.listen-address=127.0.0.1:{prom_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = f"http://127.0.0.1:{prom_port}/api/v1"

        def targets_up():
            status, body = get(f"{api}/targets")
            if status != 200:
                return None
            active = json.loads(body)["data"]["activeTargets"]
            health = {t["labels"]["job"]: t["health"] for t in active}
            return health if health == {"indexer-run": "up", "indexer-serve": "up"} else None

        wait_until(targets_up, "both targets up in Prometheus")

        def query(expr: str):
            status, body = get(f"{api}/query?query={urllib.parse.quote(expr)}")
            assert status == 200, body
            return json.loads(body)["data"]["result"]

        builds = wait_until(lambda: query("indexer_build_info"), "indexer_build_info in Prometheus")
        assert {r["metric"]["job"] for r in builds} == {"indexer-run", "indexer-serve"}
        median = wait_until(lambda: query('histogram_quantile(0.5, sum by (le) (indexer_position_health_bucket))'),
                            "a health quantile")
        assert 0 < float(median[0]["value"][1]) < float("inf")
        series = wait_until(lambda: query("indexer_tracked_position_health"), "tracked position series")
        assert {r["metric"]["wallet"] for r in series} <= set(tracked) and len(series) <= 5
    finally:
        for process in [*processes, *([prometheus] if prometheus else [])]:
            process.terminate()
        for process in [*processes, *([prometheus] if prometheus else [])]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
