"""`submission generate` on hand-made run folders: the MLPerf layout, truncated accuracy logs with
their hash, README per scenario, system description, src/; bad input is one line and writes nothing."""

import hashlib
import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from submission_fixtures import HOST, IMAGE, SYSTEM, USER_YAML, make_run, tree_digest  # noqa: E402

from launcher.errors import UsageError  # noqa: E402
from launcher.run.lifecycle import mark_incomplete, write_complete  # noqa: E402
from launcher.submission import generate as gen  # noqa: E402
from launcher.submission import system  # noqa: E402
from launcher.submission.truncate import MAX_SIZE, truncated_copy  # noqa: E402


@pytest.fixture
def yaml_file(tmp_path):
    path = tmp_path / "system.yaml"
    path.write_text(USER_YAML)
    return path


@pytest.fixture
def generated(tmp_path, yaml_file):
    run = make_run(tmp_path / "runs")
    before = tree_digest(run)
    root = gen.generate([run], tmp_path / "sub", yaml_file, host=HOST, say=lambda m: None)
    return run, before, root


def test_layout(generated):
    run, _, root = generated
    assert root.parts[-2:] == ("closed", "MyOrg")
    for scenario in ("Offline", "SingleStream"):
        base = root / "results" / SYSTEM / "resnet50" / scenario
        for name in ("README.md", "user.conf", "measurements.json", "performance/run_1/mlperf_log_summary.txt",
                     "performance/run_1/mlperf_log_detail.txt", "accuracy/mlperf_log_summary.txt",
                     "accuracy/mlperf_log_detail.txt", "accuracy/mlperf_log_accuracy.json",
                     "accuracy/accuracy.txt", "TEST01/verify_accuracy.txt", "TEST01/verify_performance.txt",
                     "TEST01/performance/run_1/mlperf_log_detail.txt", "TEST01/accuracy/mlperf_log_accuracy.json",
                     "TEST04/verify_performance.txt", "TEST04/performance/run_1/mlperf_log_summary.txt"):
            assert (base / name).is_file(), name
        assert not (base / "TEST01" / "audit.config").exists()
    assert (root / "systems" / f"{SYSTEM}.json").is_file()
    assert (root / "src" / "harness" / "mlperf_harness" / "compliance.py").is_file()
    assert (root / "src" / "images.yaml").is_file()
    assert (root / "src" / "dockerfiles" / "onnxruntime-cpu.Dockerfile").is_file()
    assert not list((root / "src").rglob("__pycache__"))
    assert (root / "documentation" / "README.md").is_file()
    assert not list(root.parent.parent.glob(".*partial*"))


def test_accuracy_logs_truncated_with_their_hash(generated):
    run, _, root = generated
    for rel in ("accuracy", "TEST01/accuracy"):
        source = run / SYSTEM / "resnet50" / "Offline" / rel / "mlperf_log_accuracy.json"
        copy = root / "results" / SYSTEM / "resnet50" / "Offline" / rel / "mlperf_log_accuracy.json"
        assert source.stat().st_size > MAX_SIZE > copy.stat().st_size
        text = (copy.parent / "accuracy.txt").read_text()
        assert text.startswith("accuracy=75.000%")
        assert f"\nhash={hashlib.sha256(source.read_bytes()).hexdigest()}\n" in text


def test_small_log_copied_whole(tmp_path):
    source, txt = tmp_path / "log.json", tmp_path / "accuracy.txt"
    source.write_text("[]\n")
    txt.write_text("accuracy=1.0%")
    digest = truncated_copy(source, tmp_path / "out.json", txt)
    assert (tmp_path / "out.json").read_text() == "[]\n"
    assert txt.read_text() == f"accuracy=1.0%\n\nhash={digest}\n"


def test_runs_are_not_modified(generated):
    run, before, _ = generated
    assert tree_digest(run) == before


