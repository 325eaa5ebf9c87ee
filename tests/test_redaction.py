"""No password of a connection string ever reaches the CLI's output, however it is written."""

from __future__ import annotations

import subprocess

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from aef_db.cli import handle_errors
from aef_db.redaction import redact, scrub

from .conftest import Database

# (connection string, its password, what redact() should make of it); every password
# here is one today's urlsplit-based redact() left in clear, or crashed on
FORMS = {
    "userinfo with /": (
        "postgresql://u:Pw/leak7f3a@127.0.0.1:1/db",
        "Pw/leak7f3a",
        "postgresql://u:***@127.0.0.1:1/db",
    ),
    "userinfo with # and ?": (
        "postgres://u:Pw#le?ak7f3a@127.0.0.1:1/db",
        "Pw#le?ak7f3a",
        "postgres://u:***@127.0.0.1:1/db",
    ),
    "query": (
        "postgresql://u@127.0.0.1:1/db?password=Pwleak7f3a&connect_timeout=2",
        "Pwleak7f3a",
        "postgresql://u@127.0.0.1:1/db?password=***&connect_timeout=2",
    ),
    "query, any case": (
        "postgresql://u@127.0.0.1:1/db?PassWord=Pwleak7f3a",
        "Pwleak7f3a",
        "postgresql://u@127.0.0.1:1/db?PassWord=***",
    ),
    "query, encoded name": (
        "postgresql://u@127.0.0.1:1/db?pass%77ord=Pwleak7f3a",
        "Pwleak7f3a",
        "postgresql://u@127.0.0.1:1/db?pass%77ord=***",
    ),
    "keyword/value": (
        "host=127.0.0.1 port=1 password=Pwleak7f3a dbname=db",
        "Pwleak7f3a",
        "host=127.0.0.1 port=1 password=*** dbname=db",
    ),
    "keyword/value, quoted": (
        "host=127.0.0.1 port=1 password='Pw leak 7f3a' dbname=db",
        "Pw leak 7f3a",
        "host=127.0.0.1 port=1 password=*** dbname=db",
    ),
    "keyword/value, spaced and escaped": (
        "host=127.0.0.1 port=1 password = Pw\\ leak7f3a",
        "Pw\\ leak7f3a",
        "host=127.0.0.1 port=1 password = ***",
    ),
    "malformed URL": ("postgresql://u:Pwleak7f3a@[::1/x", "Pwleak7f3a", "postgresql://u:***@[::1/x"),
    "unterminated quote": (
        "host=127.0.0.1 port=1 password='Pw leak7f3a",
        "Pw leak7f3a",
        "host=127.0.0.1 port=1 password=***",
    ),
}


@pytest.mark.parametrize(("conninfo", "password", "redacted"), FORMS.values(), ids=FORMS.keys())
def test_redact_hides_the_password_and_keeps_the_rest(conninfo: str, password: str, redacted: str) -> None:
    assert redact(conninfo) == redacted
    assert password not in redact(conninfo)


def test_redact_leaves_strings_without_a_password_alone() -> None:
    for conninfo in (
        "postgresql://u@127.0.0.1:1/db?sslmode=disable",
        "host=h port=5 dbname=d",
        "",
        "postgresql://",
        "postgresql://u@[::1/x",
    ):
        assert redact(conninfo) == conninfo


@given(st.text())
def test_redact_and_scrub_never_raise(text: str) -> None:
    redact(text)
    scrub(text, text)
    redact("postgresql://u:" + text)
    redact("password=" + text)


def test_scrub_removes_the_password_from_psycopg_errors_that_quote_the_conninfo() -> None:
    conninfo = "postgresql://u:Pwleak7f3a@[::1/x"
    with pytest.raises(psycopg.ProgrammingError) as excinfo:
        conninfo_to_dict(conninfo)
    assert "Pwleak7f3a" in str(excinfo.value)  # libpq quotes the whole URI
    assert "Pwleak7f3a" not in scrub(str(excinfo.value), conninfo)
    assert "postgresql://u:***@[::1/x" in scrub(str(excinfo.value), conninfo)
    # libpq reads "u:Pw/..." as host and port and quotes the "port": a fragment of the password
    assert scrub('invalid integer value "Pw" for connection option "port"', FORMS["userinfo with /"][0]) == (
        'invalid integer value "***" for connection option "port"'
    )


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
