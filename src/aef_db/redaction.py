"""Connection strings in messages: every password hidden, whatever the string's form.

A URL (``user:pw@``, ``?password=`` in any case or percent-encoding), a libpq
keyword/value string (``password=pw``, quoted or escaped), or a malformed one of
either: ``redact`` masks it, ``scrub`` cleans any message that may quote it
(libpq and psycopg errors do). Neither ever raises: a traceback would print the
very string they exist to hide.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote

from psycopg.conninfo import conninfo_to_dict

MASK = "***"
_URI = re.compile(r"\s*postgres(?:ql)?://", re.IGNORECASE)
# user:password@ up to the last "@": a malformed URL may hold "/", "?" or "#" in its password
_USERINFO = re.compile(r"\s*postgres(?:ql)?://[^:@/?#]*:(.*)@", re.IGNORECASE | re.DOTALL)
# libpq's keyword = value, the value bare (backslash escapes) or quoted (possibly never closed)
_KEYWORD = re.compile(r"(?:^|(?<=\s))password\s*=\s*('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*)", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r'"([^"]*)"')
# Outside its field a password is masked only where it stands alone (so "postgres" leaves
# "postgresql://" whole) and only from 4 characters on: masking every "a" of a message would
# destroy it, and such a password protects nothing anyway.
_MASK_ANYWHERE = 4


def _password_spans(conninfo: str) -> list[tuple[int, int]]:
    """Where passwords are written in a URL or keyword/value string, well-formed or not."""
    if not _URI.match(conninfo):
        return [m.span(1) for m in _KEYWORD.finditer(conninfo) if m.group(1)]
    spans: list[tuple[int, int]] = []
    start = 0
    if (userinfo := _USERINFO.match(conninfo)) and userinfo.group(1):
        spans.append(userinfo.span(1))
        start = userinfo.end()
    query = conninfo.find("?", start)
    if query >= 0:
        offset = query + 1
        for param in conninfo[offset:].split("&"):
            name, eq, value = param.partition("=")
            # libpq percent-decodes parameter names too; any case, for safety's sake
            if eq and value and unquote(name).strip().lower() == "password":
                spans.append((offset + len(name) + 1, offset + len(param)))
            offset += len(param) + 1
    return spans


def _passwords(conninfo: str) -> set[str]:
    """Every spelling of the passwords in ``conninfo``: as written, decoded, and as libpq reads them."""
    found: set[str] = set()
    for begin, end in _password_spans(conninfo):
        raw = conninfo[begin:end]
        found |= {raw, unquote(raw), raw.strip("'"), re.sub(r"\\(.)", r"\1", raw.strip("'"))}
    # malformed (or a NUL, or a lone surrogate): the spans above are all there is
    with contextlib.suppress(Exception):
        found.add(str(conninfo_to_dict(conninfo).get("password") or ""))
    return found - {""}


def redact(conninfo: str) -> str:
    """The connection string with its passwords replaced by ***, for messages. Never raises."""
    text = conninfo
    for begin, end in sorted(_password_spans(conninfo), reverse=True):
        text = text[:begin] + MASK + text[end:]
    return _mask(text, _passwords(conninfo))  # a password may also be the user's or database's name


def _mask(text: str, passwords: set[str]) -> str:
    for password in sorted(passwords, key=len, reverse=True):
        if len(password) >= _MASK_ANYWHERE:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(password)}(?![A-Za-z0-9])", MASK, text)
    return text


def scrub(text: str, conninfo: str | None) -> str:
    """``text`` (an error message, say) without the passwords of ``conninfo``.

    libpq and psycopg quote the conninfo, or a fragment of it, in some errors: a
    malformed URI whole, or a "port" that was really the start of a password.
    """
    if not conninfo:
        return text
    passwords = _passwords(conninfo)
    text = _mask(text.replace(conninfo, redact(conninfo)), passwords)
    return _QUOTED.sub(
        lambda m: f'"{MASK}"' if m.group(1) and any(m.group(1) in p for p in passwords) else m.group(0), text
    )
