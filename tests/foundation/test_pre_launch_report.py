"""The pre-launch report builder (scripts/report.py, `make report`): from a small JUnit file and scan
outputs it writes every section, counts per package, names failures, and says plainly when the
vulnerability scan could not reach its advisory service."""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import report  # noqa: E402

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="6">
<testcase classname="tests.web.test_api_fuzz" name="test_no_server_error[GET /api/v1/records]" time="1.5"/>
<testcase classname="tests.web.test_api_fuzz" name="test_no_server_error[POST /api/v1/exports]" time="1.0">
  <failure message="500 on POST /api/v1/exports">Traceback…</failure></testcase>
<testcase classname="tests.web.test_authorisation_matrix"
  name="test_matrix_of_routes_and_record_states_for_each_role[qc]" time="9"/>
<testcase classname="tests.records.borrowing.test_borrowing_spec" name="test_return_closes_the_borrowing" time="0.2"/>
<testcase classname="tests.records.borrowing.test_borrowing_spec" name="test_on_postgres" time="0.0">
  <skipped message="PostgreSQL not available here" type="pytest.skip"/></testcase>
<testcase classname="tests.storage.test_backup" name="test_backup_set" time="0.3">
  <error message="fixture broke"/></testcase>
</testsuite></testsuites>"""

BENCH = """# Benchmarks

Intro prose that is not a table.

## Backup and restore (bench/backup.py)

Measured 2026-12-01 on the shared machine:

| run | full | incremental |
|---|---|---|
| 1 | 12.0 s | 0.9 s |

More prose.
"""

BANDIT = {"metrics": {"_totals": {"loc": 1234}}, "errors": [], "results": [
    {"issue_severity": "HIGH", "issue_confidence": "HIGH", "test_id": "B602", "test_name": "subprocess_shell",
     "filename": str(ROOT / "bingan" / "x.py"), "line_number": 7, "issue_text": "shell=True"},
    {"issue_severity": "LOW", "issue_confidence": "HIGH", "test_id": "B101", "test_name": "assert_used",
     "filename": str(ROOT / "bingan" / "y.py"), "line_number": 3, "issue_text": "assert"},
]}
UNREACHABLE = {"dependencies": [
    {"name": "fastapi", "skip_reason": "Dependency not found on PyPI and could not be audited: fastapi (0.1)"},
    {"name": "celery", "skip_reason": "Dependency not found on PyPI and could not be audited: celery (5.7)"},
], "fixes": []}
MATRIX = (["sysadmin", "archivist"], [("GET", "/admin/status", "perm:system.status", ["✓", "—"])])


def _build(tmp_path: Path, audit: dict | None) -> str:
    (tmp_path / "junit.xml").write_text(JUNIT)
    (tmp_path / "bandit.json").write_text(json.dumps(BANDIT))
    if audit is not None:
        (tmp_path / "pip-audit.json").write_text(json.dumps(audit))
    run = report.read_junit(tmp_path / "junit.xml")
    return report.build_html(run, bench=report.bench_markdown(BENCH),
                             audit=report.audit_summary(tmp_path / "pip-audit.json", "Name or service not known"),
                             bandit=report.bandit_summary(tmp_path / "bandit.json"), matrix=MATRIX,
                             generated=datetime(2026, 12, 7, tzinfo=UTC))


def test_counts_are_per_package_of_the_tests_folder(tmp_path):
    (tmp_path / "junit.xml").write_text(JUNIT)
    packages = report.read_junit(tmp_path / "junit.xml").by_package()
    assert {name: dict(counts) for name, counts in packages.items()} == {
        "tests/records/borrowing": {"passed": 1, "skipped": 1},
        "tests/storage": {"error": 1},
        "tests/web": {"passed": 2, "failed": 1},
    }


def test_the_report_has_every_section(tmp_path):
    page = _build(tmp_path, UNREACHABLE)
    for key, title in report.SECTIONS:
        assert f"<section id='{key}'><h2>{title}</h2>" in page


def test_failures_and_errors_are_named_with_their_message(tmp_path):
    page = _build(tmp_path, UNREACHABLE)
    assert "2 个测试未通过" in page
    assert "web.test_api_fuzz::test_no_server_error[POST /api/v1/exports]" in page
    assert "500 on POST /api/v1/exports" in page and "fixture broke" in page


def test_benchmark_tables_keep_their_heading_and_date_but_not_the_prose(tmp_path):
    page = _build(tmp_path, UNREACHABLE)
    assert "<h3>Backup and restore (bench/backup.py)</h3>" in page
    assert "Measured 2026-12-01 on the shared machine" in page
    assert "<td>12.0 s</td>" in page
    assert "Intro prose" not in page


def test_bandit_findings_are_counted_by_severity_and_the_high_ones_listed(tmp_path):
    page = _build(tmp_path, UNREACHABLE)
    assert "<tr><td>HIGH</td><td>1</td></tr>" in page and "<tr><td>LOW</td><td>1</td></tr>" in page
    assert "bingan/x.py:7" in page and "bingan/y.py:3" not in page


def test_an_unreachable_advisory_service_is_said_not_taken_for_a_clean_scan(tmp_path):
    page = _build(tmp_path, UNREACHABLE)
    assert "漏洞库答复了 0 个" in page and "不能</b>证明依赖没有已知漏洞" in page
    assert "没有已知漏洞。" not in page.replace("不能</b>证明依赖没有已知漏洞", "")


def test_a_scan_that_never_ran_says_why(tmp_path):
    page = _build(tmp_path, None)
    assert "未能运行 pip-audit：Name or service not known" in page


def test_a_vulnerable_dependency_is_listed_with_its_fix(tmp_path):
    audit = {"dependencies": [{"name": "jinja2", "version": "3.1.0", "vulns": [
        {"id": "GHSA-xxxx", "fix_versions": ["3.1.5"]}]}, {"name": "celery", "version": "5.7", "vulns": []}]}
    page = _build(tmp_path, audit)
    assert "<td>jinja2</td><td>3.1.0</td><td>GHSA-xxxx</td><td>3.1.5</td>" in page


def test_the_robustness_and_matrix_sections_read_their_tests_from_the_results(tmp_path):
    page = _build(tmp_path, UNREACHABLE)
    fuzz = page.split("<section id='fuzz'>")[1].split("</section>")[0]
    assert "<tr><td>web.test_api_fuzz</td><td>2</td><td>1</td>" in fuzz
    matrix = page.split("<section id='matrix'>")[1].split("</section>")[0]
    assert "test_matrix_of_routes_and_record_states_for_each_role[qc]" in matrix
    assert "<td>/admin/status</td><td>perm:system.status</td><td>✓</td><td>—</td>" in matrix


def test_the_matrix_is_generated_from_the_route_table_and_role_defaults():
    roles, rows = report.authorisation_matrix()
    cells = {(method, path): dict(zip(roles, row, strict=True)) for method, path, _rule, row in rows}
    assert cells[("GET", "/admin/status")]["sysadmin"] == "✓"
    assert cells[("GET", "/admin/status")]["clinician"] == "—"
    assert set(cells[("GET", "/login")].values()) == {"✓"}
