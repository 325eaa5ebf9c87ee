"""No password of a connection string ever reaches the CLI's output, however it is written."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from aef_db.redaction import redact, scrub

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
