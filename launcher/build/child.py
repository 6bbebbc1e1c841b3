"""Child processes the launcher starts (pip): secrets stay out of their command line, and they never
outlive the launcher.

A package index URL may carry credentials (https://user:token@host/simple); on a command line any
user of the machine can read it in `ps`, so it travels in the environment (PIP_INDEX_URL,
PIP_EXTRA_INDEX_URL) instead. The child gets SIGTERM when the launcher dies (PR_SET_PDEATHSIG, even
after a SIGKILL), and a SIGTERM or SIGHUP of the launcher stops it like Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from typing import Iterable

from launcher.run.owned import signals_as_interrupts

_PR_SET_PDEATHSIG = 1


def pip_environment(index_url: str | None, extra_index_urls: Iterable[str] = (), ca_bundle: str | None = None,
                    base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    if index_url:
        env["PIP_INDEX_URL"] = index_url
    extra = [url for url in extra_index_urls if url]
    if extra:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(extra)
    if ca_bundle:
        # pip's HTTP library lets REQUESTS_CA_BUNDLE (often set system-wide) override --cert: point it at the bundle too.
        env.update(PIP_CERT=str(ca_bundle), REQUESTS_CA_BUNDLE=str(ca_bundle))
    return env


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the signal handling below still applies
        pass


def run_child(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True), but killed with the launcher."""
    with signals_as_interrupts():
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                preexec_fn=_die_with_parent)
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
