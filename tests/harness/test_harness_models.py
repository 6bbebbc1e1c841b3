"""The model table: data facts read from images.yaml, code facts from the model folders."""

from pathlib import Path

import yaml

from harness_test_support import REPO, run_harness, run_python
from mlperf_harness import models


def test_data_facts_come_from_images_yaml():
    spec = yaml.safe_load((REPO / "images.yaml").read_text())["models"]
    assert models.spec_path() == REPO / "images.yaml"
    for name, entry in spec.items():
        info = models.get_model(name)
        assert info.loadgen_key == entry.get("loadgen_key")
        assert info.perf_sample_count == entry.get("performance_sample_count")
    assert models.supported_models() == ["resnet50", "retinanet", "bert-99", "bert-99.9",
                                         "3d-unet-99", "3d-unet-99.9", "dlrm-99", "dlrm-99.9", "gptj-99",
                                         "gptj-99.9", "llama2-70b-99", "llama2-70b-99.9",
                                         "llama2-70b-interactive-99", "llama2-70b-interactive-99.9", "rnnt", "sdxl"]
    assert models.get_model("bert-99.9").code is models.get_model("bert-99").code
    assert all(models.get_model(name).dataset is None for name, entry in spec.items() if entry.get("refuse"))
    assert models.get_model("dlrm-99.9").code is models.get_model("dlrm-99").code
    assert models.get_model("3d-unet-99.9").code is models.get_model("3d-unet-99").code
    assert models.family_module("3d-unet") == "mlperf_harness.models.unet3d"
    assert models.get_model("3d-unet-99").scenarios == ("SingleStream", "Offline")
    assert models.get_model("retinanet").max_batch == 1


def test_standin_modules():
    assert models.standin_module("resnet50") == "mlperf_harness.models.resnet50.standin"
    assert models.standin_module("resnet50_tflite") == "mlperf_harness.models.resnet50.standin_tflite"
    assert models.standin_module("bert_pytorch") == "mlperf_harness.models.bert.standin_pytorch"
    assert models.standin_module("unet3d_pytorch") == "mlperf_harness.models.unet3d.standin_pytorch"
    assert models.standin_module("retinanet") == "mlperf_harness.models.retinanet.standin"


def test_mlperf_spec_overrides_the_table(tmp_path):
    spec = yaml.safe_load((REPO / "images.yaml").read_text())
    spec["models"]["resnet50"]["performance_sample_count"] = 7
    custom = tmp_path / "images.yaml"
    custom.write_text(yaml.safe_dump(spec))
    code = "from mlperf_harness import models; print(models.get_model('resnet50').perf_sample_count)"
    proc = run_python(["-c", code], env={"MLPERF_SPEC": str(custom)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "7"


def test_missing_spec_is_one_error_line(tmp_path):
    proc = run_harness(["--model_path", "m", "--dataset_path", "d", "--output_dir", tmp_path / "o"],
                       cwd=tmp_path, env={"MLPERF_SPEC": str(tmp_path / "none.yaml")})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: cannot read the model table {tmp_path / 'none.yaml'} (No such file or directory); "
        "set MLPERF_SPEC to images.yaml"]
    assert not Path(tmp_path / "o").exists()
