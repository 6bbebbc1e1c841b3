"""The image matrix images.yaml yields, for CI: a GitHub Actions include-list and a docker-bake file.

Both come from the same supported combinations `mlperf-docker list` shows; every name in them (variation,
tag, Dockerfile, target, job name) comes from the image's ImageKey, and a bake target's build arguments
are the ones `mlperf-docker build` passes (launcher.build.image.build_args).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from launcher.build.image import build_args
from launcher.settings import Settings
from launcher.spec.variation import ImageKey

# CI policy: CPU images are built and smoke-run; GPU images are built (no GPU to run them on).
SMOKE_DEVICES = ("cpu",)


@dataclass(frozen=True)
class Entry:
    name: str
    framework: str
    device: str
    model: str
    precision: str
    variation: str
    tag: str
    dockerfile: str
    target: str
    base: str
    python: str
    smoke: bool


def image_keys(settings: Settings) -> list[ImageKey]:
    """Every image CI builds: the stand-in image of each supported combination."""
    # dict.fromkeys: a model running in another's image (images.yaml `image`) adds no image
    return list(dict.fromkeys(ImageKey.of(combo, standin=True) for combo in settings.spec.supported()))


def entries(settings: Settings) -> list[Entry]:
    out = []
    for key in image_keys(settings):
        base = settings.base(key.device, key.framework)
        out.append(Entry(
            name=key.ci_name, framework=key.framework, device=key.device, model=key.model, precision=key.precision,
            variation=key.variation, tag=key.tag(settings.repository), dockerfile=f"dockerfiles/{key.dockerfile}",
            target=key.target, base=base.image, python=base.python, smoke=key.device in SMOKE_DEVICES,
        ))
    return out


def github(settings: Settings) -> str:
    """`{"include": [...]}` for `strategy.matrix: ${{ fromJson(...) }}`."""
    return json.dumps({"include": [asdict(e) for e in entries(settings)]}, separators=(",", ":"))


def bake(settings: Settings, context_root: str = "build/contexts") -> dict:
    """A docker-bake definition: a shared `_common` target, one target per image, a group per device.

    Each target's context is a staged build context (`mlperf-docker stage --variation V --out DIR`)."""
    spec = settings.spec
    keys = image_keys(settings)
    targets: dict[str, dict] = {
        "_common": {
            "labels": {"org.opencontainers.image.source": spec.project.source,
                       "io.mlperf-docker.spec-digest": spec.digest},
        }
    }
    groups: dict[str, dict] = {"default": {"targets": [key.ci_name for key in keys]}}
    for key in keys:
        targets[key.ci_name] = {
            "inherits": ["_common"],
            "context": f"{context_root}/{key.ci_name}",
            "dockerfile": "Dockerfile",
            "target": key.target,
            "tags": [key.tag(settings.repository)],
            "args": build_args(settings, key),
        }
        groups.setdefault(key.device, {"targets": []})["targets"].append(key.ci_name)
    return {"group": groups, "target": targets}
