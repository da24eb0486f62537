"""One day's register events, planned against the mirror as it stands.

The persons are found by drawing random person ids (ids run 1..max without
gaps), reading those persons in bulk, a few columns first and whole records
only for the candidates, and keeping the ones that fit. Every person takes part
in at most one event a day, cascades included (a widowed spouse, the other
parent of a newborn), so no two events of a day contradict each other.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from regwatch import codes
from regwatch.clock import VILNIUS, day_start
from regwatch.register.events import EventType, RegisterEvent
from regwatch.register.mirror import record_from_row
from regwatch.register.records import Family, PersonRecord
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
from regwatch.register.synth.population import CITIZENSHIPS
from regwatch.register.synth.rates import RATES, expected_events
from regwatch.store.sql import chunks
from regwatch.store.tables import personal_codes, persons

# Share of events recorded in office hours (08:00-17:00 Vilnius); the rest come
# at any hour (e-services, night shifts of the registry's systems).
_OFFICE_HOURS_SHARE = 0.88

# Newborn boys per birth (Registrų centras, 2025: 11.6k boys, 12.3k girls).
_BOYS_SHARE = 0.49

# Arriving foreigners, our estimates: work migration brings more men than
# women, mostly of working age, and most declare a residence on arrival.
# Citizenships follow those of the foreigners already resident (population.py).
_ARRIVING_MEN_SHARE = 0.6
# Ages on arrival: (from, below, weight).
_ARRIVAL_AGES = ((0, 18, 12), (18, 30, 38), (30, 45, 36), (45, 65, 14))
_ARRIVALS_DECLARING = 0.8
_ARRIVAL_COUNTRIES = tuple(CITIZENSHIPS)
_ARRIVAL_COUNTRY_WEIGHTS = tuple(CITIZENSHIPS.values())

# Of record corrections, the share that fixes a declaration date rather than a
# misspelled name (our estimate; foreigners' names are never respelt here).
_DATE_CORRECTIONS_SHARE = 0.6

MARRIED_STATUS = "MARRIED"


class SimulationRefused(RuntimeError):
    """The database cannot be simulated as it stands."""


class _Candidate:
    """A person as the day's sample sees them, before the full record is read."""

    __slots__ = ("_family", "_family_text", "age", "born", "citizenship", "code",
                 "person_id", "sex")  # fmt: skip

    def __init__(
        self,
        person_id: int,
        code: str,
        sex: str,
        born: date,
        citizenship: str,
        family_text: str,
        day: date,
    ) -> None:
        self.person_id = person_id
        self.code = code
        self.sex = sex
        self.born = born
        self.citizenship = citizenship
        self.age = docs.age_on(born, day)
        self._family_text = family_text
        self._family: Family | None = None

    @property
    def family(self) -> Family:
        if self._family is None:
            self._family = Family.from_json(self._family_text)
        return self._family

    @property
    def married(self) -> bool:
        # Family.to_json writes a missing spouse as exactly this; reading the
        # text spares parsing the links of every person in the sample.
        return '"spouse":null' not in self._family_text


@dataclass
class _Draft:
    at: datetime
    type: EventType
    persons: tuple[str, ...]
    data: dict[str, Any]


