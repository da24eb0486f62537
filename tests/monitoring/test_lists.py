"""LoadClients and GetAllClients: outcomes, idempotency, paging."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from factories import add_person, at, customer, event, new_code, record
from regwatch.errors import InvalidPageToken, RequestIdReused, TooManyCodes
from regwatch.monitoring import lists
from regwatch.monitoring.lists import list_clients, load_clients
from regwatch.monitoring.models import ListStatus, Outcome
from regwatch.register.events import EventType
from regwatch.store.engine import Database, is_busy
from regwatch.store.tables import api_requests, customers, list_entries


def load(db, who, add=(), remove=(), request_id=None):
    return load_clients(
        db, who, add=list(add), remove=list(remove), request_id=request_id
    )


def replace_code(db, code: str) -> str:
    """Give the person of ``code`` a new code in the register; the new code."""
    replacement = new_code()
    record(
        db,
        event(EventType.CODE_REPLACED, at(db, 1), code, newCode=replacement),
        received_at=at(db, 1),
    )
    return replacement


def outcomes(result):
    return [r.outcome for r in result.results]


def test_every_code_gets_its_outcome_in_input_order(db):
    bank = customer(db)
    listed, other = add_person(db), add_person(db)
    load(db, bank, add=[listed.personal_code])

    result = load(
        db,
        bank,
        add=[
            other.personal_code,
            listed.personal_code,
            "1234",
            new_code(),
            f"  {other.personal_code} ",
        ],
        remove=[listed.personal_code, listed.personal_code, "x"],
    )

    assert outcomes(result) == [
        Outcome.ADDED,
        Outcome.ALREADY_ON_LIST,
        Outcome.INVALID_CODE,
        Outcome.NOT_FOUND,
        Outcome.ALREADY_ON_LIST,
        Outcome.REMOVED,
        Outcome.NOT_ON_LIST,
        Outcome.INVALID_CODE,
    ]
    assert result.results[4].personal_code == f"  {other.personal_code} "
    assert result.results[4].current_code == other.personal_code
    assert result.counts[Outcome.ALREADY_ON_LIST] == 2
    assert sum(result.counts.values()) == 8


def test_a_replaced_code_resolves_to_its_person_and_answers_the_current_code(db):
    bank = customer(db)
    person = add_person(db)
    replacement = replace_code(db, person.personal_code)

    result = load(db, bank, add=[person.personal_code, replacement])

    assert outcomes(result) == [Outcome.ADDED, Outcome.ALREADY_ON_LIST]
    assert {r.current_code for r in result.results} == {replacement}


def test_same_request_id_returns_the_first_answer_and_changes_nothing(db):
    bank = customer(db)
    person = add_person(db)
    first = load(db, bank, add=[person.personal_code], request_id="r-1")
    load(db, bank, remove=[person.personal_code])

    again = load(db, bank, add=[person.personal_code], request_id="r-1")

    assert outcomes(again) == outcomes(first) == [Outcome.ADDED]
    assert list_clients(db, bank, page_size=None, page_token=None).total == 0


def test_a_repeat_gets_back_every_outcome_and_current_code_of_the_first_answer(db):
    bank = customer(db)
    listed, unlisted, renamed = add_person(db), add_person(db), add_person(db)
    replacement = replace_code(db, renamed.personal_code)
    load(db, bank, add=[listed.personal_code])
    add = [renamed.personal_code, listed.personal_code, "1234", new_code()]
    remove = [listed.personal_code, unlisted.personal_code]
    first = load(db, bank, add=add, remove=remove, request_id="r-all")

    again = load(db, bank, add=add, remove=remove, request_id="r-all")

    assert again.results == first.results
    assert again.counts == first.counts
    assert set(outcomes(first)) == set(Outcome)
    assert first.results[0].current_code == replacement


def test_an_answer_stored_in_the_first_format_is_still_replayed(db):
    bank = customer(db)
    person = add_person(db)
    code = person.personal_code
    load(db, bank, add=[code], request_id="r-old")
    # The answer as the first release stored it: one triple per code.
    old = {"results": [[code, "ADDED", code]], "counts": {"ADDED": 1}}
    with db.write() as conn:
        conn.execute(
            update(api_requests)
            .where(api_requests.c.request_id == "r-old")
            .values(response=zlib.compress(json.dumps(old).encode()))
        )

    again = load(db, bank, add=[code], request_id="r-old")

    assert outcomes(again) == [Outcome.ADDED]
    assert again.results[0].current_code == code
    assert again.counts[Outcome.ADDED] == 1


def test_same_request_id_with_other_content_is_refused_and_applies_nothing(db):
    bank = customer(db)
    a, b = add_person(db), add_person(db)
    load(db, bank, add=[a.personal_code], request_id="r-1")
    with pytest.raises(RequestIdReused):
        load(db, bank, add=[b.personal_code], request_id="r-1")
    assert list_clients(db, bank, page_size=None, page_token=None).total == 1


def test_request_ids_belong_to_their_customer(db):
    bank, telecom = customer(db, "Bank"), customer(db, "Telecom")
    a, b = add_person(db), add_person(db)
    load(db, bank, add=[a.personal_code], request_id="same")
    result = load(db, telecom, add=[b.personal_code], request_id="same")
    assert outcomes(result) == [Outcome.ADDED]


def test_too_many_codes_is_refused_whole(db):
    bank = customer(db)
    person = add_person(db)
    limit = db.settings.max_codes_per_call
    with pytest.raises(TooManyCodes):
        load(db, bank, add=[person.personal_code] * (limit + 1))
    with db.read() as conn:
        assert (
            conn.execute(select(func.count()).select_from(list_entries)).scalar() == 0
        )


def test_added_and_removed_in_one_call_leaves_no_stay(db):
    bank = customer(db)
    person = add_person(db)
    result = load(db, bank, add=[person.personal_code], remove=[person.personal_code])
    assert outcomes(result) == [Outcome.ADDED, Outcome.REMOVED]
    assert list_clients(db, bank, page_size=None, page_token=None).total == 0


def test_list_pages_walk_the_list_as_it_was_at_the_first_page(db):
    bank = customer(db)
    people = [add_person(db) for _ in range(7)]
    load(db, bank, add=[p.personal_code for p in people[:5]])

    first = list_clients(db, bank, page_size=2, page_token=None)
    # The clock stands still: the walk must not depend on time to tell apart
    # what came before its first page and what came after.
    load(db, bank, add=[people[5].personal_code], remove=[people[0].personal_code])
    load(db, bank, remove=[people[3].personal_code])
    seen = [e.personal_code for e in first.entries]
    token = first.next_page_token
    while token:
        page = list_clients(db, bank, page_size=2, page_token=token)
        assert page.total == 5
        seen += [e.personal_code for e in page.entries]
        token = page.next_page_token

    assert seen == [p.personal_code for p in people[:5]]
    fresh = list_clients(db, bank, page_size=10, page_token=None)
    assert [e.personal_code for e in fresh.entries] == [
        people[1].personal_code,
        people[2].personal_code,
        people[4].personal_code,
        people[5].personal_code,
    ]


def test_deceased_persons_stay_listed_with_their_status(db):
    bank = customer(db)
    person = add_person(db)
    load(db, bank, add=[person.personal_code])
    record(
        db,
        event(
            EventType.DEATH,
            at(db, 1),
            person.personal_code,
            dateOfDeath="2026-11-01",
        ),
        received_at=at(db, 1),
    )
    (entry,) = list_clients(db, bank, page_size=None, page_token=None).entries
    assert entry.status is ListStatus.DECEASED
    assert entry.added_at == at(db, 0)


def test_a_page_token_of_another_customer_or_a_forged_one_is_refused(db):
    bank, telecom = customer(db, "Bank"), customer(db, "Telecom")
    people = [add_person(db) for _ in range(3)]
    load(db, bank, add=[p.personal_code for p in people])
    token = list_clients(db, bank, page_size=1, page_token=None).next_page_token

    with pytest.raises(InvalidPageToken):
        list_clients(db, telecom, page_size=1, page_token=token)
    payload, mac = token.split(".")
    with pytest.raises(InvalidPageToken):
        list_clients(db, bank, page_size=1, page_token=payload[:-2] + "AA." + mac)
    with pytest.raises(InvalidPageToken):
        list_clients(db, bank, page_size=1, page_token="garbage")


def test_a_call_without_a_single_valid_code_answers_each_code(db):
    bank = customer(db)
    result = load(db, bank, add=["12345678901"], remove=["1"])
    assert outcomes(result) == [Outcome.INVALID_CODE, Outcome.INVALID_CODE]
    assert outcomes(load(db, bank)) == []


def test_a_page_size_above_the_maximum_gets_the_maximum(db):
    bank = customer(db)
    people = [add_person(db) for _ in range(3)]
    load(db, bank, add=[p.personal_code for p in people])
    small = replace(db.settings, max_page_size=2)
    page = list_clients(
        Database(db.engine, settings=small), bank, page_size=10**6, page_token=None
    )
    assert len(page.entries) == 2 and page.next_page_token


def test_a_call_that_cannot_get_its_turn_gives_up_busy_with_nothing_done(
    db, backend, monkeypatch
):
    if backend != "postgresql":
        pytest.skip("SQLite's turn is its write lock, held by BEGIN IMMEDIATE")
    bank = customer(db)
    person = add_person(db)
    monkeypatch.setattr(lists, "TURN_TIMEOUT_S", 1)
    with db.engine.connect() as other:
        # Another call of the same customer, holding its turn.
        other.execute(
            select(customers.c.list_version)
            .where(customers.c.customer_id == bank.customer_id)
            .with_for_update()
        )
        with pytest.raises(Exception) as refused:
            load(db, bank, add=[person.personal_code], request_id="r-wait")
        other.rollback()

    assert is_busy(refused.value)
    assert list_clients(db, bank, page_size=None, page_token=None).total == 0
    # Nothing was kept of it: the same request id is a new call afterwards.
    assert outcomes(
        load(db, bank, add=[person.personal_code], request_id="r-wait")
    ) == [Outcome.ADDED]
