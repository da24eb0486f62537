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


def test_an_overlong_line_is_refused_and_the_lines_after_it_still_read() -> None:
    import io

    from regwatch.register.feed import MAX_LINE_BYTES, read_event_file

    good = (
        b'{"formatVersion":1,"eventId":"ID","type":"DEATH",'
        b'"recordedAt":"2026-11-09T10:00:00+02:00","persons":["38703181745"],'
        b'"data":{"dateOfDeath":"2026-11-08"}}\n'
    )
    overlong = b'{"x":"' + b"y" * (3 * MAX_LINE_BYTES) + b'"}\n'
    data = good.replace(b"ID", b"a1") + overlong + good.replace(b"ID", b"a2")

    found = read_event_file(io.BytesIO(data))

    (problem,) = found.problems.listed
    assert (problem.line, problem.reason) == (2, "line is longer than 1000000 bytes")
    assert problem.text.startswith('{"x":"yyy') and len(problem.text) == 200
    assert [event.event_id for event in found.events()] == ["a1", "a2"]
