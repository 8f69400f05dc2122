"""The store's change between backups, and the comparison of restores, for scripts/bench.

change_mailboxes: ~1 % of the rows of 10 % of the mailboxes change (gen-mailstore writers that
then exit: the files are quiescent), and the bytes of the pages that changed are counted by
comparing consistent images (`drctl image`, which applies the WAL) page by page.
compare_restore / compare_one: byte-for-byte comparison of what a tool restored with the store.
"""
import json
import os
import random
import sys
import time

from bench_measure import MiB, BenchError, log, run, same_bytes


def extra_files(store):
    """-wal, -shm and -journal files present in the store (what restic and borg copy as is)."""
    return sorted(n for n in os.listdir(store) if n.endswith(("-wal", "-shm", "-journal")))


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
            "changed_page_bytes": changed_bytes,
            "changed_mailbox_bytes": sum(os.path.getsize(m["path"]) for m in chosen), "images_verified": verified,
            "wal_shm_journal_files_after": extra_files(ctx.store), "details": details}


# ---------------------------------------------------------------------------------------------
# restore comparison


def compare_restore(ctx, kind, restored_root):
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
        if kind == "drctl" and not name.endswith(".db"):
            continue
        if kind == "drctl" and name in wal_present:
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




def compare_one(ctx, kind, mailbox, restored):
    """One restored mailbox against the store's file (or, for drctl with a -wal present, its image)."""
    reference = mailbox
    if kind == "drctl" and os.path.exists(mailbox + "-wal"):
        reference = os.path.join(ctx.work, "pages", "reference-one", os.path.basename(mailbox))
        os.makedirs(os.path.dirname(reference), exist_ok=True)
        snapshot_image(ctx, mailbox, reference)
    if not os.path.exists(restored):
        return {"identical": 0, "different": [], "missing": [os.path.basename(mailbox)]}
    if same_bytes(reference, restored):
        return {"identical": 1, "different": [], "missing": []}
    return {"identical": 0, "different": [os.path.basename(mailbox)], "missing": []}
