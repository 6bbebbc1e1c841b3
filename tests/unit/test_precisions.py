"""Precisions restricted per device (images.yaml `device_refuse`): pytorch float16 on GPUs only, shown and
refused with its reason by `list` and `run`; a bad `device_refuse` is one line naming the key path."""

from __future__ import annotations

import json

import pytest
import yaml

from launcher.errors import SpecError
from launcher.spec.model import DEFAULT_SPEC, load_spec
from unit_support import cli


def test_pytorch_float16_is_supported_on_gpus_and_refused_on_the_cpu_with_its_reason():
    spec = load_spec()
    for device in ("cuda", "rocm"):
        assert spec.check("pytorch", device, "resnet50", "float16").supported
        assert spec.check("pytorch", device, "bert-99", "float16").supported
    refused = spec.check("pytorch", "cpu", "bert-99.9", "float16")
    assert not refused.supported and "use _bfloat16 on the CPU" in refused.reason
    assert spec.check("pytorch", "cpu", "bert-99", "bfloat16").supported



def test_onnxruntime_float16_is_converted_at_build_on_gpus_and_refused_on_the_cpu(tmp_path):
    spec = load_spec()
    for device in ("cuda", "rocm"):
        for model in ("resnet50", "bert-99", "bert-99.9"):
            assert spec.check("onnxruntime", device, model, "float16").supported, (device, model)
        assert spec.install("onnxruntime", device).converter.script == "convert_fp16.py"
    refused = spec.check("onnxruntime", "cpu", "resnet50", "float16")
    assert not refused.supported and "float16 is for GPUs" in refused.reason
    proc = cli("run", "--variation", "_onnxruntime,_rocm,_resnet50,_float16", "--dry-run", "--output_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "onnxruntime-rocm:resnet50-float16-standin" in proc.stdout and "--precision float16" in proc.stdout


def test_list_shows_float16_per_device(tmp_path):
    proc = cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {(r["framework"], r["device"], r["model"], r["precision"]): r for r in json.loads(proc.stdout)}
    assert rows[("pytorch", "cuda", "resnet50", "float16")]["supported"]
    assert rows[("pytorch", "cuda", "resnet50", "float16")]["image"].endswith("pytorch-cuda:resnet50-float16")
    cpu = rows[("pytorch", "cpu", "resnet50", "float16")]
    assert not cpu["supported"] and "float16 is for GPUs" in cpu["reason"]
    proc = cli("list", "--all")
    assert proc.returncode == 0 and "resnet50 float16" in proc.stdout


def test_run_passes_float16_on_cuda_and_refuses_it_on_the_cpu(tmp_path):
    proc = cli("run", "--variation", "_pytorch,_cuda,_bert-99,_float16", "--dry-run", "--output_dir", tmp_path,
               "--gpus", "0")
    assert proc.returncode == 0, proc.stderr
    assert "pytorch-cuda:bert-99-float16-standin" in proc.stdout and "--precision float16" in proc.stdout
    proc = cli("run", "--variation", "_pytorch,_cpu,_bert-99,_float16", "--dry-run", "--output_dir", tmp_path)
    assert proc.returncode == 2 and "float16 is for GPUs" in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing written before the refusal


@pytest.mark.parametrize("refuse, message", [
    ({"int8": {"cpu": "x"}}, "models.resnet50.backends.pytorch.device_refuse.int8: not in its precisions"),
    ({"float16": {"gpu": "x"}}, "models.resnet50.backends.pytorch.device_refuse.float16: unknown device 'gpu'"),
])
def test_bad_device_refuse_is_one_line(tmp_path, refuse, message):
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["models"]["resnet50"]["backends"]["pytorch"]["device_refuse"] = refuse
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_int8_bert_99_on_onnxruntime_uses_the_reference_quantized_model():
    spec = load_spec()
    for device in ("cpu", "cuda", "rocm"):
        assert spec.check("onnxruntime", device, "bert-99", "int8").supported
    int8 = spec.backend("bert-99", "onnxruntime", "int8")
    assert (int8.standin, int8.file_name) == ("bert_int8", "bert_large_v1_1_fake_quant.onnx")
    assert int8.artifact.url.endswith("/3750364/files/bert_large_v1_1_fake_quant.onnx")
    assert int8.artifact.md5 == "45f88ffb2915362242703c85c38ec2d4"
    assert spec.backend("bert-99", "onnxruntime").file_name == "model.onnx"  # fp32 keeps its own
    assert "below bert-99.9's target" in spec.check("onnxruntime", "cpu", "bert-99.9", "int8").reason
    assert "no int8 resnet50 ONNX" in spec.check("onnxruntime", "cuda", "resnet50", "int8").reason


def test_quantized_alias_runs_the_int8_model(tmp_path):
    proc = cli("run", "--variation", "_onnxruntime,_cpu,_bert-99,_quantized", "--dry-run", "--real",
               "--dataset_path", tmp_path, "--output_dir", tmp_path / "out")
    if proc.returncode == 2 and "dev-v1.1.json" in proc.stderr:  # the dataset check comes first: give it one
        (tmp_path / "dev-v1.1.json").write_text("{}")
        proc = cli("run", "--variation", "_onnxruntime,_cpu,_bert-99,_quantized", "--dry-run", "--real",
                   "--dataset_path", tmp_path, "--output_dir", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "onnxruntime-cpu:bert-99-int8" in proc.stdout and "--precision int8" in proc.stdout
    assert "bert_large_v1_1_fake_quant.onnx" in proc.stdout


def test_onnxruntime_bfloat16_is_refused_with_its_reason():
    spec = load_spec()
    assert "(cpu) is published in fp32, int8 only" in spec.check("onnxruntime", "cpu", "bert-99", "bfloat16").reason
    assert "(cuda) is published in fp32, float16, int8 only" in spec.check("onnxruntime", "cuda", "bert-99", "bfloat16").reason
