"""How often register events happen: rates per 100,000 persons, and the week.

Each rate is the mean per average day; the working week shares it out (offices
close at weekends and on public holidays, weddings crowd on Saturdays), so that
a week still averages the rate.
"""

from __future__ import annotations

from datetime import date, timedelta

from regwatch.register.events import EventType

# Events per 100,000 living persons per average day (weekly mean).
#
# Deaths: 37,400 in 2025 for 2.886 million residents (deaths, 2025, and
# resident_population_1jan, 2026, in lt_demography_calibration.csv) is 3.5.
# Births: 25,600 registered in 2024 (births_registered_incl_abroad) is 2.4; with
# ~1.9 parents named per birth that is 4.7 parents with a new child.
# Marriages: 16,016 in 2022 (marriages), 1.5 a day, 3 persons married.
# Divorces: 7,395 in 2022 (divorces), 0.7 a day, 1.4 persons divorced.
# Documents issued: about 330,000 a year (id_cards_plus_passports_issued, an
# estimate) is 31. Lost or stolen documents: our own estimate, about 2.
# Residence declarations: about 250,000 a year (declared_residence_changes, an
# estimate) is 24, of which departures abroad about 2.7 (emigrants 2025,
# 28,500), so one declaration in nine.
# Residence permits: first and extended temporary permits ran at about 150,000
# a year in 2023, revocations 29,673 in 2024 (temporary_residence_permits_*,
# residence_permits_revoked); that is 17 or so, and 14 leaves room for the
# decline since. Mix: issued 35 %, renewed 40 %, revoked 18 %, expired 7 %.
# Arrivals of foreigners: 44,700 immigrants in 2025 (immigrants); foreigners
# were 75 % of them in 2023 (the note of that row, the latest split the file
# gives), and at that share 33,500 a year is 3.2. Each arrives with a first
# permit, so the issued 35 % above (4.9) is these 3.2 and 1.7 first permits of
# foreigners already registered (after a visa or temporary protection, say).
# Photos stored on their own, ahead of a document not yet issued: our estimate,
# one application in ten, so a tenth of the 31 documents is 3.1.
# Record corrections (a misspelled name, a wrong declaration date): our
# estimate, about 3,000 a year, 0.3; the file has no figure for them.
# Personal-code changes: about 300 a year (personal_code_changes, an estimate)
# is 0.03. Name changes outside marriage: 5,517 a year (name_or_surname_changes,
# c. 2019) is 0.5.
RATES: dict[EventType, float] = {
    EventType.DEATH: 3.5,
    EventType.BIRTH: 2.45,
    EventType.MARRIAGE: 1.5,
    EventType.DIVORCE: 0.7,
    EventType.DOCUMENT_ISSUED: 31.0,
    EventType.DOCUMENT_INVALIDATED: 2.0,
    EventType.RESIDENCE_DECLARED: 21.3,
    EventType.DEPARTED_ABROAD: 2.7,
    EventType.PERMIT_ISSUED: 1.7,
    EventType.PERMIT_RENEWED: 5.6,
    EventType.PERMIT_REVOKED: 2.5,
    EventType.PERMIT_EXPIRED: 1.0,
    EventType.CODE_REPLACED: 0.03,
    EventType.NAME_CHANGE: 0.5,
    EventType.FOREIGNER_ARRIVED: 3.2,
    EventType.PHOTO_TAKEN: 3.1,
    EventType.RECORD_CORRECTED: 0.3,
}

# How the week shares the work, by weekday (Monday first); holidays count as
# Sundays. Civil registry offices register births, deaths and divorces on
# working days; weddings crowd on Fridays and Saturdays; documents, photos,
# declarations, permits, arrivals and corrections are office work, with
# e-services keeping weekends at about 15 %.
_CIVIL = (1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.1)
_WEDDINGS = (0.6, 0.6, 0.6, 0.6, 1.5, 2.6, 0.2)
_OFFICE = (1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.15)
_WEEK = {
    EventType.MARRIAGE: _WEDDINGS,
    EventType.DOCUMENT_ISSUED: _OFFICE,
    EventType.DOCUMENT_INVALIDATED: _OFFICE,
    EventType.RESIDENCE_DECLARED: _OFFICE,
    EventType.DEPARTED_ABROAD: _OFFICE,
    EventType.PERMIT_ISSUED: _OFFICE,
    EventType.PERMIT_RENEWED: _OFFICE,
    EventType.PERMIT_REVOKED: _OFFICE,
    EventType.PERMIT_EXPIRED: _OFFICE,
    EventType.FOREIGNER_ARRIVED: _OFFICE,
    EventType.PHOTO_TAKEN: _OFFICE,
    EventType.RECORD_CORRECTED: _OFFICE,
}


def expected_events(kind: EventType, day: date, living: int, scale: float) -> float:
    """The mean number of events of a kind on a day, for ``living`` persons."""
    week = _WEEK.get(kind, _CIVIL)
    weekday = 6 if is_holiday(day) else day.weekday()
    return RATES[kind] * living / 100_000 * scale * week[weekday] * 7 / sum(week)


def is_holiday(day: date) -> bool:
    """Lithuania's public holidays (fixed dates, Easter Sunday and Monday)."""
    if (day.month, day.day) in _FIXED_HOLIDAYS:
        return True
    easter = _easter(day.year)
    return day in (easter, easter + timedelta(days=1))


_FIXED_HOLIDAYS = {
    (1, 1), (2, 16), (3, 11), (5, 1), (6, 24), (7, 6), (8, 15), (11, 1), (11, 2),
    (12, 24), (12, 25), (12, 26),
}  # fmt: skip


def _easter(year: int) -> date:
    """Western Easter Sunday (the Gregorian computus)."""
    golden = year % 19
    century, years = divmod(year, 100)
    leap_c, rest_c = divmod(century, 4)
    moon = (century - (century + 8) // 25 + 1) // 3
    epact = (19 * golden + century - leap_c - moon + 15) % 30
    leap_y, rest_y = divmod(years, 4)
    weekday = (32 + 2 * rest_c + 2 * leap_y - epact - rest_y) % 7
    shift = (golden + 11 * epact + 22 * weekday) // 451
    month, day = divmod(epact + weekday - 7 * shift + 114, 31)
    return date(year, month, day + 1)
