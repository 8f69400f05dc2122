"""Tables for scripts/bench: absolute figures, ratios with the issue's goals (met or not), and
drctl against the physical bound. Medians over runs (--repeat), min and max kept in the JSON."""
import statistics

from bench_measure import MiB

VARIANTS = ("drctl-1", "drctl-2", "drctl-fast", "restic", "borg", "drctl-s3", "restic-s3")


def metrics(run):
    """{metric: {variant: value}} for one run of one store."""
    changed = run["change"]["changed_page_bytes"]
    rows = {}

    def put(metric, variant, value):
        if value is not None:
            rows.setdefault(metric, {})[variant] = value

    for v, e in run["variants"].items():
        full, inc, res = e["full"], e["incremental"], e["restore"]
        put("full backup, wall s", v, full["wall_s"])
        put("full backup, CPU s", v, full["cpu_s"])
        put("full backup, peak RSS MiB", v, full["max_rss_mib"])
        put("full backup, read by the process MiB", v, (full["io"].get("rchar") or 0) / MiB)
        put("full backup, written by the process MiB", v, (full["io"].get("wchar") or 0) / MiB)
        put("stored after full, MiB per target", v, e["after_full_bytes"]["per_target"] / MiB)
        put("stored after full, MiB all targets", v, e["after_full_bytes"]["total"] / MiB)
        if "network" in full:
            put("full backup, uploaded MiB", v, full["network"]["sent_bytes"] / MiB)
            put("full backup, downloaded MiB", v, full["network"]["received_bytes"] / MiB)
        put("incremental, wall s", v, inc["wall_s"])
        put("incremental, CPU s", v, inc["cpu_s"])
        put("incremental, peak RSS MiB", v, inc["max_rss_mib"])
        put("incremental, stored MiB per target", v, e["growth"]["per_target"] / MiB)
        put("incremental, stored MiB all targets", v, e["growth"]["total"] / MiB)
        put("incremental, stored per target ÷ changed page bytes", v,
            e["growth"]["per_target"] / changed if changed else None)
        if "network" in inc:
            put("incremental, uploaded MiB", v, inc["network"]["sent_bytes"] / MiB)
        put("restore, wall s", v, res["wall_s"])
        put("restore + sync, wall s", v, res["wall_s"] + res["sync_after_s"])
        put("restore, CPU s", v, res["cpu_s"])
        put("restore, peak RSS MiB", v, res["max_rss_mib"])
        put("restore, written by the process MiB", v, (res["io"].get("wchar") or 0) / MiB)
        if "network" in res:
            put("restore, downloaded MiB", v, res["network"]["received_bytes"] / MiB)
        put("restore, files identical (worst run)", v, e["restore_check"]["identical"])
        if "restore_one" in e:
            one = e["restore_one"]
            put("restore one mailbox (point in time), wall s", v, one["wall_s"])
            put("restore one mailbox + sync, wall s", v, one["wall_s"] + one["sync_after_s"])
            put("restore one mailbox, CPU s", v, one["cpu_s"])
            put("restore one mailbox, peak RSS MiB", v, one["max_rss_mib"])
            put("restore one mailbox, read by the process MiB", v, (one["io"].get("rchar") or 0) / MiB)
        if "check" in e:
            put("check --read-data, wall s", v, e["check"]["wall_s"])
            put("check --read-data, CPU s", v, e["check"]["cpu_s"])
            put("check --read-data, peak RSS MiB", v, e["check"]["max_rss_mib"])
        if "live" in e:
            live = e["live"]
            put("incremental under live writers, wall s", v, live["wall_s"])
            put("incremental under live writers, CPU s", v, live["cpu_s"])
            put("incremental under live writers, peak RSS MiB", v, live["max_rss_mib"])
            put("… writers' longest transaction, ms", v, live["writers"]["max_transaction_ms"])
            put("… writers' p99 transaction (worst writer), ms", v, live["writers"]["p99_transaction_ms_worst_writer"])
            put("… writers' transactions committed", v, live["writers"]["committed"])
            put("… writers' failed transactions", v, live["writers"]["errors"])
            put("… the tool's exit status (borg 1: a file changed while read)", v, live["exit"])
        put("other load while it ran, cores (max)", v,
            max(e[p]["other_load_cores"] for p in ("full", "incremental", "restore", "restore_one", "check", "live")
                if p in e))
    if "writers_alone" in run:
        w = run["writers_alone"]
        rows["writers alone (no backup): longest / p99 ms"] = {"drctl-1": f"{w['max_transaction_ms']:.0f} / "
                                                               f"{w['p99_transaction_ms_worst_writer']:.0f}"}
    return rows


