"""The problem list of a refused feed: the lowest lines, whatever order they come."""

from __future__ import annotations

from regwatch.register.feed import Problems


def test_the_listing_keeps_the_first_lines_though_found_last() -> None:
    problems = Problems(limit=3)
    for line in (9, 8, 7, 6, 5):  # found in recording order, not line order
        problems.add(line, f"problem on {line}")
    problems.add(1, "an unknown person")

    assert [p.line for p in problems.listed] == [1, 5, 6]
    assert problems.total == 6
    refusal = problems.refusal("event file x")
    assert str(refusal).splitlines() == [
        "event file x refused, nothing applied: 6 problem(s)",
        "line 1: an unknown person",
        "line 5: problem on 5",
        "line 6: problem on 6",
        "... and 3 more",
    ]


def test_without_a_limit_every_problem_is_kept_for_the_rejects_file() -> None:
    problems = Problems(limit=None)
    for line in range(250, 0, -1):
        problems.add(line, "bad", text=f"text {line}")

    assert [p.line for p in problems.listed] == list(range(1, 251))
    assert problems.listed[0].text == "text 1"
