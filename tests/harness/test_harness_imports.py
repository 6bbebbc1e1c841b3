"""The harness runs in a bare image: it may import only the standard library,
numpy, pillow, pyyaml, mlperf_loadgen, -- in its own backend module only -- the
framework, and -- in its model folder only, when used -- a model's own packages
(images.yaml models.<name>.requirements, installed in that model's layer only). The stand-in generators (models/*/standin*.py, standin_cli.py) run on
the host only: nothing else imports them."""

import ast
import sys
from pathlib import Path

from harness_test_support import HARNESS, run_python

FORBIDDEN = ("typer", "docker", "pydantic", "rich", "jinja2", "launcher", "onnx")
ALLOWED = {"numpy", "PIL", "yaml", "mlperf_loadgen", "mlperf_harness"}
FRAMEWORKS = {
    "onnxruntime_backend.py": {"onnxruntime"},
    "pytorch_backend.py": {"torch"},
    "ray_backend.py": {"ray"},  # its actors import pytorch_backend
    "tf_backend.py": {"tensorflow"},
    "tflite_backend.py": {"ai_edge_litert", "tflite_runtime", "tensorflow"},
    "ncnn_backend.py": {"ncnn"},
    "deepsparse_backend.py": {"deepsparse", "onnx"},  # onnx: a deepsparse dependency, for the signature
    "tvm_backend.py": {"tvm"},
    # TVM's frontends, imported by the compile step for the framework being compiled
    "tvm_compile.py": {"tvm", "tvm_ffi", "onnx", "torch", "tflite"},
    # the reference architectures for pytorch state_dicts (imported by pytorch_backend.py only)
    "weights_pytorch.py": {"torch", "transformers"},
    # the float16 ONNX conversion, run where onnxconverter-common is installed (never at run time)
    "convert_fp16.py": {"onnx", "onnxconverter_common"},
    # the generative models' Hugging Face checkpoints (imported when an LLM test starts)
    "generation.py": {"torch", "transformers"},
}
MODEL_PACKAGES = {
    "models/retinanet/accuracy.py": {"pycocotools"},
    "models/unet3d/__init__.py": {"scipy"},
    "models/dlrm_v2/accuracy.py": {"sklearn"},
    "llm/rouge.py": {"rouge_score", "nltk"},
    "models/llama2_70b/dataset.py": {"pandas"},
    # sdxl: the pipeline's tokenizers, the diffusers pipeline, the CLIP/FID encoders (imported when a test starts)
    "models/sdxl/dataset.py": {"torch", "transformers"},
    "models/sdxl/pipeline.py": {"torch", "diffusers"},
    "models/sdxl/metrics.py": {"torch", "transformers", "scipy"},
}

# Everything but the framework backends (whose frameworks pull in their own
# dependencies, e.g. tensorflow -> keras -> rich); onnxruntime stands for them.
_PROBE = """
import importlib, pkgutil, sys
import mlperf_harness
for mod in pkgutil.walk_packages(mlperf_harness.__path__, "mlperf_harness."):
    if mod.name.endswith(("_backend", "weights_pytorch")) and not mod.name.endswith("onnxruntime_backend"):
        continue
    if mod.name.rpartition(".")[2].startswith("standin"):
        continue  # host-only generators
    importlib.import_module(mod.name)
print(" ".join(sorted(m.split(".")[0] for m in sys.modules)))
print(" ".join(m for m in sys.modules if m.rpartition(".")[2].startswith("standin")))
"""


def test_no_host_only_imports():
    proc = run_python(["-c", _PROBE])
    assert proc.returncode == 0, proc.stderr
    modules, standins = (proc.stdout + "\n").split("\n")[:2]
    assert not standins.split(), standins  # the generators are never imported at run time
    loaded = set(modules.split())
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
    assert not loaded & {"torch", "tensorflow", "ai_edge_litert"}
    assert not loaded & {"pycocotools", "scipy", "sklearn", "rouge_score", "nltk", "pandas",
                         "transformers"}  # a model's own packages: imported when used


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
        if path.name.startswith("standin"):
            continue  # host-only generators (numpy, pillow, onnx; frameworks lazily)
        relative = path.relative_to(HARNESS / "mlperf_harness").as_posix()
        allowed = (ALLOWED | stdlib | FRAMEWORKS.get(path.name, set())
                   | MODEL_PACKAGES.get(relative, set()))
        bad = set(_imports(path)) - allowed
        assert not bad, f"{path.relative_to(HARNESS)} imports {sorted(bad)}"
