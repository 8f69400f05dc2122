#!/usr/bin/env python3
"""scripts/bench --scale: what drctl reads, writes and holds in memory as the repository grows.

The goals are issue 9's ("scale"). Every store is synthetic (scale_store.py: encrypted-looking
SQLite3MultipleCiphers-shaped mailboxes, written at disk speed, the same bytes for the same
seed); every repository has one file:// target (bytes and requests are counted by drctl's
transport, reported as `transfer`, and cross-checked with strace at the file system); every
restore and check runs with an empty state folder, as on a new host. Measured:

  a. restore one mailbox (--scale-mailbox-mib, default 8 MiB) from a tiny repository (that
     mailbox and 3 others), from the small one and from the large one: bytes and objects
     read, wall, CPU, peak RSS; ratios; bytes read against 1.1 x its stored size + 1 MiB.
  b. restore everything, check, check --read-data: peak RSS small vs large (--scale-factor x).
  c. --scale-mailboxes (default 100,000) small mailboxes (--scale-min-kib..--scale-max-kib):
     full backup, then --scale-changed (1 %) of them changed, incremental; then a run with
     nothing changed: bytes written per unchanged mailbox, stored vs changed page bytes.
     Objects read restoring one of them, from this store and from one of 100 mailboxes.
  d. backup peak RSS (full and incremental) and the node cache's size, small vs large; full
     and nothing-changed backups of c.'s first tenth of mailboxes against all of them.
  e. metadata (trees, list, pack headers, manifests) / stored bytes: 4 KiB pages (the large
     store), 1 KiB pages (--scale-1k-mib), small mailboxes (c's store).
  f. incremental stored / changed page bytes on the normal bench store: run `scripts/bench`.

Prints one table and, with --json FILE, writes every measurement. Defaults take about 5
minutes on 2 cores (15 GB of scratch space); --quick is a smoke run of under a minute.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scale_store  # noqa: E402
from bench import BenchError, MiB, log, machine, measure, run, same_bytes, tree_bytes  # noqa: E402

MARKER = ".drctl-bench-scale"
KiB = 1024
GiB = 1024 * MiB
METADATA_KEYS = ("treeBytes", "listBytes", "packHeaderBytes", "manifestBytes")
STORED_KEYS = ("dataBytes",) + METADATA_KEYS


# ---------------------------------------------------------------------------------------------
# stores and repositories


def make_store(directory, mailboxes, seed, page_size=4096, sizes_mib=None, min_kib=8, max_kib=64, fanout=256):
    args = argparse.Namespace(dir=directory, mailboxes=mailboxes, min_kib=min_kib, max_kib=max_kib,
                              sizes_mib=sizes_mib, page_size=page_size, journal="wal", seed=seed,
                              first_index=0, fanout=fanout, fsync=False, list=False)
    result = {k: v for k, v in scale_store.create(args).items() if v is not None}
    log(f"store {os.path.basename(directory)}: {result['mailboxes']} mailboxes, "
        f"{result['bytes'] / MiB:.1f} MiB in {result['seconds']} s ({result['mb_per_s']} MB/s)")
    return result


def planned_sizes(mailboxes, seed, sizes_mib, page_size=4096):
    args = argparse.Namespace(mailboxes=mailboxes, seed=seed, sizes_mib=sizes_mib, page_size=page_size,
                              min_kib=8, max_kib=64)
    return [pages * page_size for pages in scale_store.plan_sizes(args)]


def mutate_store(directory, fraction, seed, rewrite, append, round_=1):
    args = argparse.Namespace(dir=directory, fraction=fraction, rewrite_pages=rewrite, append_pages=append,
                              seed=seed, round=round_, list=False)
    result = scale_store.mutate(args)
    log(f"mutated {os.path.basename(directory)}: {result['changed_mailboxes']} of {result['mailboxes']} "
        f"mailboxes, {result['changed_page_bytes'] / MiB:.2f} MiB of changed pages")
    return result


class Repo:
    """One store, one file:// target, one key; state folders made on demand."""

    def __init__(self, ctx, name, store):
        self.ctx, self.name, self.store = ctx, name, store
        self.dir = os.path.join(ctx.work, "repos", name)
        self.target = os.path.join(self.dir, "target")
        self.key = os.path.join(self.dir, "secrets", "drctl.key")
        self.fresh_states = 0
        os.makedirs(os.path.join(self.dir, "secrets"), mode=0o700)
        self.config = self.write_config("state")
        run([ctx.drctl, "init", "--config", self.config, "--json"])

    def write_config(self, state):
        path = os.path.join(self.dir, f"drctl-{state}.toml")
        with open(path, "w") as handle:
            handle.write(f"""# written by scripts/bench --scale
[store]
path = "{self.store}"
include = ["**/*.sqlite"]

[repository]
key_file = "{self.key}"

[[target]]
name = "t1"
url = "file://{self.target}"

[state]
path = "{os.path.join(self.dir, state)}"
""")
        return path

    def fresh_config(self):
        """A configuration whose state folder does not exist yet: a new host."""
        self.fresh_states += 1
        return self.write_config(f"fresh-state-{self.fresh_states}")

    @property
    def state(self):
        return os.path.join(self.dir, "state")

    def cache_bytes(self):
        """nodes.sqlite and its -wal in <state>/cache/<repository id>/."""
        total, files = 0, []
        cache = os.path.join(self.state, "cache")
        for directory, _, names in os.walk(cache):
            for name in names:
                if name.startswith("nodes.sqlite"):
                    path = os.path.join(directory, name)
                    total += os.path.getsize(path)
                    files.append(os.path.relpath(path, self.dir))
        return total, files

    def backup(self, label):
        result = measure(f"{self.name} {label}", [self.ctx.drctl, "backup", "--config", self.config, "--json",
                                                  "--no-progress"], workdir=self.ctx.work)
        report = json.loads(result.pop("_stdout"))
        if report.get("failures"):
            raise BenchError(f"{self.name} {label}: failures {report['failures'][:3]}")
        target = report["targets"][0]
        result.update({"files": report["files"], "files_unchanged": report["filesUnchanged"],
                       "image_bytes": report["imageBytes"], "new_chunks": report.get("newChunks"),
                       "stored": report["stored"], "stored_total": sum(report["stored"][k] for k in STORED_KEYS),
                       "transfer": target["transfer"], "snapshot": report["snapshot"],
                       "duration_s": report.get("durationSeconds")})
        result["cache_bytes"], result["cache_files"] = self.cache_bytes()
        result["repository_bytes"] = tree_bytes(self.target)
        return result

    def snapshot_mode(self, mailbox):
        entries = json.loads(run([self.ctx.drctl, "snapshots", "--config", self.config, "--json",
                                  "--mailbox", mailbox]))
        return entries[-1]["mailbox"].get("snapshotMode") if entries else None


