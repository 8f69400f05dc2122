#!/usr/bin/env python3
"""scripts/bench --frequent: what the frequent backup timer costs when nothing changed (issue 11).

A short recovery point objective means a backup every 15 minutes: 96 runs a day, almost all of
them finding nothing, or next to nothing, changed. This measures that run on a store of
--mailboxes (10,000) mailboxes:

  1. the store: --real (100) real SQLite mailboxes from gen-mailstore in WAL mode (60 %
     chacha20, 25 % sqlcipher, 15 % plain, --real-messages messages each), and the rest
     synthetic SQLite3MultipleCiphers-shaped WAL mailboxes from scale_store.py (issue 9's
     generator), sizes drawn from --sizes (KiB ranges and weights; default 60 % 8-64 KiB, 35 %
     64-512 KiB, 5 % 0.5-4 MiB). Quiescent: no -wal/-shm left, as after the last connection
     closed.
  2. drctl with two file:// targets (and, with --s3-servers FILE or --own-s3 [DIR], a second
     repository on two S3 targets, SeaweedFS and radosgw from scripts/s3-servers): `drctl init`,
     a first full backup (timed), then one `drctl run` (prune is due: never done; it records the
     schedule), so that every later run finds prune not due ([prune] every = "7d").
  3. restic and borg (when installed and in --tools), each with its first full backup.
  4. --repeat (5) rounds; each round runs, in an order rotated from round to round, every one
     of: `drctl backup`, `drctl run` (the summary must say prune "not-due"), `drctl backup`
     with a configuration without [metrics] (then a backup skips the status measure that
     refreshes the textfile), `drctl status`, `drctl backup` and `drctl run` on the S3
     repository, `restic backup`, `borg create`; nothing changes in the store meanwhile.
     Each under /usr/bin/time -v after an untimed sync(1): wall, CPU (user + sys), peak RSS,
     bytes the process wrote to disk ("File system outputs", 512-byte blocks: counted when a
     page is dirtied, so a short process is charged for what it wrote even if the flush comes
     later), growth and new files of the targets / repository and of the local state or cache,
     requests per target (drctl's `transfer`; and a listing of each S3 prefix before and after).
  5. with --profile (default when perf is installed): one more `drctl backup` under `perf stat`,
     one under `perf record --call-graph dwarf` (its CPU split into the backup's parts by the
     functions on each sample's call chain), one under `strace -f -c` (system calls by count),
     one under `strace -f --seccomp-bpf -ttt` on file calls (a timeline: what it opens and
     writes on the targets, in the state folder and in the store, and the silences between),
     and SQLite's PRAGMA quick_check timed alone on the node cache; --profile-run adds the
     perf split of one `drctl run`.
  6. --day-runs (96) more `drctl backup` runs back to back on the file:// repository: a day of
     the timer compressed; whether a run costs more as the day's snapshots pile up, and the
     day's CPU and bytes added up rather than multiplied.

Prints the table (medians, min-max), the ratios drctl/restic and drctl/borg, what 96 runs a
day cost, the day, and the profiles; --json FILE keeps every measurement. Takes about 6
minutes with S3 on 2 cores (store ~15 s, full backups ~2 min of which the S3 one ~1 min, the
rounds ~1.5 min, profiles ~30 s, the day ~2 min); --quick is a smoke run of ~20 s.
"""
import argparse
import collections
import datetime
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scale_store  # noqa: E402
from bench import BenchError, cpu_busy_seconds, log, machine, run, tree_bytes, write_private  # noqa: E402

MiB = 1024 * 1024
KiB = 1024
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MARKER = ".drctl-bench-frequent"
DEFAULT_SIZES = "8-64:60,64-512:35,512-4096:5"
REAL_MIX = (("chacha20", 60), ("sqlcipher", 25), ("none", 15))
RUNS_PER_DAY = 96   # one every 15 minutes


# ---------------------------------------------------------------------------------------------
# the store


def parse_sizes(spec):
    """'8-64:60,64-512:35' -> [(lo KiB, hi KiB, weight)]."""
    out = []
    for part in spec.split(","):
        rng, _, weight = part.strip().partition(":")
        lo, _, hi = rng.partition("-")
        lo, hi = float(lo), float(hi or lo)
        if lo <= 0 or hi < lo:
            raise SystemExit(f"--sizes: {part!r} is not LO-HI:WEIGHT in KiB")
        out.append((lo, hi, float(weight or 1)))
    return out


def plan_pages(count, spec, seed, page_size):
    """Page counts of the synthetic mailboxes: a range picked by weight, a size uniform in it."""
    rng = random.Random(f"drctl-frequent:{seed}:sizes")
    ranges = parse_sizes(spec)
    weights = [w for _, _, w in ranges]
    pages = []
    for _ in range(count):
        lo, hi, _ = rng.choices(ranges, weights=weights)[0]
        pages.append(max(1, round(rng.uniform(lo, hi) * KiB / page_size)))
    return pages


