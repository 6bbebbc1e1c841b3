"""Measurements for benchmarks/run.py: one backend x model stand-in, in one process.

A :class:`Case` loads the stand-in's samples into the harness's own QSL once;
every measurement then uses the same samples, the same gather and the same
backend object:

- raw Offline: gather each batch from the QSL (as the SUT does), run it,
  postprocess it, back to back, no LoadGen;
- harness Offline: LoadGen's Offline test on the harness's SUT (worker pool,
  one QuerySamplesComplete per batch), LoadGen's "Samples per second";
- the process CPU time of each (``last_cpu_s``): raw from its first gather to
  its last postprocess, harness from the SUT's issue to its last completion
  (every thread: worker, completer, LoadGen's), so their ratio is the
  harness's extra work per sample whatever share of the CPUs the process got
  (on a shared host the samples/s ratio moves with the others' load);
- raw SingleStream: LoadGen's SingleStream p90 (same settings) on a bare SUT
  that runs the one-sample backend call and its postprocessing (as raw Offline
  does; right after a framework call it costs 16 us where it costs 3 us warm,
  resnet50 on pytorch) and completes an empty response, so the difference is
  the harness's own cost (LoadGen's dispatch is in both);
  the p90 of bare one-sample calls, without LoadGen, is kept for reference;
- harness SingleStream: LoadGen's SingleStream p90 on the SUT;
- the same two on a no-op backend (:class:`Replay`: the model's recorded output for one sample,
  returned at once), for a model answered by one backend call: their difference is the harness's
  own cost per query without the framework's run-to-run spread (on this host a one-sample resnet50
  call on pytorch has a p90 50 us above its median, which the difference of two separate tests'
  p90s inherits);
- Server peak: mlperf_harness.find_peak.search over LoadGen Server runs on the
  SUT at the model's MLPerf latency bound, for the ratio target / harness
  Offline throughput (an Offline run right before each Server step).

The batch limit (Offline and Server alike) is picked per model by
:meth:`Case.pick_batch`: the largest power of two up to the requested one
whose measured batch latency is at most a quarter of the latency bound (a
sample may queue behind one batch and then run in its own, and the host may
stretch both), so that the Server figure compares like with like.

LoadGen runs in this process with settings made in code (no mlperf.conf),
so A and B can be interleaved: every ratio pairs runs made moments apart.
"""

from __future__ import annotations

import importlib
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from mlperf_harness import backends, models, results
from mlperf_harness.find_peak import search
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.sut import SystemUnderTest, server_batch_timeout_s

# benchmark name -> (harness model, stand-in generator module, backends with a stand-in)
MODELS = {
    "resnet50": ("resnet50", "resnet50", ("onnxruntime", "pytorch", "tf", "tflite", "ncnn", "deepsparse",
                              "tvm-onnx", "tvm-tflite", "tvm-pytorch")),
    "bert": ("bert-99", "bert", ("onnxruntime", "pytorch", "deepsparse")),
    "dlrm": ("dlrm-99", "dlrm_v2", ("pytorch",)),
    "rnnt": ("rnnt", "rnnt", ("pytorch",)),
    "retinanet": ("retinanet", "retinanet", ("onnxruntime", "pytorch")),
    "3d-unet": ("3d-unet-99", "unet3d", ("onnxruntime", "pytorch")),
}
# MLPerf's Server latency bounds (mlperf.conf), ms
# (3d-unet has no Server scenario: no bound, no peak search)
LATENCY_BOUND_MS = {"resnet50": 15.0, "bert": 130.0, "dlrm": 60.0, "rnnt": 1000.0, "retinanet": 100.0,
                    "3d-unet": None}
# each generator's size argument (--samples)
SIZE_ARGUMENT = {"resnet50": "n_samples", "bert": "n_questions", "dlrm_v2": "n_samples",
                 "rnnt": "n_utterances", "retinanet": "n_samples", "unet3d": "n_cases"}
