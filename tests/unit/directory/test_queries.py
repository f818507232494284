"""Search, filters, /verify and the exports, with plain records: a public question is asked of
what anyone may see only."""

import csv
import io
from datetime import timedelta

import pytest

from services.directory.queries import (
    QueryError,
    StaffQuery,
    VersionWait,
    admin_results,
    command_wait,
    export_csv,
    public_results,
    verify,
)
from services.directory.view import DirectoryView
from tests.unit.directory.test_view import ANNA, NOW, PIP, SUE, account, member

MASTODON = account(
    "@anna@social.example", platform="mastodon", url="https://social.example/@anna", account_id="acc-m"
)
ANNA2 = ANNA.model_copy(update={"role": "Graduate", "accounts": (*ANNA.accounts, MASTODON)})
LEFT = member("lee", "Lee Left", account("leeleft"), status="left")
PEOPLE = [ANNA2, LEFT, PIP, SUE]


def view() -> DirectoryView:
    found = DirectoryView()
    for offset, person in enumerate(PEOPLE):
        found.apply(person.staff_id, person, partition=0, offset=offset)
    return found


def names(records: list) -> list[str]:  # type: ignore[type-arg]
    return [record.name for record in records]


def test_public_search_never_matches_what_is_not_shown() -> None:
    ask = StaffQuery.parse
    assert names(public_results(PEOPLE, ask({}))) == ["Anna Matthews", "Sue Tylcoat"]
    assert names(public_results(PEOPLE, ask({"q": "TYLC"}))) == ["Sue Tylcoat"]
    assert names(public_results(PEOPLE, ask({"q": "graduate"}))) == ["Anna Matthews"]
    for hidden in ("piptucker", "pip", "anna_hidden", "staff.devon", "leeleft"):
        assert public_results(PEOPLE, ask({"q": hidden})) == [], hidden
    assert names(admin_results(PEOPLE, ask({"q": "piptucker"}))) == ["pip Tucker"]
    assert names(admin_results(PEOPLE, ask({"q": "staff.devon"}))) == ["Sue Tylcoat"]


def test_filters_narrow_people_and_their_accounts() -> None:
    on_mastodon = public_results(PEOPLE, StaffQuery.parse({"platform": "mastodon"}))
    assert [[a.handle for a in p.accounts] for p in on_mastodon] == [["@anna@social.example"]]
    assert public_results(PEOPLE, StaffQuery.parse({"status": "archived"})) == []
    private_x = admin_results(PEOPLE, StaffQuery.parse({"platform": "x", "q": "hidden"}))
    assert [[a.handle for a in p.accounts] for p in private_x] == [["localgovgrad", "anna_hidden"]]
    assert names(admin_results(PEOPLE, StaffQuery.parse({"status": "active", "platform": "mastodon"}))) == [
        "Anna Matthews"
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"platform": "myspace"}, "platform"),
        ({"status": "deleted"}, "status"),
        ({"platform": ""}, "platform"),
    ],
)
def test_a_bad_filter_names_its_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(QueryError) as refused:
        StaffQuery.parse(params)
    assert refused.value.field == field


def test_verify_says_yes_only_for_a_shown_account_and_a_private_one_like_an_unknown_one() -> None:
    known = view()
    records = {m.staff_id: m for m in known.members()}

    def ask(**params: str) -> dict:  # type: ignore[type-arg]
        return verify(params, known.handle_owners, records).model_dump()

    sue = ask(platform="x", handle="https://twitter.com/SUETY")
    assert sue["council_account"] and sue["handle"] == "suety" and sue["staff"]["name"] == "Sue Tylcoat"
    assert ask(url="https://social.example/@anna")["staff"]["staff_id"] == "anna"
    for hidden, unknown in (
        ("piptucker", "piptuckex"),
        ("anna_hidden", "anna_hiddex"),
        ("leeleft", "leelefx"),
    ):
        answer, nobody = ask(platform="x", handle=hidden), ask(platform="x", handle=unknown)
        assert answer == {**nobody, "handle": hidden, "url": f"https://x.com/{hidden}"}
        assert answer["council_account"] is False and answer["staff"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "handle"),
        ({"handle": "suety"}, "platform"),
        ({"platform": "x", "handle": "not a handle!"}, "handle"),
        ({"platform": "x", "handle": "suety", "url": "https://x.com/suety"}, "url"),
        ({"url": "mailto:someone"}, "url"),
        ({"platform": "nowhere", "handle": "suety"}, "platform"),
    ],
)
def test_a_bad_verify_question_names_its_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(QueryError) as refused:
        verify(params, {}, {})
    assert refused.value.field == field


def test_csv_exports_a_row_per_shown_account_and_disarms_formulas() -> None:
    sly = member("sly", "=HYPERLINK(1)", account("slyone"), role="@risk", changed_at=NOW + timedelta(1))
    public = list(
        csv.DictReader(io.StringIO(export_csv(public_results([*PEOPLE, sly], StaffQuery()), admin=False)))
    )
    assert [(row["name"], row["handle"]) for row in public] == [
        ("Anna Matthews", "localgovgrad"),
        ("Anna Matthews", "@anna@social.example"),
        ("Sue Tylcoat", "suety"),
        ("'=HYPERLINK(1)", "slyone"),
    ]
    assert public[3]["role"] == "'@risk" and set(public[0]) == {
        "staff_id",
        "name",
        "role",
        "department",
        "platform",
        "handle",
        "url",
        "verified",
    }
    full = list(csv.DictReader(io.StringIO(export_csv(admin_results(PEOPLE, StaffQuery()), admin=True))))
    assert {row["handle"] for row in full} >= {"piptucker", "anna_hidden"}
    assert {row["email"] for row in full} >= {"sue@staff.devon.example"}


def test_the_waits_are_read_as_the_document_says_numbers_and_bounded() -> None:
    assert VersionWait.parse({}, longest=30) == VersionWait(min_version=None, wait=10.0)
    assert VersionWait.parse({}, longest=0.5) == VersionWait(min_version=None, wait=0.5)
    assert VersionWait.parse({"min_version": "3", "wait": "1.5e-1"}, longest=30) == VersionWait(3, 0.15)
    assert command_wait({}, longest=30) == 0.0 and command_wait({"wait": "30"}, longest=30) == 30.0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_version": "0"}, "min_version"),
        ({"min_version": "1.0"}, "min_version"),
        ({"min_version": " 2"}, "min_version"),
        ({"min_version": "9" * 5000}, "min_version"),
        ({"wait": "30.5"}, "wait"),
        ({"wait": "-1"}, "wait"),
        ({"wait": "nan"}, "wait"),
        ({"wait": "inf"}, "wait"),
        ({"wait": "1_0"}, "wait"),
        ({"wait": ""}, "wait"),
    ],
)
def test_a_bad_wait_names_its_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(QueryError) as raised:
        VersionWait.parse(params, longest=30)
    assert raised.value.field == field
    if field == "wait":
        with pytest.raises(QueryError):
            command_wait(params, longest=30)
