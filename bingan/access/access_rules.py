"""Rules the security administrator keeps: client IP ranges (L5, S11), category permission templates
(AC1), restricted tags and who may see them (AD1). Each change writes an audit event."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.addresses import inside, parse_address, parse_network
from bingan.access.administration import AdminError
from bingan.access.audit import Actor, record_event
from bingan.access.periods import parse_hours
from bingan.access.permissions import RECORD_ACTIONS
from bingan.storage.models import Category, CategoryTemplate, Department, IpRule, Role, Tag, TagPermission, User

IP_KINDS = {"allow": "允许", "block": "禁止"}


def _audit(session: Session, actor: Actor, object_type: str, object_id: object, **detail) -> None:
    record_event(session, actor, "access_rule", object_type=object_type, object_id=str(object_id), detail=detail)


# --- IP rules --------------------------------------------------------------------------------

def add_ip_rule(session: Session, actor: Actor, cidr: str, kind: str, note: str = "") -> IpRule:
    try:
        network = str(parse_network(cidr))
    except ValueError as error:
        raise AdminError("地址段格式不正确，例如 10.20.0.0/16 或 192.168.1.5") from error
    if kind not in IP_KINDS:
        raise AdminError("规则类型只能是“允许”或“禁止”")
    if kind == "allow" and actor.client_ip and not _covers_after(session, network, actor.client_ip):
        # The first allow rule shuts out everyone else; refuse one that would lock out its own author.
        raise AdminError(f"添加后您当前的地址 {actor.client_ip} 将无法访问，请先添加包含它的允许规则")
    rule = IpRule(cidr=network, kind=kind, note=note.strip()[:255])
    session.add(rule)
    session.flush()
    _audit(session, actor, "ip_rule", rule.id, 操作="添加", 地址段=network, 类型=IP_KINDS[kind])
    return rule


def _covers_after(session: Session, new_allow: str, client_ip: str) -> bool:
    address = parse_address(client_ip)
    if address is None:
        return True  # no address to protect: the gate refuses such a client once any rule exists
    allows = [new_allow, *session.scalars(sa.select(IpRule.cidr).where(IpRule.active, IpRule.kind == "allow"))]
    return inside(address, [parse_network(cidr) for cidr in allows])


def set_ip_rule_active(session: Session, actor: Actor, rule_id: int, active: bool) -> None:
    rule = _get(session, IpRule, rule_id, "地址规则")
    rule.active = active
    _audit(session, actor, "ip_rule", rule.id, 操作="启用" if active else "停用", 地址段=rule.cidr)


def delete_ip_rule(session: Session, actor: Actor, rule_id: int) -> None:
    rule = _get(session, IpRule, rule_id, "地址规则")
    _audit(session, actor, "ip_rule", rule.id, 操作="删除", 地址段=rule.cidr, 类型=IP_KINDS.get(rule.kind, rule.kind))
    session.delete(rule)


RULE_ACTIONS = {"enable": "启用", "disable": "停用", "delete": "删除"}


def change_ip_rule(session: Session, actor: Actor, rule_id: int, action: str) -> None:
    if action not in RULE_ACTIONS:
        raise AdminError("未知操作")
    if action == "delete":
        delete_ip_rule(session, actor, rule_id)
    else:
        set_ip_rule_active(session, actor, rule_id, action == "enable")


def _get(session: Session, model, item_id: int, what: str):
    found = session.get(model, item_id)
    if found is None:
        raise AdminError(f"{what}不存在")
    return found


# --- category permission templates -----------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """When a template opens its categories (分级访问); every part empty = always."""

    valid_from: date | None = None
    valid_until: date | None = None
    hours: str = ""  # "08:00-18:00", may pass midnight
    terminals: str = ""  # the terminal group's address range, "10.3.0.0/16"

    def checked(self) -> Period:
        """The same period with the range written as stored; AdminError in Chinese when invalid."""
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise AdminError("开放期间的开始日期晚于结束日期")
        try:
            parse_hours(self.hours)
        except ValueError as error:
            raise AdminError(str(error)) from None
        terminals = self.terminals.strip()
        if terminals:
            try:
                terminals = str(parse_network(terminals))
            except ValueError:
                raise AdminError(f"终端地址段“{terminals}”格式不正确，例如 10.3.0.0/16") from None
        return Period(self.valid_from, self.valid_until, self.hours.strip(), terminals)


def add_category_template(session: Session, actor: Actor, *, name: str, role_code: str = "",
                          department_code: str = "", category_code: str, actions: list[str],
                          period: Period = Period()) -> CategoryTemplate:
    if bool(role_code) == bool(department_code):
        raise AdminError("请选择一个角色或一个科室（二选一）")
    role_id = session.scalar(sa.select(Role.id).where(Role.code == role_code)) if role_code else None
    department_id = (session.scalar(sa.select(Department.id).where(Department.code == department_code))
                     if department_code else None)
    if (role_code and role_id is None) or (department_code and department_id is None):
        raise AdminError("角色或科室不存在")
    category_id = session.scalar(sa.select(Category.id).where(Category.code == category_code))
    if category_id is None:
        raise AdminError("病案分类不存在")
    chosen = [action for action in RECORD_ACTIONS if action in actions]
    if not chosen or len(chosen) != len(set(actions)):
        raise AdminError("请至少选择一个有效的操作")
    period = period.checked()
    template = CategoryTemplate(name=name.strip()[:100], role_id=role_id, department_id=department_id,
                                category_id=category_id, actions=chosen, valid_from=period.valid_from,
                                valid_until=period.valid_until, hours=period.hours, terminals=period.terminals)
    session.add(template)
    session.flush()
    _audit(session, actor, "category_template", template.id, 操作="添加", 角色=role_code, 科室=department_code,
           分类=category_code, 操作权限=chosen, 开放期间=describe_period(template))
    return template


def describe_period(template: CategoryTemplate) -> str:
    """开放期间 in words: "2026-01-01 至 2026-06-30 · 08:00-18:00 · 终端 10.3.0.0/16", or 始终."""
    days = ""
    if template.valid_from or template.valid_until:
        days = f"{template.valid_from or '不限'} 至 {template.valid_until or '不限'}"
    parts = [days, template.hours, f"终端 {template.terminals}" if template.terminals else ""]
    return " · ".join(part for part in parts if part) or "始终"


def delete_category_template(session: Session, actor: Actor, template_id: int) -> None:
    template = _get(session, CategoryTemplate, template_id, "分类权限模板")
    _audit(session, actor, "category_template", template.id, 操作="删除", 名称=template.name)
    session.delete(template)


def category_templates(session: Session) -> list[tuple[CategoryTemplate, str, str, str]]:
    """(template, role code, department code, category name) rows for the page."""
    return list(session.execute(
        sa.select(CategoryTemplate, Role.code, Department.code, Category.name)
        .join(Category, Category.id == CategoryTemplate.category_id)
        .outerjoin(Role, Role.id == CategoryTemplate.role_id)
        .outerjoin(Department, Department.id == CategoryTemplate.department_id)
        .order_by(CategoryTemplate.id)
    ).all())


# --- restricted tags and tag permissions ------------------------------------------------------

def set_tag_restricted(session: Session, actor: Actor, tag_id: int, restricted: bool) -> None:
    tag = _get(session, Tag, tag_id, "标签")
    tag.restricted = restricted
    _audit(session, actor, "tag", tag.id, 操作="设为受限" if restricted else "取消受限", 标签=tag.name)


def add_tag_permission(session: Session, actor: Actor, tag_id: int, *, username: str = "",
                       role_code: str = "") -> TagPermission:
    tag = _get(session, Tag, tag_id, "标签")
    if bool(username) == bool(role_code):
        raise AdminError("请填写一个用户名或选择一个角色（二选一）")
    user_id = session.scalar(sa.select(User.id).where(User.username == username)) if username else None
    role_id = session.scalar(sa.select(Role.id).where(Role.code == role_code)) if role_code else None
    if user_id is None and role_id is None:
        raise AdminError("用户或角色不存在")
    if user_id is not None and user_id == actor.user_id:
        raise AdminError("不能给自己授予受限标签的权限")
    permission = TagPermission(tag_id=tag.id, user_id=user_id, role_id=role_id)
    session.add(permission)
    session.flush()
    _audit(session, actor, "tag_permission", permission.id, 操作="授权", 标签=tag.name, 用户=username, 角色=role_code)
    return permission


def delete_tag_permission(session: Session, actor: Actor, permission_id: int) -> None:
    permission = _get(session, TagPermission, permission_id, "标签权限")
    _audit(session, actor, "tag_permission", permission.id, 操作="撤销", 标签ID=permission.tag_id)
    session.delete(permission)


def tag_permissions(session: Session) -> list[tuple[TagPermission, str, str | None, str | None]]:
    return list(session.execute(
        sa.select(TagPermission, Tag.name, User.username, Role.code)
        .join(Tag, Tag.id == TagPermission.tag_id)
        .outerjoin(User, User.id == TagPermission.user_id)
        .outerjoin(Role, Role.id == TagPermission.role_id)
        .order_by(Tag.name, TagPermission.id)
    ).all())
