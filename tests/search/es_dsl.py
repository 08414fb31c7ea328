"""A reading of the Elasticsearch query DSL subset the adapter emits, over ``to_source``
documents, so request bodies can be checked against ``Scope.admits`` and the reference
matcher without a server. Semantics as documented by Elasticsearch: a ``bool`` needs every
must/filter clause, no must_not clause, and — when it has should clauses but no must/filter —
at least one of them (``minimum_should_match`` when given); ``terms`` with an empty list matches nothing; a
multi-valued field matches when any value does; keyword fields with the ``bingan_kw``
normalizer compare lowercased."""
from __future__ import annotations

from bingan.search.analysis import TOKEN_RE
from bingan.search.checking import _contains, token_string

NORMALIZED = {"record_number", "record_keys", "id_number", "diagnosis_codes", "operation_codes"}


def _values(source: dict, field: str) -> list:
    value = source.get(field)
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [v.lower() for v in values] if field in NORMALIZED else values


def matches(query: dict, source: dict) -> bool:
    (kind, spec), = query.items()
    return _KINDS[kind](spec, source)


def _bool(spec: dict, source: dict) -> bool:
    required = spec.get("must", []) + spec.get("filter", [])
    should = spec.get("should", [])
    need = spec.get("minimum_should_match", 0 if required else 1)
    return (
        all(matches(c, source) for c in required)
        and not any(matches(c, source) for c in spec.get("must_not", []))
        and (not should or sum(matches(c, source) for c in should) >= need)
    )


def _term(spec: dict, source: dict) -> bool:
    (field, value), = spec.items()
    return value in _values(source, field)


def _terms(spec: dict, source: dict) -> bool:
    (field, values), = spec.items()
    return bool(set(values) & set(_values(source, field)))


def _range(spec: dict, source: dict) -> bool:
    (field, bounds), = spec.items()
    tests = {"gte": lambda v, b: v >= b, "gt": lambda v, b: v > b,
             "lte": lambda v, b: v <= b, "lt": lambda v, b: v < b}
    return any(all(tests[op](v, b) for op, b in bounds.items()) for v in _values(source, field))


def _prefix(spec: dict, source: dict) -> bool:
    (field, opts), = spec.items()
    value = opts["value"].lower() if opts.get("case_insensitive") else opts["value"]
    return any(str(v).lower().startswith(value) for v in _values(source, field))


def _match_phrase(spec: dict, source: dict) -> bool:
    """The bingan_zh analyser's tokens (the shared token pattern), each value on its own: a
    phrase never runs from one value of a multi-valued field into the next."""
    (field, opts), = spec.items()
    tokens = TOKEN_RE.findall(opts["query"].lower())
    return any(_contains(token_string(v), tuple(tokens)) for v in _values(source, field))


_KINDS = {"bool": _bool, "term": _term, "terms": _terms, "range": _range, "prefix": _prefix,
          "match_phrase": _match_phrase, "match_all": lambda spec, source: True}
