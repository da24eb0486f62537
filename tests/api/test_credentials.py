"""Credentials on real databases: HTTP Basic, WS-Security UsernameToken, the
slowdown of failed logins, the bound on hash checks, and client certificates
passed by a trusted proxy."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
import structlog
import zeep
from sqlalchemy import select
from starlette.requests import Request
from starlette.testclient import TestClient
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken as ZeepUsernameToken

from conftest import START
from regwatch.api.app import create_app
from regwatch.api.auth import client_address, client_certificate
from regwatch.api.server import run_in_thread
from regwatch.api.soap.envelope import header_of
from regwatch.api.soap.security import PASSWORD_TEXT, WSSE, token_in_header
from regwatch.clock import FixedClock, to_micros
from regwatch.config import ConfigError, Settings
from regwatch.errors import ForbiddenXml, LoginDelayed, NotAuthenticated, ServiceBusy
from regwatch.kinds import ALL_MASK
from regwatch.monitoring import customers, logins
from regwatch.monitoring.customers import (
    add_customer,
    authenticate,
    der_fingerprint,
    disable_customer,
    set_certificate,
)
from regwatch.store.engine import Database
from regwatch.store.tables import login_failures

from .soap_samples import basic, envelope, fault, post

NS = "urn:regwatch:monitoring:v1"
GET_ALL = "<r:GetAllClients/>"
PROXY = "10.0.0.2"
CERT_HEADER = "X-Client-Cert"
# Not a real certificate: the service only hashes the DER bytes the proxy
# vouches for, so any DER-looking bytes stand in for one here.
DER = b"\x30\x82\x01\x0a" + bytes(range(256))
OTHER_DER = b"\x30\x82\x01\x0a" + bytes(reversed(range(256)))


# --- helpers -------------------------------------------------------------------


def token(
    username: str,
    password: str,
    *,
    password_type: str | None = PASSWORD_TEXT,
    must_understand: bool = False,
    actor: str | None = None,
) -> str:
    """A wsse:Security header entry holding a UsernameToken."""
    attributes = ' soap:mustUnderstand="1"' if must_understand else ""
    attributes += f' soap:actor="{actor}"' if actor else ""
    kind = f' Type="{password_type}"' if password_type else ""
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}"{attributes}><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username>"
        f"<wsse:Password{kind}>{password}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def app_client(db: Database, peer: str = "testclient", **settings: Any) -> TestClient:
    database = Database(db.engine, settings=replace(db.settings, **settings))
    return TestClient(create_app(database), client=(peer, 50000))


def pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def failure_rows(db: Database) -> dict[tuple[str, str], int]:
    with db.read() as conn:
        rows = conn.execute(select(login_failures)).all()
    return {(row.scope, row.key): row.failures for row in rows}


@pytest.fixture
def bank(db):
    return add_customer(db, "Bank", kinds=ALL_MASK)


@pytest.fixture
def clock():
    return FixedClock(START)


# --- WS-Security UsernameToken ----------------------------------------------------


@pytest.mark.parametrize(
    "password_type",
    [PASSWORD_TEXT, None, "wsse:PasswordText"],
    ids=["PasswordText", "no Type", "QName type"],
)
def test_a_username_token_alone_authenticates(db, bank, password_type):
    customer, secret = bank
    header = token(customer.customer_id, secret, password_type=password_type)
    response = post(app_client(db), envelope(GET_ALL, header))
    assert response.status_code == 200, response.text
    assert b"GetAllClientsResponse" in response.content


def test_a_security_header_marked_must_understand_is_understood(db, bank):
    customer, secret = bank
    header = token(customer.customer_id, secret, must_understand=True)
    response = post(app_client(db), envelope(GET_ALL, header))
    assert response.status_code == 200, response.text


def test_other_must_understand_headers_still_fault_beside_a_token(db, bank):
    customer, secret = bank
    header = token(customer.customer_id, secret, must_understand=True) + (
        '<w:Action xmlns:w="urn:ws-addressing" soap:mustUnderstand="1"/>'
    )
    found = fault(post(app_client(db), envelope(GET_ALL, header)))
    assert found["faultcode"] == "soap:MustUnderstand"
    assert found["faultstring"].startswith("MUST_UNDERSTAND: ")


def test_a_password_digest_is_refused_with_what_to_send_instead(db, bank):
    customer, _ = bank
    kind = PASSWORD_TEXT.replace("PasswordText", "PasswordDigest")
    header = token(customer.customer_id, "d2VZSTNuWGQ4", password_type=kind)
    response = post(app_client(db), envelope(GET_ALL, header))
    found = fault(response, 401)
    assert found["code"] == "NOT_AUTHENTICATED"
    assert "PasswordDigest is not accepted" in found["faultstring"]
    assert "PasswordText" in found["faultstring"]
    assert "over TLS" in found["faultstring"]


def test_a_wrong_token_secret_is_refused(db, bank):
    customer, _ = bank
    header = token(customer.customer_id, "not-the-secret-at-all")
    response = post(app_client(db), envelope(GET_ALL, header))
    assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"
    assert response.headers["www-authenticate"] == 'Basic realm="regwatch"'


def test_no_credentials_anywhere_is_refused_saying_both_ways(db):
    response = post(app_client(db), envelope(GET_ALL))
    found = fault(response, 401)
    assert found["code"] == "NOT_AUTHENTICATED"
    assert "HTTP Basic" in found["faultstring"]
    assert "UsernameToken" in found["faultstring"]


def test_a_token_for_another_actor_is_not_ours(db, bank):
    customer, secret = bank
    header = token(customer.customer_id, secret, actor="urn:some-gateway")
    response = post(app_client(db), envelope(GET_ALL, header))
    assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"


def test_two_security_headers_for_us_are_malformed(db, bank):
    customer, secret = bank
    header = token(customer.customer_id, secret) * 2
    response = post(app_client(db), envelope(GET_ALL, header))
    assert fault(response)["code"] == "MALFORMED_REQUEST"


def test_basic_and_token_naming_the_same_customer_both_right(db, bank):
    customer, secret = bank
    response = post(
        app_client(db),
        envelope(GET_ALL, token(customer.customer_id, secret)),
        Authorization=basic(customer.customer_id, secret),
    )
    assert response.status_code == 200, response.text


def test_basic_and_token_naming_different_customers_are_refused(db, bank):
    customer, secret = bank
    other, other_secret = add_customer(db, "Telecom", kinds=ALL_MASK)
    response = post(
        app_client(db),
        envelope(GET_ALL, token(other.customer_id, other_secret)),
        Authorization=basic(customer.customer_id, secret),
    )
    found = fault(response, 401)
    assert found["code"] == "NOT_AUTHENTICATED"
    assert "name different customers" in found["faultstring"]


@pytest.mark.parametrize("wrong", ["basic", "token"])
def test_basic_and_token_must_both_be_right(db, bank, wrong):
    customer, secret = bank
    bad = "not-the-secret-at-all"
    response = post(
        app_client(db),
        envelope(
            GET_ALL, token(customer.customer_id, bad if wrong == "token" else secret)
        ),
        Authorization=basic(customer.customer_id, bad if wrong == "basic" else secret),
    )
    assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"
    assert failure_rows(db)[(logins.CUSTOMER, customer.customer_id)] == 1


def test_zeep_with_its_own_username_token(db, bank):
    customer, secret = bank
    with run_in_thread(create_app(db)) as base_url:
        client = zeep.Client(
            f"{base_url}/soap?wsdl",
            wsse=ZeepUsernameToken(customer.customer_id, secret),
        )
        page = client.service.GetAllClients()
        assert page.total == 0

        digest = zeep.Client(
            f"{base_url}/soap?wsdl",
            wsse=ZeepUsernameToken(customer.customer_id, secret, use_digest=True),
        )
        with pytest.raises(Fault) as raised:
            digest.service.GetAllClients()
    assert raised.value.code == "soap:Client"
    assert "PasswordDigest is not accepted" in raised.value.message
    code = raised.value.detail.find(f"{{{NS}}}ServiceFault/{{{NS}}}code")
    assert code.text == "NOT_AUTHENTICATED"


def test_zeep_with_basic_and_username_token_together(db, bank):
    customer, secret = bank
    with run_in_thread(create_app(db)) as base_url:
        session = requests.Session()
        session.auth = (customer.customer_id, secret)
        client = zeep.Client(
            f"{base_url}/soap?wsdl",
            transport=Transport(session=session),
            wsse=ZeepUsernameToken(customer.customer_id, secret),
        )
        assert client.service.GetAllClients().total == 0


# --- the slowdown of failed logins ------------------------------------------------

WRONG = "not-the-secret-at-all"


def fail(db: Database, customer_id: str, clock: FixedClock, **context: Any) -> None:
    with pytest.raises(NotAuthenticated):
        authenticate(db, customer_id, WRONG, clock=clock, **context)


def seconds_locked(db: Database, clock: FixedClock, scope: str, key: str) -> float:
    with db.read() as conn:
        locked_until = conn.execute(
            select(login_failures.c.locked_until).where(
                login_failures.c.scope == scope, login_failures.c.key == key
            )
        ).scalar_one()
    return max(0, locked_until - to_micros(clock.now())) / 1_000_000


def test_five_failures_delay_the_customer_until_the_delay_passes(db, bank, clock):
    customer, secret = bank
    for _ in range(5):
        fail(db, customer.customer_id, clock)

    # Even the right secret waits: it is not looked at while the id is delayed.
    with pytest.raises(LoginDelayed) as delayed:
        authenticate(db, customer.customer_id, secret, clock=clock)
    assert (delayed.value.code, delayed.value.retry_after) == ("LOGIN_DELAYED", 2)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(LoginDelayed) as still:
        authenticate(db, customer.customer_id, secret, clock=clock)
    assert still.value.retry_after == 1

    clock.advance(timedelta(seconds=1))
    assert authenticate(db, customer.customer_id, secret, clock=clock) == customer
    assert failure_rows(db) == {}  # the success cleared the customer's count


def test_guesses_sent_side_by_side_get_no_more_checks_than_one_after_another(
    db, bank, clock, hash_checks
):
    """Each attempt is counted before its hash is checked, so twenty guesses at
    once get the five free checks and then wait, as twenty in a row would."""
    customer, _ = bank
    outcomes: list[str] = []

    def guess() -> None:
        try:
            authenticate(db, customer.customer_id, WRONG, clock=clock)
        except (NotAuthenticated, LoginDelayed, ServiceBusy) as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(hash_checks) == 5
    assert sorted(outcomes) == ["LOGIN_DELAYED"] * 15 + ["NOT_AUTHENTICATED"] * 5
    assert failure_rows(db)[(logins.CUSTOMER, customer.customer_id)] == 5


def test_the_customer_delay_doubles_up_to_a_minute(db, bank, clock):
    customer, _ = bank
    delays = []
    for _ in range(11):
        fail(db, customer.customer_id, clock)
        delay = seconds_locked(db, clock, logins.CUSTOMER, customer.customer_id)
        delays.append(delay)
        clock.advance(timedelta(seconds=delay))
    assert delays == [0, 0, 0, 0, 2, 4, 8, 16, 32, 60, 60]


def test_the_address_delay_starts_later_and_lasts_longer():
    delays = [logins.delay_after(logins.ADDRESS, n) for n in (19, 20, 21, 28, 40)]
    assert delays == [0, 2, 4, 512, 900]


def test_attempts_refused_while_delayed_are_not_counted(db, bank, clock):
    customer, _ = bank
    for _ in range(5):
        fail(db, customer.customer_id, clock)
    for _ in range(10):
        with pytest.raises(LoginDelayed):
            authenticate(db, customer.customer_id, WRONG, clock=clock)
    assert failure_rows(db)[(logins.CUSTOMER, customer.customer_id)] == 5


def test_a_delayed_customer_leaves_other_customers_alone(db, bank, clock):
    customer, _ = bank
    other, other_secret = add_customer(db, "Telecom", kinds=ALL_MASK)
    for _ in range(5):
        fail(db, customer.customer_id, clock, address="192.0.2.1")

    # The customer id waits from any address ...
    with pytest.raises(LoginDelayed):
        authenticate(db, customer.customer_id, WRONG, address="192.0.2.9", clock=clock)
    # ... and another customer at the same address does not.
    assert (
        authenticate(
            db, other.customer_id, other_secret, address="192.0.2.1", clock=clock
        )
        == other
    )


def test_a_delayed_address_leaves_other_addresses_alone(db, bank, clock):
    customer, secret = bank
    for n in range(20):  # guessing at several ids, a few tries each
        fail(db, f"guess-{n % 4}", clock, address="198.51.100.7")
    assert failure_rows(db)[(logins.ADDRESS, "198.51.100.7")] == 20

    with pytest.raises(LoginDelayed):
        authenticate(
            db, customer.customer_id, secret, address="198.51.100.7", clock=clock
        )
    assert (
        authenticate(
            db, customer.customer_id, secret, address="198.51.100.8", clock=clock
        )
        == customer
    )


def test_a_success_clears_the_customer_count_but_not_the_address_count(db, bank, clock):
    customer, secret = bank
    for _ in range(3):
        fail(db, customer.customer_id, clock, address="192.0.2.1")
    authenticate(db, customer.customer_id, secret, address="192.0.2.1", clock=clock)
    assert failure_rows(db) == {(logins.ADDRESS, "192.0.2.1"): 3}


def test_failures_are_forgotten_after_a_quiet_quarter_of_an_hour(db, bank, clock):
    customer, _ = bank
    for _ in range(4):
        fail(db, customer.customer_id, clock)
    clock.advance(timedelta(minutes=15, seconds=1))
    fail(db, customer.customer_id, clock)
    assert failure_rows(db) == {(logins.CUSTOMER, customer.customer_id): 1}


def test_stale_counts_are_removed(db, clock):
    fail(db, "nobody", clock, address="192.0.2.1")
    now = to_micros(clock.now())
    with db.write() as conn:
        assert logins.forget_stale(conn, now + 901 * 1_000_000) == 1  # the id's
        assert logins.forget_stale(conn, now + 3601 * 1_000_000) == 1  # the address's
    assert failure_rows(db) == {}


def test_unknown_known_and_disabled_ids_cost_the_same_one_hash_check(
    db, bank, clock, hash_checks
):
    customer, _ = bank
    closed, _ = add_customer(db, "Closed", kinds=ALL_MASK)
    disable_customer(db, closed.customer_id)

    for customer_id in (customer.customer_id, "nobody", closed.customer_id):
        hash_checks.clear()
        with pytest.raises(NotAuthenticated) as refused:
            authenticate(db, customer_id, WRONG, clock=clock)
        assert len(hash_checks) == 1
        assert refused.value.message == "unknown customer or wrong secret"

    # Delayed, known or not: no hash check at all, and the same answer.
    for customer_id in (customer.customer_id, "nobody", closed.customer_id):
        for _ in range(4):
            fail(db, customer_id, clock)
        hash_checks.clear()
        with pytest.raises(LoginDelayed) as delayed:
            authenticate(db, customer_id, WRONG, clock=clock)
        assert (hash_checks, delayed.value.retry_after) == ([], 2)
    assert set(failure_rows(db).values()) == {5}


def test_a_delayed_login_is_a_429_fault_with_retry_after(db, bank):
    customer, _ = bank
    client = app_client(db)
    wrong = basic(customer.customer_id, WRONG)
    for _ in range(5):
        response = post(client, envelope(GET_ALL), Authorization=wrong)
        assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"

    response = post(client, envelope(GET_ALL), Authorization=wrong)
    found = fault(response, 429)
    assert (found["faultcode"], found["code"]) == ("soap:Client", "LOGIN_DELAYED")
    assert response.headers["retry-after"] in {"1", "2"}


def test_zeep_reads_the_login_delayed_fault(db, bank):
    customer, _ = bank
    with run_in_thread(create_app(db)) as base_url:
        session = requests.Session()
        session.auth = (customer.customer_id, WRONG)
        client = zeep.Client(
            f"{base_url}/soap?wsdl", transport=Transport(session=session)
        )
        codes = []
        for _ in range(6):
            with pytest.raises(Fault) as raised:
                client.service.GetAllClients()
            code = raised.value.detail.find(f"{{{NS}}}ServiceFault/{{{NS}}}code")
            codes.append(code.text)
    assert codes == ["NOT_AUTHENTICATED"] * 5 + ["LOGIN_DELAYED"]


# --- the bound on hash checks -------------------------------------------------------


class SlowHasher:
    """Stands in for Argon2: slow, and counting how many checks overlap."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return "slow-hash"

    def verify(self, stored_hash: str, secret: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        return False


def test_hash_checks_run_at_most_max_secret_checks_at_once(db, monkeypatch):
    hasher = SlowHasher()
    monkeypatch.setattr(customers, "_HASHER", hasher)
    database = Database(db.engine, settings=replace(db.settings, max_secret_checks=2))
    outcomes: list[str] = []

    def login(n: int) -> None:
        try:
            authenticate(database, f"nobody-{n}", WRONG)
        except NotAuthenticated as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=login, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["NOT_AUTHENTICATED"] * 8
    assert hasher.most == 2


def test_a_login_that_cannot_get_a_check_in_time_is_service_busy(db, bank, monkeypatch):
    customer, _ = bank
    monkeypatch.setattr(customers, "_CHECK_WAIT_SECONDS", 0.05)
    database = Database(db.engine, settings=replace(db.settings, max_secret_checks=1))
    slots = customers._check_slots(1)
    assert slots.acquire(timeout=5)
    try:
        with pytest.raises(ServiceBusy):
            authenticate(database, customer.customer_id, WRONG)
    finally:
        slots.release()
    assert failure_rows(db) == {}  # nothing was checked, so nothing failed


# --- client addresses and certificates ------------------------------------------------

PROXIES = {"trusted_proxies": ("10.0.0.0/8",), "client_cert_header": CERT_HEADER}


def request_from(peer: str, **headers: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/soap",
            "client": (peer, 50000),
            "headers": [
                (name.lower().replace("_", "-").encode(), value.encode())
                for name, value in headers.items()
            ],
        }
    )


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        ("192.0.2.50", "203.0.113.9", "192.0.2.50"),  # not a proxy: header ignored
        (PROXY, "203.0.113.9", "203.0.113.9"),
        (PROXY, "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two proxies
        (PROXY, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # a forged first entry
        (PROXY, "[2001:db8::1]:443", "2001:db8::1"),
        (PROXY, "203.0.113.9:5000", "203.0.113.9"),
        (PROXY, None, PROXY),
    ],
)
def test_the_client_address_is_read_past_trusted_proxies_only(peer, forwarded, address):
    headers = {"X_Forwarded_For": forwarded} if forwarded else {}
    request = request_from(peer, **headers)
    assert client_address(request, Settings(**PROXIES)) == address


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("testclient", "testclient"),
    ],
)
def test_ipv6_clients_are_counted_by_their_64_network(host, key):
    assert logins.address_key(host) == key


