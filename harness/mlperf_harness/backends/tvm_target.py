"""TVM CPU targets without TVM: parse and check a target string, name the /proc/cpuinfo flags it needs,
and give the image-tag suffix of a non-default target. The launcher uses it on the host (`--tvm-target`,
images.yaml's compile_target, the image label io.mlperf-docker.tvm-target before a run); the compile
stage and the tvm backend use it in the image.

The launcher accepts the CLI form ``llvm [-mcpu=CPU] [-mattr=+f1,-f2,...]`` (or TVM's JSON dict with
those keys) where CPU is one of LLVM's x86-64 feature levels and each -mattr name is an LLVM x86 ISA
feature: the features such a target may use follow from the string alone, so a CPU lacking them is
refused before a container starts. The harness checks the compiled target's full LLVM feature list
(compiled.json) against /proc/cpuinfo too.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from typing import Dict, Iterable, List, Optional, Set

DEFAULT_TARGET = "llvm"

# LLVM x86 ISA feature -> its /proc/cpuinfo flag, where the names differ; other ISA features use the
# LLVM name with '.' and '-' as '_'. LLVM's tuning features (fast-*, slow-*, false-deps-*, ...) are
# scheduling hints, not instructions, and are not checked.
_CPUINFO_NAMES = {
    "sse3": "pni", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "bmi": "bmi1", "lzcnt": "abm",
    "sahf": "lahf_lm", "pclmul": "pclmulqdq", "cx8": "cx8", "crc32": "sse4_2", "64bit": "lm",
    "avx512vnni": "avx512_vnni", "avx512bf16": "avx512_bf16", "avx512vbmi2": "avx512_vbmi2",
    "avx512bitalg": "avx512_bitalg", "avx512vpopcntdq": "avx512_vpopcntdq", "avxvnni": "avx_vnni",
    "avx512vp2intersect": "avx512_vp2intersect", "avx512fp16": "avx512_fp16", "rdrnd": "rdrand",
    "sha": "sha_ni", "amx-tile": "amx_tile", "amx-int8": "amx_int8", "amx-bf16": "amx_bf16",
    "amx-fp16": "amx_fp16",
}
_ISA = {
    "mmx", "sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "sse4a", "popcnt", "cx16", "cx8",
    "sahf", "lzcnt", "movbe", "avx", "avx2", "fma", "fma4", "f16c", "bmi", "bmi2", "xsave", "aes",
    "pclmul", "xop", "adx", "rdrnd", "rdseed", "sha", "vaes", "vpclmulqdq", "gfni", "avxvnni",
    "amx-tile", "amx-int8", "amx-bf16", "amx-fp16", "64bit",
}
_AVX512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512ifma", "avx512vbmi",
           "avx512vbmi2", "avx512vnni", "avx512bf16", "avx512bitalg", "avx512vpopcntdq",
           "avx512vp2intersect", "avx512fp16"}
MATTR = _ISA | _AVX512  # the -mattr names the launcher accepts

# LLVM's x86-64 microarchitecture levels (X86.td: the psABI levels), as LLVM feature names.
_V2 = ["cx16", "sahf", "popcnt", "sse3", "sse4.1", "sse4.2", "ssse3"]
_V3 = _V2 + ["avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"]
_V4 = _V3 + ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
MCPU = {"x86-64": [], "x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4}


def target_dict(text: str) -> Dict[str, object]:
    """'llvm -mcpu=x86-64-v3 -mattr=+avx2,+fma' (the CLI form older TVMs took) or a JSON object
    -> TVM 0.27's target dict. Only the llvm (CPU) kind is supported."""
    text = text.strip()
    if text.startswith("{"):
        target = json.loads(text)
        if not isinstance(target, dict):
            target = {}  # refused below: no llvm kind
    else:
        words = shlex.split(text)
        if not words:
            raise ValueError("an empty TVM target")
        target = {"kind": words[0]}
        for word in words[1:] if words[0] == "llvm" else ():  # another kind: refused below
            key, sep, value = word.lstrip("-").partition("=")
            if not sep or not key or not word.startswith("-"):
                raise ValueError(f"TVM target {text!r}: {word!r} is not -key=value")
            target[key] = value.split(",") if key == "mattr" else value
    if target.get("kind") != "llvm":
        raise ValueError(f"TVM target {text!r}: only the llvm (CPU) kind is packaged")
    return target


def check(text: str) -> str:
    """The target in canonical form ('llvm -mcpu=X -mattr=+a,-b'), or ValueError naming what is wrong:
    only -mcpu (an x86-64 level) and -mattr (+/- LLVM x86 ISA features) are accepted."""
    try:
        target = target_dict(text)
    except ValueError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None
    extra = sorted(set(target) - {"kind", "mcpu", "mattr"})
    if extra:
        raise ValueError(f"TVM target {text!r}: unknown key {extra[0]!r} (expected -mcpu= and -mattr= only)")
    words = ["llvm"]
    mcpu = target.get("mcpu")
    if mcpu is not None:
        if not isinstance(mcpu, str) or mcpu not in MCPU:
            raise ValueError(f"TVM target {text!r}: -mcpu={mcpu} is not one of {', '.join(MCPU)}")
        words.append(f"-mcpu={mcpu}")
    mattr = target.get("mattr", [])
    if isinstance(mattr, str):
        mattr = mattr.split(",")
    if "mattr" in target and not mattr:
        mattr = [""]  # refused below
    for attr in mattr:
        if not isinstance(attr, str) or attr[:1] not in "+-" or attr[1:] not in MATTR:
            raise ValueError(f"TVM target {text!r}: -mattr entry {attr!r} is not +FEATURE or -FEATURE "
                             "with an LLVM x86 ISA feature name (e.g. +avx2, +fma, +avx512f)")
    if mattr:
        words.append("-mattr=" + ",".join(mattr))
    return " ".join(words)


def cpuinfo_flag(feature: str) -> Optional[str]:
    """The /proc/cpuinfo flag of an LLVM x86 ISA feature, or None for a tuning feature."""
    if feature not in _ISA and not feature.startswith("avx512"):
        return None
    return _CPUINFO_NAMES.get(feature, feature.replace(".", "_").replace("-", "_"))


def features(text: str) -> List[str]:
    """The LLVM ISA features a checked target needs: its -mcpu level's, plus its +-mattr, less its -mattr."""
    target = target_dict(check(text))
    needed = set(MCPU.get(str(target.get("mcpu", "x86-64")), []))
    for attr in target.get("mattr", []):
        (needed.add if attr[0] == "+" else needed.discard)(attr[1:])
    return sorted(needed)


def host_flags(path: str = "/proc/cpuinfo") -> Optional[Set[str]]:
    """The CPU flags of the first processor in cpuinfo, or None where there is no such file (not x86
    Linux): then nothing can be checked."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "flags":
                    return set(value.split())
    except OSError:
        return None
    return None


def missing_features(needed: Iterable[str], flags: Optional[Set[str]]) -> List[str]:
    """The LLVM features in ``needed`` whose cpuinfo flag this CPU lacks."""
    if flags is None:
        return []
    return sorted(f for f in needed if (flag := cpuinfo_flag(f)) and flag not in flags)


def tag_suffix(text: str) -> str:
    """The image-tag suffix of a non-default target: readable, and distinct per canonical target
    ('+avx2' and '-avx2' read alike, so a short digest of the canonical form follows)."""
    canonical = check(text)
    readable = re.sub(r"[^a-z0-9.]+", "-", canonical.lower()).strip("-")[:60]
    return f"{readable}-{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"
