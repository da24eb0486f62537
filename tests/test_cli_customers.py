"""`regwatch customers`: secrets rotated, customers disabled and enabled,
certificates required, the list, on real databases."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result

from regwatch.cli import main
from regwatch.errors import NotAuthenticated
from regwatch.kinds import ALL_MASK, Kind, to_mask
from regwatch.monitoring.customers import add_customer, authenticate
from regwatch.store.engine import Database

DER = b"\x30\x82\x01\x0a" + bytes(range(200))  # stands in for a certificate


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run(db: Database, *args: str) -> Result:
    env = {"REGWATCH_DATABASE_URL": url_of(db)}
    return CliRunner().invoke(main, list(args), env=env)


def pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


@pytest.fixture
def bank(db):
    return add_customer(db, "Bank", kinds=ALL_MASK)


def warm(db: Database, customer_id: str, secret: str, checks: list[str]) -> None:
    """Log in twice, so that the second login is answered from the cache."""
    authenticate(db, customer_id, secret)
    checks.clear()
    authenticate(db, customer_id, secret)
    assert checks == []


def test_rotate_secret_stops_the_old_secret_at_once_with_the_cache_warm(
    db, bank, hash_checks
):
    customer, old = bank
    warm(db, customer.customer_id, old, hash_checks)

    result = run(db, "customers", "rotate-secret", customer.customer_id)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines()[:2])
    new = lines["secret"].strip()
    assert lines["customer id"].strip() == customer.customer_id
    assert len(new) >= 24 and new != old
    assert "the old secret no longer works" in result.output

    with pytest.raises(NotAuthenticated):
        authenticate(db, customer.customer_id, old)
    assert authenticate(db, customer.customer_id, new) == customer


def test_a_secret_rotated_by_another_process_stops_here_at_once(db, bank, hash_checks):
    customer, old = bank
    warm(db, customer.customer_id, old, hash_checks)

    command = ["customers", "rotate-secret", customer.customer_id, "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "regwatch.cli", *command],
        env={**os.environ, "REGWATCH_DATABASE_URL": url_of(db)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    new = json.loads(done.stdout)["secret"]

    with pytest.raises(NotAuthenticated):
        authenticate(db, customer.customer_id, old)
    assert authenticate(db, customer.customer_id, new) == customer


def test_disable_refuses_at_once_and_enable_accepts_again(db, bank, hash_checks):
    customer, secret = bank
    warm(db, customer.customer_id, secret, hash_checks)

    disabled = run(db, "customers", "disable", customer.customer_id)
    assert (disabled.exit_code, disabled.output) == (
        0,
        "bank is disabled: its calls are refused from now on\n",
    )
    with pytest.raises(NotAuthenticated):
        authenticate(db, customer.customer_id, secret)
    again = run(db, "customers", "disable", customer.customer_id)
    assert (again.exit_code, again.output) == (0, "bank was already disabled\n")

    enabled = run(db, "customers", "enable", customer.customer_id)
    assert (enabled.exit_code, enabled.output) == (0, "bank is enabled\n")
    assert authenticate(db, customer.customer_id, secret) == customer
    again = run(db, "customers", "enable", customer.customer_id)
    assert (again.exit_code, again.output) == (0, "bank was not disabled\n")


def test_set_and_remove_a_certificate(db, bank, tmp_path):
    customer, _ = bank
    path = tmp_path / "bank.pem"
    path.write_text(pem(DER))
    fingerprint = hashlib.sha256(DER).hexdigest()

    result = run(db, "customers", "set-certificate", customer.customer_id, str(path))
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == f"bank must present the certificate with SHA-256 {fingerprint}\n"
    )
    listed = json.loads(run(db, "customers", "list", "--json").output)
    assert listed["certificateRequired"] is True

    removed = run(db, "customers", "remove-certificate", customer.customer_id)
    assert removed.output == "bank no longer needs a client certificate\n"
    listed = json.loads(run(db, "customers", "list", "--json").output)
    assert listed["certificateRequired"] is False
    again = run(db, "customers", "remove-certificate", customer.customer_id)
    assert again.output == "bank had no client certificate on record\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pem(DER) * 2, "expected one PEM certificate (BEGIN CERTIFICATE), found 2"),
        ("just text\n", "expected one PEM certificate (BEGIN CERTIFICATE), found 0"),
        (
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "the PEM certificate is not valid base64",
        ),
        (pem(b"not der at all"), "the PEM block does not hold a DER certificate"),
    ],
    ids=["a chain", "no PEM", "bad base64", "not DER"],
)
def test_a_file_that_is_not_one_certificate_is_refused(
    db, bank, tmp_path, content, message
):
    customer, _ = bank
    path = tmp_path / "bad.pem"
    path.write_text(content)
    result = run(db, "customers", "set-certificate", customer.customer_id, str(path))
    assert result.exit_code == 1
    assert message in result.output
    listed = json.loads(run(db, "customers", "list", "--json").output)
    assert listed["certificateRequired"] is False


def test_list_shows_state_certificate_and_contract_but_no_secret(db, bank, tmp_path):
    customer, secret = bank
    add_customer(db, "Telecom", kinds=to_mask([Kind.NAME, Kind.DEATH]))
    path = tmp_path / "bank.pem"
    path.write_text(pem(DER))
    run(db, "customers", "set-certificate", customer.customer_id, str(path))
    run(db, "customers", "disable", "telecom")

    result = run(db, "customers", "list")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert rows[0] == ["customer", "state", "certificate", "kinds", "name"]
    assert rows[1][:3] == ["bank", "active", "required"]
    assert rows[2] == ["telecom", "disabled", "-", "NAME,DEATH", "Telecom"]

    as_json = [
        json.loads(line)
        for line in run(db, "customers", "list", "--json").output.splitlines()
    ]
    assert [(c["customerId"], c["disabledAt"] is not None) for c in as_json] == [
        ("bank", False),
        ("telecom", True),
    ]
    assert as_json[1]["kinds"] == ["NAME", "DEATH"]
    everything = result.output + "".join(json.dumps(c) for c in as_json)
    assert secret not in everything and "argon2" not in everything


def test_list_of_no_customers_says_how_to_add_one(db):
    result = run(db, "customers", "list")
    assert result.output == "no customers yet; add one with `regwatch customers add`\n"


@pytest.mark.parametrize(
    "command",
    [
        ["rotate-secret"],
        ["disable"],
        ["enable"],
        ["remove-certificate"],
    ],
)
def test_an_unknown_customer_id_is_a_one_line_error(db, command):
    result = run(db, "customers", *command, "nobody")
    assert result.exit_code == 1
    assert result.output == "Error: no customer has the id 'nobody'\n"


def test_set_certificate_for_an_unknown_customer_is_an_error(db, tmp_path):
    path = tmp_path / "some.pem"
    path.write_text(pem(DER))
    result = run(db, "customers", "set-certificate", "nobody", str(path))
    assert result.exit_code == 1
    assert result.output == "Error: no customer has the id 'nobody'\n"
