"""The run plan and the generated run options: one table entry makes a flag, and the plan carries it."""

from __future__ import annotations

import shlex

import pytest
from mlperf_harness.contract import SETTINGS

from launcher.cli.run import run as run_command
from launcher.run.options import LAUNCH_OPTIONS, RunOptions
from launcher.run.plan import make_plan
from launcher.session import Session
from launcher.spec.variation import parse_variation
from unit_support import cli


@pytest.fixture(scope="module")
def session():
    return Session.open()


def test_run_options_are_generated_from_the_two_tables():
    import inspect

    names = set(inspect.signature(run_command).parameters)
    assert {s.name for s in SETTINGS if not s.computed} <= names
    assert {o.name for o in LAUNCH_OPTIONS} <= names
    assert not {"model_path", "system", "backend"} & names  # computed by the plan, not user flags


def test_memory_is_one_entry_and_reaches_the_plan(session, tmp_path):
    v = parse_variation(None, session.spec)
    plan = make_plan(session, v, RunOptions.of(output_dir=tmp_path, memory="8g"))
    assert plan.container(tmp_path).mem_limit == "8g"
    argv = shlex.split(plan.docker_run_line())
    assert argv[argv.index("--memory") + 1] == "8g"
    assert "--memory" not in shlex.split(make_plan(session, v, RunOptions.of(output_dir=tmp_path)).docker_run_line())


def test_memory_on_the_command_line(tmp_path):
    proc = cli("run", "--dry-run", "--memory", "512m", "--output_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " --memory 512m " in proc.stdout
    bad = cli("run", "--dry-run", "--memory", "lots", "--output_dir", tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --memory 'lots': expected a size such as 8g or 512m (a number with an optional b, k, m or g)"]


def test_the_plan_is_frozen_and_its_argv_is_the_contracts(session, tmp_path):
    plan = make_plan(session, parse_variation("_singlestream", session.spec), RunOptions.of(
        scenarios=("SingleStream",), count=7, output_dir=tmp_path))
    with pytest.raises(AttributeError):
        plan.image = "other"  # type: ignore[misc]
    assert plan.argv == plan.benchmark.to_argv() == plan.container(tmp_path).command
    assert plan.benchmark.scenario == "SingleStream" and plan.benchmark.count == 7
    assert plan.label == "onnxruntime-cpu-resnet50"
