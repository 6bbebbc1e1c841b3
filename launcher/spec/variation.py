"""CM-style variations (`_pytorch,_rocm,_bert-99,_batch_size.8`) parsed into one Variation.

Every name the tool derives (image tag, Dockerfile, build target, CI target) comes from the parsed
Variation and its ImageKey, never from the raw text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from launcher.errors import UsageError
from launcher.spec.model import Spec

SCENARIOS = {"offline": "Offline", "server": "Server", "singlestream": "SingleStream", "multistream": "MultiStream"}
IMPLEMENTATIONS = ("python",)
PARAMETRIC = ("batch_size", "beam_size")
DEFAULTS = {"device": "cpu", "precision": "fp32", "framework": "onnxruntime", "model": "resnet50", "implementation": "python"}


KEY_FIELDS = ("device", "framework", "model", "precision")  # the one order of a variation string


def variation_string(item) -> str:
    """`_device,_framework,_model,_precision` of anything with those four attributes: the one formatter."""
    return ",".join(f"_{getattr(item, name)}" for name in KEY_FIELDS)


def stage_name(model: str) -> str:
    """A model's build stage (and build target) in its Dockerfile: docker wants stage names to start
    with a letter, so 3d-unet-99's is model-3d-unet-99."""
    return model if model[:1].isalpha() else f"model-{model}"


@dataclass(frozen=True)
class ImageKey:
    """What an image is made of; its tag, Dockerfile, build target, variation string and CI name follow from it."""

    framework: str
    device: str
    model: str
    precision: str
    standin: bool = True

    @classmethod
    def of(cls, item, standin: bool = True) -> "ImageKey":
        """The key of a Combination, a Variation or a mapping with the four fields (a bundle manifest's `key`)."""
        get = item.get if isinstance(item, dict) else lambda name: getattr(item, name)
        standin = item.get("standin", standin) if isinstance(item, dict) else standin
        fields = {name: get(name) for name in KEY_FIELDS}
        # a model that runs in another model's image (images.yaml `image`) has that image
        fields["model"] = (item.get("image_model") if isinstance(item, dict) else
                           getattr(item, "image_model", None)) or fields["model"]
        return cls(**fields, standin=standin)

    def as_dict(self) -> dict:
        return {"framework": self.framework, "device": self.device, "model": self.model,
                "precision": self.precision, "standin": self.standin}

    @property
    def dockerfile(self) -> str:
        return f"{self.framework}-{self.device}.Dockerfile"

    @property
    def target(self) -> str:
        return stage_name(self.model)

    @property
    def variation(self) -> str:
        return variation_string(self)

    @property
    def ci_name(self) -> str:
        """The CI job and bake target name: <framework>-<device>-<model>-<precision>, dots as underscores."""
        return f"{self.framework}-{self.device}-{self.model}-{self.precision}".replace(".", "_")

    def tag(self, repository: str) -> str:
        """<repository>/<framework>-<device>:<model>-<precision>[-standin]"""
        suffix = "-standin" if self.standin else ""
        return f"{repository}/{self.framework}-{self.device}:{self.model}-{self.precision}{suffix}"


@dataclass(frozen=True)
class Variation:
    device: str
    framework: str
    model: str
    precision: str
    implementation: str = "python"
    scenario: str | None = None
    batch_size: int | None = None
    beam_size: int | None = None
    explicit: tuple[str, ...] = field(default=(), compare=False)
    image_model: str | None = None  # the model whose image it runs in (images.yaml `image`), if another

    @classmethod
    def of(cls, item) -> "Variation":
        """The variation of a Combination or an ImageKey (no scenario or parameters)."""
        return cls(**{name: getattr(item, name) for name in KEY_FIELDS},
                   image_model=getattr(item, "image_model", None))

    def image_key(self, standin: bool = True) -> ImageKey:
        return ImageKey.of(self, standin)

    def __str__(self) -> str:
        names = [variation_string(self)]
        if self.scenario:
            names.append(f"_{self.scenario.lower()}")
        for name in PARAMETRIC:
            value = getattr(self, name)
            if value is not None:
                names.append(f"_{name}.{value}")
        return ",".join(names)


