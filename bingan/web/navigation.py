"""The menu, as data: the record room's work in groups, each link shown to whoever may use it.

A workflow page joins the menu with one line in ``NAV`` (or ``register`` from its views module):
its group, label, path and the permissions that open it (any one suffices, as the route's guard
checks). A link is shown only when

- the user holds one of its permissions (no permissions = every signed-in user), or its to-do
  counter has something for them (an approver's inbox shows while requests wait), and
- its path is a page of this application: a link declared before its page exists stays hidden,
  so the menu never leads to a 404, and a group with nothing shown is not drawn at all.

To-do counters (``register_counter``) are functions of the request's ``Ctx`` returning a number;
the count is drawn beside the link and on its group. The approval inbox's entry (待办审批,
/approvals) is declared here; its counter is registered as "approvals" by the approvals views.
首页 counts the rest of the home page's to-do list ("home") and 我的申请 the open applications
("applications"), both registered by the home views.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from bingan.web.deps import Ctx
from bingan.web.routes import route_table

# The record room's work, in the order staff meet it (病案室的业务).
GROUPS = ("病案查询", "归档管理", "终末质控", "借阅与封存", "复印打印", "数字化加工", "采集监控", "统计报表",
          "系统设置")
# Whoever holds one of these decides approval requests: the to-do inbox is theirs.
APPROVAL_PERMISSIONS = ("record.approve",)
# Whoever may apply for something (借阅, 封存) follows their own applications.
APPLY_PERMISSIONS = ("borrow.apply", "seal.apply")


@dataclass(frozen=True)
class Link:
    group: str  # one of GROUPS, or "" for the top bar (首页, 待办)
    label: str
    path: str
    permissions: tuple[str, ...] = ()
    counter: str = ""  # name of a registered to-do counter


NAV: list[Link] = [
    Link("", "首页", "/", counter="home"),
    Link("", "待办审批", "/approvals", APPROVAL_PERMISSIONS, counter="approvals"),
    Link("", "我的申请", "/approvals?box=mine", APPLY_PERMISSIONS, counter="applications"),
    Link("病案查询", "全文检索", "/search", ("search.use",)),
    Link("病案查询", "批量查询", "/lookup", ("lookup.use",)),
    Link("病案查询", "浏览历史", "/history", ("record.view",)),
    Link("病案查询", "我的收藏", "/favourites", ("record.view",)),
    Link("病案查询", "标签", "/tags", ("record.tag", "tags.manage")),
    Link("借阅与封存", "临时授权", "/admin/grants", ("grants.manage",)),
    Link("采集监控", "系统状态", "/admin/status", ("system.status",)),
    Link("系统设置", "用户", "/admin/users", ("users.manage",)),
    Link("系统设置", "角色权限", "/admin/roles", ("roles.manage",)),
    Link("系统设置", "访问规则", "/admin/rules", ("ip_rules.manage",)),
    Link("系统设置", "安全设置", "/admin/security", ("users.manage",)),
    Link("系统设置", "外观", "/admin/appearance", ("system.settings",)),
    Link("系统设置", "公告", "/admin/announcements", ("announcements.manage",)),
    Link("系统设置", "审计日志", "/admin/audit", ("audit.read",)),
    Link("系统设置", "泄露溯源", "/admin/leak", ("leak.trace",)),
]
COUNTERS: dict[str, Callable[[Ctx], int]] = {}


def register(group: str, label: str, path: str, *permissions: str, counter: str = "") -> None:
    """A page joins the menu (at import of its views module). One link per path: registering a
    path already in the menu replaces its entry, so a page's own module has the last word."""
    if group and group not in GROUPS:
        raise ValueError(f"unknown menu group {group!r}")
    NAV[:] = [link for link in NAV if link.path != path]
    NAV.append(Link(group, label, path, permissions, counter))


def register_counter(name: str, count: Callable[[Ctx], int]) -> None:
    COUNTERS[name] = count


@dataclass(frozen=True)
class Shown:
    label: str
    path: str
    count: int = 0


@dataclass
class Group:
    label: str
    links: list[Shown] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(link.count for link in self.links)


@dataclass
class Menu:
    top: list[Shown]
    groups: list[Group]

    def crumbs(self, path: str) -> list[tuple[str, str]]:
        """面包屑 for a menu page: its group, then the page (label, path); [] for other pages."""
        for group in self.groups:
            for link in group.links:
                if link.path == path:
                    return [(group.label, ""), (link.label, link.path)]
        return []


def menu_for(app: FastAPI, ctx: Ctx) -> Menu:
    pages = _pages(app)
    counts = _counts(ctx)
    shown: dict[str, list[Shown]] = {}
    for link in NAV:
        if link.path.partition("?")[0] not in pages:  # a box of a page (?box=mine) is that page
            continue
        count = counts.get(link.counter, 0)
        if count or not link.permissions or any(ctx.can(code) for code in link.permissions):
            shown.setdefault(link.group, []).append(Shown(link.label, link.path, count))
    groups = [Group(label, shown[label]) for label in GROUPS if shown.get(label)]
    return Menu(shown.get("", []), groups)


# The to-do counters cost as much as the rest of a page (a dozen counting queries), and every page
# draws them. They are kept per user and reused while nothing that could change them has been
# committed by this process — any write but the bookkeeping every request does (audit, sessions,
# settings, sign-in failures, browsing history) starts afresh, so one's own action shows at once — and for at most
# COUNT_SECONDS, the delay before another process's changes (a second web process, the worker's
# timed jobs) appear in the menu. The pages themselves always read the database.
COUNT_SECONDS = 20.0
BOOKKEEPING_TABLES = frozenset({"audit_events", "web_sessions", "system_settings", "login_failures",
                                "browsing_history"})
_writes = itertools.count()
_generation = next(_writes)
_cached: dict[int, tuple[int, float, dict[str, int]]] = {}


def _counts(ctx: Ctx) -> dict[str, int]:
    """Every registered counter's number for this user, from the cache while it holds."""
    kept = _cached.get(ctx.user.id)
    if kept and kept[0] == _generation and time.monotonic() - kept[1] < COUNT_SECONDS:
        return kept[2]
    generation, taken = _generation, time.monotonic()  # before counting: a write meanwhile voids it
    counts = {name: count(ctx) for name, count in COUNTERS.items()}
    _cached[ctx.user.id] = (generation, taken, counts)
    return counts


def _mark(session: Session, tables: set[str]) -> None:
    if tables - BOOKKEEPING_TABLES:
        session.info["menu_counts_stale"] = True


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: object) -> None:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    _mark(session, {getattr(instance, "__tablename__", "") for instance in changed})


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        _mark(state.session, {getattr(table, "name", "")})


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    global _generation
    if session.info.pop("menu_counts_stale", False):
        _generation = next(_writes)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop("menu_counts_stale", None)


def _pages(app: FastAPI) -> frozenset[str]:
    """The paths this application answers with a page (GET, no path parameters), read once."""
    pages = getattr(app.state, "menu_pages", None)
    if pages is None:
        pages = frozenset(route.path for route in route_table(app)
                          if "GET" in route.methods and "{" not in route.path and route.kind != "framework")
        app.state.menu_pages = pages
    return pages