class DayPlanner:
    """Plans the events of one Vilnius day; ``plan()`` writes nothing."""

    def __init__(
        self,
        conn: Connection,
        day: date,
        rng: random.Random,
        seed: int,
        after: datetime | None,
        rate_scale: float,
    ) -> None:
        self.conn = conn
        self.day = day
        self.rng = rng
        self.seed = seed
        self.after = after
        self.rate_scale = rate_scale
        self.names: NameBook = name_book()
        self.addresses: AddressBook = address_book()
        self.touched: set[int] = set()
        self.records: dict[int, PersonRecord] = {}
        self.drafts: list[_Draft] = []
        self.codes_taken: set[str] = set()

    # -- the phases --------------------------------------------------------------------

    def plan(self) -> list[RegisterEvent]:
        living, max_id = self._register_size()
        times = {kind: self._times(kind, living) for kind in RATES}
        if not max_id or not any(times.values()):
            return []

        need = {kind: len(at) for kind, at in times.items()}
        pool = self._sample(max_id, _pool_size(need, max_id))
        chosen = self._choose(pool, need)
        self._load(chosen)

        self._deaths(times[EventType.DEATH], chosen["death"])
        self._births(times[EventType.BIRTH], chosen["mother"], chosen["father"])
        self._arrivals(times[EventType.FOREIGNER_ARRIVED])
        self._marriages(times[EventType.MARRIAGE], chosen["bride"], chosen["groom"])
        self._divorces(times[EventType.DIVORCE], chosen["married"])
        self._permits(times, chosen["foreigner"])
        self._code_changes(times[EventType.CODE_REPLACED], chosen["anyone"])
        self._name_changes(times[EventType.NAME_CHANGE], chosen["anyone"])
        self._corrections(times[EventType.RECORD_CORRECTED], chosen["anyone"])
        self._photos(times[EventType.PHOTO_TAKEN], chosen["anyone"])
        self._documents(times, chosen["citizen"])
        self._residences(times, chosen["mover"])
        return self._events()

    def _register_size(self) -> tuple[int, int]:
        row = self.conn.execute(
            select(func.count(persons.c.person_id), func.max(persons.c.person_id))
        ).one()
        dead = self.conn.execute(
            select(func.count()).where(persons.c.died_on.is_not(None))
        ).scalar_one()
        return (row[0] or 0) - dead, row[1] or 0

    def _times(self, kind: EventType, living: int) -> list[datetime]:
        """When the day's events of a kind are recorded (as many as the rate says)."""
        expected = expected_events(kind, self.day, living, self.rate_scale)
        count = _poisson(self.rng, expected)
        start = day_start(self.day)
        length = (day_start(self.day + timedelta(days=1)) - start).total_seconds()
        office = datetime.combine(self.day, time(8), tzinfo=VILNIUS)
        moments = []
        for _ in range(count):
            if self.rng.random() < _OFFICE_HOURS_SHARE:
                at = office + timedelta(seconds=self.rng.uniform(0, 9 * 3600))
            else:
                at = start + timedelta(seconds=self.rng.uniform(0, length))
            at = at.astimezone(UTC).replace(microsecond=self.rng.randrange(1_000_000))
            if self.after is None or at > self.after:
                moments.append(at)
        return moments

    def _sample(self, max_id: int, size: int) -> list[_Candidate]:
        """Living persons among ``size`` random person ids, in random order."""
        ids = sorted(self.rng.sample(range(1, max_id + 1), size))
        found: dict[int, _Candidate] = {}
        for part in chunks(ids):
            rows = self.conn.execute(
                select(
                    persons.c.person_id,
                    persons.c.personal_code,
                    persons.c.sex,
                    persons.c.birth_date,
                    persons.c.citizenship,
                    persons.c.family,
                ).where(persons.c.person_id.in_(part), persons.c.died_on.is_(None))
            )
            for row in rows:
                found[row.person_id] = _Candidate(
                    row.person_id,
                    row.personal_code,
                    row.sex,
                    row.birth_date,
                    row.citizenship,
                    row.family,
                    self.day,
                )
        # Back to the random order of the draw, without the dead.
        order = self.rng.sample(ids, len(ids))
        return [found[i] for i in order if i in found]

    def _choose(
        self, pool: list[_Candidate], need: dict[EventType, int]
    ) -> dict[str, list[_Candidate]]:
        """Candidates for each role, more than needed: some will not fit."""
        rng = self.rng
        adults = [c for c in pool if c.age >= 18]
        unmarried = [c for c in adults if not c.married]
        chosen: dict[str, list[_Candidate]] = {}
        chosen["death"] = _weighted_top(
            rng,
            pool,
            lambda c: math.exp(0.09 * (c.age - 80)),
            3 * need[EventType.DEATH] // 2,
        )
        chosen["mother"] = _weighted_top(
            rng,
            [c for c in adults if c.sex == "F" and c.age <= 45],
            lambda c: _fertility(c.age) * (2.5 if c.married else 1.0),
            2 * need[EventType.BIRTH],
        )
        chosen["father"] = [c for c in unmarried if c.sex == "M" and 20 <= c.age <= 55][
            : need[EventType.BIRTH]
        ]
        chosen["bride"] = _weighted_top(
            rng,
            [c for c in unmarried if c.sex == "F"],
            lambda c: _marrying(c.age),
            2 * need[EventType.MARRIAGE],
        )
        chosen["groom"] = [c for c in unmarried if c.sex == "M"]
        chosen["married"] = [c for c in adults if c.married][
            : 2 * need[EventType.DIVORCE]
        ]
        permits = sum(need[k] for k in _PERMIT_EVENTS)
        chosen["foreigner"] = [c for c in pool if c.citizenship != LITHUANIAN][
            : 3 * permits // 2
        ]
        anyone = sum(need[k] for k in _ANYONE_EVENTS)
        chosen["anyone"] = pool[: 2 * anyone]
        documents = (
            need[EventType.DOCUMENT_ISSUED] + need[EventType.DOCUMENT_INVALIDATED]
        )
        chosen["citizen"] = [c for c in pool if c.citizenship == LITHUANIAN][
            : 3 * documents // 2
        ]
        movers = need[EventType.RESIDENCE_DECLARED] + need[EventType.DEPARTED_ABROAD]
        chosen["mover"] = pool[-(4 * movers // 3) :] if movers else []
        return chosen

    def _load(self, chosen: dict[str, list[_Candidate]]) -> None:
        """Read, in bulk, the records of the candidates and of the relatives
        their events involve: a mother's husband, a divorcing spouse, and the
        spouse and children who may move along. Grooms are read once matched."""
        ids: set[int] = set()
        for role, group in chosen.items():
            if role != "groom":
                ids.update(c.person_id for c in group)
        for role in ("mother", "married", "mover"):
            for c in chosen[role]:
                if c.family.spouse is not None:
                    ids.add(c.family.spouse)
        for c in chosen["mover"]:
            ids.update(c.family.children)
        self._read(ids)

    def _read(self, ids: Iterable[int]) -> None:
        wanted = sorted(set(ids) - self.records.keys())
        for part in chunks(wanted):
            for row in self.conn.execute(
                select(persons).where(persons.c.person_id.in_(part))
            ):
                self.records[row.person_id] = record_from_row(row)

    # -- helpers -----------------------------------------------------------------------

    def _free(self, *person_ids: int | None) -> bool:
        return all(i is None or i not in self.touched for i in person_ids)

    def _take(self, *person_ids: int | None) -> None:
        self.touched.update(i for i in person_ids if i is not None)

    def _alive(self, person_id: int | None) -> PersonRecord | None:
        record = self.records.get(person_id) if person_id is not None else None
        return record if record is not None and record.died_on is None else None

    def _add(
        self, at: datetime, kind: EventType, who: Sequence[str], data: dict[str, Any]
    ) -> None:
        self.drafts.append(_Draft(at, kind, tuple(who), data))

    def _age(self, record: PersonRecord) -> int:
        return docs.age_on(record.birth_date, self.day)

    def _events(self) -> list[RegisterEvent]:
        self.drafts.sort(key=lambda d: (d.at, d.type.value, d.persons))
        stamp = f"sim-{self.seed}-{self.day:%Y%m%d}"
        return [
            RegisterEvent(
                event_id=f"{stamp}-{n:06d}",
                type=draft.type,
                recorded_at=draft.at,
                persons=draft.persons,
                data=draft.data,
            )
            for n, draft in enumerate(self.drafts, start=1)
        ]

    # -- births and deaths -------------------------------------------------------------

    def _deaths(self, times: list[datetime], candidates: list[_Candidate]) -> None:
        rng = self.rng
        for c in candidates:
            if not times:
                return
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id, record.family.spouse):
                continue
            # Registered a day or few after it happened.
            died = max(record.birth_date, docs.days_before(self.day, rng, 4))
            self._take(c.person_id, record.family.spouse)
            self._add(
                times.pop(),
                EventType.DEATH,
                [record.personal_code],
                {"dateOfDeath": died.isoformat()},
            )

    def _births(
        self,
        times: list[datetime],
        mothers: list[_Candidate],
        single_fathers: list[_Candidate],
    ) -> None:
        rng = self.rng
        fathers = iter(single_fathers)
        planned: list[tuple[datetime, PersonRecord, PersonRecord | None, date]] = []
        for c in mothers:
            if len(planned) == len(times):
                break
            mother = self._alive(c.person_id)
            if mother is None or not self._free(mother.person_id):
                continue
            father = self._alive(mother.family.spouse)
            if mother.family.spouse is not None and father is None:
                continue  # the husband's record is unknown: leave this one out
            if father is None and rng.random() < 0.45:
                father = self._single_father(fathers, mother)
            if father is not None and not self._free(father.person_id):
                continue
            self._take(mother.person_id, father.person_id if father else None)
            born = _birth_registration_lag(rng, self.day)
            planned.append((times[len(planned)], mother, father, born))

        serials = self._free_serials(
            [(sex, born) for sex in "MF" for *_, born in planned]
        )
        for at, mother, father, born in planned:
            sex = "M" if rng.random() < _BOYS_SHARE else "F"
            child = self._child(sex, born, mother, father, serials)
            self._add(at, EventType.BIRTH, _codes(mother, father), {"child": child})

    def _single_father(
        self, fathers: Iterator[_Candidate], mother: PersonRecord
    ) -> PersonRecord | None:
        """An unmarried man who acknowledges paternity, if one fits."""
        her_parents = {mother.family.mother, mother.family.father} - {None}
        for c in fathers:
            if c.person_id in self.touched or c.person_id in mother.family.children:
                continue
            if c.person_id in her_parents:
                continue
            if her_parents & {c.family.mother, c.family.father}:
                continue  # her brother
            return self._alive(c.person_id)  # read with the other candidates
        return None

    def _child(
        self,
        sex: str,
        born: date,
        mother: PersonRecord,
        father: PersonRecord | None,
        serials: dict[tuple[str, date], Iterator[int]],
    ) -> dict[str, Any]:
        citizenship = mother.citizenship
        if father is not None and father.citizenship == LITHUANIAN:
            citizenship = LITHUANIAN  # a child of a citizen is a citizen
        family = self._family_of(father if father is not None else mother)
        group = group_of(citizenship)
        code = codes.make_code(sex, born, next(serials[sex, born]))
        return {
            "givenNames": self.names.given_name(self.rng, sex, born.year, group),
            "surname": self.names.surname(family, sex, UNMARRIED),
            "sex": sex,
            "personalCode": code,
            "birthDate": born.isoformat(),
            "citizenship": citizenship,
        }

    def _family_of(self, record: PersonRecord) -> str:
        surname = record.groups["name"]["surname"]
        return self.names.family_of(surname) or surname

    def _free_serials(
        self, wanted: Iterable[tuple[str, date]]
    ) -> dict[tuple[str, date], Iterator[int]]:
        """For each (sex, birth date), the serials no code has used, lowest first."""
        keys = sorted(set(wanted))
        if not keys:
            return {}
        ranges = [
            and_(
                personal_codes.c.code >= prefix + "0000",
                personal_codes.c.code <= prefix + "9999",
            )
            for prefix in {codes.make_code(sex, born, 0)[:7] for sex, born in keys}
        ]
        used = set(self.codes_taken)
        for part in chunks(ranges, 200):
            used.update(
                self.conn.execute(
                    select(personal_codes.c.code).where(or_(*part))
                ).scalars()
            )
        return {key: self._serials(key, used) for key in keys}

    def _serials(self, key: tuple[str, date], used: set[str]) -> Iterator[int]:
        sex, born = key
        for serial in range(1000):
            code = codes.make_code(sex, born, serial)
            if code not in used:
                self.codes_taken.add(code)
                yield serial
        raise SimulationRefused(f"no personal code left for {sex} born {born}")

    # -- marriages and divorces --------------------------------------------------------

    def _marriages(
        self, times: list[datetime], brides: list[_Candidate], grooms: list[_Candidate]
    ) -> None:
        pairs = self._match(brides, grooms, len(times))
        self._read(groom.person_id for _, groom in pairs)
        for bride_c, groom_c in pairs:
            if not times:
                return
            bride, groom = (
                self._alive(bride_c.person_id),
                self._alive(groom_c.person_id),
            )
            if bride is None or groom is None:
                continue
            if MARRIED_STATUS in (_status(bride), _status(groom)):
                continue
            data: dict[str, Any] = {"date": self.day.isoformat()}
            surname = self._bride_surname(bride, groom)
            if surname != bride.groups["name"]["surname"]:
                data["surnames"] = {bride.personal_code: surname}
            self._add(
                times.pop(),
                EventType.MARRIAGE,
                [bride.personal_code, groom.personal_code],
                data,
            )

    def _match(
        self, brides: list[_Candidate], grooms: list[_Candidate], wanted: int
    ) -> list[tuple[_Candidate, _Candidate]]:
        """Pair brides with free grooms about 2.5 years older (within -5..+15)."""
        rng = self.rng
        free = sorted(grooms, key=lambda c: (c.born, c.person_id))
        keys = [c.born.toordinal() for c in free]
        pairs: list[tuple[_Candidate, _Candidate]] = []
        for bride in brides:
            if len(pairs) == wanted:
                break
            if not self._free(bride.person_id):
                continue
            target = bride.born.toordinal() - int(rng.gauss(2.5, 4) * 365.25)
            index = min(bisect_left(keys, target), len(keys) - 1)
            for step in range(12):
                probe = index + (step + 1) // 2 * (1 if step % 2 else -1)
                if not 0 <= probe < len(free):
                    continue
                groom = free[probe]
                gap = (bride.born - groom.born).days / 365.25
                if -5 <= gap <= 15 and self._may_marry(bride, groom):
                    pairs.append((bride, groom))
                    self._take(bride.person_id, groom.person_id)
                    del free[probe], keys[probe]
                    break
        return pairs

    def _may_marry(self, bride: _Candidate, groom: _Candidate) -> bool:
        if not self._free(groom.person_id):
            return False
        if bride.citizenship != groom.citizenship and self.rng.random() < 0.8:
            return False  # most couples share a citizenship
        relatives = {bride.family.mother, bride.family.father, *bride.family.children}
        if groom.person_id in relatives:
            return False
        shared = {bride.family.mother, bride.family.father} & {
            groom.family.mother,
            groom.family.father,
        }
        return not (shared - {None})

    def _bride_surname(self, bride: PersonRecord, groom: PersonRecord) -> str:
        current = bride.groups["name"]["surname"]
        family = self._family_of(groom)
        if bride.citizenship != LITHUANIAN or groom.citizenship != LITHUANIAN:
            taken = self.names.surname(family, "F", MARRIED)
            return taken if self.rng.random() < 0.7 else current
        choice = self.rng.random()
        if choice < 0.80:
            return self.names.surname(family, "F", MARRIED)
        if choice < 0.84:
            return self.names.surname(family, "F", MARRIED_ALT)
        if choice < 0.88:
            return self.names.surname(family, "F", NEUTRAL)
        own = self.names.family_of(current)
        maiden = own is not None and current == self.names.surname(own, "F", UNMARRIED)
        if choice < 0.94 and maiden:
            return f"{current}-{self.names.surname(family, 'F', MARRIED)}"
        return current

    def _divorces(self, times: list[datetime], married: list[_Candidate]) -> None:
        couples: list[tuple[PersonRecord, PersonRecord]] = []
        for c in married:
            if len(couples) == len(times):
                break
            one, other = self._alive(c.person_id), self._alive(c.family.spouse)
            if one is None or other is None:
                continue
            if one.family.spouse != other.person_id:
                continue
            if not self._free(one.person_id, other.person_id):
                continue
            self._take(one.person_id, other.person_id)
            couples.append((one, other))
        # The wives' fathers tell their maiden names: read them all at once.
        wives = [one if one.sex == "F" else other for one, other in couples]
        self._read(w.family.father for w in wives if w.family.father is not None)

        for (one, other), wife in zip(couples, wives, strict=True):
            data: dict[str, Any] = {"date": self.day.isoformat()}
            maiden = self._maiden_name(wife)
            if maiden and self.rng.random() < 0.35:
                data["surnames"] = {wife.personal_code: maiden}
            self._add(
                times.pop(),
                EventType.DIVORCE,
                [one.personal_code, other.personal_code],
                data,
            )

    def _maiden_name(self, wife: PersonRecord) -> str | None:
        """Her unmarried surname, where the register lets us know it."""
        # TODO: records keep no maiden name, so a wife without a double surname
        # or a linked father cannot return to hers; a name-history group would.
        surname = wife.groups["name"]["surname"]
        if "-" in surname:
            return surname.split("-", 1)[0]
        father = self.records.get(wife.family.father) if wife.family.father else None
        if father is None:
            return None
        maiden = self.names.surname(self._family_of(father), "F", UNMARRIED)
        return maiden if maiden != surname else None

    # -- permits, codes, names, corrections --------------------------------------------

    def _permits(
        self, times: dict[EventType, list[datetime]], foreigners: list[_Candidate]
    ) -> None:
        """Each foreigner gets the permit event their permit calls for, if wanted."""
        rng, day = self.rng, self.day
        for c in foreigners:
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id):
                continue
            permit = record.groups["residencePermit"]
            valid = permit is not None and permit["status"] == "VALID"
            if valid and permit["validUntil"] < day.isoformat():
                wishes = [EventType.PERMIT_EXPIRED, EventType.PERMIT_RENEWED]
            elif valid:
                wishes = [
                    EventType.PERMIT_RENEWED,
                    EventType.PERMIT_REVOKED,
                    EventType.PERMIT_ISSUED,
                ]
                rng.shuffle(wishes)
            else:
                # No valid permit: a new one, or a late renewal of one run out.
                wishes = [EventType.PERMIT_ISSUED]
                if permit is not None and permit["status"] == "EXPIRED":
                    wishes.append(EventType.PERMIT_RENEWED)
            kind = next((k for k in wishes if times[k]), None)
            if kind is None:
                continue
            data: dict[str, Any] = {}
            if kind in (EventType.PERMIT_ISSUED, EventType.PERMIT_RENEWED):
                data["permit"] = self._new_permit(permit)
            self._take(c.person_id)
            self._add(times[kind].pop(), kind, [record.personal_code], data)
            if not any(times[k] for k in _PERMIT_EVENTS):
                return

    def _new_permit(self, old: dict[str, Any] | None) -> dict[str, str]:
        kind = old["type"] if old else docs.TEMPORARY
        if kind == docs.TEMPORARY and self.rng.random() < 0.08:
            kind = docs.PERMANENT  # five years lawfully resident: a permanent permit
        return self._permit(kind)

    def _permit(self, kind: str) -> dict[str, str]:
        """A permit of a kind, issued today."""
        rng, issued = self.rng, self.day
        return {
            "type": kind,
            "number": docs.random_permit_number(rng),
            "issuedOn": issued.isoformat(),
            "validUntil": docs.add_years(
                issued, docs.permit_term(rng, kind)
            ).isoformat(),
        }

    def _code_changes(self, times: list[datetime], anyone: list[_Candidate]) -> None:
        chosen: list[PersonRecord] = []
        for c in anyone:
            if len(chosen) == len(times):
                break
            record = self._alive(c.person_id)
            if record is not None and self._free(c.person_id):
                self._take(c.person_id)
                chosen.append(record)
        serials = self._free_serials((r.sex, r.birth_date) for r in chosen)
        for at, record in zip(times, chosen, strict=False):
            new = codes.make_code(
                record.sex,
                record.birth_date,
                next(serials[record.sex, record.birth_date]),
            )
            self._add(
                at, EventType.CODE_REPLACED, [record.personal_code], {"newCode": new}
            )

    def _name_changes(self, times: list[datetime], anyone: list[_Candidate]) -> None:
        rng = self.rng
        for c in anyone:
            if not times:
                return
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id):
                continue
            name = record.groups["name"]
            group = group_of(record.citizenship)
            data: dict[str, str]
            if rng.random() < 0.4:
                given = self.names.given_name(
                    rng, record.sex, record.birth_date.year, group
                )
                data = {"givenNames": given}
            elif record.sex == "F" and group == LITHUANIAN and rng.random() < 0.5:
                # The marital-status-neutral form, chosen more often since 2023.
                family = self._family_of(record)
                data = {"surname": self.names.surname(family, "F", NEUTRAL)}
            else:
                family = self.names.family_surname(rng, group)
                data = {"surname": self.names.surname(family, record.sex, UNMARRIED)}
            if all(name.get(k) == v for k, v in data.items()):
                continue
            self._take(c.person_id)
            self._add(times.pop(), EventType.NAME_CHANGE, [record.personal_code], data)

    def _corrections(self, times: list[datetime], anyone: list[_Candidate]) -> None:
        """The register corrects records found wrong, one group at a time."""
        for c in anyone:
            if not times:
                return
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id):
                continue
            data = self._correction(record)
            if data is None:
                continue
            self._take(c.person_id)
            self._add(
                times.pop(), EventType.RECORD_CORRECTED, [record.personal_code], data
            )

    def _correction(self, record: PersonRecord) -> dict[str, Any] | None:
        """A wrong declaration date or a misspelled name put right; None if the
        record offers neither."""
        rng = self.rng
        residence = record.groups["declaredResidence"]
        if residence["since"] is not None and (
            record.is_foreigner or rng.random() < _DATE_CORRECTIONS_SHARE
        ):
            since = date.fromisoformat(residence["since"])
            moved = since + timedelta(days=rng.randint(1, 30) * rng.choice((-1, 1)))
            right = min(self.day, max(record.birth_date, moved))
            if right == since:
                return None
            return {
                "corrections": {
                    "declaredResidence": {**residence, "since": right.isoformat()}
                },
                "reason": "wrong declaration date",
            }
        if record.is_foreigner:
            return None
        # The generated names are all spelled right, so the planner can only
        # pretend which spelling was wrong: the correction drops one diacritic,
        # the commonest slip. To those following the person it is a NAME change
        # either way.
        name = dict(record.groups["name"])
        part = rng.choice(("givenNames", "surname"))
        respelt = _without_one_diacritic(rng, name[part])
        if respelt is None:
            return None
        name[part] = respelt
        return {"corrections": {"name": name}, "reason": "misspelled name"}

    # -- arrivals ----------------------------------------------------------------------

    def _arrivals(self, times: list[datetime]) -> None:
        """Foreigners entering the register, each with a first temporary permit
        and a code that neither the register nor today's births have used."""
        rng = self.rng
        newcomers = [(self._arriving_sex(), self._arriving_birth_date()) for _ in times]
        serials = self._free_serials(newcomers)
        for at, (sex, born) in zip(times, newcomers, strict=True):
            country = rng.choices(_ARRIVAL_COUNTRIES, _ARRIVAL_COUNTRY_WEIGHTS)[0]
            group = group_of(country)
            family = self.names.family_surname(rng, group)
            data: dict[str, Any] = {
                "person": {
                    "personalCode": codes.make_code(
                        sex, born, next(serials[sex, born])
                    ),
                    "givenNames": self.names.given_name(rng, sex, born.year, group),
                    "surname": self.names.surname(family, sex, UNMARRIED),
                    "sex": sex,
                    "birthDate": born.isoformat(),
                    "citizenship": country,
                },
                "permit": self._permit(docs.TEMPORARY),
            }
            if rng.random() < _ARRIVALS_DECLARING:
                since = max(born, docs.days_before(self.day, rng, 10))
                data["residence"] = {
                    "since": since.isoformat(),
                    "address": self.addresses.address(rng),
                }
            self._add(at, EventType.FOREIGNER_ARRIVED, [], data)

    def _arriving_sex(self) -> str:
        return "M" if self.rng.random() < _ARRIVING_MEN_SHARE else "F"

    def _arriving_birth_date(self) -> date:
        rng = self.rng
        low, high, _ = rng.choices(_ARRIVAL_AGES, [w for *_, w in _ARRIVAL_AGES])[0]
        age = rng.randrange(low, high)
        return docs.add_years(self.day, -age) - timedelta(days=rng.randrange(365))

    # -- photos, documents and residences ----------------------------------------------

    def _photos(self, times: list[datetime], anyone: list[_Candidate]) -> None:
        """Photos taken for an application whose document is not issued yet."""
        rng = self.rng
        for c in anyone:
            if not times:
                return
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id):
                continue
            taken = max(record.birth_date, docs.days_before(self.day, rng, 3))
            self._take(c.person_id)
            self._add(
                times.pop(),
                EventType.PHOTO_TAKEN,
                [record.personal_code],
                {"photo": docs.photo(rng, taken)},
            )

    def _documents(
        self, times: dict[EventType, list[datetime]], citizens: list[_Candidate]
    ) -> None:
        rng, today = self.rng, self.day.isoformat()
        issued, invalidated = (
            times[EventType.DOCUMENT_ISSUED],
            times[EventType.DOCUMENT_INVALIDATED],
        )
        # Those whose documents run out soon or have run out apply first.
        soon = docs.add_years(self.day, 1).isoformat()

        def due(c: _Candidate) -> float:
            record = self._alive(c.person_id)
            if record is None:
                return 0.0
            valid = [
                d for d in record.groups["identityDocuments"] if d["status"] == "VALID"
            ]
            urgent = not valid or any(d["validUntil"] < soon for d in valid)
            return 4.0 if urgent else 1.0

        for c in _weighted_top(rng, citizens, due, len(citizens)):
            if not issued and not invalidated:
                return
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id):
                continue
            valid = [
                d for d in record.groups["identityDocuments"] if d["status"] == "VALID"
            ]
            if invalidated and valid and (not issued or rng.random() < 0.3):
                document = rng.choice(valid)
                reason = (
                    "EXPIRED"
                    if document["validUntil"] < today
                    else ("LOST" if rng.random() < 0.8 else "STOLEN")
                )
                data: dict[str, Any] = {"number": document["number"], "reason": reason}
                self._take(c.person_id)
                self._add(
                    invalidated.pop(),
                    EventType.DOCUMENT_INVALIDATED,
                    [record.personal_code],
                    data,
                )
            elif issued:
                self._take(c.person_id)
                data = self._new_document(record)
                self._add(
                    issued.pop(),
                    EventType.DOCUMENT_ISSUED,
                    [record.personal_code],
                    data,
                )

    def _new_document(self, record: PersonRecord) -> dict[str, Any]:
        rng = self.rng
        held = {
            d["type"]
            for d in record.groups["identityDocuments"]
            if d["status"] == "VALID"
        }
        if docs.ID_CARD not in held and self._age(record) >= 16:
            kind = docs.ID_CARD
        else:
            kind = docs.ID_CARD if rng.random() < 0.6 else docs.PASSPORT
        issued = self.day
        data: dict[str, Any] = {
            "document": {
                "type": kind,
                "number": self._document_number(record),
                "issuedOn": issued.isoformat(),
                "validUntil": docs.add_years(
                    issued, docs.validity_years(record.birth_date, issued)
                ).isoformat(),
            }
        }
        if rng.random() < 0.9:  # the photo taken for the application
            taken = max(record.birth_date, docs.days_before(issued, rng, 25))
            data["photo"] = docs.photo(rng, taken)
        return data

    def _document_number(self, record: PersonRecord) -> str:
        own = {d["number"] for d in record.groups["identityDocuments"]}
        while True:
            number = docs.random_document_number(self.rng)
            if number not in own:
                return number

    def _residences(
        self, times: dict[EventType, list[datetime]], movers: list[_Candidate]
    ) -> None:
        rng = self.rng
        declared, departed = (
            times[EventType.RESIDENCE_DECLARED],
            times[EventType.DEPARTED_ABROAD],
        )
        for c in movers:
            if not declared and not departed:
                return
            record = self._alive(c.person_id)
            if record is None or not self._free(c.person_id):
                continue
            leaving = bool(departed) and (not declared or rng.random() < 0.11)
            queue = departed if leaving else declared
            household = [record]
            if rng.random() < 0.45:
                household += self._household(record)
            since = docs.days_before(self.day, rng, 14)
            data: dict[str, Any]
            if leaving:
                country = self.addresses.country_abroad(rng)
                data = {"since": since.isoformat(), "country": country}
                kind = EventType.DEPARTED_ABROAD
            else:
                data = {
                    "address": self.addresses.address(rng),
                    "since": since.isoformat(),
                }
                kind = EventType.RESIDENCE_DECLARED
            for member in household:
                if not queue:
                    break
                self._take(member.person_id)
                self._add(queue.pop(), kind, [member.personal_code], data)

    def _household(self, record: PersonRecord) -> list[PersonRecord]:
        """The spouse and young children who move along, where they are free."""
        members = []
        for person_id in (record.family.spouse, *record.family.children):
            member = self._alive(person_id)
            if member is None or not self._free(member.person_id):
                continue
            if member.person_id != record.family.spouse and self._age(member) >= 18:
                continue
            members.append(member)
        return members


