"""Runs a RunPlan: checks everything up front, writes the per-scenario files,
then runs each test (scenario x mode) in a child process and reports it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import List, Tuple

from mlperf_harness import compliance, find_peak, loadgen_settings, models, report, results
from mlperf_harness.errors import AlreadyReported, HarnessError
from mlperf_harness.plan import RunPlan, TestSpec

_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


class _Terminated(Exception):
    pass


def _on_sigterm(signum, frame):
    raise _Terminated()


def _notes(plan: RunPlan) -> List[str]:
    """The harness's own settings, recorded as comments in user.conf."""
    args = ",".join(f"{k}={v}" for k, v in sorted(plan.dataset_args.items())) or "none"
    return [f"harness: backend={plan.backend} device={plan.device} "
            f"max_batchsize={plan.max_batchsize} threads={plan.threads or 'default'} "
            f"run_style={plan.run_style} count={plan.count or 'all'} dataset_args={args}"]


def _warnings(plan: RunPlan) -> List[str]:
    """Generic targets given for a scenario they do not apply to (a flag that applies to no
    scenario run, like a scenario-specific one whose scenario is not run, is a usage error)."""
    out = []
    for scenario in plan.scenarios:
        ignored = loadgen_settings.ignored_targets(scenario, plan.target_qps,
                                                   plan.target_latency_ms)
        if ignored:
            out.append(f"{' and '.join(ignored)} do(es) not apply to {scenario}; ignored")
    return out