def test_readme_names_command_and_image(generated):
    _, _, root = generated
    text = (root / "results" / SYSTEM / "resnet50" / "Offline" / "README.md").read_text()
    assert "mlperf-docker run --scenario Offline,SingleStream --mode both" in text
    assert IMAGE in text and "sha256:" + "1" * 64 in text
    assert "Stand-in model and dataset" in text
    assert "TEST01: accuracy PASS, performance PASS" in text


def test_system_description_complete(generated):
    _, _, root = generated
    data = json.loads((root / "systems" / f"{SYSTEM}.json").read_text())
    assert set(system.REQUIRED_FIELDS) <= set(data)
    assert all(data[name] for name in system.MEANINGFUL_FIELDS)
    assert data["submitter"] == "MyOrg" and data["division"] == "closed" and data["status"] == "available"
    assert data["framework"] == "onnxruntime 1.32.0"
    assert "6.0.17" in data["other_software_stack"] and IMAGE in data["other_software_stack"]
    assert data["hw_notes"] == "stand-in test box"


def test_user_yaml_wins_over_host(tmp_path, yaml_file):
    yaml_file.write_text(USER_YAML + "host_memory_configuration: 2x 12 GB DDR5\n")
    root = gen.generate([make_run(tmp_path / "runs")], tmp_path / "sub", yaml_file, host=HOST,
                        say=lambda m: None)
    data = json.loads((root / "systems" / f"{SYSTEM}.json").read_text())
    assert data["host_memory_configuration"] == "2x 12 GB DDR5"


def _refused(tmp_path, runs, yaml_file, match):
    out = tmp_path / "sub"
    with pytest.raises(UsageError, match=match) as info:
        gen.generate(runs, out, yaml_file, host=HOST, say=lambda m: None)
    assert "\n" not in str(info.value)
    assert not out.exists() and not list(tmp_path.glob(".sub.partial*"))


def test_incomplete_run_refused(tmp_path, yaml_file):
    run = make_run(tmp_path / "runs")
    mark_incomplete(run, "harness exited with status 1")
    _refused(tmp_path, [run], yaml_file, r"is an incomplete run \(harness exited with status 1\)")


def test_other_tools_folder_refused(tmp_path, yaml_file):
    other = tmp_path / "cm-results"
    (other / "sys" / "resnet50" / "Offline").mkdir(parents=True)
    _refused(tmp_path, [other], yaml_file, "not an mlperf-docker run folder")


def test_run_without_accuracy_refused(tmp_path, yaml_file):
    run = make_run(tmp_path / "runs")
    (run / "COMPLETE").unlink()
    (run / SYSTEM / "resnet50" / "Offline" / "accuracy" / "accuracy.txt").unlink()
    write_complete(run, ("Offline", "SingleStream"), "performance")  # a complete performance-only run
    _refused(tmp_path, [run], yaml_file, r"lacks accuracy/accuracy.txt \(run with --mode both\)")


def test_same_result_twice_refused(tmp_path, yaml_file):
    a = make_run(tmp_path / "runs", name="a")
    b = make_run(tmp_path / "runs", name="b")
    _refused(tmp_path, [a, b], yaml_file, "both hold")


@pytest.mark.parametrize("text, match", [
    ("submitter: MyOrg\nstatus: available\nsystem_type: edge\n", "missing cooling"),
    ("submitter: MyOrg\nstatus: sold\nsystem_type: edge\ncooling: air\n", "status 'sold'"),
    ("submitter: MyOrg\nstatus: available\nsystem_type: cloud\ncooling: air\n", "system_type 'cloud'"),
    ("- a list\n", "expected a mapping"),
    ("submitter: [unclosed\n", "not readable YAML"),
    ("submitter: My Org\nstatus: available\nsystem_type: edge\ncooling: air\n", "must be a plain name"),
])
def test_bad_system_yaml_refused(tmp_path, text, match):
    yaml_file = tmp_path / "system.yaml"
    yaml_file.write_text(text)
    _refused(tmp_path, [make_run(tmp_path / "runs")], yaml_file, match)


