"""Registry mirrors: rewrite base image references that name a remote registry onto a lab's mirror.

Scheme (one prefix for every registry, as Harbor proxy projects, Artifactory remote repositories and
`registry:2` pull-through caches lay them out):

    docker.io/library/python:3.11            -> MIRROR/library/python:3.11
    nvcr.io/nvidia/cuda:13.0.2-...           -> MIRROR/nvcr.io/nvidia/cuda:13.0.2-...
    quay.io/org/image@sha256:...             -> MIRROR/quay.io/org/image@sha256:...

A reference without a registry host (`mlperf-docker/debian:bookworm`, `python:3.11`) is a local
name here and is left alone, as is one already under the mirror or on localhost.
"""

from __future__ import annotations

import re

from launcher.errors import UsageError

DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_MIRROR = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


def registry_host(image: str) -> str | None:
    """The registry host of a reference, or None for a name with none (Docker's rule: the first
    path component is a host when it has a '.' or a ':' or is `localhost`)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def normalise(mirror: str | None) -> str | None:
    """`https://registry.lab:5000/proxy/` -> `registry.lab:5000/proxy`; an empty value means none."""
    if not mirror or not mirror.strip():
        return None
    value = mirror.strip()
    for scheme in ("https://", "http://"):
        value = value.removeprefix(scheme)
    value = value.rstrip("/")
    if not _MIRROR.match(value):
        raise UsageError(f"registry mirror {mirror!r}: expected HOST[:PORT][/PATH], e.g. registry.lab:5000/dockerhub")
    return value


def rewrite(image: str, mirror: str | None) -> str:
    """`image` as pulled through `mirror` (see the module docstring); unchanged when no rewrite applies."""
    mirror = normalise(mirror)
    if mirror is None or image.startswith(mirror + "/"):
        return image
    host = registry_host(image)
    if host is None or host == "localhost" or host.startswith(("localhost:", "127.")):
        return image
    path = image[len(host) + 1:]
    if host in DOCKER_HUB:
        return f"{mirror}/{path}"
    return f"{mirror}/{host}/{path}"
