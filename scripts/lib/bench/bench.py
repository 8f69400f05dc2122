#!/usr/bin/env python3
"""drctl side by side with restic and borg, on one generated mail store, in one run.

For each tool, on the same store: full backup (wall time, peak RSS, repository size); then
~1% of the rows of 10% of the mailboxes change (gen-mailstore's writer, which then stops:
the files are quiescent); the bytes of the pages that changed are measured by comparing
consistent images (`drctl image`) page by page; incremental backup (wall time, peak RSS,
repository growth); full restore (wall time, peak RSS) compared byte for byte with the store.

Prints one table (metric x tool, drctl/restic and drctl/borg ratios) and, with --json FILE,
writes every measurement. Run through scripts/bench, which installs the tools and builds drctl.
"""
import argparse
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import time

TOOLS = ("drctl", "restic", "borg")
DEFAULT_MIX = "chacha20-wal:60,sqlcipher-wal:15,none-wal:10,chacha20-delete:5,sqlcipher-delete:5,none-delete:5"
MARKER = ".drctl-bench"
MiB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# measuring one command


def cpu_busy_seconds():
    """Busy CPU seconds of the whole machine so far (all processes, all cores)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def parse_time_v(path):
    values = {}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.strip().rpartition(": ")
            values[key] = value
    return {
        "max_rss_kib": int(values.get("Maximum resident set size (kbytes)", 0)),
        "user_s": float(values.get("User time (seconds)", 0)),
        "sys_s": float(values.get("System time (seconds)", 0)),
        "exit": int(values.get("Exit status", -1)) if "Exit status" in values else None,
    }


def measure(label, argv, env=None, cwd=None, workdir=None, check=True):
    """Runs argv under /usr/bin/time -v; returns wall seconds, peak RSS, CPU and what else ran."""
    time_file = os.path.join(workdir, "time", label.replace(" ", "_") + ".txt")
    out_file = os.path.join(workdir, "time", label.replace(" ", "_") + ".out")
    err_file = os.path.join(workdir, "time", label.replace(" ", "_") + ".err")
    full_env = dict(os.environ)
    full_env.update(env or {})
    # Earlier steps' dirty pages (the generated store, other tools' repositories) are flushed
    # first so that no tool pays for another's writeback.
    subprocess.run(["sync"], check=False)
    busy0, load0 = cpu_busy_seconds(), os.getloadavg()[0]
    t0 = time.monotonic()
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        process = subprocess.run(["/usr/bin/time", "-v", "-o", time_file, "--"] + argv,
                                 stdout=out, stderr=err, env=full_env, cwd=cwd)
    wall = time.monotonic() - t0
    busy = cpu_busy_seconds() - busy0
    stats = parse_time_v(time_file)
    own_cpu = stats["user_s"] + stats["sys_s"]
    result = {
        "wall_s": round(wall, 3),
        "max_rss_mib": round(stats["max_rss_kib"] / 1024, 1),
        "cpu_s": round(own_cpu, 2),
        "user_s": stats["user_s"],
        "sys_s": stats["sys_s"],
        # CPU used by everything else on the machine meanwhile, in cores: the noise indicator.
        "other_load_cores": round(max(0.0, busy - own_cpu) / wall, 2) if wall > 0 else 0.0,
        "loadavg_1m_before": round(load0, 2),
        "exit": process.returncode,
    }
    with open(out_file, "rb") as handle:
        result["_stdout"] = handle.read().decode(errors="replace")
    if check and process.returncode != 0:
        with open(err_file, "rb") as handle:
            tail = handle.read().decode(errors="replace")[-2000:]
        raise BenchError(f"{label}: {' '.join(argv)} exited {process.returncode}\n{tail}")
    log(f"{label}: {result['wall_s']} s, {result['max_rss_mib']} MiB RSS, "
        f"other load {result['other_load_cores']} cores")
    return result


def run(argv, env=None, cwd=None, capture=True):
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.run(argv, env=full_env, cwd=cwd, capture_output=capture, text=True)
    if process.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {process.returncode}\n{(process.stderr or '')[-2000:]}")
    return process.stdout


def tree_bytes(path):
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                pass
    return total


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def same_bytes(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


# ---------------------------------------------------------------------------------------------
# the store


def parse_mix(spec):
    mix = []
    for part in spec.split(","):
        name, _, weight = part.partition(":")
        cipher, _, journal = name.strip().partition("-")
        if cipher not in ("none", "chacha20", "sqlcipher") or journal not in ("wal", "delete"):
            raise BenchError(f"--mix: {name!r} is not <none|chacha20|sqlcipher>-<wal|delete>")
        mix.append((cipher, journal, float(weight or 1)))
    return mix


def allocate(total, mix):
    """Largest-remainder split of `total` mailboxes over the mix weights."""
    weights = sum(w for _, _, w in mix)
    exact = [total * w / weights for _, _, w in mix]
    counts = [int(x) for x in exact]
    order = sorted(range(len(mix)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return [(c, j, n) for (c, j, _), n in zip(mix, counts) if n > 0]


def generate_store(ctx):
    store = ctx.store
    os.makedirs(store)
    created = []
    t0 = time.monotonic()
    for index, (cipher, journal, count) in enumerate(allocate(ctx.args.mailboxes, parse_mix(ctx.args.mix))):
        out = run([sys.executable, ctx.gen, "create", "--dir", store, "--key-file", ctx.mailbox_key,
                   "--count", str(count), "--messages", str(ctx.args.messages),
                   "--messages-jitter", str(ctx.args.messages_jitter),
                   "--seed", str(ctx.args.seed * 1000 + index), "--cipher", cipher, "--journal", journal])
        created += json.loads(out)
    files = sorted(os.listdir(store))
    size = tree_bytes(store)
    log(f"store: {len(created)} mailboxes, {size / MiB:.1f} MiB, generated in {time.monotonic() - t0:.1f} s")
    return created, {"mailboxes": len(created), "files": len(files), "bytes": size,
                     "generate_s": round(time.monotonic() - t0, 1),
                     "by_kind": {f"{c}-{j}": n for c, j, n in allocate(ctx.args.mailboxes, parse_mix(ctx.args.mix))}}


def extra_files(store):
    """-wal, -shm and -journal files present in the store (what restic and borg copy as is)."""
    return sorted(n for n in os.listdir(store) if n.endswith(("-wal", "-shm", "-journal")))


# ---------------------------------------------------------------------------------------------
# the three tools


class Drctl:
    name = "drctl"

    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "drctl")
        self.targets = [os.path.join(self.dir, f"target-{i + 1}") for i in range(ctx.args.drctl_targets)]
        self.config = os.path.join(self.dir, "drctl.toml")
        self.snapshot_ids = []

    def init(self):
        os.makedirs(self.dir)
        with open(self.config, "w") as handle:
            handle.write(f"""# written by scripts/bench
