"""The repository carries what its docs and code point to, and speaks of the project only.

A clone has nothing beside it: every path the README's commands use, every section of
docs/architecture.md that code cites, must be in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ARCHITECTURE = REPO / "docs" / "architecture.md"
SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "results"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".sh", ".json"}
CITATION = re.compile(r'docs/architecture\.md((?:,? "[^"]+")+)')
#: Pointers outside the repository, and talk of how the work was organised.
OUTSIDE = re.compile(r"\.\./shared|parents\[4\]|DESIGN\.md|\bsession [0-9]", re.IGNORECASE)


def _project_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if SKIPPED_DIRS & set(relative.parts) or relative.parts[0].endswith(".egg-info"):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", "Dockerfile"}):
            files.append(path)
    return files


def _headings() -> set[str]:
    return {
        line.lstrip("#").strip() for line in ARCHITECTURE.read_text().splitlines() if line.startswith("#")
    }


def test_cited_sections_of_the_architecture_document_exist() -> None:
    cited: dict[str, set[str]] = {}
    for path in _project_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace")):
            for section in re.findall(r'"([^"]+)"', match.group(1)):
                cited.setdefault(section, set()).add(str(path.relative_to(REPO)))
    assert {"Identity", "Nothing twice", "Retrieve, parse, decide, act"} <= set(cited)
    missing = {section: sorted(paths) for section, paths in cited.items() if section not in _headings()}
    assert missing == {}


def test_nothing_points_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _project_files()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "path",
    sorted({match for match in re.findall(r"herald staff import (\S+)", (REPO / "README.md").read_text())}),
)
def test_files_the_readme_imports_are_in_the_repository(path: str) -> None:
    assert (REPO / path).is_file(), path


def test_the_conformance_vectors_say_where_they_come_from_and_carry_their_licence() -> None:
    folder = REPO / "tests" / "fixtures" / "conformance"
    readme = " ".join((folder / "README.md").read_text().split())
    assert "twitter/twitter-text" in readme and "Apache License, Version 2.0" in readme
    assert "Apache License" in (folder / "LICENSE").read_text()
