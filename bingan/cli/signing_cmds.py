"""Archive signature commands: the hospital CA's certificate for verifiers, and 补签 (signing the
archived records that have no signature yet)."""
from __future__ import annotations

from pathlib import Path

import typer

from bingan.cli.app import app
from bingan.config import get_settings
from bingan.storage.db import transaction


@app.command("signing-ca")
def signing_ca(out: Path | None = typer.Option(None, help="写入此文件（PEM），否则输出到屏幕")) -> None:
    """医院病案签章 CA 的证书（本地签名方式；首次使用时生成），交给院外验证方（如司法鉴定机构）。"""
    from bingan.access.sealed_secrets import SecretBox
    from bingan.records.archive_signature.authority import hospital_ca_pem

    settings = get_settings()
    with transaction() as session:
        pem = hospital_ca_pem(session, SecretBox.of(settings), settings)
    if out is None:
        typer.echo(pem, nl=False)
        return
    out.write_text(pem)
    typer.echo(f"已写入 {out}")


@app.command("archive-sign")
def archive_sign() -> None:
    """补签：为尚无归档签章的已归档病案排队签章任务（升级前归档的、签章任务失败的），由最后归档的人签章。"""
    from bingan.access.audit import Actor
    from bingan.records.archive_signature.service import queue_missing
    from bingan.records.workflows import install

    install()
    with transaction() as session:
        queued = queue_missing(session, Actor(None, "cli"))
    typer.echo(f"已排队 {len(queued)} 份病案的归档签章任务，由后台任务执行（bingan worker）")


@app.command("signing-certificate")
def signing_certificate(
    username: str = typer.Argument(..., help="审核人的用户名"),
    certificate: Path = typer.Argument(..., exists=True, dir_okay=False,
                                       help="PKCS#12 文件 (.p12/.pfx)，或 PEM 证书（本人证书在前，其后为 CA 证书）"),
    key: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                    help="PEM 证书时的私钥文件（PKCS#8 或 SEC 1，SM2 亦可）"),
    password_file: Path | None = typer.Option(None, help="PKCS#12 密码文件（无密码可不填）"),
) -> None:
    """安装审核人自己的签名证书（医院 CA 颁发），取代医院自建 CA 为其签发的证书；此后其归档签章用它签名。"""
    import sqlalchemy as sa
    from asn1crypto import pem

    from bingan.access.audit import Actor
    from bingan.access.sealed_secrets import SecretBox
    from bingan.errors import Refusal
    from bingan.records.archive_signature.authority import install
    from bingan.storage.models import User

    data = certificate.read_bytes()
    try:
        if pem.detect(data):
            if key is None:
                raise Refusal("PEM 证书须用 --key 给出私钥文件")
            key_data, chain = key.read_bytes(), [der for _, _, der in pem.unarmor(data, multiple=True)]
        else:
            key_data, chain = _pkcs12(data, password_file.read_text().strip() if password_file else "")
        with transaction() as session:
            user = session.scalars(sa.select(User).where(User.username == username)).first()
            if user is None:
                raise Refusal(f"用户 {username} 不存在")
            subject = install(session, SecretBox.of(get_settings()), Actor(None, "cli"), user, key_data, chain)
    except Refusal as exc:
        typer.echo(f"安装失败: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已为 {username} 安装签名证书：{subject}")


def _pkcs12(data: bytes, password: str) -> tuple[bytes, list[bytes]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from bingan.errors import Refusal

    try:
        private, leaf, extra = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError as exc:
        raise Refusal("证书文件无法读取：请确认是 PKCS#12（.p12/.pfx）文件且密码正确"
                      "（SM2 证书请用 PEM 与 --key）") from exc
    if private is None or leaf is None:
        raise Refusal("证书文件中没有私钥或证书")
    key_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return key_pem, [cert.public_bytes(serialization.Encoding.DER) for cert in [leaf, *extra]]
