"""The command line, as an operator uses it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from regwatch.cli import main


def run(env, *args):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_an_operator_session_from_init_to_publish(databases):
    env = {"REGWATCH_DATABASE_URL": databases.empty()}

    assert (
        "simulated clock" in run(env, "init", "--simulated-clock", "2026-11-02").output
    )
    assert "already initialised" in run(env, "init").output
    assert (
        run(env, "register", "generate", "--persons", "500", "--seed", "3").exit_code
        == 0
    )
    added = run(
        env,
        "customers",
        "add",
        "Acme Bank",
        "--kinds",
        "NAME,DEATH",
        "--company-code",
        "123456789",
        "--json",
    )
    customer = json.loads(added.output)
    assert customer["customerId"] == "acme-bank"
    assert customer["kinds"] == ["NAME", "DEATH"]
    assert len(customer["secret"]) >= 24

    simulated = run(env, "register", "simulate", "--days", "2", "--seed", "3")
    assert "2026-11-04T00:00:00+02:00" in simulated.output
    published = run(env, "days", "publish").output
    assert published.count("published 2026-11-0") == 2
    assert run(env, "days", "publish").output.strip() == "nothing to publish"

    lines = run(env, "register", "export", "--limit", "5").output.splitlines()
    assert len(lines) == 5
    assert {"personalCode", "name", "declaredResidence", "family"} <= set(
        json.loads(lines[0])
    )


def test_bad_input_gets_a_clear_message(databases):
    env = {"REGWATCH_DATABASE_URL": databases.empty()}
    run(env, "init")
    result = CliRunner().invoke(
        main, ["customers", "add", "X", "--kinds", "NAMES"], env=env
    )
    assert result.exit_code != 0
    assert "unknown kind NAMES" in result.output
    result = CliRunner().invoke(
        main, ["init", "--simulated-clock", "yesterday"], env=env
    )
    assert result.exit_code != 0
    assert "give a date" in result.output


def test_a_missing_sqlite_file_is_a_one_line_error(tmp_path):
    missing = {"REGWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'nothing.db'}"}
    result = CliRunner().invoke(main, ["days", "publish"], env=missing)
    assert result.exit_code == 1
    assert "run `regwatch init` first" in result.output
    assert not (tmp_path / "nothing.db").exists()

    nowhere = {"REGWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'x.db'}"}
    result = CliRunner().invoke(main, ["init"], env=nowhere)
    assert "unable to open database file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_bad_setting_is_named(tmp_path):
    env = {
        "REGWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "REGWATCH_RETENTION_DAYS": "-1",
    }
    result = CliRunner().invoke(main, ["init"], env=env)
    assert "REGWATCH_RETENTION_DAYS=-1 is below the minimum of 1" in result.output
