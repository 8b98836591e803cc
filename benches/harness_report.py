#!/usr/bin/env python3
"""Summarises benches/harness.sh's results.jsonl: one table on stdout, results.json and
chart.svg in the output directory. Each load point is the median of its rounds (by ops/s).

In `shared-cas` an op is an attempt (loadgen counts lost races too), so the table adds its
success rate, won / attempts, of each system, and the chart marks the won part of each bar."""
import json
import sys
from collections import defaultdict
from pathlib import Path


def median_run(runs):
    """The run whose ops/s is the median (the lower middle one for an even count)."""
    runs = sorted(runs, key=lambda r: r["ops_per_sec"])
    return runs[(len(runs) - 1) // 2]


def summarise(lines):
    points = defaultdict(list)
    snapshots = []
    for r in lines:
        if r.get("kind") == "load":
            points[(r["servers"], r["mode"], r["clients"], r["system"])].append(r)
        elif r.get("kind") == "snapshot":
            snapshots.append(r)
    rows = []
    for (servers, mode, clients) in sorted({k[:3] for k in points}):
        row = {"servers": servers, "mode": mode, "clients": clients}
        for system in ("etcd", "raftwarden"):
            runs = points.get((servers, mode, clients, system))
            if runs:
                m = median_run(runs)
                row[system] = {k: m[k] for k in ("ops_per_sec", "p50_ms", "p99_ms", "p999_ms", "cpu_ms_per_op", "peak_rss_mib", "errors")}
                row[system]["won_per_sec"] = m.get("won_per_sec", m["ops_per_sec"])
                row[system]["success"] = m["won"] / m["ops"] if m.get("won") is not None and m["ops"] else None
                row[system]["rounds"] = len(runs)
                row[system]["ops_per_sec_spread"] = [min(x["ops_per_sec"] for x in runs), max(x["ops_per_sec"] for x in runs)]
        if "etcd" in row and "raftwarden" in row and row["etcd"]["ops_per_sec"] > 0:
            row["ratio"] = row["raftwarden"]["ops_per_sec"] / row["etcd"]["ops_per_sec"]
        rows.append(row)
    return rows, snapshots


def table(rows, snapshots):
    out = []
    head = "| servers | mode | clients | etcd ops/s | raftwarden ops/s | ratio | p50 ms e/r | p99 ms e/r | p99.9 ms e/r | CPU ms/op e/r | peak RSS MiB e/r | won % e/r |"
    out.append(head)
    out.append("|---|---|---|---:|---:|---:|---|---|---|---|---|---|")
    for r in rows:
        e, w = r.get("etcd", {}), r.get("raftwarden", {})

        def pair(k, fmt="{:.2f}"):
            return f"{fmt.format(e[k]) if k in e else '-'} / {fmt.format(w[k]) if k in w else '-'}"

        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "-"
        won = "-"
        if r["mode"] == "shared-cas":
            won = " / ".join(f"{s['success'] * 100:.0f}" if s.get("success") is not None else "-" for s in (e, w))
        out.append(
            f"| {r['servers']} | {r['mode']} | {r['clients']} | {e.get('ops_per_sec', 0):,.0f} | {w.get('ops_per_sec', 0):,.0f} | {ratio} "
            f"| {pair('p50_ms')} | {pair('p99_ms')} | {pair('p999_ms')} | {pair('cpu_ms_per_op', '{:.3f}')} | {pair('peak_rss_mib', '{:.0f}')} | {won} |"
        )
    if snapshots:
        out.append("")
        out.append("| snapshot | keys | etcd s | raftwarden s | ratio |")
        out.append("|---|---:|---:|---:|---:|")
        by = {(s["system"], s["op"]): s for s in snapshots}
        for op in ("save", "restore"):
            e, w = by.get(("etcd", op)), by.get(("raftwarden", op))
            if e and w:
                out.append(f"| {op} | {w['keys']:,} | {e['secs']:.2f} | {w['secs']:.2f} | {w['secs'] / e['secs']:.2f} |")
    return "\n".join(out)


def svg(rows):
    """Grouped bars: ops/s of etcd and raftwarden for every load point."""
    width, height, left, bottom, top = 60 + 70 * max(len(rows), 1), 360, 60, 80, 30
    peak = max([r.get(s, {}).get("ops_per_sec", 0) for r in rows for s in ("etcd", "raftwarden")] + [1])
    scale = (height - bottom - top) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="10">',
        f'<text x="{left}" y="16" font-size="13">writes/s, etcd (grey) and raftwarden (blue), median of rounds;'
        " shared-cas: attempts/s, the won part darker</text>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="black"/>',
    ]
    for tick in range(0, 6):
        v = peak * tick / 5
        y = height - bottom - v * scale
        parts.append(f'<text x="{left - 5}" y="{y + 3:.0f}" text-anchor="end">{v:,.0f}</text>')
        parts.append(f'<line x1="{left}" y1="{y:.0f}" x2="{width - 10}" y2="{y:.0f}" stroke="#ddd"/>')
    for i, r in enumerate(rows):
        x = left + 10 + i * 70
        for j, (system, colour) in enumerate((("etcd", "#999"), ("raftwarden", "#2b6cb0"))):
            v = r.get(system, {}).get("ops_per_sec", 0)
            h = v * scale
            parts.append(f'<rect x="{x + j * 25}" y="{height - bottom - h:.1f}" width="22" height="{h:.1f}" fill="{colour}"/>')
            if r["mode"] == "shared-cas":
                w = r.get(system, {}).get("won_per_sec", 0) * scale
                parts.append(f'<rect x="{x + j * 25}" y="{height - bottom - w:.1f}" width="22" height="{w:.1f}" fill="#222" fill-opacity="0.45"/>')
        label = f"{r['servers']}srv {r['mode']} c{r['clients']}"
        parts.append(f'<text x="{x + 24}" y="{height - bottom + 14}" text-anchor="middle">{label}</text>')
        if "ratio" in r:
            parts.append(f'<text x="{x + 24}" y="{height - bottom + 28}" text-anchor="middle">x{r["ratio"]:.2f}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main():
    src, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    lines = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    rows, snapshots = summarise(lines)
    (out_dir / "results.json").write_text(json.dumps({"load": rows, "snapshot": snapshots, "runs": lines}, indent=2))
    (out_dir / "chart.svg").write_text(svg(rows))
    print(table(rows, snapshots))
    print(f"\nwrote {out_dir / 'results.json'} and {out_dir / 'chart.svg'}")


if __name__ == "__main__":
    main()