# ---------------------------------------------------------------------------------------------
# strace: what a command read from the target, counted at the system call


STRACE_CALLS = "openat,read,pread64,readv,preadv,preadv2"
READ_LINE = re.compile(r"^(read|pread64|readv|preadv|preadv2)\(\d+<([^>]*)>")
OPEN_LINE = re.compile(r'^openat\([^"]*"([^"]*)"')
RESULT = re.compile(r"\)\s+=\s+(-?\d+)(?:<[^>]*>)?(?:\s+[A-Z]\w*.*)?$")


def parse_strace(path, prefix):
    """Bytes and read calls on files under `prefix`, files opened there (not folders), distinct."""
    prefix = prefix.rstrip("/") + "/"
    pending = {}
    totals = {"bytes_read": 0, "read_calls": 0, "file_opens": 0}
    objects = set()
    with open(path, errors="replace") as handle:
        for line in handle:
            pid, _, rest = line.rstrip("\n").partition(" ")
            rest = rest.lstrip()
            if rest.endswith("<unfinished ...>"):
                pending[pid] = rest[: -len("<unfinished ...>")]
                continue
            if rest.startswith("<... "):
                _, _, tail = rest.partition(" resumed>")
                rest = pending.pop(pid, "") + tail
            m = READ_LINE.match(rest)
            if m:
                r = RESULT.search(rest)
                if m.group(2).startswith(prefix) and r and int(r.group(1)) > 0:
                    totals["bytes_read"] += int(r.group(1))
                    totals["read_calls"] += 1
                continue
            m = OPEN_LINE.match(rest)
            if m and m.group(1).startswith(prefix) and "O_DIRECTORY" not in rest:
                r = RESULT.search(rest)
                if r and int(r.group(1)) >= 0:
                    totals["file_opens"] += 1
                    objects.add(os.path.relpath(m.group(1), prefix))
    totals["distinct_objects"] = len(objects)
    totals["distinct_packs"] = sum(1 for o in objects if o.startswith("data/"))
    return totals


