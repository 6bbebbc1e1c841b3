"""Apache TVM backends (tvm-onnx, tvm-pytorch, tvm-tflite): run a model compiled by
backends/tvm_compile.py with the Relax VM on the CPU.

The image compiles its baked model at build time (COMPILED_DIR: model.so + compiled.json, the
source's sha256 tying the two); a model file without that compiled twin (``--model``, host tests)
is compiled when the backend loads it, for $MLPERF_TVM_TARGET (default ``llvm``; the image sets its
build target), and kept for the run's other LoadGen tests. Before loading,
the CPU features the compiled target needs (LLVM's names, recorded at compile time) are checked
against /proc/cpuinfo: a missing one is refused with the reason instead of an illegal-instruction
crash. The VM is not thread-safe, so calls are serialised (as the tflite backend's).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import List, Optional, Set

import numpy as np

from mlperf_harness.backends import tvm_compile
from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import first_line, match_names
from mlperf_harness.backends.tvm_target import cpuinfo_flag, host_flags, missing_features  # noqa: F401
from mlperf_harness.contract import COMPILED_DIR
from mlperf_harness.errors import HarnessError

try:
    import tvm
    from tvm import relax
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"tvm: {_exc}") from _exc

def check_cpu(meta: dict, flags: Optional[Set[str]] = None) -> None:
    missing = missing_features(meta.get("features", []), host_flags() if flags is None else flags)
    if missing:
        raise HarnessError(
            f"the model was compiled by TVM for target {meta.get('target')!r}, which needs CPU features "
            f"this CPU lacks ({', '.join(missing)}; /proc/cpuinfo): rebuild the image for this CPU "
            f"(--tvm-target or images.yaml frameworks.{meta.get('framework')}.compile_target, e.g. llvm)")


class TVMBackend(Backend):
    name = "tvm"
    devices = ("cpu",)
    threads_label = "threads"

    def load(self) -> None:
        self.compiled_here = False
        compiled = Path(os.environ.get("MLPERF_TVM_COMPILED", COMPILED_DIR))
        meta = self._meta(compiled)
        digest = tvm_compile.sha256_file(Path(self.model_path))
        if meta is None or meta.get("source_sha256") != digest:
            target = os.environ.get("MLPERF_TVM_TARGET", tvm_compile.DEFAULT_TARGET)
            compiled = self._compile_once(digest, target)
            self.compiled_here = True
            meta = self._meta(compiled)
        self.meta = meta
        check_cpu(meta)
        if self.threads:
            os.environ["TVM_NUM_THREADS"] = str(self.threads)  # read when TVM's pool first starts
        try:
            self.vm = relax.VirtualMachine(tvm_compile.load_executable(compiled), tvm.cpu())
        except Exception as exc:
            raise HarnessError(f"TVM cannot load the model compiled in {compiled}: {first_line(exc)}") from None
        names = match_names(self.wanted_inputs, meta["inputs"], "input(s)", self.model_path)
        if len(names) != len(meta["inputs"]):
            raise HarnessError(f"{self.model_path}: the model has inputs {meta['inputs']}, "
                               f"the harness feeds {self.wanted_inputs}")
        wanted = match_names(self.wanted_outputs, meta["outputs"], "output(s)", self.model_path)
        self.output_index = [meta["outputs"].index(n) for n in wanted]
        self.max_batch = None if meta["dynamic_batch"] else 1
        self._lock = threading.Lock()

    def _compile_once(self, digest: str, target: str) -> Path:
        """The model compiled for ``target``, once per run: each LoadGen test loads the backend in its
        own process, so the result is kept in a folder of the temporary directory keyed by
        framework, model sha256, target and TVM version (made under another name, then renamed)."""
        key = hashlib.sha256(json.dumps([self.name, digest, target, tvm.__version__]).encode()).hexdigest()
        folder = Path(tempfile.gettempdir()) / f"mlperf-tvm-{os.getuid()}" / key[:24]
        if self._meta(folder) is not None:
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        try:
            tvm_compile.compile_model(self.name, Path(self.model_path), partial, target)
            partial.rename(folder)
        except OSError:  # another process finished first
            shutil.rmtree(partial, ignore_errors=True)
            if self._meta(folder) is None:
                raise
        except Exception as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise HarnessError(f"TVM cannot compile {self.model_path} for {target}: "
                               f"{first_line(exc)}") from None
        return folder

    @staticmethod
    def _meta(folder: Path) -> Optional[dict]:
        try:
            return json.loads((folder / tvm_compile.META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def runtime(self) -> str:
        where = "compiled at load" if self.compiled_here else "compiled at image build"
        return (f"tvm {tvm.__version__} ({self.meta['framework']} frontend), Relax VM on cpu, "
                f"target {self.meta['target']} ({where})")

    def infer(self, arrays) -> List[np.ndarray]:
        with self._lock:
            result = self.vm["main"](*(tvm.runtime.tensor(np.ascontiguousarray(a))
                                       for a in arrays))
            outputs = list(result) if not hasattr(result, "numpy") else [result]
            return [outputs[i].numpy() for i in self.output_index]


class TVMOnnxBackend(TVMBackend):
    name = "tvm-onnx"
    image_format = "NCHW"


class TVMPyTorchBackend(TVMBackend):
    name = "tvm-pytorch"
    image_format = "NCHW"


class TVMTFLiteBackend(TVMBackend):
    name = "tvm-tflite"
    image_format = "NHWC"
