"""Staff list files (the format of examples/staff.yaml) become upsert requests, or one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.errors import UserError
from herald.staff_file import read_staff_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "staff.yaml"


def test_the_example_staff_list_imports_as_thirteen_upserts() -> None:
    requests = read_staff_file(EXAMPLE)
    assert len(requests) == 13
    assert {r.action for r in requests} == {"upsert"}
    by_id = {r.staff_id: r for r in requests}
    assert by_id["pip-tucker"].private is True and by_id["pip-tucker"].handle == "piptucker"
    assert (
        by_id["sue-tylcoat"].private is False and by_id["sue-tylcoat"].role == "Solutions Development Manager"
    )
    assert by_id["shaun-carter"].handle == "Shaun32" and by_id["shaun-carter"].platform == "twitter"


def test_a_bad_row_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "staff.yaml"
    path.write_text("accounts:\n  - {name: A, handle: a}\n  - {name: B}\n")
    with pytest.raises(UserError, match=r"account 2 .*handle: Field required"):
        read_staff_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accounts: [\n", "is not valid YAML"),
        ("- just a list\n", "expected a mapping with an `accounts` list"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "staff.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        read_staff_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read"):
        read_staff_file(tmp_path / "nope.yaml")
