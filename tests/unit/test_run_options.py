import os
import shlex
from pathlib import Path

import pytest

from launcher import run as run_mod
from launcher.errors import UsageError
from launcher.results import new_run_dir
from launcher.session import Session
from launcher.variation import parse_variation


@pytest.fixture(scope="module")
def session():
    return Session.open()


def test_scenarios(session):
    v = parse_variation(None, session.spec)
    assert run_mod.resolve_scenarios(v, None) == ("Offline",)
    assert run_mod.resolve_scenarios(v, "offline, SingleStream") == ("Offline", "SingleStream")
    v = parse_variation("_singlestream", session.spec)
    assert run_mod.resolve_scenarios(v, None) == ("SingleStream",)
    assert run_mod.resolve_scenarios(v, "singlestream") == ("SingleStream",)
    with pytest.raises(UsageError, match="contradicts the variation _singlestream"):
        run_mod.resolve_scenarios(v, "Offline")
    with pytest.raises(UsageError, match="expected one of Offline"):
        run_mod.resolve_scenarios(v, "Batch")


def test_batch_size(session):
    v = parse_variation("_batch_size.8", session.spec)
    assert run_mod.resolve_batch_size(v, None) == 8
    assert run_mod.resolve_batch_size(v, 8) == 8
    with pytest.raises(UsageError, match="contradicts the variation _batch_size.8"):
        run_mod.resolve_batch_size(v, 16)


@pytest.mark.parametrize("options, message", [
    (dict(mode="fast"), "--mode 'fast'"),
    (dict(count=0), "--count 0"),
    (dict(target_qps=-1.0), "--target_qps -1.0"),
    (dict(user="bob"), "--user 'bob'"),
    (dict(run_style="quick"), "--run_style 'quick'"),
])
def test_invalid_options(options, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        run_mod.validate(run_mod.RunOptions(**options))


def test_dry_run_command(session, tmp_path):
    v = parse_variation("_batch_size.4", session.spec)
    options = run_mod.RunOptions(scenarios=("Offline", "SingleStream"), mode="both", count=50,
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
    assert pairs["--count"] == "50" and pairs["--max-batchsize"] == "4"
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
