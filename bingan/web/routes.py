"""The route table with each route's declared access rule, read from its guard dependency.

Kinds: public, pending (signed in, may still owe a password change or second factor), self
(any signed-in user, own data), perm (a permission code), any (any one of the permission codes
in ``detail``, space-separated; the route asks for the one it needs), record / document (the gate with an
action), apikey (machine callers with their own authentication), framework (mounted static
assets: no patient data).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from starlette.routing import Mount

APIKEY_PREFIXES = ("/api/v1/ingest",)


@dataclass(frozen=True)
class RouteRule:
    path: str
    methods: tuple[str, ...]
    kind: str  # see module docstring; "undeclared" fails the authorisation-matrix test
    detail: str = ""


def _flatten(routes: list) -> Iterator[object]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            yield from contexts()
        else:
            yield route


def _rule_of(dependant: Dependant) -> tuple[str, str] | None:
    for dependency in dependant.dependencies:
        rule = getattr(dependency.call, "__rule__", None)
        if rule is not None:
            return rule
        nested = _rule_of(dependency)
        if nested is not None:
            return nested
    return None


def route_table(app: FastAPI) -> list[RouteRule]:
    table = []
    for route in _flatten(app.routes):
        path = route.path
        methods = tuple(sorted(getattr(route, "methods", None) or ()))
        if isinstance(route, Mount):
            table.append(RouteRule(path, methods, "framework"))
            continue
        if path.startswith(APIKEY_PREFIXES):
            table.append(RouteRule(path, methods, "apikey"))
            continue
        dependant = getattr(route, "dependant", None)
        rule = _rule_of(dependant) if dependant is not None else None
        table.append(RouteRule(path, methods, *(rule or ("undeclared", ""))))
    return table
