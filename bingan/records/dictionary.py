"""检索词典 in the database: the hospital's synonym groups, read for the switch 同义词扩展 and the
administration page. The expansion itself is pure and lives in bingan/search/synonyms.py."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.search.synonyms import Dictionary
from bingan.storage.models import SynonymGroup


def groups(session: Session) -> list[SynonymGroup]:
    """The groups in the order they were added."""
    return list(session.scalars(sa.select(SynonymGroup).order_by(SynonymGroup.id)))


def load_dictionary(session: Session) -> Dictionary:
    """The hospital's groups as they stand (a few dozen rows: read for each expanded search)."""
    return Dictionary(session.scalars(sa.select(SynonymGroup.terms).order_by(SynonymGroup.id)))
