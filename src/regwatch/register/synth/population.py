"""Generate a register: persons with families, homes, documents and permits.

Persons are made batch by batch (10,000 at a time). Within a batch, ages are
drawn from the country's age pyramid first and families are then formed among
the persons drawn: women and men of fitting ages are married to each other,
children are linked to a mother 18-45 years older (and to her husband when he
fits), a share of mostly old persons have died, and whole families become
foreigners together. Relatives are therefore always in the same batch, which
keeps memory flat however large the register, and the age structure is the
pyramid's whatever the families.

The starting state is not a change: generation writes persons and their
personal codes, and nothing to the change log.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate
from typing import Any

from sqlalchemy import Connection, Table, func, select

from regwatch import codes
from regwatch.clock import day_of, day_start, require_aware, to_micros
from regwatch.register.records import Family, dump_groups
from regwatch.register.synth import documents as docs
from regwatch.register.synth.names import (
    LITHUANIAN,
    MARRIED,
    MARRIED_ALT,
    NEUTRAL,
    UNMARRIED,
    NameBook,
    group_of,
    name_book,
)
from regwatch.register.synth.places import AddressBook, address_book
from regwatch.store import tables
from regwatch.store.engine import Database
from regwatch.store.sql import analyse, insert_tuples

BATCH_SIZE = 10_000
YEAR = 365.2425
FIRST_BIRTH_YEAR = 1925

SINGLE, MARRIED_STATUS, DIVORCED, WIDOWED = "SINGLE", "MARRIED", "DIVORCED", "WIDOWED"

# Residents by age, in thousands per five-year band starting at the age given:
# the rough shape of Lithuania's pyramid in the mid-2020s (small cohorts born
# after 2015 and in the 1990s-2000s emigration years, the large 1955-1970
# cohorts, few over 85). They sum to about 2.79 million, near the
# resident_population_1jan rows of lt_demography_calibration.csv.
_AGE_BANDS = (
    (0, 105), (5, 140), (10, 150), (15, 145), (20, 140), (25, 165), (30, 185),
    (35, 185), (40, 180), (45, 185), (50, 200), (55, 210), (60, 205), (65, 180),
    (70, 150), (75, 105), (80, 85), (85, 50), (90, 18), (95, 4), (100, 0.3),
)  # fmt: skip

# Share of men by age: about even when young, a quarter past 85 (men in
# Lithuania live about ten years less than women).
_MALE_SHARE = (
    (0, 0.513), (20, 0.505), (40, 0.49), (55, 0.46), (65, 0.41), (75, 0.34),
    (85, 0.26),
)  # fmt: skip

# Marital status of living adults by age: shares married, divorced, widowed
# (the rest single). Rough census-like shape: about 60 % married in mid-life,
# many widows past 75. Married men and women are paired within the batch, so
# the two tables only have to agree roughly.
_MARITAL = {
    "M": (
        (18, 0.04, 0.00, 0.00), (25, 0.30, 0.02, 0.00), (30, 0.50, 0.05, 0.00),
        (35, 0.60, 0.10, 0.01), (45, 0.64, 0.13, 0.02), (55, 0.68, 0.12, 0.04),
        (65, 0.70, 0.09, 0.09), (75, 0.65, 0.06, 0.22), (85, 0.50, 0.04, 0.40),
    ),
    "F": (
        (18, 0.10, 0.01, 0.00), (25, 0.42, 0.04, 0.00), (30, 0.56, 0.08, 0.005),
        (35, 0.60, 0.14, 0.02), (45, 0.58, 0.17, 0.05), (55, 0.52, 0.17, 0.13),
        (65, 0.40, 0.13, 0.33), (75, 0.22, 0.08, 0.60), (85, 0.07, 0.04, 0.82),
    ),
}  # fmt: skip

# How likely a person's mother is linked in the register, by the person's age:
# nearly always for those born since the register went digital, rarely for the
# old, whose parents mostly died before it.
_PARENTS_LINKED = ((0, 0.93), (18, 0.85), (30, 0.6), (45, 0.35), (60, 0.12))

# How readily a woman with 0, 1, 2 ... linked children gets one more.
_NEXT_CHILD = (1.0, 0.85, 0.5, 0.25, 0.1, 0.0)

# Mother's age at a birth, weight per year of age (peak 25-34).
_MOTHER_AGE = ((18, 2), (20, 8), (25, 14), (30, 13), (35, 7), (40, 2), (46, 0))

DECEASED_SHARE = 0.015
# Gompertz: the risk of dying grows about 9 % a year of age.
_GOMPERTZ_SLOPE = 0.09
DEATHS_WITHIN_YEARS = 12

# Foreign residents were about 218,000 of 2.89 million on 1 January 2025
# (foreigners_resident_1jan in lt_demography_calibration.csv): 7.5 %.
FOREIGN_SHARE = 0.075
# Citizenships of foreign residents, weighted: Ukrainians and Belarusians make
# up nearly two thirds (76,145 and 62,535 on 1 July 2024, same file), then
# Russia, Central Asia, India and the Caucasus (rough).
CITIZENSHIPS = {
    "UA": 34, "BY": 28, "RU": 7, "UZ": 6, "IN": 5, "TJ": 4, "KZ": 3, "KG": 3,
    "AZ": 2, "GE": 2, "TR": 2, "MD": 1, "AM": 1, "PK": 1, "BD": 1,
}  # fmt: skip
PERMANENT_PERMIT_SHARE = 0.2

ABROAD_SHARE = 0.03
NO_RESIDENCE_SHARE = 0.01


class GenerationRefused(ValueError):
    """The register cannot be generated into this database as it stands."""


@dataclass
class GenerationSummary:
    persons: int = 0
    deceased: int = 0
    foreigners: int = 0
    married_couples: int = 0
    divorced: int = 0
    widowed: int = 0
    with_linked_parent: int = 0
    abroad: int = 0
    no_residence: int = 0
    by_citizenship: dict[str, int] = field(default_factory=dict)


def generate_register(
    db: Database,
    persons: int,
    seed: int,
    *,
    start: datetime,
    batch_size: int = BATCH_SIZE,
) -> GenerationSummary:
    """Write ``persons`` generated persons into an empty register mirror.

    The register is as it stands at ``start``: ages, deaths, documents and
    permits are as of that instant. The same seed, size and start give the same
    register. Refuses a mirror that already holds persons or personal codes.
    All of it is one transaction.
    """
    if persons < 0:
        raise ValueError(f"persons must be 0 or more, not {persons}")
    start = require_aware(start)
    if day_of(start).year < FIRST_BIRTH_YEAR:
        raise ValueError(f"start {start.isoformat()} is before {FIRST_BIRTH_YEAR}")

    summary = GenerationSummary()
    with db.write() as conn:
        _require_empty(conn)
        generator = _Generator(random.Random(f"regwatch-register:{seed}"), start)
        next_id = 1
        while next_id <= persons:
            size = min(batch_size, persons - next_id + 1)
            batch = generator.batch(size, next_id)
            person_rows, code_rows = generator.rows(batch, conn.dialect.name)
            _insert(conn, tables.persons, person_rows)
            _insert(conn, tables.personal_codes, code_rows)
            _count(batch, summary)
            next_id += size
        # The planner must see millions of rows, not the empty tables it last
        # looked at, before the first join against them.
        analyse(conn, tables.persons.name, tables.personal_codes.name)
    return summary


def _require_empty(conn: Connection) -> None:
    for table in (tables.persons, tables.personal_codes):
        if conn.execute(select(func.count()).select_from(table)).scalar():
            raise GenerationRefused(
                f"the register mirror is not empty ({table.name} has rows); "
                "generate into a new database"
            )


def _insert(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples in the table's column order (COPY on PostgreSQL).

    Columns with a server default (a person's restriction) are left to it.
    """
    columns = [column.name for column in table.columns if column.server_default is None]
    insert_tuples(conn, table, columns, rows)


