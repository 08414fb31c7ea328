"""The house plan's rule "imports flow one way", checked by import-linter's contracts in
pyproject.toml ([tool.importlinter]): layers, formats importing nothing of ours, the approval
engine importing no workflow, workflow domains independent of each other."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bingan"
# The shared core of records/ (the approval engine, completeness rules and self-checks, version
# comparison); every other package there is a workflow domain.
SHARED = {"approvals", "completeness", "notices", "versions"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _layered_modules() -> set[str]:
    layers = _contracts()["layers"]["layers"]
    return {name.strip().strip("()") for layer in layers for name in layer.replace(":", "|").split("|")}


def test_the_import_contracts_are_kept():
    lint = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_every_top_level_module_of_bingan_has_its_layer():
    top = {f"bingan.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    top |= {f"bingan.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}
    assert top - _layered_modules() == set()


def test_every_workflow_domain_is_in_the_workflow_contracts():
    """A new package under records/ (sealing, recall, qc…) joins both lists, or nothing checks it."""
    workflows = {f"bingan.records.{path.parent.name}" for path in (PACKAGE / "records").glob("*/__init__.py")
                 if path.parent.name not in SHARED}
    contracts = _contracts()
    assert workflows <= set(contracts["approval-engine-knows-no-workflow"]["forbidden_modules"])
    assert workflows <= set(contracts["workflows-independent"]["modules"])
