"""Managing users and roles (security administrator), with separation of duties enforced here.

等保 level 3 asks for separate system, security and audit administrators. The rule: no role and
no user may hold permissions of two of those families, and nobody changes their own roles or
the permissions of a role they hold — so a system administrator cannot grant itself audit or
security permissions, whatever screen or API it reaches. Every change writes an audit event.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.accounts import AccountError, create_user, site_words
from bingan.access.audit import Actor, record_event
from bingan.access.grants import grant as grant_record_access  # noqa: F401  moved; borrowing imports it here
from bingan.access.passwords import hash_password, policy_problems
from bingan.access.permissions import (
    ADMIN_FAMILIES,
    ADMINISTRATION,
    PATIENT_DATA,
    PERMISSIONS,
    ROLE_DEFAULTS,
)
from bingan.access.policy import CONFIDENTIALITY_NAMES, aware
from bingan.errors import Refusal
from bingan.storage.models import (
    Campus,
    Department,
    PasswordHistory,
    Role,
    TotpEnrolment,
    User,
    UserScope,
    WebSession,
    utcnow,
)

__all__ = ["ADMIN_FAMILIES"]  # the role page shows the families
ROLE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class AdminError(Refusal):
    """A Chinese message; the change was not made (answered by the one refusal handler)."""


@dataclass
class UserChanges:
    """Fields of a user the security administrator edits; None = leave unchanged."""

    full_name: str | None = None
    staff_number: str | None = None
    department_code: str | None = None  # "" = no department
    role_codes: list[str] | None = None
    extra_departments: list[str] | None = None
    campuses: list[str] | None = None
    max_confidentiality: int | None = None
    valid_until: datetime | None = None
    clear_valid_until: bool = False


def families_of(permissions: set[str]) -> set[str]:
    return {name for name, codes in ADMIN_FAMILIES.items() if permissions & codes}


def _check_duties(permissions: set[str], whom: str) -> None:
    families = families_of(permissions)
    if len(families) > 1:
        raise AdminError(f"{whom}不能同时拥有{'、'.join(sorted(families))}权限（三员分立）")
    if permissions & ADMINISTRATION and permissions & PATIENT_DATA:
        both = sorted(PERMISSIONS[code] for code in permissions & ADMINISTRATION)
        data = sorted(PERMISSIONS[code] for code in permissions & PATIENT_DATA)
        raise AdminError(f"{whom}不能既有管理权限（{'、'.join(both)}）"
                         f"又有病案数据权限（{'、'.join(data)}）（三员分立）")


def _audit(session: Session, actor: Actor, action: str, object_type: str, object_id: object, **detail) -> None:
    record_event(session, actor, action, object_type=object_type, object_id=str(object_id), detail=detail)


# --- users -----------------------------------------------------------------------------------

def search_users(session: Session, query: str = "", limit: int = 200) -> list[User]:
    statement = sa.select(User).options(selectinload(User.roles), selectinload(User.department)).order_by(User.username)
    query = query.strip()
    if query:
        like = f"%{query}%"
        statement = statement.where(sa.or_(User.username.ilike(like), User.full_name.ilike(like),
                                           User.staff_number.ilike(like)))
    return list(session.scalars(statement.limit(limit)))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AdminError("用户不存在")
    return user


def scopes_of(session: Session, user: User) -> dict[str, list[str]]:
    rows = session.execute(sa.select(UserScope.kind, UserScope.code).where(UserScope.user_id == user.id)
                           .order_by(UserScope.code)).all()
    return {"department": [c for k, c in rows if k == "department"], "campus": [c for k, c in rows if k == "campus"]}


def _roles(session: Session, codes: list[str]) -> list[Role]:
    roles = list(session.scalars(sa.select(Role).where(Role.code.in_(codes))))
    unknown = set(codes) - {role.code for role in roles}
    if unknown:
        raise AdminError(f"未知角色：{'、'.join(sorted(unknown))}")
    return roles


def add_user(session: Session, actor: Actor, username: str, password: str, changes: UserChanges) -> User:
    username = username.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{2,64}", username):
        raise AdminError("用户名只能包含字母、数字、下划线、点和连字符，长度2–64")
    roles = _roles(session, changes.role_codes or [])
    _check_duties({p for role in roles for p in role.permissions or []}, "该用户")
    try:
        user = create_user(session, username, password, [r.code for r in roles], full_name=changes.full_name or "",
                           department_code=changes.department_code or None, must_change_password=True)
    except AccountError as error:
        raise AdminError(str(error)) from error
    _apply(session, user, UserChanges(staff_number=changes.staff_number, extra_departments=changes.extra_departments,
                                      campuses=changes.campuses, max_confidentiality=changes.max_confidentiality,
                                      valid_until=changes.valid_until))
    _audit(session, actor, "user_change", "user", user.id, 操作="创建用户", 用户=username,
           角色=[r.code for r in roles])
    return user


def update_user(session: Session, actor: Actor, user: User, changes: UserChanges) -> None:
    if user.id == actor.user_id:
        _refuse_own_rights(session, user, changes)
    if changes.role_codes is not None:
        roles = _roles(session, changes.role_codes)
        _check_duties({p for role in roles for p in role.permissions or []}, "该用户")
        user.roles = roles
    _apply(session, user, changes)
    session.flush()
    _audit(session, actor, "user_change", "user", user.id, 操作="修改用户", 用户=user.username,
           内容={k: str(v) for k, v in vars(changes).items() if v is not None and v is not False})


def _refuse_own_rights(session: Session, user: User, changes: UserChanges) -> None:
    """An administrator edits its own name and staff number only, never what it may reach.

    The form posts every field, so a field counts as a change only when it differs from now.
    """
    if changes.role_codes is not None and set(changes.role_codes) != {role.code for role in user.roles}:
        raise AdminError("不能修改自己的角色")
    scopes = scopes_of(session, user)
    department = user.department.code if user.department else ""
    changed = [
        name for name, new, old in (
            ("科室", changes.department_code, department),
            ("其他科室", _codes(changes.extra_departments), _codes(scopes["department"])),
            ("院区", _codes(changes.campuses), _codes(scopes["campus"])),
            ("密级", changes.max_confidentiality, user.max_confidentiality),
        ) if new is not None and new != old
    ]
    expiry = None if changes.clear_valid_until else changes.valid_until or aware(user.valid_until)
    if expiry != aware(user.valid_until):
        changed.append("有效期")
    if changed:
        raise AdminError(f"不能修改自己账号的{'、'.join(changed)}")


def _codes(codes: list[str] | None) -> list[str] | None:
    return None if codes is None else sorted({code.strip() for code in codes if code.strip()})


def _apply(session: Session, user: User, changes: UserChanges) -> None:
    """Validate everything first, then change: a bad field leaves the user as it was."""
    department_id = _department_id(session, changes.department_code)
    extra = _known(session, Department, changes.extra_departments, "科室")
    campuses = _known(session, Campus, changes.campuses, "院区")
    level = changes.max_confidentiality
    if level is not None and not 0 <= level < len(CONFIDENTIALITY_NAMES):
        raise AdminError(f"密级必须在0–{len(CONFIDENTIALITY_NAMES) - 1}之间")
    if changes.valid_until is not None and changes.valid_until <= utcnow():
        raise AdminError("账号有效期必须晚于现在")
    if changes.full_name is not None:
        user.full_name = changes.full_name.strip()[:100] or user.username
    if changes.staff_number is not None:
        user.staff_number = changes.staff_number.strip()[:32]
    if changes.department_code is not None:
        user.department_id = department_id
    if level is not None:
        user.max_confidentiality = level
    if changes.valid_until is not None or changes.clear_valid_until:
        user.valid_until = None if changes.clear_valid_until else changes.valid_until
    _replace_scopes(session, user, "department", extra)
    _replace_scopes(session, user, "campus", campuses)


def _department_id(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    found = session.scalar(sa.select(Department.id).where(Department.code == code.strip()))
    if found is None:
        raise AdminError(f"未知科室代码：{code}")
    return found


def _known(session: Session, model, codes: list[str] | None, what: str) -> list[str] | None:
    if codes is None:
        return None
    codes = sorted({code.strip() for code in codes if code.strip()})
    found = set(session.scalars(sa.select(model.code).where(model.code.in_(codes))))
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise AdminError(f"未知{what}代码：{'、'.join(unknown)}")
    return codes


def _replace_scopes(session: Session, user: User, kind: str, codes: list[str] | None) -> None:
    if codes is None:
        return
    session.execute(sa.delete(UserScope).where(UserScope.user_id == user.id, UserScope.kind == kind))
    session.add_all(UserScope(user_id=user.id, kind=kind, code=code) for code in codes)


def set_active(session: Session, actor: Actor, user: User, active: bool) -> None:
    if user.id == actor.user_id:
        raise AdminError("不能停用或启用自己的账号")
    user.active = active
    if not active:
        end_sessions(session, user, "disabled")
    _audit(session, actor, "user_change", "user", user.id, 操作="启用" if active else "停用", 用户=user.username)


def reset_second_factor(session: Session, actor: Actor, user: User) -> None:
    """重置二次验证: the user enrols a new authenticator at the next login; its sessions end."""
    if user.id == actor.user_id:
        raise AdminError("不能重置自己的二次验证，请由另一位安全管理员操作")
    user.totp_secret = ""
    session.execute(sa.delete(TotpEnrolment).where(TotpEnrolment.user_id == user.id))
    end_sessions(session, user, "totp_reset")
    _audit(session, actor, "user_change", "user", user.id, 操作="重置二次验证", 用户=user.username)


def unlock(session: Session, actor: Actor, user: User) -> None:
    user.locked_until, user.failed_logins = None, 0
    _audit(session, actor, "user_change", "user", user.id, 操作="解锁", 用户=user.username)


def reset_password(session: Session, actor: Actor, user: User, password: str) -> None:
    """A new initial password the user must change at the next login."""
    if user.id == actor.user_id:
        raise AdminError("请在“修改密码”中修改自己的密码")
    problems = policy_problems(password, user.username, site_words(session))
    if problems:
        raise AdminError("；".join(problems))
    user.password_hash = hash_password(password)
    user.password_changed_at, user.must_change_password = utcnow(), True
    user.locked_until, user.failed_logins = None, 0
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, changed_at=utcnow()))
    end_sessions(session, user, "password_reset")
    _audit(session, actor, "user_change", "user", user.id, 操作="重置密码", 用户=user.username)


USER_ACTIONS = {"disable": "停用", "enable": "启用", "unlock": "解锁", "reset_password": "重置密码",
                "reset_totp": "重置二次验证"}


def user_action(session: Session, actor: Actor, user_id: int, action: str, password: str = "") -> None:
    """One of USER_ACTIONS on a user, as the user page's buttons and the API name them."""
    if action not in USER_ACTIONS:
        raise AdminError("未知操作")
    user = get_user(session, user_id)
    if action in {"disable", "enable"}:
        set_active(session, actor, user, action == "enable")
    elif action == "unlock":
        unlock(session, actor, user)
    elif action == "reset_totp":
        reset_second_factor(session, actor, user)
    else:
        reset_password(session, actor, user, password)