def strace_run(ctx, label, argv, target):
    out = os.path.join(ctx.work, "time", label.replace(" ", "_") + ".strace")
    process = subprocess.run(["strace", "-f", "-y", "-qq", "-e", f"trace={STRACE_CALLS}", "-o", out] + argv,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if process.returncode != 0:
        raise BenchError(f"{label} under strace exited {process.returncode}: {process.stderr[-1000:]}")
    counts = parse_strace(out, target)
    if not ctx.args.keep:
        os.remove(out)
    return counts


# ---------------------------------------------------------------------------------------------
# measurements


def transfer_of(report):
    t = report["transfer"][0]
    return {"bytes_read": t["bytesRead"], "get_requests": t["getRequests"], "list_requests": t["listRequests"],
            "bytes_written": t["bytesWritten"]}


def restore_one(ctx, repo, mailbox, label):
    """Restores one mailbox `repeat` times (median of wall, CPU, RSS) from a fresh state each
    time, then once under strace; checks the bytes against the store."""
    runs = []
    for i in range(ctx.args.repeat):
        destination = os.path.join(ctx.work, "restore", f"{label}-{i}")
        result = measure(f"{label} restore-one {i + 1}", [ctx.drctl, "restore", "--config", repo.fresh_config(),
                                                          "--json", "--no-progress", "--mailbox", mailbox,
                                                          "--to", destination], workdir=ctx.work)
        report = json.loads(result.pop("_stdout"))
        result["transfer"] = transfer_of(report)
        result["restored"] = len(report.get("restored", []))
        restored = os.path.join(destination, mailbox)
        result["identical"] = os.path.exists(restored) and same_bytes(os.path.join(repo.store, mailbox), restored)
        shutil.rmtree(destination)
        runs.append(result)
    summary = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "max_rss_mib")}
    summary["other_load_cores_max"] = max(r["other_load_cores"] for r in runs)
    summary["transfer"] = runs[0]["transfer"]
    summary["identical"] = all(r["identical"] for r in runs)
    if not ctx.args.no_strace:
        destination = os.path.join(ctx.work, "restore", f"{label}-strace")
        summary["strace"] = strace_run(ctx, f"{label} restore-one strace",
                                       [ctx.drctl, "restore", "--config", repo.fresh_config(), "--json",
                                        "--no-progress", "--mailbox", mailbox, "--to", destination], repo.target)
        shutil.rmtree(destination)
    summary["runs"] = runs
    return summary


def restore_all(ctx, repo, label):
    destination = os.path.join(ctx.work, "restore", f"{label}-all")
    result = measure(f"{label} restore-all", [ctx.drctl, "restore", "--config", repo.fresh_config(), "--json",
                                              "--no-progress", "--to", destination], workdir=ctx.work)
    report = json.loads(result.pop("_stdout"))
    result["transfer"] = transfer_of(report)
    result["restored"] = len(report.get("restored", []))
    result["restored_bytes"] = tree_bytes(destination)
    result["failures"] = len(report.get("failures", []))
    shutil.rmtree(destination)
    return result


def check(ctx, repo, label, read_data):
    argv = [ctx.drctl, "check", "--config", repo.fresh_config(), "--json", "--no-progress"]
    if read_data:
        argv.append("--read-data")
    result = measure(f"{label} check{' read-data' if read_data else ''}", argv, workdir=ctx.work)
    report = json.loads(result.pop("_stdout"))
    result["transfer"] = transfer_of(report)
    t = report["targets"][0]
    result["errors"] = len(t.get("errors", []))
    result["nodes_verified"] = t.get("nodesVerified")
    result["blobs_verified"] = t.get("blobsVerified")
    return result


def metadata_share(stored):
    total = sum(stored[k] for k in STORED_KEYS)
    return sum(stored[k] for k in METADATA_KEYS) / total if total else None


# ---------------------------------------------------------------------------------------------
# the run


class Context:
    pass


