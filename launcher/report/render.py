"""The report as files: PNG charts (matplotlib, no display needed) and one self-contained
HTML page embedding them (data: URIs), so the page can be mailed or archived alone."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from jinja2 import Environment

PERCENT_POINTS = (("min", 0.0), ("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p97", 97.0),
                  ("p99", 99.0), ("p99.9", 99.9), ("max", 100.0))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(run: dict, index: int) -> str:
    return f"{'AB'[index] if index < 2 else index + 1}: {run['framework']}-{run['device']}"


def metrics_chart(data: dict, path: Path) -> Path | None:
    """Throughput (Offline, Server) and latency (SingleStream, MultiStream) per scenario."""
    groups = {"throughput (samples/s, higher is better)": [],
              "latency (ms, LoadGen's judged percentile; lower is better)": []}
    for index, run in enumerate(data["runs"]):
        for s in run["scenarios"]:
            if s.get("metric") is None:
                continue
            key = next(iter(groups)) if s["higher_is_better"] else list(groups)[1]
            groups[key].append((f"{s['model']}\n{s['scenario']}", _label(run, index), s["metric"]))
    used = [(title, rows) for title, rows in groups.items() if rows]
    if not used:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(used), figsize=(6 * len(used), 4), squeeze=False)
    for ax, (title, rows) in zip(axes[0], used):
        names = list(dict.fromkeys(r[0] for r in rows))
        runs = list(dict.fromkeys(r[1] for r in rows))
        width = 0.8 / len(runs)
        for i, label in enumerate(runs):
            values = {r[0]: r[2] for r in rows if r[1] == label}
            xs = [n + i * width for n in range(len(names)) if names[n] in values]
            ys = [values[name] for name in names if name in values]
            bars = ax.bar(xs, ys, width, label=label)
            ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_xticks([n + width * (len(runs) - 1) / 2 for n in range(len(names))], names)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def latency_chart(scenario: dict, title: str, path: Path) -> Path | None:
    """LoadGen's latency percentiles, and the latency histogram they imply (queries spread
    evenly between consecutive percentiles: the detail log keeps no per-query latencies)."""
    lat = scenario.get("latencies_ms") or {}
    points = [(pct, lat[name]) for name, pct in PERCENT_POINTS if name in lat]
    if len(points) < 2:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    names = [name for name, _ in PERCENT_POINTS if name in lat]
    left.plot(range(len(points)), [v for _, v in points], marker="o")
    left.set_xticks(range(len(points)), names)
    left.set_ylabel("latency (ms)")
    left.set_title("latency percentiles", fontsize=10)
    for (p0, v0), (p1, v1) in zip(points, points[1:]):
        if v1 > v0:
            right.bar(v0, (p1 - p0) / (v1 - v0), width=v1 - v0, align="edge", edgecolor="black",
                      color="tab:blue", alpha=0.7)
    if points[-1][1] > 20 * max(points[0][1], 1e-9):  # long tails: log scales show them
        left.set_yscale("log")
        right.set_xscale("log")
        right.set_yscale("log")
    right.set_xlabel("latency (ms)")
    right.set_ylabel("share of queries (% per ms)")
    right.set_title("latency histogram (from the percentiles)", fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def accuracy_chart(data: dict, path: Path) -> Path | None:
    rows = [(f"{_label(run, i)}\n{s['model']} {s['scenario']}", s["accuracy"], s["accuracy_target"])
            for i, run in enumerate(data["runs"]) for s in run["scenarios"]
            if s.get("accuracy") is not None]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows)), 3.6))
    colors = ["tab:green" if t is None or a >= t else "tab:red" for _, a, t in rows]
    bars = ax.bar(range(len(rows)), [a for _, a, _ in rows], color=colors)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    for x, (_, _, target) in enumerate(rows):
        if target is not None:
            ax.hlines(target, x - 0.4, x + 0.4, colors="black", linestyles="dashed",
                      label="MLPerf target" if x == 0 else None)
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_ylabel("accuracy (model's metric)")
    ax.set_title("accuracy against the MLPerf target", fontsize=10)
    if any(t is not None for _, _, t in rows):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def charts(data: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = [metrics_chart(data, out / "metrics.png"), accuracy_chart(data, out / "accuracy.png")]
    for i, run in enumerate(data["runs"]):
        for s in run["scenarios"]:
            name = f"latency-{'AB'[i] if i < 2 else i + 1}-{s['model']}-{s['scenario']}.png"
            made.append(latency_chart(s, f"{_label(run, i)}: {s['model']} {s['scenario']}",
                                      out / name))
    return [p for p in made if p is not None]


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MLPerf report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}
th{background:#eef}.PASS,.VALID{color:#070}.FAIL,.INVALID{color:#b00}img{max-width:100%;margin:.5em 0}
.note{background:#ffd;padding:.5em;border:1px solid #cc8}
</style></head><body>
<h1>MLPerf inference report</h1>
{% for run in runs %}
<h2>{{ run.letter }}: {{ run.name }}</h2>
{% if run.standin %}<p class="note">Stand-in model and dataset: a smoke test, not a valid MLPerf result.</p>{% endif %}
<table>
<tr><th>system</th><td>{{ run.systems|join(", ") }}</td></tr>
<tr><th>image</th><td><code>{{ run.image }}</code></td></tr>
<tr><th>image digest</th><td><code>{{ run.image_digest or "not recorded" }}</code></td></tr>
<tr><th>variation</th><td><code>{{ run.variation }}</code></td></tr>
<tr><th>LoadGen</th><td>{{ run.loadgen_version }}</td></tr>
<tr><th>run folder</th><td><code>{{ run.path }}</code></td></tr>
</table>
<table><tr><th>model</th><th>scenario</th><th>result</th><th>validity</th><th>latency p50 / p90 / p99 (ms)</th><th>accuracy (target)</th><th>audit tests</th></tr>
{% for s in run.scenarios %}
<tr><td>{{ s.model }}</td><td>{{ s.scenario }}</td>
<td>{{ "%.4g"|format(s.metric) if s.metric is not none else "-" }} {{ s.unit }}</td>
<td class="{{ s.validity }}">{{ s.validity }}</td>
<td>{% for k in ("p50","p90","p99") %}{{ "%.3f"|format(s.latencies_ms[k]) if k in s.latencies_ms else "-" }}{% if not loop.last %} / {% endif %}{% endfor %}</td>
<td>{{ "%.3f"|format(s.accuracy) if s.accuracy is not none else "-" }} ({{ s.accuracy_target if s.accuracy_target is not none else "-" }})</td>
<td>{% for test, v in s.audits.items() %}{{ test }}: {% for what, verdict in v.items() %}<span class="{{ verdict }}">{{ what }} {{ verdict }}</span> {% endfor %}<br>{% endfor %}</td></tr>
{% endfor %}</table>
{% endfor %}
{% if comparison %}<h2>B / A</h2>
<table><tr><th>model</th><th>scenario</th><th>A</th><th>B</th><th>B / A</th><th>speedup of B</th></tr>
{% for c in comparison %}<tr><td>{{ c.model }}</td><td>{{ c.scenario }}</td><td>{{ "%.4g"|format(c.a) }} {{ c.unit }}</td><td>{{ "%.4g"|format(c.b) }} {{ c.unit }}</td><td>{{ "%.3f"|format(c.ratio) }}</td><td>{{ "%.3f"|format(c.speedup) }}x</td></tr>{% endfor %}
</table>{% endif %}
<h2>Charts</h2>
{% for name, uri in images %}<figure><img alt="{{ name }}" src="{{ uri }}"><figcaption>{{ name }}</figcaption></figure>{% endfor %}
</body></html>
"""


def html_page(data: dict, pngs: list[Path]) -> str:
    runs = [dict(run, letter="AB"[i] if i < 2 else str(i + 1)) for i, run in enumerate(data["runs"])]
    images = [(p.name, "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode())
              for p in pngs]
    env = Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(runs=runs, comparison=data.get("comparison"),
                                            images=images, escape=html.escape)


def write(data: dict, out: Path) -> Path:
    """<out>/report.html (self-contained) and the PNGs beside it."""
    pngs = charts(data, out)
    page = out / "report.html"
    page.write_text(html_page(data, pngs), encoding="utf-8")
    return page
