"""The CLI as people use it: bulk wallet import/export (all or nothing), --version, global options after the
subcommand, case-insensitive devnet symbols, and aging the devnet's feeds with `devnet warp`."""

import json
import subprocess
import sys

import pytest

import indexer

pytestmark = pytest.mark.one_database("sqlite")

A = "0x1111111111111111111111111111111111111111"
B = "0x2222222222222222222222222222222222222222"


def run(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "indexer", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


def exported(env):
    result = run(env, "wallets", "export", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_wallets_import_and_export_round_trip(cli_env, tmp_path):
    listing = tmp_path / "wallets.csv"
    listing.write_text(f"address,label,warn,critical\n{A},treasury,1.3,1.1\n{B.upper().replace('0X', '0x')},,,\n")
    result = run(cli_env, "wallets", "import", str(listing))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2 wallets (2 new, 0 updated)"
    assert exported(cli_env) == [{"address": A, "label": "treasury", "warn": "1.3", "critical": "1.1"},
                                 {"address": B}]

    csv_out = run(cli_env, "wallets", "export").stdout
    again = run(cli_env, "wallets", "import", "-", stdin=csv_out)
    assert again.returncode == 0 and again.stdout.strip() == "imported 2 wallets (0 new, 2 updated)"

    plain = run(cli_env, "wallets", "import", "-", stdin=json.dumps(["0x" + "33" * 20]))
    assert plain.returncode == 0, plain.stderr
    assert len(exported(cli_env)) == 3


def test_one_bad_row_imports_nothing(cli_env, tmp_path):
    listing = tmp_path / "wallets.csv"
    listing.write_text(f"address,label\n{A},a\n{B},b\n0x12345,c\n")
    result = run(cli_env, "wallets", "import", str(listing))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "line 4" in lines[0], result.stderr
    assert exported(cli_env) == []
    levels = run(cli_env, "wallets", "import", "-", stdin=json.dumps([{"address": A, "warn": 1.1, "critical": 1.2}]))
    assert levels.returncode == 1 and "critical must not be above warn" in levels.stderr
    assert exported(cli_env) == []


def test_version_and_options_after_the_subcommand(cli_env, tmp_path):
    version = run(cli_env, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"indexer {indexer.__version__}"
    other = tmp_path / "missing.toml"
    late = run(cli_env, "wallets", "list", "--config", str(other))
    assert late.returncode == 1 and f"config file {other} not found" in late.stderr
    verbose = run(cli_env, "positions", "-v", "--log-format", "json")
    assert verbose.returncode == 0, verbose.stderr


def test_devnet_price_takes_any_case_and_warp_ages_the_chain(devnet, chain_state, cli_env):
    price = run(cli_env, "devnet", "price", "weth", "1500")
    assert price.returncode == 0, price.stderr
    assert price.stdout.strip() == "WETH feed now answers 1500 USD"
    before = int(devnet.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    warp = run(cli_env, "devnet", "warp", "7200")
    assert warp.returncode == 0, warp.stderr
    after = int(devnet.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    assert after >= before + 7200
    assert str(after) in warp.stdout
    unknown = run(cli_env, "devnet", "price", "nope", "1")
    assert unknown.returncode == 1 and "no devnet reserve 'nope'" in unknown.stderr


def test_tables_fit_an_80_column_terminal(devnet, chain_state, cli_env, tmp_path):
    """`positions` and `oracles` in a real terminal (tmux) 80 columns wide: no row wraps; the columns that did not
    fit are named under the table."""
    listing = "\n".join(a.address for a in devnet.accounts)
    assert run(cli_env, "wallets", "import", "-", stdin=listing).returncode == 0
    synced = run(cli_env, "sync")
    assert synced.returncode == 0, synced.stderr
    session = f"indexer-test-{tmp_path.name}"[:60]
    env = {k: v for k, v in cli_env.items() if k not in ("COLUMNS", "LINES")}
    out = tmp_path / "pane.txt"
    script = tmp_path / "show.sh"
    script.write_text(f"{sys.executable} -m indexer positions; {sys.executable} -m indexer oracles; "
                      f"touch {tmp_path / 'done'}; sleep 60\n")
    subprocess.run(["tmux", "-L", session, "new-session", "-d", "-x", "80", "-y", "400", "-s", session,
                    f"bash {script}"], env=env, check=True, timeout=30)
    try:
        for _ in range(600):
            if (tmp_path / "done").exists():
                break
            __import__("time").sleep(0.1)
        assert (tmp_path / "done").exists(), "the commands did not finish in the terminal"
        pane = subprocess.run(["tmux", "-L", session, "capture-pane", "-p", "-J", "-S", "-", "-t", session],
                              capture_output=True, text=True, check=True, timeout=30).stdout
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True, timeout=30)
    out.write_text(pane)
    lines = [line.rstrip() for line in pane.splitlines()]
    assert max(len(line) for line in lines) <= 80, f"a wrapped row (joined by tmux) in {out}"
    assert any(line.startswith("Positions, riskiest first") for line in lines)
    assert any(line.startswith("Oracle feeds at the latest stored block") for line in lines)
    rows = [line for line in lines if line.startswith("│") and "0x" in line]
    assert len(rows) >= len(devnet.accounts)  # every position is one line
    assert any("left out to fit 80 columns" in line for line in lines)