[store]
path = "{self.ctx.store}"
include = ["*.db"]
fallback_page_size = 1024   # gen-mailstore's SQLCipher 3 files in rollback mode

[repository]
key_file = "{os.path.join(self.ctx.secrets, 'drctl.key')}"   # generated by drctl init (0600)

{"".join(f'[[target]]{chr(10)}name = "t{i + 1}"{chr(10)}url = "file://{t}"{chr(10)}{chr(10)}'
          for i, t in enumerate(self.targets))}[state]
path = "{os.path.join(self.dir, 'state')}"
""")
        run([self.ctx.drctl, "init", "--config", self.config, "--json"])

    def backup(self, label):
        result = measure(f"drctl {label}", [self.ctx.drctl, "backup", "--config", self.config, "--json",
                                             "--no-progress"], workdir=self.ctx.work)
        report = json.loads(result.pop("_stdout"))
        if report.get("failures"):
            raise BenchError(f"drctl backup reported failures: {report['failures']}")
        # `snapshot` since format 2 (earlier reports called the id `image`).
        self.snapshot_ids.append(report.get("snapshot") or report["image"])
        result["tool_report"] = {k: report.get(k) for k in ("files", "filesUnchanged", "bytesRead",
                                                            "imageBytes", "newChunks", "newChunkBytes")}
        result["tool_report"]["storedBytes"] = [t.get("storedBytes") for t in report.get("targets", [])]
        return result

    def sizes(self):
        per = [tree_bytes(t) for t in self.targets]
        return {"per_target": per[0], "targets": per, "total": sum(per),
                "state": tree_bytes(os.path.join(self.dir, "state"))}

    def restore(self, destination):
        result = measure("drctl restore", [self.ctx.drctl, "restore", "--config", self.config, "--json",
                                           "--snapshot", self.snapshot_ids[-1], "--to", destination],
                         workdir=self.ctx.work)
        result.pop("_stdout")
        return result, destination


class Restic:
    name = "restic"

    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "restic")
        self.repo = os.path.join(self.dir, "repo")
        password = os.path.join(ctx.secrets, "restic.pass")
        # The password travels as a file name (RESTIC_PASSWORD_FILE), never in argv.
        self.env = {"RESTIC_REPOSITORY": self.repo, "RESTIC_PASSWORD_FILE": password,
                    "RESTIC_CACHE_DIR": os.path.join(self.dir, "cache")}
        write_private(password, secrets.token_hex(32) + "\n")

    def init(self):
        os.makedirs(self.dir)
        run(["restic", "init"], env=self.env)
        config = json.loads(run(["restic", "cat", "config"], env=self.env))
        self.repository_version = config.get("version")

    def backup(self, label):
        result = measure(f"restic {label}", ["restic", "backup", "--json", "--quiet", self.ctx.store],
                         env=self.env, workdir=self.ctx.work)
        summary = {}
        for line in result.pop("_stdout").splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("message_type") == "summary":
                summary = message
        result["tool_report"] = {k: summary.get(k) for k in ("files_new", "files_changed", "files_unmodified",
                                                             "data_added", "total_bytes_processed")}
        return result

    def sizes(self):
        size = tree_bytes(self.repo)
        return {"per_target": size, "targets": [size], "total": size,
                "state": tree_bytes(os.path.join(self.dir, "cache"))}

    def restore(self, destination):
        os.makedirs(destination)
        result = measure("restic restore", ["restic", "restore", "latest", "--target", destination],
                         env=self.env, workdir=self.ctx.work)
        result.pop("_stdout")
        return result, os.path.join(destination, self.ctx.store.lstrip("/"))


class Borg:
    name = "borg"

    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "borg")
        self.repo = os.path.join(self.dir, "repo")
        passphrase = os.path.join(ctx.secrets, "borg.pass")
        write_private(passphrase, secrets.token_hex(32) + "\n")
        # BORG_PASSCOMMAND reads the passphrase from the 0600 file: never in argv or BORG_PASSPHRASE.
        self.env = {"BORG_PASSCOMMAND": f"cat {passphrase}", "BORG_BASE_DIR": os.path.join(self.dir, "base"),
                    "BORG_RELOCATED_REPO_ACCESS_IS_OK": "no", "BORG_DISPLAY_PASSPHRASE": "no"}
        self.archives = 0

    def init(self):
        os.makedirs(self.dir)
        run(["borg", "init", "--encryption=repokey", self.repo], env=self.env)

    def backup(self, label):
        self.archives += 1
        result = measure(f"borg {label}", ["borg", "create", "--json", f"{self.repo}::a{self.archives}",
                                           self.ctx.store], env=self.env, workdir=self.ctx.work)
        report = json.loads(result.pop("_stdout"))
        stats = report.get("archive", {}).get("stats", {})
        result["tool_report"] = {k: stats.get(k) for k in ("nfiles", "original_size", "compressed_size",
                                                           "deduplicated_size")}
        return result

    def sizes(self):
        size = tree_bytes(self.repo)
        return {"per_target": size, "targets": [size], "total": size,
                "state": tree_bytes(os.path.join(self.dir, "base"))}

    def restore(self, destination):
        os.makedirs(destination)
        result = measure("borg restore", ["borg", "extract", f"{self.repo}::a{self.archives}"],
                         env=self.env, cwd=destination, workdir=self.ctx.work)
        result.pop("_stdout")
        return result, os.path.join(destination, self.ctx.store.lstrip("/"))


# ---------------------------------------------------------------------------------------------
# the change and its size in pages


def snapshot_image(ctx, path, out):
    report = json.loads(run([ctx.drctl, "image", path, "--to", out, "--json", "--page-size", "1024"]))
    return report


def changed_pages(old, new, page_size):
    """Pages of `new` that differ from `old` at the same offset or did not exist in it."""
    changed = 0
    with open(old, "rb") as fo, open(new, "rb") as fn:
        while True:
            b = fn.read(page_size)
            if not b:
                break
            if fo.read(page_size) != b:
                changed += 1
    return changed


def change_mailboxes(ctx, created):
    rng = random.Random(ctx.args.seed + 7)
    count = max(1, round(len(created) * ctx.args.changed_fraction))
    chosen = sorted(rng.sample(created, count), key=lambda m: m["path"])
    before_dir, after_dir = os.path.join(ctx.work, "pages", "before"), os.path.join(ctx.work, "pages", "after")
    os.makedirs(before_dir)
    os.makedirs(after_dir)
    for mailbox in chosen:
        snapshot_image(ctx, mailbox["path"], os.path.join(before_dir, os.path.basename(mailbox["path"])))
    t0 = time.monotonic()
    transactions_total = 0
    for index, mailbox in enumerate(chosen):
        # One writer transaction inserts a message (and its ledger row, every third an
        # attachment), updates a thread and another message's flags, and deletes the writer's
        # oldest message: `row_fraction` x messages transactions change about that share of rows.
        transactions = max(1, round(mailbox["messages"] * ctx.args.row_fraction))
        transactions_total += transactions
        run([sys.executable, ctx.gen, "write", "--db", mailbox["path"], "--cipher", mailbox["cipher"],
             "--key-file", ctx.mailbox_key, "--seed", str(ctx.args.seed * 100 + index),
             "--max-transactions", str(transactions)])
    # The writers have exited (they stop after --max-transactions): the store is quiescent.
    details, changed_bytes, verified = [], 0, 0
    for mailbox in chosen:
        name = os.path.basename(mailbox["path"])
        old, new = os.path.join(before_dir, name), os.path.join(after_dir, name)
        report = snapshot_image(ctx, mailbox["path"], new)
        page_size = report["pageSize"]
        pages = changed_pages(old, new, page_size)
        changed_bytes += pages * page_size
        check = json.loads(run([sys.executable, ctx.gen, "verify", "--cipher", mailbox["cipher"],
                                "--key-file", ctx.mailbox_key, new]).splitlines()[0])
        if check["problems"]:
            raise BenchError(f"the changed image of {name} fails gen-mailstore verify: {check['problems']}")
        verified += 1
        details.append({"mailbox": name, "page_size": page_size, "changed_pages": pages,
                        "image_bytes_before": os.path.getsize(old), "image_bytes_after": os.path.getsize(new),
                        "mode": report.get("mode")})
    log(f"changed {len(chosen)} mailboxes ({transactions_total} writer transactions in "
        f"{time.monotonic() - t0:.1f} s): {changed_bytes / MiB:.2f} MiB of changed pages")
    return {"mailboxes": len(chosen), "writer_transactions": transactions_total,
            "changed_page_bytes": changed_bytes, "images_verified": verified,
            "wal_shm_journal_files_after": extra_files(ctx.store), "details": details}


# ---------------------------------------------------------------------------------------------
# restore comparison


def compare_restore(ctx, tool, restored_root):
    """Byte-for-byte comparison of every file of the store with the restored one.

    The store is quiescent when the last backup ran and stays so until now. restic and borg
    copied files as they are (with any -wal/-shm); drctl stores a consistent image per mailbox.
    With no -wal left in the store the image of a mailbox is its database file byte for byte,
    so the source file itself is the reference (independent of drctl); when a -wal is present
    the reference is `drctl image`'s image (not independent: noted)."""
    identical, different, missing, via_snapshot = 0, [], [], 0
    wal_present = {n[:-4] for n in os.listdir(ctx.store) if n.endswith("-wal")}
    reference_dir = os.path.join(ctx.work, "pages", "reference")
    for name in sorted(os.listdir(ctx.store)):
        source = os.path.join(ctx.store, name)
        if tool == "drctl" and not name.endswith(".db"):
            continue
        if tool == "drctl" and name in wal_present:
            os.makedirs(reference_dir, exist_ok=True)
            reference = os.path.join(reference_dir, name)
            snapshot_image(ctx, source, reference)
            source, via_snapshot = reference, via_snapshot + 1
        restored = os.path.join(restored_root, name)
        if not os.path.exists(restored):
            missing.append(name)
        elif same_bytes(source, restored):
            identical += 1
        else:
            different.append(name)
    return {"identical": identical, "different": different, "missing": missing,
            "reference_via_drctl_snapshot": via_snapshot}


