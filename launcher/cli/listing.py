"""`list`'s table: supported images grouped by framework x device (fits 80 columns); refusals with --all."""

from __future__ import annotations

from rich.table import Table

from launcher.spec.model import Combination, Spec

INSTALL_FIELDS = ("base", "python", "platform", "glibc", "requirements", "index_urls")


def install_fields(spec: Spec, framework: str, device: str) -> dict:
    """What anyone needs to re-check an image's resolution: its base (as images.yaml declares it, before
    any local override), that base's Python, platform and glibc, the pinned requirements and the package
    indexes. None for each where the framework has no install on the device (or the device no base)."""
    if spec.devices[device].base is None or device not in spec.frameworks[framework].installs:
        return dict.fromkeys(INSTALL_FIELDS)
    base = spec.base_for(framework, device)
    return {"base": base.image, "python": base.python, "platform": base.platform, "glibc": base.glibc,
            "requirements": spec.requirements(framework, device), "index_urls": spec.index_urls(framework, device)}


def supported_table(rows: list[Combination]) -> Table:
    """One row per framework x device: its models and their precisions."""
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for c in rows:
        if c.supported:
            groups.setdefault((c.framework, c.device), {}).setdefault(c.model, []).append(c.precision)
    table = Table("framework", "device", "models", "precisions", title="supported", title_justify="left")
    for (framework, device), models in groups.items():
        precisions = {tuple(p) for p in models.values()}
        if len(precisions) == 1:
            table.add_row(framework, device, ", ".join(models), ", ".join(precisions.pop()))
        else:
            table.add_row(framework, device, ", ".join(f"{m} ({', '.join(p)})" for m, p in models.items()), "(per model)")
    return table


def refused_table(spec: Spec, rows: list[Combination]) -> Table:
    """The refused combinations with their reasons, folding a refusal of a whole device or framework into one row."""
    table = Table("framework", "device", "model", "reason", title="refused", title_justify="left")
    seen = set()
    for c in rows:
        if c.supported:
            continue
        if spec.devices[c.device].refuse:
            key, framework, model = ("device", c.device), "(all)", "(all)"
        elif spec.frameworks[c.framework].refusal(c.device):
            key, framework, model = ("framework", c.framework, c.device), c.framework, "(all)"
        else:
            key, framework, model = ("row", c.framework, c.device, c.model, c.precision), c.framework, \
                f"{c.model} {c.precision}"
        if key not in seen:
            seen.add(key)
            table.add_row(framework, c.device, model, c.reason or "")
    return table
