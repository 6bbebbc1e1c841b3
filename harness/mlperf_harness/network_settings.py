"""The settings of LoadGen over the network (LON), checked the same way on the host and in the image.

``--network sut`` serves the backend over HTTP (no LoadGen); ``--network lon`` runs LoadGen and the
QSL with a query dispatch library sending the queries to ``--sut_servers`` (mlperf_harness.network).
Standard library only; errors are ValueError with a one-line message (the contract turns them into
SettingsError).
"""

from __future__ import annotations

from typing import List, Optional, Sequence
from urllib.parse import urlsplit

NETWORK_MODES = ("sut", "lon")
NETWORK_SCENARIOS = ("Offline", "Server")  # what LoadGen over the network supports (its README)
DEFAULT_SUT_PORT = 8000  # the SUT server's port (in its container)
CONNECTIONS_PER_SERVER = 4  # the QDL's connections (and sending threads) to each SUT server


def parse_servers(text: Optional[str]) -> List[str]:
    """'http://a:8000,http://b:8001' -> ['http://a:8000', 'http://b:8001'] (no trailing slash);
    every URL must be http://HOST:PORT, none twice, at least one."""
    servers: List[str] = []
    for part in (text or "").split(","):
        url = part.strip().rstrip("/")
        if not url:
            continue
        try:
            parsed = urlsplit(url)
            port = parsed.port
        except ValueError:
            parsed, port = None, None
        if parsed is None or parsed.scheme != "http" or not parsed.hostname or port is None \
                or parsed.path or parsed.query or parsed.fragment or parsed.username:
            raise ValueError(f"--sut_servers {part.strip()!r}: expected http://HOST:PORT")
        if url in servers:
            raise ValueError(f"--sut_servers: {url} given twice")
        servers.append(url)
    if not servers:
        raise ValueError("--network lon needs --sut_servers URL[,URL...] (the SUT servers)")
    return servers


def check_network(network: Optional[str], sut_servers: Optional[str], scenarios: Sequence[str],
                  compliance: Optional[str]) -> None:
    """The network settings against each other and the scenarios run; ValueError (one line)."""
    if sut_servers is not None and network != "lon":
        raise ValueError("--sut_servers applies to --network lon only")
    if network is None:
        return
    refused = [s for s in scenarios if s not in NETWORK_SCENARIOS]
    if refused:
        raise ValueError(f"--network {network} runs {' and '.join(NETWORK_SCENARIOS)} only "
                         f"(LoadGen over the network), not {', '.join(refused)}")
    if network == "lon":
        parse_servers(sut_servers)
        if compliance:
            raise ValueError("--compliance with --network lon is not supported yet")
