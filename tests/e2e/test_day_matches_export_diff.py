"""A published day's answer equals an independent comparison of two exports.

For a customer that follows everyone with every kind, the persons reported for
a day, and their kinds, must be exactly those whose exported record differs
between the export taken before the day and the one taken after it.
"""

from __future__ import annotations

from conftest import START
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import day_changes, publish_pending
from regwatch.monitoring.lists import load_clients
from regwatch.register.export import export_persons
from regwatch.register.synth.activity import simulate
from regwatch.register.synth.population import generate_register

# Written out here rather than imported, so that the comparison stays independent
# of the service's own mapping.
GROUP_KINDS = {
    "name": "NAME",
    "death": "DEATH",
    "identityDocuments": "IDENTITY_DOCUMENT",
    "declaredResidence": "DECLARED_RESIDENCE",
    "maritalStatus": "MARITAL_STATUS",
    "childrenCount": "CHILDREN_COUNT",
    "photo": "PHOTO",
    "residencePermit": "RESIDENCE_PERMIT",
}


def export(db) -> list[dict]:
    with db.read() as conn:
        return list(export_persons(conn))


def expected_changes(
    before: list[dict], after: list[dict], listed: set[str]
) -> dict[str, set[str]]:
    """current code -> kinds, for listed persons whose exported record differs."""
    by_code = {doc["personalCode"]: doc for doc in before}
    found = {}
    for new in after:
        old = next(
            (
                by_code[c]
                for c in [new["personalCode"], *new["previousCodes"]]
                if c in by_code
            ),
            None,
        )
        if old is None or not listed & {old["personalCode"], *old["previousCodes"]}:
            continue  # born during the day, or not on the list
        kinds = {
            kind for group, kind in GROUP_KINDS.items() if old[group] != new[group]
        }
        if old["personalCode"] != new["personalCode"]:
            kinds.add("PERSONAL_CODE")
        if kinds:
            found[new["personalCode"]] = kinds
    return found


def reported(db, customer, day) -> dict[str, set[str]]:
    found, token = {}, None
    while True:
        page = day_changes(db, customer, day, page_size=500, page_token=token)
        for person in page.persons:
            found[person.current_code] = {kind.value for kind in person.kinds}
        token = page.next_page_token
        if token is None:
            return found


def test_every_published_day_equals_the_comparison_of_two_exports(db):
    generate_register(db, 3_000, 5, start=START)
    everyone = [doc["personalCode"] for doc in export(db)]
    customer, _ = add_customer(db, "Follows Everyone", kinds=ALL_MASK)
    load_clients(db, customer, add=everyone, remove=[], request_id=None)

    days_checked, persons_checked = 0, 0
    for seed in (1, 2, 3, 4):
        before = export(db)
        simulate(db, 1, seed, rate_scale=40)
        after = export(db)
        (published,) = publish_pending(db)

        expected = expected_changes(before, after, set(everyone))
        assert reported(db, customer, published.day) == expected
        days_checked += 1
        persons_checked += len(expected)

    assert days_checked == 4
    assert persons_checked > 100  # the days were not trivially empty
