"""Tags (标签) on records: created by whoever may manage tags, applied and removed on a record.

A restricted tag (受限标签) hides its records from everyone without a tag permission, so only
those who manage tags may apply or remove one; whether the record may be tagged at all is the
gate's question (action "tag"), asked by the caller before these functions.
"""
from __future__ import annotations

from collections.abc import Set as AbstractSet

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import Refusal
from bingan.storage.models import Record, Tag
from bingan.storage.models.records import DEFAULT_TAG_COLOR, TAG_COLOR_PROBLEM, valid_tag_color

NAME_LENGTH = 64  # Tag.name
MANAGE = "tags.manage"


class RestrictedTag(Refusal):
    """A restricted tag set or removed by someone who may not manage tags: forbidden, not malformed."""

    status = 403


def all_tags(session: Session) -> list[Tag]:
    return list(session.scalars(sa.select(Tag).order_by(Tag.name)))


def tag_named(session: Session, name: str) -> Tag | None:
    return session.scalars(sa.select(Tag).where(Tag.name == name.strip())).first()


def may_apply(permissions: AbstractSet[str], tag: Tag) -> bool:
    return not tag.restricted or MANAGE in permissions


def create(session: Session, actor: Actor, name: str, color: str = DEFAULT_TAG_COLOR, restricted: bool = False,
           description: str = "") -> Tag:
    """A new tag; a name empty, too long or taken, or a colour that is not #rrggbb, is refused."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise Refusal(f"标签名称不能为空，也不能超过{NAME_LENGTH}个字符")
    if tag_named(session, name) is not None:
        raise Refusal(f"标签“{name}”已存在")
    if not valid_tag_color(color):
        raise Refusal(TAG_COLOR_PROBLEM)
    tag = Tag(name=name, color=color, restricted=restricted, description=description)
    session.add(tag)
    session.flush()
    record_event(session, actor, "tag", object_type="tag", object_id=tag.id,
                 detail={"标签": name, "操作": "创建", "受限": restricted})
    return tag


def apply(session: Session, actor: Actor, permissions: AbstractSet[str], record: Record, name: str) -> Tag:
    """Put a tag on a record. A name that is no tag yet is created on the spot (an ordinary tag)
    by whoever may manage tags; anyone else is told to choose an existing one."""
    name = name.strip()
    tag = tag_named(session, name)
    if tag is None:
        if MANAGE not in permissions:
            raise Refusal(f"标签“{name}”不存在。新标签只能由有“管理标签”权限的人员（如病案室管理员）创建，"
                          "请从已有标签中选择，或请其在标签页创建")
        tag = create(session, actor, name)
    _check_may_apply(permissions, tag)
    if tag not in record.tags:
        record.tags.append(tag)
    _audit_change(session, actor, record, name, "添加")
    return tag


def remove(session: Session, actor: Actor, permissions: AbstractSet[str], record: Record, name: str) -> None:
    name = name.strip()
    tag = tag_named(session, name)
    if tag is None:
        raise Refusal(f"标签“{name}”不存在")
    _check_may_apply(permissions, tag)
    record.tags = [t for t in record.tags if t.id != tag.id]
    _audit_change(session, actor, record, name, "移除")


def _check_may_apply(permissions: AbstractSet[str], tag: Tag) -> None:
    if not may_apply(permissions, tag):
        raise RestrictedTag("受限标签只能由有“管理标签”权限的人员设置或移除")


def _audit_change(session: Session, actor: Actor, record: Record, name: str, change: str) -> None:
    record_event(session, actor, "tag", object_type="record", object_id=record.id, record_id=record.id,
                 detail={"标签": name, "操作": change})