# ---------------------------------------------------------------------------------------------
# one run


class Context:
    pass


def one_run(args, root, drctl, run_index):
    ctx = Context()
    ctx.args, ctx.drctl = args, drctl
    ctx.gen = os.path.join(root, "scripts", "gen-mailstore")
    ctx.work = os.path.join(os.path.abspath(args.workdir), f"run-{run_index}")
    ctx.store = os.path.join(ctx.work, "store")
    ctx.secrets = os.path.join(ctx.work, "secrets")
    for d in (ctx.work, os.path.join(ctx.work, "time")):
        os.makedirs(d)
    os.makedirs(ctx.secrets, mode=0o700)
    ctx.mailbox_key = os.path.join(ctx.secrets, "mailbox.key")
    write_private(ctx.mailbox_key, secrets.token_hex(32) + "\n")

    created, store_info = generate_store(ctx)
    # The order rotates from run to run (--repeat) so that no tool is always first or last.
    shift = (run_index - 1) % len(args.tools)
    order = args.tools[shift:] + args.tools[:shift]
    tools = [{"drctl": Drctl, "restic": Restic, "borg": Borg}[name](ctx) for name in order]
    result_order = order
    result = {"store": store_info, "order": result_order, "tools": {}}
    for tool in tools:
        tool.init()
        result["tools"][tool.name] = {"initial_bytes": tool.sizes()}
    if "restic" in args.tools:
        result["restic_repository_version"] = tools[order.index("restic")].repository_version
    result["wal_shm_journal_files_at_full_backup"] = extra_files(ctx.store)
    for tool in tools:
        entry = result["tools"][tool.name]
        entry["full"] = tool.backup("full backup")
        entry["after_full_bytes"] = tool.sizes()
    result["change"] = change_mailboxes(ctx, created)
    for tool in tools:
        entry = result["tools"][tool.name]
        entry["incremental"] = tool.backup("incremental backup")
        entry["after_incremental_bytes"] = tool.sizes()
        entry["growth"] = {k: entry["after_incremental_bytes"][k] - entry["after_full_bytes"][k]
                           for k in ("per_target", "total")}
    for tool in tools:
        entry = result["tools"][tool.name]
        measured, restored_root = tool.restore(os.path.join(ctx.work, "restore", tool.name))
        # drctl fsyncs every restored file, restic and borg do not: the time of a sync right
        # after the restore puts them on the same footing (durable on disk).
        t0 = time.monotonic()
        subprocess.run(["sync"], check=False)
        measured["sync_after_s"] = round(time.monotonic() - t0, 3)
        entry["restore"] = measured
        entry["restore_check"] = compare_restore(ctx, tool.name, restored_root)
        if not args.keep:
            shutil.rmtree(os.path.join(ctx.work, "restore", tool.name))
    return result


