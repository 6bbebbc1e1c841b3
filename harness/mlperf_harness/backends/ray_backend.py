"""Ray backend: the reference's Ray SUT for bert (language/bert/ray_SUT.py), the pytorch backend in
Ray actors.

Ray runs inside the container as a single node on loopback only: ``ray.init`` with node IP
127.0.0.1, no dashboard (``include_dashboard=False``), no usage statistics
(RAY_USAGE_STATS_ENABLED=0, set before ray is imported) and its session files under /tmp (the
container's tmpfs). The object store is sized to fit the container's /dev/shm (``--shm-size``): a
quarter of its free space, at most 512 MiB; where /dev/shm is too small for Ray's minimum (docker's
default 64 MiB is), the store is a 96 MiB file under /tmp instead (slower, and counted against
``--memory``): pass ``--shm-size 1g`` or more to keep it in shared memory.
MLPERF_RAY_OBJECT_STORE_MB overrides the size.

Actors, as the reference's ``TorchPredictor``: each loads the model with the pytorch backend (the same
state_dict loading, so the same weights and stand-in) and runs batches. On the CPU, ``--threads N``
gives N actors with one intra-op thread each (default: one actor per CPU this process may use); on
cuda/rocm, one actor per GPU Ray sees (``num_gpus=1`` each: Ray gives each its own device). The
reference maps one-sample batches over an ActorPool; here each batch the SUT forms (up to
``--max_batchsize``, as for every backend) goes to an idle actor, oldest idle first, so actors take
turns, and ``workers`` (one per actor) lets Offline and Server keep every actor busy. The per-actor
sample counts are in ``stats_line``. ``close`` shuts Ray down (``ray.shutdown``) and reports how many
Ray processes are left in the container.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import sys
import threading
import time
from typing import List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import first_line
from mlperf_harness.errors import HarnessError

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")  # the raylet's wait for its agents
try:
    import ray
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"ray: {_exc}") from _exc

MIB = 1 << 20
RAY_MIN_STORE = 80 * MIB  # Ray refuses object stores under 75 MiB
STORE_CAP = 512 * MIB
TMP_STORE = 96 * MIB
# Process names of a Ray node (its services and workers; actors rename themselves ray::<Class>).
_CLOSING = threading.Lock()
RAY_PROCESS_MARKS = ("raylet", "gcs_server", "ray::", "default_worker.py", "ray/_private/",
                     "ray/dashboard/", "ray/autoscaler/")


def object_store(shm: str = "/dev/shm", override_mb: str = ""):
    """(bytes, plasma directory or None for /dev/shm) for the object store."""
    free = shutil.disk_usage(shm).free if os.path.isdir(shm) else 0
    if override_mb:
        size = int(override_mb) * MIB
        return size, (None if size <= free else "/tmp")
    size = min(STORE_CAP, free // 4)
    if size >= RAY_MIN_STORE:
        return size, None
    return TMP_STORE, "/tmp"


def ray_processes(own_pid: int = 0) -> List[tuple]:
    """(pid, command line) of the Ray processes running in this (container's) process namespace."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own_pid:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd and any(mark in cmd for mark in RAY_PROCESS_MARKS):
            found.append((int(entry), cmd))
    return found


class _Predictor:
    """One actor: the pytorch backend on the model file, as the reference's TorchPredictor."""

    def __init__(self, model_path: str, options: dict) -> None:
        from mlperf_harness.backends.pytorch_backend import PyTorchBackend

        self.backend = PyTorchBackend(model_path, **options)
        self.pid = os.getpid()

    def describe(self) -> str:
        return self.backend.describe()

    def forward(self, inputs):
        # Arrays from Ray's object store are read-only; torch wants writable ones.
        return self.backend.infer(tuple(np.array(a) for a in inputs))


def _cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return first_line(cause if isinstance(cause, BaseException) else exc)


STORE_ENV = "MLPERF_RAY_STORE"  # the runner's node's object store, for the tests' logs


def start_node(device: str, threads=None) -> str:
    """Start a single-node Ray here (this process its driver) and return its object store's
    description. CPU: ``threads`` CPUs (default: those this process may use), one actor each;
    GPUs: Ray's own detection."""
    size, plasma = object_store(override_mb=os.environ.get("MLPERF_RAY_OBJECT_STORE_MB", ""))
    cpus = len(os.sched_getaffinity(0))
    init = dict(num_cpus=int(threads or cpus), num_gpus=0) if device == "cpu" else dict(num_cpus=cpus)
    for attempt in (1, 2):  # Ray gives its node 30 s to start: a busy host may need a second try
        try:
            ray.init(include_dashboard=False, object_store_memory=size, _plasma_directory=plasma,
                     _node_ip_address="127.0.0.1", log_to_driver=True, configure_logging=False,
                     **init)
            break
        except Exception as exc:
            ray.shutdown()
            for pid, _ in ray_processes(os.getpid()):  # what the failed start left running
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if attempt == 2:
                raise HarnessError(f"ray.init failed: {first_line(exc)}") from None
            print(f"warning: ray.init failed ({first_line(exc)}); trying once more",
                  file=sys.stderr, flush=True)
    return f"{size // MIB} MiB object store in {plasma or '/dev/shm'}"


def stop_node(wait_s: float = 10) -> None:
    """ray.shutdown(), then wait up to ``wait_s`` for the node's processes to be gone and say how
    many are left."""
    ray.shutdown()
    deadline = time.monotonic() + wait_s
    left = ray_processes(os.getpid())
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = ray_processes(os.getpid())
    names = "".join(f" {cmd.split()[0].rsplit('/', 1)[-1]}" for _, cmd in left)
    print(f"ray: node shut down; {len(left)} Ray processes left{names}", flush=True)


class RunNode:
    """The runner's Ray node for a whole run (one node start, not one per test): started here,
    the tests' processes connect to it (RAY_ADDRESS), ``stop`` shuts it down."""

    def __init__(self, device: str, threads=None) -> None:
        store = start_node(device, threads)
        os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
        os.environ[STORE_ENV] = store
        print(f"ray: node started on 127.0.0.1 ({store})", flush=True)

    def stop(self) -> None:
        os.environ.pop("RAY_ADDRESS", None)
        stop_node()


class RayBackend(Backend):
    name = "ray"
    image_format = "NCHW"
    precisions = ("fp32", "bfloat16")  # the pytorch backend's
    threads_label = "actors"

    def load(self) -> None:
        self._closed = False
        self.owns_node = not os.environ.get("RAY_ADDRESS")
        if self.owns_node:  # run on its own (benchmarks, a harness without the runner's node)
            self.store = start_node(self.device, self.threads)
        else:  # the node the runner started for the whole run
            try:
                ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=True,
                         configure_logging=False)
            except Exception as exc:
                raise HarnessError(f"cannot connect to the Ray node: {first_line(exc)}") from None
            self.store = os.environ.get(STORE_ENV, "object store")
        resources = ray.cluster_resources()
        gpus = 0
        if self.device == "cpu":
            count = int(resources.get("CPU", 1))
        else:
            gpus = count = int(resources.get("GPU", 0))
            if not gpus:
                self.close(report=False)
                raise HarnessError(f"--device {self.device}: Ray sees no GPU in the container")
        options = dict(device=self.device, threads=1 if self.device == "cpu" else None,
                       input_names=self.wanted_inputs, outputs=self.outputs,
                       output_names=self.wanted_outputs, precision=self.precision)
        actor = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0)(_Predictor)
        self.actors = [actor.remote(self.model_path, options) for _ in range(count)]
        try:
            described = ray.get([a.describe.remote() for a in self.actors])
        except Exception as exc:
            self.close(report=False)
            raise HarnessError(f"a Ray actor failed to load the model: {_cause(exc)}") from None
        self.actor_description = described[0]
        self.workers = count
        self._idle: "queue.Queue" = queue.Queue()
        for index in range(count):
            self._idle.put(index)
        self._lock = threading.Lock()
        self.reset_stats()
        self._shut_down_on_sigterm()
        print(f"ray: {count} actors ready ({self.store}, node 127.0.0.1)", flush=True)

    def _shut_down_on_sigterm(self) -> None:
        """A SIGTERM (the harness stopping this test, or its death) shuts Ray down before the process
        exits with 143: left to the default action, Ray's agents outlive the process. LoadGen holds
        the main thread, where Python handlers run, so the handler only wakes a thread of its own
        (through the signal wakeup fd, written whichever thread the signal hits)."""
        if threading.current_thread() is not threading.main_thread():
            return
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._wakeup = (reader, writer)

        def watch():
            while reader.recv(1) != bytes([signal.SIGTERM]):
                pass
            print("error: stopped by SIGTERM; shutting Ray down", file=sys.stderr, flush=True)
            try:
                self.close(wait_s=5)
            finally:
                os._exit(143)

        threading.Thread(target=watch, name="ray-sigterm", daemon=True).start()

    def runtime(self) -> str:
        return f"ray {ray.__version__} ({self.store}); each actor: {self.actor_description}"

    def threads_in_use(self):
        return len(self.actors)

    def infer(self, inputs) -> List[np.ndarray]:
        index = self._idle.get()
        try:
            try:
                out = ray.get(self.actors[index].forward.remote(tuple(inputs)))
            except BaseException as exc:
                if self._closed:  # Ray is being shut down on SIGTERM: the process exits with 143
                    threading.Event().wait()
                raise HarnessError(f"Ray actor {index} failed: {_cause(exc)}") from None
        finally:
            self._idle.put(index)
        with self._lock:
            self.samples[index] += int(len(inputs[0]))
            self.batches[index] += 1
        return [np.asarray(a) for a in out]

    def reset_stats(self) -> None:
        with self._lock:
            self.samples = [0] * len(self.actors)
            self.batches = [0] * len(self.actors)

    def stats_line(self) -> str:
        with self._lock:
            per = ", ".join(f"actor {n}: {s} samples in {b} batches"
                            for n, (s, b) in enumerate(zip(self.samples, self.batches)))
        return f"ray: {len(self.actors)} actors: {per}"

    def close(self, report: bool = True, wait_s: float = 10) -> None:
        """Disconnect (ray.shutdown: this driver's actors end); a node of its own is shut down
        with it, and (``report``) the Ray processes left are counted."""
        with _CLOSING:
            if self._closed:
                return
            self._closed = True
        if self.owns_node and report:
            stop_node(wait_s)
        else:
            ray.shutdown()
