"""The shape every domain keeps: core knows no domain, and rules stay pure."""

from __future__ import annotations

import ast
from pathlib import Path

from mm_platform.domains import DOMAINS

PACKAGE = Path(__file__).resolve().parents[1] / "mm_platform"
DOMAIN_FOLDERS = sorted(p.name for p in PACKAGE.iterdir() if (p / "domain.py").exists() and p.name != "core")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_core_imports_no_domain() -> None:
    offending = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in (PACKAGE / "core").rglob("*.py")
        for module in imported_modules(path)
        if any(module.startswith(f"mm_platform.{folder}") for folder in DOMAIN_FOLDERS)
    }
    assert not offending


def test_every_domain_folder_is_registered_once() -> None:
    registered = [d.definitions.__module__.split(".")[1] for d in DOMAINS]
    assert sorted(registered) == DOMAIN_FOLDERS
    assert len({d.name for d in DOMAINS}) == len(DOMAINS)


def test_rules_have_no_dagster_and_no_io() -> None:
    impure = ("dagster", "sqlalchemy", "boto3", "botocore", "requests", "slack_sdk", "confluent_kafka")
    offending = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for folder in DOMAIN_FOLDERS
        for path in (PACKAGE / folder / "rules").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in impure or module.startswith("mm_platform.core")
    }
    assert not offending
