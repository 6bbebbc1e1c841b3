"""The harness runs in a bare image: it may import only the standard library,
numpy, pillow, mlperf_loadgen and the framework."""

import subprocess
import sys

from harness_test_support import harness_env

FORBIDDEN = ("typer", "docker", "pydantic", "yaml", "rich", "jinja2", "launcher", "onnx")

_PROBE = """
import importlib, pkgutil, sys
import mlperf_harness
for mod in pkgutil.walk_packages(mlperf_harness.__path__, "mlperf_harness."):
    importlib.import_module(mod.name)
print(" ".join(sorted(m.split(".")[0] for m in sys.modules)))
"""


def test_no_host_only_imports():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=harness_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
