"""Live writers for scripts/bench: gen-mailstore writers that keep committing while a tool
backs the store up, and what their transactions cost meanwhile (longest, p99).

Each writer commits a transaction (insert a message and its ledger row, update a thread and
flags, delete its oldest message), sleeps a random 0..pause ms and goes on, until SIGTERM; it
then writes its statistics (committed, longest and p99 transaction in ms, errors). A tool
that holds a lock the writers need shows in their longest transaction.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from bench_measure import BenchError


class LiveWriters:
    def __init__(self, ctx, mailboxes, label, pause_ms):
        self.ctx, self.mailboxes, self.label, self.pause_ms = ctx, mailboxes, label, pause_ms
        self.folder = os.path.join(ctx.work, "writers", label.replace(" ", "_"))
        os.makedirs(self.folder)
        self.processes = []

    def start(self):
        """Starts one writer per mailbox and returns once each has committed once."""
        started = []
        for index, mailbox in enumerate(self.mailboxes):
            stats = os.path.join(self.folder, f"writer-{index}.json")
            process = subprocess.Popen(
                [sys.executable, self.ctx.gen, "write", "--db", mailbox["path"], "--cipher", mailbox["cipher"],
                 "--key-file", self.ctx.mailbox_key, "--seed", str(1000 + index), "--pause-ms", str(self.pause_ms),
                 "--progress", "--stats", stats],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            first = threading.Event()

            def drain(process=process, first=first):
                # --progress prints a line per commit: read them all so the pipe never fills.
                for line in process.stdout:
                    if line.startswith("COMMITTED"):
                        first.set()
            threading.Thread(target=drain, daemon=True).start()
            self.processes.append((process, stats))
            started.append(first)
        deadline = time.monotonic() + 60
        for event, (process, _) in zip(started, self.processes):
            if not event.wait(max(0.0, deadline - time.monotonic())):
                self.stop()
                raise BenchError(f"live writers ({self.label}): a writer did not commit within 60 s")
        self.t0 = time.monotonic()
        return [p.pid for p, _ in self.processes]

    def stop(self):
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        summary = {"writers": len(self.processes), "committed": 0, "errors": [], "max_transaction_ms": 0.0,
                   "p99_transaction_ms_worst_writer": 0.0, "transactions_over_100ms": 0, "per_writer": []}
        for process, stats in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            try:
                with open(stats) as handle:
                    s = json.load(handle)
            except (OSError, ValueError):
                raise BenchError(f"live writers ({self.label}): {stats} is missing: a writer died")
            summary["committed"] += s["committed"]
            summary["errors"] += s["errors"]
            summary["max_transaction_ms"] = round(max(summary["max_transaction_ms"], s["max_transaction_ms"]), 1)
            summary["p99_transaction_ms_worst_writer"] = round(max(summary["p99_transaction_ms_worst_writer"],
                                                                   s["p99_transaction_ms"]), 1)
            summary["transactions_over_100ms"] += s["transactions_over_100ms"]
            summary["per_writer"].append({k: s.get(k) for k in ("db", "committed", "max_transaction_ms",
                                                                "p99_transaction_ms", "seconds")})
        # A failed transaction (SQLITE_BUSY past the writer's timeout) is a finding, not a bench
        # failure: it is counted and the first one kept.
        summary["first_error"] = summary["errors"][0] if summary["errors"] else None
        summary["errors"] = len(summary["errors"])
        return summary
