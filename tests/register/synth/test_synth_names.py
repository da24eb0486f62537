from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

import pytest

from regwatch.register.synth import sources
from regwatch.register.synth.names import (
    MARRIED,
    MARRIED_ALT,
    NEUTRAL,
    UNMARRIED,
    female_surname,
    married_forms,
    name_book,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_VECTORS = (
    REPO_ROOT.parent / "shared" / "data" / "lt_surname_forms_test_vectors.csv"
)


def _vectors() -> list[sources.SurnameVector]:
    """The VLKK vectors as shipped; the copy is checked against shared/ below."""
    return list(sources.surname_vectors())


@pytest.mark.parametrize(
    "vector", _vectors(), ids=lambda v: f"{v.male}-{v.form}-{v.expected}"
)
def test_surname_form_follows_the_vlkk_vector(vector):
    if vector.form == "married":
        # Both -ienė and, for two-syllable -us/-ius, -uvienė are correct.
        assert vector.expected in married_forms(vector.male)
    else:
        assert female_surname(vector.male, vector.form) == vector.expected


def test_the_vectors_tested_are_the_65_of_the_shared_research_file():
    assert len(_vectors()) == 65
    if SHARED_VECTORS.exists():
        shipped = resources.files("regwatch.register.synth") / "data"
        copy = shipped / "lt_surname_forms_test_vectors.csv"
        assert copy.read_bytes() == SHARED_VECTORS.read_bytes()


@pytest.mark.parametrize("row", sources.surname_seed(), ids=lambda row: row.male)
def test_every_seed_surname_gets_the_female_forms_the_seed_lists(row):
    assert female_surname(row.male, UNMARRIED) == row.unmarried
    assert female_surname(row.male, MARRIED) == row.married
    assert female_surname(row.male, NEUTRAL) == row.neutral
    assert married_forms(row.male)[1:] == (
        (row.married_alt,) if row.married_alt else ()
    )


def test_the_alternative_married_form_falls_back_to_ienė_where_not_allowed():
    assert female_surname("Sutkus", MARRIED_ALT) == "Sutkuvienė"
    assert female_surname("Stankevičius", MARRIED_ALT) == "Stankevičienė"


def test_a_surname_without_a_lithuanian_male_ending_is_left_as_it_is():
    for form in (UNMARRIED, MARRIED, NEUTRAL):
        assert female_surname("Kovalenko", form) == "Kovalenko"


def test_foreign_families_use_their_own_female_form_and_keep_it_at_marriage():
    book = name_book()
    assert book.surname("Ivanov", "F", MARRIED) == "Ivanova"
    assert book.surname("Ivanov", "F", UNMARRIED) == "Ivanova"
    assert book.surname("Ivanov", "M") == "Ivanov"


def test_any_form_of_a_known_surname_leads_back_to_its_family():
    book = name_book()
    for surname in ("Kazlauskas", "Kazlauskaitė", "Kazlauskienė", "Kazlauskė"):
        assert book.family_of(surname) == "Kazlauskas"
    assert book.family_of("Petraitytė-Kazlauskienė") == "Kazlauskas"
    assert book.maiden_family("Petraitytė-Kazlauskienė") == "Petraitis"
    assert book.family_of("Ivanova") == "Ivanov"


def test_given_names_come_from_the_list_of_the_persons_sex():
    book, rng = name_book(), random.Random(3)
    listed = sources.given_names()
    for sex in ("M", "F"):
        for year in (1940, 1985, 2020):
            for _ in range(200):
                name = book.given_name(rng, sex, year)
                assert all(part in listed[sex] for part in name.split(" "))


def test_newborns_get_the_popular_names_of_recent_years_more_often():
    book, rng = name_book(), random.Random(5)
    names = [book.given_name(rng, "F", 2024) for _ in range(2_000)]
    assert names.count("Sofija") > 20  # 1 in 1,087 if drawn uniformly


def test_derived_surnames_widen_the_seed_and_all_have_lithuanian_endings():
    surnames = name_book().lithuanian_surnames
    assert len(surnames) > 3 * len(sources.surname_seed())
    assert len(set(surnames)) == len(surnames)
    assert all(s.endswith(("as", "is", "ys", "us", "a", "ė")) for s in surnames)
