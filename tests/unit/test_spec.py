from pathlib import Path

import pytest
import yaml

from launcher.errors import SpecError
from launcher.spec.model import DEFAULT_SPEC, load_spec


def write_spec(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    mutate(raw)
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_repository_spec_loads_and_has_the_cpu_spine():
    spec = load_spec()
    assert spec.digest.startswith("sha256:")
    assert ("onnxruntime", "cpu") in spec.image_groups
    assert "resnet50" in spec.image_groups[("onnxruntime", "cpu")]
    assert spec.check("onnxruntime", "cpu", "resnet50", "fp32").supported


def test_every_refused_combination_has_a_reason():
    spec = load_spec()
    rows = spec.matrix()
    # one row per (framework, device, model), or one per supported precision where there are several
    triples = {(r.framework, r.device, r.model) for r in rows}
    assert len(triples) == len(spec.frameworks) * len(spec.devices) * len(spec.models)
    assert all(r.supported for r in rows if sum(1 for o in rows if (o.framework, o.device, o.model) ==
                                                 (r.framework, r.device, r.model)) > 1)
    for row in rows:
        assert row.supported or (row.reason and row.reason.strip()), row


@pytest.mark.parametrize("combo, fragment", [
    (("onnxruntime", "cpu", "resnet50", "int8"), "no int8 resnet50 ONNX"),
    (("onnxruntime", "cpu", "resnet50", "bfloat16"), "fp32 only"),
    (("pytorch", "cpu", "resnet50", "int8"), "(cpu) is published in fp32, bfloat16 only"),
    (("pytorch", "cuda", "resnet50", "int8"), "(cuda) is published in fp32, bfloat16, float16 only"),
    (("onnxruntime", "tpu", "resnet50", "fp32"), "TPU"),
    (("deepsparse", "cuda", "bert-99", "fp32"), "DeepSparse is a CPU-only"),
    (("onnxruntime", "cpu", "llama2-70b-99", "fp32"), "no onnxruntime backend"),
])
def test_refusal_reasons(combo, fragment):
    assert fragment in load_spec().check(*combo).reason


def test_llama2_real_weights_are_gated():
    """llama2-70b runs on its stand-in; the real (gated) weights are refused with the reason."""
    assert "gated" in load_spec().backend("llama2-70b-99", "pytorch").real_refuse


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["frameworks"]["onnxruntime"]["installs"]["cpu"].update(requirements=["onnxruntime>=1.0"]),
     "frameworks.onnxruntime.installs.cpu.requirements: expected a pinned requirement NAME==VERSION"),
    (lambda r: r["devices"]["cpu"]["base"].pop("image"), "devices.cpu.base.image: a value is required"),
    (lambda r: r["devices"]["cpu"]["base"].update(python=3.11), "devices.cpu.base.python"),
    # pytorch's artifact: onnxruntime's is shared (a YAML anchor) with ncnn and deepsparse
    (lambda r: r["models"]["resnet50"]["backends"]["pytorch"]["artifact"].pop("md5"),
     "models.resnet50.backends.pytorch.artifact: expected a digest"),
    (lambda r: r["models"]["resnet50"].update(colour="red"), "models.resnet50.colour: an unknown key"),
    (lambda r: r["models"]["resnet50"]["backends"]["tflite"].pop("real_refuse"),
     "models.resnet50.backends.tflite: expected an `artifact`, or `model_file` with a `real_refuse` reason"),
    (lambda r: r["devices"].update(tpu={}), "devices.tpu: expected exactly one of `base` or `refuse`"),
    (lambda r: r["models"]["resnet50"].update(dataset="coco"), "models.resnet50.dataset: unknown dataset 'coco'"),
    (lambda r: r["frameworks"]["onnxruntime"]["installs"].update(gpu={"requirements": []}),
     "frameworks.onnxruntime.installs.gpu: unknown device"),
    # two models' own pins disagree (they are fetched into one wheelhouse together)
    (lambda r: r["models"]["retinanet"]["requirements"].append("scipy==1.14.1"),
     "models.retinanet.requirements: scipy==1.14.1 but models.3d-unet-99 pins scipy==1.15.3"),
])
def test_errors_name_file_key_path_and_expectation(tmp_path, mutate, message):
    path = write_spec(tmp_path, mutate)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    text = str(info.value)
    assert text.startswith(str(path) + ": ")
    assert message in text
    assert "\n" not in text


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("schema_version: 1\ndevices: [unclosed\n")
    with pytest.raises(SpecError, match=r"images\.yaml: line \d+: not valid YAML"):
        load_spec(path)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")
