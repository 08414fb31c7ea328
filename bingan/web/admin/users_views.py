"""Users and roles (security administrator): list, create, edit, disable, unlock, reset password;
roles and their permissions; category permission templates and restricted-tag permissions."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bingan.access import access_rules as rules
from bingan.access import administration as admin
from bingan.access.administration import AdminError, UserChanges
from bingan.access.permissions import ACTION_NAMES, PERMISSIONS, RECORD_ACTIONS
from bingan.access.policy import CONFIDENTIALITY_NAMES
from bingan.records import tags
from bingan.storage.models import Campus, Category, Department
from bingan.web.admin.common import codes, done, end_of_day
from bingan.web.deps import Ctx, permission
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import MAX_ID, RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)


def _choices(ctx: Ctx) -> dict:
    session = ctx.session
    return {
        "roles": admin.list_roles(session), "levels": list(enumerate(CONFIDENTIALITY_NAMES)),
        "departments": session.scalars(sa.select(Department).order_by(Department.code)).all(),
        "campuses": session.scalars(sa.select(Campus).order_by(Campus.code)).all(),
    }


def _messages(request: Request) -> dict:
    return {"error": request.query_params.get("error", ""), "message": request.query_params.get("message", "")}


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, q: str = "", ctx: Ctx = permission("users.manage")) -> Response:
    users = admin.search_users(ctx.session, q)
    return page(request, "admin/users.html", ctx, users=users, q=q, **_choices(ctx), **_messages(request))


@router.post("/admin/users", dependencies=[back_on_refusal("/admin/users")])
def user_create(
    username: str = Form(""), password: str = Form(""), full_name: str = Form(""), staff_number: str = Form(""),
    department: str = Form(""), roles: list[str] = Form([]), extra_departments: str = Form(""),
    campuses: str = Form(""), max_confidentiality: int = Form(0), valid_until: str = Form(""),
    ctx: Ctx = permission("users.manage"),
) -> Response:
    changes = UserChanges(full_name=full_name, staff_number=staff_number, department_code=department,
                          role_codes=roles, extra_departments=codes(extra_departments), campuses=codes(campuses),
                          max_confidentiality=max_confidentiality, valid_until=end_of_day(valid_until))
    user = admin.add_user(ctx.session, ctx.actor, username, password, changes)
    return done(f"/admin/users/{user.id}", "用户已创建，首次登录时须修改密码")


@router.get("/admin/users/{item_id}", response_class=HTMLResponse, dependencies=[back_on_refusal("/admin/users")])
def user_page(request: Request, item_id: RowId, ctx: Ctx = permission("users.manage")) -> Response:
    user = admin.get_user(ctx.session, item_id)
    return page(request, "admin/user.html", ctx, target=user, scopes=admin.scopes_of(ctx.session, user),
                role_codes={r.code for r in user.roles}, actions=admin.USER_ACTIONS, **_choices(ctx),
                **_messages(request))


@router.post("/admin/users/{item_id}", dependencies=[back_on_refusal("/admin/users/{item_id}")])
def user_update(
    item_id: RowId, full_name: str = Form(...), staff_number: str = Form(""), department: str = Form(""),
    roles: list[str] = Form([]), extra_departments: str = Form(""), campuses: str = Form(""),
    max_confidentiality: int = Form(0), valid_until: str = Form(""), ctx: Ctx = permission("users.manage"),
) -> Response:
    user = admin.get_user(ctx.session, item_id)
    same_roles = sorted(roles) == sorted(r.code for r in user.roles)
    expiry = end_of_day(valid_until)
    changes = UserChanges(full_name=full_name, staff_number=staff_number, department_code=department,
                          role_codes=None if same_roles else roles, extra_departments=codes(extra_departments),
                          campuses=codes(campuses), max_confidentiality=max_confidentiality,
                          valid_until=expiry, clear_valid_until=expiry is None)
    admin.update_user(ctx.session, ctx.actor, user, changes)
    return done(f"/admin/users/{item_id}", "已保存")


@router.post("/admin/users/{item_id}/state", dependencies=[back_on_refusal("/admin/users/{item_id}")])
def user_action(item_id: RowId, action: str = Form(...), password: str = Form(""),
                ctx: Ctx = permission("users.manage")) -> Response:
    admin.user_action(ctx.session, ctx.actor, item_id, action, password)
    return done(f"/admin/users/{item_id}", f"已{admin.USER_ACTIONS[action]}")


# --- roles, category templates, tag permissions ----------------------------------------------

@router.get("/admin/roles", response_class=HTMLResponse)
def roles_page(request: Request, ctx: Ctx = permission("roles.manage")) -> Response:
    session = ctx.session
    return page(request, "admin/roles.html", ctx, roles=admin.list_roles(session), permissions=PERMISSIONS,
                families=admin.ADMIN_FAMILIES, templates=rules.category_templates(session),
                describe_period=rules.describe_period,
                categories=session.scalars(sa.select(Category).order_by(Category.filing_order)).all(),
                departments=session.scalars(sa.select(Department).order_by(Department.code)).all(),
                record_actions=[(a, ACTION_NAMES[a]) for a in RECORD_ACTIONS],
                tags=tags.all_tags(session),
                tag_permissions=rules.tag_permissions(session), **_messages(request))


@router.post("/admin/roles", dependencies=[back_on_refusal("/admin/roles")])
def role_create(code: str = Form(""), name: str = Form(""), permissions: list[str] = Form([]),
                ctx: Ctx = permission("roles.manage")) -> Response:
    admin.add_role(ctx.session, ctx.actor, code, name, permissions)
    return done("/admin/roles", "角色已创建")


@router.post("/admin/roles/{item_id}", dependencies=[back_on_refusal("/admin/roles")])
def role_update(item_id: RowId, name: str = Form(...), permissions: list[str] = Form([]),
                ctx: Ctx = permission("roles.manage")) -> Response:
    admin.update_role(ctx.session, ctx.actor, _role(ctx, item_id), name, permissions)
    return done("/admin/roles", "角色权限已保存")


@router.post("/admin/roles/{item_id}/delete", dependencies=[back_on_refusal("/admin/roles")])
def role_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> Response:
    admin.delete_role(ctx.session, ctx.actor, _role(ctx, item_id))
    return done("/admin/roles", "角色已删除")


def _role(ctx: Ctx, role_id: int):
    from bingan.storage.models import Role

    role = ctx.session.get(Role, role_id)
    if role is None:
        raise AdminError("角色不存在")
    return role


@router.post("/admin/category-templates", dependencies=[back_on_refusal("/admin/roles")])
def template_create(
    name: str = Form(""), role: str = Form(""), department: str = Form(""), category: str = Form(""),
    actions: list[str] = Form([]), valid_from: date | None = Form(None), valid_until: date | None = Form(None),
    hours: str = Form("", max_length=11), terminals: str = Form("", max_length=64),
    ctx: Ctx = permission("roles.manage"),
) -> Response:
    rules.add_category_template(ctx.session, ctx.actor, name=name, role_code=role, department_code=department,
                                category_code=category, actions=actions,
                                period=rules.Period(valid_from, valid_until, hours, terminals))
    return done("/admin/roles", "分类权限模板已添加")


@router.post("/admin/category-templates/{item_id}/delete", dependencies=[back_on_refusal("/admin/roles")])
def template_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> Response:
    rules.delete_category_template(ctx.session, ctx.actor, item_id)
    return done("/admin/roles", "分类权限模板已删除")


@router.post("/admin/tags/{item_id}/restricted", dependencies=[back_on_refusal("/admin/roles")])
def tag_restricted(item_id: RowId, restricted: str = Form(...), ctx: Ctx = permission("roles.manage")) -> Response:
    rules.set_tag_restricted(ctx.session, ctx.actor, item_id, restricted == "1")
    return done("/admin/roles", "标签已更新")


@router.post("/admin/tag-permissions", dependencies=[back_on_refusal("/admin/roles")])
def tag_permission_create(tag_id: int = Form(..., ge=1, le=MAX_ID), username: str = Form(""), role: str = Form(""),
                          ctx: Ctx = permission("roles.manage")) -> Response:
    rules.add_tag_permission(ctx.session, ctx.actor, tag_id, username=username.strip(), role_code=role)
    return done("/admin/roles", "标签权限已添加")


@router.post("/admin/tag-permissions/{item_id}/delete", dependencies=[back_on_refusal("/admin/roles")])
def tag_permission_delete(item_id: RowId, ctx: Ctx = permission("roles.manage")) -> Response:
    rules.delete_tag_permission(ctx.session, ctx.actor, item_id)
    return done("/admin/roles", "标签权限已撤销")
