"""The hot paths stay fast: a 100,000-code LoadClients read and answered.

The bounds are loose (the targets are well under a second on a 2-core machine)
so that a busy CI machine does not fail them; a tenfold slowdown still does.
"""

from __future__ import annotations

import time

from regwatch.api.soap import responses
from regwatch.api.soap.envelope import response_envelope
from regwatch.api.soap.operations import read_call
from regwatch.monitoring.models import CodeResult, Outcome

from .soap_samples import envelope, load_result

CODES = [f"{39000000000 + serial * 7:011d}" for serial in range(100_000)]


def seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def test_a_100000_code_load_clients_is_parsed_validated_and_read_in_a_second():
    adds = "".join(f"<r:add>{code}</r:add>" for code in CODES)
    body = envelope(f"<r:LoadClients>{adds}</r:LoadClients>")
    calls = []

    def read() -> None:
        calls.append(read_call(body, content_type="text/xml", soap_action=None))

    assert seconds(read) < 1.0
    assert calls[0].request.add == CODES


def test_a_100000_result_answer_is_written_in_a_second():
    result = load_result(*(CodeResult(code, Outcome.ADDED, code) for code in CODES))
    answers = []

    def write() -> None:
        answers.append(response_envelope(responses.load_clients(result)))

    assert seconds(write) < 1.0
    assert answers[0].count(b"<result>") == 100_000
