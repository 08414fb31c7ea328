"""The access gate: one function says whether a user may act on a record or document, and why not.

``decide`` and ``scope_for`` read the same facts (``Subject``), so a page the search shows is a
page the gate lets you open, and vice versa.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.addresses import Address, parse_address, parse_network
from bingan.access.periods import is_open
from bingan.access.permissions import ACTION_NAMES, ACTION_RULES
from bingan.clock import now as local_now
from bingan.search.port import Scope
from bingan.storage import access_generation
from bingan.storage.models import (
    Campus,
    Category,
    CategoryTemplate,
    Department,
    Document,
    DocumentType,
    Grant,
    IndexAccessOutbox,
    IpRule,
    Record,
    Tag,
    TagPermission,
    User,
    UserScope,
    utcnow,
)

CONFIDENTIALITY_NAMES = ("公开", "内部", "秘密", "机密")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason_zh: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True, "")


@dataclass
class Subject:
    """Everything about one user that the gate needs, loaded once per request."""

    user: User
    permissions: set[str]
    departments: set[str]
    all_departments: bool
    campuses: set[str] | None
    denied_tags: set[str]
    category_rules: dict[str, set[str]] | None  # action -> category codes; None = no template applies
    grants: dict[int, set[str]] = field(default_factory=dict)  # record id -> actions
    # record id -> category codes, for granted records whose every grant opens chosen parts only (S13)
    grant_categories: dict[int, set[str]] = field(default_factory=dict)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def permissions_of(user: User) -> set[str]:
    return {code for role in user.roles for code in (role.permissions or [])}


@dataclass(frozen=True)
class _Holdings:
    """The rows a Subject is made of, as read under one access generation. Times and the client
    address are applied per request (``load_subject``): a template's hours or a grant's end need
    no change of rows to take effect."""

    generation: str
    read_at: float  # time.monotonic() when read
    department_id: int | None
    permissions: frozenset[str]
    departments: frozenset[str]
    campuses: frozenset[str] | None
    denied_tags: frozenset[str]
    templates: tuple[tuple, ...]  # (actions, category code, valid_from, valid_until, hours, terminals)
    grants: tuple[tuple, ...]  # (record id, actions, valid_from, valid_until, categories)


_HELD: dict[int, _Holdings] = {}  # user id -> holdings, per process
_HELD_MAX = 5000  # users; past this the dict starts over rather than grow without bound


def load_subject(session: Session, user: User, client_ip: str = "") -> Subject:
    """What ``user`` holds; ``client_ip`` decides the category templates limited to a terminal
    group (without it such a template stays closed). The rows come from this process's cache
    while the access generation is the one they were read under (one query instead of seven)."""
    generation = access_generation.current(session)
    held = _HELD.get(user.id)
    if held is None or held.generation != generation or held.department_id != user.department_id \
            or time.monotonic() - held.read_at > access_generation.MAX_AGE_SECONDS:
        held = _read_holdings(session, user, generation)
        if len(_HELD) >= _HELD_MAX:
            _HELD.clear()
        if not access_generation.changed_here(session):
            _HELD[user.id] = held
    return Subject(
        user=user,
        permissions=set(held.permissions),
        departments=set(held.departments),
        all_departments="scope.all_departments" in held.permissions,
        campuses=set(held.campuses) if held.campuses is not None else None,
        denied_tags=set(held.denied_tags),
        category_rules=_category_rules(held.templates, client_ip),
        **_active_grants(held.grants),
    )


def _read_holdings(session: Session, user: User, generation: str) -> _Holdings:
    scopes = session.execute(
        sa.select(UserScope.kind, UserScope.code).where(UserScope.user_id == user.id)
    ).all()
    departments = {code for kind, code in scopes if kind == "department"}
    if user.department is not None:
        departments.add(user.department.code)
    campuses = frozenset(code for kind, code in scopes if kind == "campus") or None
    return _Holdings(generation, time.monotonic(), user.department_id, frozenset(permissions_of(user)),
                     frozenset(departments), campuses, frozenset(_denied_tags(session, user)),
                     _templates(session, user), _grant_rows(session, user))


def _denied_tags(session: Session, user: User) -> set[str]:
    role_ids = [role.id for role in user.roles]
    allowed = sa.select(TagPermission.tag_id).where(
        sa.or_(TagPermission.user_id == user.id, TagPermission.role_id.in_(role_ids or [-1]))
    )
    rows = session.scalars(sa.select(Tag.name).where(Tag.restricted, Tag.id.not_in(allowed)))
    return set(rows)


def _templates(session: Session, user: User) -> tuple[tuple, ...]:
    """The category templates naming ``user`` through a role or the user's department."""
    role_ids = [role.id for role in user.roles] or [-1]
    conditions = [CategoryTemplate.role_id.in_(role_ids)]
    if user.department_id is not None:
        conditions.append(CategoryTemplate.department_id == user.department_id)
    return tuple(tuple(row) for row in session.execute(
        sa.select(CategoryTemplate.actions, Category.code, CategoryTemplate.valid_from, CategoryTemplate.valid_until,
                  CategoryTemplate.hours, CategoryTemplate.terminals)
        .join(Category, Category.id == CategoryTemplate.category_id)
        .where(sa.or_(*conditions))
    ))