def test_failures_through_a_proxy_count_against_the_client_address(db, bank):
    customer, _ = bank
    client = app_client(db, PROXY, **PROXIES)
    response = post(
        client,
        envelope(GET_ALL),
        Authorization=basic(customer.customer_id, WRONG),
        X_Forwarded_For="203.0.113.9",
    )
    assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"
    assert failure_rows(db) == {
        (logins.CUSTOMER, customer.customer_id): 1,
        (logins.ADDRESS, "203.0.113.9"): 1,
    }


@pytest.mark.parametrize(
    "value",
    [
        quote(pem(DER)),  # nginx: $ssl_client_escaped_cert
        pem(DER).replace("\n", " "),  # PEM on one line
        base64.b64encode(DER).decode(),  # HAProxy ssl_c_der,base64; Traefik
        der_fingerprint(DER),
        ":".join(f"{b:02X}" for b in bytes.fromhex(der_fingerprint(DER))),
    ],
    ids=["escaped PEM", "one-line PEM", "base64 DER", "hex", "colon hex"],
)
def test_the_proxy_may_pass_the_certificate_in_several_forms(value):
    request = request_from(PROXY, **{CERT_HEADER: value})
    assert client_certificate(request, Settings(**PROXIES)) == der_fingerprint(DER)


