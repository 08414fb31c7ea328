"""Operator commands for single files: `bingan inspect` and `bingan render`.

Also used on files that failed to ingest, so bad input must end in a clear Chinese message
and exit status 1, never a traceback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from bingan.cli.app import app
from bingan.formats.base import FormatError, Metadata, PageText
from bingan.formats.signatures import verdict_label

BROKEN = ("tampered", "invalid")  # verdicts that fail the check: changed since signing, or a forged value


@app.command("inspect")
def inspect_command(
    file: Path = typer.Argument(..., help="要检查的文件"),
    as_json: bool = typer.Option(False, "--json", help="输出一个 JSON 对象"),
    ocr: str = typer.Option("auto", "--ocr", help="文字识别：auto（按需）、yes（全部）、no（不识别）"),
) -> None:
    """检查文件：类型、页数、每页文字（按需 OCR）、签名。文件无法读取，或签名显示文件签名后被修改、签名无效时，
    退出状态为 1。"""
    report = _inspect(file, _ocr_mode(ocr))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(_summary(file, report))
    broken = any(signature["verdict"] in BROKEN for signature in report["signatures"])
    raise typer.Exit(1 if report["error"] or broken else 0)


def _ocr_mode(value: str) -> bool | str:
    modes: dict[str, bool | str] = {"auto": "auto", "yes": True, "no": False}
    if value not in modes:
        typer.echo("参数错误：--ocr 只能是 auto、yes 或 no", err=True)
        raise typer.Exit(2)
    return modes[value]


def _empty_report(file: Path) -> dict[str, Any]:
    return {"file": str(file), "media_type": None, "pages": 0, "text": [], "page_sources": [],
            "signatures": [], "metadata": {}, "manifest": None, "error": None, "detail": None}


def _inspect(file: Path, ocr: bool | str) -> dict[str, Any]:
    from bingan.formats.detect import detect
    from bingan.formats.document import open_document

    report = _empty_report(file)
    try:
        if not file.is_file():
            raise FormatError("文件不存在或不是普通文件", str(file))
        report["media_type"] = detect(file)
        # Guarded: a file that hangs PDFium or the OFD parser ends in a timeout message, not
        # in an operator's terminal that never returns (limits: BINGAN_FORMAT_TIMEOUT/_MEMORY_MB).
        with open_document(file, guarded=True) as document:
            meta = document.metadata()
            pages = document.page_texts(ocr=ocr)  # type: ignore[arg-type]
            _fill(report, meta, pages)
        if report["media_type"] == "application/pdf":
            _check_manifest(report, file)
    except FormatError as exc:
        report["error"], report["detail"] = exc.message, exc.detail
    except OSError as exc:
        report["error"], report["detail"] = "文件无法读取", repr(exc)
    return report


def _check_manifest(report: dict[str, Any], file: Path) -> None:
    """A seal package (封存件) lists its attached files' SHA-256s: each must match."""
    from bingan.formats.pades import check_manifest

    report["manifest"] = check_manifest(file.read_bytes())
    if report["manifest"] and not report["manifest"]["intact"]:
        report["error"] = "附件与文件清单不符：" + "；".join(report["manifest"]["problems"])


def _fill(report: dict[str, Any], meta: Metadata, pages: list[PageText]) -> None:
    report["pages"] = len(pages)
    report["text"] = [page.text for page in pages]
    report["page_sources"] = [page.source for page in pages]
    report["signatures"] = [
        {"verdict": s.verdict, "trusted": s.trusted, "reason": s.reason, "signer": s.signer, "kind": s.kind,
         "signed_at": s.signed_at.isoformat() if s.signed_at else None}
        for s in meta.signatures
    ]
    report["metadata"] = {"producer": meta.producer, "title": meta.title, "encrypted": meta.encrypted,
                          "created": meta.created.isoformat() if meta.created else None, **meta.extra}


_SOURCES = {"text": "文字层", "ocr": "文字识别", "none": "无文字"}


def _summary(file: Path, report: dict[str, Any]) -> str:
    lines = [f"文件：{file}", f"类型：{report['media_type'] or '未知'}"]
    if report["error"]:
        lines.append(f"错误：{report['error']}")
        return "\n".join(lines)
    lines.append(f"页数：{report['pages']}")
    meta = report["metadata"]
    if meta.get("producer"):
        lines.append(f"生成软件：{meta['producer']}")
    if meta.get("created"):
        lines.append(f"创建时间：{meta['created']}")
    if report["manifest"]:
        lines.append(f"文件清单：{report['manifest']['files']} 个附件，SHA-256 全部一致")
    for signature in report["signatures"]:
        verdict = verdict_label(signature["verdict"], signature["reason"], signature["trusted"])
        lines.append(f"签名：{signature['signer'] or '未知签名人'} — {verdict}（{signature['reason']}）")
    for number, (text, source) in enumerate(zip(report["text"], report["page_sources"], strict=True), 1):
        preview = text.replace("\n", " ")[:60]
        lines.append(f"第 {number} 页（{_SOURCES.get(source, source)}，{len(text)} 字）：{preview}")
    return "\n".join(lines)


@app.command("render")
def render_command(
    file: Path = typer.Argument(..., help="要显示的文件"),
    page: int = typer.Option(1, "--page", "-p", help="页码（从 1 开始）"),
    dpi: float = typer.Option(150.0, "--dpi", help="分辨率（每英寸点数）"),
    width: int = typer.Option(0, "--width", help="图像宽度（像素），指定时忽略 --dpi"),
    output: Path = typer.Option(..., "-o", "--output", help="输出 PNG 文件"),
) -> None:
    """把一页显示为 PNG 图像。"""
    from bingan.formats.document import open_document

    try:
        if not file.is_file():
            raise FormatError("文件不存在或不是普通文件", str(file))
        with open_document(file, guarded=True) as document:
            image = document.render(page, dpi=None if width else dpi, width=width or None)
        image.save(output, format="PNG")
    except FormatError as exc:
        typer.echo(f"错误：{exc.message}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"错误：无法写入输出文件（{exc.strerror or exc}）", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"已写入 {output}（{image.width}×{image.height}）", file=sys.stdout)
