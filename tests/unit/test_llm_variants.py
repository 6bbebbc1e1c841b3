"""llama2-70b-interactive-99/99.9: model entries (images.yaml anchors) that run in llama2-70b-99(.9)'s image
under LoadGen's llama2-70b-interactive key: no image, Dockerfile stage or CI build of their own."""

import pytest
import yaml

from launcher.build import matrix
from launcher.settings import Settings, UserConfig
from launcher.spec.model import DEFAULT_SPEC, SpecError, load_spec
from launcher.spec.variation import parse_variation
from launcher.spec.variation import require_supported


def test_interactive_runs_in_the_llama2_image():
    spec = load_spec()
    for suffix in ("99", "99.9"):
        entry, host = spec.models[f"llama2-70b-interactive-{suffix}"], spec.models[f"llama2-70b-{suffix}"]
        assert entry.loadgen_key == "llama2-70b-interactive" and entry.scenarios == ["Server"]
        assert (entry.image, entry.backends, entry.dataset, entry.requirements) == (
            f"llama2-70b-{suffix}", host.backends, host.dataset, host.requirements)
        variation = parse_variation(f"_pytorch,_cpu,_llama2-70b-interactive-{suffix}", spec)
        require_supported(variation, spec)
        assert variation.model == f"llama2-70b-interactive-{suffix}"
        assert variation.image_key().tag("r") == f"r/pytorch-cpu:llama2-70b-{suffix}-fp32-standin"
    assert not any("interactive" in m for models in spec.image_groups.values() for m in models)
    keys = matrix.image_keys(Settings(spec=spec, config=UserConfig(), cache=None))
    assert len(keys) == len(set(keys)) and not any("interactive" in k.model for k in keys)


def test_image_must_name_a_model_with_the_same_artifacts(tmp_path):
    data = yaml.safe_load(DEFAULT_SPEC.read_text())
    data["models"]["llama2-70b-interactive-99"]["dataset"] = "cnn-dailymail"
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match="models.llama2-70b-interactive-99.image"):
        load_spec(path)
