"""`make report`: the pre-launch test report (T10) in report/, as HTML and as PDF (headless chromium).

Steps (each writes its raw output into report/ beside the report, so a reviewer can check it):
  1. the test suite with a JUnit XML file (a failing test does not stop the report: it is in it);
  2. bandit over bingan/ (static security analysis), JSON;
  3. pip-audit over the installed dependencies (needs the advisory service on the network; when it
     cannot be reached the section says so instead of failing);
  4. the builder: test counts per package and the failures, the benchmark tables of
     bench/README.md, both scans summarised, the fuzzing tests' results and the authorisation
     matrix (route × role, generated from the route table and the role defaults the matrix test
     reads) with the matrix test's outcome per role;
  5. the PDF, printed by chromium through Playwright.

`python scripts/report.py --no-tests` rebuilds from the JUnit file already in report/.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's bingan, whichever one the venv has installed
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
AUDIT_TIMEOUT = 300


# ---- test results (JUnit XML) ---------------------------------------------------------------

@dataclass
class Case:
    package: str
    module: str
    name: str
    outcome: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""


@dataclass
class TestRun:
    cases: list[Case] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(case.outcome for case in self.cases)

    def by_package(self) -> dict[str, Counter]:
        packages: dict[str, Counter] = defaultdict(Counter)
        for case in self.cases:
            packages[case.package][case.outcome] += 1
        return dict(sorted(packages.items()))

    def problems(self) -> list[Case]:
        return [case for case in self.cases if case.outcome in ("failed", "error")]


def read_junit(path: Path) -> TestRun:
    """Every <testcase> of the file; the package is the tests/ folder its module lives in."""
    run = TestRun()
    for element in ET.parse(path).getroot().iter("testcase"):
        classname = element.get("classname", "")
        parts = classname.split(".")
        if parts and parts[0] == "tests":
            parts = parts[1:]
        modules = [i for i, part in enumerate(parts) if part.startswith("test_")]
        cut = modules[0] if modules else len(parts) - 1
        package = "tests/" + "/".join(parts[:cut]) if cut > 0 else "tests"
        module = ".".join(parts[: cut + 1]) if parts else classname
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = element.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (found.get("message") or found.text or "").strip()
                break
        run.cases.append(Case(package, module, element.get("name", ""), outcome,
                              float(element.get("time") or 0), message))
    return run


# ---- scans ---------------------------------------------------------------------------------

def bandit_summary(path: Path) -> dict:
    """Findings by severity (and confidence), the high and medium ones listed."""
    if not path.exists():
        return {"ran": False}
    data = json.loads(path.read_text())
    results = data.get("results", [])
    severity = Counter(item["issue_severity"] for item in results)
    listed = [item for item in results if item["issue_severity"] in ("HIGH", "MEDIUM")]
    listed.sort(key=lambda item: (item["issue_severity"] != "HIGH", item["filename"], item["line_number"]))
    return {"ran": True, "severity": severity, "lines": data.get("metrics", {}).get("_totals", {}).get("loc", 0),
            "listed": listed, "errors": data.get("errors", [])}


def audit_summary(path: Path, stderr: str = "") -> dict:
    """Known vulnerabilities per package; ``audited`` counts the packages the service could answer
    for (none when the advisory service was unreachable: then the scan proves nothing)."""
    if not path.exists() or not path.read_text().strip():
        return {"ran": False, "why": stderr.strip()[-800:] or "pip-audit 未运行"}
    data = json.loads(path.read_text())
    dependencies = data.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    return {"ran": True, "total": len(dependencies), "audited": len(dependencies) - len(skipped),
            "skipped": skipped, "vulnerable": vulnerable, "why": stderr.strip()[-800:]}


# ---- benchmark tables ------------------------------------------------------------------------

def bench_markdown(text: str) -> str:
    """Headings and tables of bench/README.md, with the line naming each table's run and date."""
    kept: list[str] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("#"):
            kept += ["", "#" + line, ""]  # one level down: the report's own headings come first
        elif line.startswith("|"):
            if not (number and lines[number - 1].startswith("|")):
                caption = _caption(lines, number)
                kept += ["", *([f"*{caption}*", ""] if caption else [])]
            kept.append(line)
    return "\n".join(kept).strip()


