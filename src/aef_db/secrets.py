"""Secrets in execution data and browser sessions, sealed with AES-256-GCM before they leave the process.

A value the caller marks with ``Secret(...)``, and all of a session's ``session_data``,
is stored as a token ``aef:v1:<key id>:<base64url(nonce | ciphertext | tag)>``. The key
id in the token lets keys rotate: old keys stay readable until ``aef-db secrets rotate``
has re-sealed everything with the active one. The additional authenticated data binds
each token to its row and column, so a token copied elsewhere does not open.

Keys come from ``AEF_DB_ENCRYPTION_KEY`` (``kid:base64key[,kid:base64key...]``, the first
is active) or from the JSON keyfile named by ``AEF_DB_KEYFILE``
(``{"active": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}``). See docs/security.md.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aef_db.errors import AefDbError

PREFIX = "aef:v1:"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE = 12


class SecretsError(AefDbError):
    """A key is missing or malformed, or a token does not open."""


class Secret:
    """Marks a value to be stored encrypted. Its repr never shows the value."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a string")
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Secret", self.value))


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_length(plaintext: str) -> int:
    """Characters of the token that seals ``plaintext`` (prefix, a key id of up to 32, base64 body)."""
    body = _NONCE + len(plaintext.encode()) + 16  # nonce, ciphertext, GCM tag
    return len(PREFIX) + 32 + 1 + 4 * ((body + 2) // 3)


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded, for AEF_DB_ENCRYPTION_KEY or a keyfile."""
    return base64.b64encode(random.token_bytes(32)).decode()


class Cipher:
    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise SecretsError(f"the active key id {active!r} has no key")
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise SecretsError(f"key id {kid!r} must be 1 to 32 letters, digits, _ or -")
            if len(key) != 32:
                raise SecretsError(f"key {kid!r} is {len(key)} bytes; AES-256 needs 32")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Cipher | None:
        """The cipher configured in the environment, or None when no key is configured."""
        env = os.environ if environ is None else environ
        if spec := env.get("AEF_DB_ENCRYPTION_KEY"):
            pairs = [part.strip().split(":", 1) for part in spec.split(",") if part.strip()]
            if not pairs or any(len(p) != 2 for p in pairs):
                raise SecretsError("AEF_DB_ENCRYPTION_KEY must be kid:base64key[,kid:base64key...]")
            return cls({kid: _b64(key, kid) for kid, key in pairs}, active=pairs[0][0])
        if path := env.get("AEF_DB_KEYFILE"):
            try:
                spec_file = json.loads(Path(path).read_text())
                return cls({kid: _b64(key, kid) for kid, key in spec_file["keys"].items()}, active=spec_file["active"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise SecretsError(f"keyfile {path}: {exc}") from exc
        return None

    # -- single values -------------------------------------------------------------

    def seal(self, plaintext: str, aad: str) -> str:
        nonce = random.token_bytes(_NONCE)
        sealed = self._keys[self.active].encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{PREFIX}{self.active}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, aad: str) -> str:
        try:
            kid, body = token[len(PREFIX) :].split(":", 1)
            raw = base64.urlsafe_b64decode(body)
        except ValueError as exc:
            raise SecretsError("malformed secret token") from exc
        if kid not in self._keys:
            raise SecretsError(f"no key {kid!r} to open this secret; the keys here are {sorted(self._keys)}")
        try:
            return self._keys[kid].decrypt(raw[:_NONCE], raw[_NONCE:], aad.encode()).decode()
        except InvalidTag as exc:
            raise SecretsError("secret token does not open: wrong key, or it was moved or altered") from exc

    def key_id(self, token: str) -> str:
        return token[len(PREFIX) :].split(":", 1)[0]

    # -- JSON trees --------------------------------------------------------------------

    def seal_tree(self, value: Any, aad: str) -> Any:
        """A copy of a JSON tree with every Secret replaced by its sealed token."""
        if isinstance(value, Secret):
            return self.seal(value.value, aad)
        if isinstance(value, dict):
            return {k: self.seal_tree(v, aad) for k, v in value.items()}
        if isinstance(value, list):
            return [self.seal_tree(v, aad) for v in value]
        return value

    def open_tree(self, value: Any, aad: str) -> Any:
        if is_sealed(value):
            return self.open(value, aad)
        if isinstance(value, dict):
            return {k: self.open_tree(v, aad) for k, v in value.items()}
        if isinstance(value, list):
            return [self.open_tree(v, aad) for v in value]
        return value

    # -- session_data: sealed whole ------------------------------------------------------

    def seal_document(self, document: Any, aad: str) -> dict[str, str]:
        return {"sealed": self.seal(json.dumps(document, separators=(",", ":")), aad)}

    def open_document(self, stored: Any, aad: str) -> Any:
        if isinstance(stored, dict) and is_sealed(stored.get("sealed")):
            return json.loads(self.open(stored["sealed"], aad))
        return stored


def _b64(text: str, kid: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise SecretsError(f"key {kid!r} is not valid base64") from exc


def context_aad(execution_id: Any) -> str:
    return f"aef_executions:{execution_id}:execution_context"


def config_aad(execution_id: Any) -> str:
    return f"aef_executions:{execution_id}:config"


def session_aad(session_id: str) -> str:
    return f"aef_browser_sessions:{session_id}:session_data"
