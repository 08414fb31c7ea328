"""Commands to run and administer Bingan: serve, worker, beat, migrate, user add."""
from __future__ import annotations

import sys

import typer

from bingan.cli.app import app
from bingan.config import get_settings
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


@app.command()
def serve(
    host: str = typer.Option(None, help="监听地址 (默认 BINGAN_HOST)"),
    port: int = typer.Option(None, help="端口 (默认 BINGAN_PORT)"),
) -> None:
    """启动 Web 服务；首次启动时建库、创建管理员并载入演示数据。"""
    import uvicorn

    from bingan.access.accounts import ensure_first_admin
    from bingan.web.app import create_app

    settings = get_settings()
    _prepare_home()
    upgrade(get_engine())
    with transaction() as session:
        password = ensure_first_admin(session, settings.resolved_home / "admin-password.txt")
    host, port = host or settings.host, port or settings.port
    from bingan.ingest.embedded import start_background, start_demo_if_empty

    start_background()  # collection worker + beat as child processes, stopped when serve exits
    typer.echo(f"Bingan 病案管理系统: http://{host}:{port}/")
    if start_demo_if_empty(settings):
        typer.echo("数据库中还没有病案：正在后台载入约 200 份演示病案，检索结果将在几分钟内陆续出现")
    if password:
        typer.echo(f"管理员登录: 用户名 admin  密码 {password}  (首次登录须修改密码)")
    # The app decides who the client is (BINGAN_TRUSTED_PROXIES); uvicorn's own proxy headers would
    # believe any X-Forwarded-For arriving from loopback first. No "server: uvicorn" header either.
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(),
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