def _count(batch: Sequence[_Person], summary: GenerationSummary) -> None:
    for person in batch:
        summary.persons += 1
        summary.by_citizenship[person.citizenship] = (
            summary.by_citizenship.get(person.citizenship, 0) + 1
        )
        if person.died:
            summary.deceased += 1
        if person.citizenship != LITHUANIAN:
            summary.foreigners += 1
        if person.spouse is not None and person.sex == "F":
            summary.married_couples += 1
        if person.status == DIVORCED:
            summary.divorced += 1
        elif person.status == WIDOWED:
            summary.widowed += 1
        if person.mother is not None or person.father is not None:
            summary.with_linked_parent += 1
        residence = person.residence["status"]
        if residence == "ABROAD":
            summary.abroad += 1
        elif residence == "NONE":
            summary.no_residence += 1


# --- one person while a batch is being formed ------------------------------------


class _Person:
    __slots__ = (
        "address", "age", "born", "children", "citizenship", "died", "documents",
        "family", "father", "given", "index", "late_spouse", "married_family",
        "mother", "permit", "person_id", "photo", "residence", "sex", "since",
        "spouse", "status", "surname",
    )  # fmt: skip

    def __init__(self, index: int, sex: str, born: date, age: int) -> None:
        self.index = index
        self.person_id = 0
        self.sex = sex
        self.born = born
        self.age = age
        self.died: date | None = None
        self.status = SINGLE
        self.since: date | None = None
        self.spouse: _Person | None = None
        self.late_spouse: _Person | None = None
        self.mother: _Person | None = None
        self.father: _Person | None = None
        self.children: list[_Person] = []
        self.citizenship = LITHUANIAN
        self.family: str | None = None  # male form of the surname born with
        self.married_family: str | None = None
        self.given = ""
        self.surname = ""
        self.residence: dict[str, Any] = {}
        self.documents: list[dict[str, Any]] = []
        self.photo: dict[str, str] | None = None
        self.permit: dict[str, Any] | None = None


