"""Web per domain (issue 12): each web package's views.py (HTML) and api.py (JSON) call the same
service functions and never import each other; there is no catch-all web/api package any more."""
from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "bingan" / "web"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_views_and_api_of_a_web_domain_never_import_each_other():
    crossing = []
    for package in sorted(p for p in WEB.iterdir() if (p / "api.py").exists() and (p / "views.py").exists()):
        module = f"bingan.web.{package.name}"
        if f"{module}.views" in _imports(package / "api.py"):
            crossing.append(f"{module}.api → views")
        if f"{module}.api" in _imports(package / "views.py"):
            crossing.append(f"{module}.views → api")
    assert crossing == []


def test_the_json_api_lives_in_the_domains():
    assert not (WEB / "api").exists()
