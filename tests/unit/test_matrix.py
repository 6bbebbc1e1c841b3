"""The CI matrix, the bake file and `list` must describe the same images."""

import json

import yaml

from pathlib import Path

from launcher.build import matrix
from launcher.settings import BaseChoice, Settings, UserConfig
from launcher.spec.variation import Variation
from launcher.spec.render import ROOT
from launcher.spec.model import load_spec
from unit_support import cli


def supported_from_list():
    proc = cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    models = load_spec().models  # a model running in another's image (`image`) adds no image
    return {(r["framework"], r["device"], r["model"], r["precision"]) for r in json.loads(proc.stdout)
            if r["supported"] and not models[r["model"]].image}


def test_github_matrix_bake_and_list_agree(tmp_path):
    spec = load_spec()
    include = json.loads(matrix.github(Settings(spec=spec, config=UserConfig(), cache=Path("/nonexistent"))))["include"]
    from_matrix = {(e["framework"], e["device"], e["model"], e["precision"]) for e in include}
    assert from_matrix == supported_from_list()
    proc = cli("matrix", "--format", "bake", "-o", tmp_path / "bake.json")
    assert proc.returncode == 0, proc.stderr
    bake = json.loads((tmp_path / "bake.json").read_text())
    targets = {k: v for k, v in bake["target"].items() if not k.startswith("_")}
    assert set(targets) == {e["name"] for e in include}
    assert set(bake["group"]["default"]["targets"]) == set(targets)
    for e in include:
        t = targets[e["name"]]
        assert t["tags"] == [e["tag"]] and t["target"] == e["target"] and t["inherits"] == ["_common"]
        # The model's stage: its name, where docker accepts it as one (a stage starts with a letter).
        assert e["target"] == (e["model"] if e["model"][0].isalpha() else f"model-{e['model']}")
        assert f"AS {e['target']}\n" in (ROOT / e["dockerfile"]).read_text()
        assert e["name"] in bake["group"][e["device"]]["targets"]
        assert (ROOT / e["dockerfile"]).exists()
    assert {e["device"] for e in include} <= set(bake["group"])


def test_cpu_images_are_smoke_run_gpu_images_only_built():
    include = json.loads(matrix.github(Settings(spec=load_spec(), config=UserConfig(), cache=Path("/nonexistent"))))["include"]
    assert all(e["smoke"] == (e["device"] == "cpu") for e in include)


def test_workflow_loads_and_reads_the_matrix():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    matrix_step = " ".join(step.get("run", "") for step in jobs["matrix"]["steps"])
    assert "mlperf-docker matrix --format github" in matrix_step
    assert "fromJson(needs.matrix.outputs.images)" in jobs["images"]["strategy"]["matrix"]
    build = " ".join(step.get("run", "") for step in jobs["images"]["steps"])
    assert "mlperf-docker build --variation" in build
    assert any("render --check" in step.get("run", "") for step in jobs["test"]["steps"])


def test_unknown_format_is_one_line_exit_2():
    proc = cli("matrix", "--format", "csv")
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --format 'csv': expected github or bake"


def test_bake_passes_exactly_the_build_args_of_build_for_every_image(monkeypatch, tmp_path):
    from launcher.build import image
    from launcher.session import Session

    session = Session(Settings(spec=load_spec(), config=UserConfig(), cache=tmp_path,
                               base_overrides={"cpu": BaseChoice(image="lab/debian:bookworm", python="3.11")}))
    # What `build` stages is not the point here: stub the wheelhouse, the stand-ins and the context.
    monkeypatch.setattr(image.wheelhouse, "ensure", lambda *a, **k: tmp_path)
    monkeypatch.setattr(image.artifacts, "standin", lambda *a, **k: tmp_path / "standin")
    (tmp_path / "standin" / "model").mkdir(parents=True)
    monkeypatch.setattr(image.context, "stage", lambda *a, **k: tmp_path / "ctx")
    monkeypatch.setattr(image, "stale", lambda spec: [])
    targets = matrix.bake(session.settings)["target"]
    keys = matrix.image_keys(session.settings)
    assert keys and len(keys) == len(targets) - 1
    for key in keys:
        request = image.prepare(session, Variation.of(key), standin=key.standin)
        assert targets[key.ci_name]["args"] == request.build_args, key
        assert targets[key.ci_name]["tags"] == [request.tag] and targets[key.ci_name]["target"] == request.target
    # the session's base (here a --base override), not images.yaml's
    assert {targets[k.ci_name]["args"]["BASE_IMAGE"] for k in keys if k.device == "cpu"} == {"lab/debian:bookworm"}
    assert {"REVISION", "ARTIFACTS", "SPEC_DIGEST", "BASE_IMAGE", "PYTHON_VERSION"} <= set(targets[keys[0].ci_name]["args"])