def run_scale(ctx):
    a = ctx.args
    work = ctx.work
    stores = os.path.join(work, "stores")
    res = {"parameters": {}}
    sizes_mib = f"{a.scale_mailbox_mib},{a.scale_other_mib}"
    large_bytes = int(a.scale_gb * GiB)
    # The large store: the restore target (mailbox 0) and mailboxes of --scale-other-mib until
    # --scale-gb; the small one is its first mailboxes up to 1/--scale-factor of that, the tiny one
    # its first four, the solo one mailbox 0 alone (its stored size is the reference for a.). Same
    # seed, so the same mailbox is the same bytes in every store.
    plan = planned_sizes(100000, a.seed, sizes_mib)
    cumulative, large_n, small_n = 0, 0, 0
    for size in plan:
        if cumulative >= large_bytes:
            break
        cumulative += size
        large_n += 1
        if cumulative <= large_bytes / a.scale_factor + size / 2:
            small_n = large_n
    small_n = max(small_n, 5)
    tiny_n = 4
    target_mailbox = os.path.relpath(scale_store.mailbox_path("", 0, 256), "")
    res["parameters"] = {"large_mailboxes": large_n, "small_mailboxes": small_n, "tiny_mailboxes": tiny_n,
                         "sizes_mib": sizes_mib, "target_mailbox": target_mailbox, "seed": a.seed,
                         "many_mailboxes": a.scale_mailboxes, "many_kib": [a.scale_min_kib, a.scale_max_kib],
                         "changed_fraction": a.scale_changed, "rewrite_pages": a.scale_rewrite_pages,
                         "append_pages": a.scale_append_pages, "one_kib_store_mib": a.scale_1k_mib,
                         "repeat": a.repeat, "targets": 1, "target_kind": "file://"}
    parts = set(a.parts)
    gen = res["generate"] = {}
    repos = {}
    t0 = time.monotonic()
    if parts & {"a", "b", "d", "e"}:
        for name, n in (("solo", 1), ("tiny", tiny_n), ("small", small_n), ("large", large_n)):
            if name in ("solo", "tiny") and "a" not in parts:
                continue
            gen[name] = make_store(os.path.join(stores, name), n, a.seed, sizes_mib=sizes_mib)
    if "e" in parts:
        one_k_n = 0
        plan1k = planned_sizes(100000, a.seed + 1, a.scale_other_mib, page_size=1024)
        total = 0
        for size in plan1k:
            if total >= a.scale_1k_mib * MiB:
                break
            total += size
            one_k_n += 1
        gen["pages1k"] = make_store(os.path.join(stores, "pages1k"), one_k_n, a.seed + 1, page_size=1024,
                                    sizes_mib=a.scale_other_mib)
    if "c" in parts:
        gen["many"] = make_store(os.path.join(stores, "many"), a.scale_mailboxes, a.seed + 2,
                                 min_kib=a.scale_min_kib, max_kib=a.scale_max_kib)
        gen["few"] = make_store(os.path.join(stores, "few"), min(100, a.scale_mailboxes), a.seed + 2,
                                min_kib=a.scale_min_kib, max_kib=a.scale_max_kib)
        # The first tenth of the many-mailbox store (the same files): backup memory against the
        # number of mailboxes.
        gen["mid"] = make_store(os.path.join(stores, "mid"), max(1, round(a.scale_mailboxes / a.scale_factor)),
                                a.seed + 2, min_kib=a.scale_min_kib, max_kib=a.scale_max_kib)
    gen["total_seconds"] = round(time.monotonic() - t0, 1)

    # Full backups (fresh state: the first run of a host).
    full = res["full_backup"] = {}
    for name in gen:
        if name in ("total_seconds", "many", "few", "mid"):
            continue
        repos[name] = Repo(ctx, name, os.path.join(stores, name))
        full[name] = repos[name].backup("full backup")
    # drctl must take these files as SQLite, page-chunked: the mode it snapshotted them in.
    if "large" in repos:
        mode = repos["large"].snapshot_mode(target_mailbox)
        res["snapshot_mode"] = mode
        if mode not in ("wal-offline", "wal-live", "rollback"):
            raise BenchError(f"drctl took the synthetic mailboxes as {mode!r}, not as SQLite")
        if full["large"]["new_chunks"] is not None and full["large"]["new_chunks"] < full["large"]["image_bytes"] // 4096:
            raise BenchError("fewer chunks than 4 KiB pages: the files were not chunked by page")

    if "a" in parts:
        ra = res["restore_one"] = {}
        stored = full["solo"]["stored"]
        ra["mailbox"] = target_mailbox
        ra["mailbox_bytes"] = full["solo"]["image_bytes"]
        ra["mailbox_stored_bytes"] = stored["dataBytes"] + stored["treeBytes"]
        ra["bytes_read_limit"] = int(1.1 * ra["mailbox_stored_bytes"] + MiB)
        for name in ("tiny", "small", "large"):
            ra[name] = restore_one(ctx, repos[name], target_mailbox, name)
            ra[name]["repository_bytes"] = full[name]["repository_bytes"]

    if "b" in parts:
        rb = res["restore_check_all"] = {}
        for name in ("small", "large"):
            rb[name] = {"restore": restore_all(ctx, repos[name], name),
                        "check": check(ctx, repos[name], name, False),
                        "check_read_data": check(ctx, repos[name], name, True),
                        "repository_bytes": full[name]["repository_bytes"]}

    if "d" in parts:
        rd = res["backup_scale"] = {}
        for name in ("small", "large"):
            change = mutate_store(repos[name].store, a.scale_changed, a.seed + 10, a.scale_rewrite_pages,
                                  a.scale_append_pages)
            incremental = repos[name].backup("incremental backup")
            rd[name] = {"change": change, "incremental": incremental,
                        "full_rss_mib": full[name]["max_rss_mib"], "full_cache_bytes": full[name]["cache_bytes"],
                        "stored_total": full[name]["stored_total"]}

    if "c" in parts:
        rc = res["incremental_metadata"] = {}
        for name in ("few", "many"):
            repos[name] = Repo(ctx, name, os.path.join(stores, name))
            rc[f"{name}_full"] = repos[name].backup("full backup")
        small_mailbox = os.path.relpath(scale_store.mailbox_path("", 0, 256), "")
        for name in ("few", "many"):
            rc[f"{name}_restore_one"] = restore_one(ctx, repos[name], small_mailbox, name)
        rc["change"] = mutate_store(repos["many"].store, a.scale_changed, a.seed + 20, a.scale_rewrite_pages,
                                    a.scale_append_pages)
        rc["incremental"] = repos["many"].backup("incremental backup")
        rc["unchanged_run"] = repos["many"].backup("nothing changed")
        full["many"] = rc["many_full"]
        repos["mid"] = Repo(ctx, "mid", os.path.join(stores, "mid"))
        rc["mid_full"] = repos["mid"].backup("full backup")
        rc["mid_unchanged_run"] = repos["mid"].backup("nothing changed")
    return res


