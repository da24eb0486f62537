"""Personal codes: the vectors' policy, agreement with python-stdnum, and edges."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from stdnum.lt import asmens as stdnum_asmens

from regwatch.codes import (
    CodeCheck,
    InvalidCodeError,
    Rejection,
    accepted,
    birth_date,
    check_code,
    check_digit,
    is_valid,
    make_code,
    normalise,
    sex,
)

# A fixed "today", so that the future-date rule gives the same answers every day.
TODAY = date(2026, 12, 3)

# The repository and shared/ sit side by side, locally and in CI's fresh clone.
VECTORS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "lt_asmens_kodas_test_vectors.csv"
)

# recommended_verdict prefix -> (accepted, rejection, a warning is required).
# Longer prefixes first: "accept" is a prefix of the two more specific verdicts.
VERDICTS: list[tuple[str, bool, Rejection | None, bool]] = [
    ("accept-with-warning", True, None, True),
    ("accept-as-exception", True, None, False),
    ("accept", True, None, False),
    ("reject: check digit", False, Rejection.CHECK_DIGIT, False),
    ("reject: impossible date", False, Rejection.IMPOSSIBLE_DATE, False),
    ("reject: first digit", False, Rejection.FIRST_DIGIT, False),
    ("reject: format/length", False, Rejection.FORMAT, False),
    ("reject (policy)", False, Rejection.UNKNOWN_DATE_NOT_ALLOWED, False),
    ("reject: birth date in the future", False, Rejection.FUTURE_DATE, False),
    # The vectors leave the choice open; a 9-code's checksum is all there is to
    # check, so a mismatch is refused like any other.
    ("reject or flag: 9-code", False, Rejection.CHECK_DIGIT, False),
]


def _load_vectors() -> list[dict[str, str]]:
    if not VECTORS.is_file():
        return []
    with VECTORS.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


VECTOR_ROWS = _load_vectors()


def _expected(verdict: str) -> tuple[bool, Rejection | None, bool]:
    for prefix, takes, rejection, needs_warning in VERDICTS:
        if verdict.startswith(prefix):
            return takes, rejection, needs_warning
    pytest.fail(f"recommended_verdict {verdict!r} has no mapping in this test")


def _with_check_digit(first_ten: str) -> str:
    return first_ten + str(check_digit(first_ten))


# --- the vectors -----------------------------------------------------------------


def test_vectors_file_is_present_and_has_rows():
    assert VECTORS.is_file(), (
        f"{VECTORS} is missing; the shared/ directory must sit beside the "
        "repository (…/shared next to …/main)"
    )
    assert VECTOR_ROWS, f"{VECTORS} has no rows"


@pytest.mark.parametrize("row", VECTOR_ROWS, ids=[r["code"] for r in VECTOR_ROWS])
def test_each_vector_gets_its_recommended_verdict(row):
    accepted, rejection, needs_warning = _expected(row["recommended_verdict"])

    result = check_code(row["code"], TODAY)

    assert result.valid is accepted, result.message
    assert result.rejection is rejection, result.message
    if needs_warning:
        assert result.warnings, "an accept-with-warning code must carry a warning"
    elif row["recommended_verdict"] == "accept":
        assert result.warnings == ()


@pytest.mark.parametrize(
    "row",
    [r for r in VECTOR_ROWS if r["checksum_ok"] in ("True", "False")],
    ids=lambda r: r["code"],
)
def test_check_digit_agrees_with_the_vectors_checksum_column(row):
    code = row["code"]

    assert (check_digit(code[:10]) == int(code[10])) is (row["checksum_ok"] == "True")


# --- the check digit ---------------------------------------------------------------


def test_check_digit_uses_the_first_weights_when_they_give_a_digit():
    # 36805280109 from the vectors. First weights: 141 = 12*11 + 9.
    assert check_digit("3680528010") == 9


def test_check_digit_falls_back_to_the_second_weights_when_the_first_give_10():
    # 33309240064 from the vectors. First weights: 109 = 9*11 + 10.
    # Second weights: 169 = 15*11 + 4.
    assert check_digit("3330924006") == 4
    # First weights: 153 = 13*11 + 10. Second weights: 161 = 14*11 + 7.
    assert check_digit("3126614242") == 7


def test_check_digit_is_0_when_both_weightings_give_10():
    # First weights: 197 = 17*11 + 10. Second weights: 164 = 14*11 + 10.
    assert check_digit("3331280949") == 0


@pytest.mark.parametrize("first_ten", ["", "123456789", "12345678901", "33309240 6"])
def test_check_digit_refuses_anything_but_ten_ascii_digits(first_ten):
    with pytest.raises(InvalidCodeError):
        check_digit(first_ten)


# --- the date rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_ten", "warning"),
    [
        ("3450000000", "birth month and day (digits 4-7) unknown (00)"),
        ("3450300000", "birth day (digits 6-7) unknown (00)"),
        ("3450031000", "birth month (digits 4-5) unknown (00)"),
        ("3490000000", "birth month and day (digits 4-7) unknown (00)"),
    ],
)
def test_unknown_month_or_day_is_accepted_with_a_warning_before_1950(
    first_ten, warning
):
    result = check_code(_with_check_digit(first_ten), TODAY)

    assert result.valid, result.message
    assert result.warnings == (warning,)


@pytest.mark.parametrize("first_ten", ["3500000000", "3500100000", "5050100955"])
def test_unknown_month_or_day_is_refused_from_1950_on(first_ten):
    result = check_code(_with_check_digit(first_ten), TODAY)

    assert result.rejection is Rejection.UNKNOWN_DATE_NOT_ALLOWED
    assert "before 1950" in result.message


def test_an_1800s_code_with_unknown_parts_carries_both_warnings():
    result = check_code(_with_check_digit("1760000000"), TODAY)

    assert result.valid
    assert set(result.warnings) == {
        "birth month and day (digits 4-7) unknown (00)",
        "born in the 1800s",
    }


@pytest.mark.parametrize(
    ("first_ten", "where"),
    [
        ("3451300000", "month (digits 4-5) is 13"),  # impossible even with day 00
        ("3450032000", "day (digits 6-7) is 32"),  # no month has 32 days
        ("3000229000", "1900-02 has only 28 days"),  # 1900 is not a leap year
        ("3450431000", "1945-04 has only 30 days"),
    ],
)
def test_a_date_part_that_cannot_exist_is_impossible_whatever_the_policy(
    first_ten, where
):
    result = check_code(_with_check_digit(first_ten), TODAY)

    assert result.rejection is Rejection.IMPOSSIBLE_DATE
    assert where in result.message


def test_a_birth_today_is_accepted_and_tomorrow_is_in_the_future():
    born_today = make_code("F", TODAY, 1)
    born_tomorrow = make_code("F", TODAY + timedelta(days=1), 1)

    assert check_code(born_today, TODAY).valid
    tomorrow = check_code(born_tomorrow, TODAY)
    assert tomorrow.rejection is Rejection.FUTURE_DATE
    assert tomorrow.message == "birth date 2026-12-04 is after today, 2026-12-03"


def test_a_9_code_skips_the_date_rules_but_not_the_check_digit():
    # Month 13, day 99: nonsense as a date, which a 9-code does not carry.
    code = _with_check_digit("9001399123")

    assert check_code(code, TODAY).valid
    assert birth_date(code) is None
    assert sex(code) is None


def test_messages_say_what_is_wrong_and_where():
    assert check_code("33309240065", TODAY).message == (
        "check digit (digit 11) is 5, expected 4"
    )
    assert check_code("77605030292", TODAY).message == (
        "first digit is 7; a personal code starts with 1-6 or 9"
    )
    assert check_code("3330924006", TODAY).message == (
        "the code has 10 digits, expected 11"
    )


# --- python-stdnum as a second opinion -------------------------------------------


def _has_unknown_part(code: str) -> bool:
    return code[3:5] == "00" or code[5:7] == "00"


def _birth_year(code: str) -> int:
    # Read independently of the module, so that an exception below cannot hide a
    # wrong century or a wrong cutoff in it.
    first_year = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}
    return first_year[code[0]] + int(code[1:3])


def _assert_agrees_with_stdnum(code: str) -> None:
    ours = check_code(code, TODAY)
    theirs = stdnum_asmens.is_valid(code)

    if code[0] in "78":
        # stdnum reads 7 and 8 as the 2100s and accepts them when the date
        # exists (77605030292, 87605030293); no such codes are issued, and the
        # vectors refuse them. First digit 0 needs no exception: stdnum refuses
        # it too.
        assert ours.rejection is Rejection.FIRST_DIGIT
        return
    if ours.rejection is Rejection.FUTURE_DATE:
        # stdnum does not compare the birth date with today (it accepts
        # 69912310013, born 2099-12-31); the vectors refuse such codes.
        born = date(_birth_year(code), int(code[3:5]), int(code[5:7]))
        assert born > TODAY
        return
    if ours.valid and code[0] != "9" and _has_unknown_part(code):
        # stdnum refuses every 00 month or day of a dated code. The policy
        # accepts them for persons born before 1950, so only there do we differ;
        # from 1950 on both refuse, and that is compared below, as are 9-codes,
        # whose digits 2-7 are no date for either.
        assert _birth_year(code) < 1950
        return

    assert ours.valid is theirs, f"{code}: ours {ours}, stdnum {theirs}"


@st.composite
def codes_with_a_correct_check_digit(draw: st.DrawFn) -> str:
    """Codes that pass the checksum, so the first-digit and date rules decide.

    Month and day run one past their largest value, and include 00, so that
    impossible and unknown parts come up as often as real dates.
    """
    first = draw(st.sampled_from("0123456789"))
    year = draw(st.integers(0, 99))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    serial = draw(st.integers(0, 999))
    return _with_check_digit(f"{first}{year:02d}{month:02d}{day:02d}{serial:03d}")


@st.composite
def codes_of_real_dates(draw: st.DrawFn) -> str:
    """Valid-looking codes for real dates in 1800-2099, the future included."""
    born = draw(st.dates(date(1800, 1, 1), date(2099, 12, 31)))
    return make_code(draw(st.sampled_from("MF")), born, draw(st.integers(0, 999)))


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_agrees_with_stdnum_on_random_eleven_digit_strings(code):
    _assert_agrees_with_stdnum(code)


@given(st.one_of(codes_with_a_correct_check_digit(), codes_of_real_dates()))
@example("34500000004")  # 1945, month and day unknown: the 00 exception
@example("50500009558")  # 2005, month and day unknown: both refuse
@example("77605030292")  # first digit 7: the first-digit exception
@example("69912310013")  # born 2099: the future-date exception
@example("08501010007")  # first digit 0: both refuse
@example("90000000009")  # a 9-code whose digits 4-7 are 0: both accept
def test_agrees_with_stdnum_where_the_check_digit_is_right(code):
    _assert_agrees_with_stdnum(code)


# --- make_code, birth_date and sex ---------------------------------------------------


@given(
    person_sex=st.sampled_from(["M", "F"]),
    born=st.dates(date(1850, 1, 1), TODAY),
    serial=st.integers(0, 999),
)
def test_make_code_round_trips_through_check_birth_date_and_sex(
    person_sex, born, serial
):
    code = make_code(person_sex, born, serial)

    result = check_code(code, TODAY)
    assert result.valid, result.message
    assert result.code == code
    assert birth_date(code) == born
    assert sex(code) == person_sex
    assert code[7:10] == f"{serial:03d}"


@pytest.mark.parametrize(
    ("person_sex", "born", "serial"),
    [
        ("X", date(1980, 1, 1), 1),
        ("m", date(1980, 1, 1), 1),
        ("M", date(1799, 12, 31), 1),
        ("M", date(2100, 1, 1), 1),
        ("M", date(1980, 1, 1), -1),
        ("M", date(1980, 1, 1), 1000),
        ("M", date(1980, 1, 1), True),
        ("M", "1980-01-01", 1),
    ],
)
def test_make_code_refuses_bad_arguments(person_sex, born, serial):
    with pytest.raises(InvalidCodeError):
        make_code(person_sex, born, serial)


def test_sex_follows_the_parity_of_the_first_digit():
    assert sex("33309240064") == "M"
    assert sex("48504140959") == "F"


def test_birth_date_reads_the_century_from_the_first_digit():
    assert birth_date("17605130008") == date(1876, 5, 13)
    assert birth_date("33309240064") == date(1933, 9, 24)
    assert birth_date("61205010081") == date(2012, 5, 1)
    assert birth_date(_with_check_digit("3450300000")) is None


@pytest.mark.parametrize("code", ["1234", "77605030292", "36813280103"])
def test_birth_date_refuses_a_code_that_is_not_well_formed(code):
    with pytest.raises(InvalidCodeError):
        birth_date(code)


# --- white space and other characters ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        " 33309240064",
        "33309240064 ",
        "\t33309240064\r\n",
        "\u00a033309240064\u3000",  # no-break and ideographic spaces, pasted
    ],
)
def test_white_space_around_a_code_is_ignored(text):
    result = check_code(text, TODAY)

    assert result.valid, result.message
    assert result.code == "33309240064"
    assert normalise(text) == "33309240064"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the code is empty"),
        (" \t ", "the code is empty"),
        ("3330924 0064", "character 8 is U+0020 SPACE, not a digit 0-9"),
        ("3330924\u00a00064", "character 8 is U+00A0 NO-BREAK SPACE, not a digit 0-9"),
        ("33309-240064", "character 6 is '-', not a digit 0-9"),
        ("+33309240064", "character 1 is '+', not a digit 0-9"),
        (
            "33309240064\u200b",
            "character 12 is U+200B ZERO WIDTH SPACE, not a digit 0-9",
        ),
        # Python's str.strip() would drop this control character; we do not.
        ("\x1f33309240064", "character 1 is U+001F, not a digit 0-9"),
        # Digits of other scripts pass str.isdigit(), and stdnum accepts them.
        (
            "\u0663\u0663\u0663\u0660\u0669\u0662\u0664\u0660\u0660\u0666\u0664",
            "character 1 is U+0663 ARABIC-INDIC DIGIT THREE, not a digit 0-9",
        ),
        (
            "\uff13\uff13309240064",
            "character 1 is U+FF13 FULLWIDTH DIGIT THREE, not a digit 0-9",
        ),
        ("501022900051", "the code has 12 digits, expected 11"),
    ],
)
def test_anything_but_eleven_ascii_digits_is_a_format_error(text, message):
    result = check_code(text, TODAY)

    assert result.rejection is Rejection.FORMAT
    assert result.message == message
    assert normalise(text) is None


def test_is_valid_is_check_code_without_the_details():
    assert is_valid(" 33309240064 ", TODAY)
    assert not is_valid("33309240065", TODAY)


# accepted() settles the common case by a shorter road; it must end where
# check_code ends, for codes of every kind and for text that is no code at all.
@given(
    st.one_of(
        codes_with_a_correct_check_digit(),
        codes_of_real_dates(),
        st.text(alphabet="0123456789", min_size=11, max_size=11),
        st.text(alphabet=" \t\u00a00123456789\u0663", max_size=13),
        st.text(),
    ),
    st.dates(date(1990, 1, 1), date(2099, 12, 31)),
)
@example("48802290008", date(2026, 12, 3))  # 29 February 1988 exists
@example("38902290000", date(2026, 12, 3))  # 29 February 1989 does not
@example("50001010006", date(2000, 1, 1))  # born today
@example("50001010006", date(1999, 12, 31))  # born tomorrow
def test_accepted_is_what_check_code_accepts(text, today):
    assert accepted(text, today) == check_code(text, today).code


@given(st.one_of(st.text(), st.text(alphabet=" \t\u00a00123456789\u0663")))
def test_check_code_never_raises_and_its_fields_agree(text):
    result = check_code(text, TODAY)

    assert isinstance(result, CodeCheck)
    if result.valid:
        assert result.code == normalise(text)
        assert result.message == ""
    else:
        assert result.code is None
        assert result.message
        assert result.warnings == ()
