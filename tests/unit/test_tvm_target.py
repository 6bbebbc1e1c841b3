"""--tvm-target on the host: the target string checked before anything is written, the build argument, the
tag apart from the default image's, and the refusal of an image whose target needs CPU features this
host lacks (mlperf_harness/backends/tvm_target.py; launcher/settings.py, launcher/run/hostcheck.py)."""

from __future__ import annotations

import re

import pytest
from unit_support import cli

from launcher.errors import UsageError
from launcher.run import hostcheck
from launcher.settings import Settings
from launcher.spec.variation import ImageKey
from mlperf_harness.backends import tvm_target

V = ["--variation", "_tvm-onnx,_cpu,_resnet50"]


@pytest.mark.parametrize("text, canonical", [
    ("llvm", "llvm"),
    ("  llvm   -mcpu=x86-64-v3 ", "llvm -mcpu=x86-64-v3"),
    ("llvm -mattr=+avx2,+fma", "llvm -mattr=+avx2,+fma"),
    ('{"kind": "llvm", "mcpu": "x86-64-v4", "mattr": ["-avx512vl"]}', "llvm -mcpu=x86-64-v4 -mattr=-avx512vl"),
])
def test_targets_are_made_canonical(text, canonical):
    assert tvm_target.check(text) == canonical


@pytest.mark.parametrize("text, why", [
    ("", "an empty TVM target"),
    ("cuda", "only the llvm (CPU) kind is packaged"),
    ("llvm -mcpu=skylake", "-mcpu=skylake is not one of x86-64, x86-64-v2, x86-64-v3, x86-64-v4"),
    ("llvm -mattr=avx2", "-mattr entry 'avx2' is not +FEATURE or -FEATURE"),
    ("llvm -mattr=+avx9", "-mattr entry '+avx9'"),
    ("llvm -mattr=", "-mattr entry '' is not"),
    ("llvm -mtriple=aarch64-linux-gnu", "unknown key 'mtriple'"),
    ("llvm mcpu", "'mcpu' is not -key=value"),
    ("llvm -mcpu='x86", "No closing quotation"),
    ("[1]", "only the llvm (CPU) kind"),
    ('["llvm"]', "only the llvm (CPU) kind"),
])
def test_garbage_is_refused(text, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        tvm_target.check(text)


def test_features_follow_the_level_and_mattr():
    assert tvm_target.features("llvm") == []
    assert "avx2" in tvm_target.features("llvm -mcpu=x86-64-v3")
    assert tvm_target.features("llvm -mcpu=x86-64-v2 -mattr=+avx512f,-sse4.2") == [
        "avx512f", "cx16", "popcnt", "sahf", "sse3", "sse4.1", "ssse3"]
    v4_flags = {tvm_target.cpuinfo_flag(f) for f in tvm_target.features("llvm -mcpu=x86-64-v4")}
    assert {"avx512f", "avx512vl", "fma", "abm", "bmi1", "pni", "lahf_lm"} <= v4_flags


def test_tag_suffix_tells_targets_apart():
    plus, minus = tvm_target.tag_suffix("llvm -mattr=+avx2"), tvm_target.tag_suffix("llvm -mattr=-avx2")
    assert plus.startswith("llvm-mattr-avx2-") and plus != minus
    assert tvm_target.tag_suffix("llvm   -mattr=+avx2") == plus
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", plus)


def test_the_flag_overrides_the_build_arg_and_tags_apart(monkeypatch):
    from launcher.build.image import build_args

    monkeypatch.delenv("MLPERF_DOCKER_TVM_TARGET", raising=False)
    key = ImageKey("tvm-onnx", "cpu", "resnet50", "fp32")
    default = Settings.resolve()
    assert build_args(default, key)["TVM_TARGET"] == "llvm"
    assert default.image_tag(key).endswith(":resnet50-fp32-standin")
    chosen = Settings.resolve(tvm_target="llvm  -mcpu=x86-64-v3")
    assert build_args(chosen, key)["TVM_TARGET"] == "llvm -mcpu=x86-64-v3"
    assert chosen.image_tag(key) == default.image_tag(key) + "-" + tvm_target.tag_suffix("llvm -mcpu=x86-64-v3")
    assert Settings.resolve(tvm_target="llvm").image_tag(key) == default.image_tag(key)  # the default's own
    onnx = ImageKey("onnxruntime", "cpu", "resnet50", "fp32")
    assert "TVM_TARGET" not in build_args(chosen, onnx) and chosen.image_tag(onnx) == default.image_tag(onnx)
    monkeypatch.setenv("MLPERF_DOCKER_TVM_TARGET", "llvm -mattr=+fma")  # the cascade: flag > environment
    assert Settings.resolve().compile_target("tvm-onnx") == "llvm -mattr=+fma"
    assert Settings.resolve(tvm_target="llvm").compile_target("tvm-onnx") == "llvm"


def test_cli_refuses_garbage_in_one_line_before_writing(tmp_path):
    out = tmp_path / "out"
    for command in (["build", *V], ["run", *V, "--output_dir", out]):
        proc = cli(*command, "--tvm-target", "llvm -mattr=+avx2;rm")
        assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
        assert proc.stderr.startswith("error: --tvm-target: TVM target 'llvm -mattr=+avx2;rm': -mattr entry")
    proc = cli("run", "--variation", "_onnxruntime,_cpu,_resnet50", "--tvm-target", "llvm", "--dry-run")
    assert proc.returncode == 2 and "--tvm-target applies to the TVM frameworks only" in proc.stderr
    assert not out.exists()
    proc = cli("run", *V, "--tvm-target", "llvm -mcpu=x86-64-v2", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f":resnet50-fp32-standin-{tvm_target.tag_suffix('llvm -mcpu=x86-64-v2')} " in proc.stdout


def test_an_image_for_missing_cpu_features_is_refused_naming_them():
    labels = {hostcheck.TVM_TARGET_LABEL: "llvm -mcpu=x86-64-v3 -mattr=+avx512f"}
    has_avx2 = {"lm", "cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3", "avx", "avx2", "bmi1",
                "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    hostcheck.tvm_cpu(labels, has_avx2 | {"avx512f"})
    hostcheck.tvm_cpu({}, set())  # not a TVM image
    hostcheck.tvm_cpu(labels, None)  # no /proc/cpuinfo: nothing to check here (the harness checks)
    with pytest.raises(UsageError, match=re.escape("needs CPU features this CPU lacks (avx512f; /proc/cpuinfo)")):
        hostcheck.tvm_cpu(labels, has_avx2)
    with pytest.raises(UsageError, match=re.escape("lacks (avx, avx2, bmi, bmi2, f16c, fma, lzcnt, movbe, xsave;")):
        hostcheck.tvm_cpu({hostcheck.TVM_TARGET_LABEL: "llvm -mcpu=x86-64-v3"}, has_avx2 - {
            "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"})


def test_images_yaml_compile_target_is_checked_too():
    from pydantic import ValidationError

    from launcher.spec.entries import Framework

    assert Framework(compile_target="llvm  -mcpu=x86-64-v3").compile_target == "llvm -mcpu=x86-64-v3"
    with pytest.raises(ValidationError, match="only the llvm"):
        Framework(compile_target="cuda")
