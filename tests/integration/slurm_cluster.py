"""A one-node Slurm cluster on this host for the tests: munged, slurmctld and slurmd started from a
generated slurm.conf in a private folder (own ports, own munge socket and key, nothing under /etc
touched), and stopped again. Debian's slurmctld, slurmd, slurm-client and munge packages provide the
daemons (scripts/setup installs them). Run as a script, it starts a cluster and waits (for trying
things by hand): `python tests/integration/slurm_cluster.py /tmp/slurm`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise RuntimeError(f"{name} not found: install Debian's slurmctld slurmd slurm-client munge (scripts/setup)")
    return path


class LocalSlurm:
    """Start with .start(), stop with .stop(); .env is the environment Slurm's client commands need."""

    def __init__(self, folder: Path, partition: str = "mlperf"):
        self.folder = folder.resolve()
        self.partition = partition
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.folder / "slurm.conf"
        self.socket = self.folder / "munge" / "munge.socket"
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def _write_config(self) -> None:
        for sub in ("munge", "state", "spool", "logs"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        (self.folder / "munge").chmod(0o700)
        key = self.folder / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        f = self.folder
        self.conf.write_text("\n".join([
            "ClusterName=mlperfdocker",
            f"SlurmctldHost={self.host}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.socket}",
            f"StateSaveLocation={f / 'state'}",
            f"SlurmdSpoolDir={f / 'spool'}",
            f"SlurmctldPidFile={f / 'slurmctld.pid'}",
            f"SlurmdPidFile={f / 'slurmd.pid'}",
            f"SlurmctldLogFile={f / 'logs' / 'slurmctld.log'}",
            f"SlurmdLogFile={f / 'logs' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "ReturnToService=2",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MinJobAge=3600",  # finished jobs stay visible to squeue/scontrol (no accounting database here)
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ]) + "\n")

    def _spawn(self, *argv: str) -> None:
        log = (self.folder / "logs" / f"{Path(argv[0]).name}.out").open("ab")
        self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))

    def start(self, timeout: float = 60) -> "LocalSlurm":
        self._write_config()
        m = self.folder / "munge"
        self._spawn(_daemon("munged"), "--foreground", "--force", f"--socket={self.socket}",
                    f"--key-file={m / 'munge.key'}", f"--pid-file={m / 'munged.pid'}",
                    f"--log-file={m / 'munged.log'}", f"--seed-file={m / 'munged.seed'}")
        self._wait(lambda: self.socket.exists(), timeout, "munged")
        self._spawn(_daemon("slurmctld"), "-D", "-c", "-f", str(self.conf))
        self._spawn(_daemon("slurmd"), "-D", "-f", str(self.conf), "-N", self.host)
        self._wait(self._node_ready, timeout, "slurmctld/slurmd")
        return self

    def _node_ready(self) -> bool:
        proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True)
        return proc.returncode == 0 and proc.stdout.strip() in ("idle", "mixed", "allocated")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{what} did not come up within {timeout:.0f} s (logs in {self.folder / 'logs'}): "
                           + self.logs_tail())

    def logs_tail(self, chars: int = 3000) -> str:
        text = ""
        for log in sorted((self.folder / "logs").glob("*")) + [self.folder / "munge" / "munged.log"]:
            if log.is_file():
                text += f"\n--- {log.name}\n" + log.read_text(errors="replace")[-chars:]
        return text

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()


if __name__ == "__main__":
    cluster = LocalSlurm(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mlperf-docker-slurm")).start()
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
