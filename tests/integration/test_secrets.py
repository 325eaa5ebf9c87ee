"""Secrets: AES-256-GCM with key ids, rotation through the database's guard, and no
plaintext anywhere in a pg_dump."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from aef_db.cli import main
from aef_db.cluster import find_pg_bin
from aef_db.rotation import rotate
from aef_db.secrets import Cipher, Secret, SecretsError, config_aad, context_aad, generate_key, session_aad
from aef_db.store import Store

from .. import factories as f
from ..conftest import Database
from ..factories import OWNER
from ..store_helpers import CIPHER, KEY, run

NEW_KEY = bytes(range(32, 64))


def test_tokens_carry_their_key_id_and_are_bound_to_their_row() -> None:
    token = CIPHER.seal("hunter2", "aef_executions:1:execution_context")
    assert token.startswith("aef:v1:k1:") and "hunter2" not in token
    assert CIPHER.open(token, "aef_executions:1:execution_context") == "hunter2"
    with pytest.raises(SecretsError, match="moved or altered"):
        CIPHER.open(token, "aef_executions:2:execution_context")  # copied to another row
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretsError):
        CIPHER.open(tampered, "aef_executions:1:execution_context")
    with pytest.raises(SecretsError, match="no key 'k1'"):
        Cipher({"k2": NEW_KEY}, active="k2").open(token, "aef_executions:1:execution_context")
    assert repr(Secret("hunter2")) == "Secret('***')"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AEF_DB_ENCRYPTION_KEY": "nokid"}, "kid:base64key"),
        ({"AEF_DB_ENCRYPTION_KEY": "k1:not base64!"}, "not valid base64"),
        ({"AEF_DB_ENCRYPTION_KEY": "k1:" + base64.b64encode(b"short").decode()}, "AES-256 needs 32"),
        ({"AEF_DB_ENCRYPTION_KEY": "bad id:" + generate_key()}, "key id"),
        ({"AEF_DB_KEYFILE": "/nonexistent/keys.json"}, "keyfile"),
    ],
)
def test_bad_key_configuration_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(SecretsError, match=message):
        Cipher.from_env(env)


def test_keys_from_the_environment_and_a_keyfile(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert Cipher.from_env({}) is None
    env_cipher = Cipher.from_env(
        {"AEF_DB_ENCRYPTION_KEY": f"k2:{base64.b64encode(NEW_KEY).decode()},k1:{base64.b64encode(KEY).decode()}"}
    )
    assert env_cipher is not None and env_cipher.active == "k2"
    assert env_cipher.open(CIPHER.seal("x", "a"), "a") == "x"  # old key still opens
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(json.dumps({"active": "k1", "keys": {"k1": base64.b64encode(KEY).decode()}}))
    file_cipher = Cipher.from_env({"AEF_DB_KEYFILE": str(keyfile)})
    assert file_cipher is not None and file_cipher.open(CIPHER.seal("y", "b"), "b") == "y"


def test_logs_refuse_secrets(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store) -> None:
        with pytest.raises(SecretsError, match="does not belong in the audit log"):
            await store.logs.append(execution_id, "user_input", data={"password": Secret("pw")})

    run(migrated, body)
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 0


def _execution_with_credentials(db: Database) -> tuple:  # type: ignore[type-arg]
    sop = f.sop(db)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        execution = await store.executions.start(
            sop,
            OWNER,
            config={"api_key": Secret("sk-live-4242")},
            execution_context={"login": {"user": "ann", "password": Secret("correct-horse-battery")}},
        )
        await store.executions.run(execution.id)
        session = await store.sessions.lease(execution.id, OWNER, holder="w1")
        await store.sessions.set_data(session.id, {"cookies": [{"name": "sid", "value": "s3ss10n-c00k13"}]})
        await store.logs.append(execution.id, "browser_action", data={"action": "login", "user": "ann"})
        await store.executions.complete(execution.id)
        await store.sessions.release(session.id, execution.id)  # isolated: terminated
        return execution.id, session.id

    return run(db, body)


PLAINTEXTS = ("sk-live-4242", "correct-horse-battery", "s3ss10n-c00k13")


def test_no_secret_is_in_a_pg_dump(migrated: Database) -> None:
    _execution_with_credentials(migrated)
    dump = subprocess.run(
        [str(find_pg_bin() / "pg_dump"), "--data-only", "-d", migrated.superuser_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "aef:v1:k1:" in dump
    for plaintext in PLAINTEXTS:
        assert plaintext not in dump


def test_rotation_reseals_final_rows_and_retires_the_old_key(migrated: Database) -> None:
    execution_id, session_id = _execution_with_credentials(migrated)
    rotated = Cipher({"k1": KEY, "k2": NEW_KEY}, active="k2")
    report = rotate(migrated.url, rotated)
    assert (report.executions, report.sessions, report.tokens) == (1, 1, 3)
    assert rotate(migrated.url, rotated).tokens == 0  # nothing left under k1
    only_new = Cipher({"k2": NEW_KEY}, active="k2")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        return await store.executions.get(execution_id), await store.sessions.get(session_id)

    execution, session = run(migrated, body, cipher=only_new)
    assert execution.execution_context["login"]["password"] == "correct-horse-battery"
    assert execution.config["api_key"] == "sk-live-4242" and execution.status.value == "completed"
    assert session.session_data == {"cookies": [{"name": "sid", "value": "s3ss10n-c00k13"}]}


def test_a_final_row_accepts_a_reseal_and_nothing_else(migrated: Database) -> None:
    execution_id, _ = _execution_with_credentials(migrated)
    with pytest.raises(Exception) as excinfo, migrated.connect() as conn:
        conn.execute(
            'update public.aef_executions set execution_context = execution_context || \'{"login": {"user": "eve"}}\''
            " where id = %s",
            (execution_id,),
        )
    assert getattr(excinfo.value, "sqlstate", None) == "AE001"


def test_cli_generates_keys_and_rotates(migrated: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _execution_with_credentials(migrated)
    generated = CliRunner().invoke(main, ["secrets", "generate-key", "--key-id", "k2"])
    assert generated.exit_code == 0 and generated.output.startswith("k2:")
    monkeypatch.setenv("AEF_DB_ENCRYPTION_KEY", f"{generated.output.strip()},k1:{base64.b64encode(KEY).decode()}")
    result = CliRunner().invoke(main, ["secrets", "rotate", "--database-url", migrated.url])
    assert result.exit_code == 0, result.output
    assert "re-sealed 3 secret(s) in 1 execution(s) and 1 session(s) under key k2" in result.output
    monkeypatch.delenv("AEF_DB_ENCRYPTION_KEY")
    assert CliRunner().invoke(main, ["secrets", "rotate", "--database-url", migrated.url]).exit_code == 2


def test_sealed_length_is_exact_for_the_active_key_id() -> None:
    from aef_db.secrets import sealed_length

    for plaintext in ("", "x", "hunter2", "é" * 40, "y" * 1000):
        token = CIPHER.seal(plaintext, "aad")
        assert sealed_length(plaintext) == len(token) - len("k1") + 32  # the estimate assumes a 32-character key id


ROTATED = Cipher({"k1": KEY, "k2": NEW_KEY}, active="k2")
STRANGER = Cipher({"k9": bytes(range(64, 96))}, active="k9")  # a key this keyring has never held


def _sealed_rows(db: Database) -> dict[str, dict]:  # type: ignore[type-arg]
    """id -> the sealed columns of every execution and session, as stored."""
    with db.connect() as conn:
        rows = conn.execute("select id::text, execution_context, config from public.aef_executions").fetchall()
        rows += conn.execute("select id, session_data from public.aef_browser_sessions").fetchall()
    return {row.pop("id"): row for row in rows}


def test_rotation_skips_and_reports_executions_whose_tokens_do_not_open(migrated: Database) -> None:
    good, bad = f.execution(migrated, status="running"), f.execution(migrated, status="running")
    with migrated.connect() as conn:  # as postgres, the table owner
        conn.execute(
            "update public.aef_executions set execution_context = %s, config = %s where id = %s",
            (Jsonb({"login": {"password": CIPHER.seal("correct-horse", context_aad(good))}}), Jsonb({}), good),
        )
        conn.execute(
            "update public.aef_executions set execution_context = %s, config = %s where id = %s",
            (
                Jsonb(
                    {
                        "login": {
                            "password": CIPHER.seal("still-good", context_aad(bad))
                        },  # opens, but its row is skipped
                        "otp": ["x", "aef:v1:k1:garbage"],
                        "api": {"key": STRANGER.seal("sk-k9", context_aad(bad))},
                    }
                ),
                Jsonb({"copied": CIPHER.seal("moved", config_aad(good))}),
                bad,
            ),
        )
    before = _sealed_rows(migrated)

    report = rotate(migrated.url, ROTATED)

    assert (report.executions, report.sessions, report.tokens) == (1, 0, 1)
    assert report.skipped_ids == [str(bad)]
    assert {(s.table, s.path, s.reason.split(" (")[0]) for s in report.skipped} == {
        ("aef_executions", "execution_context.otp[1]", "malformed token"),
        ("aef_executions", "execution_context.api.key", "unknown key id 'k9'"),
        ("aef_executions", "config.copied", "authentication failed"),
    }
    after = _sealed_rows(migrated)
    assert after[str(bad)] == before[str(bad)]  # untouched: not even its good token moved to k2
    token = after[str(good)]["execution_context"]["login"]["password"]
    assert token.startswith("aef:v1:k2:")
    assert Cipher({"k2": NEW_KEY}, active="k2").open(token, context_aad(good)) == "correct-horse"


def test_rotation_skips_and_reports_sessions_whose_data_does_not_open(migrated: Database) -> None:
    f.session(migrated, id="bs_good", session_data={"sealed": CIPHER.seal('{"cookies": []}', session_aad("bs_good"))})
    f.session(migrated, id="bs_bad", session_data={"sealed": STRANGER.seal('{"cookies": []}', session_aad("bs_bad"))})
    before = _sealed_rows(migrated)

    report = rotate(migrated.url, ROTATED)

    assert (report.executions, report.sessions, report.tokens) == (0, 1, 1)
    assert [(s.table, s.id, s.path, s.reason) for s in report.skipped] == [
        ("aef_browser_sessions", "bs_bad", "session_data.sealed", "unknown key id 'k9'")
    ]
    after = _sealed_rows(migrated)
    assert after["bs_bad"] == before["bs_bad"]
    assert ROTATED.open_document(after["bs_good"]["session_data"], session_aad("bs_good")) == {"cookies": []}
    assert ROTATED.key_id(after["bs_good"]["session_data"]["sealed"]) == "k2"


def test_cli_rotate_lists_skipped_rows_and_exits_1(migrated: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id, session_id = _execution_with_credentials(migrated)  # a completed execution, an ended session
    with migrated.connect() as conn:
        conn.execute(
            'update public.aef_browser_sessions set session_data = \'{"sealed": "aef:v1:k1:garbage"}\' where id = %s',
            (session_id,),
        )
    keys = f"k2:{base64.b64encode(NEW_KEY).decode()},k1:{base64.b64encode(KEY).decode()}"
    monkeypatch.setenv("AEF_DB_ENCRYPTION_KEY", keys)
    result = CliRunner().invoke(main, ["secrets", "rotate", "--database-url", migrated.url], terminal_width=400)
    assert result.exit_code == 1, result.output
    assert "re-sealed 2 secret(s) in 1 execution(s) and 0 session(s) under key k2" in result.output
    assert f"skipped session {session_id}: session_data.sealed: malformed token" in result.output
    assert "1 row(s) left untouched" in result.output and "Traceback" not in result.output
    assert str(execution_id) not in result.output
