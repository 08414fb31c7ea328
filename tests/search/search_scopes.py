"""Random pages and scopes of every shape, shared by the tantivy access-term tests and the
Elasticsearch filter tests (both must admit exactly what ``Scope.admits`` admits)."""
from __future__ import annotations

import random

from bingan.search.port import PageDoc, Scope

DEPTS = [f"D{i:02d}" for i in range(40)]
CAMPUSES = ["BB", "DY", "XQ"]


def random_pages(n: int) -> list[PageDoc]:
    rng = random.Random(3)
    return [
        PageDoc(
            record_id=i, record_number=f"{i:07d}", stay=1, document_id=i, version_id=i, page=1,
            text="肺炎", department=rng.choice(DEPTS[:6]), campus=rng.choice(CAMPUSES),
            # levels 10 and -1 lie outside CONFIDENTIALITY_LEVELS: no scope admits them
            confidentiality=rng.choice([0, 0, 1, 2, 3, 10, -1]), sealed=rng.random() < 0.2,
            tags=rng.sample(["传染病", "VIP"], k=rng.randrange(2)), category=rng.choice(["BA", "SS"]),
        )
        for i in range(1, n + 1)
    ]


def random_scope(rng: random.Random) -> Scope:
    wide = rng.random() < 0.2  # many departments × campuses × levels
    return Scope(
        all_departments=rng.random() < 0.3,
        departments=set(DEPTS if wide else rng.sample(DEPTS[:6], k=rng.randrange(4))),
        campuses=None if rng.random() < 0.3 else set(rng.sample(CAMPUSES, k=rng.randint(1 + 2 * wide, 3))),
        max_confidentiality=rng.randint(-1, 11),
        denied_tags=set(rng.sample(["传染病", "VIP"], k=rng.randrange(2))),
        granted_record_ids=set(rng.sample(range(1, 300), k=rng.randrange(3) * 10)),
        allowed_categories=None if rng.random() < 0.7 else {"SS"},
        include_sealed=rng.random() < 0.3,
    )
