import os
import shlex
from pathlib import Path

import pytest

from launcher.run import options as opts
from launcher.run import execute as run_mod
from launcher.errors import UsageError
from launcher.run.results import new_run_dir
from launcher.session import Session
from launcher.spec.model import load_spec
from launcher.spec.variation import parse_variation


@pytest.fixture(scope="module")
def session():
    return Session.open()


def test_scenarios(session):
    v = parse_variation(None, session.spec)
    assert opts.resolve_scenarios(v, None) == ("Offline",)
    assert opts.resolve_scenarios(v, "offline, SingleStream") == ("Offline", "SingleStream")
    v = parse_variation("_singlestream", session.spec)
    assert opts.resolve_scenarios(v, None) == ("SingleStream",)
    assert opts.resolve_scenarios(v, "singlestream") == ("SingleStream",)
    with pytest.raises(UsageError, match="contradicts the variation _singlestream"):
        opts.resolve_scenarios(v, "Offline")
    with pytest.raises(UsageError, match="expected one of Offline"):
        opts.resolve_scenarios(v, "Batch")


def test_batch_size(session):
    v = parse_variation("_batch_size.8", session.spec)
    assert opts.resolve_batch_size(v, None) == 8
    assert opts.resolve_batch_size(v, 8) == 8
    with pytest.raises(UsageError, match="contradicts the variation _batch_size.8"):
        opts.resolve_batch_size(v, 16)