# --- small pieces ---------------------------------------------------------------------

_PERMIT_EVENTS = (
    EventType.PERMIT_ISSUED,
    EventType.PERMIT_RENEWED,
    EventType.PERMIT_REVOKED,
    EventType.PERMIT_EXPIRED,
)
# Events any living person may take part in, drawn from one share of the pool.
_ANYONE_EVENTS = (
    EventType.CODE_REPLACED,
    EventType.NAME_CHANGE,
    EventType.RECORD_CORRECTED,
    EventType.PHOTO_TAKEN,
)

# How many random persons one needed event asks for, by the share of persons
# that can take part in it (a mother is a woman of 18-45, a permit needs a
# foreigner ...); deaths ask for more so that the old are well represented.
_DRAWS_PER_EVENT = {
    EventType.DEATH: 25.0,
    EventType.BIRTH: 7.0,
    EventType.MARRIAGE: 8.0,
    EventType.DIVORCE: 3.0,
    EventType.DOCUMENT_ISSUED: 1.3,
    EventType.DOCUMENT_INVALIDATED: 1.3,
    EventType.RESIDENCE_DECLARED: 1.2,
    EventType.DEPARTED_ABROAD: 1.2,
    EventType.PERMIT_ISSUED: 16.0,
    EventType.PERMIT_RENEWED: 16.0,
    EventType.PERMIT_REVOKED: 16.0,
    EventType.PERMIT_EXPIRED: 16.0,
    EventType.CODE_REPLACED: 1.2,
    EventType.NAME_CHANGE: 1.2,
    EventType.RECORD_CORRECTED: 1.2,
    EventType.PHOTO_TAKEN: 1.2,
    EventType.FOREIGNER_ARRIVED: 0.0,  # a new person: no one to draw
}


