"""The MLPerf system description (systems/<system>.json): what the host tells
(py-cpuinfo, psutil, /sys, nvidia-ml-py or amdsmi for accelerators) merged with the
user's YAML for what no machine can tell (submitter, status, cooling, system type,
notes). The user's values win. Every field the submission checker requires is filled;
a YAML missing one of its own required fields, or with a bad value, is one error line.
"""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

import yaml

from launcher.errors import UsageError

# The checker's required fields (tools/submission/submission_checker constants, v6.1) ...
REQUIRED_FIELDS = (
    "division", "submitter", "status", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_memory_capacity", "host_storage_capacity", "host_storage_type",
    "accelerators_per_node", "accelerator_model_name", "accelerator_memory_capacity",
    "framework", "operating_system", "system_type", "other_software_stack",
    "host_processor_frequency", "host_processor_caches", "host_memory_configuration",
    "host_processor_interconnect", "host_networking", "host_networking_topology",
    "accelerator_frequency", "accelerator_host_interconnect", "accelerator_interconnect",
    "accelerator_interconnect_topology", "accelerator_memory_configuration",
    "accelerator_on-chip_memories", "cooling", "hw_notes", "sw_notes",
    "host_network_card_count", "system_type_detail")
# ... and those that must not be empty.
MEANINGFUL_FIELDS = (
    "division", "submitter", "system_type", "status", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_memory_capacity", "host_memory_configuration", "host_storage_capacity",
    "host_storage_type", "host_networking", "host_network_card_count",
    "host_networking_topology", "accelerators_per_node", "accelerator_model_name",
    "accelerator_memory_capacity", "accelerator_host_interconnect",
    "accelerator_memory_configuration", "accelerator_interconnect", "cooling", "framework",
    "operating_system", "other_software_stack")
# What the user's YAML must give: no machine can tell these.
USER_FIELDS = ("submitter", "status", "system_type", "cooling")
STATUSES = ("available", "preview", "rdi")
SYSTEM_TYPES = ("datacenter", "edge", "datacenter,edge", "edge,datacenter")
DIVISIONS = ("closed", "open", "network")  # network: LoadGen over the network only (the checker's rule)

EXAMPLE_YAML = """\
# What no machine can tell about it (mlperf-docker submission generate --system-yaml FILE).
submitter: MyOrg
status: available            # available | preview | rdi
system_type: edge            # datacenter | edge | datacenter,edge
cooling: air
hw_notes: ""
sw_notes: ""
# Any other field of the system description may be given here and wins over the host's,
# e.g. system_name, host_memory_configuration, host_storage_type, host_networking_topology.
"""


