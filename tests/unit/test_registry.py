"""The protocol registry: one line per protocol, each package naming its source class, transport and options
model, its adapter imported only when a market of its kind is built."""

import subprocess
import sys

import pytest

from indexer.protocols.registry import MODULES, all_sources, known_kinds, protocol_spec, source_class


def test_every_line_names_a_class_of_its_own_kind_and_its_package_says_what_the_class_does():
    sources = all_sources()
    assert list(sources) == known_kinds() == list(MODULES)
    assert all(cls.kind == kind for kind, cls in sources.items())
    for kind, cls in sources.items():
        spec = protocol_spec(kind)
        assert spec is not None and (spec.transport, spec.options) == (cls.transport, cls.options), kind
    assert source_class("no_such_protocol") is None and protocol_spec("no_such_protocol") is None


def _adapters_imported(config: str | None) -> str:
    """The protocol adapters a fresh interpreter has imported once settings are loaded from ``config`` (None: the
    shipped default, every protocol in it), then once the market ``m`` (if configured) has its source built."""
    probe = ("import sys; from indexer.settings import load_settings; s = load_settings(sys.argv[1] or None); "
             "seen = lambda: sorted(m.split('.')[2] for m in sys.modules if m.startswith('indexer.protocols.') "
             "and m.endswith('.adapter')); print(seen()); from indexer.protocols.registry import source_class; "
             "[source_class(m.protocol) for k, m in s.markets.items() if k == 'm']; print(seen())")
    done = subprocess.run([sys.executable, "-c", probe, config or ""], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_settings_load_without_any_adapter_and_a_market_imports_its_own_alone(tmp_path):
    config = tmp_path / "one.toml"
    config.write_text('[database]\nurl = "sqlite:///x.db"\n[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n'
                      '[markets.m]\nchain = "eth"\nprotocol = "morpho_blue"\n'
                      'address = "0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb"\n'
                      'options = { market_id = "0x' + "ab" * 32 + '" }\n')
    assert _adapters_imported(str(config)).split("\n")[:2] == ["[]", "['morpho_blue']"]
    assert _adapters_imported(None).split("\n")[0] == "[]"  # the shipped default names every protocol


def test_options_are_still_checked_without_the_adapter(tmp_path):
    from indexer.errors import ConfigError
    from indexer.settings import load_settings

    config = tmp_path / "bad.toml"
    config.write_text('[database]\nurl = "sqlite:///x.db"\n[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n'
                      '[markets.m]\nchain = "eth"\nprotocol = "morpho_blue"\n'
                      'address = "0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb"\noptions = { market_id = "0x12" }\n')
    with pytest.raises(ConfigError, match="market 'm': options: market_id"):
        load_settings(config)
