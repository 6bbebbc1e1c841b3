"""A framework that `extends` another (ray on pytorch): the whole pin set, the shared environment, the
layer on top, the rendered stages, and the wheelhouse's split of the added wheels."""

from pathlib import Path

import pytest
import yaml

from launcher.build import wheelhouse
from launcher.errors import SpecError
from launcher.spec.model import DEFAULT_SPEC, load_spec
from launcher.spec.render import render_all


def test_ray_is_pytorch_plus_ray_on_every_device():
    spec = load_spec()
    for device in ("cpu", "cuda", "rocm"):
        assert spec.check("ray", device, "bert-99", "fp32").supported
        assert spec.layer_requirements("ray", device) == ["ray==2.60.0"]
        assert spec.requirements("ray", device) == spec.requirements("pytorch", device) + ["ray==2.60.0"]
        # the shared environment layer installs exactly pytorch's set
        assert wheelhouse.requirements(spec, "ray", device) == wheelhouse.requirements(spec, "pytorch", device)
        assert spec.index_urls("ray", device) == spec.index_urls("pytorch", device)
        assert spec.base_for("ray", device) == spec.base_for("pytorch", device)
    assert spec.layer_requirements("pytorch", "cpu") == []
    assert not spec.check("ray", "cpu", "resnet50", "fp32").supported


def test_rendered_ray_dockerfile_shares_pytorchs_environment_stage():
    rendered = {r.name: r.text for r in render_all(load_spec())}
    ray, pytorch = rendered["ray-cpu.Dockerfile"], rendered["pytorch-cpu.Dockerfile"]
    venv = pytorch[pytorch.index("FROM base AS venv"):pytorch.index("FROM base AS framework")]
    assert venv in ray  # the same instructions: the same cached layers
    assert "FROM base AS framework-layer\nCOPY framework-wheels/ /tmp/wheels/" in ray
    assert "COPY --from=framework-layer /opt/framework-layer /opt/framework-layer" in ray
    assert "ENV PYTHONPATH=/opt/mlperf/harness:/opt/framework-layer \\" in ray
    assert "framework-layer" not in pytorch


@pytest.mark.parametrize("extends", ["nonesuch", "tflite"])
def test_extends_must_name_a_framework_installed_on_the_device(tmp_path, extends):
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["frameworks"]["ray"]["extends"] = extends
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match=rf"frameworks.ray.extends: {extends!r} is not a framework installed on (cpu|cuda)"):
        load_spec(path)


def test_only_the_added_wheels_are_kept_and_pinned(tmp_path: Path):
    shared, layer = tmp_path / "shared", tmp_path / "layer"
    shared.mkdir()
    layer.mkdir()
    for name in ("numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl", "pyyaml-6.0.3-cp311-cp311-manylinux2014_x86_64.whl"):
        (shared / name).write_bytes(b"")
        (layer / name).write_bytes(b"")
    for name in ("ray-2.60.0-cp311-cp311-manylinux2014_x86_64.whl", "jsonschema_specifications-2025.9.1-py3-none-any.whl"):
        (layer / name).write_bytes(b"")
    wheelhouse._keep_added(layer, shared)
    assert sorted(p.name for p in layer.glob("*.whl")) == [
        "jsonschema_specifications-2025.9.1-py3-none-any.whl", "ray-2.60.0-cp311-cp311-manylinux2014_x86_64.whl"]
    assert (layer / "requirements.txt").read_text() == "jsonschema-specifications==2025.9.1\nray==2.60.0\n"