def combine(runs):
    """Median over runs of every metric, with min and max (text cells: the first run's)."""
    per_run = [metrics(r) for r in runs]
    combined = {}
    for metric in per_run[0]:
        for v in per_run[0][metric]:
            values = [m[metric][v] for m in per_run if v in m.get(metric, {})]
            if values and isinstance(values[0], str):
                combined.setdefault(metric, {})[v] = {"median": values[0], "min": values[0], "max": values[-1]}
            elif values:
                combined.setdefault(metric, {})[v] = {"median": statistics.median(values),
                                                      "min": min(values), "max": max(values)}
    return combined


def fmt(value):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100:
        return f"{int(value)}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(r):
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def value(combined, metric, variant, key="median"):
    return combined.get(metric, {}).get(variant, {}).get(key)


def absolute_rows(combined):
    present = [v for v in VARIANTS if any(v in cells for cells in combined.values())]
    rows = []
    for metric, cells in combined.items():
        key = "min" if metric.startswith("restore, files identical") else "median"
        rows.append([metric] + [fmt(cells[v][key]) if v in cells else "" for v in present])
    return ["metric"] + present, rows


RATIOS = (("drctl-1", "restic"), ("drctl-1", "borg"), ("drctl-2", "restic"), ("drctl-fast", "restic"),
          ("drctl-s3", "restic-s3"))

# (metric, numerator, denominator or None for an absolute limit, limit, the goal's words)
GOALS = (
    ("full backup, wall s", "drctl-1", "restic", 0.5, "full backup ≤ 0.5× restic (one target each)"),
    ("full backup, wall s", "drctl-fast", "restic", 0.5,
     "full backup ≤ 0.5× restic, drctl with [backup] compression = \"fast\" (plain store)"),
    ("full backup, wall s", "drctl-1", "borg", 0.7, "full backup ≤ 0.7× borg (one target each)"),
    ("full backup, wall s", "drctl-2", "restic", 0.7, "full backup with two targets ≤ 0.7× restic"),
    ("incremental, wall s", "drctl-1", "restic", 0.3, "incremental wall ≤ 0.3× restic"),
    ("incremental, wall s", "drctl-2", "restic", 0.3, "incremental wall ≤ 0.3× restic (two targets)"),
    ("incremental, stored MiB per target", "drctl-1", "restic", 0.05, "incremental stored ≤ 0.05× restic"),
    ("incremental, stored per target ÷ changed page bytes", "drctl-1", None, 1.2,
     "incremental stored ≤ 1.2× the changed page bytes"),
    ("restore + sync, wall s", "drctl-1", "restic", 0.5, "restore everything + sync ≤ 0.5× restic's"),
    ("restore one mailbox (point in time), wall s", "drctl-1", None, 0.5,
     "point-in-time restore of the ~50 MB mailbox < 0.5 s"),
    ("restore + sync, wall s", "drctl-fast", "restic", 0.5,
     "restore everything + sync ≤ 0.5× restic's, from drctl's \"fast\" repository"),
    ("check --read-data, wall s", "drctl-1", "restic", 0.5, "check --read-data ≤ 0.5× restic's"),
    ("check --read-data, wall s", "drctl-fast", "restic", 0.5, "check --read-data ≤ 0.5× restic's, drctl's \"fast\" repository"),
    ("full backup, peak RSS MiB", "drctl-1", "restic", 1.0, "peak RSS ≤ restic: full backup"),
    ("full backup, peak RSS MiB", "drctl-2", "restic", 1.0, "peak RSS ≤ restic: full backup, two targets"),
    ("incremental, peak RSS MiB", "drctl-1", "restic", 1.0, "peak RSS ≤ restic: incremental"),
    ("restore, peak RSS MiB", "drctl-1", "restic", 1.0, "peak RSS ≤ restic: restore"),
    ("restore one mailbox, peak RSS MiB", "drctl-1", "restic", 1.0, "peak RSS ≤ restic: restore one mailbox"),
    ("check --read-data, peak RSS MiB", "drctl-1", "restic", 1.0, "peak RSS ≤ restic: check --read-data"),
    ("incremental under live writers, peak RSS MiB", "drctl-1", "restic", 1.0, "peak RSS ≤ restic: live writers"),
    ("full backup, wall s", "drctl-s3", "restic-s3", 0.5, "over S3: full backup ≤ 0.5× restic's"),
    ("restore + sync, wall s", "drctl-s3", "restic-s3", 0.5, "over S3: restore + sync ≤ 0.5× restic's"),
    ("full backup, peak RSS MiB", "drctl-s3", "restic-s3", 1.0, "peak RSS ≤ restic: full backup over S3"),
    ("restore, peak RSS MiB", "drctl-s3", "restic-s3", 1.0, "peak RSS ≤ restic: restore over S3"),
)

