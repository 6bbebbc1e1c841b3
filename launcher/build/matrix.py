"""The image matrix images.yaml yields, for CI: a GitHub Actions include-list and a docker-bake file.

Both come from the same supported combinations `mlperf-docker list` shows, and every name in them
(variation, tag, Dockerfile, target) comes from the variation's ImageKey.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from launcher.spec.model import Spec
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


def entries(spec: Spec, repository: str) -> list[Entry]:
    out = []
    for combo in spec.supported():
        key = ImageKey(combo.framework, combo.device, combo.model, combo.precision, standin=True)
        base = spec.base(combo.device)
        out.append(Entry(
            name=f"{combo.framework}-{combo.device}-{combo.model}-{combo.precision}".replace(".", "_"),
            framework=combo.framework, device=combo.device, model=combo.model, precision=combo.precision,
            variation=f"_{combo.framework},_{combo.device},_{combo.model},_{combo.precision}",
            tag=key.tag(repository), dockerfile=f"dockerfiles/{key.dockerfile}", target=key.target,
            base=base.image, python=base.python, smoke=combo.device in SMOKE_DEVICES,
        ))
    return out


def github(spec: Spec, repository: str) -> str:
    """`{"include": [...]}` for `strategy.matrix: ${{ fromJson(...) }}`."""
    return json.dumps({"include": [asdict(e) for e in entries(spec, repository)]}, separators=(",", ":"))


def bake(spec: Spec, repository: str, context_root: str = "build/contexts") -> dict:
    """A docker-bake definition: a shared `_common` target, one target per image, a group per device.

    Each target's context is a staged build context (`mlperf-docker stage --variation V --out DIR`)."""
    items = entries(spec, repository)
    targets: dict[str, dict] = {
        "_common": {
            "labels": {"org.opencontainers.image.source": spec.project.source,
                       "io.mlperf-docker.spec-digest": spec.digest},
        }
    }
    groups: dict[str, dict] = {"default": {"targets": [e.name for e in items]}}
    for e in items:
        targets[e.name] = {
            "inherits": ["_common"],
            "context": f"{context_root}/{e.name}",
            "dockerfile": "Dockerfile",
            "target": e.target,
            "tags": [e.tag],
            "args": {"BASE_IMAGE": e.base, "PYTHON_VERSION": e.python, "SPEC_DIGEST": spec.digest},
        }
        groups.setdefault(e.device, {"targets": []})["targets"].append(e.name)
    return {"group": groups, "target": targets}
