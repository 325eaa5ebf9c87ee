"""The synchronous store is typed through and through: mypy --strict accepts a script on
SyncStore, and rejects the mistakes it should (so this check can fail)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # mypy --strict takes seconds, even with a warm cache

HERE = Path(__file__).resolve().parents[1] / "typecheck"
MARK = re.compile(r"# error: ([\w-]+)$")

Mypy = Callable[[Path], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def mypy(tmp_path_factory: pytest.TempPathFactory) -> Mypy:
    """mypy --strict on one script, with a cache shared by this module's tests."""
    cache = tmp_path_factory.mktemp("mypy-cache")

    def check(script: Path) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(cache),
            str(script),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=240)

    return check


def test_mypy_strict_accepts_a_script_on_the_sync_store(mypy: Mypy) -> None:
    result = mypy(HERE / "sync_example.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_rejects_misuse_of_the_sync_store(mypy: Mypy) -> None:
    script = HERE / "sync_mistakes.py"
    expected = set()
    for number, line in enumerate(script.read_text().splitlines(), 1):
        if mark := MARK.search(line):
            expected.add((number, mark.group(1)))
    result = mypy(script)
    reported = {
        (int(number), code)
        for number, code in re.findall(rf"{re.escape(script.name)}:(\d+): error: .*\[([\w-]+)\]$", result.stdout, re.M)
    }
    assert len(expected) >= 5  # the marks are read
    assert result.returncode == 1, result.stdout + result.stderr
    assert reported == expected, result.stdout + result.stderr
