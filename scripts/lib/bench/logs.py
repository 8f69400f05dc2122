#!/usr/bin/env python3
"""scripts/bench --logs: throughput of `drctl logs anonymize` (issue 13).

Generates two realistic logs with scripts/gen-maillog (a Postfix+Dovecot log and a JSON-lines
log, --size-mb each, default 200; --quick: 20), then runs the release binary over each with
every IP method (ipcrypt-pfx, crypto-pan, truncate) and, as the baseline, the regex scrubber
a sysadmin would write (perl -pe: dotted IPv4, colon-hex IPv6, user@domain). Reported per run:
MB/s per core (input bytes / (user + sys CPU seconds), from wait4's rusage) and MB/s wall,
the best of --repeat runs; and each method's ratio to the baseline per core. Output goes to
/dev/null (the anonymizer is measured, not the disk). --json FILE writes every measurement.

  scripts/bench --logs [--quick] [--no-build] [--size-mb N] [--repeat N] [--workdir DIR] [--json FILE]
"""
import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

BASELINE = (r's/\b\d{1,3}(?:\.\d{1,3}){3}\b/0.0.0.0/g;'
            r' s/\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F:]*\b/::/g;'
            r' s/[\w.+=-]+@[\w.-]+\.\w+/user\@example.invalid/g')


def log(text):
    print(f"bench-logs: {text}", file=sys.stderr, flush=True)


def timed(command, stdin_path):
    """Runs command with stdin from a file and stdout to /dev/null; wall and CPU seconds."""
    with open(stdin_path, "rb") as source, open(os.devnull, "wb") as sink:
        start = time.monotonic()
        process = subprocess.Popen(command, stdin=source, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - start
        stderr = process.stderr.read().decode(errors="replace")
        process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"bench-logs: {command[0]} failed ({code}): {stderr[:2000]}")
    return wall, usage.ru_utime + usage.ru_stime


def config_file(workdir, method):
    path = os.path.join(workdir, f"drctl-{method}.toml")
    with open(path, "w") as f:
        f.write(f"""[store]
path = "{workdir}/store"

[repository]
key_file = "{workdir}/repository.key"

[[target]]
name = "bench"
url = "file://{workdir}/target"

[state]
path = "{workdir}/state"

[logs.anonymize]
ip = "{method}"
""")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--logs", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--size-mb", type=float)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", dest="json_file")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    size = args.size_mb or (20 if args.quick else 200)
    drctl = os.path.join(args.root, ".build", "release", "drctl")
    if not os.access(drctl, os.X_OK):
        raise SystemExit(f"bench-logs: {drctl} is missing: run swift build -c release --static-swift-stdlib --product drctl")
    workdir = args.workdir or tempfile.mkdtemp(prefix="drctl-bench-logs-")
    os.makedirs(workdir, exist_ok=True)
    key = os.path.join(workdir, "log.key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    with open(os.open(os.path.join(workdir, "repository.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    logs = {}
    for name, formats in (("postfix+dovecot", "mail"), ("json-lines", "json")):
        path = os.path.join(workdir, f"{name}.log")
        if not os.path.exists(path) or os.path.getsize(path) < size * 1e6 * 0.99:
            log(f"generating {name}: {size:g} MB")
            subprocess.run([sys.executable, os.path.join(args.root, "scripts", "gen-maillog"), "--seed", str(args.seed),
                            "--size", str(size), "--formats", formats, "--output", path], check=True)
        logs[name] = path
    results = []
    for name, path in logs.items():
        size_bytes = os.path.getsize(path)
        runs = [("regex baseline (perl -pe)", ["perl", "-pe", BASELINE])]
        for method in ("ipcrypt-pfx", "crypto-pan", "truncate"):
            runs.append((f"drctl {method}", [drctl, "logs", "anonymize", "--config", config_file(workdir, method),
                                             "--raw-key-file", key, "--quiet"]))
        for label, command in runs:
            best = None
            for _ in range(args.repeat):
                wall, cpu = timed(command, path)
                if best is None or cpu < best[1]:
                    best = (wall, cpu)
            wall, cpu = best
            row = {"log": name, "tool": label, "bytes": size_bytes, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                   "mb_per_s_per_core": round(size_bytes / 1e6 / cpu, 1), "mb_per_s_wall": round(size_bytes / 1e6 / wall, 1)}
            results.append(row)
            log(f"{name}: {label}: {row['mb_per_s_per_core']} MB/s per core, {row['mb_per_s_wall']} MB/s wall")
    for row in results:
        base = next(r for r in results if r["log"] == row["log"] and r["tool"].startswith("regex"))
        row["x_baseline_per_core"] = round(row["mb_per_s_per_core"] / base["mb_per_s_per_core"], 2)
    print(f"\nLog anonymization, {size:g} MB per log, best of {args.repeat} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    print(f"{'log':<17} {'tool':<28} {'MB/s/core':>10} {'MB/s wall':>10} {'x regex':>8}")
    for row in results:
        print(f"{row['log']:<17} {row['tool']:<28} {row['mb_per_s_per_core']:>10} {row['mb_per_s_wall']:>10} {row['x_baseline_per_core']:>8}")
    if args.json_file:
        with open(args.json_file, "w") as f:
            json.dump({"size_mb": size, "repeat": args.repeat, "baseline": BASELINE, "results": results}, f, indent=2)
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
