"""The search index's per-scope cache of aggregation results (counts and facets of a query)."""
from __future__ import annotations

import time as _time
from collections import OrderedDict
from dataclasses import dataclass

from bingan.search.port import (
    Scope,
)


def scope_key(s: Scope) -> tuple:
    def frozen(values):
        return None if values is None else tuple(sorted(values))

    return (s.all_departments, frozen(s.departments), frozen(s.campuses), s.max_confidentiality,
            frozen(s.denied_tags), frozen(s.granted_record_ids), frozen(s.allowed_categories),
            s.include_sealed, frozen(s.withheld_record_ids))


class StatsCache:
    """Facets and the record estimate per (query, scope, index generation), so paging through
    one result (same query, same scope, next offset) skips the aggregation pass. Entries also
    expire after ``TTL`` seconds: a reader may reload a commit a moment after meta.json
    changes, and an entry computed in that moment must not live on."""

    TTL = 30.0

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, tuple[float, Stats]] = OrderedDict()

    def get(self, key: tuple) -> Stats | None:
        entry = self._entries.get(key) if self.size else None
        if entry is None or _time.monotonic() - entry[0] > self.TTL:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple, stats: Stats) -> Stats:
        if self.size:
            self._entries[key] = (_time.monotonic(), stats)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return stats


@dataclass(slots=True)
class Stats:
    records: int  # HyperLogLog estimate
    facets: dict[str, list[tuple[str, int]]]
    pages: int = 0  # matching pages, when the aggregation counted them
