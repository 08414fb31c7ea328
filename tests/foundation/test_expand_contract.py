"""Migrations keep the previous release working during a deploy (T5, docs/operations.md "Expand,
then contract"): while the new release migrates and its processes roll in, the old processes still
run their queries against the new schema. So an upgrade() only adds — tables, nullable columns or
columns with a server default, indexes — unless the migration says it is a contract step
(``CONTRACT = "…"``, shipped a release after the code stopped using what it removes).

The old release's code is not at hand in a test run, so this reads the migrations rather than
running old queries; every upgrade() so far is additive (one index dropped, which no query needs)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parents[2] / "bingan" / "storage" / "migrations" / "versions"
BREAKING = {"drop_column", "drop_table", "rename_table", "alter_column", "drop_constraint", "create_primary_key"}


def _upgrade(path: Path) -> tuple[ast.FunctionDef, bool]:
    tree = ast.parse(path.read_text())
    contract = any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CONTRACT" for t in node.targets)
                   for node in tree.body)
    upgrade = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade")
    return upgrade, contract


def problems(path: Path) -> list[str]:
    upgrade, contract = _upgrade(path)
    found = []
    for node in ast.walk(upgrade):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr in BREAKING and not contract:
            found.append(f"{node.func.attr}: {ast.unparse(node)[:100]}")
        if node.func.attr == "add_column":
            column = next((arg for arg in node.args if isinstance(arg, ast.Call)), None)
            keywords = {k.arg: k.value for k in column.keywords} if column is not None else {}
            not_null = isinstance(keywords.get("nullable"), ast.Constant) and keywords["nullable"].value is False
            if not_null and "server_default" not in keywords:
                found.append(f"NOT NULL column without a server default: {ast.unparse(node)[:100]}")
    return found


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("[0-9]*.py")), ids=lambda p: p.stem)
def test_every_migration_only_expands_the_schema(path):
    assert problems(path) == []


def test_the_check_sees_a_dropped_column_and_a_bare_not_null_column(tmp_path):
    bad = tmp_path / "9999_bad.py"
    bad.write_text("def upgrade():\n"
                   "    op.drop_column('records', 'title')\n"
                   "    with op.batch_alter_table('users') as batch:\n"
                   "        batch.add_column(sa.Column('x', sa.Integer(), nullable=False))\n"
                   "def downgrade():\n    op.drop_table('records')\n")
    assert [problem.split(":")[0] for problem in problems(bad)] == [
        "drop_column", "NOT NULL column without a server default"]
    bad.write_text("CONTRACT = 'records.title unused since 0031'\n" + bad.read_text().replace(
        "nullable=False", "nullable=False, server_default='0'"))
    assert problems(bad) == []
