"""Customer B tries everything against customer A, and learns nothing.

A and B are real customers of one real database, and every call goes through
the HTTP app the way a SOAP client sends it (tests/security/isolation.py). B
reads its list, its days and its extracts, loads A's persons, reuses A's request
ids and provokes every fault it can, with persons on A's list and with persons
on nobody's list. Where the work done could give A's list away, the tests count
the SQL statements run instead of timing anything: speed is never asserted in
tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from lxml import etree
from starlette.testclient import TestClient

from regwatch.api.app import create_app
from regwatch.register.records import PersonRecord
from regwatch.store.engine import Database

from .isolation import (
    Party,
    World,
    charged,
    codes_of,
    end_day,
    fault,
    get_all_clients,
    get_changes,
    get_person_data,
    handed_over,
    load_clients,
    masked,
    ok,
    post,
    rename,
    stored_requests,
    texts,
    walk,
    work,
)

# --- the list -----------------------------------------------------------------


def test_b_sees_only_its_own_list_and_its_own_total(world):
    pages = walk(world, world.b, lambda token: get_all_clients(1, token))

    assert [texts(p, "r:total") for p in pages] == [["3"]] * 3
    listed = [code for p in pages for code in texts(p, "r:client/r:personalCode")]
    assert listed == codes_of([*world.b_only, world.shared])
    bodies = b"".join(etree.tostring(p) for p in pages)
    for code in codes_of(world.a_only):
        assert code.encode() not in bodies
    a_pages = walk(world, world.a, lambda token: get_all_clients(10, token))
    assert texts(a_pages[0], "r:client/r:personalCode") == codes_of(
        [*world.a_only, world.shared]
    )


def test_b_loads_a_person_on_as_list_as_it_loads_anyone(world):
    on_a, on_nobody = world.a_only, world.nobody

    added_a = world.call(world.b, load_clients(add=[on_a[0].personal_code]))
    added_nobody = world.call(world.b, load_clients(add=[on_nobody[0].personal_code]))
    removed_a = world.call(world.b, load_clients(remove=[on_a[1].personal_code]))
    removed_nobody = world.call(
        world.b, load_clients(remove=[on_nobody[1].personal_code])
    )

    assert texts(ok(added_a), "r:result/r:outcome") == ["ADDED"]
    assert masked(added_a.content, on_a[0].personal_code) == masked(
        added_nobody.content, on_nobody[0].personal_code
    )
    assert texts(ok(removed_a), "r:result/r:outcome") == ["NOT_ON_LIST"]
    assert masked(removed_a.content, on_a[1].personal_code) == masked(
        removed_nobody.content, on_nobody[1].personal_code
    )
    a_list = ok(world.call(world.a, get_all_clients()))
    assert texts(a_list, "r:total") == ["4"]
    assert texts(a_list, "r:client/r:personalCode") == codes_of(
        [*world.a_only, world.shared]
    )
    b_list = ok(world.call(world.b, get_all_clients()))
    assert texts(b_list, "r:client/r:personalCode") == codes_of(
        [*world.b_only, world.shared, on_a[0], on_nobody[0]]
    )


# --- days ---------------------------------------------------------------------


def test_b_is_told_of_its_own_persons_only_on_a_day_when_as_persons_changed(world):
    db = world.db
    rename(db, world.a_only[0], world.a_only[1], world.shared, world.b_only[0])
    day = end_day(db)

    pages = walk(world, world.b, lambda token: get_changes(day, 1, token))

    assert [texts(p, "r:total") for p in pages] == [["2"], ["2"]]
    told = [code for p in pages for code in texts(p, "r:person/r:personalCode")]
    assert sorted(told) == sorted(codes_of([world.shared, world.b_only[0]]))
    bodies = b"".join(etree.tostring(p) for p in pages)
    for code in codes_of(world.a_only):
        assert code.encode() not in bodies
    assert charged(db, world.b.customer_id) == {
        ("CHANGES", world.shared.person_id),
        ("CHANGES", world.b_only[0].person_id),
    }
    assert handed_over(db, world.b.customer_id) == {
        world.shared.person_id,
        world.b_only[0].person_id,
    }
    a_answer = ok(world.call(world.a, get_changes(day)))
    assert texts(a_answer, "r:total") == ["3"]
    assert sorted(texts(a_answer, "r:person/r:personalCode")) == sorted(
        codes_of([world.a_only[0], world.a_only[1], world.shared])
    )


def test_a_day_of_changes_on_as_list_costs_b_what_a_day_without_them_does(world):
    db = world.db
    rename(db, world.a_only[0], world.a_only[1], world.b_only[0])
    with_a = end_day(db)
    rename(db, world.nobody[0], world.nobody[1], world.b_only[1])
    without_a = end_day(db)
    world.call(world.b, get_changes(without_a))  # a first call opens connections

    seen_with_a, answer_with_a = work(world, world.b, get_changes(with_a))
    seen_without_a, answer_without_a = work(world, world.b, get_changes(without_a))

    assert seen_with_a == seen_without_a
    assert any("day_answers" in statement for statement in seen_with_a)
    with_a_text = answer_with_a.replace(with_a.isoformat().encode(), b"<day>")
    without_a_text = answer_without_a.replace(without_a.isoformat().encode(), b"<day>")
    assert masked(with_a_text, world.b_only[0].personal_code) == masked(
        without_a_text, world.b_only[1].personal_code
    )


# --- extracts -----------------------------------------------------------------


def test_an_extract_of_a_person_on_as_list_reads_as_one_of_a_person_on_no_list(
    world,
):
    on_a, on_nobody = world.a_only[0].personal_code, world.nobody[0].personal_code

    asked_a = world.call(world.b, get_person_data([on_a]))
    asked_nobody = world.call(world.b, get_person_data([on_nobody]))

    answer = ok(asked_a)
    assert texts(answer, "r:person/r:returned") == ["false"]
    assert texts(answer, "r:person/r:reason") == ["NOT_ON_LIST"]
    assert texts(answer, "r:person/r:currentPersonalCode") == []
    assert masked(asked_a.content, on_a) == masked(asked_nobody.content, on_nobody)
    assert charged(world.db, world.b.customer_id) == set()
    assert handed_over(world.db, world.b.customer_id) == set()
    own = ok(world.call(world.b, get_person_data([world.shared.personal_code])))
    assert texts(own, "r:person/r:returned") == ["true"]
    assert charged(world.db, world.b.customer_id) == {
        ("EXTRACT", world.shared.person_id)
    }


def test_asking_for_a_person_on_as_list_costs_what_asking_for_anyone_does(world):
    on_a, on_nobody = world.a_only, world.nobody
    world.call(world.b, get_person_data([on_nobody[3].personal_code]))  # warm up

    extract_a = work(world, world.b, get_person_data([on_a[0].personal_code]))
    extract_nobody = work(world, world.b, get_person_data([on_nobody[0].personal_code]))
    add_a = work(world, world.b, load_clients(add=[on_a[1].personal_code]))
    add_nobody = work(world, world.b, load_clients(add=[on_nobody[1].personal_code]))
    remove_a = work(world, world.b, load_clients(remove=[on_a[2].personal_code]))
    remove_nobody = work(
        world, world.b, load_clients(remove=[on_nobody[2].personal_code])
    )

    for (seen_a, _), (seen_nobody, _) in (
        (extract_a, extract_nobody),
        (add_a, add_nobody),
        (remove_a, remove_nobody),
    ):
        assert seen_a == seen_nobody
        assert any("list_entries" in statement for statement in seen_a)
    assert masked(extract_a[1], on_a[0].personal_code) == masked(
        extract_nobody[1], on_nobody[0].personal_code
    )


# --- request ids --------------------------------------------------------------


def test_b_reusing_as_request_ids_gets_its_own_fresh_answers(world):
    a, b, codes = world.a, world.b, codes_of(world.nobody)

    def extract(who: Party, person: PersonRecord, request_id: str) -> etree._Element:
        asked = get_person_data([person.personal_code], request_id=request_id)
        return ok(world.call(who, asked))

    ok(world.call(a, load_clients(add=[codes[0]], request_id="load-1")))
    ok(world.call(a, load_clients(add=[codes[1]], request_id="load-2")))
    extract(a, world.a_only[0], "x-1")
    extract(a, world.a_only[1], "x-2")
    ok(world.call(b, load_clients(add=[codes[0]])))
    a_requests = stored_requests(world.db, a.customer_id)

    same_content = ok(world.call(b, load_clients(add=[codes[0]], request_id="load-1")))
    other_content = ok(world.call(b, load_clients(add=[codes[2]], request_id="load-2")))
    same_extract = extract(b, world.a_only[0], "x-1")
    other_extract = extract(b, world.b_only[0], "x-2")

    # A's stored answer to load-1 was ADDED: B's own list already had the person.
    assert texts(same_content, "r:result/r:outcome") == ["ALREADY_ON_LIST"]
    assert texts(other_content, "r:result/r:outcome") == ["ADDED"]
    assert texts(same_extract, "r:person/r:reason") == ["NOT_ON_LIST"]
    assert texts(other_extract, "r:person/r:returned") == ["true"]
    assert stored_requests(world.db, a.customer_id) == a_requests
    b_list = ok(world.call(b, get_all_clients()))
    assert texts(b_list, "r:client/r:personalCode") == [
        *codes_of([*world.b_only, world.shared]),
        codes[0],
        codes[2],
    ]
    # A's ids still hold A's requests: its first answer comes back (a fresh one
    # would say ALREADY_ON_LIST), and other content is refused.
    repeat = ok(world.call(a, load_clients(add=[codes[0]], request_id="load-1")))
    assert texts(repeat, "r:result/r:outcome") == ["ADDED"]
    reused = [
        fault(world.call(a, load_clients(add=[codes[3]], request_id="load-2"))),
        fault(world.call(a, get_person_data([codes[3]], request_id="x-1"))),
    ]
    assert [f.code for f in reused] == ["REQUEST_ID_REUSED"] * 2
    a_list = ok(world.call(a, get_all_clients()))
    assert texts(a_list, "r:client/r:personalCode") == [
        *codes_of([*world.a_only, world.shared]),
        codes[0],
        codes[1],
    ]


# --- faults -------------------------------------------------------------------


@pytest.fixture
def narrow(world: World) -> Iterator[TestClient]:
    """A second app over the same database that takes one code per call."""
    settings = dataclasses.replace(world.db.settings, max_codes_per_call=1)
    with TestClient(create_app(Database(world.db.engine, settings=settings))) as app:
        yield app


def test_every_fault_b_can_provoke_reads_the_same_for_a_person_on_as_list(
    world, narrow
):
    b, spare = world.b, world.nobody[3].personal_code
    ok(world.call(b, load_clients(remove=[spare], request_id="load-1")))
    ok(world.call(b, get_person_data([spare], request_id="extract-1")))
    app, mismatch = world.client, {"SOAPAction": '"GetAllClients"'}
    provocations: list[tuple[str, TestClient, Callable[[str], str], dict]] = [
        ("MALFORMED_REQUEST", app, lambda code: get_person_data([code], " "), {}),
        ("MALFORMED_REQUEST", app, lambda c: get_person_data([c], "why? " * 120), {}),
        (
            "REQUEST_ID_REUSED",
            app,
            lambda code: load_clients(add=[code], request_id="load-1"),
            {},
        ),
        (
            "REQUEST_ID_REUSED",
            app,
            lambda code: get_person_data([code], request_id="extract-1"),
            {},
        ),
        ("TOO_MANY_CODES", narrow, lambda code: load_clients(add=[code, spare]), {}),
        ("TOO_MANY_CODES", narrow, lambda code: get_person_data([code, spare]), {}),
        ("OPERATION_MISMATCH", app, lambda code: get_person_data([code]), mismatch),
    ]

    for expected, client, request, headers in provocations:
        on_a, on_nobody = (
            fault(post(client, b.auth, request(person.personal_code), **headers))
            for person in (world.a_only[0], world.nobody[0])
        )
        assert on_a.code == expected
        assert masked(on_a.body, world.a_only[0].personal_code) == masked(
            on_nobody.body, world.nobody[0].personal_code
        )
    assert charged(world.db, b.customer_id) == set()
    assert texts(ok(world.call(b, get_all_clients())), "r:total") == ["3"]