def _by_age(table: Sequence[tuple[Any, ...]], age: int) -> tuple[Any, ...]:
    """The row of an age table whose first column is the highest age <= age."""
    row = table[0]
    for candidate in table:
        if candidate[0] > age:
            break
        row = candidate
    return row


def _shift(day: date, years: float) -> date:
    return date.fromordinal(day.toordinal() + int(years * YEAR))


def _between(rng: random.Random, low: date, high: date) -> date:
    """A day in [low, high]; ``low`` when the range is empty."""
    span = high.toordinal() - low.toordinal()
    return (
        low if span <= 0 else date.fromordinal(low.toordinal() + rng.randint(0, span))
    )


class _Generator:
    """Forms batches of related persons and turns them into rows."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.start = start
        self.today = day_of(start)
        self.updated_at = to_micros(start)
        self.names: NameBook = name_book()
        self.addresses: AddressBook = address_book()
        self.serials: dict[tuple[str, date], int] = {}
        self.document_counter = 0
        self.permit_counter = 0

        oldest = self.today.year - FIRST_BIRTH_YEAR
        weights = [_by_age(_AGE_BANDS, age)[1] for age in range(oldest + 1)]
        self._age_cum = list(accumulate(weights))
        mother_weights = [_by_age(_MOTHER_AGE, age)[1] for age in range(18, 46)]
        self._mother_ages = list(range(18, 46))
        self._mother_cum = list(accumulate(mother_weights))
        self._citizenships = list(CITIZENSHIPS)
        self._citizenship_cum = list(accumulate(CITIZENSHIPS.values()))

    # -- a batch ------------------------------------------------------------------

    def batch(self, size: int, first_id: int) -> list[_Person]:
        people = [self._person(index) for index in range(size)]
        for offset, person in enumerate(people):
            person.person_id = first_id + offset
        self._marital_targets(people)
        self._marry(people)
        self._link_children(people)
        self._deaths(people)
        self._citizenships_of(people)
        self._names(people)
        self._residences(people)
        for person in people:
            self._papers(person)
        return people

    def _person(self, index: int) -> _Person:
        rng = self.rng
        age = bisect(self._age_cum, rng.random() * self._age_cum[-1])
        born = date.fromordinal(
            self.today.toordinal() - int((age + rng.random()) * YEAR)
        )
        born = max(born, date(FIRST_BIRTH_YEAR, 1, 1))
        age = docs.age_on(born, self.today)
        sex = "M" if rng.random() < _by_age(_MALE_SHARE, age)[1] else "F"
        return _Person(index, sex, born, age)

    def _marital_targets(self, people: list[_Person]) -> None:
        rng = self.rng
        for person in people:
            if person.age < 18:
                continue
            _, married, divorced, widowed = _by_age(_MARITAL[person.sex], person.age)
            draw = rng.random()
            if draw < married:
                person.status = MARRIED_STATUS
            elif draw < married + divorced:
                person.status = DIVORCED
            elif draw < married + divorced + widowed:
                person.status = WIDOWED

    def _marry(self, people: list[_Person]) -> None:
        """Pair the women and men meant to be married, the husband ~2.5 years older."""
        rng = self.rng
        men = sorted(
            (p for p in people if p.sex == "M" and p.status == MARRIED_STATUS),
            key=lambda p: p.born,
        )
        keys = [man.born.toordinal() for man in men]
        women = [p for p in people if p.sex == "F" and p.status == MARRIED_STATUS]
        for woman in women:
            wanted = woman.born.toordinal() - int(rng.gauss(2.5, 3.5) * YEAR)
            at = bisect(keys, wanted)
            near = [i for i in (at - 1, at) if 0 <= i < len(keys)]
            best = min(near, key=lambda i: abs(keys[i] - wanted), default=None)
            if best is None or abs(keys[best] - woman.born.toordinal()) > 12 * YEAR:
                self._unmatched(woman)
                continue
            man = men.pop(best)
            keys.pop(best)
            woman.spouse, man.spouse = man, woman
            earliest = _shift(max(woman.born, man.born), 18)
            wanted_since = _shift(woman.born, rng.uniform(20, 33))
            since = min(max(wanted_since, earliest), self.today)
            woman.since = man.since = since
        for man in men:
            self._unmatched(man)
        for person in people:
            if person.status in (DIVORCED, WIDOWED):
                self._single_again_since(person)

    def _unmatched(self, person: _Person) -> None:
        rng = self.rng
        if person.age < 25:
            person.status = SINGLE
        elif person.age >= 65 and rng.random() < 0.6:
            person.status = WIDOWED
        else:
            person.status = DIVORCED if rng.random() < 0.6 else SINGLE

    def _single_again_since(self, person: _Person) -> None:
        low = _shift(person.born, 22 if person.status == DIVORCED else 25)
        person.since = _between(self.rng, min(low, self.today), self.today)

    def _link_children(self, people: list[_Person]) -> None:
        rng = self.rng
        women_by_year: dict[int, list[_Person]] = {}
        for person in people:
            if person.sex == "F":
                women_by_year.setdefault(person.born.year, []).append(person)

        for child in people:
            if rng.random() >= _by_age(_PARENTS_LINKED, child.age)[1]:
                continue
            for _attempt in range(4):
                mother_age = self._mother_ages[
                    bisect(self._mother_cum, rng.random() * self._mother_cum[-1])
                ]
                bucket = women_by_year.get(child.born.year - mother_age)
                if not bucket:
                    continue
                mother = rng.choice(bucket)
                if self._may_be_mother(mother, child):
                    _link(child, mother)
                    break

        for person in people:
            if person.sex == "F" and person.spouse is not None and person.children:
                first = min(child.born for child in person.children)
                earliest = _shift(max(person.born, person.spouse.born), 18)
                since = _shift(first, -self.rng.uniform(0, 3))
                if person.since is not None and since < person.since:
                    person.since = person.spouse.since = max(since, earliest)

    def _may_be_mother(self, mother: _Person, child: _Person) -> bool:
        if not _shift(mother.born, 18) <= child.born <= _shift(mother.born, 45.9):
            return False
        # Each further child is less likely: large families are rare.
        if self.rng.random() >= _NEXT_CHILD[min(len(mother.children), 5)]:
            return False
        if child.spouse is not None and child.spouse.mother is mother:
            return False  # siblings are never married to each other
        father = mother.spouse
        if father is None:
            # Unmarried mothers are less common than married ones.
            return self.rng.random() < 0.5
        return _shift(father.born, 18) <= child.born <= _shift(father.born, 60)

    def _deaths(self, people: list[_Person]) -> None:
        """Let a share of persons, mostly old, have died in recent years."""
        rng = self.rng
        wanted = int(len(people) * DECEASED_SHARE + rng.random())
        # Weighted sampling without replacement (Efraimidis-Spirakis keys).
        keyed = (
            (
                math.log(rng.random() or 1e-300)
                / math.exp(_GOMPERTZ_SLOPE * (p.age - 80)),
                i,
            )
            for i, p in enumerate(people)
        )
        chosen = [people[i] for _, i in heapq.nlargest(wanted, keyed)]
        earliest = _shift(self.today, -DEATHS_WITHIN_YEARS)
        for person in chosen:
            low = max(person.born, earliest, person.since or person.born)
            if person.children:
                low = max(low, max(child.born for child in person.children))
            high = date.fromordinal(self.today.toordinal() - 1)
            if low > high:
                continue
            person.died = _between(rng, low, high)
            spouse = person.spouse
            if spouse is not None:
                spouse.status, spouse.since = WIDOWED, person.died
                spouse.spouse = person.spouse = None
                spouse.late_spouse, person.late_spouse = person, spouse

    def _citizenships_of(self, people: list[_Person]) -> None:
        """Make whole families foreign, mostly those of working age."""
        rng = self.rng
        root = list(range(len(people)))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        for person in people:
            for other in (
                person.spouse,
                person.late_spouse,
                person.mother,
                person.father,
            ):
                if other is not None:
                    root[find(person.index)] = find(other.index)

        members: dict[int, list[_Person]] = {}
        for person in people:
            members.setdefault(find(person.index), []).append(person)
        weight = {
            key: _foreign_weight(max(p.age for p in group))
            for key, group in members.items()
        }
        weighted = sum(weight[key] * len(group) for key, group in members.items())
        scale = FOREIGN_SHARE * len(people) / weighted if weighted else 0.0
        for key, group in members.items():
            if rng.random() < scale * weight[key]:
                country = self._citizenships[
                    bisect(
                        self._citizenship_cum, rng.random() * self._citizenship_cum[-1]
                    )
                ]
                for person in group:
                    person.citizenship = country

    def _names(self, people: list[_Person]) -> None:
        rng, names = self.rng, self.names
        # Oldest first, so that parents and husbands have their surnames before
        # their children need them.
        for person in sorted(people, key=lambda p: (p.born, p.index)):
            group = group_of(person.citizenship)
            if person.father is not None and person.father.family:
                person.family = person.father.family
            elif person.mother is not None:
                person.family = self._household_family(person.mother)
            else:
                person.family = names.family_surname(rng, group)
            person.given = names.given_name(rng, person.sex, person.born.year, group)
        for person in people:
            person.surname = self._surname(person)

    def _household_family(self, woman: _Person) -> str:
        """The family surname a woman's children without a linked father get."""
        if woman.status == SINGLE:
            assert woman.family is not None
            return woman.family
        return self._married_family(woman)

    def _married_family(self, woman: _Person) -> str:
        if woman.married_family is None:
            husband = woman.spouse or woman.late_spouse
            if husband is not None and husband.family:
                woman.married_family = husband.family
            else:
                group = group_of(woman.citizenship)
                woman.married_family = self.names.family_surname(self.rng, group)
        return woman.married_family

    def _surname(self, person: _Person) -> str:
        rng, names = self.rng, self.names
        assert person.family is not None
        if person.sex == "M":
            return person.family
        maiden = names.surname(person.family, "F", UNMARRIED)
        if person.status == SINGLE:
            if person.born.year >= 1990 and rng.random() < 0.02:
                return names.surname(person.family, "F", NEUTRAL)
            return maiden
        married = self._married_family(person)
        if person.status == DIVORCED and rng.random() < 0.35:
            return maiden  # returned to her maiden name
        choice = rng.random()
        if choice < 0.78:
            return names.surname(married, "F", MARRIED)
        if choice < 0.82:
            return names.surname(married, "F", MARRIED_ALT)
        if choice < 0.86:
            return names.surname(married, "F", NEUTRAL)
        if choice < 0.92 and person.citizenship == LITHUANIAN:
            return f"{maiden}-{names.surname(married, 'F', MARRIED)}"
        return maiden

    def _residences(self, people: list[_Person]) -> None:
        """Declared residences: one per household, shared by its members."""
        rng = self.rng
        homes: dict[int, dict[str, Any]] = {}
        for person in people:
            if person.died:
                address = self.addresses.address(rng)
                since = _between(
                    rng, max(person.born, _shift(person.died, -20)), person.died
                )
                person.residence = _declared(address, since)
                continue
            head = _head_of_household(person)
            home = homes.get(head.index)
            if home is None:
                home = homes[head.index] = self._home(head)
            since = max(date.fromisoformat(home["since"]), person.born)
            person.residence = {**home, "since": since.isoformat()}

    def _home(self, head: _Person) -> dict[str, Any]:
        rng = self.rng
        since = _between(rng, max(head.born, _shift(self.today, -20)), self.today)
        draw = rng.random()
        if head.citizenship == LITHUANIAN and draw < ABROAD_SHARE:
            return {
                "status": "ABROAD",
                "since": since.isoformat(),
                "address": None,
                "country": self.addresses.country_abroad(rng),
            }
        if draw > 1 - NO_RESIDENCE_SHARE:
            return {
                "status": "NONE",
                "since": since.isoformat(),
                "address": None,
                "country": None,
            }
        return _declared(self.addresses.address(rng), since)

    # -- documents, permits, photo ---------------------------------------------------

    def _papers(self, person: _Person) -> None:
        as_of = person.died or self.today
        if person.citizenship == LITHUANIAN:
            self._lithuanian_documents(person, as_of)
        else:
            self._foreign_papers(person, as_of)

    def _lithuanian_documents(self, person: _Person, as_of: date) -> None:
        rng = self.rng
        age = docs.age_on(person.born, as_of)
        if age < 1:
            held = {docs.PASSPORT: 0.2}
        elif age < 16:
            held = {docs.ID_CARD: 0.5, docs.PASSPORT: 0.4}
        elif age < 70:
            held = {docs.ID_CARD: 0.88, docs.PASSPORT: 0.4}
        else:
            held = {docs.ID_CARD: 0.85, docs.PASSPORT: 0.2}
        term = 10 if age >= 16 else 5
        latest: date | None = None
        for kind, share in held.items():
            if rng.random() >= share:
                continue
            if age >= 6 and rng.random() < 0.06:
                # Not renewed: the document stays on record, expired.
                issued = _shift(as_of, -rng.uniform(term + 0.1, term + 3))
            else:
                issued = _shift(as_of, -rng.uniform(0, term - 0.01))
            issued = max(issued, person.born)
            years = docs.validity_years(person.born, issued)
            previous = docs.add_years(issued, -years)
            if previous >= person.born and rng.random() < 0.3:
                replaced = docs.document(
                    kind, self._document_number(), previous, issued, self.today
                )
                replaced.update(status="INVALID", invalidReason="REPLACED")
                person.documents.append(replaced)
            valid_until = docs.add_years(issued, years)
            number = self._document_number()
            person.documents.append(
                docs.document(kind, number, issued, valid_until, self.today)
            )
            latest = issued if latest is None else max(latest, issued)
        if latest is not None and rng.random() < 0.92:
            taken = max(person.born, docs.days_before(latest, rng, 14))
            person.photo = docs.photo(rng, taken)

    def _foreign_papers(self, person: _Person, as_of: date) -> None:
        rng = self.rng
        if rng.random() < 0.95:
            issued = max(person.born, _shift(as_of, -rng.uniform(0, 9.99)))
            years = docs.validity_years(person.born, issued)
            person.documents.append(
                docs.document(
                    docs.PASSPORT,
                    docs.foreign_passport_number(rng),
                    issued,
                    docs.add_years(issued, years),
                    self.today,
                )
            )
        kind = (
            docs.PERMANENT if rng.random() < PERMANENT_PERMIT_SHARE else docs.TEMPORARY
        )
        term = docs.permit_term(rng, kind)
        issued = max(person.born, _shift(as_of, -rng.uniform(0, term - 0.01)))
        self.permit_counter += 1
        person.permit = docs.permit(
            kind,
            docs.permit_number(self.permit_counter),
            issued,
            docs.add_years(issued, term),
            self.today,
        )
        if rng.random() < 0.9:
            person.photo = docs.photo(
                rng, max(person.born, docs.days_before(issued, rng, 20))
            )

    def _document_number(self) -> str:
        self.document_counter += 1
        return docs.document_number(self.document_counter)

    # -- rows ------------------------------------------------------------------------

    def rows(
        self, people: list[_Person], dialect: str
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Rows for ``persons`` and ``personal_codes``, in column order."""
        as_text = dialect == "sqlite"  # SQLite stores dates as ISO text
        person_rows, code_rows = [], []
        for person in people:
            code = self._personal_code(person)
            died = person.died
            person_rows.append(
                (
                    person.person_id,
                    code,
                    person.sex,
                    person.born.isoformat() if as_text else person.born,
                    person.citizenship,
                    (died.isoformat() if as_text else died) if died else None,
                    dump_groups(_groups(person)),
                    Family(
                        spouse=person.spouse.person_id if person.spouse else None,
                        mother=person.mother.person_id if person.mother else None,
                        father=person.father.person_id if person.father else None,
                        children=[child.person_id for child in person.children],
                    ).to_json(),
                    self.updated_at,
                )
            )
            code_rows.append(
                (code, person.person_id, to_micros(day_start(person.born)), None)
            )
        return person_rows, code_rows

    def _personal_code(self, person: _Person) -> str:
        key = (person.sex, person.born)
        serial = self.serials.get(key)
        if serial is None:
            serial = self.rng.randrange(0, 30)
        if serial > 999:
            raise GenerationRefused(
                f"more than 1000 persons of one sex born on {person.born}: "
                "the personal code has no serial left"
            )
        self.serials[key] = serial + 1
        return codes.make_code(person.sex, person.born, serial)


def _link(child: _Person, mother: _Person) -> None:
    child.mother = mother
    mother.children.append(child)
    father = mother.spouse
    if father is not None:
        child.father = father
        father.children.append(child)


def _foreign_weight(oldest: int) -> float:
    """How likely a family is foreign, by its oldest member: mostly working age."""
    if oldest < 18:
        return 0.6
    if oldest < 50:
        return 1.6
    if oldest < 65:
        return 0.8
    return 0.25


def _head_of_household(person: _Person) -> _Person:
    """Whose home a living person shares: young single people their parent's,
    a married couple the wife's (one home for both)."""
    while True:
        if person.age < 25 and person.status == SINGLE:
            parent = next(
                (p for p in (person.mother, person.father) if p and p.died is None),
                None,
            )
            if parent is not None:
                person = parent
                continue
        if person.spouse is not None and person.sex == "M":
            return person.spouse
        return person


def _declared(address: dict[str, Any], since: date) -> dict[str, Any]:
    return {
        "status": "DECLARED",
        "since": since.isoformat(),
        "address": address,
        "country": None,
    }


def _groups(person: _Person) -> dict[str, Any]:
    return {
        "name": {"givenNames": person.given, "surname": person.surname},
        "death": {"dateOfDeath": person.died.isoformat()} if person.died else None,
        "identityDocuments": person.documents,
        "declaredResidence": person.residence,
        "maritalStatus": {
            "status": person.status,
            "since": person.since.isoformat() if person.since else None,
        },
        "childrenCount": len(person.children),
        "photo": person.photo,
        "residencePermit": person.permit,
    }