@pytest.mark.parametrize(
    ("peer", "settings", "value"),
    [
        ("192.0.2.50", PROXIES, quote(pem(DER))),  # not from the proxy
        (PROXY, {"trusted_proxies": ("10.0.0.0/8",)}, quote(pem(DER))),  # no header set
        (PROXY, PROXIES, ""),  # the proxy saw no certificate
        (PROXY, PROXIES, "not a certificate"),
    ],
    ids=["untrusted peer", "no header configured", "empty", "garbage"],
)
def test_no_certificate_is_taken_from_untrusted_or_unreadable_headers(
    peer, settings, value
):
    request = request_from(peer, **{CERT_HEADER: value})
    assert client_certificate(request, Settings(**settings)) is None


def test_a_customer_with_a_certificate_must_present_it_too(db, bank):
    customer, secret = bank
    set_certificate(db, customer.customer_id, pem(DER))
    auth = basic(customer.customer_id, secret)
    via_proxy = app_client(db, PROXY, **PROXIES)

    def status(client: TestClient, certificate: bytes | None) -> int:
        headers = {CERT_HEADER: quote(pem(certificate))} if certificate else {}
        return post(
            client, envelope(GET_ALL), Authorization=auth, **headers
        ).status_code

    assert status(via_proxy, DER) == 200
    assert status(via_proxy, None) == 401
    assert status(via_proxy, OTHER_DER) == 401
    assert status(app_client(db, "192.0.2.50", **PROXIES), DER) == 401
    wrong_secret = post(
        via_proxy,
        envelope(GET_ALL),
        Authorization=basic(customer.customer_id, WRONG),
        **{CERT_HEADER: quote(pem(DER))},
    )
    assert fault(wrong_secret, 401)["code"] == "NOT_AUTHENTICATED"