def load_user_yaml(path: Path) -> dict:
    """The user's system YAML, checked (UsageError naming the file and the field)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--system-yaml {path}: no such file") from None
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--system-yaml {path}: not readable YAML ({first})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--system-yaml {path}: expected a mapping of field: value")
    missing = [name for name in USER_FIELDS if data.get(name) in (None, "")]
    if missing:
        raise UsageError(f"--system-yaml {path}: missing {', '.join(missing)} "
                         f"(what no machine can tell; see `submission generate --help`)")
    status = str(data["status"]).lower()
    if status not in STATUSES:
        raise UsageError(f"--system-yaml {path}: status {data['status']!r}: expected one of "
                         f"{', '.join(STATUSES)}")
    if str(data["system_type"]) not in SYSTEM_TYPES:
        raise UsageError(f"--system-yaml {path}: system_type {data['system_type']!r}: expected "
                         f"one of {', '.join(SYSTEM_TYPES)}")
    if "division" in data and str(data["division"]).lower() not in DIVISIONS:
        raise UsageError(f"--system-yaml {path}: division {data['division']!r}: expected "
                         "closed, open or network")
    return {str(k): ("" if v is None else v) for k, v in data.items()}


def _gb(size: float) -> str:
    return f"{size / 1e9:.0f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _kib(size: int) -> str:
    return f"{size // 1048576} MiB" if size >= 1048576 else f"{size // 1024} KiB"


def _sockets() -> int:
    ids = set()
    for path in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/topology/physical_package_id"):
        try:
            ids.add(path.read_text().strip())
        except OSError:
            continue
    return len(ids) or 1


def _storage(path: str = ".") -> tuple[str, str]:
    import psutil

    usage = psutil.disk_usage(path)
    kind = "unknown"
    try:
        device = os.stat(path).st_dev
        block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve()
        while block.name and not (block / "queue" / "rotational").exists():
            block = block.parent
        rotational = (block / "queue" / "rotational").read_text().strip()
        kind = "NVMe SSD" if block.name.startswith("nvme") else \
            ("HDD" if rotational == "1" else "SSD")
    except (OSError, ValueError):
        pass
    return _gb(usage.total), kind


def _networking() -> tuple[str, int]:
    import psutil

    nics = [(name, stats.speed) for name, stats in sorted(psutil.net_if_stats().items())
            if stats.isup and name != "lo" and not name.startswith(("docker", "veth", "br-"))]
    if not nics:
        return "none (single node, no network used by the benchmark)", 0
    text = ", ".join(f"{name} ({speed} Mb/s)" if speed else name for name, speed in nics)
    return text, len(nics)


def _operating_system() -> str:
    try:
        name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        name = platform.system()
    return f"{name}, kernel {platform.release()}"


def _nvidia() -> list[dict]:
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver, no GPU
        return []
    gpus = []
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            gpu = {"name": name.decode() if isinstance(name, bytes) else name,
                   "memory": _gb(pynvml.nvmlDeviceGetMemoryInfo(handle).total)}
            try:
                gpu["clock"] = f"{pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)} MHz"
                gpu["link"] = (f"PCIe Gen{pynvml.nvmlDeviceGetMaxPcieLinkGeneration(handle)} "
                               f"x{pynvml.nvmlDeviceGetMaxPcieLinkWidth(handle)}")
            except Exception:
                pass
            gpus.append(gpu)
    finally:
        pynvml.nvmlShutdown()
    return gpus


def _amd() -> list[dict]:
    try:
        import amdsmi
    except ImportError:
        return []
    gpus = []
    try:
        amdsmi.amdsmi_init()
        for handle in amdsmi.amdsmi_get_processor_handles():
            info = amdsmi.amdsmi_get_gpu_asic_info(handle)
            vram = amdsmi.amdsmi_get_gpu_vram_info(handle)
            gpus.append({"name": info.get("market_name", "AMD GPU"),
                         "memory": f"{int(vram.get('vram_size', 0)) // 1024} GB"})
    except Exception:
        return gpus
    finally:
        try:
            amdsmi.amdsmi_shut_down()
        except Exception:
            pass
    return gpus


def accelerator_fields(gpus: list[dict]) -> dict:
    if not gpus:
        return {"accelerators_per_node": "0", "accelerator_model_name": "N/A",
                "accelerator_memory_capacity": "N/A", "accelerator_frequency": "",
                "accelerator_host_interconnect": "N/A", "accelerator_interconnect": "N/A",
                "accelerator_interconnect_topology": "", "accelerator_memory_configuration": "N/A",
                "accelerator_on-chip_memories": ""}
    first = gpus[0]
    return {"accelerators_per_node": str(len(gpus)), "accelerator_model_name": first["name"],
            "accelerator_memory_capacity": first["memory"],
            "accelerator_frequency": first.get("clock", ""),
            "accelerator_host_interconnect": first.get("link", "PCIe"),
            "accelerator_interconnect": "N/A", "accelerator_interconnect_topology": "",
            "accelerator_memory_configuration": first["memory"],
            "accelerator_on-chip_memories": ""}


def host_fields() -> dict:
    """What this machine tells about itself."""
    import cpuinfo
    import psutil

    cpu = cpuinfo.get_cpu_info()
    caches = [f"{name} {_kib(cpu[key])}"
              for name, key in (("L1d", "l1_data_cache_size"), ("L2", "l2_cache_size"),
                                ("L3", "l3_cache_size"))
              if isinstance(cpu.get(key), int) and cpu.get(key)]
    sockets = _sockets()
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    frequency = cpu.get("hz_advertised_friendly") or ""
    freq = psutil.cpu_freq()
    if freq and freq.max:
        frequency = f"{freq.max:.0f} MHz"
    memory = psutil.virtual_memory().total
    storage, storage_kind = _storage()
    networking, nic_count = _networking()
    fields = {
        "number_of_nodes": "1",
        "host_processor_model_name": cpu.get("brand_raw") or platform.processor() or "unknown",
        "host_processors_per_node": str(sockets),
        "host_processor_core_count": str(max(1, cores // sockets)),
        "host_processor_frequency": frequency,
        "host_processor_caches": ", ".join(caches),
        "host_processor_interconnect": "",
        "host_memory_capacity": _gb(memory),
        "host_memory_configuration": f"{_gb(memory)} total (module layout not detected; set "
                                     "host_memory_configuration in the system YAML)",
        "host_storage_capacity": storage,
        "host_storage_type": storage_kind,
        "host_networking": networking,
        "host_network_card_count": str(nic_count),
        "host_networking_topology": "N/A (single node)",
        "operating_system": _operating_system(),
        "system_name": f"{socket.gethostname()} ({cpu.get('brand_raw') or 'CPU'})",
    }
    fields.update(accelerator_fields(_nvidia() or _amd()))
    return fields


def network_fields(record: dict) -> dict:
    """The checker's network-mode fields (SYSTEM_DESC_REQUIRED_FIELDS_NETWORK_MODE) for a run made with
    `run --network lon` (its run.json's "network"); {} for a local run. The user's YAML wins."""
    network = record.get("network") or {}
    servers = list(network.get("sut_servers") or [])
    if network.get("mode") != "lon" or not servers:
        return {}
    from urllib.parse import urlsplit

    from mlperf_harness.network_settings import CONNECTIONS_PER_SERVER

    loopback = all(urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1") for url in servers)
    media = "loopback (LoadGen and the SUT servers on one host)" if loopback else \
        "not detected (set network_media in the system YAML)"
    return {"is_network": "true", "network_type": "loopback" if loopback else "Ethernet/IP",
            "network_media": media, "network_rate": "N/A (loopback)" if loopback else
            "not detected (set network_rate in the system YAML)",
            "nic_loadgen": "lo" if loopback else "not detected", "number_nic_loadgen": "0" if loopback else "1",
            "net_software_stack_loadgen": "Python http.client (HTTP/1.1 keep-alive) over the Linux TCP/IP stack",
            "network_protocol": "HTTP/1.1 over TCP (raw array bytes; mlperf-docker's /predict)",
            "number_connections": str(CONNECTIONS_PER_SERVER * len(servers)),
            "nic_sut": "lo" if loopback else "not detected", "number_nic_sut": "0" if loopback else "1",
            "net_software_stack_sut": "Python http.server (ThreadingHTTPServer) over the Linux TCP/IP stack",
            "network_topology": f"one LoadGen node, {len(servers)} SUT server(s), queries round-robin"}


def describe(host: dict, user: dict, division: str, framework: str, software: str) -> dict:
    """The system description: host facts, run facts, then the user's values on top."""
    data = {name: "" for name in REQUIRED_FIELDS}
    data.update(host)
    data.update({"division": division, "framework": framework, "other_software_stack": software,
                 "hw_notes": "", "sw_notes": "", "system_type_detail": ""})
    data.update(user)
    data["division"] = str(data["division"]).lower()
    data["status"] = str(data["status"]).lower()
    empty = [name for name in MEANINGFUL_FIELDS if data.get(name) in (None, "")]
    if empty:
        raise UsageError(f"the system description has no value for {', '.join(empty)}; "
                         "give it in the system YAML")
    return data