class Grammar:
    """The variation names images.yaml allows, grouped; aliases map to their canonical name."""

    def __init__(self, spec: Spec):
        self.groups: dict[str, dict[str, str]] = {
            "device": {d: d for d in spec.devices},
            "framework": _with_aliases({n: f.aliases for n, f in spec.frameworks.items()}),
            "model": {m: m for m in spec.models},
            "precision": _with_aliases({n: p.aliases for n, p in spec.precisions.items()}),
            "scenario": {s: s for s in SCENARIOS},
            "implementation": {i: i for i in IMPLEMENTATIONS},
        }

    def all_names(self) -> list[str]:
        names = [f"_{n}" for group in self.groups.values() for n in group]
        return names + [f"_{p}.N" for p in PARAMETRIC]

    def lookup(self, name: str) -> tuple[str, str] | None:
        for group, names in self.groups.items():
            if name in names:
                return group, names[name]
        return None


def _with_aliases(entries: dict[str, list[str]]) -> dict[str, str]:
    out = {name: name for name in entries}
    for name, aliases in entries.items():
        out.update({alias: name for alias in aliases})
    return out


_PARAM = re.compile(r"^(?P<name>[a-z_]+)\.(?P<value>.*)$")


def parse_variation(text: str | None, spec: Spec) -> Variation:
    """Parse comma-separated `_name` items; one choice per group, defaults for the rest."""
    grammar = Grammar(spec)
    chosen: dict[str, tuple[str, str]] = {}  # group -> (canonical, as written)
    params: dict[str, int] = {}
    items = [] if text is None else [item.strip() for item in text.split(",")]
    if text is not None and not any(items):
        raise UsageError("empty --variation: give names like _cpu,_onnxruntime,_resnet50")
    for item in items:
        if not item:
            raise UsageError(f"empty name in variation {text!r} (two commas in a row?)")
        if not item.startswith("_"):
            raise UsageError(f"variation names start with '_': {item!r}{_suggest('_' + item, grammar)}")
        body = item[1:]
        param = _PARAM.match(body)
        if param and param["name"] in PARAMETRIC:
            params[param["name"]] = _positive_int(item, param["value"], params.get(param["name"]))
            continue
        found = grammar.lookup(body)
        if found is None:
            raise UsageError(f"unknown variation {item!r}{_suggest(item, grammar)}")
        group, canonical = found
        if group in chosen and chosen[group][0] != canonical:
            raise UsageError(f"{chosen[group][1]} and {item} both choose the {group}; pick one")
        chosen[group] = (canonical, item)
    picks = {group: DEFAULTS.get(group) for group in grammar.groups}
    picks.update({group: canonical for group, (canonical, _) in chosen.items()})
    return Variation(
        device=picks["device"],
        framework=picks["framework"],
        model=picks["model"],
        precision=picks["precision"],
        implementation=picks["implementation"],
        scenario=SCENARIOS[picks["scenario"]] if picks["scenario"] else None,
        batch_size=params.get("batch_size"),
        beam_size=params.get("beam_size"),
        explicit=tuple(items),
        image_model=spec.models[picks["model"]].image if picks["model"] in spec.models else None,
    )


def require_supported(variation: Variation, spec: Spec) -> None:
    combo = spec.check(variation.framework, variation.device, variation.model, variation.precision)
    if not combo.supported:
        raise UsageError(f"unsupported combination {variation_string(variation)}: {combo.reason}")


def _positive_int(item: str, value: str, previous: int | None) -> int:
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"malformed {item!r}: expected a positive integer after the dot, e.g. {item.split('.')[0]}.8")
    if previous is not None and previous != int(value):
        raise UsageError(f"{item} given twice with different values ({previous} and {value}); pick one")
    return int(value)


def _suggest(item: str, grammar: Grammar) -> str:
    close = difflib.get_close_matches(item, grammar.all_names(), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else " (see `mlperf-docker list --variations`)"
