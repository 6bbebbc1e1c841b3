"""One LoadGen test (one scenario x one mode) in a process of its own.

    python -m mlperf_harness.loadgen_child --spec '<TestSpec JSON>'

Started by the harness with its working directory set to the (fresh, empty)
test folder, so no stray audit.config can apply; an audit (compliance) test runs
in its TESTxx folder, which holds the test's audit.config. LoadGen's embedded
mlperf.conf is honoured only on the first FromConfig call in a process,
hence one process per test. Prints the backend and providers in use; on
failure prints one ``error:`` line and exits 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import numpy as np

from mlperf_harness import backends, loadgen_settings, models, results
from mlperf_harness.contract import BY_NAME
from mlperf_harness.errors import HarnessError, abort, describe
from mlperf_harness.plan import TestSpec
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.sut import POOLED_SCENARIOS, SystemUnderTest, gathers_ahead, server_batch_timeout_s


def _die_with_parent() -> None:
    """Linux: get SIGTERM if the harness process dies, so no orphan test keeps running."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _workers(device: str, backend=None) -> int:
    env = os.environ.get("MLPERF_HARNESS_WORKERS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    if getattr(backend, "workers", None):  # a backend of several executors (ray: one per actor)
        return backend.workers
    # CPU: one worker, the framework's own threads use the cores. Accelerators:
    # two, so gathering the next batch overlaps the current inference.
    return 1 if device == "cpu" else 2


def _zeros(sample_spec, size: int):
    arrays = tuple(np.zeros((size,) + tuple(shape), dtype=dtype) for shape, dtype in sample_spec)
    return arrays[0] if len(arrays) == 1 else arrays


def _warm_up(run, sample_spec, batch_sizes) -> None:
    """Run once per batch size before the timed test; a model that cannot take
    the dataset's samples fails here, with a clear message."""
    for size in sorted(set(batch_sizes)):
        try:
            run(_zeros(sample_spec, size))
        except Exception as exc:
            shapes = ", ".join(f"{[size] + list(shape)} {np.dtype(dtype).name}"
                               for shape, dtype in sample_spec)
            raise HarnessError(f"the model cannot run a {shapes} batch: {describe(exc)}") from None


def run_test(spec: TestSpec) -> None:
    model = models.get_model(spec.model)
    if model.code.llm:  # generative: a Hugging Face checkpoint folder and the token-streaming SUT
        from mlperf_harness.llm.run import run_test as run_llm_test

        return run_llm_test(spec, model, _guarded)
    if model.code.runner:  # a checkpoint folder through the model's own pipeline (sdxl)
        return model.code.load("runner")(spec, model, _guarded)
    settings = loadgen_settings.build_test_settings(
        model.loadgen_key, spec.scenario, spec.mode, spec.user_conf)
    log_settings = loadgen_settings.build_log_settings(spec.test_dir)
    backend = None
    try:
        if spec.extra.get("sut_servers"):
            sut, qsl = _network_sut(spec, model)
        else:
            backend = _create_backend(spec, model)
            sut, qsl = _local_sut(spec, model, settings, backend)
        start_test(spec, sut, qsl, settings, log_settings)
        if hasattr(backend, "stats_line"):  # ray: samples per actor
            print(backend.stats_line(), flush=True)
    finally:
        if hasattr(backend, "close"):  # ray: ray.shutdown()
            backend.close()
    results.remove_empty_trace(Path(spec.test_dir))


def start_test(spec: TestSpec, sut, qsl, settings, log_settings) -> None:
    """One LoadGen test of ``sut`` on ``qsl``; both destroyed after it; the SUT's stats line printed."""
    import mlperf_loadgen as lg

    sut_handle = sut.construct()
    qsl_handle = qsl.construct()
    try:
        # An audit test names its audit.config; otherwise a path that cannot exist, so
        # that no audit.config is ever picked up by accident.
        audit = spec.audit_config or os.path.join(spec.test_dir, "no-audit.config")
        lg.StartTestWithLogSettings(sut_handle, qsl_handle, settings, log_settings, audit)
    finally:
        sut.destroy()
        qsl.destroy()
    print(f"{sut.stats_line()} for {spec.scenario} {spec.mode}", flush=True)


def _create_backend(spec: TestSpec, model):
    return backends.create_backend(
        spec.backend, spec.model_path, device=spec.device, threads=spec.threads, precision=spec.precision,
        input_names=model.input_names, outputs=model.outputs, output_names=model.output_names,
        input_aliases=model.input_aliases)


def _local_sut(spec: TestSpec, model, settings, backend):
    """The backend in this process: the QSL and the SUT of a local run."""
    print(f"backend for {spec.scenario} {spec.mode}: {backend.describe()}", flush=True)
    options = dict(spec.dataset_args)
    options.setdefault("layout", getattr(backend, "image_format", "NCHW"))
    dataset = model.open_dataset(spec.dataset_path, spec.total_count,
                                    model_path=spec.model_path, **options)

    max_batch = spec.max_batchsize
    if model.max_batch is not None and model.max_batch < max_batch:
        print(f"{model.name}: batches of at most {model.max_batch} (the reference's batching rule)",
              flush=True)
        max_batch = model.max_batch
    if backend.max_batch is not None and backend.max_batch < max_batch:
        print(f"warning: the model has a fixed batch size of {backend.max_batch}; "
              f"using it instead of --max-batchsize {max_batch}", file=sys.stderr, flush=True)
        max_batch = backend.max_batch
    if spec.scenario == "SingleStream":
        max_batch = 1
    infer = model.infer()
    _warm_up(lambda batch: infer(backend, batch), dataset.sample_spec, [1, max_batch])
    if hasattr(backend, "reset_stats"):  # count the timed test only
        backend.reset_stats()

    qsl = SampleLibrary(dataset, spec.perf_count)
    qsl.load_samples = _guarded(qsl.load_samples, "loading samples failed")
    prefetch = spec.scenario in POOLED_SCENARIOS and gathers_ahead(
        spec.extra.get("prefetch", BY_NAME["prefetch"].default), spec.device, spec.threads)
    if prefetch:
        print("prefetch: a thread gathers the next batch while the framework runs the current one",
              flush=True)
    sut = SystemUnderTest(spec.scenario, backend, qsl, model.postprocess,
                          max_batchsize=max_batch, workers=_workers(spec.device, backend),
                          prefetch=prefetch,
                          batch_timeout_s=server_batch_timeout_s(
                              settings.server_target_latency_ns,
                              spec.extra.get("batch_timeout_ms")),
                          latency_bound_s=settings.server_target_latency_ns / 1e9,
                          infer=infer, responses=model.responses)
    return sut, qsl


def _network_sut(spec: TestSpec, model):
    """LoadGen over the network: the QSL here, a QDL sending the queries to the SUT servers (whose
    backend takes the layout of the variation's framework, known without importing it)."""
    from mlperf_harness.network import NetworkQDL

    layout = backends.IMAGE_FORMATS.get(backends.canonical(spec.backend), "NCHW")
    options = dict(spec.dataset_args)
    options.setdefault("layout", layout)
    dataset = model.open_dataset(spec.dataset_path, spec.total_count,
                                 model_path=spec.model_path, **options)
    qsl = SampleLibrary(dataset, spec.perf_count)
    sut = NetworkQDL(spec.extra["sut_servers"], qsl, max_batchsize=spec.max_batchsize)
    sut.connect()
    print(f"SUT for {spec.scenario} {spec.mode}: {sut.name()}", flush=True)
    qsl.load_samples = _guarded(sut.loading(qsl.load_samples), "loading samples failed")
    qsl.unload_samples = sut.unloading(qsl.unload_samples)
    return sut, qsl


def _guarded(func, what):
    def wrapper(*args):
        try:
            return func(*args)
        except BaseException as exc:
            abort(f"{what}: {describe(exc)}")

    return wrapper


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlperf_harness.loadgen_child")
    parser.add_argument("--spec", required=True, help="TestSpec as JSON")
    args = parser.parse_args(argv)
    _die_with_parent()
    try:
        spec = TestSpec.from_json(args.spec)
        if not os.path.isdir(spec.test_dir):
            raise HarnessError(f"test folder {spec.test_dir} does not exist")
        run_test(spec)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # no traceback for the user; set MLPERF_HARNESS_DEBUG=1 for one
        if os.environ.get("MLPERF_HARNESS_DEBUG"):
            raise
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
