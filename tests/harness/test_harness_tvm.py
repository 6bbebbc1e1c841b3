"""The TVM backends on the host (apache-tvm is a test dependency): tvm-onnx in Offline and Server, both
modes, on the onnxruntime stand-in (compiled at load, once per run) with its known accuracy, tvm-tflite on the tflite
export of the same weights, tvm-pytorch through torch.export on the pytorch stand-in, bert on tvm-onnx,
the compile CLI's artifact, and the refusal of a model compiled for CPU features this CPU lacks.
tvm-onnx also runs in its image (tests/integration/test_tvm_images.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness_test_support import run_harness, run_python

pytest.importorskip("tvm", reason="apache-tvm is a test dependency (pyproject test extras)")

def _accuracy_lines(stdout: str) -> dict:
    return dict(re.findall(r"^(\w+) accuracy: (accuracy=[\d.]+%, good=\d+, total=\d+)$", stdout, re.M))


def _known(info) -> str:
    return f"accuracy={info['top1']:.3f}%, good={info['good']}, total={info['total']}"


def test_tvm_onnx_batches_and_performance_runs(standin, tmp_path):
    """Offline (batched) and Server in both modes; every scenario's accuracy runs in the image
    (tests/integration/test_tvm_images.py). Each LoadGen test loads the backend in its own process.
    The target is one with a feature this CPU has (chosen from /proc/cpuinfo now), as --tvm-target
    would give it: it compiles, passes the CPU check and keeps the known accuracy."""
    from mlperf_harness.backends.tvm_target import cpuinfo_flag, host_flags

    flags = host_flags() or set()
    has = next((f for f in ("avx2", "avx", "sse4.2", "sse2") if cpuinfo_flag(f) in flags), None)
    target = f"llvm -mattr=+{has}" if has else "llvm"
    scenarios = ("Offline", "Server")
    proc = run_harness(["--model", "resnet50", "--backend", "tvm-onnx", "--device", "cpu",
                        "--model_path", standin["model_path"], "--dataset_path", standin["dataset_path"],
                        "--output_dir", tmp_path, "--system", "box", "--scenario", ",".join(scenarios),
                        "--mode", "both", "--test_query_count", "16", "--max_batchsize", "8"],
                       cwd=tmp_path, timeout=600, env={"MLPERF_TVM_TARGET": target})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _accuracy_lines(proc.stdout) == {s: _known(standin) for s in scenarios}, proc.stdout
    described = [l for l in proc.stdout.splitlines() if l.startswith("backend for ")]
    assert len(described) == 4 and all("tvm 0.27" in l and f"target {target} (compiled at load)" in l
                                       for l in described), described
    assert len(re.findall(r"^(\w+) performance: .*result (VALID|INVALID)$", proc.stdout, re.M)) == 2
    assert "largest batch 8 (max-batchsize 8) for Offline accuracy" in proc.stdout


def test_tvm_tflite_on_the_same_weights(standin, backend_models, tmp_path):
    if "tflite" not in backend_models:
        pytest.skip("exporting the tflite stand-in needs tensorflow on the host")
    proc = run_harness(["--model", "resnet50", "--backend", "tvm-tflite", "--device", "cpu",
                        "--model_path", backend_models["tflite"], "--dataset_path", standin["dataset_path"],
                        "--output_dir", tmp_path, "--system", "box", "--scenario", "Offline",
                        "--mode", "accuracy", "--max_batchsize", "8"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _accuracy_lines(proc.stdout) == {"Offline": _known(standin)}
    # The TFLite frontend takes no symbolic batch: the model's own batch of one caps the batches.
    assert "largest batch 1 (max-batchsize 1) for Offline accuracy" in proc.stdout


def test_tvm_pytorch_goes_through_torch_export(tmp_path_factory, tmp_path):
    """The pytorch stand-in's state_dict, loaded into the reference ResNet and imported through
    torch.export: its own dataset's known top-1 (40 samples)."""
    pytest.importorskip("torch")
    from mlperf_harness.models.resnet50.standin_pytorch import generate

    info = generate(tmp_path_factory.mktemp("tvm-pytorch"), n_samples=40)
    proc = run_harness(["--model", "resnet50", "--backend", "tvm-pytorch", "--device", "cpu",
                        "--model_path", info["model_path"], "--dataset_path", info["dataset_path"],
                        "--output_dir", tmp_path, "--system", "box", "--scenario", "Offline",
                        "--mode", "accuracy", "--max_batchsize", "16", "--count", "40"],
                       cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    good = int(40 * info["top1"] / 100 + 0.5)
    assert _accuracy_lines(proc.stdout) == {"Offline": f"accuracy={100 * good / 40:.3f}%, good={good}, total=40"}
    assert "(tvm-pytorch frontend)" in proc.stdout


def test_compile_cli_writes_the_executable_and_what_it_needs(standin, tmp_path):
    out = tmp_path / "compiled"
    proc = run_python(["-m", "mlperf_harness.backends.tvm_compile", "--framework", "tvm-onnx",
                       "--target", "llvm -mcpu=x86-64-v3", standin["model_path"], out], timeout=300)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "compiled.json").read_text())
    assert (out / "model.vm").stat().st_size > 0 and meta["kernels"] == ["kernels-0.ll"]
    assert (out / "kernels-0.ll").read_text().count('"target-cpu"="x86-64-v3"') > 0
    assert meta["target"] == "llvm -mcpu=x86-64-v3" and meta["dynamic_batch"] is True
    assert {"avx2", "fma", "bmi2"} <= set(meta["features"])
    assert meta["outputs"] == ["ArgMax:0", "softmax_tensor:0"] and meta["inputs"] == ["input_tensor:0"]
    bad = run_python(["-m", "mlperf_harness.backends.tvm_compile", "--framework", "tvm-onnx",
                      "--target", "cuda", standin["model_path"], tmp_path / "x"], timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "error: TVM target 'cuda': only the llvm (CPU) kind is packaged"]


