"""One demo account per role (三员分立 and the record-room roles), created only with the demo patients.

Passwords are random, shown once by ``bingan serve --demo`` and kept in a 0600 file in HOME.
Roles that need a second factor enrol it at first login (the page shows a QR code).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.accounts import create_user
from bingan.access.administration import add_role
from bingan.access.audit import Actor
from bingan.access.passwords import generate_password
from bingan.access.permissions import ROLE_DEFAULTS
from bingan.access.sessions import needs_second_factor
from bingan.ingest.demo.hospital import DEPARTMENTS, STAFF
from bingan.storage.models import Role, User

ACCOUNTS_FILE = "demo-accounts.txt"
CLINICAL_DEPARTMENT = "NK02"  # 呼吸内科: 肺炎 and 肺结核 patients, and their histories of 骨折 and 剖宫产


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    full_name: str
    purpose: str  # one line, Chinese: what this account is for
    department: str | None = None
    clearance: int = 0  # the highest 密级 the account reads (0 公开 … 3 绝密)


_ward = STAFF[CLINICAL_DEPARTMENT]
ACCOUNTS = [
    DemoAccount(
        "secadmin", "secadmin", "安全管理员", "安全管理员（三员之一）：创建用户、分配角色和科室、IP 规则与临时授权"
    ),
    DemoAccount(
        "auditor", "auditor", "审计管理员", "审计管理员（三员之一）：查看和导出审计日志——谁在何时查阅了哪份病案"
    ),
    DemoAccount(
        "archivist",
        "archivist",
        "病案室 " + STAFF["NK01"].nurses[-1],
        "病案管理员（病案室）：全院检索、归档、打印、导出、加标签",
        clearance=2,
    ),
    DemoAccount(
        "clinician",
        "clinician",
        _ward.attendings[0],
        f"临床医生（呼吸内科主治医师 {_ward.attendings[0]}）：检索和查阅本科室病案",
        CLINICAL_DEPARTMENT,
    ),
    DemoAccount(
        "nurse", "nurse", _ward.nurses[0], f"护士（呼吸内科 {_ward.nurses[0]}）：查阅本科室病案", CLINICAL_DEPARTMENT
    ),
    DemoAccount(
        "head",
        "dept_head",
        _ward.director,
        f"科主任（呼吸内科 {_ward.director}）：审批本科室的借阅与召回申请，接收本科室病案的质控退回",
        CLINICAL_DEPARTMENT,
        clearance=1,
    ),
    DemoAccount("qc", "qc", "质控科", "质控员：全院病案质量检查，退回修改", clearance=2),
    DemoAccount("medaffairs", "medical_affairs", "医务处", "医务处：审批借阅与复印申请，授予临时查阅权限", clearance=2),
    DemoAccount("copyclerk", "copy_clerk", "复印窗口", "复印窗口：为患者及其代理人复印、打印病案"),
    DemoAccount("kiosk", "kiosk", "门诊大厅自助机",
                "自助复印打印机：患者刷身份证复印本人已归档的病案（只能使用 /kiosk）"),
]
# The other departments' heads (科主任): the shipped borrowing and recall flows ask the record's
# department head first, and QC returns medical comments to them. Their passwords go to the file only.
HEADS = [
    DemoAccount(f"head_{dept.code.lower()}", "dept_head", STAFF[dept.code].director,
                f"科主任（{dept.name} {STAFF[dept.code].director}）", dept.code, clearance=1)
    for dept in DEPARTMENTS if dept.code != CLINICAL_DEPARTMENT
]
HEAD_ROLE = ("dept_head", "科主任", [*ROLE_DEFAULTS["clinician"], "record.approve"])
ADMIN_PURPOSE = "系统管理员（三员之一）：系统设置、运行状态与公告；不创建用户，也不查阅病案"


@dataclass(frozen=True)
class Created:
    account: DemoAccount
    password: str
    second_factor: bool


def ensure_demo_accounts(session: Session, accounts_file: Path) -> list[Created]:
    """Create the demo accounts that do not exist yet; an empty list when all do.

    Departments come first (the clinician belongs to one), so this runs before the demo load.
    """
    from bingan.ingest.demo_load import _organisation

    _organisation(session)
    _head_role(session)
    wanted = [*ACCOUNTS, *HEADS]
    existing = set(session.scalars(sa.select(User.username).where(User.username.in_([a.username for a in wanted]))))
    created = []
    for account in wanted:
        if account.username in existing:
            continue
        password = generate_password(account.username)
        user = create_user(
            session,
            account.username,
            password,
            [account.role],
            full_name=account.full_name,
            department_code=account.department,
            must_change_password=False,
        )
        user.max_confidentiality = account.clearance  # the record room and QC read 机密 records, heads 内部 ones
        created.append(Created(account, password, needs_second_factor(user)))
    if created:
        _keep(accounts_file, created)
    return [c for c in created if c.account in ACCOUNTS]  # one per role is shown; the other heads are in the file


def _head_role(session: Session) -> None:
    """科主任: a clinician who also approves (record.approve) within the department — made as the
    security administrator makes a role, since the built-in roles have no department head."""
    code, name, permissions = HEAD_ROLE
    if session.scalar(sa.select(Role.id).where(Role.code == code)) is None:
        add_role(session, Actor(None, "演示数据"), code, name, permissions)


def _keep(path: Path, created: list[Created]) -> None:
    """The passwords in a file only the hospital's operator reads (as admin-password.txt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as handle:
        for line in describe(created):
            handle.write(line + "\n")


def describe(created: list[Created]) -> list[str]:
    return [
        f"  {c.account.username:<11} 密码 {c.password}  {c.account.purpose}"
        + ("（首次登录时绑定手机验证器：页面显示二维码）" if c.second_factor else "")
        for c in created
    ]
