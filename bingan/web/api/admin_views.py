"""The administration JSON API (/api/v1/admin): the same services and guards as the pages."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, Field

from bingan import clock
from bingan.access import access_rules as rules
from bingan.access import administration as admin
from bingan.access.administration import AdminError, UserChanges
from bingan.storage.models import Announcement, IpRule, Role, User
from bingan.web.admin import appearance
from bingan.web.admin.common import api_refuse
from bingan.web.admin.system_views import add_announcement, change_ip_rule, delete_announcement
from bingan.web.admin.users_views import run_user_action
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1/admin", tags=["管理"])


# Lengths are the columns' (PostgreSQL refuses longer text): the caller learns which field, in Chinese.
class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    full_name: str = Field("", max_length=100)
    staff_number: str = Field("", max_length=32)
    department: str = Field("", max_length=32)
    roles: list[str] = Field(default_factory=list)
    extra_departments: list[str] = Field(default_factory=list)
    campuses: list[str] = Field(default_factory=list)
    max_confidentiality: int = 0
    valid_until: datetime | None = None


class UserPatch(BaseModel):
    full_name: str | None = Field(None, max_length=100)
    staff_number: str | None = Field(None, max_length=32)
    department: str | None = Field(None, max_length=32)
    roles: list[str] | None = None
    extra_departments: list[str] | None = None
    campuses: list[str] | None = None
    max_confidentiality: int | None = None
    valid_until: datetime | None = None
    clear_valid_until: bool = False


class UserAction(BaseModel):
    action: str = Field(description="disable | enable | unlock | reset_password | reset_totp（重置二次验证）")
    password: str = Field("", max_length=1024)


class RoleIn(BaseModel):
    code: str = Field(max_length=32)
    name: str = Field(max_length=100)
    permissions: list[str] = Field(default_factory=list)


class RolePut(BaseModel):
    name: str = Field(max_length=100)
    permissions: list[str]


class IpRuleIn(BaseModel):
    cidr: str = Field(max_length=64)
    kind: str = Field("block", max_length=8)
    note: str = Field("", max_length=255)


class RuleAction(BaseModel):
    action: str = Field(description="enable | disable | delete")


class TemplateIn(BaseModel):
    name: str = Field("", max_length=100)
    role: str = ""
    department: str = ""
    category: str
    actions: list[str]


class TagPermissionIn(BaseModel):
    tag_id: int = Field(ge=1, le=MAX_ID)
    username: str = ""
    role: str = ""


class AppearanceIn(BaseModel):
    hospital_name: str
    theme_color: str


class AnnouncementIn(BaseModel):
    title: str
    body: str = ""
    days: int = 30
    roles: list[str] = Field(default_factory=list)


def user_json(ctx: Ctx, user: User) -> dict:
    return {"id": user.id, "username": user.username, "full_name": user.full_name, "staff_number": user.staff_number,
            "department": user.department.code if user.department else None, "roles": [r.code for r in user.roles],
            "active": user.active, "locked_until": clock.iso(user.locked_until),
            "valid_until": clock.iso(user.valid_until),
            "max_confidentiality": user.max_confidentiality, "must_change_password": user.must_change_password,
            "second_factor": bool(user.totp_secret),
            "scopes": admin.scopes_of(ctx.session, user)}


@router.get("/users", summary="用户列表与查找")
def users(q: str = "", ctx: Ctx = permission("users.manage")) -> list[dict]:
    return [user_json(ctx, user) for user in admin.search_users(ctx.session, q)]


@router.post("/users", status_code=201, summary="创建用户（首次登录须改密码）")
def user_create(body: UserIn, ctx: Ctx = permission("users.manage")) -> dict:
    changes = UserChanges(full_name=body.full_name, staff_number=body.staff_number, department_code=body.department,
                          role_codes=body.roles, extra_departments=body.extra_departments, campuses=body.campuses,
                          max_confidentiality=body.max_confidentiality, valid_until=body.valid_until)
    try:
        return user_json(ctx, admin.add_user(ctx.session, ctx.actor, body.username, body.password, changes))
    except AdminError as error:
        raise api_refuse(ctx, error) from error


@router.patch("/users/{item_id}", summary="修改用户：角色、科室、数据范围、密级、有效期")
def user_update(item_id: RowId, body: UserPatch, ctx: Ctx = permission("users.manage")) -> dict:
    try:
        user = admin.get_user(ctx.session, item_id)
        changes = UserChanges(full_name=body.full_name, staff_number=body.staff_number,
                              department_code=body.department, role_codes=body.roles,
                              extra_departments=body.extra_departments, campuses=body.campuses,
                              max_confidentiality=body.max_confidentiality, valid_until=body.valid_until,
                              clear_valid_until=body.clear_valid_until)
        admin.update_user(ctx.session, ctx.actor, user, changes)
        return user_json(ctx, user)
    except AdminError as error:
        raise api_refuse(ctx, error) from error


@router.post("/users/{item_id}/actions", summary="停用、启用、解锁、重置密码、重置二次验证")
def user_action(item_id: RowId, body: UserAction, ctx: Ctx = permission("users.manage")) -> dict:
    try:
        run_user_action(ctx, item_id, body.action, body.password)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"ok": True}


def role_json(role: Role) -> dict:
    return {"id": role.id, "code": role.code, "name": role.name, "builtin": role.builtin,
            "permissions": list(role.permissions or [])}


@router.get("/roles", summary="角色与权限")
def roles(ctx: Ctx = permission("roles.manage")) -> list[dict]:
    return [role_json(role) for role in admin.list_roles(ctx.session)]


@router.post("/roles", status_code=201, summary="创建角色")
def role_create(body: RoleIn, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        return role_json(admin.add_role(ctx.session, ctx.actor, body.code, body.name, body.permissions))
    except AdminError as error:
        raise api_refuse(ctx, error) from error


@router.put("/roles/{item_id}", summary="修改角色名称与权限")
def role_update(item_id: RowId, body: RolePut, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        role = _role(ctx, item_id)
        admin.update_role(ctx.session, ctx.actor, role, body.name, body.permissions)
        return role_json(role)
    except AdminError as error:
        raise api_refuse(ctx, error) from error


@router.delete("/roles/{item_id}", summary="删除自定义角色（内置角色不能删除）")
def role_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        admin.delete_role(ctx.session, ctx.actor, _role(ctx, item_id))
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"ok": True}


def _role(ctx: Ctx, role_id: int) -> Role:
    role = ctx.session.get(Role, role_id)
    if role is None:
        raise AdminError("角色不存在")
    return role


@router.get("/ip-rules", summary="访问地址规则")
def ip_rules(ctx: Ctx = permission("ip_rules.manage")) -> list[dict]:
    rows = ctx.session.scalars(sa.select(IpRule).order_by(IpRule.id))
    return [{"id": r.id, "cidr": r.cidr, "kind": r.kind, "note": r.note, "active": r.active} for r in rows]


@router.post("/ip-rules", status_code=201, summary="添加允许或禁止的地址段")
def ip_rule_create(body: IpRuleIn, ctx: Ctx = permission("ip_rules.manage")) -> dict:
    try:
        rule = rules.add_ip_rule(ctx.session, ctx.actor, body.cidr, body.kind, body.note)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"id": rule.id, "cidr": rule.cidr, "kind": rule.kind}


@router.post("/ip-rules/{item_id}/actions", summary="启用、停用或删除地址规则")
def ip_rule_action(item_id: RowId, body: RuleAction, ctx: Ctx = permission("ip_rules.manage")) -> dict:
    try:
        change_ip_rule(ctx, item_id, body.action)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"ok": True}


@router.get("/category-templates", summary="分类权限模板")
def templates(ctx: Ctx = permission("roles.manage")) -> list[dict]:
    return [{"id": t.id, "name": t.name, "role": role, "department": department, "category": category,
             "actions": t.actions} for t, role, department, category in rules.category_templates(ctx.session)]


@router.post("/category-templates", status_code=201, summary="添加分类权限模板")
def template_create(body: TemplateIn, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        template = rules.add_category_template(ctx.session, ctx.actor, name=body.name, role_code=body.role,
                                               department_code=body.department, category_code=body.category,
                                               actions=body.actions)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"id": template.id}


@router.delete("/category-templates/{item_id}", summary="删除分类权限模板")
def template_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        rules.delete_category_template(ctx.session, ctx.actor, item_id)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"ok": True}


@router.get("/tag-permissions", summary="受限标签的授权")
def tag_permissions(ctx: Ctx = permission("roles.manage")) -> list[dict]:
    return [{"id": p.id, "tag": tag, "username": username, "role": role}
            for p, tag, username, role in rules.tag_permissions(ctx.session)]


@router.post("/tag-permissions", status_code=201, summary="授权用户或角色查看受限标签的病案")
def tag_permission_create(body: TagPermissionIn, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        permission_row = rules.add_tag_permission(ctx.session, ctx.actor, body.tag_id, username=body.username,
                                                  role_code=body.role)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"id": permission_row.id}


@router.delete("/tag-permissions/{item_id}", summary="撤销受限标签的授权")
def tag_permission_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> dict:
    try:
        rules.delete_tag_permission(ctx.session, ctx.actor, item_id)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"ok": True}


@router.get("/appearance", summary="医院名称、图标与主题色")
def appearance_get(ctx: Ctx = permission("system.settings")) -> dict:
    return {k: v for k, v in appearance.stored(ctx.session).items() if k != "logo"}


@router.put("/appearance", summary="修改医院名称与主题色")
def appearance_put(body: AppearanceIn, ctx: Ctx = permission("system.settings")) -> dict:
    try:
        value = appearance.update(ctx.session, body.hospital_name, body.theme_color)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    ctx.audit("settings", object_type="appearance", detail={"医院名称": value["hospital_name"],
                                                            "主题色": value["theme_color"]})
    return {k: v for k, v in value.items() if k != "logo"}


@router.get("/announcements", summary="公告")
def announcements(ctx: Ctx = permission("announcements.manage")) -> list[dict]:
    rows = ctx.session.scalars(sa.select(Announcement).order_by(Announcement.published_at.desc()))
    return [{"id": a.id, "title": a.title, "body": a.body, "roles": a.roles, "published_at": clock.iso(a.published_at),
             "expires_at": clock.iso(a.expires_at)} for a in rows]


@router.post("/announcements", status_code=201, summary="发布公告")
def announcement_create(body: AnnouncementIn, ctx: Ctx = permission("announcements.manage")) -> dict:
    try:
        announcement = add_announcement(ctx, body.title, body.body, body.days, body.roles)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"id": announcement.id}


@router.delete("/announcements/{item_id}", summary="删除公告")
def announcement_delete(item_id: RowId, ctx: Ctx = permission("announcements.manage")) -> dict:
    try:
        delete_announcement(ctx, item_id)
    except AdminError as error:
        raise api_refuse(ctx, error) from error
    return {"ok": True}