# ---------------------------------------------------------------------------------------------
# the table


def fmt(value, unit=""):
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not unit:
        return f"{value:,}"
    if unit == "MiB":
        value = value / MiB
    elif unit == "KiB":
        value = value / KiB
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(x, y):
    return x / y if x is not None and y else None


def rows(res):
    """[(section, metric, small, large, large/small, goal, verdict)]."""
    out = []

    def add(section, metric, small, large, unit="", goal="", ok=None, show_ratio=True):
        r = ratio(large, small) if show_ratio and isinstance(small, (int, float)) and isinstance(large, (int, float)) \
            and not isinstance(small, bool) else None
        out.append((section, metric, fmt(small, unit), fmt(large, unit), fmt(r) if r is not None else "",
                    goal, "" if ok is None else ("met" if ok else "MISSED")))

    full = res.get("full_backup", {})
    ra = res.get("restore_one")
    if ra:
        t, s, l = ra["tiny"], ra["small"], ra["large"]
        rep = lambda x: x["repository_bytes"]  # noqa: E731
        out.append(("a", f"restore one {ra['mailbox_bytes'] / MiB:.0f} MiB mailbox: columns tiny repo "
                         f"({rep(t) / MiB:.0f} MiB) | large ({rep(l) / MiB:.0f} MiB, {rep(l) / rep(t):.0f}x); "
                         f"small repo ({rep(s) / MiB:.0f} MiB) in the JSON", "", "", "", "", ""))
        limit = ra["bytes_read_limit"]
        add("a", "bytes read (transfer), MiB", t["transfer"]["bytes_read"], l["transfer"]["bytes_read"], "MiB",
            "ratio ≤ 1.2", ratio(l["transfer"]["bytes_read"], t["transfer"]["bytes_read"]) <= 1.2)
        if "strace" in l:
            add("a", "bytes read (strace, target files), MiB", t["strace"]["bytes_read"], l["strace"]["bytes_read"],
                "MiB")
        add("a", "bytes read / (1.1 × stored + 1 MiB)", t["transfer"]["bytes_read"] / limit,
            l["transfer"]["bytes_read"] / limit, "", "≤ 1", l["transfer"]["bytes_read"] <= limit)
        add("a", "get requests (transfer)", t["transfer"]["get_requests"], l["transfer"]["get_requests"])
        if "strace" in l:
            add("a", "objects opened / distinct (strace)",
                f"{t['strace']['file_opens']} / {t['strace']['distinct_objects']}",
                f"{l['strace']['file_opens']} / {l['strace']['distinct_objects']}")
            add("a", "distinct packs read (strace)", t["strace"]["distinct_packs"], l["strace"]["distinct_packs"])
        add("a", "wall s", t["wall_s"], l["wall_s"], "", "ratio ≤ 1.2", ratio(l["wall_s"], t["wall_s"]) <= 1.2)
        add("a", "CPU s", t["cpu_s"], l["cpu_s"])
        add("a", "peak RSS MiB", t["max_rss_mib"], l["max_rss_mib"], "", "ratio ≤ 1.2",
            ratio(l["max_rss_mib"], t["max_rss_mib"]) <= 1.2)
        add("a", "restored file identical", t["identical"], l["identical"], show_ratio=False)
    rb = res.get("restore_check_all")
    if rb:
        s, l = rb["small"], rb["large"]
        out.append(("b", f"everything: columns small repo ({s['repository_bytes'] / MiB:.0f} MiB) | large "
                         f"({l['repository_bytes'] / MiB:.0f} MiB)", "", "", "", "", ""))
        for key, label in (("restore", "restore all"), ("check", "check"), ("check_read_data", "check --read-data")):
            add("b", f"{label}, peak RSS MiB", s[key]["max_rss_mib"], l[key]["max_rss_mib"], "", "ratio ≤ 1.2",
                ratio(l[key]["max_rss_mib"], s[key]["max_rss_mib"]) <= 1.2)
            add("b", f"{label}, wall s", s[key]["wall_s"], l[key]["wall_s"])
        add("b", "restore all, files restored", s["restore"]["restored"], l["restore"]["restored"])
        add("b", "check errors", s["check"]["errors"] + s["check_read_data"]["errors"],
            l["check"]["errors"] + l["check_read_data"]["errors"], show_ratio=False)
        add("b", "check, bytes read MiB", s["check"]["transfer"]["bytes_read"], l["check"]["transfer"]["bytes_read"],
            "MiB")
    rc = res.get("incremental_metadata")
    if rc:
        inc, none, change = rc["incremental"], rc["unchanged_run"], rc["change"]
        unchanged = inc["files_unchanged"]
        st = inc["stored"]
        changed = change["changed_page_bytes"]
        out.append(("c", f"{rc['many_full']['files']:,} mailboxes of {res['parameters']['many_kib'][0]}–"
                         f"{res['parameters']['many_kib'][1]} KiB, {change['changed_mailboxes']} changed "
                         f"({changed / MiB:.2f} MiB of pages): value in the large column", "", "", "", "", ""))
        add("c", "full backup, wall s / peak RSS MiB", None,
            f"{rc['many_full']['wall_s']:.1f} / {rc['many_full']['max_rss_mib']:.0f}", show_ratio=False)
        add("c", "incremental, wall s / peak RSS MiB", None, f"{inc['wall_s']:.2f} / {inc['max_rss_mib']:.0f}",
            show_ratio=False)
        per = (st["listBytes"] + st["manifestBytes"]) / unchanged if unchanged else None
        add("c", "incremental: (list + manifest) bytes per unchanged mailbox", None, per, "", "≤ 16", per <= 16,
            show_ratio=False)
        add("c", "incremental: list / tree / pack headers / data, KiB", None,
            f"{st['listBytes'] / KiB:.0f} / {st['treeBytes'] / KiB:.0f} / {st['packHeaderBytes'] / KiB:.0f} / "
            f"{st['dataBytes'] / KiB:.0f}", show_ratio=False)
        limit = 2 * changed + 256 * KiB
        add("c", "incremental: stored MiB / limit (2 × changed + 256 KiB) MiB", None,
            f"{inc['stored_total'] / MiB:.2f} / {limit / MiB:.2f}", "", "≤ 1×", inc["stored_total"] <= limit,
            show_ratio=False)
        add("c", "incremental: stored / changed page bytes", None, inc["stored_total"] / changed, show_ratio=False)
        add("c", "incremental: bytes written at the target, MiB", None, inc["transfer"]["bytesWritten"], "MiB",
            show_ratio=False)
        add("c", "nothing changed: bytes written, KiB", None, none["transfer"]["bytesWritten"], "KiB", "≤ 64 KiB",
            none["transfer"]["bytesWritten"] <= 64 * KiB, show_ratio=False)
        add("c", "nothing changed: wall s", None, none["wall_s"], show_ratio=False)
        f, m = rc["few_restore_one"], rc["many_restore_one"]
        nf, nm = rc["few_full"]["files"], rc["many_full"]["files"]
        add("c", f"restore one small mailbox, get requests: {nf} | {nm:,} mailboxes", f["transfer"]["get_requests"],
            m["transfer"]["get_requests"], "", "grows ≤ log n")
        add("c", f"restore one small mailbox, bytes read KiB: {nf} | {nm:,}", f["transfer"]["bytes_read"],
            m["transfer"]["bytes_read"], "KiB")
        add("c", f"restore one small mailbox, peak RSS MiB: {nf} | {nm:,}", f["max_rss_mib"], m["max_rss_mib"])
    if rc and "mid_full" in rc:
        mf, mn = rc["mid_full"], rc["mid_unchanged_run"]
        mm, mu = rc["many_full"], rc["unchanged_run"]
        out.append(("d", f"backup against the number of mailboxes: columns {mf['files']:,} | {mm['files']:,} "
                         f"small mailboxes (c's store and its first tenth)", "", "", "", "", ""))
        add("d", "full backup, peak RSS MiB", mf["max_rss_mib"], mm["max_rss_mib"], "", "ratio ≤ 1.2",
            ratio(mm["max_rss_mib"], mf["max_rss_mib"]) <= 1.2)
        add("d", "nothing changed, peak RSS MiB", mn["max_rss_mib"], mu["max_rss_mib"], "", "ratio ≤ 1.2",
            ratio(mu["max_rss_mib"], mn["max_rss_mib"]) <= 1.2)
        add("d", "nothing changed, wall s", mn["wall_s"], mu["wall_s"])
        add("d", "node cache after full backup, MiB", mf["cache_bytes"], mm["cache_bytes"], "MiB")
    rd = res.get("backup_scale")
    if rd:
        s, l = rd["small"], rd["large"]
        out.append(("d", "backup: columns small repo | large repo", "", "", "", "", ""))
        add("d", "full backup, peak RSS MiB", s["full_rss_mib"], l["full_rss_mib"], "", "ratio ≤ 1.2",
            ratio(l["full_rss_mib"], s["full_rss_mib"]) <= 1.2)
        add("d", "full backup, wall s", full["small"]["wall_s"], full["large"]["wall_s"])
        add("d", "incremental (1 % changed), peak RSS MiB", s["incremental"]["max_rss_mib"],
            l["incremental"]["max_rss_mib"], "", "ratio ≤ 1.2",
            ratio(l["incremental"]["max_rss_mib"], s["incremental"]["max_rss_mib"]) <= 1.2)
        add("d", "incremental, wall s", s["incremental"]["wall_s"], l["incremental"]["wall_s"])
        add("d", "node cache after full backup, MiB", s["full_cache_bytes"], l["full_cache_bytes"], "MiB")
        add("d", "node cache after incremental, MiB", s["incremental"]["cache_bytes"],
            l["incremental"]["cache_bytes"], "MiB", "ratio ≤ 1.2 (literal)",
            ratio(l["incremental"]["cache_bytes"], s["incremental"]["cache_bytes"]) <= 1.2)
        add("d", "node cache MiB per stored GiB", s["incremental"]["cache_bytes"] / s["stored_total"] * 1024,
            l["incremental"]["cache_bytes"] / l["stored_total"] * 1024, show_ratio=False)
        if "many" in full:
            m = full["many"]
            add("d", "node cache MiB per stored GiB, small mailboxes (c)", None,
                m["cache_bytes"] / m["stored_total"] * 1024, show_ratio=False)
    out_e = []
    for name, label in (("large", "4 KiB pages, 1–16 MiB mailboxes"), ("pages1k", "1 KiB pages, 1–16 MiB mailboxes"),
                        ("many", "4 KiB pages, 8–64 KiB mailboxes (c)")):
        if name in full:
            share = metadata_share(full[name]["stored"])
            goal = "≤ 2 %" if name == "large" else "stated"
            ok = share <= 0.02 if name == "large" else None
            out_e.append(("e", f"metadata / stored, {label}", "–", f"{share * 100:.2f} %", "", goal,
                          "" if ok is None else ("met" if ok else "MISSED")))
    out += out_e
    if res.get("bench_store_reference"):
        out.append(("f", "incremental stored / changed page bytes, bench store", "", res["bench_store_reference"],
                     "", "≤ 1.2", ""))
    return out