def _category_rules(templates: tuple[tuple, ...], client_ip: str) -> dict[str, set[str]] | None:
    """action -> the category codes open to the user now; None when no template names the user.
    A template outside its days, hours or terminal group opens nothing, and the categories stay
    closed: a template names what may be seen, and when."""
    if not templates:
        return None
    moment, address = local_now(), parse_address(client_ip)
    rules: dict[str, set[str]] = {}
    for actions, code, valid_from, valid_until, hours, terminals in templates:
        if not is_open(valid_from, valid_until, hours, terminals, moment, address):
            continue
        for action in actions or []:
            rules.setdefault(action, set()).add(code)
    return rules


def _grant_rows(session: Session, user: User) -> tuple[tuple, ...]:
    return tuple(tuple(row) for row in session.execute(
        sa.select(Grant.record_id, Grant.actions, Grant.valid_from, Grant.valid_until, Grant.categories).where(
            Grant.user_id == user.id, Grant.revoked_at.is_(None)
        )
    ))


def _active_grants(rows: tuple[tuple, ...]) -> dict[str, dict[int, set[str]]]:
    """The ``grants`` and ``grant_categories`` of a Subject: a record one running grant opens
    whole is opened whole, whatever another grant limits."""
    now = utcnow()
    grants: dict[int, set[str]] = {}
    whole: set[int] = set()
    parts: dict[int, set[str]] = {}
    for record_id, actions, valid_from, valid_until, categories in rows:
        if aware(valid_from) <= now < aware(valid_until):
            grants.setdefault(record_id, set()).update(actions or [])
            if categories:
                parts.setdefault(record_id, set()).update(categories)
            else:
                whole.add(record_id)
    return {"grants": grants,
            "grant_categories": {rid: codes for rid, codes in parts.items() if rid not in whole}}


# --- the pieces of a decision; each returns a refusal or None ----------------------------------

def user_problem(user: User, now: datetime | None = None) -> str | None:
    if not user.active:
        return "账号已停用"
    valid_until = aware(user.valid_until)
    if valid_until is not None and valid_until <= (now or utcnow()):
        return "账号已过有效期"
    return None


def ip_problem(session: Session, client_ip: str) -> str | None:
    """Blocked ranges always win; when allow ranges exist the client must be inside one.

    Fails closed: an address that cannot be read (or none at all) passes no rule.
    """
    rules = access_generation.kept(session, "ip_rules", _active_ip_rules)
    if not rules:
        return None
    address = parse_address(client_ip)
    if address is None:
        return f"无法识别客户端地址（{client_ip or '空'}），已按访问规则拒绝"
    if any(kind == "block" and _inside(address, cidr) for cidr, kind in rules):
        return f"客户端地址 {address} 已被禁止访问"
    allows = [cidr for cidr, kind in rules if kind == "allow"]
    if allows and not any(_inside(address, cidr) for cidr in allows):
        return f"客户端地址 {address} 不在允许访问的范围内"
    return None


def _active_ip_rules(session: Session) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(row) for row in session.execute(sa.select(IpRule.cidr, IpRule.kind).where(IpRule.active)))


def _inside(address: Address, cidr: str) -> bool:
    try:
        return address in parse_network(cidr)
    except ValueError:
        return False


def record_department(record: Record) -> Department | None:
    return record.discharge_department or record.admission_department


def _org_problem(subject: Subject, record: Record) -> str | None:
    department = record_department(record)
    if not subject.all_departments and (department is None or department.code not in subject.departments):
        name = department.name if department else "未知科室"
        return f"病案属于{name}，不在您的科室数据范围内"
    campus: Campus | None = record.campus
    if subject.campuses is not None and (campus is None or campus.code not in subject.campuses):
        return f"病案属于{campus.name if campus else '未知院区'}，您没有该院区的权限"
    return None


