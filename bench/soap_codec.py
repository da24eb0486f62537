"""Benchmark (not a test): reading a 100,000-code LoadClients and writing its answer.

The SOAP adapter's hot paths, without HTTP or a database: parse, check and
validate a 100,000-code request against the XSD and read its codes; build the
100,000-result answer. Target: each well under a second on a 2-core machine.

    .venv/bin/python bench/soap_codec.py
"""

from __future__ import annotations

import statistics
import time

from regwatch.api.soap import responses
from regwatch.api.soap.envelope import response_envelope
from regwatch.api.soap.operations import read_call
from regwatch.monitoring.models import CodeResult, LoadResult, Outcome

NS = "urn:regwatch:monitoring:v1"
CODES = [f"{39000000000 + serial * 7:011d}" for serial in range(100_000)]


def timed(work, repeat: int = 5) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), max(runs)


def main() -> None:
    adds = "".join(f"<r:add>{code}</r:add>" for code in CODES)
    body = (
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:r="{NS}"><s:Body><r:LoadClients>{adds}</r:LoadClients>'
        "</s:Body></s:Envelope>"
    ).encode()
    result = LoadResult(
        [CodeResult(code, Outcome.ADDED, code) for code in CODES],
        {outcome: 0 for outcome in Outcome},
    )

    read = timed(lambda: read_call(body, content_type="text/xml", soap_action=None))
    write = timed(lambda: response_envelope(responses.load_clients(result)))
    print(
        f"read 100,000-code LoadClients ({len(body) / 1e6:.1f} MB): "
        f"median {read[0] * 1000:.0f} ms, max {read[1] * 1000:.0f} ms"
    )
    print(
        f"write 100,000-result answer: "
        f"median {write[0] * 1000:.0f} ms, max {write[1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
