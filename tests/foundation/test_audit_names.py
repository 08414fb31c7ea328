"""Every audit event Bingan writes has a Chinese name, so the audit viewer, its export and the
record timeline never show an internal code (issue 10: 审计日志中文可读)."""
from __future__ import annotations

import ast
from pathlib import Path

from bingan.access.audit_names import ACTION_NAMES

PACKAGE = Path(__file__).resolve().parents[2] / "bingan"


def _written_actions() -> dict[str, str]:
    """action literal -> where it is written: record_event(session, actor, "…"), ctx.audit("…")."""
    found: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            position = {"record_event": 2, "audit": 0}.get(name or "")
            if position is None or len(node.args) <= position:
                continue
            argument = node.args[position]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.setdefault(argument.value, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_the_scan_finds_the_events_it_should():
    assert {"login", "archive.sign", "copy.pay", "scan.capture"} <= set(_written_actions())


def test_every_written_audit_event_has_a_chinese_name():
    unnamed = {action: where for action, where in _written_actions().items() if action not in ACTION_NAMES}
    assert unnamed == {}