def end_sessions(session: Session, user: User, reason: str) -> None:
    session.execute(sa.update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
                    .values(ended_at=utcnow(), end_reason=reason))


# --- roles -----------------------------------------------------------------------------------

def list_roles(session: Session) -> list[Role]:
    return list(session.scalars(sa.select(Role).order_by(Role.builtin.desc(), Role.code)))


def _clean_permissions(codes: list[str]) -> list[str]:
    unknown = sorted(set(codes) - PERMISSIONS.keys())
    if unknown:
        raise AdminError(f"未知权限：{'、'.join(unknown)}")
    return sorted(set(codes))


def _holders(session: Session, role: Role) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.roles.any(Role.id == role.id))))


def add_role(session: Session, actor: Actor, code: str, name: str, permissions: list[str]) -> Role:
    code, name = code.strip(), name.strip()
    if not ROLE_CODE.fullmatch(code):
        raise AdminError("角色代码须以小写字母开头，只含小写字母、数字和下划线，长度2–32")
    if not name:
        raise AdminError("请填写角色名称")
    if session.scalar(sa.select(Role.id).where(Role.code == code)):
        raise AdminError(f"角色代码 {code} 已存在")
    cleaned = _clean_permissions(permissions)
    _check_duties(set(cleaned), "同一角色")
    role = Role(code=code, name=name[:100], permissions=cleaned, builtin=False)
    session.add(role)
    session.flush()
    _audit(session, actor, "role_change", "role", role.id, 操作="创建角色", 角色=code, 权限=cleaned)
    return role


