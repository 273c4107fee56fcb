"""The seams, checked on the source: the store knows neither alerts, protocols nor the pipeline; a protocol
package knows no other protocol (a protocol family's shared math, e.g. ``indexer.protocols.aave_math``, is a
module beside them, not a package); nothing outside a protocol's package imports its internals except the
registry, its tests and the devnet wiring."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "indexer"
SHARED = {"indexer.protocols.base", "indexer.protocols.aave_math"}  # modules every protocol may import


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "store").glob("*.py")), ids=lambda p: p.name)
def test_the_store_imports_no_alerts_protocols_or_pipeline(path):
    bad = {m for m in imports(path) if m.startswith(("indexer.alerts", "indexer.protocols", "indexer.pipeline"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_protocol_packages_are_self_contained():
    packages = [p for p in (ROOT / "protocols").iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert {p.name for p in packages} >= {"aave_v3", "morpho_blue"}
    for package in packages:
        for path in package.rglob("*.py"):
            others = {m for m in imports(path) if m.startswith("indexer.protocols.")
                      and not m.startswith(f"indexer.protocols.{package.name}") and m not in SHARED}
            assert not others, f"{path} imports another protocol: {sorted(others)}"


def test_only_the_registry_names_protocol_packages():
    for path in ROOT.rglob("*.py"):
        if "protocols" in path.parts:
            continue
        named = {m for m in imports(path) if m.startswith("indexer.protocols.")
                 and m not in ("indexer.protocols.base", "indexer.protocols.registry")}
        assert not named, f"{path.relative_to(ROOT)} imports {sorted(named)}"
