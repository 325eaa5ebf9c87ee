"""What the CLI prints when a connection fails: never a password, never a traceback."""

from __future__ import annotations

import subprocess

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from aef_db.cli import handle_errors

from ..conftest import Database
from ..unit.test_redaction import FORMS

pytestmark = pytest.mark.slow  # a CLI subprocess per URL form


def _run(aef_cli: list[str], env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # wide lines: rich must not wrap a leaked password over two lines, which would hide it from the assertions
    return subprocess.run([*aef_cli, *args], env=env | {"COLUMNS": "400"}, capture_output=True, text=True, timeout=60)


def _assert_clean(result: subprocess.CompletedProcess[str], password: str) -> None:
    output = result.stdout + result.stderr
    assert password not in output, output
    assert "Traceback" not in output, output


@pytest.mark.parametrize(("conninfo", "password", "redacted"), FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("source", ["option", "DATABASE_URL"])
def test_cli_connection_errors_never_show_the_password(
    aef_cli: list[str], cli_env: dict[str, str], source: str, conninfo: str, password: str, redacted: str
) -> None:
    if source == "option":
        result = _run(aef_cli, cli_env, "migrate", "status", "--database-url", conninfo)
    else:
        result = _run(aef_cli, cli_env | {"DATABASE_URL": conninfo}, "migrate", "status")
    _assert_clean(result, password)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot connect to {redacted}: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("conninfo", "password", "redacted"), FORMS.values(), ids=FORMS.keys())
def test_doctor_and_audit_verify_never_show_the_password(
    aef_cli: list[str], cli_env: dict[str, str], conninfo: str, password: str, redacted: str
) -> None:
    doctor = _run(aef_cli, cli_env, "doctor", "--json", "--database-url", conninfo)
    _assert_clean(doctor, password)
    assert doctor.returncode == 1 and f"cannot connect to {redacted}" in doctor.stdout
    verify = _run(aef_cli, cli_env, "audit", "verify", "--database-url", conninfo)
    _assert_clean(verify, password)
    assert verify.returncode == 2  # could not check


def test_status_output_of_a_keyword_value_conninfo_hides_the_password(
    database: Database, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    params = conninfo_to_dict(database.superuser_url)
    conninfo = make_conninfo(**params)  # host=... password=... : the keyword/value form
    result = _run(aef_cli, cli_env, "compat", "install", "--database-url", conninfo)
    assert result.returncode == 0, result.stderr
    _assert_clean(result, params["password"])
    assert "password=***" in result.stderr


def test_connection_level_psycopg_errors_are_one_scrubbed_line(capsys: pytest.CaptureFixture[str]) -> None:
    conninfo = "host=127.0.0.1 port=1 password=Pwleak7f3a"

    @handle_errors
    def command(database_url: str) -> None:
        raise psycopg.OperationalError(f'server closed the connection: "{database_url}"')

    with pytest.raises(SystemExit) as exited:
        command(database_url=conninfo)
    assert exited.value.code == 1
    assert (
        capsys.readouterr().err.strip() == 'error: server closed the connection: "host=127.0.0.1 port=1 password=***"'
    )
