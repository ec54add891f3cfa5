"""Traces hold no secrets: X-Ray keeps what a tracer captures, so no handler or method hands it its
response (session cookies, login and Replay links, card financials) or its error (messages may quote them)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from sandbox.gateway import REPO_ROOT, read_template

TRACER_DECORATORS = {"capture_lambda_handler", "capture_method"}


def traced_sources() -> list[Path]:
    layer = REPO_ROOT / "layers" / "core" / "hubnox"
    return sorted([*(REPO_ROOT / "functions").glob("*/app.py"), *layer.rglob("*.py")])


def tracer_decorators(path: Path) -> Iterator[tuple[str, ast.expr]]:
    """(where, decorator) for every `@tracer.capture_...` in the file, called or bare."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and target.attr in TRACER_DECORATORS:
                    yield f"{path.relative_to(REPO_ROOT)}:{node.name}", decorator


def keyword_false(decorator: ast.expr, name: str) -> bool:
    if not isinstance(decorator, ast.Call):
        return False
    values = {k.arg: k.value for k in decorator.keywords}
    return isinstance(values.get(name), ast.Constant) and values[name].value is False


def test_every_function_runs_with_response_and_error_capture_off():
    variables = read_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


def test_every_traced_handler_and_method_captures_neither_its_response_nor_its_error():
    found = [found for path in traced_sources() for found in tracer_decorators(path)]
    # Every function's handler is traced: by a decorator of its own, or through hubnox.entry.http_handler.
    for app in sorted((REPO_ROOT / "functions").glob("*/app.py")):
        source = app.read_text(encoding="utf-8")
        assert "http_handler(app)" in source or any(tracer_decorators(app)), f"{app} is not traced"
    leaky = [where for where, decorator in found
             if not (keyword_false(decorator, "capture_response") and keyword_false(decorator, "capture_error"))]
    assert leaky == []
