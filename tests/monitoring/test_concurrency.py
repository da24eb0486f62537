"""Two copies of one request arriving at once are applied once."""

from __future__ import annotations

import threading

from factories import add_person, customer
from regwatch.monitoring.lists import list_clients, load_clients
from regwatch.monitoring.models import Outcome


def test_two_simultaneous_copies_of_a_request_are_applied_once(db):
    bank = customer(db)
    people = [add_person(db) for _ in range(50)]
    codes = [p.personal_code for p in people]
    answers, errors = [], []
    barrier = threading.Barrier(4)

    def call() -> None:
        barrier.wait()
        try:
            answers.append(
                load_clients(db, bank, add=codes, remove=[], request_id="same-call")
            )
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert all(a.results == answers[0].results for a in answers)
    assert {r.outcome for r in answers[0].results} == {Outcome.ADDED}
    assert list_clients(db, bank, page_size=None, page_token=None).total == 50