def table(res):
    header = ("", "measurement", "small", "large", "large/small", "goal", "")
    lines = rows(res)
    widths = [max(len(str(r[i])) for r in [header] + [x for x in lines if x[2] or x[3]]) for i in range(len(header))]
    text = ["  ".join(str(h).ljust(widths[i]) for i, h in enumerate(header)),
            "  ".join("-" * w for w in widths)]
    for r in lines:
        if not r[2] and not r[3] and not r[6]:
            text.append(f"{r[0]}  {r[1]}")
            continue
        text.append("  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                              for i, c in enumerate(r)))
    return "\n".join(text)


def markdown(res):
    lines = ["| | measurement | small | large | large/small | goal | |", "|---|---|---:|---:|---:|---|---|"]
    for r in rows(res):
        r = [str(c).replace("|", "\\|") for c in r]
        if not r[2] and not r[3] and not r[6]:
            lines.append(f"| **{r[0]}** | **{r[1]}** | | | | | |")
        else:
            lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def parser():
    p = argparse.ArgumentParser(prog="scripts/bench --scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run, about a minute: 0.5 GiB, 5,000 small mailboxes")
    p.add_argument("--scale-gb", type=float, help="size of the large store in GiB (default 4; --quick 0.5)")
    p.add_argument("--scale-factor", type=float, default=10, help="large / small store size (default 10)")
    p.add_argument("--scale-mailbox-mib", type=float, default=8, help="the mailbox restored in a. (default 8)")
    p.add_argument("--scale-other-mib", default="1-16", help="sizes of the other mailboxes, MiB range (default 1-16)")
    p.add_argument("--scale-mailboxes", type=int, help="small mailboxes in c. (default 100000; --quick 5000)")
    p.add_argument("--scale-min-kib", type=int, default=8, help="smallest of them, KiB (default 8)")
    p.add_argument("--scale-max-kib", type=int, default=64, help="largest of them, KiB (default 64)")
    p.add_argument("--scale-changed", type=float, default=0.01, help="share of mailboxes changed (default 0.01)")
    p.add_argument("--scale-rewrite-pages", type=int, default=1,
                   help="pages rewritten per changed mailbox besides page 1 (default 1)")
    p.add_argument("--scale-append-pages", type=int, default=1, help="pages appended per changed mailbox (default 1)")
    p.add_argument("--scale-1k-mib", type=float, help="size of the 1 KiB-page store for e., MiB (default 256; --quick 32)")
    p.add_argument("--parts", default="a,b,c,d,e", help="which measurements (default a,b,c,d,e)")
    p.add_argument("--repeat", type=int, help="timed restores of one mailbox per repository (median; default 3, --quick 1)")
    p.add_argument("--no-strace", action="store_true", help="skip the strace cross-check")
    p.add_argument("--bench-store-ratio", help="f.: the figure from a normal `scripts/bench` run, to put in the table")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "drctl-bench-scale"),
                   help="scratch folder, emptied first (default $TMPDIR/drctl-bench-scale)")
    p.add_argument("--keep", action="store_true", help="keep stores, repositories and strace logs")
    p.add_argument("--json", dest="json_file", help="write every measurement to this file")
    p.add_argument("--markdown", help="write the table as Markdown to this file")
    p.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), help=argparse.SUPPRESS)
    p.add_argument("--drctl", help="drctl binary (default ROOT/.build/release/drctl)")
    p.add_argument("--no-build", action="store_true", help="do not run swift build (scripts/bench)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    args.scale_gb = args.scale_gb or (0.5 if args.quick else 4.0)
    args.scale_mailboxes = args.scale_mailboxes or (5000 if args.quick else 100000)
    args.scale_1k_mib = args.scale_1k_mib or (32 if args.quick else 256)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    drctl = os.path.abspath(args.drctl or os.path.join(args.root, ".build", "release", "drctl"))
    if not os.access(drctl, os.X_OK):
        raise SystemExit(f"bench: {drctl} is missing; run scripts/bench without --no-build")
    if not args.no_strace and not shutil.which("strace"):
        raise SystemExit("bench: strace is missing (apt-get install strace), or pass --no-strace")
    work = os.path.abspath(args.workdir)
    if os.path.exists(work):
        if not os.path.exists(os.path.join(work, MARKER)):
            raise SystemExit(f"bench: {work} exists and is not a scale-bench folder (no {MARKER}); choose another")
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, "time"))
    os.makedirs(os.path.join(work, "restore"))
    open(os.path.join(work, MARKER), "w").close()
    ctx = Context()
    ctx.args, ctx.drctl, ctx.work = args, drctl, work
    started = time.monotonic()
    command = "scripts/bench --scale " + " ".join(a for a in (argv if argv is not None else sys.argv[1:])
                                                   if not a.startswith("--root") and a != args.root)
    try:
        res = run_scale(ctx)
    except BenchError as error:
        raise SystemExit(f"bench: {error}")
    if args.bench_store_ratio:
        res["bench_store_reference"] = args.bench_store_ratio
    elapsed = time.monotonic() - started
    print()
    print(table(res))
    print()
    print(f"- one file:// target per repository; bytes and requests from drctl's transport (`transfer`),"
          f" cross-checked with strace -f -y ({STRACE_CALLS}) on the target's files;"
          f" every restore and check from an empty state folder (a new host).")
    print(f"- stores are synthetic: SQLite3MultipleCiphers-shaped page 1, random pages (scale_store.py);"
          f" drctl snapshotted them as {res.get('snapshot_mode', '?')} (page-chunked SQLite).")
    if not args.keep:
        shutil.rmtree(os.path.join(work, "stores"), ignore_errors=True)
        shutil.rmtree(os.path.join(work, "repos"), ignore_errors=True)
    document = {"command": command.strip(), "machine": machine(),
                "versions": {"drctl": run([drctl, "--version"]).strip()},
                "arguments": {k: v for k, v in vars(args).items() if k not in ("root", "json_file")},
                "elapsed_s": round(elapsed, 1), "results": res,
                "table": [dict(zip(("part", "measurement", "small", "large", "ratio", "goal", "verdict"), r))
                          for r in rows(res)]}
    if args.json_file:
        with open(args.json_file, "w") as handle:
            json.dump(document, handle, indent=2)
        log(f"wrote {args.json_file}")
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(markdown(res) + "\n")
        log(f"wrote {args.markdown}")
    log(f"done in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
