"""Commands to run and administer Bingan: serve, worker, beat, migrate, user add."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from bingan.cli.app import app
from bingan.config import Settings, get_settings
from bingan.storage.db import get_engine, transaction
from bingan.storage.migrate import upgrade

user_app = typer.Typer(help="用户管理", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command()
def migrate() -> None:
    """把数据库结构升级到最新版本 (Alembic)。"""
    engine = get_engine()
    upgrade(engine)
    typer.echo(f"数据库已是最新结构: {engine.url.render_as_string(hide_password=True)}")


def _prepare_home() -> None:
    settings = get_settings()
    for path in (settings.resolved_home, settings.log_dir):
        path.mkdir(parents=True, exist_ok=True)


def start_up(settings: Settings, *, demo: bool) -> list[str]:
    """Everything `bingan serve` does before the web server answers; returns the lines for the console.

    Without ``demo`` an empty database gets its administrator and nothing else: no fake patients
    and no demo accounts on a hospital's production server.
    """
    from bingan.access.accounts import ensure_first_admin
    from bingan.ingest.demo.accounts import ADMIN_PURPOSE

    _prepare_home()
    upgrade(get_engine())
    with transaction() as session:
        password = ensure_first_admin(session, settings.resolved_home / "admin-password.txt")
    lines = []
    if password:
        lines.append(f"管理员  admin       密码 {password}  {ADMIN_PURPOSE}（首次登录须修改密码，并绑定手机验证器）")
    if demo:
        lines += _demo(settings)
    return lines


def _demo(settings: Settings) -> list[str]:
    """Demo accounts, then the demo load (it adds the departments the accounts need first).

    A database that already holds records not loaded as a demo is a real archive: nothing is added.
    """
    import sqlalchemy as sa

    from bingan.ingest.demo.accounts import ACCOUNTS_FILE, describe, ensure_demo_accounts
    from bingan.ingest.embedded import DEMO_MARKER, DEMO_RECORDS, start_demo_if_empty
    from bingan.storage.models import Record

    accounts_file = settings.resolved_home / ACCOUNTS_FILE
    with transaction() as session:
        if not (accounts_file.exists() or (settings.resolved_home / DEMO_MARKER).exists()) \
                and session.scalar(sa.select(Record.id).limit(1)) is not None:
            return ["数据库中已有病案：不载入演示数据，也不建演示账号"]
        created = ensure_demo_accounts(session, accounts_file)
    lines = ["演示账号（每个角色一个，密码只显示这一次，另存于 " + str(accounts_file) + "）：", *describe(created)] \
        if created else [f"演示账号见 {accounts_file}"]
    if start_demo_if_empty(settings):
        lines.append(f"正在后台载入 {DEMO_RECORDS} 份演示病案（日志 {settings.log_dir / 'demo.log'}），"
                     "检索结果陆续出现，载入完成时这里会提示")
    return lines


@app.command()
def serve(
    host: str = typer.Option(None, help="监听地址 (默认 BINGAN_HOST)"),
    port: int = typer.Option(None, help="端口 (默认 BINGAN_PORT)"),
    demo: bool = typer.Option(False, "--demo", help="载入演示病案并为每个角色建演示账号 (make run 使用；生产环境勿用)"),
) -> None:
    """启动 Web 服务；首次启动时建库并创建管理员，加 --demo 时另载入演示病案和演示账号。"""
    from bingan.cli.logs import capture_warnings, log_config
    from bingan.cli.rolling import serve_rolling
    from bingan.ingest.embedded import start_background

    settings = get_settings()
    capture_warnings()
    lines = start_up(settings, demo=demo)
    host, port = host or settings.host, port or settings.port
    start_background(settings.log_dir)  # collection worker + beat as child processes, stopped when serve exits
    typer.echo(f"Bingan 病案管理系统: http://{host}:{port}/    （日志在 {settings.log_dir}）")
    for line in lines:
        typer.echo(line)
    # The app decides who the client is (BINGAN_TRUSTED_PROXIES); uvicorn's own proxy headers would
    # believe any X-Forwarded-For arriving from loopback first. No "server: uvicorn" header either.
    options = {"host": host, "port": port, "log_config": log_config(settings), "proxy_headers": False,
               "server_header": False}
    # Each web process builds its own app (engine, page cache, audit sealer: sealers take turns on
    # the chain lock); the worker, beat and demo load above run once, beside them. Even one web
    # process runs under the supervisor: SIGHUP replaces it without a failed request (rolling.py).
    serve_rolling(options, web_workers(settings), settings.log_dir)


def web_workers(settings: Settings) -> int:
    """BINGAN_WEB_WORKERS; else on PostgreSQL one process per CPU core up to 4 (one Python process
    serves one core), on SQLite one: it has one writer at a time and every page writes its audit
    event, so a second process only waits for the lock (bench/README.md "Several web processes")."""
    if settings.web_workers:
        return settings.web_workers
    if settings.resolved_database_url.startswith("sqlite"):
        return 1
    return min(4, os.cpu_count() or 1)


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="用户名"),
    role: list[str] = typer.Option(..., "--role", help="角色代码，可重复: sysadmin, archivist, clinician…"),
    department: str = typer.Option(None, "--department", help="科室代码"),
    full_name: str = typer.Option("", "--name", help="姓名"),
) -> None:
    """创建用户；密码从标准输入读取 (便于脚本使用)。"""
    from bingan.access.accounts import AccountError, create_user

    password = sys.stdin.readline().rstrip("\n")
    try:
        with transaction() as session:
            create_user(session, username, password, role, full_name=full_name, department_code=department)
    except AccountError as exc:
        typer.echo(f"创建失败: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已创建用户 {username}")


@user_app.command("bind-certificate")
def user_bind_certificate(
    username: str = typer.Argument(..., help="用户名"),
    certificate: Path = typer.Argument(..., exists=True, dir_okay=False, help="用户的登录证书 (PEM 或 DER)"),
) -> None:
    """把 CA 登录证书绑定到用户（BINGAN_CLIENT_CERT_MATCH=subject 或 serial 时使用）。"""
    from cryptography import x509

    from bingan.access.audit import Actor
    from bingan.access.sessions import LoginRefused
    from bingan.access.sso.client_certificates import binding_subject
    from bingan.access.sso.identities import bind

    data = certificate.read_bytes()
    cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    subject = binding_subject(get_settings(), cert)
    try:
        with transaction() as session:
            bind(session, Actor(None, "cli"), username, "certificate", subject)
    except LoginRefused as exc:
        typer.echo(f"绑定失败: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已将证书 {subject} 绑定到用户 {username}")


@app.command("seal-certificate")
def seal_certificate(
    pkcs12_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="医院 CA 颁发的签章证书 (.p12/.pfx)"),
    password_file: Path | None = typer.Option(None, help="证书密码文件（无密码可不填）"),
) -> None:
    """安装医院自己的封存签章证书，替换首次使用时生成的自签证书（此后新封存件用它签名）。"""
    from bingan.access.audit import Actor
    from bingan.access.sealed_secrets import SecretBox
    from bingan.errors import Refusal
    from bingan.records.hospital_certificate import install

    password = password_file.read_text().strip() if password_file else ""
    try:
        with transaction() as session:
            stored = install(session, Actor(None, "cli"), SecretBox.of(get_settings()), pkcs12_file.read_bytes(),
                             password)
            subject = stored.subject
    except Refusal as exc:
        typer.echo(f"安装失败: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已安装封存签章证书：{subject}")
