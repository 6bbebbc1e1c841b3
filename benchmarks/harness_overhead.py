#!/usr/bin/env python3
"""How much the harness costs on top of the framework, on the resnet50 stand-in.

One run of this script:

1. generates the resnet50 stand-in for --backend (or reuses --standin DIR);
2. *raw Offline*: the backend's ``run()`` (a direct framework call: ORT's
   ``session.run``, a TorchScript call, a TF session run, a TFLite invoke) on
   batches of --batch-size already stacked in RAM, back to back;
3. *harness Offline*: ``python -m mlperf_harness`` exactly as a container runs
   it (LoadGen, QSL, SUT, worker pool), a performance test of --offline-samples
   samples at the same batch size; LoadGen's "Samples per second";
4. *raw SingleStream*: one sample per call, --singlestream-queries calls, p90
   of the call time;
5. *harness SingleStream*: the harness's SingleStream performance test,
   LoadGen's 90th percentile latency;

and prints the figures and the ratios (harness / raw). It asserts nothing.

    python benchmarks/harness_overhead.py [--backend onnxruntime] [--batch-size 32]
        [--threads N] [--samples 100] [--offline-samples 4096] [--singlestream-queries 1024]
        [--standin DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("onnxruntime", "pytorch", "tf", "tflite")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python benchmarks/harness_overhead.py",
        description="Harness overhead on the resnet50 stand-in: raw framework vs. the harness "
                    "(Offline samples/s and SingleStream p90 latency). Prints figures only.")
    p.add_argument("--backend", default="onnxruntime", choices=BACKENDS)
    p.add_argument("--batch-size", type=int, default=32, help="Offline batch size (both sides)")
    p.add_argument("--threads", type=int, help="framework intra-op threads (both sides)")
    p.add_argument("--samples", type=int, default=100, help="stand-in dataset size")
    p.add_argument("--offline-samples", type=int, default=4096,
                   help="samples per Offline measurement (both sides)")
    p.add_argument("--singlestream-queries", type=int, default=1024,
                   help="queries per SingleStream measurement (both sides)")
    p.add_argument("--standin", type=Path, help="an existing stand-in folder (model/, dataset/)")
    p.add_argument("--workdir", type=Path, help="where to put the stand-in and results "
                                                "(default: a temporary folder, removed)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args(argv)
    for name in ("batch_size", "samples", "offline_samples", "singlestream_queries"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def _paths():
    for path in (str(REPO / "harness"), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)


def standin(args, work: Path):
    from mlperf_harness.models.resnet50 import standin as resnet50

    if args.standin:
        root = args.standin
        model = root / "model" / resnet50.MODEL_FILES[args.backend]
        if not model.exists():
            resnet50.export_model(model, args.backend)
        return model, root / "dataset"
    info = resnet50.generate(work / "standin", n_samples=args.samples, backend=args.backend)
    return Path(info["model_path"]), Path(info["dataset_path"])


def raw(args, model: Path, dataset_path: Path):
    """(samples/s at --batch-size, p90 single-sample call in ms) of the bare backend."""
    import numpy as np

    from mlperf_harness import backends, models

    info = models.get_model("resnet50")
    backend = backends.create_backend(args.backend, str(model), device="cpu", threads=args.threads,
                                      input_names=info.input_names, outputs=info.outputs,
                                      output_names=info.output_names)
    dataset = info.open_dataset(str(dataset_path), layout=backend.image_format)
    samples = [dataset.load(i) for i in range(len(dataset))]
    batches = []
    for start in range(0, max(len(samples), args.batch_size * 4), args.batch_size):
        idx = [(start + k) % len(samples) for k in range(args.batch_size)]
        batches.append(np.stack([samples[i] for i in idx]))
        if len(batches) == 8:
            break
    for batch in batches[:2]:
        backend.run(batch)  # warm-up
    n_batches = max(1, args.offline_samples // args.batch_size)
    start = time.perf_counter()
    for i in range(n_batches):
        backend.run(batches[i % len(batches)])
    throughput = n_batches * args.batch_size / (time.perf_counter() - start)

    singles = [s[np.newaxis] for s in samples]
    for s in singles[:5]:
        backend.run(s)
    latencies = []
    for i in range(args.singlestream_queries):
        t0 = time.perf_counter()
        backend.run(singles[i % len(singles)])
        latencies.append(time.perf_counter() - t0)
    p90 = statistics.quantiles(latencies, n=10)[-1] * 1e3
    return throughput, p90, backend.describe()


def harness(args, model: Path, dataset_path: Path, out: Path, scenario: str, queries: int):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "harness")] + [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "mlperf_harness", "--model", "resnet50",
               "--backend", args.backend, "--device", "cpu", "--model-path", str(model),
               "--dataset-path", str(dataset_path), "--output-dir", str(out), "--system", "bench",
               "--scenario", scenario, "--mode", "performance",
               "--test-query-count", str(queries), "--max-batchsize", str(args.batch_size)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=out.parent)
    if proc.returncode != 0:
        sys.exit(f"the harness failed ({scenario}):\n{proc.stderr[-2000:]}")
    summary = (out / "bench" / "resnet50" / scenario / "performance" / "run_1"
               / "mlperf_log_summary.txt").read_text()
    if scenario == "Offline":
        return float(re.search(r"^Samples per second\s*:\s*([\d.e+]+)", summary, re.M).group(1))
    return float(re.search(r"^90\.00 percentile latency \(ns\)\s*:\s*(\d+)", summary, re.M).group(1)) / 1e6


def main(argv=None) -> int:
    args = parse_args(argv)
    _paths()
    temporary = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="harness-overhead-")) if temporary else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    try:
        model, dataset_path = standin(args, work)
        raw_qps, raw_p90, described = raw(args, model, dataset_path)
        offline_qps = harness(args, model, dataset_path, work / "offline", "Offline",
                              args.offline_samples)
        single_p90 = harness(args, model, dataset_path, work / "singlestream", "SingleStream",
                             args.singlestream_queries)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    figures = {
        "backend": described, "batch_size": args.batch_size, "cpus": os.cpu_count(),
        "offline_raw_samples_per_s": round(raw_qps, 1),
        "offline_harness_samples_per_s": round(offline_qps, 1),
        "offline_harness_over_raw": round(offline_qps / raw_qps, 3),
        "singlestream_raw_p90_ms": round(raw_p90, 4),
        "singlestream_harness_p90_ms": round(single_p90, 4),
        "singlestream_harness_over_raw": round(single_p90 / raw_p90, 3),
    }
    print(f"backend: {described}; batch size {args.batch_size}; {os.cpu_count()} CPUs")
    print(f"Offline       raw {raw_qps:10.1f} samples/s   harness {offline_qps:10.1f} samples/s   "
          f"harness/raw {offline_qps / raw_qps:.3f}")
    print(f"SingleStream  raw p90 {raw_p90:8.4f} ms      harness p90 {single_p90:8.4f} ms      "
          f"harness/raw {single_p90 / raw_p90:.3f}")
    print(json.dumps(figures))
    if temporary and args.keep:
        print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