def update_role(session: Session, actor: Actor, role: Role, name: str, permissions: list[str]) -> None:
    if any(holder.id == actor.user_id for holder in _holders(session, role)):
        raise AdminError("不能修改自己所属角色的权限")
    cleaned = _clean_permissions(permissions)
    _check_duties(set(cleaned), "同一角色")
    for holder in _holders(session, role):
        others = {p for r in holder.roles if r.id != role.id for p in r.permissions or []}
        _check_duties(others | set(cleaned), f"用户 {holder.username} ")
    before = list(role.permissions or [])
    role.name, role.permissions = (name.strip() or role.name)[:100], cleaned
    _audit(session, actor, "role_change", "role", role.id, 操作="修改角色", 角色=role.code,
           增加=sorted(set(cleaned) - set(before)), 移除=sorted(set(before) - set(cleaned)))


def delete_role(session: Session, actor: Actor, role: Role) -> None:
    if role.builtin or role.code in ROLE_DEFAULTS:
        raise AdminError("内置角色不能删除（可以修改其权限）")
    holders = _holders(session, role)
    if holders:
        raise AdminError(f"仍有{len(holders)}个用户属于该角色，请先调整这些用户的角色")
    _audit(session, actor, "role_change", "role", role.id, 操作="删除角色", 角色=role.code)
    session.delete(role)
