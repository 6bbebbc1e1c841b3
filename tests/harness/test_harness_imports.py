"""The harness runs in a bare image: it may import only the standard library,
numpy, pillow, mlperf_loadgen and -- in its own backend module only -- the
framework."""

import ast
import subprocess
import sys
from pathlib import Path

from harness_test_support import HARNESS, harness_env

FORBIDDEN = ("typer", "docker", "pydantic", "yaml", "rich", "jinja2", "launcher", "onnx")
ALLOWED = {"numpy", "PIL", "mlperf_loadgen", "mlperf_harness"}
FRAMEWORKS = {
    "onnxruntime_backend.py": {"onnxruntime"},
    "pytorch_backend.py": {"torch"},
    "tf_backend.py": {"tensorflow"},
    "tflite_backend.py": {"ai_edge_litert", "tflite_runtime", "tensorflow"},
}

# Everything but the framework backends (whose frameworks pull in their own
# dependencies, e.g. tensorflow -> keras -> rich); onnxruntime stands for them.
_PROBE = """
import importlib, pkgutil, sys
import mlperf_harness
for mod in pkgutil.walk_packages(mlperf_harness.__path__, "mlperf_harness."):
    if mod.name.endswith("_backend") and not mod.name.endswith("onnxruntime_backend"):
        continue
    importlib.import_module(mod.name)
print(" ".join(sorted(m.split(".")[0] for m in sys.modules)))
"""


def test_no_host_only_imports():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=harness_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
    assert not loaded & {"torch", "tensorflow", "ai_edge_litert"}


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_every_module_imports_only_what_an_image_has():
    stdlib = set(sys.stdlib_module_names)
    files = sorted((HARNESS / "mlperf_harness").rglob("*.py"))
    assert len(files) > 20
    for path in files:
        allowed = ALLOWED | stdlib | FRAMEWORKS.get(path.name, set())
        bad = set(_imports(path)) - allowed
        assert not bad, f"{path.relative_to(HARNESS)} imports {sorted(bad)}"