FRAMEWORKS = {"onnxruntime": ("onnxruntime",), "pytorch": ("torch",), "tf": ("tensorflow",),
              "tflite": ("ai_edge_litert", "tflite_runtime", "tensorflow"), "ncnn": ("ncnn",),
              "deepsparse": ("deepsparse",), "tvm-onnx": ("tvm",), "tvm-tflite": ("tvm",), "tvm-pytorch": ("tvm",)}
# The stand-in file each backend runs, by the generator backend that writes it: deepsparse runs the
# onnxruntime stand-in's ONNX model; ncnn a build-time conversion of it (backends/ncnn_convert.py, as the
# image's convert stage runs it); TVM compiles onnxruntime's or tflite's file (the same weights).
STANDIN_FORMAT = {"deepsparse": "onnxruntime", "ncnn": "onnxruntime", "tvm-onnx": "onnxruntime", "tvm-tflite": "tflite",
                  "tvm-pytorch": "pytorch"}
# A backend whose images take another generator's stand-in: tvm-pytorch imports the pytorch state_dict stand-in
# (the reference ResNet-50 class at a tiny size) through torch.export, as its images do.
GENERATOR_MODULE = {"tvm-pytorch": "standin_pytorch"}
# The framework a backend's Offline throughput is set against on its own stand-in file, where that is not
# onnxruntime's (tvm-pytorch: pytorch running the same state_dict).
PEER = {"tvm-pytorch": "pytorch"}
# A batch's latency may be at most this share of the model's latency bound (Case.pick_batch).
BATCH_LATENCY_SHARE = 0.25
# Where the generators live (first found wins).
GENERATOR_PACKAGES = ("mlperf_harness.models.{}.{}",)


class Pinned:
    """A backend whose calling thread is moved onto ``cpus`` (a set; None: left where it is)
    at its first call there: raw's thread and the SUT's workers alike. With one framework
    thread the framework runs on the calling thread, so raw and harness then run it on the
    same CPU."""

    def __init__(self, backend) -> None:
        self.backend, self.cpus, self._local = backend, None, threading.local()

    def run(self, batch):
        cpus = self.cpus
        if cpus is not None and getattr(self._local, "cpus", None) != cpus:
            os.sched_setaffinity(0, cpus)
            self._local.cpus = cpus
        return self.backend.run(batch)

    def __getattr__(self, name):
        return getattr(self.backend, name)


class Replay:
    """A backend whose every call returns one recorded output at once."""

    def __init__(self, outputs) -> None:
        self.outputs = outputs

    def run(self, batch):
        return self.outputs


def available(backend: str) -> bool:
    for name in FRAMEWORKS[backend]:
        if importlib.util.find_spec(name) is not None:
            return True
    return False


def generator(name: str, module: str = "standin"):
    for pattern in GENERATOR_PACKAGES:
        try:
            return importlib.import_module(pattern.format(name, module))
        except ImportError:
            continue
    raise RuntimeError(f"no stand-in generator for {name}")