def test_a_token_login_checks_the_certificate_as_well(db, bank):
    customer, secret = bank
    set_certificate(db, customer.customer_id, pem(DER))
    via_proxy = app_client(db, PROXY, **PROXIES)
    body = envelope(GET_ALL, token(customer.customer_id, secret))
    assert post(via_proxy, body).status_code == 401
    assert post(via_proxy, body, **{CERT_HEADER: quote(pem(DER))}).status_code == 200


# --- settings and logs ----------------------------------------------------------------


def test_trusted_proxies_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("REGWATCH_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,::1")
    monkeypatch.setenv("REGWATCH_CLIENT_CERT_HEADER", "X-Client-Cert")
    settings = Settings.from_env()
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "::1/128")
    assert settings.client_cert_header == "X-Client-Cert"
    monkeypatch.setenv("REGWATCH_TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ConfigError, match=r"'proxy\.example' is not an IP"):
        Settings.from_env()


def test_no_secret_reaches_the_logs(db, bank):
    customer, secret = bank
    client = app_client(db)
    with structlog.testing.capture_logs() as logs:
        post(client, envelope(GET_ALL, token(customer.customer_id, secret)))
        post(client, envelope(GET_ALL, token(customer.customer_id, WRONG)))
        post(client, envelope(GET_ALL), Authorization=basic("nobody", WRONG))
    events = [entry["event"] for entry in logs]
    assert events.count("login_refused") == 2
    assert secret not in repr(logs) and WRONG not in repr(logs)
    refusals = [entry for entry in logs if entry["event"] == "login_refused"]
    assert [(r["reason"], r["customer_id"]) for r in refusals] == [
        ("wrong_secret", customer.customer_id),
        ("unknown_customer", None),
    ]


@pytest.mark.parametrize(
    "header",
    ["Basic Zm9v\xe9", "Basic \xe9\xe9\xe9\xe9", "Basic ====", "Basic Zm9vYmFy"],
    ids=["non-ASCII after base64", "all non-ASCII", "padding only", "no colon"],
)
def test_a_garbled_basic_header_is_not_authenticated_never_internal(db, header):
    response = app_client(db).post(
        "/soap",
        content=envelope(GET_ALL),
        headers={"Content-Type": "text/xml", "Authorization": header.encode("latin-1")},
    )
    assert response.status_code == 401
    assert b"<code>NOT_AUTHENTICATED</code>" in response.content


def test_a_certificate_header_with_non_ascii_text_is_no_certificate():
    settings = Settings(
        trusted_proxies=("10.0.0.2",), client_cert_header="X-Client-Cert"
    )
    request = Request(
        {
            "type": "http",
            "client": ("10.0.0.2", 1),
            "headers": [(b"x-client-cert", "MII\xe9".encode("latin-1"))],
        }
    )
    assert client_certificate(request, settings) is None


def test_a_certificate_header_without_trusted_proxies_is_a_configuration_error(
    monkeypatch,
):
    monkeypatch.setenv("REGWATCH_CLIENT_CERT_HEADER", "X-Client-Cert")
    monkeypatch.delenv("REGWATCH_TRUSTED_PROXIES", raising=False)
    with pytest.raises(ConfigError, match="REGWATCH_TRUSTED_PROXIES is not"):
        Settings.from_env()


def test_the_header_is_read_without_parsing_the_body_after_it(db, bank):
    """An anonymous caller's body is not parsed before the caller is known:
    only the header is, so a broken or huge body costs no tree."""
    customer, secret = bank
    header = token(customer.customer_id, secret)
    broken = envelope(GET_ALL, header).replace(b"</soap:Body>", b"<x></soap:Body>")
    found = header_of(broken)
    assert found is not None
    assert token_in_header(found).username == customer.customer_id
    assert header_of(envelope(GET_ALL)) is None
    with pytest.raises(ForbiddenXml):
        header_of(b'<!DOCTYPE x [<!ENTITY e "e">]>' + envelope(GET_ALL))
    # Through HTTP the broken body is refused only once the caller is known.
    known = post(app_client(db), broken)
    assert b"<code>MALFORMED_REQUEST</code>" in known.content
    nobody = envelope(GET_ALL).replace(b"</soap:Body>", b"<x></soap:Body>")
    assert post(app_client(db), nobody).status_code == 401


@pytest.mark.parametrize(
    "user",
    ["bank\x00", "Ab3_xYz-SecretLooking", "x" * 200],
    ids=["NUL", "mixed", "long"],
)
def test_an_id_no_customer_could_have_is_refused_and_counted_under_a_digest(
    db, clock, user
):
    with pytest.raises(NotAuthenticated):
        authenticate(db, user, WRONG, clock=clock)
    (key,) = [k for scope, k in failure_rows(db) if scope == logins.CUSTOMER]
    assert key.startswith("sha256:") and user not in key


def test_a_certificate_header_sent_twice_is_no_certificate():
    """A proxy that appends rather than replaces would let a client put the
    customer's (public) certificate first."""
    settings = Settings(trusted_proxies=(PROXY,), client_cert_header=CERT_HEADER)
    fingerprint = customers.der_fingerprint(DER).encode()
    once = Request(
        {
            "type": "http",
            "client": (PROXY, 1),
            "headers": [(CERT_HEADER.lower().encode(), fingerprint)],
        }
    )
    assert client_certificate(once, settings) == fingerprint.decode()
    request = Request(
        {
            "type": "http",
            "client": (PROXY, 1),
            "headers": [
                (CERT_HEADER.lower().encode(), fingerprint),
                (CERT_HEADER.lower().encode(), b""),
            ],
        }
    )
    assert client_certificate(request, settings) is None
