"""Given names and surnames, with women's surname forms by the VLKK rules.

A Lithuanian woman's surname is made from the male form of the family surname,
and its ending tells her marital status (VLKK resolution N-2(87) of 2003 as
amended by N-1(199) of 2023):

- unmarried: -as/-a -> -aitė, -is/-ys/-ė/-ia/-ja -> -ytė, -us -> -utė,
  -ius -> -iūtė, -jus -> -jūtė;
- married: the ending is replaced by -ienė; a two-syllable surname in -us, -ius
  or -jus may also take -uvienė (Sutkus -> Sutkuvienė);
- neutral (says nothing of marriage): the ending is replaced by -ė.

Foreign surnames keep their own female form (Ivanov -> Ivanova) and do not
change with marriage here.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

from regwatch.register.synth import sources

UNMARRIED = "unmarried"
MARRIED = "married"
MARRIED_ALT = "married_alt"
NEUTRAL = "neutral"
FORMS = (UNMARRIED, MARRIED, MARRIED_ALT, NEUTRAL)

LITHUANIAN = "LT"

_VOWELS = frozenset("aąeęėiįyouųū")
_MALE_ENDINGS = ("as", "is", "ys", "us", "a", "ė")

# Roots and suffixes that widen the 44 seed surnames with regular patronymic
# surnames (Jonaitis, Jonauskas, Jonavičius ...). Every combination ends in
# -is, -as or -ius, so the VLKK rules above apply to all of them.
_ROOTS = (
    "Adom", "Ambraz", "Andri", "Bart", "Dan", "Jak", "Jan", "Jon", "Juozap",
    "Kazim", "Laur", "Luk", "Martin", "Mat", "Mik", "Motiej", "Paul", "Petr",
    "Povil", "Sim", "Stan", "Step", "Tam", "Tom", "Urb", "Valant", "Vasil",
)  # fmt: skip
_SUFFIXES = ("aitis", "auskas", "avičius", "ėnas")


# --- surname forms -----------------------------------------------------------


def is_lithuanian_male_surname(surname: str) -> bool:
    return surname.endswith(_MALE_ENDINGS) and "-" not in surname


def female_surname(male: str, form: str) -> str:
    """A woman's surname of a family whose male surname is ``male``.

    ``form`` is one of FORMS. MARRIED_ALT is the -uvienė form where the rules
    allow it and the -ienė form otherwise. A surname without a Lithuanian male
    ending is returned as it is.
    """
    if not is_lithuanian_male_surname(male):
        return male
    if form == UNMARRIED:
        return _unmarried(male)
    if form == MARRIED:
        return _stem(male) + "ienė"
    if form == MARRIED_ALT:
        return married_forms(male)[-1]
    if form == NEUTRAL:
        return male if male.endswith("ė") else _stem(male) + "ė"
    raise ValueError(f"unknown surname form {form!r}; expected one of {FORMS}")


def married_forms(male: str) -> tuple[str, ...]:
    """The married forms: -ienė, and -uvienė where the surname allows it."""
    if not is_lithuanian_male_surname(male):
        return (male,)
    married = _stem(male) + "ienė"
    if male.endswith("us") and _syllables(male) == 2:
        return (married, male[:-2] + "uvienė")
    return (married,)


def _unmarried(male: str) -> str:
    if male.endswith("ius"):
        return male[:-3] + "iūtė"
    if male.endswith("jus"):
        return male[:-2] + "ūtė"
    if male.endswith("us"):
        return male[:-2] + "utė"
    if male.endswith("as"):
        return male[:-2] + "aitė"
    if male.endswith(("is", "ys", "ia")):
        return male[:-2] + "ytė"
    if male.endswith("ja"):
        return male[:-1] + "ytė"
    if male.endswith("a"):
        return male[:-1] + "aitė"
    return male[:-1] + "ytė"  # -ė


def _stem(male: str) -> str:
    """The surname without its ending, as -ienė and -ė attach to it."""
    if male.endswith("ius"):
        return male[:-3]
    if male.endswith(("as", "is", "ys", "us", "ia")):
        return male[:-2]
    return male[:-1]  # -a, -ja, -ė


def _syllables(word: str) -> int:
    """Syllables, counted as runs of vowels (an i before a vowel softens it)."""
    count, in_vowel = 0, False
    for char in word.lower():
        is_vowel = char in _VOWELS
        if is_vowel and not in_vowel:
            count += 1
        in_vowel = is_vowel
    return count


# --- choosing names ------------------------------------------------------------


class _Weighted:
    """A fixed list of choices with cumulative weights, sampled in O(log n)."""

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self._cum = list(accumulate(weights))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> str:
        return self.items[bisect(self._cum, rng.random() * self._total)]


@dataclass(frozen=True)
class _Group:
    given: dict[str, tuple[str, ...]]  # by sex
    surnames: tuple[str, ...]  # male forms
    female_of: dict[str, str]


class NameBook:
    """Names to draw from, for citizens and for each group of foreigners."""

    def __init__(self) -> None:
        self.lithuanian_surnames = _lithuanian_surnames()
        weights = [3.0] * len(sources.surname_seed()) + [1.0] * (
            len(self.lithuanian_surnames) - len(sources.surname_seed())
        )
        self._surnames = _Weighted(self.lithuanian_surnames, weights)
        self._given = {
            (sex, era): _Weighted(names, _given_weights(names, sex, era))
            for sex, names in sources.given_names().items()
            for era in ("old", "middle", "young")
        }
        self._groups = _foreign_groups()
        self._male_of = self._reverse_index()

    # -- drawing -----------------------------------------------------------------

    def given_name(
        self, rng: random.Random, sex: str, born_year: int, group: str = LITHUANIAN
    ) -> str:
        if group != LITHUANIAN:
            return rng.choice(self._groups[group].given[sex])
        era = "old" if born_year < 1965 else "young" if born_year >= 2005 else "middle"
        first = self._given[sex, era].pick(rng)
        if rng.random() < 0.04:  # a second given name, as some parents choose
            second = self._given[sex, era].pick(rng)
            if second != first:
                return f"{first} {second}"
        return first

    def family_surname(self, rng: random.Random, group: str = LITHUANIAN) -> str:
        """The male form of a family surname."""
        if group != LITHUANIAN:
            return rng.choice(self._groups[group].surnames)
        return self._surnames.pick(rng)

    def surname(self, family: str, sex: str, form: str = UNMARRIED) -> str:
        """A person's surname of a family; ``form`` matters for women only."""
        if sex == "M":
            return family
        for group in self._groups.values():
            if family in group.female_of:
                return group.female_of[family]
        return female_surname(family, form)

    # -- reading back ----------------------------------------------------------------

    def family_of(self, surname: str) -> str | None:
        """The male form behind any form of a known surname; None if unknown.

        For a double surname (Petraitytė-Kazlauskienė) it is the family of the
        last part, the one taken at marriage.
        """
        return self._male_of.get(surname.rsplit("-", 1)[-1])

    def maiden_family(self, surname: str) -> str | None:
        """For a double surname, the family of its first part (the maiden one)."""
        if "-" not in surname:
            return None
        return self._male_of.get(surname.split("-", 1)[0])

    def _reverse_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for male in self.lithuanian_surnames:
            for form in FORMS:
                index.setdefault(female_surname(male, form), male)
            index[male] = male
        for group in self._groups.values():
            for male, female in group.female_of.items():
                index.setdefault(female, male)
                index[male] = male
        return index