@pytest.mark.parametrize("options, message", [
    (dict(mode="fast"), "--mode 'fast'"),
    (dict(count=0), "--count 0"),
    (dict(target_qps=-1.0), "--target_qps -1: expected a positive number"),
    (dict(singlestream_target_latency=2.0), "--singlestream_target_latency applies to SingleStream, not to"),
    (dict(scenarios=("SingleStream",), target_qps=10.0), "--target_qps applies to Offline or Server"),
    (dict(server_target_qps=5.0, scenarios=("Offline",)), "--server_target_qps applies to Server"),
    (dict(test_query_count=10, run_style="valid"), "contradicts --run_style valid"),
    (dict(custom_model=Path("/nonexistent/model.onnx")), "--model /nonexistent/model.onnx: no such file"),
    (dict(imagenet_path=Path("/tmp")), "expected an ImageNet validation folder with val_map.txt"),
    (dict(dataset_args="cache"), "--dataset_args 'cache': expected key=value"),
    (dict(user="bob"), "--user 'bob'"),
    (dict(run_style="quick"), "--run_style 'quick'"),
])
def test_invalid_options(options, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        opts.validate(opts.RunOptions.of(**options))


def test_dry_run_command(session, tmp_path):
    v = parse_variation("_batch_size.4", session.spec)
    options = run_mod.RunOptions.of(scenarios=("Offline", "SingleStream"), mode="both", count=50,
                                 max_batchsize=4, output_dir=tmp_path, user="1234:5678", hw_name="lab box")
    argv = shlex.split(run_mod.dry_run(session, v, options))
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--network") + 1] == "none"
    assert argv[argv.index("--user") + 1] == "1234:5678"
    mount = argv[argv.index("--mount") + 1]
    assert mount.startswith(f"type=bind,source={tmp_path.resolve()}/") and mount.endswith(",target=/results")
    image = "mlperf-docker/onnxruntime-cpu:resnet50-fp32-standin"
    harness = argv[argv.index(image) + 1:]
    pairs = dict(zip(harness[::2], harness[1::2]))
    assert pairs["--scenario"] == "Offline,SingleStream" and pairs["--mode"] == "both"
    assert pairs["--count"] == "50" and pairs["--max_batchsize"] == "4"
    assert pairs["--system"] == "lab_box-reference-cpu-onnxruntime-v1.32.0"
    assert list(tmp_path.iterdir()) == []  # a dry run creates nothing


def test_new_run_dir_never_reuses_a_folder(tmp_path):
    first = new_run_dir(tmp_path, "x")
    (first / "keep.txt").write_text("first")
    second = new_run_dir(tmp_path, "x")
    assert first != second and (first / "keep.txt").read_text() == "first"


def test_unwritable_output_dir(tmp_path):
    if os.geteuid() == 0:
        target = Path("/proc/mlperf-results")  # not creatable even for root
    else:
        target = tmp_path / "ro" / "x"
        (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(UsageError, match="--output_dir"):
        new_run_dir(target, "x")


def test_seed_flags_reach_the_harness_command(session, tmp_path):
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"onnx")
    imagenet = tmp_path / "imagenet"
    imagenet.mkdir()
    (imagenet / "val_map.txt").write_text("a.JPEG 1\n")
    v = parse_variation(None, session.spec)
    options = opts.RunOptions.of(scenarios=("Offline", "Server", "SingleStream", "MultiStream"), mode="both",
                              offline_target_qps=900.0, server_target_qps=50.5, singlestream_target_latency=0.5,
                              multistream_target_latency=4.0, target_qps=100.0, threads=2, dataset_args="a=b",
                              custom_model=model, imagenet_path=imagenet, output_dir=tmp_path / "out")
    argv = shlex.split(run_mod.dry_run(session, v, options))
    pairs = dict(zip(argv[argv.index("--model"):][::2], argv[argv.index("--model"):][1::2]))
    assert pairs["--offline_target_qps"] == "900" and pairs["--server_target_qps"] == "50.5"
    assert pairs["--singlestream_target_latency"] == "0.5" and pairs["--multistream_target_latency"] == "4"
    assert pairs["--target_qps"] == "100" and pairs["--threads"] == "2" and pairs["--dataset_args"] == "a=b"
    assert pairs["--model_path"] == "/opt/mlperf/custom-model/mine.onnx"
    assert pairs["--dataset_path"] == "/opt/mlperf/user-dataset"
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    assert f"type=bind,source={tmp_path},target=/opt/mlperf/custom-model,readonly" in mounts
    assert f"type=bind,source={imagenet},target=/opt/mlperf/user-dataset,readonly" in mounts


def test_real_image_needs_imagenet_path(session, tmp_path):
    v = parse_variation(None, session.spec)
    with pytest.raises(UsageError, match="carries no dataset .* --imagenet_path"):
        run_mod.dry_run(session, v, opts.RunOptions.of(standin=False, output_dir=tmp_path))


def test_signature_ignores_where_results_go():
    v = parse_variation(None, load_spec())
    a = opts.RunOptions.of(output_dir=Path("a"), rerun=True)
    b = opts.RunOptions.of(output_dir=Path("b"))
    assert a.signature(v) == b.signature(v)
    assert a.signature(v) != opts.RunOptions.of(count=5).signature(v)


def test_previous_run_and_clean(tmp_path):
    complete = tmp_path / "1-complete"
    complete.mkdir()
    (complete / "run.json").write_text('{"signature": "abc"}')
    broken = tmp_path / "2-broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"signature": "abc"}')
    (broken / "INCOMPLETE").write_text("x")
    assert run_mod.previous_run(tmp_path, "abc") == complete
    assert run_mod.previous_run(tmp_path, "other") is None
    run_mod.clean_incomplete(tmp_path, lambda msg: None)
    assert complete.exists() and not broken.exists()


def test_dataset_path_for_bert_is_checked_and_mounted(session, tmp_path):
    squad = tmp_path / "squad"
    squad.mkdir()
    v = parse_variation("_bert-99", session.spec)
    options = opts.RunOptions.of(dataset_path=squad, output_dir=tmp_path / "out", standin=False)
    with pytest.raises(UsageError, match="expected a squad folder holding dev-v1.1.json"):
        run_mod.dry_run(session, v, options)
    (squad / "dev-v1.1.json").write_text("{}")
    argv = shlex.split(run_mod.dry_run(session, v, options))
    assert f"type=bind,source={squad},target=/opt/mlperf/user-dataset,readonly" in argv
    assert "mlperf-docker/onnxruntime-cpu:bert-99-fp32" in argv
    with pytest.raises(UsageError, match="--imagenet_path applies to ImageNet models"):
        imagenet = tmp_path / "imagenet"
        imagenet.mkdir()
        (imagenet / "val_map.txt").write_text("")
        run_mod.dry_run(session, v, opts.RunOptions.of(imagenet_path=imagenet, output_dir=tmp_path / "out"))
    with pytest.raises(UsageError, match="carries no dataset .* --dataset_path"):
        run_mod.dry_run(session, v, opts.RunOptions.of(standin=False, output_dir=tmp_path / "out"))