def generate_store(ctx):
    a = ctx.args
    store = ctx.store
    t0 = time.monotonic()
    synthetic = a.mailboxes - a.real
    total = 0
    made = set()
    for index, pages in enumerate(plan_pages(synthetic, a.sizes, a.seed, 4096)):
        path = scale_store.mailbox_path(store, index, 256)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        total += scale_store.write_mailbox(path, scale_store.mailbox_rng(a.seed, index), pages, 4096, True)
    synthetic_s = time.monotonic() - t0
    real = []
    if a.real:
        # Real SQLite files (the page cache, the WAL header versions, SQLCipher's and
        # SQLite3MultipleCiphers' own layouts), in a folder of their own.
        weights = sum(w for _, w in REAL_MIX)
        counts = [a.real * w // weights for _, w in REAL_MIX]
        counts[0] += a.real - sum(counts)
        folder = os.path.join(store, "real")
        for i, ((cipher, _), n) in enumerate(zip(REAL_MIX, counts)):
            if n == 0:
                continue
            out = run([sys.executable, os.path.join(ROOT, "scripts", "gen-mailstore"), "create", "--dir", folder,
                       "--key-file", ctx.mailbox_key, "--count", str(n), "--messages", str(a.real_messages),
                       "--messages-jitter", str(a.real_messages * 3 // 10), "--seed", str(a.seed * 1000 + i),
                       "--cipher", cipher, "--journal", "wal", "--suffix", ".sqlite"])
            real += json.loads(out)
    leftovers = [n for _, _, names in os.walk(store) for n in names if n.endswith(("-wal", "-shm", "-journal"))]
    if leftovers:
        raise BenchError(f"the store is not quiescent: {leftovers[:5]}")
    size = tree_bytes(store)
    result = {"mailboxes": synthetic + len(real), "synthetic": synthetic, "real": len(real),
              "real_by_cipher": dict(collections.Counter(m["cipher"] for m in real)),
              "bytes": size, "synthetic_bytes": total, "sizes_kib": a.sizes,
              "real_messages": a.real_messages, "generate_s": round(time.monotonic() - t0, 1),
              "synthetic_s": round(synthetic_s, 1)}
    log(f"store: {result['mailboxes']} mailboxes ({synthetic} synthetic, {len(real)} real), "
        f"{size / MiB:.0f} MiB, in {result['generate_s']} s")
    return result


# ---------------------------------------------------------------------------------------------
# folders: what a run added, changed and removed


def scan(path):
    """{relative path: (size, mtime_ns, inode)} of every file under path."""
    files = {}
    for directory, _, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            files[os.path.relpath(full, path)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return files


def difference(before, after):
    new = [p for p in after if p not in before]
    changed = [p for p in after if p in before and after[p] != before[p]]
    removed = [p for p in before if p not in after]
    return {"growth_bytes": sum(v[0] for v in after.values()) - sum(v[0] for v in before.values()),
            "new_files": len(new), "new_bytes": sum(after[p][0] for p in new),
            "changed_files": len(changed), "changed_bytes_now": sum(after[p][0] for p in changed),
            "removed_files": len(removed), "removed_bytes": sum(before[p][0] for p in removed),
            "bytes_now": sum(v[0] for v in after.values()),
            "new": sorted(new)[:12], "changed": sorted(changed)[:12], "removed": sorted(removed)[:12]}


# ---------------------------------------------------------------------------------------------
# measuring one command


def parse_time_v(path):
    values = {}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.strip().rpartition(": ")
            values[key] = value

    def number(key, kind=int):
        try:
            return kind(values.get(key, 0))
        except ValueError:
            return 0
    return {"user_s": number("User time (seconds)", float), "sys_s": number("System time (seconds)", float),
            "max_rss_kib": number("Maximum resident set size (kbytes)"),
            "fs_inputs_blocks": number("File system inputs"), "fs_outputs_blocks": number("File system outputs"),
            "voluntary_switches": number("Voluntary context switches"),
            "involuntary_switches": number("Involuntary context switches"),
            "minor_faults": number("Minor (reclaiming a frame) page faults")}


def measure(ctx, label, argv, env=None, cwd=None, folders=None, s3=None):
    """Runs argv under /usr/bin/time -v after an untimed sync; folders: {name: path} whose
    change is recorded; s3: {name: (Server, prefix)} listed before and after."""
    folders = folders or {}
    base = os.path.join(ctx.work, "time", re.sub(r"[^A-Za-z0-9_.-]", "_", label))
    full_env = dict(os.environ)
    full_env.update(env or {})
    before = {name: scan(path) for name, path in folders.items()}
    s3_before = {name: server.keys(prefix) for name, (server, prefix) in (s3 or {}).items()}
    subprocess.run(["sync"], check=False)
    busy0 = cpu_busy_seconds()
    t0 = time.monotonic()
    with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
        process = subprocess.run(["/usr/bin/time", "-v", "-o", base + ".time", "--"] + argv,
                                 stdout=out, stderr=err, env=full_env, cwd=cwd)
    wall = time.monotonic() - t0
    busy = cpu_busy_seconds() - busy0
    stats = parse_time_v(base + ".time")
    cpu = stats["user_s"] + stats["sys_s"]
    result = {"label": label, "wall_s": round(wall, 3), "cpu_s": round(cpu, 2), "user_s": stats["user_s"],
              "sys_s": stats["sys_s"], "max_rss_mib": round(stats["max_rss_kib"] / 1024, 1),
              "disk_written_bytes": stats["fs_outputs_blocks"] * 512, "disk_read_bytes": stats["fs_inputs_blocks"] * 512,
              "voluntary_switches": stats["voluntary_switches"], "involuntary_switches": stats["involuntary_switches"],
              "minor_faults": stats["minor_faults"],
              # CPU that everything else on the machine used meanwhile, in cores: the noise.
              "other_load_cores": round(max(0.0, busy - cpu) / wall, 2) if wall > 0 else 0.0,
              "exit": process.returncode}
    result["folders"] = {name: difference(before[name], scan(path)) for name, path in folders.items()}
    if s3:
        result["s3"] = {}
        for name, (server, prefix) in s3.items():
            after = server.keys(prefix)
            new = {k: v for k, v in after.items() if k not in s3_before[name]}
            result["s3"][name] = {"growth_bytes": sum(after.values()) - sum(s3_before[name].values()),
                                  "new_objects": len(new), "new_bytes": sum(new.values()),
                                  "removed_objects": sum(1 for k in s3_before[name] if k not in after),
                                  "new": sorted(new)[:12]}
    with open(base + ".out", "rb") as handle:
        result["_stdout"] = handle.read().decode(errors="replace")
    if process.returncode != 0:
        with open(base + ".err", "rb") as handle:
            tail = handle.read().decode(errors="replace")[-2000:]
        raise BenchError(f"{label}: {' '.join(argv)} exited {process.returncode}\n{tail}")
    log(f"{label}: {result['wall_s']} s wall, {result['cpu_s']} s CPU, {result['max_rss_mib']} MiB, "
        f"{result['disk_written_bytes'] / KiB:.0f} KiB written, other load {result['other_load_cores']} cores")
    return result


# ---------------------------------------------------------------------------------------------
# the tools


class Drctl:
    """One repository: two file:// targets, or two S3 targets (SeaweedFS and radosgw)."""

    def __init__(self, ctx, name, s3=None):
        self.ctx, self.name, self.s3 = ctx, name, s3
        self.dir = os.path.join(ctx.work, name)
        self.state = os.path.join(self.dir, "state")
        self.metrics = os.path.join(self.dir, "metrics")
        os.makedirs(self.metrics)
        key = os.path.join(ctx.secrets, f"{name}.key")
        if s3:
            self.prefixes = {}
            targets = ""
            for target, (server, credentials) in s3.items():
                prefix = f"drctl-bench-frequent/{ctx.run_id}/{target}"
                self.prefixes[target] = (server, prefix)
                targets += (f'\n[[target]]\nname = "{target}"\nurl = "s3://{server.bucket}/{prefix}"\n'
                            f'endpoint = "{server.endpoint}"\nregion = "{server.region}"\n'
                            f'credentials_file = "{credentials}"\nallow_insecure_http = true\n')
            self.folders = {"state": self.state}
        else:
            self.targets = {f"t{i}": os.path.join(self.dir, f"target-{i}") for i in (1, 2)}
            targets = "".join(f'\n[[target]]\nname = "{t}"\nurl = "file://{p}"\n' for t, p in self.targets.items())
            self.folders = dict(self.targets, state=self.state)
        self.config = os.path.join(self.dir, "drctl.toml")
        self.config_no_metrics = os.path.join(self.dir, "drctl-no-metrics.toml")
        text = f"""# written by scripts/lib/bench/frequent_timer.py
[store]
path = "{ctx.store}"
include = ["**/*.sqlite"]

[repository]
key_file = "{key}"
{targets}
[prune]
every = "7d"     # the first drctl run prunes (never done); the measured runs find it not due

[state]
path = "{self.state}"
host = "bench-frequent"

"""
        metrics = f"""
[metrics]
textfile = "{os.path.join(self.metrics, 'drctl.prom')}"
"""
        with open(self.config, "w") as handle:
            handle.write(text + metrics)
        # The same repository and state without [metrics]: a backup then skips the status
        # measure that refreshes the textfile (drctl run measures it either way).
        with open(self.config_no_metrics, "w") as handle:
            handle.write(text)
        run([ctx.drctl, "init", "--config", self.config, "--json"])

    def argv(self, command, *extra, metrics=True):
        return [self.ctx.drctl, command, "--config", self.config if metrics else self.config_no_metrics,
                "--json", "--no-progress", *extra]

    def measure(self, label, command, metrics=True):
        result = measure(self.ctx, f"{self.name} {label}", self.argv(command, metrics=metrics), folders=self.folders,
                         s3=getattr(self, "prefixes", None))
        report = json.loads(result.pop("_stdout"))
        if command == "status":
            result["rpo"] = report.get("rpo")
            return result
        backup = report if command == "backup" else report.get("backup") or {}
        if command == "run":
            result["steps"] = {s["step"]: s["status"] for s in report["steps"]}
            result["run_duration_s"] = report.get("durationSeconds")
            result["warnings"] = report.get("warnings", [])
        if backup.get("failures") or backup.get("skipped"):
            raise BenchError(f"{self.name} {label}: failures {backup.get('failures', [])[:3]} "
                             f"skipped {backup.get('skipped', [])[:3]}")
        result.update({"files": backup.get("files"), "files_unchanged": backup.get("filesUnchanged"),
                       "bytes_read": backup.get("bytesRead"), "backup_duration_s": backup.get("durationSeconds"),
                       "stored": backup.get("stored"),
                       "targets": {t["name"]: {"ok": t["ok"], "stored_bytes": t["storedBytes"],
                                               "transfer": t.get("transfer")} for t in backup.get("targets", [])}})
        return result


class Restic:
    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "restic")
        self.repo, self.cache = os.path.join(self.dir, "repo"), os.path.join(self.dir, "cache")
        password = os.path.join(ctx.secrets, "restic.pass")
        write_private(password, secrets.token_hex(32) + "\n")
        # The password travels as a file name, never in argv.
        self.env = {"RESTIC_REPOSITORY": self.repo, "RESTIC_PASSWORD_FILE": password, "RESTIC_CACHE_DIR": self.cache}
        os.makedirs(self.dir)
        run(["restic", "init"], env=self.env)
        self.folders = {"repository": self.repo, "cache": self.cache}

    def measure(self, label):
        result = measure(self.ctx, f"restic {label}", ["restic", "backup", "--json", "--quiet", self.ctx.store],
                         env=self.env, folders=self.folders)
        summary = {}
        for line in result.pop("_stdout").splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("message_type") == "summary":
                summary = message
        result["report"] = {k: summary.get(k) for k in ("files_new", "files_changed", "files_unmodified",
                                                        "data_added", "tree_blobs", "data_blobs")}
        return result


class Borg:
    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "borg")
        self.repo, self.base = os.path.join(self.dir, "repo"), os.path.join(self.dir, "base")
        passphrase = os.path.join(ctx.secrets, "borg.pass")
        write_private(passphrase, secrets.token_hex(32) + "\n")
        # BORG_PASSCOMMAND reads the passphrase from the 0600 file: never in argv.
        self.env = {"BORG_PASSCOMMAND": f"cat {passphrase}", "BORG_BASE_DIR": self.base,
                    "BORG_RELOCATED_REPO_ACCESS_IS_OK": "no", "BORG_DISPLAY_PASSPHRASE": "no"}
        os.makedirs(self.dir)
        run(["borg", "init", "--encryption=repokey", self.repo], env=self.env)
        self.archives = 0
        self.folders = {"repository": self.repo, "cache": self.base}

    def measure(self, label):
        self.archives += 1
        result = measure(self.ctx, f"borg {label}", ["borg", "create", "--json", f"{self.repo}::a{self.archives}",
                                                     self.ctx.store], env=self.env, folders=self.folders)
        stats = json.loads(result.pop("_stdout")).get("archive", {}).get("stats", {})
        result["report"] = {k: stats.get(k) for k in ("nfiles", "original_size", "deduplicated_size")}
        return result


# ---------------------------------------------------------------------------------------------
# profiles of one drctl backup


def profile(ctx, repo):
    """Where one more nothing-changed `drctl backup` spends its time (the repository moves on
    by one snapshot per profiled run; none of them is in the medians): perf stat; perf record
    with DWARF call chains, split into the backup's parts; strace -f -c (system calls by
    count); a timeline of its file calls (strace --seccomp-bpf, so that untraced calls run at
    full speed); the node cache's PRAGMA quick_check timed alone; --verbose's lines."""
    out = {"node_cache": node_cache_check(repo)}
    folder = os.path.join(ctx.work, "profile")
    os.makedirs(folder, exist_ok=True)
    argv = repo.argv("backup")
    if shutil.which("perf"):
        stat_file = os.path.join(folder, "perf-stat.csv")
        subprocess.run(["sync"])
        subprocess.run(["perf", "stat", "-x", ",", "-o", stat_file, "-e",
                        "task-clock,context-switches,cpu-migrations,page-faults", "--"] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counters = {}
        with open(stat_file) as handle:
            for line in handle:
                fields = line.strip().split(",")
                if len(fields) > 2 and fields[0] and not line.startswith("#"):
                    try:
                        counters[fields[2]] = float(fields[0])
                    except ValueError:
                        pass
        out["perf_stat"] = counters
        out["perf"] = perf_profile(folder, "backup", argv)
    if shutil.which("strace"):
        counts = os.path.join(folder, "strace-c.txt")
        subprocess.run(["sync"])
        subprocess.run(["strace", "-f", "-c", "-o", counts, "--"] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        out["syscalls"] = parse_strace_c(counts)
        trace = os.path.join(folder, "strace-timeline.txt")
        subprocess.run(["sync"])
        subprocess.run(["strace", "-f", "--seccomp-bpf", "-ttt", "-y", "-qq", "-e", f"trace={PHASE_CALLS}",
                        "-o", trace, "--"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out["phases"] = phases(trace, ctx, repo)
    verbose = subprocess.run([ctx.drctl, "backup", "--config", repo.config, "--verbose", "--no-progress"],
                             capture_output=True, text=True)
    out["verbose_stderr"] = verbose.stderr.splitlines()[:40]
    return out


def node_cache_check(repo):
    """The node cache's size, and how long SQLite's PRAGMA quick_check takes on it alone (what
    drctl ran each time it opened the cache, before issue 14)."""
    import sqlite3
    found = [os.path.join(d, n) for d, _, names in os.walk(os.path.join(repo.state, "cache"))
             for n in names if n == "nodes.sqlite"]
    if not found:
        return None
    path = found[0]
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        connection.close()
        times.append(time.monotonic() - t0)
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    # The node table is node_rows since the append layout (nodes, keyed by id, before it).
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    rows = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("node_rows", "nodes", "packs", "manifests") if table in tables}
    connection.close()
    return {"bytes": os.path.getsize(path), "quick_check_s": round(statistics.median(times), 4),
            "quick_check": verdict, "rows": rows}


# Where a sample's time goes: the first of these (in this order) whose function is anywhere
# on its call chain takes it. Mangled Swift names; the order puts what is nested inside two
# callers (opening the node cache) before both.
PARTITION = [
    # Samples whose outermost frame is the dynamic loader's (_dl_start, _dl_init): before main.
    ("process start: the dynamic loader maps and binds Swift's runtime and the libraries", None, "root:ld-linux"),
    ("opening the node cache (NodeCache.open; before issue 14 a PRAGMA quick_check read all of nodes.sqlite)",
     r"9NodeCacheC4open", None),
    ("the status measure for the metrics textfile: every mailbox's restorable point (StatusJob.run)",
     r"9StatusJobO3run_", None),
    ("the previous snapshot: its list read whole from the node cache (BackupWriter.previous)",
     r"12BackupWriterC8previous", None),
    ("walking the store's folders (MailStore.list)", r"9MailStoreO4list", None),
    ("each mailbox: stat of it and its -wal/-journal, compared with its entry (backUpMailboxes)",
     r"9BackupJobO15backUpMailboxes", None),
    ("commit: the new list (every entry encoded, nodes hashed), the manifest (BackupWriter.commit)",
     r"12BackupWriterC6commit", None),
    ("the writer: each target's packs listed (BackupWriter.init)", r"12BackupWriterC10repository11cacheFolder", None),
    ("the rest of preparing: repository, run record, marks, catch-up (BackupPlan.prepare)",
     r"10BackupPlanV7prepare", None),
    ("the rest of the backup: tally, report (BackupJob.run)", r"9BackupJobO3run_", None),
    ("the metrics file (Metrics.record)", r"7MetricsO6record", None),
    ("the rest of drctl run (RunJob.run)", r"6RunJobO3run_", None),
    ("configuration, JSON output, the rest of the command (drctl)", r"^\$s5drctl", None),
    ("exit: exit handlers and unmapping", r"^(__run_exit_handlers|_dl_fini|exit)$", None),
]
# Functions that run inside several of the parts above: their share, wherever they are called.
ACROSS = [
    ("Timestamps.parse: Foundation's ISO8601FormatStyle, once per entry", r"10TimestampsO5parse"),
    ("SnapshotManifest.entryProblem: the checks of each entry read", r"16SnapshotManifestV12entryProblem"),
    ("  of which pathProblem (the path split and checked)", r"16SnapshotManifestV11pathProblem"),
    ("MailboxList.checkedNode: the keyed hash of each node read", r"11MailboxListO11checkedNode"),
    ("NodeCache.node: one SQLite SELECT per node", r"9NodeCacheC4node"),
    ("ListCoding.decode: list nodes decoded", r"10ListCodingO6decode"),
    ("MailboxListBuilder: the new list encoded", r"18MailboxListBuilder"),
    ("BackupJob.settled: the racy-clean check", r"9BackupJobO7settled"),
    ("MailStore.sourceState: the stat calls of a mailbox", r"9MailStoreO11sourceState"),
    ("SQLite (libsqlite3)", None, "libsqlite3"),
    ("system calls (kernel, entered by a syscall)", r"^entry_SYSCALL_64"),
    ("page faults", r"^asm_exc_page_fault$"),
]


def perf_profile(folder, name, argv, frequency=999):
    data = os.path.join(folder, f"perf-{name}.data")
    subprocess.run(["sync"])
    record = subprocess.run(["perf", "record", "-F", str(frequency), "--call-graph", "dwarf,32768", "-o", data, "--"]
                            + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if record.returncode != 0:
        return {"error": record.stderr[-500:]}
    script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso"], capture_output=True,
                            text=True, errors="replace").stdout
    samples, frames = [], None
    for line in script.splitlines():
        if not line.strip():
            if frames:
                samples.append(frames)
            frames = None
        elif not line.startswith(("\t", " ")):
            frames = []
        elif frames is not None:
            m = re.match(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m:
                frames.append((re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)))
    if frames:
        samples.append(frames)
    if not samples:
        return {"error": "no samples"}

    def matches(frames, pattern, dso):
        if dso and dso.startswith("root:"):
            return bool(frames) and dso[5:] in frames[-1][1]
        return any((pattern is None or re.search(pattern, sym)) and (dso is None or dso in where)
                   for sym, where in frames)
    compiled = [(label, pattern, dso) for label, pattern, dso in PARTITION]
    parts = collections.Counter()
    for frames in samples:
        for label, pattern, dso in compiled:
            if matches(frames, pattern, dso):
                parts[label] += 1
                break
        else:
            parts["other: worker threads' own frames, unwinding that stopped early"] += 1
    across = collections.Counter()
    for label, *rule in ACROSS:
        pattern, dso = rule[0], (rule[1] if len(rule) > 1 else None)
        across[label] = sum(1 for frames in samples if matches(frames, pattern, dso))
    leaf_dso = collections.Counter(os.path.basename(frames[0][1]) for frames in samples if frames)
    n = len(samples)
    return {"samples": n, "frequency_hz": frequency, "cpu_s_sampled": round(n / frequency, 3),
            "parts": [[label, count, round(100 * count / n, 1)] for label, count in
                      sorted(parts.items(), key=lambda kv: -kv[1])],
            "across": [[label, across[label], round(100 * across[label] / n, 1)] for label, *_ in ACROSS],
            "by_library": [[name, round(100 * count / n, 1)] for name, count in leaf_dso.most_common(10)]}


def parse_strace_c(path):
    rows = []
    with open(path) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                try:
                    calls = int(fields[3])
                except ValueError:
                    continue
                errors = int(fields[4]) if len(fields) == 6 else 0
                rows.append({"syscall": fields[-1], "calls": calls, "errors": errors, "seconds": float(fields[1])})
    return sorted(rows, key=lambda r: -r["calls"])


PHASE_CALLS = ("openat,getdents64,rename,renameat2,unlink,unlinkat,fsync,fdatasync,"
               "write,pwrite64,pwritev,execve,exit_group")
PHASE_LINE = re.compile(r'^(\d+)\s+([\d.]+)\s+(\w+)\((.*)$')
RETURN = re.compile(r'\)\s+=\s+(-?\d+)')


def phase_kind(call, rest, roots):
    """What a traced call touched: the store, a state file, a target's folder, a library."""
    quoted = re.search(r'"([^"]*)"', rest)
    fd_path = re.match(r'-?\d+<([^>]*)>', rest)
    path = quoted.group(1) if quoted and quoted.group(1).startswith("/") else None
    if path is None and fd_path:
        path = fd_path.group(1)
        if quoted and not call.startswith(("write", "pwrite")):
            path = path.rstrip("/") + "/" + quoted.group(1)
    if path is None:
        return None
    if path.endswith(".so") or ".so." in path or "/ld.so" in path or path.startswith(("/opt/swift", "/lib", "/usr/lib")):
        return "loading libraries"
    for name, root in roots:
        if path.startswith(root) or path == root.rstrip("/"):
            sub = path[len(root):].split("/")[0] if path.startswith(root) else ""
            if name == "store":
                return "store: " + ("listing folders" if call == "getdents64" else "stat of mailboxes and their -wal/-shm/-journal"
                                    if call in ("newfstatat", "statx") else call)
            group = "writes" if call.startswith(("write", "pwrite")) else "fsync" if call.startswith(("fsync", "fdatasync")) else "files"
            if name.startswith("target "):
                name = "targets"   # both targets' calls alternate: one kind
            if sub.startswith(".tmp-"):
                sub = ".tmp-*"
            return f"{name}: {sub or '.'} ({group})"
    return None


def phases(path, ctx, repo):
    """The run's timeline from `strace -f -ttt -y` on file calls: consecutive calls on the same
    kind of thing (the store, a state file, a target's folder) as one segment, with its time,
    its count and the bytes written; and the bytes written per file kind over the run."""
    roots = [("store", ctx.store + "/"), ("state", repo.state + "/")]
    roots += [(f"target {n}", p + "/") for n, p in getattr(repo, "targets", {}).items()]
    roots.append(("metrics", repo.metrics + "/"))
    segments, written = [], collections.Counter()
    start = end = None
    with open(path, errors="replace") as handle:
        for line in handle:
            m = PHASE_LINE.match(line)
            if not m:
                continue
            t, call, rest = float(m.group(2)), m.group(3), m.group(4)
            start = t if start is None else start
            end = t
            kind = phase_kind(call, rest, roots)
            if kind is None:
                continue
            returned = RETURN.search(rest)
            wrote = int(returned.group(1)) if call.startswith(("write", "pwrite")) and returned else 0
            if wrote > 0:
                written[kind] += wrote
            if segments and segments[-1]["kind"] == kind:
                segments[-1].update(last_s=t, calls=segments[-1]["calls"] + 1, bytes=segments[-1]["bytes"] + max(0, wrote))
            else:
                segments.append({"kind": kind, "first_s": t, "last_s": t, "calls": 1, "bytes": max(0, wrote)})
    for s in segments:
        s["first_s"] = round(s["first_s"] - start, 4)
        s["last_s"] = round(s["last_s"] - start, 4)
    return {"total_s": round((end or 0) - (start or 0), 3), "segments": segments,
            "bytes_written": dict(written.most_common())}


def timeline(segments, gap=0.02):
    """Segments worth a line (10 calls or more, 4 KiB written or more, or after a silence of
    `gap` s: the silences are where the CPU work between file calls is); the others between
    them are merged into one line."""
    out, previous, small = [], 0.0, None
    for s in segments:
        silence = s["first_s"] - previous
        if silence >= gap or s["calls"] >= 10 or s["bytes"] >= 4096:
            if small:
                out.append(small)
                small = None
            if silence >= gap:
                out.append({"gap_s": round(silence, 3), "after_s": round(previous, 3)})
            out.append(s)
        elif small:
            small.update(last_s=s["last_s"], calls=small["calls"] + s["calls"], bytes=small["bytes"] + s["bytes"])
            small["kinds"].add(s["kind"].split(" (")[0])
        else:
            small = dict(s, kinds={s["kind"].split(" (")[0]})
        previous = s["last_s"]
    if small:
        out.append(small)
    for e in out:
        if "kinds" in e:
            e["kind"] = "small: " + ", ".join(sorted(e.pop("kinds")))
    return out


# ---------------------------------------------------------------------------------------------
# the run


class Context:
    pass


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def span(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (None, None)


def summarize(runs, kind):
    """Medians and ranges of one column's runs."""
    def stat(key, get=None):
        values = [get(r) if get else r.get(key) for r in runs]
        return {"median": med(values), "min": span(values)[0], "max": span(values)[1]}
    s = {k: stat(k) for k in ("wall_s", "cpu_s", "user_s", "sys_s", "max_rss_mib", "disk_written_bytes",
                              "other_load_cores", "voluntary_switches", "minor_faults")}
    remote = [n for n in runs[0]["folders"] if n not in ("state", "cache")]
    s["remote_growth_bytes"] = stat(None, lambda r: sum(r["folders"][n]["growth_bytes"] for n in remote)
                                    + sum(v["growth_bytes"] for v in r.get("s3", {}).values()))
    s["remote_new_files"] = stat(None, lambda r: sum(r["folders"][n]["new_files"] for n in remote)
                                 + sum(v["new_objects"] for v in r.get("s3", {}).values()))
    s["remote_new_bytes"] = stat(None, lambda r: sum(r["folders"][n]["new_bytes"] for n in remote)
                                 + sum(v["new_bytes"] for v in r.get("s3", {}).values()))
    local = [n for n in runs[0]["folders"] if n in ("state", "cache")]
    s["local_growth_bytes"] = stat(None, lambda r: sum(r["folders"][n]["growth_bytes"] for n in local))
    s["targets"] = len(remote) + len(runs[0].get("s3", {}))
    if kind == "drctl" and runs[0].get("targets"):
        def requests(r, key):
            return sum((t["transfer"] or {}).get(key, 0) for t in r["targets"].values())
        for key in ("putRequests", "getRequests", "listRequests", "deleteRequests", "bytesWritten", "bytesRead"):
            s[key] = stat(None, lambda r, key=key: requests(r, key))
        s["files"] = runs[0]["files"]
        s["files_unchanged_min"] = min(r["files_unchanged"] for r in runs)
        s["manifest_bytes"] = stat(None, lambda r: (r.get("stored") or {}).get("manifestBytes"))
        s["list_bytes"] = stat(None, lambda r: (r.get("stored") or {}).get("listBytes"))
        s["backup_duration_s"] = stat("backup_duration_s")
        steps = [r.get("steps") for r in runs if r.get("steps")]
        if steps:
            s["prune_statuses"] = sorted({st.get("prune") for st in steps})
    return s


def run_all(ctx):
    a = ctx.args
    res = {"store": generate_store(ctx)}
    columns = collections.OrderedDict()
    tools = {}
    first = res["first"] = {}
    tools["drctl-file"] = Drctl(ctx, "drctl-file")
    first["drctl-file backup"] = tools["drctl-file"].measure("full backup", "backup")
    first["drctl-file run"] = tools["drctl-file"].measure("first run (prune due)", "run")
    if ctx.s3:
        tools["drctl-s3"] = Drctl(ctx, "drctl-s3", s3=ctx.s3)
        first["drctl-s3 backup"] = tools["drctl-s3"].measure("full backup", "backup")
        first["drctl-s3 run"] = tools["drctl-s3"].measure("first run (prune due)", "run")
    if "restic" in a.tools:
        tools["restic"] = Restic(ctx)
        first["restic backup"] = tools["restic"].measure("full backup")
    if "borg" in a.tools:
        tools["borg"] = Borg(ctx)
        first["borg create"] = tools["borg"].measure("full backup")
    for label, r in first.items():
        if label.endswith(" run") and r["steps"].get("prune") != "ok":
            raise BenchError(f"{label}: the first run should prune (never done), it says {r['steps']}")

    steps = [("drctl backup, file", lambda i: tools["drctl-file"].measure(f"backup {i}", "backup")),
             ("drctl run, file", lambda i: tools["drctl-file"].measure(f"run {i}", "run")),
             ("drctl backup, file, no [metrics]",
              lambda i: tools["drctl-file"].measure(f"backup no-metrics {i}", "backup", metrics=False)),
             ("drctl status, file", lambda i: tools["drctl-file"].measure(f"status {i}", "status"))]
    if ctx.s3:
        steps += [("drctl backup, S3", lambda i: tools["drctl-s3"].measure(f"backup {i}", "backup")),
                  ("drctl run, S3", lambda i: tools["drctl-s3"].measure(f"run {i}", "run"))]
    if "restic" in tools:
        steps.append(("restic backup", lambda i: tools["restic"].measure(f"backup {i}")))
    if "borg" in tools:
        steps.append(("borg create", lambda i: tools["borg"].measure(f"create {i}")))
    for name, _ in steps:
        columns[name] = []
    for i in range(1, a.repeat + 1):
        shift = (i - 1) % len(steps)
        for name, step in steps[shift:] + steps[:shift]:
            result = step(i)
            if result.get("steps") and result["steps"].get("prune") != "not-due":
                raise BenchError(f"{name} {i}: prune should be not-due, the summary says {result['steps']}")
            if result.get("files_unchanged") is not None and result["files_unchanged"] != result["files"]:
                log(f"warning: {name} {i}: {result['files'] - result['files_unchanged']} mailboxes were read again")
            columns[name].append(result)
    res["runs"] = columns
    res["summary"] = {name: summarize(runs, "drctl" if name.startswith("drctl") else name.split()[0])
                      for name, runs in columns.items()}
    if a.profile:
        res["profile"] = profile(ctx, tools["drctl-file"])
        if a.profile_run:
            res["profile_run"] = profile_run(ctx, tools["drctl-file"])
    if a.day_runs:
        res["day"] = day(ctx, tools["drctl-file"], a.day_runs)
    return res


def day(ctx, repo, n):
    """A day of the frequent timer back to back: `n` nothing-changed `drctl backup` runs on the
    file:// repository. Whether a run costs more as the day's snapshots pile up (prune forgets
    them only when due), and the day's totals measured rather than multiplied."""
    def snapshots():
        return len(os.listdir(os.path.join(next(iter(repo.targets.values())), "snapshots")))
    before = {name: tree_bytes(path) for name, path in repo.folders.items()}
    count0 = snapshots()
    runs = []
    for i in range(1, n + 1):
        r = repo.measure(f"day {i}", "backup")
        runs.append({k: r[k] for k in ("wall_s", "cpu_s", "max_rss_mib", "disk_written_bytes", "other_load_cores")})
    after = {name: tree_bytes(path) for name, path in repo.folders.items()}
    k = min(5, n)

    def medians(part):
        return {key: med([r[key] for r in part]) for key in ("wall_s", "cpu_s", "max_rss_mib", "disk_written_bytes")}
    return {"runs": n, "snapshots_before": count0, "snapshots_after": snapshots(),
            "first": medians(runs[:k]), "last": medians(runs[-k:]),
            "total_cpu_s": round(sum(r["cpu_s"] for r in runs), 1),
            "total_wall_s": round(sum(r["wall_s"] for r in runs), 1),
            "total_disk_written_bytes": sum(r["disk_written_bytes"] for r in runs),
            "growth_bytes": {name: after[name] - before[name] for name in after},
            "other_load_cores_max": max(r["other_load_cores"] for r in runs), "each": runs}


def profile_run(ctx, repo):
    """perf record of one `drctl run` (the backup, then the status measure and the metrics)."""
    folder = os.path.join(ctx.work, "profile")
    os.makedirs(folder, exist_ok=True)
    return perf_profile(folder, "run", repo.argv("run"))


# ---------------------------------------------------------------------------------------------
# the table


def fmt(value, unit=""):
    if value is None:
        return "–"
    if unit == "KiB":
        value = value / KiB
    elif unit == "MiB":
        value = value / MiB
    if isinstance(value, float) and not value.is_integer() or unit in ("KiB", "MiB"):
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3f}"
    return f"{int(value):,}"


def cell(stat, unit=""):
    if stat["median"] is None:
        return "–"
    text = fmt(stat["median"], unit)
    if stat["min"] != stat["max"]:
        text += f" ({fmt(stat['min'], unit)}–{fmt(stat['max'], unit)})"
    return text


ROWS = [("wall s", "wall_s", ""), ("CPU s (user + sys)", "cpu_s", ""), ("  user s", "user_s", ""),
        ("  sys s", "sys_s", ""), ("peak RSS MiB", "max_rss_mib", ""),
        ("disk written by the process, KiB (time -v outputs)", "disk_written_bytes", "KiB"),
        ("growth of the targets / repository, KiB (all targets)", "remote_growth_bytes", "KiB"),
        ("new files / objects at the targets", "remote_new_files", ""),
        ("growth of the local state / cache, KiB", "local_growth_bytes", "KiB"),
        ("requests: PUT", "putRequests", ""), ("requests: GET", "getRequests", ""),
        ("requests: LIST", "listRequests", ""), ("requests: DELETE", "deleteRequests", ""),
        ("bytes sent to the targets, KiB (transfer)", "bytesWritten", "KiB"),
        ("bytes read from the targets, KiB (transfer)", "bytesRead", "KiB"),
        ("other load, cores (noise)", "other_load_cores", "")]


def table(res):
    summary = res["summary"]
    names = list(summary)
    header = ["metric"] + names
    lines = [header]
    for label, key, unit in ROWS:
        if not any(key in s for s in summary.values()):
            continue
        lines.append([label] + [cell(summary[n][key], unit) if key in summary[n] else "" for n in names])
    return lines


def ratios(res):
    """drctl backup (file targets) against restic and borg, on the medians."""
    s = res["summary"]
    base = s.get("drctl backup, file")
    out = []
    for peer in ("restic backup", "borg create"):
        if peer not in s or not base:
            continue
        for label, key in (("wall", "wall_s"), ("CPU", "cpu_s"), ("peak RSS", "max_rss_mib"),
                           ("disk written", "disk_written_bytes")):
            a, b = base[key]["median"], s[peer][key]["median"]
            out.append((f"drctl/{peer.split()[0]} {label}", round(a / b, 2) if a and b else None))
    return out


def per_day(res):
    out = {}
    for name, s in res["summary"].items():
        out[name] = {"cpu_s": round(s["cpu_s"]["median"] * RUNS_PER_DAY, 1),
                     "disk_written_mib": round(s["disk_written_bytes"]["median"] * RUNS_PER_DAY / MiB, 1),
                     "remote_growth_kib": round(s["remote_growth_bytes"]["median"] * RUNS_PER_DAY / KiB, 1),
                     "local_growth_kib": round(s["local_growth_bytes"]["median"] * RUNS_PER_DAY / KiB, 1)}
        if "putRequests" in s:
            out[name]["requests"] = int(RUNS_PER_DAY * sum(s[k]["median"] for k in
                                                           ("putRequests", "getRequests", "listRequests",
                                                            "deleteRequests")))
    return out


def render(lines, markdown=False):
    if markdown:
        text = ["| " + " | ".join(lines[0]) + " |", "|---" + "|---:" * (len(lines[0]) - 1) + "|"]
        text += ["| " + " | ".join(row) + " |" for row in lines[1:]]
        return "\n".join(text)
    widths = [max(len(r[i]) for r in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
                     for r in lines)


def perf_lines(pp, what):
    if not pp:
        return []
    if pp.get("error"):
        return [f"perf record of {what} failed: {pp['error']}"]
    out = [f"where {what} spends its CPU: perf record -F {pp['frequency_hz']} --call-graph dwarf, "
           f"{pp['samples']} samples = {pp['cpu_s_sampled']} CPU s:"]
    out += [f"  {pct:5.1f} %  {count / pp['frequency_hz']:6.3f} s  {label}" for label, count, pct in pp["parts"]]
    out.append("  across those parts:")
    out += [f"  {pct:5.1f} %  {count / pp['frequency_hz']:6.3f} s  {label}" for label, count, pct in pp["across"]]
    out.append("  by library (the sampled function's): " + ", ".join(f"{n} {p}%" for n, p in pp["by_library"]))
    return out


def report_text(res, markdown=False):
    out = [render(table(res), markdown), ""]
    out.append("ratios (medians): " + ", ".join(f"{k} {v}" for k, v in ratios(res)))
    out.append("")
    out.append(f"per day at {RUNS_PER_DAY} runs (medians x {RUNS_PER_DAY}):")
    for name, d in per_day(res).items():
        out.append(f"  {name}: {d['cpu_s']} CPU s, {d['disk_written_mib']} MiB written to disk by the process, "
                   f"targets +{d['remote_growth_kib']} KiB, local state +{d['local_growth_kib']} KiB"
                   + (f", {d['requests']:,} requests" if "requests" in d else ""))
    first = res["first"]
    out.append("")
    out.append("first runs: " + "; ".join(f"{k} {v['wall_s']} s wall / {v['cpu_s']} s CPU / {v['max_rss_mib']} MiB"
                                          for k, v in first.items()))
    s = res["summary"]
    for name in s:
        if "files" in s[name]:
            out.append(f"{name}: {s[name]['files']} mailboxes, fewest unchanged in a run "
                       f"{s[name]['files_unchanged_min']}; manifest {cell(s[name]['manifest_bytes'])} B, "
                       f"list {cell(s[name]['list_bytes'])} B per target"
                       + (f"; prune {', '.join(s[name]['prune_statuses'])}" if s[name].get("prune_statuses") else ""))
    d = res.get("day")
    if d:
        out.append("")
        out.append(f"a day of the timer back to back ({d['runs']} drctl backup runs, file targets; snapshots "
                   f"{d['snapshots_before']} → {d['snapshots_after']}): runs 1–5 median {d['first']['cpu_s']:.2f} CPU s, "
                   f"{d['first']['wall_s']:.2f} s wall, {d['first']['disk_written_bytes'] / KiB:.0f} KiB written; last 5 "
                   f"{d['last']['cpu_s']:.2f} CPU s, {d['last']['wall_s']:.2f} s wall, "
                   f"{d['last']['disk_written_bytes'] / KiB:.0f} KiB written; in all {d['total_cpu_s']} CPU s, "
                   f"{d['total_disk_written_bytes'] / MiB:.1f} MiB written to disk; growth "
                   + ", ".join(f"{k} {v / KiB:+.1f} KiB" for k, v in d["growth_bytes"].items())
                   + f" (other load ≤ {d['other_load_cores_max']} cores)")
    prof = res.get("profile")
    if prof:
        out.append("")
        if "perf_stat" in prof:
            out.append("perf stat (one more drctl backup, file): " + ", ".join(
                f"{k} {v:,.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in prof["perf_stat"].items()))
        out += perf_lines(prof.get("perf"), "one more drctl backup (file)")
        if res.get("profile_run"):
            out += perf_lines(res["profile_run"], "one more drctl run (file)")
        nc = prof.get("node_cache")
        if nc:
            out.append(f"node cache: {nc['bytes'] / MiB:.1f} MiB ({nc['rows']}); PRAGMA quick_check alone "
                       f"{nc['quick_check_s'] * 1000:.0f} ms (python sqlite3, warm page cache)")
        if prof.get("syscalls"):
            out.append("system calls (strace -f -c): " + ", ".join(
                f"{r['syscall']} {r['calls']:,}" + (f" ({r['errors']:,} failed)" if r["errors"] else "")
                for r in prof["syscalls"][:14]))
        if prof.get("phases"):
            ph = prof["phases"]
            out.append(f"timeline of one more drctl backup (strace -f --seccomp-bpf -ttt -y on file calls but stat and "
                       f"read, {ph['total_s']} s under strace; consecutive calls on one kind of thing, and silences "
                       "of 20 ms or more):")
            for e in timeline(ph["segments"]):
                if "gap_s" in e:
                    out.append(f"  {e['after_s']:8.3f} + {e['gap_s']:6.3f} s  no file call traced")
                    continue
                out.append(f"  {e['first_s']:8.3f} – {e['last_s']:6.3f} s  {e['calls']:6,} calls"
                           + (f" {e['bytes'] / KiB:8.1f} KiB" if e["bytes"] else " " * 13) + f"  {e['kind']}")
            out.append("bytes written by kind (strace): " + ", ".join(
                f"{k} {v / KiB:.1f} KiB" for k, v in ph["bytes_written"].items()))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def parser():
    p = argparse.ArgumentParser(prog="scripts/bench --frequent", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 500 mailboxes (10 real), 2 rounds, no S3")
    p.add_argument("--mailboxes", type=int, help="mailboxes in the store (default 10000; --quick 500)")
    p.add_argument("--real", type=int, help="of which real gen-mailstore SQLite files (default 100; --quick 10)")
    p.add_argument("--real-messages", type=int, default=200, help="messages per real mailbox (default 200)")
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   help=f"synthetic mailbox sizes: LO-HI:WEIGHT ranges in KiB (default {DEFAULT_SIZES})")
    p.add_argument("--repeat", type=int, help="rounds of nothing-changed runs (default 5; --quick 2)")
    p.add_argument("--tools", default="drctl,restic,borg", help="drctl and any of restic, borg (default all)")
    p.add_argument("--s3-servers", help="servers.json of a running scripts/s3-servers pair: adds the S3 columns")
    p.add_argument("--own-s3", metavar="DIR", nargs="?", const="/tmp/bench-s3",
                   help="start `scripts/s3-servers start --dir DIR` (default /tmp/bench-s3) and stop it at the end")
    p.add_argument("--profile", dest="profile", action="store_true", default=None,
                   help="perf and strace profiles of one more drctl backup (default: when perf is installed)")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--profile-run", action="store_true", help="also perf record one drctl run")
    p.add_argument("--day-runs", type=int, help=f"then a day of the timer back to back: this many drctl backup runs "
                                                f"(default {RUNS_PER_DAY}; --quick 10; 0 skips)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "drctl-bench-frequent"),
                   help="scratch folder, emptied first (default $TMPDIR/drctl-bench-frequent)")
    p.add_argument("--keep", action="store_true", help="keep the store, the repositories and the profiles")
    p.add_argument("--json", dest="json_file", help="write every measurement to this file")
    p.add_argument("--markdown", help="write the report with a Markdown table to this file")
    p.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    p.add_argument("--drctl", help="drctl binary (default ROOT/.build/release/drctl, else .build-release/release/drctl)")
    p.add_argument("--no-build", action="store_true", help="do not run swift build (scripts/bench)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    args.mailboxes = args.mailboxes or (500 if args.quick else 10000)
    args.real = args.real if args.real is not None else (10 if args.quick else 100)
    args.real = min(args.real, args.mailboxes)
    args.repeat = args.repeat or (2 if args.quick else 5)
    if args.day_runs is None:
        args.day_runs = 10 if args.quick else RUNS_PER_DAY
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for tool in [t for t in args.tools if t != "drctl" and not shutil.which(t)]:
        # scripts/bench installs them (Debian's restic and borgbackup); run alone, say so.
        log(f"{tool} is not installed: its column is left out (apt-get install "
            f"{'borgbackup' if tool == 'borg' else tool})")
        args.tools.remove(tool)
    if args.profile is None:
        args.profile = bool(shutil.which("perf"))
    drctl = args.drctl or next((p for p in (os.path.join(args.root, ".build", "release", "drctl"),
                                            os.path.join(args.root, ".build-release", "release", "drctl"))
                                if os.access(p, os.X_OK)), None)
    if not drctl or not os.access(drctl, os.X_OK):
        raise SystemExit("bench: no release drctl: run scripts/bench --frequent without --no-build, or pass --drctl")
    if not os.access("/usr/bin/time", os.X_OK):
        raise SystemExit("bench: /usr/bin/time is missing (Debian package time)")
    work = os.path.abspath(args.workdir)
    if os.path.exists(work):
        if not os.path.exists(os.path.join(work, MARKER)):
            raise SystemExit(f"bench: {work} exists and is not a frequent-timer bench folder (no {MARKER}); "
                             "choose another --workdir")
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, "time"))
    open(os.path.join(work, MARKER), "w").close()
    ctx = Context()
    ctx.args, ctx.drctl, ctx.work = args, os.path.abspath(drctl), work
    ctx.store = os.path.join(work, "store")
    ctx.secrets = os.path.join(work, "secrets")
    os.makedirs(ctx.secrets, mode=0o700)
    ctx.mailbox_key = os.path.join(ctx.secrets, "mailbox.key")
    write_private(ctx.mailbox_key, secrets.token_hex(32) + "\n")
    ctx.run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    own = os.path.abspath(args.own_s3) if args.own_s3 else None
    started = time.monotonic()
    res = None
    try:
        if own:
            log(f"starting S3 servers in {own} (scripts/s3-servers start; about 30 s)")
            subprocess.run([os.path.join(ROOT, "scripts", "s3-servers"), "start", "--dir", own], check=True,
                           stdout=subprocess.DEVNULL)
            args.s3_servers = os.path.join(own, "servers.json")
        ctx.s3 = None
        if args.s3_servers:
            import s3_latency
            with open(args.s3_servers) as handle:
                entries = {s["name"]: s for s in json.load(handle)["servers"]}
            ctx.s3 = {}
            for name in ("seaweedfs", "radosgw"):
                server = s3_latency.Server(entries[name])
                credentials = os.path.join(ctx.secrets, f"{name}.credentials")
                write_private(credentials, server.credentials_text())
                ctx.s3[name] = (server, credentials)
        res = run_all(ctx)
    except BenchError as error:
        raise SystemExit(f"bench: {error}")
    finally:
        if getattr(ctx, "s3", None):
            for server, _ in ctx.s3.values():
                try:
                    server.delete(f"drctl-bench-frequent/{ctx.run_id}")
                except Exception as error:  # noqa: BLE001 - cleaning up is best effort, and said
                    log(f"could not delete drctl-bench-frequent/{ctx.run_id} on {server.name}: {error}")
            if not own:
                # radosgw frees deleted objects' space lazily; its memstore OSD lives in RAM.
                import s3_latency
                log(f"radosgw garbage collection: {s3_latency.purge_radosgw(args.s3_servers)}")
        if own:
            subprocess.run([os.path.join(ROOT, "scripts", "s3-servers"), "stop", "--dir", own],
                           stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    command = "scripts/bench --frequent " + " ".join(x for x in (argv if argv is not None else sys.argv[1:])
                                                      if x != "--frequent" and not x.startswith("--root")
                                                      and x != args.root)
    versions = {"drctl": run([ctx.drctl, "--version"]).strip()}
    for tool in ("restic", "borg"):
        if tool in args.tools:
            versions[tool] = run([tool, "version" if tool == "restic" else "--version"]).strip()
    document = {"command": command.strip(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"), "machine": machine(), "versions": versions,
                "drctl_binary": ctx.drctl,
                "commit": run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).strip(),
                "sources_modified": run(["git", "-C", ROOT, "status", "--short", "--", "Sources", "Package.swift"]
                                        ).splitlines(),
                "arguments": {k: v for k, v in vars(args).items() if k not in ("root", "json_file")},
                "elapsed_s": round(elapsed, 1), "runs_per_day": RUNS_PER_DAY, "per_day": per_day(res),
                "ratios": dict(ratios(res)), "results": res}
    header = (f"store: {res['store']['mailboxes']:,} mailboxes ({res['store']['real']} real SQLite: "
              f"{res['store']['real_by_cipher']}), {res['store']['bytes'] / MiB:.0f} MiB; {args.repeat} rounds of "
              f"nothing-changed runs, medians (min–max); drctl {versions['drctl']} at {document['commit']}"
              f"{' + changes in Sources' if document['sources_modified'] else ''}; "
              f"{machine().get('cpus')} cores; {', '.join(f'{k} {v}' for k, v in versions.items() if k != 'drctl')}")
    print()
    print(header)
    print()
    print(report_text(res))
    print()
    print("- restic and borg read the mailboxes as plain files: they do not take SQLite's locks, so under a "
          "live writer they would copy a database and its WAL torn (here the store is quiescent: their best case).")
    if args.json_file:
        with open(args.json_file, "w") as handle:
            json.dump(document, handle, indent=1)
        log(f"wrote {args.json_file}")
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(header + "\n\n" + report_text(res, markdown=True) + "\n")
        log(f"wrote {args.markdown}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    log(f"done in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