# drctl's figures for each bound of bench_bound.bounds: (bound, wall metric, CPU metric, variant)
BOUND_FIGURES = (
    ("full backup, 1 target", "full backup, wall s", "full backup, CPU s", "drctl-1"),
    ("full backup, 2 targets", "full backup, wall s", "full backup, CPU s", "drctl-2"),
    ("incremental, 1 target", "incremental, wall s", "incremental, CPU s", "drctl-1"),
    ("incremental, 2 targets", "incremental, wall s", "incremental, CPU s", "drctl-2"),
    ("restore + sync", "restore + sync, wall s", "restore, CPU s", "drctl-1"),
    ("restore one mailbox (fsynced)", "restore one mailbox (point in time), wall s", "restore one mailbox, CPU s",
     "drctl-1"),
    ("check --read-data", "check --read-data, wall s", "check --read-data, CPU s", "drctl-1"),
    ("full backup over S3", "full backup, wall s", "full backup, CPU s", "drctl-s3"),
    ("restore over S3", "restore + sync, wall s", "restore, CPU s", "drctl-s3"),
)


def ratio_rows(combined):
    pairs = [(a, b) for a, b in RATIOS if any(a in c and b in c for c in combined.values())]
    rows = []
    for metric, cells in combined.items():
        if metric.startswith(("restore, files identical", "other load", "writers alone", "…")):
            continue
        row = [metric]
        for a, b in pairs:
            x, y = value(combined, metric, a), value(combined, metric, b)
            row.append(ratio(x / y) if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "")
        if any(row[1:]):
            rows.append(row)
    return ["metric"] + [f"{a}/{b}" for a, b in pairs], rows


def goal_rows(combined, store):
    rows = []
    for metric, a, b, limit, words in GOALS:
        x = value(combined, metric, a)
        if x is None:
            continue
        if b is None:
            measured, shown = x, f"{fmt(x)}"
        else:
            y = value(combined, metric, b)
            if not y:
                continue
            measured, shown = x / y, f"{ratio(x / y)} ({fmt(x)} vs {fmt(y)})"
        met = measured <= limit if "<" not in words else measured < limit
        rows.append([store, words, f"{limit}", shown, ("met" if met else f"NOT MET ({measured / limit:.3g}× the limit)")])
    return ["store", "goal", "limit", "measured", "verdict"], rows


def bound_rows(combined, bounds, store):
    """drctl's wall time against the wall bound, and its CPU time against the bound's CPU work
    (the steadier comparison when other processes share the cores)."""
    rows = []
    for bound_name, metric, cpu_metric, variant in BOUND_FIGURES:
        x, bound = value(combined, metric, variant), bounds.get(bound_name)
        if x is None or not bound:
            continue
        cpu = value(combined, cpu_metric, variant) if cpu_metric else None
        rows.append([store, f"{bound_name} ({variant})", f"{bound['bound_s']:.2f}", fmt(x), f"{x / bound['bound_s']:.2f}",
                     "met" if x <= 2 * bound["bound_s"] else f"NOT MET ({x / bound['bound_s'] / 2:.3g}× the limit)",
                     f"{bound['cpu_s']:.2f}", fmt(cpu) if cpu is not None else "",
                     f"{cpu / bound['cpu_s']:.2f}" if cpu is not None and bound["cpu_s"] else ""])
    return BOUND_HEADER, rows


BOUND_HEADER = ["store", "operation", "bound s", "drctl s", "drctl ÷ bound", "≤ 2× bound", "bound CPU s",
                "drctl CPU s", "CPU ÷ bound CPU"]


def render(header, rows, markdown):
    if markdown:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        return "\n".join(out)
    widths = [max(len(str(line[i])) for line in [header] + rows) for i in range(len(header))]
    out = ["  ".join(str(h).ljust(widths[i]) if i == 0 else str(h).rjust(widths[i]) for i, h in enumerate(header)),
           "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                             for i, c in enumerate(row)))
    return "\n".join(out)
