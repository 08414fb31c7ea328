"""A user's own things (个人): browsing history (Y1), favourites and their folders and notes (AA1),
personal settings (AB1), the announcements shown to them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.policy import Subject, decide_for
from bingan.errors import Refusal
from bingan.storage.models import Announcement, BrowsingHistory, Category, Favourite, Record, User, utcnow

PER_PAGE_CHOICES = (10, 20, 50, 100)
SORT_CHOICES = {"relevance": "相关度", "discharged_desc": "出院日期（新→旧）", "discharged_asc": "出院日期（旧→新）"}
START_PAGES = {"/": "首页", "/search": "检索", "/lookup": "批量查询", "/history": "浏览历史", "/favourites": "收藏夹"}
MAX_PRINT_COPIES = 10
CODE_LENGTH = 32  # Category.code
HISTORY_MERGE = timedelta(minutes=10)  # reopening a record within minutes does not add a row


@dataclass
class Preferences:
    start_page: str = "/"
    per_page: int = 20
    sort: str = "relevance"
    hidden_categories: list[str] = field(default_factory=list)
    print_duplex: bool = True
    print_copies: int = 1


def preferences(user: User) -> Preferences:
    stored = user.preferences or {}
    prefs = Preferences()
    for key in asdict(prefs):
        if key in stored:
            setattr(prefs, key, stored[key])
    prefs.per_page = prefs.per_page if prefs.per_page in PER_PAGE_CHOICES else 20
    prefs.sort = prefs.sort if prefs.sort in SORT_CHOICES else "relevance"
    prefs.start_page = prefs.start_page if prefs.start_page in START_PAGES else "/"
    # stored before settings were validated: only short codes are read back
    hidden = prefs.hidden_categories if isinstance(prefs.hidden_categories, list) else []
    prefs.hidden_categories = [code for code in hidden if isinstance(code, str) and len(code) <= CODE_LENGTH]
    prefs.print_copies = prefs.print_copies if prefs.print_copies in range(1, MAX_PRINT_COPIES + 1) else 1
    prefs.print_duplex = prefs.print_duplex is not False
    return prefs


def save_preferences(session: Session, user: User, prefs: Preferences) -> list[str]:
    """Chinese problems, or [] once stored; nothing is stored while any setting is refused."""
    problems = []
    if prefs.per_page not in PER_PAGE_CHOICES:
        problems.append("每页条数只能是 " + "、".join(map(str, PER_PAGE_CHOICES)))
    if prefs.sort not in SORT_CHOICES:
        problems.append("排序方式无效")
    if prefs.start_page not in START_PAGES:
        problems.append("起始页无效")
    if not isinstance(prefs.print_copies, int) or not 1 <= prefs.print_copies <= MAX_PRINT_COPIES:
        problems.append(f"打印份数应为1到{MAX_PRINT_COPIES}之间的整数")
    if not isinstance(prefs.print_duplex, bool):
        problems.append("双面打印设置无效")
    unknown = set(prefs.hidden_categories) - set(session.scalars(sa.select(Category.code)))
    if unknown or len(prefs.hidden_categories) != len(set(prefs.hidden_categories)):
        problems.append("默认折叠的分类中有不存在或重复的分类")
    if problems:
        return problems
    user.preferences = asdict(prefs)
    return []


def note_view(session: Session, user: User, record_id: int) -> None:
    latest = session.scalars(
        sa.select(BrowsingHistory).where(BrowsingHistory.user_id == user.id)
        .order_by(BrowsingHistory.viewed_at.desc()).limit(1)
    ).first()
    now = utcnow()
    if latest is not None and latest.record_id == record_id:
        latest.viewed_at = now
        return
    session.add(BrowsingHistory(user_id=user.id, record_id=record_id, viewed_at=now))


def history(session: Session, user: User, limit: int = 50, offset: int = 0) -> list[tuple[BrowsingHistory, Record]]:
    rows = session.execute(
        sa.select(BrowsingHistory, Record).join(Record, Record.id == BrowsingHistory.record_id)
        .where(BrowsingHistory.user_id == user.id)
        .order_by(BrowsingHistory.viewed_at.desc(), BrowsingHistory.id.desc()).limit(limit).offset(offset)
    ).all()
    return [(row[0], row[1]) for row in rows]


def openable(subject: Subject, rows: list[tuple[object, Record]]) -> tuple[list, int]:
    """The rows whose record the user may still open (a grant expired, a tag or seal came since),
    and how many were left out."""
    shown = [row for row in rows if decide_for(subject, "view", row[1])]
    return shown, len(rows) - len(shown)


def clear_history(session: Session, user: User) -> None:
    session.execute(sa.delete(BrowsingHistory).where(BrowsingHistory.user_id == user.id))


FOLDER_LENGTH = 64  # Favourite.folder
NOTE_LENGTH = 255  # Favourite.note


def favourites(session: Session, user: User, folder: str | None = None,
               text: str = "") -> list[tuple[Favourite, Record]]:
    """The user's favourites, newest first within each folder; ``folder`` ("" = 未分类) and
    ``text`` (in the note or the record number) narrow them."""
    query = (sa.select(Favourite, Record).join(Record, Record.id == Favourite.record_id)
             .where(Favourite.user_id == user.id).order_by(Favourite.folder, Favourite.created_at.desc()))
    if folder is not None:
        query = query.where(Favourite.folder == folder)
    if text.strip():
        query = query.where(sa.or_(Favourite.note.contains(text.strip(), autoescape=True),
                                   Record.record_number.contains(text.strip(), autoescape=True)))
    return [(row[0], row[1]) for row in session.execute(query).all()]


def folders(session: Session, user: User) -> list[tuple[str, int]]:
    """收藏夹的文件夹 with how many favourites each holds ("" = 未分类), by name."""
    rows = session.execute(
        sa.select(Favourite.folder, sa.func.count()).where(Favourite.user_id == user.id)
        .group_by(Favourite.folder).order_by(Favourite.folder)
    )
    return [(name, count) for name, count in rows]


def favourite_of(session: Session, user: User, record_id: int) -> Favourite | None:
    return session.scalars(
        sa.select(Favourite).where(Favourite.user_id == user.id, Favourite.record_id == record_id)
    ).first()


def set_favourite(session: Session, user: User, record_id: int, on: bool, folder: str = "", note: str = "") -> bool:
    """Favourite a record (again: its folder and note are replaced) or stop; a folder or note too
    long is refused, never cut."""
    folder, note = folder.strip(), note.strip()
    if len(folder) > FOLDER_LENGTH:
        raise Refusal(f"文件夹名称不能超过{FOLDER_LENGTH}个字符")
    if len(note) > NOTE_LENGTH:
        raise Refusal(f"备注不能超过{NOTE_LENGTH}个字符")
    existing = favourite_of(session, user, record_id)
    if on and existing is None:
        session.add(Favourite(user_id=user.id, record_id=record_id, folder=folder, note=note))
    elif on and existing is not None:
        existing.folder, existing.note = folder, note
    elif existing is not None:
        session.delete(existing)
    session.flush()
    return on


def announcements_for(session: Session, user: User, limit: int = 5) -> list[Announcement]:
    now = utcnow()
    codes = {role.code for role in user.roles}
    rows = session.scalars(
        sa.select(Announcement).where(sa.or_(Announcement.expires_at.is_(None), Announcement.expires_at > now))
        .order_by(Announcement.published_at.desc()).limit(50)
    )
    return [row for row in rows if not row.roles or codes & set(row.roles)][:limit]
