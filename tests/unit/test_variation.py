import pytest

from launcher.errors import UsageError
from launcher.spec.model import load_spec
from launcher.spec.variation import parse_variation, require_supported


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def test_defaults(spec):
    v = parse_variation(None, spec)
    assert (v.device, v.framework, v.model, v.precision) == ("cpu", "onnxruntime", "resnet50", "fp32")
    assert v.scenario is None and v.batch_size is None
    assert v.image_key().tag("mlperf-docker") == "mlperf-docker/onnxruntime-cpu:resnet50-fp32-standin"
    assert v.image_key(standin=False).tag("lab") == "lab/onnxruntime-cpu:resnet50-fp32"
    assert v.image_key().dockerfile == "onnxruntime-cpu.Dockerfile"
    assert v.image_key().target == "resnet50"


def test_full_variation_and_aliases(spec):
    v = parse_variation("_pytorch,_rocm,_bert-99,_quantized,_server,_batch_size.8,_beam_size.4", spec)
    assert (v.framework, v.device, v.model, v.precision) == ("pytorch", "rocm", "bert-99", "int8")
    assert v.scenario == "Server" and v.batch_size == 8 and v.beam_size == 4
    assert parse_variation("_tensorflow", spec).framework == "tf"
    assert str(parse_variation("_singlestream,_cpu", spec)) == "_cpu,_onnxruntime,_resnet50,_fp32,_singlestream"


def test_same_choice_twice_is_fine(spec):
    assert parse_variation("_tf,_tensorflow", spec).framework == "tf"


@pytest.mark.parametrize("text, message", [
    ("_cpu,_cuda", "_cpu and _cuda both choose the device; pick one"),
    ("_offline,_server", "both choose the scenario"),
    ("_resnet5", "unknown variation '_resnet5' (did you mean _resnet50?)"),
    ("_onnxruntme", "did you mean _onnxruntime?"),
    ("_zzzzzz", "unknown variation '_zzzzzz'"),
    ("_batch_size.x", "malformed '_batch_size.x': expected a positive integer"),
    ("_batch_size.0", "expected a positive integer"),
    ("_batch_size.", "expected a positive integer"),
    ("_batch_size.4,_batch_size.8", "given twice with different values"),
    ("cpu", "variation names start with '_'"),
    ("_cpu,,_resnet50", "empty name"),
    ("", "empty --variation"),
])
def test_bad_variations(spec, text, message):
    with pytest.raises(UsageError) as info:
        parse_variation(text, spec)
    assert message in str(info.value)


def test_unsupported_combination_names_reason(spec):
    with pytest.raises(UsageError, match=r"unsupported combination _cpu,_onnxruntime,_resnet50,_int8: .*no int8 resnet50 ONNX"):
        require_supported(parse_variation("_int8", spec), spec)
    require_supported(parse_variation(None, spec), spec)
