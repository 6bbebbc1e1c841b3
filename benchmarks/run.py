#!/usr/bin/env python3
"""The harness's performance figures, for every backend x model stand-in on this host.

    python benchmarks/run.py [--json out.json] [--models resnet50,bert]
        [--backends onnxruntime,pytorch,tf,tflite,ncnn,deepsparse,tvm-onnx,tvm-tflite,tvm-pytorch] [--batch-size 32] [--threads N]
        [--rounds 5] [--pairs 3] [--server-rounds 1] [--server-step-ms 2000] [--fixed-batch]
        [--prefetch auto|on|off] [--no-pin]
        [--workdir DIR]

For each case (a backend whose framework is installed, a model with a
stand-in for it), in one process (see bench.py):

- Offline harness/raw: LoadGen Offline on the harness's SUT over the raw
  backend with the same data movement (same batches, same QSL gather), the
  SUT gathering ahead as the harness's --prefetch decides (auto: on when
  --threads leaves a CPU free, as it does by default here); and, where that
  is on, the same without gathering ahead ("no prefetch": the harness's
  own cost, nothing overlapped);
- Offline CPU raw/harness: the process CPU time per sample of the raw loop
  over the harness's (issue to last completion, every thread): 1.0 = no extra
  work per sample; unlike samples/s it does not move with the host's load;
- SingleStream p90 overhead: harness p90 - raw p90, in ms, both LoadGen
  SingleStream tests with the same settings, raw on a bare SUT (the one-sample
  call and its postprocessing, an empty response): the harness's own cost per query (the JSON also
  has the p90 of bare calls without LoadGen); "no-op backend": the same two
  tests where the backend returns the sample's recorded output at once
  (bench.Replay; models answered by one backend call), so the framework's
  own spread drops out and what is left is the harness's cost;
- Server peak/Offline: the highest VALID Server target (find-peak's search,
  from 0.8, each INVALID step run once more, --server-step-ms long, at the
  model's MLPerf latency bound) over the harness's Offline throughput at the
  same max batch, each step's Offline measured right before it; and the same
  with batch_timeout_ms 0 (the pool runs whatever is waiting at once);

The max batch ("batch" column) is --batch-size, lowered per model to the
largest power of two whose measured batch latency is at most a quarter of the
latency bound (bench.Case.pick_batch; --fixed-batch: --batch-size as given),
the same for Offline and Server.
- Offline x onnxruntime: the harness's Offline throughput over onnxruntime's
  on the same model (tvm-onnx and tvm-tflite compile onnxruntime's / tflite's file;
  tvm-pytorch imports the pytorch state_dict stand-in, the reference ResNet-50
  class at a tiny size: its column is over pytorch running that same file, raw).

Every figure is a ratio or a difference of runs made moments apart
(interleaved), repeated --rounds times: the table gives the median and the
range. A round's Offline figures take --pairs short runs of each kind in turns.
With one framework thread (--threads 1, the default on 2 CPUs) the Offline
rounds and the Server searches pin it (raw's thread, the SUT's workers) to one
CPU, the next CPU each round or search, and the rest of the process to the others
(bench.Case.pin; --no-pin: not): the CPUs of a VM can differ in speed from
moment to moment, and left to the scheduler, raw and harness would run the
framework on different ones (bert on pytorch on this 2-CPU VM: rounds of
harness/raw 0.76-1.14 unpinned, 1.03-1.21 pinned, 4 turns of 0.3 s a round).
SingleStream leaves it unpinned (LoadGen's thread runs the framework there).
It asserts nothing; the JSON file has every reading. On a small host
give the framework fewer threads than CPUs (the default here): LoadGen's own
threads then do not preempt the framework's pool in mid-inference, which on 2
CPUs costs milliseconds of p90 (bert on pytorch: 12 ms with 2 threads, 0.3 ms
with 1, in the real harness).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (str(REPO / "harness"), str(REPO), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench  # noqa: E402  (needs the paths above)
from mlperf_harness.contract import PREFETCH_MODES  # noqa: E402
from mlperf_harness.sut import gathers_ahead  # noqa: E402


# queries per SingleStream test on the no-op backend (each takes microseconds)
NOOP_QUERIES = 5000
# an Offline run's least length, s (--pairs of them per round)
OFFLINE_RUN_S = 0.3


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path, help="write every reading to this file")
    p.add_argument("--models", default=",".join(bench.MODELS), help="comma-separated")
    p.add_argument("--backends", default="onnxruntime,pytorch,tf,tflite,ncnn,deepsparse,tvm-onnx,tvm-tflite,tvm-pytorch",
                   help="comma-separated")
    p.add_argument("--batch-size", type=int, default=32, help="max batch (Offline and Server)")
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                   help="framework intra-op threads, raw and harness alike (default: one less "
                        "than the CPUs, leaving LoadGen's threads a core; 0: the framework's own)")
    p.add_argument("--rounds", type=int, default=5, help="Offline and SingleStream pairs")
    p.add_argument("--pairs", type=int, default=3,
                   help="Offline runs of each kind per round, taken in turns (a round's figure: "
                        "their summed samples over their summed time)")
    p.add_argument("--server-rounds", type=int, default=1, help="peak searches per timeout; 0: none")
    p.add_argument("--server-step-ms", type=int, default=2000, help="each Server step's length")
    p.add_argument("--fixed-batch", action="store_true",
                   help="use --batch-size as given (default: lowered to fit the latency bound)")
    p.add_argument("--offline-samples", type=int, default=1024,
                   help="samples per Offline run, at least (more for a fast case: ~0.3 s)")
    p.add_argument("--singlestream-queries", type=int, default=1000)
    p.add_argument("--samples", type=int, default=64, help="stand-in dataset size")
    p.add_argument("--prefetch", choices=PREFETCH_MODES, default="auto",
                   help="the SUT gathers ahead (Offline, Server), as the harness's --prefetch")
    p.add_argument("--no-pin", dest="pin", action="store_false",
                   help="leave the framework's thread where the scheduler puts it (default with "
                        "--threads 1 on 2+ CPUs: pinned for Offline and Server, each round on the "
                        "next CPU in turn)")
    p.add_argument("--workdir", type=Path, help="keep the stand-ins here (default: temporary)")
    args = p.parse_args(argv)
    for name in ("batch_size", "rounds", "pairs", "offline_samples", "singlestream_queries", "samples",
                 "server_step_ms"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.threads < 0:
        p.error("--threads must be at least 0")
    if args.server_rounds < 0:
        p.error("--server-rounds must be at least 0")
    for model in args.models.split(","):
        if model not in bench.MODELS:
            p.error(f"unknown model {model!r}; choose from {', '.join(bench.MODELS)}")
    for backend in args.backends.split(","):
        if backend not in bench.FRAMEWORKS:
            p.error(f"unknown backend {backend!r}; choose from {', '.join(bench.FRAMEWORKS)}")
    return args


def summary(values):
    """median, min, max (rounded) of a list of readings."""
    if not values:
        return None
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "n": len(values)}


def in_turn(calls, forward: bool):
    """[call() for call in calls], run forwards or backwards (results in the given order)."""
    order = list(range(len(calls)))
    results = {}
    for index in (order if forward else order[::-1]):
        results[index] = calls[index]()
    return [results[index] for index in order]


def measure(case: "bench.Case", args) -> dict:
    pf = gathers_ahead(args.prefetch, "cpu", args.threads or None)
    n_ss = args.singlestream_queries
    if not args.fixed_batch:
        case.pick_batch()
    # Each Offline run: at least OFFLINE_RUN_S of raw Offline (LoadGen's fixed cost per test, a few
    # ms, must not count on a fast stand-in), at least --offline-samples where they take under 10 s,
    # and whole batches (never none: LoadGen does not survive an empty test); a Server step's
    # Offline reference runs at least a second. A slow model (3d-unet: ~0.1 s a case) is probed
    # with a few batches first; its SingleStream queries are capped at ~10 s too.
    rate = case.raw_offline(max(case.batch, 4) * 2)

    def whole_batches(samples: int) -> int:
        return max(case.batch, samples - samples % case.batch)

    n_off = whole_batches(max(int(rate * OFFLINE_RUN_S), min(args.offline_samples, int(rate * 10))))
    n_peak = whole_batches(max(int(rate), n_off))
    n_ss = max(16, min(n_ss, int(10 / max(case.bare_call_p90_ms(4) / 1e3, 1e-6))))
    offline, offline_cpu, plain, single, single_noop, bare, peer, load = [], [], [], [], [], [], [], []

    def rate_and_cpu(measure):
        return lambda: (measure(), case.last_cpu_s)

    pinned_cpus = case.cpus if args.pin and args.threads == 1 and len(case.cpus) > 1 else []

    def pin_round(n: int) -> None:  # the framework on the next CPU each round (or anywhere)
        case.pin(pinned_cpus[n % len(pinned_cpus)] if pinned_cpus else None)

    framework_cpus = []
    for n in range(args.rounds):
        load.append(round(os.getloadavg()[0], 2))
        pin_round(n)
        framework_cpus.append(case.framework_cpu)
        calls = [rate_and_cpu(lambda: case.raw_offline(n_off)),
                 rate_and_cpu(lambda: case.harness_offline(n_off, prefetch=pf))]
        if pf:  # the same without gathering ahead: the harness's own cost, nothing overlapped
            calls.append(rate_and_cpu(lambda: case.harness_offline(n_off, prefetch=False)))
        # --pairs runs of each, in turns whose order alternates (drift cancels out); a round's
        # figure is each one's samples over its summed time (CPU time: likewise)
        turns = [in_turn(calls, (n + k) % 2 == 0) for k in range(args.pairs)]
        (raw, raw_cpu), (harness, harness_cpu), *rest = [
            (len(turns) / sum(1 / turn[i][0] for turn in turns),
             sum(turn[i][1] or 0.0 for turn in turns) or None) for i in range(len(calls))]
        offline.append((raw, harness))
        offline_cpu.append((raw_cpu, harness_cpu))
        if rest:
            plain.append((raw, rest[0][0]))
        if case.peer is not None:
            peer.append(case.peer_offline(n_off))
        case.pin(None)
        single.append(tuple(in_turn([lambda: case.raw_singlestream_p90_ms(n_ss),
                                     lambda: case.harness_singlestream_p90_ms(n_ss)], n % 2 == 0)))
        bare.append(case.bare_call_p90_ms(n_ss))
        if case.replay is not None:
            single_noop.append(tuple(in_turn(
                [lambda: case.raw_singlestream_p90_ms(NOOP_QUERIES, backend=case.replay),
                 lambda: case.harness_singlestream_p90_ms(NOOP_QUERIES, backend=case.replay)],
                n % 2 == 0)))
    server = {"default": [], "timeout_0": []}
    # a model without a Server scenario (3d-unet) gets no peak search
    for n in range(args.server_rounds if case.latency_bound_ms is not None else 0):
        # pinned as the Offline rounds are: a search's Offline references and Server steps run
        # the framework on the same CPU
        pin_round(n)
        for label, timeout in (("default", None), ("timeout_0", 0.0)):
            found, readings = case.server_peak(n_peak, prefetch=pf, batch_timeout_ms=timeout,
                                               duration_ms=args.server_step_ms)
            server[label].append({"peak_over_offline": found.peak or 0.0, "steps": readings,
                                  "framework_cpu": case.framework_cpu})
    case.pin(None)
    return {
        "model": case.name, "backend": case.backend_name, "described": case.describe(),
        "batch_size": case.batch, "requested_batch": case.requested_batch,
        "peer": case.peer_name, "peer_raw_offline_samples_per_s": peer,
        "batch_latency_ms": {k: round(v, 3) for k, v in case.batch_latency_ms.items()},
        "latency_bound_ms": case.latency_bound_ms, "cpus": os.cpu_count(), "prefetch": pf,
        "offline_samples": n_off, "framework_cpu_per_round": framework_cpus,
        "offline_pairs_samples_per_s": offline,
        "offline_pairs_cpu_s": offline_cpu,
        "offline_pairs_no_prefetch_samples_per_s": plain,
        "load_average_1min": load,
        "singlestream_pairs_p90_ms": single,
        "singlestream_noop_backend_pairs_p90_ms": single_noop,
        "bare_call_p90_ms": bare,
        "server_searches": server,
        "offline_harness_samples_per_s": summary([h for _, h in offline]),
        "offline_harness_over_raw": summary([h / r for r, h in offline]),
        "offline_harness_over_raw_no_prefetch": summary([h / r for r, h in plain]),
        "offline_cpu_raw_over_harness": summary([r / h for r, h in offline_cpu if r and h]),
        "singlestream_p90_overhead_ms": summary([h - r for r, h in single]),
        "singlestream_p90_overhead_noop_backend_ms": summary([h - r for r, h in single_noop]),
        "singlestream_p90_over_bare_call_ms": summary([h - b for (_, h), b in zip(single, bare)]),
        **{f"server_peak_over_offline{'' if k == 'default' else '_' + k}": summary(
            [s["peak_over_offline"] for s in v]) for k, v in server.items()},
    }


def _cell(figure, digits=3) -> str:
    if figure is None:
        return "-"
    return (f"{figure['median']:.{digits}f} [{figure['min']:.{digits}f}, "
            f"{figure['max']:.{digits}f}]")


def table(rows) -> str:
    head = ("model", "backend", "batch", "Offline harness/raw", "same, no prefetch", "Offline CPU raw/harness",
            "SS p90 overhead ms", "same, no-op backend",
            "Server peak/Offline", "same, timeout 0", "Offline x onnxruntime")
    lines = [head] + [(r["model"], r["backend"], str(r["batch_size"]),
                       _cell(r["offline_harness_over_raw"]),
                       _cell(r["offline_harness_over_raw_no_prefetch"]),
                       _cell(r["offline_cpu_raw_over_harness"]),
                       _cell(r["singlestream_p90_overhead_ms"], 4),
                       _cell(r["singlestream_p90_overhead_noop_backend_ms"], 4),
                       _cell(r["server_peak_over_offline"]),
                       _cell(r["server_peak_over_offline_timeout_0"]),
                       _cell(r.get("offline_over_onnxruntime"))) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [" | ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    loads = [x for r in rows for x in r["load_average_1min"]]
    return "\n".join(out) + (f"\n(median [min, max] over the rounds; 1-min load average "
                             f"{min(loads, default=0):.2f}-{max(loads, default=0):.2f}, "
                             f"{os.cpu_count()} CPUs)")


def versus_onnxruntime(rows) -> None:
    """Each row's harness Offline samples/s over onnxruntime's on the same model's stand-in, round by
    round (the same weights: the tvm backends compile onnxruntime's and tflite's files)."""
    base = {r["model"]: [h for _, h in r["offline_pairs_samples_per_s"]] for r in rows
            if r["backend"] == "onnxruntime"}
    for r in rows:
        mine = [h for _, h in r["offline_pairs_samples_per_s"]]
        if r.get("peer"):  # its own stand-in file: set against the peer framework running that file
            r["offline_over_onnxruntime"] = summary([m / o for m, o in zip(mine, r["peer_raw_offline_samples_per_s"])])
        elif r["model"] in base:
            r["offline_over_onnxruntime"] = summary([m / o for m, o in zip(mine, base[r["model"]])])


def main(argv=None) -> int:
    args = parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mlperf-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], []
    try:
        for model in args.models.split(","):
            for backend in args.backends.split(","):
                if backend not in bench.MODELS[model][2]:
                    continue
                if not bench.available(backend):
                    skipped.append(f"{model}/{backend}: framework not installed")
                    continue
                print(f"measuring {model} on {backend} ...", file=sys.stderr, flush=True)
                case = bench.Case(model, backend, work, args.batch_size, args.threads or None,
                                  args.samples)
                rows.append(measure(case, args))
                del case
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    versus_onnxruntime(rows)
    print(table(rows))
    for line in skipped:
        print(f"skipped {line}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "skipped": skipped}, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
