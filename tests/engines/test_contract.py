"""The engine contract speaks engine terms: nothing under realtime/engines knows the wire or HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import realtime.engines

ENGINES = Path(realtime.engines.__file__).parent
EDGES = ("realtime.protocol", "realtime.http", "realtime.session", "realtime.server")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_engine_module_imports_the_protocol_or_http_layers() -> None:
    sources = sorted(ENGINES.rglob("*.py"))
    assert len(sources) > 10  # the scan really walks the package
    offenders = {
        f"{path.relative_to(ENGINES)}: {module}"
        for path in sources
        for module in _imported_modules(path)
        if module.startswith(EDGES)
    }
    assert offenders == set()