def test_cpu_features_map_to_cpuinfo_flags():
    from mlperf_harness.backends.tvm_backend import missing_features
    from mlperf_harness.backends.tvm_compile import target_features

    v3 = target_features("llvm -mcpu=x86-64-v3")
    haswell_less = {"lm", "cx8", "cx16", "sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "popcnt",
                    "lahf_lm", "mmx", "fxsr"}
    assert missing_features(v3, haswell_less) == ["avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt",
                                                  "movbe", "xsave"]
    assert missing_features(target_features("llvm"), haswell_less) == []
    assert missing_features(v3, None) == []  # no /proc/cpuinfo: nothing to check


def test_a_target_this_cpu_lacks_is_refused(standin, tmp_path):
    """A model compiled for a feature this CPU does not have is refused before it is loaded."""
    from mlperf_harness.backends.tvm_backend import cpuinfo_flag, host_flags

    flags = host_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags on this host")
    candidates = ["sse4a", "xop", "fma4", "avx512f", "amx-tile"]  # AMD-only ones first, then newer Intel
    lacking = next((f for f in candidates if cpuinfo_flag(f) not in flags), None)
    assert lacking, f"this CPU has all of {candidates}"
    out = tmp_path / "out"
    out.mkdir()
    proc = run_harness(["--model", "resnet50", "--backend", "tvm-onnx", "--device", "cpu",
                        "--model_path", standin["model_path"], "--dataset_path", standin["dataset_path"],
                        "--output_dir", out, "--system", "box", "--scenario", "Offline", "--mode", "accuracy"],
                       cwd=out, timeout=300, env={"MLPERF_TVM_TARGET": f"llvm -mattr=+{lacking}"})
    assert proc.returncode != 0
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and f"which needs CPU features this CPU lacks ({lacking};" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_tvm_onnx_runs_the_bert_stand_in(bert_standin, tmp_path):
    """bert's ONNX stand-in (int64 inputs, symbolic batch) through TVM: the same EM/F1 as onnxruntime."""
    proc = run_harness(["--model", "bert-99", "--backend", "tvm-onnx", "--device", "cpu",
                        "--model_path", bert_standin["models"]["onnxruntime"],
                        "--dataset_path", bert_standin["dataset_path"], "--output_dir", tmp_path,
                        "--system", "box", "--scenario", "Offline", "--mode", "accuracy",
                        "--max_batchsize", "8"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("Offline accuracy: "))
    scores = json.loads(line.split(": ", 1)[1])
    assert scores["exact_match"] == bert_standin["exact_match"]
    assert abs(scores["f1"] - bert_standin["f1"]) < 1e-9
