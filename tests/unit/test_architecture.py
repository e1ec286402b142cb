"""The domain stays pure: no framework is imported anywhere under domain/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = {"sqlalchemy", "strawberry", "starlette", "casbin", "alembic", "api", "store", "authz"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: str(p.name))
def test_domain_module_imports_no_framework(path: Path) -> None:
    assert not _imports(path) & FORBIDDEN, path


def test_the_check_sees_the_domain() -> None:
    assert len(list(DOMAIN.rglob("*.py"))) >= 10
