"""The sandbox's modules stand alone: each imports by itself (no import cycle), and the names that
tooling outside the repository imports stay where it looks for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
MODULES = sorted(f"sandbox.{path.stem}" for path in SANDBOX.glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_each_sandbox_module_imports_alone(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60,
                          cwd=SANDBOX.parent)
    assert done.returncode == 0, done.stderr


def test_the_stack_is_still_started_through_the_command_module() -> None:
    import sandbox.__main__ as command
    import sandbox.stack as stack

    assert command.start_stack is stack.start_stack
    assert command.Stack is stack.Stack