def run_plan(plan: RunPlan) -> int:
    model = models.get_model(plan.model)
    results.check_name("--system", plan.system)
    if model.code.check_model:
        model.code.load("check_model")(plan.model_path)  # a model's refusal of a real artifact it cannot load
    if not (os.path.isdir if model.code.folder_model else os.path.isfile)(plan.model_path):
        what = "checkpoint folder" if model.code.folder_model else "model file"
        raise HarnessError(f"{what} {plan.model_path} not found")
    if model.dataset is None:
        raise HarnessError(f"model {plan.model} is not supported by this harness yet")
    compliance.check_tests(plan.compliance, model.name, model.loadgen_key)
    if plan.beam_size and not (model.code.llm and model.code.load("llm").beam_setting):
        raise HarnessError(f"--beam-size: {model.name} does not search with beams (only gptj does)")
    if plan.network == "sut":  # a SUT server: no LoadGen here, nothing written
        from mlperf_harness.network_sut import serve

        return serve(plan)
    if plan.network == "lon":  # every server answers before anything is written
        from mlperf_harness.network import get_json

        for url in plan.sut_servers:
            get_json(url, "/name")
    # Opened here for its size and the accuracy script; the tests open their own copy.
    dataset = model.open_dataset(plan.dataset_path, plan.count,
                                    model_path=plan.model_path, **plan.dataset_args)
    total = len(dataset)
    perf_count = models.perf_sample_count(model, total)
    measurements = results.measurements_text(plan.model_path, model.input_data_types)

    # Everything is checked before anything is written.
    conf_texts = {}
    tests: List[Tuple[str, str, Path]] = []
    for scenario in plan.scenarios:
        target_qps, target_latency_ms = plan.targets(scenario)
        text = loadgen_settings.user_conf_text(
            model.loadgen_key, scenario, plan.run_style, perf_count, model.perf_sample_count,
            plan.test_query_count, target_qps, target_latency_ms, notes=_notes(plan))
        conf_texts[scenario] = text
        base = results.scenario_dir(plan.output_dir, plan.system, model.name, scenario)
        results.check_kept_file(base / results.USER_CONF, text)
        results.check_kept_file(base / results.MEASUREMENTS, measurements)
        for mode in plan.modes:
            folder = results.test_dir(plan.output_dir, plan.system, model.name, scenario, mode)
            results.check_free(folder)
            tests.append((scenario, mode, folder))
        for test in plan.compliance:  # after the runs it is verified against
            results.check_free(base / test)
            tests.append((scenario, test, base / test))

    for warning in _warnings(plan):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    for scenario in plan.scenarios:
        base = results.scenario_dir(plan.output_dir, plan.system, model.name, scenario)
        results.write_kept_file(base / results.USER_CONF, conf_texts[scenario])
        results.write_kept_file(base / results.MEASUREMENTS, measurements)

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    node = None
    try:
        node = _ray_node(plan)
        for scenario, mode, folder in tests:
            if mode in compliance.TESTS:
                _run_audit(plan, model, dataset, scenario, mode, folder, total, perf_count)
                continue
            results.make_test_dir(folder)
            spec = TestSpec(
                model=model.name, backend=plan.backend, device=plan.device,
                model_path=plan.model_path, dataset_path=plan.dataset_path,
                scenario=scenario, mode=mode, total_count=total, perf_count=perf_count,
                max_batchsize=plan.max_batchsize, threads=plan.threads,
                user_conf=str(results.scenario_dir(plan.output_dir, plan.system, model.name,
                                                   scenario) / results.USER_CONF),
                test_dir=str(folder), dataset_args=dict(plan.dataset_args), precision=plan.precision,
                extra=_child_extra(plan))
            if plan.find_peak and scenario == "Server" and mode == "performance":
                _find_peak(plan, model, spec, conf_texts["Server"])
            else:
                _run_child(spec)
            _finish_test(spec, folder, model, dataset)
    except _Terminated:
        print("error: terminated", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
        if node is not None:
            node.stop()
    return 0


def _ray_node(plan: RunPlan):
    """ray: one Ray node for the whole run, which each test's process joins (a node start per
    test would cost more than a short test); see backends/ray_backend.py."""
    if plan.backend != "ray":
        return None
    try:
        from mlperf_harness.backends.ray_backend import RunNode
    except ImportError as exc:
        raise HarnessError(f"backend ray is not installed in this image ({exc})") from None
    return RunNode(plan.device, plan.threads)


def _child_extra(plan: RunPlan) -> dict:
    """The plan's SUT and network settings a test's child needs: the same for the submission
    runs and their audit runs (an audit is compared with the run it checks)."""
    return {"batch_timeout_ms": plan.batch_timeout_ms, "prefetch": plan.prefetch,
            "sut_servers": plan.sut_servers, "beam_size": plan.beam_size}


def _run_audit(plan: RunPlan, model, dataset, scenario: str, test: str, folder: Path,
               total: int, perf_count: int) -> None:
    """One audit test: a performance run in ``folder`` (holding its audit.config, LoadGen's
    working folder) logging to folder/performance/run_1, then its verification."""
    base = results.scenario_dir(plan.output_dir, plan.system, model.name, scenario)
    run_dir = folder / "performance" / "run_1"
    results.make_test_dir(run_dir)
    audit = folder / compliance.AUDIT_CONFIG
    compliance.write_text(audit, compliance.audit_config_text(test))
    spec = TestSpec(
        model=model.name, backend=plan.backend, device=plan.device,
        model_path=plan.model_path, dataset_path=plan.dataset_path,
        scenario=scenario, mode="performance", total_count=total, perf_count=perf_count,
        max_batchsize=plan.max_batchsize, threads=plan.threads,
        user_conf=str(base / results.USER_CONF), test_dir=str(run_dir),
        dataset_args=dict(plan.dataset_args), audit_config=str(audit), work_dir=str(folder),
        precision=plan.precision, extra=_child_extra(plan))
    _run_child(spec, label=f"{scenario} {test}")
    results.remove_empty_trace(run_dir)
    missing = results.missing_files(run_dir, results.REQUIRED["performance"])
    if missing:
        raise HarnessError(f"{scenario} {test}: LoadGen did not write {', '.join(missing)} "
                           f"in {run_dir}")

    def score(log_path) -> str:
        try:
            return model.scorer().score(log_path, dataset).line()
        except HarnessError as exc:
            return f"not scored: {exc}"

    for line in compliance.verify_test(test, base, model.response_dtype, score, plan.model_path):
        print(f"{scenario} {line}", flush=True)


def _find_peak(plan: RunPlan, model, spec: TestSpec, server_conf: str) -> None:
    """Server performance by find-peak: short runs, each a child test with its own
    user.conf in its own folder; the best VALID one becomes ``spec.test_dir``'s result."""
    def run(scenario: str, conf_text: str, folder: Path):
        conf = folder / results.USER_CONF
        conf.write_text(conf_text, encoding="utf-8")
        _run_child(replace(spec, scenario=scenario, mode="performance", user_conf=str(conf),
                           test_dir=str(folder)))
        results.remove_empty_trace(folder)
        return results.read_summary(folder / results.SUMMARY).raw

    offline_conf = loadgen_settings.user_conf_text(
        model.loadgen_key, "Offline", "test", spec.perf_count, model.perf_sample_count,
        plan.test_query_count, notes=_notes(plan))
    find_peak.find_peak(run, model.loadgen_key, offline_conf, server_conf,
                        Path(spec.user_conf).parent, Path(spec.test_dir))


def _child_env() -> dict:
    env = dict(os.environ)
    paths = [_PACKAGE_PARENT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run_child(spec: TestSpec, label: str = "") -> None:
    """Run one test; raise HarnessError (or exit quietly if the child already
    printed its own ``error:`` line) when it fails."""
    command = [sys.executable, "-m", "mlperf_harness.loadgen_child", "--spec", spec.to_json()]
    label = label or f"{spec.scenario} {spec.mode}"
    proc = subprocess.Popen(command, cwd=spec.work_dir or spec.test_dir, env=_child_env(),
                            stderr=subprocess.PIPE, text=True, errors="replace")
    reported = False
    try:
        for line in proc.stderr:
            if line.startswith("error:"):
                reported = True
            sys.stderr.write(line)
            sys.stderr.flush()
        rc = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    if rc == 0:
        return
    if reported:
        raise AlreadyReported(f"{label} test failed")
    if rc < 0:
        raise HarnessError(f"{label} test died with signal {-rc}; partial logs in {spec.test_dir}")
    raise HarnessError(f"{label} test failed (exit code {rc}); partial logs in {spec.test_dir}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _finish_test(spec: TestSpec, folder: Path, model, dataset) -> None:
    results.remove_empty_trace(folder)
    missing = results.missing_files(folder, results.REQUIRED[spec.mode])
    if missing:
        raise HarnessError(f"{spec.scenario} {spec.mode}: LoadGen did not write "
                           f"{', '.join(missing)} in {folder}")
    summary = results.read_summary(folder / results.SUMMARY)
    if spec.mode == "accuracy":
        outcome = model.scorer().score(folder / results.ACCURACY_LOG, dataset,
                                               expect_total=spec.total_count)
        (folder / results.ACCURACY_TXT).write_text(outcome.accuracy_txt(), encoding="utf-8")
        print(f"{spec.scenario} accuracy: {outcome.line()}", flush=True)
    else:
        print(report.performance_line(spec.scenario, summary), flush=True)
