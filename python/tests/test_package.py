"""The package itself: import without numpy, the stub, docstrings."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import persisting

PACKAGE = Path(persisting.__file__).parent


def test_import_and_vectors_without_numpy():
    """numpy is optional: without it the package imports and vectors come back as lists."""
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import persisting\n"
        "s = persisting.open()\n"
        "q = persisting.Queue(s, 't').sync()\n"
        "q.put({'id': 1, 'v': [1.5]})\n"
        "print(q.get())\n"
        "s.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[{'id': 1, 'v': [1.5]}]"


def test_the_stub_names_every_public_name():
    stub = ast.parse((PACKAGE / "__init__.pyi").read_text())
    defined = set()
    for node in stub.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            defined.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(t.id for t in targets if isinstance(t, ast.Name))
    assert set(persisting.__all__) <= defined
    assert (PACKAGE / "py.typed").exists()


def test_everything_public_has_a_docstring():
    missing = []
    for name in persisting.__all__:
        obj = getattr(persisting, name)
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__.startswith("persisting"):
            for attr, member in vars(obj).items():
                public = not attr.startswith("_")
                if not public or not (callable(member) or isinstance(member, property)):
                    continue
                if not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    assert missing == []