# ---------------------------------------------------------------------------------------------
# the table


def metrics(run_result):
    """{metric: {tool: value}} for one run."""
    changed = run_result["change"]["changed_page_bytes"]
    rows = {}
    for tool, e in run_result["tools"].items():
        def put(metric, value):
            rows.setdefault(metric, {})[tool] = value
        put("full backup, wall s", e["full"]["wall_s"])
        put("full backup, peak RSS MiB", e["full"]["max_rss_mib"])
        put("full backup, CPU s", e["full"]["cpu_s"])
        put("repository after full, MiB per target", e["after_full_bytes"]["per_target"] / MiB)
        put("repository after full, MiB all targets", e["after_full_bytes"]["total"] / MiB)
        put("incremental backup, wall s", e["incremental"]["wall_s"])
        put("incremental backup, peak RSS MiB", e["incremental"]["max_rss_mib"])
        put("incremental growth, MiB per target", e["growth"]["per_target"] / MiB)
        put("incremental growth, MiB all targets", e["growth"]["total"] / MiB)
        put("growth per target / changed page bytes", e["growth"]["per_target"] / changed if changed else None)
        put("restore, wall s", e["restore"]["wall_s"])
        put("restore + sync, wall s", e["restore"]["wall_s"] + e["restore"]["sync_after_s"])
        put("restore, peak RSS MiB", e["restore"]["max_rss_mib"])
        put("restore, files identical", e["restore_check"]["identical"])
        put("other load during the tool's runs, cores (max)",
            max(e[p]["other_load_cores"] for p in ("full", "incremental", "restore")))
    return rows


