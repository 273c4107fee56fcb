"""The protocol registry: one line per protocol, each imported only when its kind is used."""

import subprocess
import sys

from indexer.protocols.registry import MODULES, all_sources, known_kinds, source_class


def test_every_line_names_a_class_of_its_own_kind():
    sources = all_sources()
    assert list(sources) == known_kinds() == list(MODULES)
    assert all(cls.kind == kind for kind, cls in sources.items())
    assert source_class("no_such_protocol") is None


def test_a_config_with_one_protocol_imports_that_protocol_alone(tmp_path):
    config = tmp_path / "one.toml"
    config.write_text('[database]\nurl = "sqlite:///x.db"\n[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n'
                      '[markets.m]\nchain = "eth"\nprotocol = "morpho_blue"\n'
                      'address = "0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb"\n'
                      'options = { market_id = "0x' + "ab" * 32 + '" }\n')
    probe = ("import sys; from indexer.settings import load_settings; load_settings(sys.argv[1]); "
             "print(sorted(m.split('.')[2] for m in sys.modules if m.startswith('indexer.protocols.') "
             "and m.endswith('.adapter')))")
    done = subprocess.run([sys.executable, "-c", probe, str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['morpho_blue']"
