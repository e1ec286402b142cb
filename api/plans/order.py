"""Errors in response order: the order a reader meets their fields in ``data``.

graphql-core lists field errors in the order they happen, and asynchronous resolvers finish in
whatever order the database answers; a compiled plan runs level by level. Both list them by
where they point in the response instead: the same order on every run and under either
executor, which is what clients (and the differential tests) can rely on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError


def in_response_order(data: Any, errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    """Sorts errors by the position of their path in ``data`` (stable: errors under a nulled
    object, or without a path, keep their relative order after the ones before them)."""
    if len(errors) < 2:
        return list(errors)
    return sorted(errors, key=lambda error: _position(data, error.path))


def _position(data: Any, path: Sequence[str | int] | None) -> list[int]:
    position: list[int] = []
    node = data
    for key in path or ():
        if isinstance(node, dict) and isinstance(key, str) and key in node:
            position.append(list(node).index(key))
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            position.append(key)
            node = node[key]
        else:
            break
    return position
