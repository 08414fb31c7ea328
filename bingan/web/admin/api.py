"""The administration JSON API: users, roles, address rules, category templates, restricted-tag
permissions, appearance, announcements (/api/v1/admin/…), the audit trail and system status —
the same services and guards as the administration pages."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bingan import clock
from bingan.access import access_rules as rules
from bingan.access import administration as admin
from bingan.access.administration import AdminError, UserChanges
from bingan.access.audit_query import describe, search_events
from bingan.records import announcements
from bingan.storage.models import IpRule, Role, User
from bingan.web.admin import appearance
from bingan.web.admin.common import audit_filter
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import MAX_ID, OffsetParam, RowId
from bingan.web.openapi import query_parameters
from bingan.web.search.service import index_of
from bingan.web.status import status_report

router = APIRouter(prefix="/api/v1", tags=["管理"])
AUDIT_PARAMETERS = {
    "username": "用户名", "action": "操作", "result": "结果", "record_id": "病案编号", "client_ip": "客户端地址",
    "date_from": "起始日期（YYYY-MM-DD）", "date_to": "截止日期（YYYY-MM-DD）",
}


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
    valid_from: date | None = None
    valid_until: date | None = None
    hours: str = Field("", max_length=11, description="每日开放时段，如 08:00-18:00，可跨午夜；空为全天")
    terminals: str = Field("", max_length=64, description="终端组地址段，如 10.3.0.0/16；空为不限")


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


@router.get("/admin/users", summary="用户列表与查找")
def users(q: str = "", ctx: Ctx = permission("users.manage")) -> list[dict]:
    return [user_json(ctx, user) for user in admin.search_users(ctx.session, q)]


@router.post("/admin/users", status_code=201, summary="创建用户（首次登录须改密码）")
def user_create(body: UserIn, ctx: Ctx = permission("users.manage")) -> dict:
    changes = UserChanges(full_name=body.full_name, staff_number=body.staff_number, department_code=body.department,
                          role_codes=body.roles, extra_departments=body.extra_departments, campuses=body.campuses,
                          max_confidentiality=body.max_confidentiality, valid_until=body.valid_until)
    return user_json(ctx, admin.add_user(ctx.session, ctx.actor, body.username, body.password, changes))


@router.patch("/admin/users/{item_id}", summary="修改用户：角色、科室、数据范围、密级、有效期")
def user_update(item_id: RowId, body: UserPatch, ctx: Ctx = permission("users.manage")) -> dict:
    user = admin.get_user(ctx.session, item_id)
    changes = UserChanges(full_name=body.full_name, staff_number=body.staff_number,
                          department_code=body.department, role_codes=body.roles,
                          extra_departments=body.extra_departments, campuses=body.campuses,
                          max_confidentiality=body.max_confidentiality, valid_until=body.valid_until,
                          clear_valid_until=body.clear_valid_until)
    admin.update_user(ctx.session, ctx.actor, user, changes)
    return user_json(ctx, user)


@router.post("/admin/users/{item_id}/actions", summary="停用、启用、解锁、重置密码、重置二次验证")
def user_action(item_id: RowId, body: UserAction, ctx: Ctx = permission("users.manage")) -> dict:
    admin.user_action(ctx.session, ctx.actor, item_id, body.action, body.password)
    return {"ok": True}


def role_json(role: Role) -> dict:
    return {"id": role.id, "code": role.code, "name": role.name, "builtin": role.builtin,
            "permissions": list(role.permissions or [])}


@router.get("/admin/roles", summary="角色与权限")
def roles(ctx: Ctx = permission("roles.manage")) -> list[dict]:
    return [role_json(role) for role in admin.list_roles(ctx.session)]


@router.post("/admin/roles", status_code=201, summary="创建角色")
def role_create(body: RoleIn, ctx: Ctx = permission("roles.manage")) -> dict:
    return role_json(admin.add_role(ctx.session, ctx.actor, body.code, body.name, body.permissions))


@router.put("/admin/roles/{item_id}", summary="修改角色名称与权限")
def role_update(item_id: RowId, body: RolePut, ctx: Ctx = permission("roles.manage")) -> dict:
    role = _role(ctx, item_id)
    admin.update_role(ctx.session, ctx.actor, role, body.name, body.permissions)
    return role_json(role)


@router.delete("/admin/roles/{item_id}", summary="删除自定义角色（内置角色不能删除）")
def role_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> dict:
    admin.delete_role(ctx.session, ctx.actor, _role(ctx, item_id))
    return {"ok": True}


def _role(ctx: Ctx, role_id: int) -> Role:
    role = ctx.session.get(Role, role_id)
    if role is None:
        raise AdminError("角色不存在")
    return role


@router.get("/admin/ip-rules", summary="访问地址规则")
def ip_rules(ctx: Ctx = permission("ip_rules.manage")) -> list[dict]:
    rows = ctx.session.scalars(sa.select(IpRule).order_by(IpRule.id))
    return [{"id": r.id, "cidr": r.cidr, "kind": r.kind, "note": r.note, "active": r.active} for r in rows]


@router.post("/admin/ip-rules", status_code=201, summary="添加允许或禁止的地址段")
def ip_rule_create(body: IpRuleIn, ctx: Ctx = permission("ip_rules.manage")) -> dict:
    rule = rules.add_ip_rule(ctx.session, ctx.actor, body.cidr, body.kind, body.note)
    return {"id": rule.id, "cidr": rule.cidr, "kind": rule.kind}


@router.post("/admin/ip-rules/{item_id}/actions", summary="启用、停用或删除地址规则")
def ip_rule_action(item_id: RowId, body: RuleAction, ctx: Ctx = permission("ip_rules.manage")) -> dict:
    rules.change_ip_rule(ctx.session, ctx.actor, item_id, body.action)
    return {"ok": True}


@router.get("/admin/category-templates", summary="分类权限模板")
def templates(ctx: Ctx = permission("roles.manage")) -> list[dict]:
    return [{"id": t.id, "name": t.name, "role": role, "department": department, "category": category,
             "actions": t.actions, "valid_from": t.valid_from, "valid_until": t.valid_until, "hours": t.hours,
             "terminals": t.terminals, "period": rules.describe_period(t)}
            for t, role, department, category in rules.category_templates(ctx.session)]


@router.post("/admin/category-templates", status_code=201, summary="添加分类权限模板")
def template_create(body: TemplateIn, ctx: Ctx = permission("roles.manage")) -> dict:
    template = rules.add_category_template(ctx.session, ctx.actor, name=body.name, role_code=body.role,
                                           department_code=body.department, category_code=body.category,
                                           actions=body.actions, period=rules.Period(
                                               body.valid_from, body.valid_until, body.hours, body.terminals))
    return {"id": template.id}


@router.delete("/admin/category-templates/{item_id}", summary="删除分类权限模板")
def template_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> dict:
    rules.delete_category_template(ctx.session, ctx.actor, item_id)
    return {"ok": True}


@router.get("/admin/tag-permissions", summary="受限标签的授权")
def tag_permissions(ctx: Ctx = permission("roles.manage")) -> list[dict]:
    return [{"id": p.id, "tag": tag, "username": username, "role": role}
            for p, tag, username, role in rules.tag_permissions(ctx.session)]


@router.post("/admin/tag-permissions", status_code=201, summary="授权用户或角色查看受限标签的病案")
def tag_permission_create(body: TagPermissionIn, ctx: Ctx = permission("roles.manage")) -> dict:
    permission_row = rules.add_tag_permission(ctx.session, ctx.actor, body.tag_id, username=body.username,
                                              role_code=body.role)
    return {"id": permission_row.id}


@router.delete("/admin/tag-permissions/{item_id}", summary="撤销受限标签的授权")
def tag_permission_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> dict:
    rules.delete_tag_permission(ctx.session, ctx.actor, item_id)
    return {"ok": True}


@router.get("/admin/appearance", summary="医院名称、图标与主题色")
def appearance_get(ctx: Ctx = permission("system.settings")) -> dict:
    return {k: v for k, v in appearance.stored(ctx.session).items() if k != "logo"}


@router.put("/admin/appearance", summary="修改医院名称与主题色")
def appearance_put(body: AppearanceIn, ctx: Ctx = permission("system.settings")) -> dict:
    value = appearance.update(ctx.session, body.hospital_name, body.theme_color)
    ctx.audit("settings", object_type="appearance", detail={"医院名称": value["hospital_name"],
                                                            "主题色": value["theme_color"]})
    return {k: v for k, v in value.items() if k != "logo"}


@router.get("/admin/announcements", summary="公告")
def announcement_list(ctx: Ctx = permission("announcements.manage")) -> list[dict]:
    return [{"id": a.id, "title": a.title, "body": a.body, "roles": a.roles, "published_at": clock.iso(a.published_at),
             "expires_at": clock.iso(a.expires_at)} for a in announcements.all_announcements(ctx.session)]


@router.post("/admin/announcements", status_code=201, summary="发布公告")
def announcement_create(body: AnnouncementIn, ctx: Ctx = permission("announcements.manage")) -> dict:
    announcement = announcements.publish(ctx.session, ctx.actor, body.title, body.body, body.days, body.roles)
    return {"id": announcement.id}


@router.delete("/admin/announcements/{item_id}", summary="删除公告")
def announcement_delete(item_id: RowId, ctx: Ctx = permission("announcements.manage")) -> dict:
    announcements.withdraw(ctx.session, ctx.actor, item_id)
    return {"ok": True}


@router.get("/audit", summary="审计日志（审计管理员）", openapi_extra=query_parameters(AUDIT_PARAMETERS))
def audit(request: Request, offset: OffsetParam = 0, ctx: Ctx = permission("audit.read")) -> dict:
    total, events = search_events(ctx.session, audit_filter(request), limit=100, offset=offset)
    ctx.audit("view", object_type="audit", detail={"接口": "api"})
    return {"total": total, "events": [
        {"id": e.id, "at": clock.iso(e.at), "username": e.username, "action": e.action, "object": shown.object,
         "record_id": e.record_id, "document_id": e.document_id, "page": e.page, "client_ip": e.client_ip,
         "result": e.result, "detail": shown.detail_data}
        for shown in describe(ctx.session, events) for e in [shown.event]]}


@router.get("/status", summary="系统状态（系统管理员）")
def status(request: Request, ctx: Ctx = permission("system.status")) -> dict:
    return status_report(request.app.state.settings, request.app.state.engine, index_of(request))