def test_output_not_empty_refused(tmp_path, yaml_file):
    out = tmp_path / "sub"
    out.mkdir()
    (out / "keep").write_text("x")
    with pytest.raises(UsageError, match="exists and is not empty"):
        gen.generate([make_run(tmp_path / "runs")], out, yaml_file, host=HOST, say=lambda m: None)
    assert [p.name for p in out.iterdir()] == ["keep"]


def test_meaningful_field_empty_refused():
    with pytest.raises(UsageError, match="no value for host_storage_type"):
        system.describe(dict(HOST, host_storage_type=""), {"submitter": "x", "status": "available",
                        "system_type": "edge", "cooling": "air"}, "closed", "onnxruntime 1", "sw")


def test_accelerator_fields():
    none = system.accelerator_fields([])
    assert none["accelerators_per_node"] == "0" and none["accelerator_model_name"] == "N/A"
    gpus = system.accelerator_fields([{"name": "NVIDIA H200", "memory": "141 GB", "link": "PCIe Gen5 x16"}] * 2)
    assert gpus["accelerators_per_node"] == "2" and gpus["accelerator_host_interconnect"] == "PCIe Gen5 x16"


def test_host_fields_from_this_machine():
    fields = system.host_fields()
    for name in ("host_processor_model_name", "host_processor_core_count", "host_memory_capacity",
                 "host_storage_capacity", "operating_system", "accelerators_per_node"):
        assert fields[name], name


def test_cli_one_line_exit_2(tmp_path, yaml_file):
    from launcher.cli.submission import submission_app

    app = typer.Typer()
    app.add_typer(submission_app, name="submission")
    run = make_run(tmp_path / "runs")
    mark_incomplete(run, "interrupted")
    result = CliRunner().invoke(app, ["submission", "generate", str(run), "-o", str(tmp_path / "sub"),
                                      "--system-yaml", str(yaml_file)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "incomplete run" in result.output
    assert not (tmp_path / "sub").exists()


def _network_run(tmp_path, servers=("http://127.0.0.1:8000", "http://127.0.0.1:8001")):
    record = {"signature": "n", "variation": "_cpu,_onnxruntime,_resnet50,_fp32", "image": IMAGE,
              "scenarios": ["Offline"], "mode": "both", "network": {"mode": "lon", "sut_servers": list(servers)}}
    return make_run(tmp_path / "runs", scenarios=("Offline",), audits=(), record=record)


def test_network_run_goes_to_the_network_division_with_its_fields(tmp_path, yaml_file):
    run = _network_run(tmp_path)
    with pytest.raises(UsageError, match="a run over the network .* not for the closed division"):
        gen.generate([run], tmp_path / "sub", yaml_file, host=HOST, say=lambda m: None)
    assert not (tmp_path / "sub").exists()
    root = gen.generate([run], tmp_path / "sub", yaml_file, division="network", host=HOST, say=lambda m: None)
    assert root.parts[-2:] == ("network", "MyOrg")
    [described] = (root / "systems").glob("*.json")
    data = json.loads(described.read_text())
    assert data["division"] == "network" and data["is_network"] == "true"
    for field in ("network_type", "network_media", "network_rate", "nic_loadgen", "number_nic_loadgen",
                  "net_software_stack_loadgen", "network_protocol", "number_connections", "nic_sut",
                  "number_nic_sut", "net_software_stack_sut", "network_topology"):
        assert data[field], field
    assert data["number_connections"] == "8" and data["network_type"] == "loopback"


def test_local_run_refused_in_the_network_division(tmp_path, yaml_file):
    run = make_run(tmp_path / "runs")
    with pytest.raises(UsageError, match="not a run over the network"):
        gen.generate([run], tmp_path / "sub", yaml_file, division="network", host=HOST, say=lambda m: None)
    assert system.network_fields({}) == {}