def _caption(lines: list[str], number: int) -> str:
    """The paragraph line above a table that says when it was measured, if there is one."""
    for back in range(number - 1, max(number - 6, -1), -1):
        if lines[back].startswith(("Measured", "测量", "Generated")):
            return lines[back].strip()
        if lines[back].startswith(("#", "|")):
            break
    return ""


def markdown_html(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


# ---- authorisation matrix -----------------------------------------------------------------

def authorisation_matrix() -> tuple[list[str], list[tuple[str, str, str, list[str]]]]:
    """(roles, rows of (method, path, rule, cells)) from the application's route table and the role
    defaults: the same data tests/web/test_authorisation_matrix.py judges every answer by."""
    from bingan.access.permissions import ACTION_RULES, ROLE_DEFAULTS
    from bingan.config import Settings
    from bingan.web.app import create_app
    from bingan.web.routes import route_table

    with tempfile.TemporaryDirectory() as home:  # an empty home: the app is built, never served
        table = route_table(create_app(Settings(home=Path(home))))
    roles = list(ROLE_DEFAULTS)
    rows = []
    for rule in table:
        if rule.kind == "framework":
            continue
        for method in rule.methods:
            if method == "HEAD":
                continue
            rows.append((method, rule.path, _rule_label(rule), [_cell(rule, role, ROLE_DEFAULTS, ACTION_RULES)
                                                               for role in roles]))
    rows.sort(key=lambda row: (row[1], row[0]))
    return roles, rows


def _rule_label(rule) -> str:
    return {"public": "公开", "pending": "已登录", "self": "本人", "apikey": "接口密钥",
            "undeclared": "未声明"}.get(rule.kind, f"{rule.kind}:{rule.detail}")


def _cell(rule, role: str, defaults: dict, actions: dict) -> str:
    if rule.kind in ("public", "pending", "self"):
        return "✓"
    if rule.kind == "apikey":
        return "密钥"
    if rule.kind == "perm":
        return "✓" if rule.detail in defaults[role] else "—"
    if rule.kind in ("record", "document"):
        action = actions[rule.detail]
        if action.permission not in defaults[role]:
            return "—"
        return "✓范围" if action.department_scope and "scope.all_departments" not in defaults[role] else "✓"
    return "?"


# ---- the report ----------------------------------------------------------------------------

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;font-size:12px;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:2px solid #555;margin-top:28px}h3{font-size:14px}
h4{font-size:13px}table{border-collapse:collapse;margin:6px 0 12px}td,th{border:1px solid #bbb;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#eee}.bad{color:#b00;font-weight:bold}.ok{color:#070}
.note{background:#fff6d6;border:1px solid #e0c060;padding:6px 10px}pre{white-space:pre-wrap;font-size:11px}
table.matrix td,table.matrix th{font-size:10px;padding:1px 3px}nav li{margin:2px 0}
"""
SECTIONS = (("tests", "测试结果 / Test results"), ("bench", "性能基准 / Benchmarks"),
            ("audit", "依赖漏洞扫描 / Dependency vulnerabilities (pip-audit)"),
            ("bandit", "静态安全分析 / Static security analysis (bandit)"),
            ("fuzz", "接口模糊测试 / API fuzzing"), ("matrix", "权限矩阵 / Authorisation matrix"))
FUZZ_MARK = "fuzz"
MATRIX_MODULE = "test_authorisation_matrix"


def e(value: object) -> str:
    return html.escape(str(value))


def build_html(run: TestRun, *, bench: str, audit: dict, bandit: dict,
               matrix: tuple[list[str], list] | None, generated: datetime, commit: str = "") -> str:
    parts = [f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>Bingan 上线前测试报告</title>"
             f"<style>{STYLE}</style></head><body>",
             "<h1>Bingan 病案 — 上线前测试报告 / Pre-launch test report</h1>",
             f"<p>生成时间 {e(generated.strftime('%Y-%m-%d %H:%M %Z'))}"
             f"{'，代码版本 ' + e(commit) if commit else ''}</p><nav><ol>"]
    parts += [f"<li><a href='#{key}'>{e(title)}</a></li>" for key, title in SECTIONS]
    parts.append("</ol></nav>")
    bodies = {"tests": _tests_section(run), "bench": markdown_html(bench) if bench else "<p>没有基准数据</p>",
              "audit": _audit_section(audit), "bandit": _bandit_section(bandit), "fuzz": _fuzz_section(run),
              "matrix": _matrix_section(matrix, run)}
    for key, title in SECTIONS:
        parts.append(f"<section id='{key}'><h2>{e(title)}</h2>{bodies[key]}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _counts_row(label: str, counts: Counter) -> str:
    bad = counts["failed"] + counts["error"]
    total = sum(counts.values())
    return (f"<tr><td>{e(label)}</td><td>{total}</td><td>{counts['passed']}</td>"
            f"<td class='{'bad' if bad else ''}'>{counts['failed']}</td><td class='{'bad' if bad else ''}'>"
            f"{counts['error']}</td><td>{counts['skipped']}</td></tr>")


HEAD = "<tr><th>{}</th><th>合计</th><th>通过</th><th>失败</th><th>错误</th><th>跳过</th></tr>"


def _tests_section(run: TestRun) -> str:
    if not run.cases:
        return "<p class='bad'>没有测试结果（JUnit 文件为空或不存在）</p>"
    counts = run.counts()
    verdict = "全部通过" if not run.problems() else f"{len(run.problems())} 个测试未通过"
    parts = [f"<p class='{'bad' if run.problems() else 'ok'}'>{e(verdict)}：共 {len(run.cases)} 个测试，"
             f"用时合计 {sum(c.seconds for c in run.cases):.0f} 秒（各进程之和）</p>",
             "<table>" + HEAD.format("包 / package")]
    parts += [_counts_row(package, c) for package, c in run.by_package().items()]
    parts.append(_counts_row("合计", counts) + "</table>")
    parts.append(_problem_list(run.problems()))
    skipped = [c for c in run.cases if c.outcome == "skipped"]
    if skipped:
        reasons = Counter(c.message.split("\n")[0][:160] for c in skipped)
        parts.append("<h3>跳过的原因 / Skip reasons</h3><table><tr><th>原因</th><th>个数</th></tr>")
        parts += [f"<tr><td>{e(reason)}</td><td>{n}</td></tr>" for reason, n in reasons.most_common(20)]
        parts.append("</table>")
    return "".join(parts)


def _problem_list(problems: list[Case]) -> str:
    if not problems:
        return ""
    items = [f"<li><b>{e(c.module)}::{e(c.name)}</b> ({e(c.outcome)})<pre>{e(c.message[:1500])}</pre></li>"
             for c in problems]
    return "<h3>未通过的测试 / Failures</h3><ol>" + "".join(items) + "</ol>"


def _audit_section(audit: dict) -> str:
    if not audit["ran"]:
        return f"<p class='note'>未能运行 pip-audit：{e(audit['why'])}</p>"
    parts = [f"<p>已安装的依赖 {audit['total']} 个，漏洞库答复了 {audit['audited']} 个。</p>"]
    if audit["audited"] == 0:
        parts.append("<p class='note'>漏洞库（PyPI / OSV 漏洞服务）在本机网络上不可达，没有一个依赖得到核查："
                     "本节<b>不能</b>证明依赖没有已知漏洞。请在能访问 https://pypi.org 的机器上重新运行 "
                     "<code>make report</code>（或 <code>.venv/bin/pip-audit</code>）。</p>")
    elif audit["skipped"]:
        names = "，".join(d["name"] for d in audit["skipped"][:40])
        parts.append(f"<p class='note'>未能核查 {len(audit['skipped'])} 个（多为非 PyPI 包）：{e(names)}</p>")
    if audit["vulnerable"]:
        parts.append("<table><tr><th>包</th><th>版本</th><th>漏洞</th><th>修复版本</th></tr>")
        for dep in audit["vulnerable"]:
            for vuln in dep["vulns"]:
                parts.append(f"<tr><td>{e(dep['name'])}</td><td>{e(dep.get('version', ''))}</td>"
                             f"<td>{e(vuln.get('id', ''))}</td>"
                             f"<td>{e(', '.join(vuln.get('fix_versions', [])))}</td></tr>")
        parts.append("</table>")
    elif audit["audited"]:
        parts.append("<p class='ok'>已核查的依赖没有已知漏洞。</p>")
    return "".join(parts)


def _bandit_section(bandit: dict) -> str:
    if not bandit["ran"]:
        return "<p class='note'>未能运行 bandit（没有 report/bandit.json）。</p>"
    severity = bandit["severity"]
    parts = [f"<p>扫描 bingan/ 共 {bandit['lines']} 行代码。</p><table><tr><th>严重程度</th><th>发现</th></tr>"]
    parts += [f"<tr><td>{level}</td><td>{severity.get(level, 0)}</td></tr>" for level in ("HIGH", "MEDIUM", "LOW")]
    parts.append("</table>")
    if bandit["listed"]:
        parts.append("<h3>高、中等级的发现 / High and medium findings</h3><table><tr><th>等级</th><th>置信度</th>"
                     "<th>规则</th><th>位置</th><th>说明</th></tr>")
        for item in bandit["listed"]:
            where = f"{os.path.relpath(item['filename'], ROOT)}:{item['line_number']}"
            parts.append(f"<tr><td>{e(item['issue_severity'])}</td><td>{e(item['issue_confidence'])}</td>"
                         f"<td>{e(item['test_id'])} {e(item['test_name'])}</td><td>{e(where)}</td>"
                         f"<td>{e(item['issue_text'])}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


def _fuzz_section(run: TestRun) -> str:
    cases = [c for c in run.cases if FUZZ_MARK in c.module.lower() or FUZZ_MARK in c.name.lower()]
    if not cases:
        return "<p class='bad'>测试结果中没有模糊测试（名称含 fuzz 的测试）。</p>"
    modules: dict[str, Counter] = defaultdict(Counter)
    for case in cases:
        modules[case.module][case.outcome] += 1
    parts = ["<p>接口与表单模糊测试（schemathesis / hypothesis 生成的请求；推送接口的畸形文件）：不得出现服务器错误、"
             "不得越权、不得改变数据。</p><table>" + HEAD.format("测试模块 / module")]
    parts += [_counts_row(module, counts) for module, counts in sorted(modules.items())]
    parts.append("</table>")
    parts.append(_problem_list([c for c in cases if c.outcome in ("failed", "error")]))
    return "".join(parts)


def _matrix_section(matrix: tuple[list[str], list] | None, run: TestRun) -> str:
    tested = [c for c in run.cases if MATRIX_MODULE in c.module]
    parts = ["<p>每条路由 × 每个角色（预设权限）；“✓范围”= 仅本人数据范围（科室、院区）内的病案，“—”= 拒绝（403），"
             "“密钥”= 外部系统用接口密钥。路由的规则读自其访问依赖；测试 "
             "<code>tests/web/test_authorisation_matrix.py</code> 以真实请求逐格核对"
             "（另含封存、保密、他科、临时授权等病案状态）。</p>"]
    if tested:
        parts.append("<table><tr><th>矩阵测试</th><th>结果</th></tr>")
        for case in tested:
            css = "bad" if case.outcome in ("failed", "error") else ""
            parts.append(f"<tr><td>{e(case.name)}</td><td class='{css}'>{e(case.outcome)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='bad'>测试结果中没有权限矩阵测试。</p>")
    if matrix is None:
        return "".join([*parts, "<p class='note'>未能生成路由表。</p>"])
    roles, rows = matrix
    parts.append("<table class='matrix'><thead><tr><th>方法</th><th>路由</th><th>规则</th>"
                 + "".join(f"<th>{e(role)}</th>" for role in roles) + "</tr></thead>")
    for method, path, rule, cells in rows:
        parts.append(f"<tr><td>{e(method)}</td><td>{e(path)}</td><td>{e(rule)}</td>"
                     + "".join(f"<td>{e(cell)}</td>" for cell in cells) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


# ---- running the tools ---------------------------------------------------------------------

def run_tests(out: Path, workers: str, extra: list[str]) -> int:
    command = [str(BIN / "python"), "-m", "pytest", "-n", workers, f"--junitxml={out / 'junit.xml'}",
               "-o", "junit_family=xunit2", *extra]
    return subprocess.run(command, cwd=ROOT).returncode


def run_bandit(out: Path) -> None:
    subprocess.run([str(BIN / "bandit"), "-q", "-r", "bingan", "-f", "json",
                    "-o", str(out / "bandit.json")], cwd=ROOT)


def run_audit(out: Path) -> str:
    """pip-audit of the environment; returns its diagnostics (the network failure, if any)."""
    target = out / "pip-audit.json"
    target.unlink(missing_ok=True)
    try:
        done = subprocess.run([str(BIN / "pip-audit"), "--local", "-f", "json", "-o", str(target)],
                              cwd=ROOT, capture_output=True, text=True, timeout=AUDIT_TIMEOUT)
    except FileNotFoundError:
        return "pip-audit 未安装（pip install -e '.[report]'）"
    except subprocess.TimeoutExpired:
        return f"pip-audit 在 {AUDIT_TIMEOUT} 秒内没有完成（漏洞库不可达？）"
    return done.stderr


def print_pdf(html_file: Path, pdf_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        options = {"executable_path": str(CHROMIUM)} if CHROMIUM.exists() else {}
        browser = playwright.chromium.launch(**options)
        page = browser.new_page()
        page.goto(html_file.as_uri())
        page.pdf(path=str(pdf_file), format="A4", landscape=True, print_background=True,
                 margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
        browser.close()


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True)
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "report")
    parser.add_argument("--no-tests", action="store_true", help="use the JUnit file already in --out")
    parser.add_argument("--workers", default=os.environ.get("TEST_WORKERS", "2"))
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    tests_status = None if args.no_tests else run_tests(out, args.workers, args.pytest_args)
    run_bandit(out)
    audit_log = run_audit(out)
    (out / "pip-audit.log").write_text(audit_log)
    junit = out / "junit.xml"
    run = read_junit(junit) if junit.exists() else TestRun()
    try:
        matrix = authorisation_matrix()
    except Exception as exc:  # the report still says what it can
        print(f"权限矩阵未能生成：{exc}", file=sys.stderr)
        matrix = None
    bench = ROOT / "bench" / "README.md"
    page = build_html(run, bench=bench_markdown(bench.read_text()) if bench.exists() else "",
                      audit=audit_summary(out / "pip-audit.json", audit_log),
                      bandit=bandit_summary(out / "bandit.json"),
                      matrix=matrix, generated=datetime.now().astimezone(), commit=_commit())
    html_file = out / "index.html"
    html_file.write_text(page, encoding="utf-8")
    print(f"报告：{html_file}")
    if not args.no_pdf:
        print_pdf(html_file, out / "report.pdf")
        print(f"PDF：{out / 'report.pdf'}")
    counts = run.counts()
    print(f"测试：{len(run.cases)} 个，失败 {counts['failed']}，错误 {counts['error']}，跳过 {counts['skipped']}"
          + ("" if tests_status is None else f"（pytest 退出码 {tests_status}）"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
