"""The resolver runs pip's own resolver on a local --find-links folder of tiny generated wheels
(no network): platform/glibc selection, the python-version mismatch, hashes, credentials kept off argv."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from launcher.airgap import resolve
from launcher.airgap.resolve import IndexUnreachable, ResolveError, Target


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder: Path, name: str, version: str, tag: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal valid wheel: one module, METADATA, WHEEL and RECORD."""
    python, abi, platform = tag.split("-")
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": ("Metadata-Version: 2.1\n"
                             f"Name: {name}\nVersion: {version}\n"
                             + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode(),
        f"{dist}/WHEEL": ("Wheel-Version: 1.0\nGenerator: test\n"
                          f"Root-Is-Purelib: {'true' if platform == 'any' else 'false'}\nTag: {tag}\n").encode(),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


@pytest.fixture(scope="module")
def links(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("links")
    make_wheel(folder, "mdpure", "1.0", "py3-none-any")
    make_wheel(folder, "mdplat", "2.0", "cp312-cp312-manylinux_2_28_x86_64", requires=("mdpure>=1",))
    make_wheel(folder, "mdold", "1.0", "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64")
    return folder


def _resolve(links, reqs, python="3.12", glibc="2.39", **kw):
    return resolve.resolve("test-image", reqs, Target(python=python, glibc=glibc), find_links=[str(links)],
                           no_index=True, isolated=True, **kw)


def test_platform_tags_cover_glibc_and_aliases():
    tags = resolve.platform_tags("linux/amd64", "2.28")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux_2_29_x86_64" not in tags
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"} <= set(tags)
    assert resolve.platform_tags("linux/arm64", "2.17")[0] == "manylinux_2_17_aarch64"
    for bad in (("linux/s390x", "2.28"), ("linux/amd64", "2.x"), ("linux/amd64", "2.3")):
        with pytest.raises(ResolveError):
            resolve.platform_tags(*bad)


def test_pure_and_platform_wheels_resolve_with_dependencies_and_hashes(links):
    got = {r.name: r for r in _resolve(links, ["mdplat==2.0"])}
    assert set(got) == {"mdplat", "mdpure"}  # the dependency comes along
    assert got["mdplat"].pin == "mdplat==2.0" and got["mdpure"].version == "1.0"
    wheel = links / "mdplat-2.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    assert got["mdplat"].sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert got["mdplat"].filename == wheel.name


def test_glibc_older_than_the_wheel_does_not_resolve(links):
    with pytest.raises(ResolveError) as err:
        _resolve(links, ["mdplat==2.0"], glibc="2.27")
    message = str(err.value)
    assert "\n" not in message and message.startswith("test-image: does not resolve for Python 3.12")
    assert "mdplat==2.0" in message  # pip's last line names the distribution
    assert not isinstance(err.value, IndexUnreachable)


def test_python_version_mismatch_is_one_line_naming_the_image(links):
    assert [r.pin for r in _resolve(links, ["mdold==1.0"], python="3.10", glibc="2.35")] == ["mdold==1.0"]
    with pytest.raises(ResolveError) as err:
        _resolve(links, ["mdold==1.0", "mdpure==1.0"], python="3.12")
    assert "test-image" in str(err.value) and "mdold==1.0" in str(err.value)
    assert "\n" not in str(err.value)


def test_index_credentials_go_through_the_environment_only(monkeypatch, tmp_path):
    seen = {}

    def fake_run(args, **kw):
        seen["args"], seen["env"] = args, kw["env"]
        report = Path(args[args.index("--report") + 1])
        report.write_text('{"version": "1", "install": [{"metadata": {"name": "x", "version": "1"},'
                          ' "download_info": {"url": "https://u:secret@lab.example/x-1-py3-none-any.whl",'
                          ' "archive_info": {"hashes": {"sha256": "ab"}}}}]}')
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(resolve.subprocess, "run", fake_run)
    got = resolve.resolve("img", ["x==1"], Target("3.12"), index_url="https://u:secret@lab.example/simple",
                          extra_index_urls=["https://download.pytorch.org/whl/cpu"], isolated=True,
                          env={"PIP_FIND_LINKS": "/opt/wheels", "HOME": "/root"})
    assert not any("secret" in a for a in seen["args"])
    assert seen["env"]["PIP_INDEX_URL"] == "https://u:secret@lab.example/simple"
    assert seen["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert "PIP_FIND_LINKS" not in seen["env"]  # isolated: none of this machine's pip settings
    assert got[0].url == "https://lab.example/x-1-py3-none-any.whl" and got[0].sha256 == "ab"


def test_an_unreachable_index_makes_the_image_unchecked(monkeypatch):
    log = ("WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(\"Failed to "
           "establish a new connection: [Errno -2] Name or service not known\")': /whl/cpu/torch/\n"
           "ERROR: Could not find a version that satisfies the requirement torch==2.13.0+cpu (from versions: none)\n"
           "ERROR: No matching distribution found for torch==2.13.0+cpu\n")
    monkeypatch.setattr(resolve.subprocess, "run",
                        lambda args, **kw: subprocess.CompletedProcess(args, 1, "", log))
    with pytest.raises(IndexUnreachable) as err:
        resolve.resolve("pytorch-cpu", ["torch==2.13.0+cpu"], Target("3.12"),
                        extra_index_urls=["https://download.pytorch.org/whl/cpu"])
    assert err.value.hosts == ("download.pytorch.org",)
    assert str(err.value).startswith("pytorch-cpu: unchecked, download.pytorch.org not reachable")
    assert "No matching distribution found for torch==2.13.0+cpu" in str(err.value)