class Case:
    """One backend x model stand-in, loaded and warmed up."""

    def __init__(self, model: str, backend: str, work: Path, batch: int,
                 threads: Optional[int] = None, samples: int = 64) -> None:
        harness_model, gen_name, _ = MODELS[model]
        gen = generator(gen_name, GENERATOR_MODULE.get(backend, "standin"))
        out = work / f"{model}-{backend}"
        info = gen.generate(out, backend=STANDIN_FORMAT.get(backend, backend), **{SIZE_ARGUMENT[gen_name]: samples})
        if backend == "ncnn":
            from mlperf_harness.backends import ncnn_convert

            info["model_path"] = str(ncnn_convert.convert(Path(info["model_path"]), out / "ncnn",
                                                          ncnn_convert.pnnx_binary(None))[0])
        self.info = models.get_model(harness_model)
        # the model's batching rule caps the batch (dlrm, rnnt: one sample per model call)
        self.name, self.backend_name, self.batch = model, backend, min(batch, self.info.max_batch or batch)
        # the model's own inference routine where one sample is more than backend.run (its
        # feature extraction, aggregation), raw and harness alike
        self.infer = self.info.infer() if self.info.code.infer else None
        self._infer = self.infer or (lambda backend, batch: backend.run(batch))
        self.backend = Pinned(backends.create_backend(
            backend, info["model_path"], device="cpu", threads=threads,
            input_names=self.info.input_names, outputs=self.info.outputs,
            output_names=self.info.output_names))
        self.peer_name = PEER.get(backend)
        self.peer = None if self.peer_name is None else Pinned(backends.create_backend(
            self.peer_name, info["model_path"], device="cpu", threads=threads,
            input_names=self.info.input_names, outputs=self.info.outputs,
            output_names=self.info.output_names))
        # A model with a fixed batch (the tvm-tflite stand-in: 1) caps the batches, as in the harness.
        self.batch = min(self.batch, self.backend.max_batch or self.batch)
        dataset = self.info.open_dataset(info["dataset_path"],
                                         layout=getattr(self.backend, "image_format", "NCHW"))
        self.count = len(dataset)
        self.qsl = SampleLibrary(dataset, self.count)
        self.qsl.load_samples(list(range(self.count)))
        self.latency_bound_ms = LATENCY_BOUND_MS[model]
        self._rng = np.random.default_rng(0)
        for size in (1, self.batch):
            self._infer(self.backend, self.qsl.gather([i % self.count for i in range(size)]))
        self.requested_batch = self.batch
        self.batch_latency_ms: Dict[int, float] = {}
        self.last_cpu_s: Optional[float] = None
        # a no-op stand-in for the backend where one call answers a sample (no model infer routine)
        self.replay = None if self.infer else Pinned(Replay(self.backend.run(self.qsl.gather((0,)))))
        self.framework_cpu: Optional[int] = None
        self.cpus = sorted(os.sched_getaffinity(0))  # this thread's, as it was made

    def pin(self, cpu: Optional[int]) -> None:
        """Run the framework on CPU ``cpu`` and everything else (LoadGen's threads, the SUT's
        gatherer and completer, this thread) on the other CPUs, from the next call on; None:
        anywhere. Each CPU of a VM may run at its own, changing speed (here one often ran a
        bare bert batch 1.6x as fast as the other): pinned, raw and harness run the framework
        on the same one, and the scheduler's placement drops out of their ratio."""
        for backend in (self.backend, self.peer, self.replay):
            if backend is not None:
                backend.cpus = None if cpu is None else {cpu}
        os.sched_setaffinity(0, set(self.cpus) - ({cpu} if cpu is not None else set()))
        self.framework_cpu = cpu

    def pick_batch(self, share: float = BATCH_LATENCY_SHARE) -> int:
        """Set ``batch`` to the largest power of two up to the requested batch whose median
        latency (gather + run + postprocess, 1 + 64 / size runs, on a thread) is at most
        ``share`` of the latency bound; at least 1. Returns it."""
        sizes = [1 << k for k in range(self.requested_batch.bit_length())
                 if 1 << k <= self.requested_batch]
        if sizes[-1] != self.requested_batch:
            sizes.append(self.requested_batch)

        def timed(size):
            indices = [i % self.count for i in range(size)]
            times = []
            for _ in range(1 + 64 // size):
                start = time.perf_counter()
                self._post(self._infer(self.backend, self.qsl.gather(indices)), indices)
                times.append(time.perf_counter() - start)
            return statistics.median(times) * 1e3

        if self.latency_bound_ms is None:  # no Server scenario: the batch is the model's rule's
            return self.batch
        self.batch_latency_ms = self._on_a_thread(lambda: {size: timed(size) for size in sizes})
        fitting = [size for size in sizes
                   if self.batch_latency_ms[size] <= share * self.latency_bound_ms]
        self.batch = max(fitting, default=1)
        return self.batch

    def describe(self) -> str:
        return self.backend.describe()

    def _post(self, outputs, indices):
        """The response arrays, as the SUT makes them."""
        if self.info.responses is not None:
            return [np.ascontiguousarray(r) for r in self.info.responses(outputs, indices)]
        return np.ascontiguousarray(self.info.postprocess(outputs))

    # raw ---------------------------------------------------------------------
    @staticmethod
    def _on_a_thread(func):
        """Run ``func`` on a fresh thread, as the SUT's worker (and LoadGen's
        thread) run the backend: some frameworks (TorchScript) behave
        differently on the main thread."""
        out = []
        thread = threading.Thread(target=lambda: out.append(func()), name="raw")
        thread.start()
        thread.join()
        if not out:
            raise RuntimeError("the raw measurement failed (see above)")
        return out[0]

    def raw_offline(self, n_samples: int) -> float:
        return self._on_a_thread(lambda: self._raw_offline(n_samples))

    def bare_call_p90_ms(self, queries: int) -> float:
        """p90 of bare one-sample calls (no LoadGen), ms."""
        return self._on_a_thread(lambda: self._raw_singlestream_p90_ms(queries))

    def raw_singlestream_p90_ms(self, queries: int, backend=None) -> float:
        """LoadGen's SingleStream p90 on a bare SUT: the one-sample call and its postprocessing
        (as raw Offline has), an empty response."""
        import mlperf_loadgen as lg

        infer, backend, gather, post = self._infer, backend or self.backend, self.qsl.gather, self._post
        complete, response = lg.QuerySamplesComplete, lg.QuerySampleResponse

        def issue(ids, indices):
            post(infer(backend, gather((indices[0],))), indices)
            complete([response(ids[0], 0, 0)])

        summary = self.loadgen("SingleStream", queries, sut_handle=lg.ConstructFastSUT(
            issue, lambda: None))
        return float(summary["90.00 percentile latency (ns)"]) / 1e6

    def peer_offline(self, n_samples: int) -> float:
        """The raw Offline samples/s of the PEER framework on the same file and batches."""
        return self._on_a_thread(lambda: self._raw_offline(n_samples, self.peer))

    def _raw_offline(self, n_samples: int, backend=None) -> float:
        """samples/s: gather + run + postprocess per batch, back to back (``last_cpu_s``: the
        process CPU time it took)."""
        order = self._rng.integers(0, self.count, n_samples).tolist()
        post, infer, backend, gather = self._post, self._infer, backend or self.backend, self.qsl.gather
        cpu, start = time.process_time(), time.perf_counter()
        for first in range(0, n_samples, self.batch):
            indices = order[first:first + self.batch]
            post(infer(backend, gather(indices)), indices)
        wall = time.perf_counter() - start
        self.last_cpu_s = time.process_time() - cpu
        return n_samples / wall

    def _raw_singlestream_p90_ms(self, queries: int) -> float:
        order = self._rng.integers(0, self.count, queries).tolist()
        infer, backend, gather = self._infer, self.backend, self.qsl.gather
        times = []
        for index in order:
            t0 = time.perf_counter()
            infer(backend, gather([index]))
            times.append(time.perf_counter() - t0)
        return statistics.quantiles(times, n=10)[-1] * 1e3

    # harness under LoadGen ---------------------------------------------------
    def loadgen(self, scenario: str, queries: int, target_qps: Optional[float] = None,
                prefetch: bool = False, batch_timeout_ms: Optional[float] = None,
                min_duration_ms: int = 0, sut_handle=None, backend=None) -> Dict[str, str]:
        """One LoadGen performance test on the harness's SUT over ``backend`` (default: the
        case's), or on ``sut_handle`` (a ConstructFastSUT handle, destroyed here); its summary."""
        import mlperf_loadgen as lg

        settings = lg.TestSettings()
        settings.scenario = getattr(lg.TestScenario, scenario)
        settings.mode = lg.TestMode.PerformanceOnly
        settings.min_duration_ms = min_duration_ms
        settings.min_query_count = queries
        settings.max_query_count = 0 if min_duration_ms else queries
        settings.performance_sample_count_override = self.count
        bound_ns = int((self.latency_bound_ms or 0) * 1e6)  # 0: a model without a Server scenario
        if scenario == "Offline":
            settings.offline_expected_qps = target_qps or 1.0
        elif scenario == "Server":
            settings.server_target_qps = target_qps
            settings.server_target_latency_ns = bound_ns
        elif scenario == "SingleStream":
            settings.single_stream_expected_latency_ns = 100_000
        max_batch = 1 if scenario == "SingleStream" else self.batch
        sut = None if sut_handle is not None else SystemUnderTest(
            scenario, backend or self.backend, self.qsl, self.info.postprocess,
            max_batchsize=max_batch, prefetch=prefetch,
            batch_timeout_s=server_batch_timeout_s(bound_ns, batch_timeout_ms),
            latency_bound_s=(self.latency_bound_ms or 0.0) / 1e3,
            infer=self.infer, responses=self.info.responses)
        with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as out:
            log = lg.LogSettings()
            log.log_output.outdir = out
            log.log_output.copy_summary_to_stdout = False
            log.enable_trace = False
            if sut is not None:
                self._time_cpu(sut, queries if scenario == "Offline" else 0)
                sut_handle = sut.construct()
            # Samples stay loaded between tests: unloading is a no-op here.
            qsl_handle = lg.ConstructQSL(self.count, self.count, self.qsl.load_samples,
                                         lambda indices: None)
            try:
                lg.StartTestWithLogSettings(sut_handle, qsl_handle, settings, log,
                                            str(Path(out) / "no-audit.config"))
            finally:
                if sut is not None:
                    sut.destroy()
                    self.last_stats = sut.stats_line()
                else:
                    lg.DestroyFastSUT(sut_handle)
                lg.DestroyQSL(qsl_handle)
            return results.read_summary(Path(out) / results.SUMMARY).raw

    def _time_cpu(self, sut, total: int) -> None:
        """Set ``last_cpu_s`` to the process CPU time from ``sut``'s issue to its completing
        ``total`` samples (0: not timed). Adds one Python call per batch to the SUT."""
        self.last_cpu_s = None
        if not total:
            return
        issue, finish, start = sut.issue, sut._finish, [0.0]  # _finish: the SUT's one way to complete a batch

        def timed_issue(ids, indices):
            start[0] = time.process_time()
            issue(ids, indices)

        def timed_finish(*args):
            finish(*args)
            if sut.completed >= total:
                self.last_cpu_s = time.process_time() - start[0]

        sut.issue, sut._finish = timed_issue, timed_finish

    def harness_offline(self, n_samples: int, prefetch: bool = False) -> float:
        summary = self.loadgen("Offline", n_samples, prefetch=prefetch)
        return float(summary["Samples per second"])

    def harness_singlestream_p90_ms(self, queries: int, backend=None) -> float:
        summary = self.loadgen("SingleStream", queries, backend=backend)
        return float(summary["90.00 percentile latency (ns)"]) / 1e6

    def server_peak(self, offline_samples: int, prefetch: bool = False,
                    batch_timeout_ms: Optional[float] = None, duration_ms: int = 2000,
                    max_steps: int = 10, tolerance: float = 0.03, start: float = 0.8,
                    retries: int = 1):
        """find-peak's search over r = Server target / Offline throughput, from ``start``,
        an INVALID step retried ``retries`` times (as find-peak does): every step measures
        the harness Offline first and runs Server at r times it, so each step's ratio is
        made of runs moments apart. Returns (search over r, readings)."""
        readings = []

        def valid(ratio: float) -> bool:
            offline = self.harness_offline(offline_samples, prefetch=prefetch)
            summary = self.loadgen("Server", 500, target_qps=ratio * offline, prefetch=prefetch,
                                   batch_timeout_ms=batch_timeout_ms, min_duration_ms=duration_ms)
            ok = summary.get("Result is") == "VALID"
            readings.append({"ratio": ratio, "offline": offline, "target_qps": ratio * offline,
                             "valid": ok, "p99_ms": float(summary.get(
                                 "99.00 percentile latency (ns)", "nan")) / 1e6,
                             "sut": self.last_stats})
            return ok

        return search(valid, start, max_steps=max_steps, tolerance=tolerance,
                      retries=retries), readings
