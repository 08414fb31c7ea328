"""Commands to run and administer Bingan: serve, worker, beat, migrate, user add."""
from __future__ import annotations

import sys

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
    import uvicorn

    from bingan.cli.logs import capture_warnings, log_config
    from bingan.ingest.embedded import start_background
    from bingan.web.app import create_app

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
    uvicorn.run(create_app(settings), host=host, port=port, log_config=log_config(settings),
                proxy_headers=False, server_header=False)


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