@cache
def name_book() -> NameBook:
    return NameBook()


def _lithuanian_surnames() -> tuple[str, ...]:
    seed = [row.male for row in sources.surname_seed()]
    known = set(seed)
    derived = [
        root + suffix
        for root in _ROOTS
        for suffix in _SUFFIXES
        if root + suffix not in known
    ]
    return (*seed, *derived)


def _given_weights(names: Sequence[str], sex: str, era: str) -> list[float]:
    """Weights from the few frequency facts known; every name keeps weight 1."""
    boost: dict[str, float] = {}
    for fact in sources.name_frequency_facts():
        if fact["sex"] != sex:
            continue
        if fact["kind"] == "newborn_top10" and era == "young":
            rank = int(fact["rank"])
            boost[fact["name"]] = max(boost.get(fact["name"], 0.0), 80.0 - 5 * rank)
        elif fact["kind"] == "given_name_living_bearers" and era == "old":
            # Jonas and Janina: about 27,000 and 21,500 living bearers (2021).
            boost[fact["name"]] = float(fact["count"]) / 250
    return [1.0 + boost.get(name, 0.0) for name in names]


def _foreign_groups() -> dict[str, _Group]:
    given: dict[str, dict[str, list[str]]] = {}
    surnames: dict[str, dict[str, str]] = {}
    for row in sources.foreign_names():
        if row.kind == "given":
            by_sex = given.setdefault(row.group, {"M": [], "F": []})
            by_sex["M" if row.male else "F"].append(row.male or row.female)
        else:
            surnames.setdefault(row.group, {})[row.male] = row.female
    return {
        group: _Group(
            given={sex: tuple(names) for sex, names in given[group].items()},
            surnames=tuple(surnames[group]),
            female_of=surnames[group],
        )
        for group in given
    }


# The name group of each foreign citizenship the generator uses.
_GROUP_OF_CITIZENSHIP = {
    "UA": "slavic", "BY": "slavic", "RU": "slavic", "MD": "slavic",
    "UZ": "central_asian", "TJ": "central_asian", "KZ": "central_asian",
    "KG": "central_asian",
    "IN": "south_asian", "PK": "south_asian", "BD": "south_asian",
    "AZ": "caucasian_turkic", "GE": "caucasian_turkic", "AM": "caucasian_turkic",
    "TR": "caucasian_turkic",
}  # fmt: skip


def group_of(citizenship: str) -> str:
    """The names a person of a citizenship is given (unknown ones: Slavic)."""
    if citizenship == LITHUANIAN:
        return LITHUANIAN
    return _GROUP_OF_CITIZENSHIP.get(citizenship, "slavic")