def _label_problem(subject: Subject, record: Record) -> str | None:
    if record.confidentiality > subject.user.max_confidentiality:
        level = CONFIDENTIALITY_NAMES[record.confidentiality]
        return f"病案密级为“{level}”，超出您的密级权限"
    hidden = sorted(tag.name for tag in record.tags if tag.name in subject.denied_tags)
    if hidden:
        return f"病案带有受限标签“{hidden[0]}”"
    return None


def _category_problem(subject: Subject, action: str, document: Document | None) -> str | None:
    if document is None or subject.category_rules is None:
        return None
    category = document.document_type.category
    if category.code in subject.category_rules.get(action, set()):
        return None
    return f"您的分类权限模板不允许{ACTION_NAMES.get(action, action)}“{category.name}”类文书"


def _grant_covers(subject: Subject, record: Record, document: Document | None) -> bool:
    """A grant of chosen parts opens the record (its page lists what it may show) and the
    documents of those categories only."""
    parts = subject.grant_categories.get(record.id)
    return parts is None or document is None or document.document_type.category.code in parts


def decide_for(
    subject: Subject, action: str, record: Record, *, document: Document | None = None, ip_refusal: str | None = None
) -> Decision:
    """The decision from loaded facts; ``decide`` is the usual entry point. What an action asks
    (permission, data scope, sealed, grantable) is its row in ``ACTION_RULES``."""
    refusal = user_problem(subject.user) or ip_refusal
    if refusal:
        return Decision(False, refusal)
    rule = ACTION_RULES.get(action)
    if rule is None:
        return Decision(False, f"未知的病案操作“{action}”")
    if record.sealed and not rule.while_sealed:
        return Decision(False, "病案已封存，除封存管理外任何操作均不允许")
    granted = rule.grantable and action in subject.grants.get(record.id, set()) and _grant_covers(
        subject, record, document)
    if not granted and rule.permission not in subject.permissions:
        return Decision(False, f"您的角色没有{ACTION_NAMES.get(action, action)}病案的权限")
    if not rule.department_scope:
        return ALLOW
    refusal = None if granted else _org_problem(subject, record)
    refusal = refusal or _label_problem(subject, record) or _category_problem(subject, action, document)
    return Decision(False, refusal) if refusal else ALLOW


def decide(
    session: Session,
    user: User,
    action: str,
    record: Record,
    *,
    document: Document | None = None,
    client_ip: str = "",
    subject: Subject | None = None,
) -> Decision:
    """May ``user`` perform ``action`` on ``record`` (and ``document``) from ``client_ip``?"""
    subject = subject or load_subject(session, user, client_ip)
    return decide_for(subject, action, record, document=document, ip_refusal=ip_problem(session, client_ip))


def scope_for(session: Session, user: User, client_ip: str = "", *, subject: Subject | None = None) -> Scope:
    """The same rules as ``decide(…, "view", …)`` in the form the search index filters by."""
    subject = subject or load_subject(session, user, client_ip)
    if user_problem(user) or ip_problem(session, client_ip):
        return Scope(all_departments=False, departments=set(), campuses=set(), max_confidentiality=-1)
    viewer = "record.view" in subject.permissions
    # A grant of chosen parts gives no search hits: the index filters whole records by grant.
    granted = {rid for rid, actions in subject.grants.items()
               if "view" in actions and rid not in subject.grant_categories}
    allowed_categories = None
    if subject.category_rules is not None:
        allowed_categories = set(subject.category_rules.get("view", set()))
    return Scope(
        all_departments=viewer and subject.all_departments,
        departments=set(subject.departments) if viewer else set(),
        campuses=(set(subject.campuses) if subject.campuses is not None else None) if viewer else set(),
        max_confidentiality=user.max_confidentiality,
        denied_tags=set(subject.denied_tags),
        granted_record_ids=granted,
        allowed_categories=allowed_categories,
        include_sealed=False,
        withheld_record_ids=_refused_while_reindexing(session, subject),
    )


def _refused_while_reindexing(session: Session, subject: Subject) -> set[int]:
    """Records whose access facts changed after their pages were indexed (index_access_outbox,
    drained by the worker tick): until the index has their new terms, the gate decides them
    and the scope leaves out the ones it refuses."""
    pending = sa.select(IndexAccessOutbox.record_id)
    records = session.scalars(sa.select(Record).where(Record.id.in_(pending)))
    return {record.id for record in records if not decide_for(subject, "view", record)}


def visible_categories(subject: Subject, action: str = "view") -> set[str] | None:
    if subject.category_rules is None:
        return None
    return set(subject.category_rules.get(action, set()))


def category_of(session: Session, document: Document) -> Category:
    return session.get(DocumentType, document.document_type_id).category