def combine(runs):
    """Median over runs of every metric, with min and max."""
    per_run = [metrics(r) for r in runs]
    combined = {}
    for metric in per_run[0]:
        for tool in per_run[0][metric]:
            values = [m[metric][tool] for m in per_run if m[metric].get(tool) is not None]
            if values:
                combined.setdefault(metric, {})[tool] = {"median": statistics.median(values),
                                                         "min": min(values), "max": max(values)}
    return combined


def fmt(value):
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100:
        return f"{int(value)}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(combined, runs, tools):
    ratio_tools = [t for t in ("restic", "borg") if t in tools and "drctl" in tools]
    header = ["metric"] + list(tools) + [f"drctl/{t}" for t in ratio_tools]
    lines = []
    for metric, values in combined.items():
        if metric.startswith("restore, files identical"):  # the worst run, as a count
            row = [metric + " (min)"] + [str(int(values[t]["min"])) if t in values else "–" for t in tools]
        else:
            row = [metric] + [fmt(values[t]["median"]) if t in values else "–" for t in tools]
        for t in ratio_tools:
            a, b = values.get("drctl", {}).get("median"), values.get(t, {}).get("median")
            skip = metric.startswith(("restore, files", "other load"))
            row.append("–" if skip or not a or not b else f"{a / b:.2f}")
        lines.append(row)
    changed = statistics.median(r["change"]["changed_page_bytes"] for r in runs)
    lines.append(["changed page bytes, MiB (same for all)", fmt(changed / MiB)] + [""] * (len(header) - 2))
    widths = [max(len(str(line[i])) for line in [header] + lines) for i in range(len(header))]
    out = ["  ".join(h.ljust(widths[0]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(header)),
           "  ".join("-" * w for w in widths)]
    for line in lines:
        out.append("  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                             for i, c in enumerate(line)))
    return "\n".join(out)


def notes(runs, args):
    r = runs[0]
    n = []
    files = r["wal_shm_journal_files_at_full_backup"] + r["change"]["wal_shm_journal_files_after"]
    n.append("restic and borg were given the live files as they are (.db plus any -wal/-shm): they "
             "cannot take a consistent copy of a SQLite file that is being written. Here the writers "
             "had stopped before every backup, so " +
             ("no -wal/-shm/-journal file was left (SQLite checkpoints and removes the WAL when the last "
              "connection closes) and their copies are consistent: their best case. Under live writers "
              "they would copy torn files; drctl would not." if not files else
              f"these side files were present and copied as is: {', '.join(sorted(set(files)))}."))
    n.append(f"drctl writes every backup to {args.drctl_targets} file:// targets (each a complete repository): 'per target' is "
             "the like-for-like size against restic's and borg's single repository, 'all targets' what "
             "drctl actually wrote.")
    n.append(f"Compression: drctl zstd, borg lz4 (default), restic repository v"
             f"{r.get('restic_repository_version', '?')} (v2 compresses with zstd 'auto', v1 does not). "
             "Encrypted pages do not compress for anyone.")
    n.append("Chunking: drctl page-aligned chunks for SQLite images; restic and borg their default "
             "content-defined chunking (~1 MiB and ~2 MiB average).")
    n.append("drctl restore checks every chunk against its id and fsyncs each file before renaming it; restic and "
             "borg restores do not fsync: 'restore + sync' adds the time of a sync(1) right after each "
             "restore (machine-wide, so other engineers' writes can land in it).")
    n.append("Every measured command starts after a sync(1) (not timed). The store is in the page cache "
             f"for every tool (just generated; {machine().get('mem_gib', '?')} GiB of RAM); caches and state "
             "(restic cache, borg files/chunks cache, drctl state) are local and not counted in repository "
             "sizes (they are in the JSON).")
    n.append("Tool order per run: " + "; ".join(" ".join(r_["order"]) for r_ in runs) + ".")
    loads = [e[p]["other_load_cores"] for run_ in runs for e in run_["tools"].values()
             for p in ("full", "incremental", "restore")]
    if max(loads) >= 0.3:
        n.append(f"NOISY: other processes used up to {max(loads):.2f} cores of {os.cpu_count()} while a tool "
                 "ran (see 'other load'); repeat with --repeat N or when the machine is idle.")
    else:
        n.append(f"The machine was quiet (other load at most {max(loads):.2f} cores while a tool ran).")
    return n


def machine():
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as handle:
            info["mem_gib"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
        with open("/etc/debian_version") as handle:
            info["debian"] = handle.read().strip()
    except OSError:
        pass
    return info


def versions(drctl, tools):
    v = {}
    v["drctl"] = run([drctl, "--version"]).strip()
    if "restic" in tools:
        v["restic"] = run(["restic", "version"]).strip()
    if "borg" in tools:
        v["borg"] = run(["borg", "--version"]).strip()
    return v


def main():
    if "--scale" in sys.argv[1:]:
        # The scale benchmark (issue 9): its own harness and options (scripts/bench --scale --help).
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import scale
        return scale.main([a for a in sys.argv[1:] if a != "--scale"])
    if "--frequent" in sys.argv[1:]:
        # The frequent timer's cost with nothing changed (issue 11): scripts/bench --frequent --help.
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import frequent_timer
        return frequent_timer.main([a for a in sys.argv[1:] if a != "--frequent"])
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true",
                        help="run the scale benchmark instead (issue 9: restore one mailbox, restore/check "
                             "everything, incremental metadata, backup memory and cache, metadata overhead on "
                             "synthetic stores of up to 100,000 mailboxes); its options: scripts/bench --scale --help")
    parser.add_argument("--frequent", action="store_true",
                        help="run the frequent-timer benchmark instead (issue 11: drctl backup and drctl run with "
                             "nothing changed on 10,000 mailboxes, beside restic and borg); scripts/bench --frequent --help")
    parser.add_argument("--quick", action="store_true", help="~50 MB smoke run (16 mailboxes x 600 messages)")
    parser.add_argument("--mailboxes", type=int, help="number of mailboxes (default 150; --quick 16)")
    parser.add_argument("--messages", type=int, help="messages per mailbox (default 1000; --quick 600)")
    parser.add_argument("--messages-jitter", type=int, help="+/- messages per mailbox (default 30%%)")
    parser.add_argument("--mix", default=DEFAULT_MIX,
                        help=f"cipher-journal:weight list (default {DEFAULT_MIX})")
    parser.add_argument("--changed-fraction", type=float, default=0.10, help="share of mailboxes changed")
    parser.add_argument("--row-fraction", type=float, default=0.01,
                        help="writer transactions per changed mailbox, as a share of its messages")
    parser.add_argument("--drctl-targets", type=int, default=2, help="drctl file:// targets (default 2)")
    parser.add_argument("--tools", default="drctl,restic,borg", help="comma list (default all three)")
    parser.add_argument("--repeat", type=int, default=1, help="whole runs; the table shows medians")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "drctl-bench"),
                        help="scratch folder, emptied first (default $TMPDIR/drctl-bench)")
    parser.add_argument("--keep", action="store_true", help="keep store, repositories and restores")
    parser.add_argument("--json", dest="json_file", help="write every measurement to this file")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), help=argparse.SUPPRESS)
    parser.add_argument("--drctl", help="drctl binary (default ROOT/.build/release/drctl)")
    parser.add_argument("--no-build", action="store_true", help="do not run swift build (scripts/bench)")
    args = parser.parse_args()
    args.mailboxes = args.mailboxes or (16 if args.quick else 150)
    args.messages = args.messages or (600 if args.quick else 1000)
    if args.messages_jitter is None:
        args.messages_jitter = int(args.messages * 0.3)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if any(t not in TOOLS for t in args.tools):
        parser.error(f"--tools: choose among {', '.join(TOOLS)}")
    drctl = os.path.abspath(args.drctl or os.path.join(args.root, ".build", "release", "drctl"))
    if not os.access(drctl, os.X_OK):
        raise SystemExit(f"bench: {drctl} is missing; run scripts/bench without --no-build")

    workdir = os.path.abspath(args.workdir)
    if os.path.exists(workdir):
        if not os.path.exists(os.path.join(workdir, MARKER)):
            raise SystemExit(f"bench: {workdir} exists and is not a bench folder (no {MARKER}); choose another")
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    open(os.path.join(workdir, MARKER), "w").close()

    command = "scripts/bench " + " ".join(a for a in sys.argv[1:] if not a.startswith("--root"))
    command = " ".join(a for a in command.split() if a != args.root)
    started = time.monotonic()
    runs = []
    try:
        for index in range(args.repeat):
            if args.repeat > 1:
                log(f"run {index + 1} of {args.repeat}")
            runs.append(one_run(args, args.root, drctl, index + 1))
            if not args.keep:
                shutil.rmtree(os.path.join(workdir, f"run-{index + 1}"))
    except BenchError as error:
        raise SystemExit(f"bench: {error}")
    combined = combine(runs)
    r = runs[0]
    print()
    print(f"store: {r['store']['mailboxes']} mailboxes, {r['store']['bytes'] / MiB:.1f} MiB "
          f"({', '.join(f'{k} {v}' for k, v in r['store']['by_kind'].items())}); "
          f"changed: {r['change']['mailboxes']} mailboxes, {r['change']['writer_transactions']} writer "
          f"transactions; runs: {len(runs)}" + (" (medians)" if len(runs) > 1 else ""))
    print()
    print(table(combined, runs, args.tools))
    print()
    for note in notes(runs, args):
        print(f"- {note}")
    bad = [(t, e["restore_check"]) for run_ in runs for t, e in run_["tools"].items()
           if e["restore_check"]["different"] or e["restore_check"]["missing"]]
    for tool, check in bad:
        print(f"- RESTORE MISMATCH {tool}: different {check['different']}, missing {check['missing']}")
    if args.json_file:
        document = {"command": command, "machine": machine(), "versions": versions(drctl, args.tools),
                    "arguments": {k: v for k, v in vars(args).items() if k not in ("root", "json_file")},
                    "elapsed_s": round(time.monotonic() - started, 1), "summary": combined,
                    "notes": notes(runs, args), "runs": runs}
        with open(args.json_file, "w") as handle:
            json.dump(document, handle, indent=2)
        log(f"wrote {args.json_file}")
    log(f"done in {time.monotonic() - started:.0f} s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