def _pool_size(need: dict[EventType, int], max_id: int) -> int:
    wanted = sum(_DRAWS_PER_EVENT[kind] * count for kind, count in need.items())
    return min(max_id, max(500, int(wanted * 1.3)))


def _weighted_top(
    rng: random.Random,
    items: Sequence[_Candidate],
    weight: Callable[[_Candidate], float],
    count: int,
) -> list[_Candidate]:
    """``count`` items drawn without replacement, each as likely as its weight."""
    if count <= 0:
        return []
    keyed = []
    for item in items:
        w = weight(item)
        if w > 0:
            keyed.append((math.log(rng.random() or 1e-300) / w, item.person_id, item))
    keyed.sort(key=lambda k: (k[0], k[1]), reverse=True)
    return [item for *_, item in keyed[:count]]


def _fertility(age: int) -> float:
    """Relative chance of giving birth at an age (peak at 28-32)."""
    if age < 18 or age > 45:
        return 0.0
    return math.exp(-(((age - 30) / 5.5) ** 2))


def _marrying(age: int) -> float:
    """Relative chance of marrying at an age: mostly 25-35, seldom late."""
    if age < 18:
        return 0.0
    if age < 25:
        return 1.0
    if age < 35:
        return 3.0
    if age < 45:
        return 1.5
    if age < 65:
        return 0.6
    return 0.15


def _status(record: PersonRecord) -> str:
    return str(record.groups["maritalStatus"]["status"])


def _codes(*records: PersonRecord | None) -> list[str]:
    return [record.personal_code for record in records if record is not None]


# A letter with a diacritic, and the letter a slip leaves in its place.
_PLAIN_LETTER = str.maketrans("ąčęėįšųūžĄČĘĖĮŠŲŪŽ", "aceeisuuzACEEISUUZ")


def _without_one_diacritic(rng: random.Random, text: str) -> str | None:
    """The text with one of its diacritic letters plain; None if it has none."""
    marked = [i for i, char in enumerate(text) if char.translate(_PLAIN_LETTER) != char]
    if not marked:
        return None
    i = rng.choice(marked)
    return text[:i] + text[i].translate(_PLAIN_LETTER) + text[i + 1 :]


def _birth_registration_lag(rng: random.Random, day: date) -> date:
    """Births are registered within about a month, most in the first two weeks."""
    return day - timedelta(days=min(int(rng.expovariate(1 / 9)), 30))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
