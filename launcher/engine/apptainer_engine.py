"""The apptainer implementation of ContainerEngine: runs a benchmark from a SIF file with `apptainer exec`.

Apptainer does not build from the Dockerfiles: an image built by docker or podman is saved as a
docker-archive and converted on the cluster (`mlperf-docker bundle sif` writes the archives and the
`apptainer build X.sif docker-archive://X.tar` recipe). `run --runtime apptainer` then looks for
`<sif dir>/<image name>.sif` and runs the same ContainerSpec as docker would:

  apptainer exec --containall --no-home --net --network none [--nv|--rocm] --bind SRC:DST[:ro] ...
      --env K=V ... SIF python3 -m mlperf_harness ARGS

Apptainer runs as the invoking user (results are theirs), in a read-only image with a private /tmp.
Unverified: apptainer cannot be installed on the development machine; only the command is tested.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Iterator

from launcher.engine.base import BuildRequest, ContainerEngine, ContainerInfo, ImageInfo, LineSink, RunOutcome
from launcher.engine.cli_run import run_argv
from launcher.errors import EngineError, RunError
from launcher.run.container import ContainerSpec

#: the image's ENTRYPOINT (templates/Dockerfile.j2): `apptainer exec` names the command itself
ENTRYPOINT = ["python3", "-m", "mlperf_harness"]


def sif_name(tag: str) -> str:
    """The SIF file name of an image tag: mlperf-docker/onnxruntime-cpu:resnet50 -> mlperf-docker_onnxruntime-cpu_resnet50.sif."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", tag) + ".sif"


def visible_devices(spec: ContainerSpec) -> dict[str, str]:
    """A GPU selection as the environment (apptainer's --nv/--rocm bind every GPU)."""
    if spec.gpus and spec.gpus != "all":
        return {"CUDA_VISIBLE_DEVICES": spec.gpus}
    nodes = [int(m[1]) - 128 for d in spec.devices if (m := re.search(r"/dev/dri/renderD(\d+)$", d.split(":")[0]))]
    return {"ROCR_VISIBLE_DEVICES": ",".join(map(str, nodes))} if nodes else {}


def exec_argv(spec: ContainerSpec, sif: Path, apptainer: str = "apptainer") -> list[str]:
    """`apptainer exec` of a ContainerSpec: its binds, environment, GPUs, limits and command."""
    args = [apptainer, "exec", "--containall", "--no-home"]
    if spec.network == "none":
        args += ["--net", "--network", "none"]
    if spec.gpus:
        args.append("--nv")
    if any(d.split(":")[0] == "/dev/kfd" for d in spec.devices):
        args.append("--rocm")
    for mount in spec.mounts:
        args += ["--bind", f"{mount.source}:{mount.target}" + (":ro" if mount.read_only else "")]
    # HOME is apptainer's to set (--no-home: an empty one); the rest passes through --cleanenv.
    environment = {k: v for k, v in spec.environment.items() if k != "HOME"} | visible_devices(spec)
    for key, value in sorted(environment.items()):
        args += ["--env", f"{key}={value}"]
    if spec.mem_limit:
        args += ["--memory", spec.mem_limit]
    if spec.cpus:
        args += ["--cpus", spec.cpus]
    return args + ["--pwd", "/tmp", str(sif), *ENTRYPOINT, *spec.command]


class ApptainerEngine(ContainerEngine):
    kind = "apptainer"

    def __init__(self, sif_dir: Path, cli: str = "apptainer"):
        self.sif_dir = sif_dir
        self.cli = cli

    @property
    def rootless(self) -> bool:
        return True  # apptainer runs as the invoking user

    def sif(self, tag: str) -> Path:
        return self.sif_dir / sif_name(tag)

    def command(self, spec: ContainerSpec) -> list[str]:
        return exec_argv(spec, self.sif(spec.image), Path(self.cli).name)

    def ensure_reachable(self) -> None:
        import shutil

        if shutil.which(self.cli) is None:
            raise EngineError(f"apptainer is not installed ({self.cli!r} is not on PATH)")

    def host_info(self) -> dict:
        return {}

    def image_info(self, tag: str) -> ImageInfo | None:
        path = self.sif(tag)
        return ImageInfo(f"sif:{path}", path.stat().st_size, {}) if path.is_file() else None

    def build(self, request: BuildRequest, on_step: LineSink, log_path: Path) -> None:
        raise EngineError(f"apptainer does not build images: no {self.sif(request.tag)}; build {request.tag} with "
                          f"docker or podman, then `mlperf-docker bundle sif` and the `apptainer build` it writes")

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        raise EngineError("apptainer has no created-but-not-started containers")

    def run(self, spec: ContainerSpec, on_line: LineSink, timeout: float | None = None) -> RunOutcome:
        self.ensure_reachable()
        if not self.sif(spec.image).is_file():
            raise RunError(f"no SIF image {self.sif(spec.image)} (see `mlperf-docker bundle sif`)")
        return run_argv(self.command(spec), on_line, timeout=timeout)

    def remove_container(self, container_id: str) -> None:
        pass  # apptainer's containers are processes: nothing outlives them

    def save(self, tags: list[str]) -> Iterator[bytes]:
        raise EngineError("apptainer does not save images: bundle them with docker or podman")

    def load(self, archive: BinaryIO) -> None:
        raise EngineError("apptainer does not load image archives: `apptainer build X.sif docker-archive://FILE`")

    def tag(self, image: str, tag: str) -> None:
        raise EngineError("apptainer images are SIF files: they have no tags")

    def remove_image(self, tag: str) -> None:
        self.sif(tag).unlink(missing_ok=True)
