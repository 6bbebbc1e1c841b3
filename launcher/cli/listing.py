"""`list`'s table: supported images grouped by framework x device (fits 80 columns); refusals with --all."""

from __future__ import annotations

from rich.table import Table

from launcher.spec.model import Combination, Spec


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
