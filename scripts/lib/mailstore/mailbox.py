"""Schema, content generation, the continuous writer's transaction, and image verification.

The invariant drctl's tests check in every snapshot image: with T = meta.counter (the number
of writer transactions committed), ledger holds exactly seq 1..T, the writer's messages are
exactly those with writer_seq in (T-K, T], and every third of them has one attachment.
"""
import random
import time

WINDOW = 40  # writer messages kept (older ones deleted): K in the invariant

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ledger(seq INTEGER PRIMARY KEY, committed_at REAL NOT NULL, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,
    uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS threads(id INTEGER PRIMARY KEY, subject TEXT NOT NULL,
    last_date INTEGER NOT NULL, message_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, writer_seq INTEGER UNIQUE,
    folder_id INTEGER NOT NULL REFERENCES folders(id), thread_id INTEGER NOT NULL REFERENCES threads(id),
    uid INTEGER NOT NULL, message_id TEXT UNIQUE NOT NULL, in_reply_to TEXT, subject TEXT NOT NULL,
    sender TEXT NOT NULL, recipients TEXT NOT NULL, date INTEGER NOT NULL, flags INTEGER NOT NULL,
    size INTEGER NOT NULL, headers TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_folder_uid ON messages(folder_id, uid);
CREATE INDEX IF NOT EXISTS messages_thread_date ON messages(thread_id, date);
CREATE INDEX IF NOT EXISTS messages_date ON messages(date);
CREATE TABLE IF NOT EXISTS attachments(id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename TEXT NOT NULL, mime_type TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_message ON attachments(message_id);
"""

FOLDERS = ["INBOX", "Sent", "Drafts", "Archive", "Junk", "Trash", "Lists/dev", "Lists/announce"]
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]
DOMAINS = ["example.org", "example.net", "mail.example.com", "lists.example.org"]
WORDS = ("backup restore mailbox quota invoice meeting agenda report server migration release "
         "schedule weekend project budget review draft notes travel photos contract support "
         "ticket update question answer lunch holiday deadline feedback design").split()
MIME = [("report.pdf", "application/pdf"), ("photo.jpg", "image/jpeg"), ("notes.txt", "text/plain"),
        ("invite.ics", "text/calendar"), ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()


def address(rng):
    return f"{rng.choice(FIRST)}.{rng.choice(FIRST)}@{rng.choice(DOMAINS)}"


def make_message(rng, date, subject, in_reply_to, body_min=300, body_max=4000):
    sender, recipients = address(rng), ", ".join(address(rng) for _ in range(rng.randint(1, 3)))
    message_id = f"<{rng.getrandbits(64):016x}.{date}@{rng.choice(DOMAINS)}>"
    body = "\n".join(sentence(rng, rng.randint(6, 16)) + "." for _ in range(rng.randint(2, 40)))
    body = body[: rng.randint(body_min, body_max)]
    headers = (f"Return-Path: <{sender}>\r\nReceived: from mx{rng.randint(1, 9)}.{rng.choice(DOMAINS)} "
               f"by imap.example.org with ESMTPS id {rng.getrandbits(40):010x}\r\n"
               f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(date))}\r\n"
               f"From: {sender}\r\nTo: {recipients}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
               + (f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else "")
               + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
    return dict(message_id=message_id, in_reply_to=in_reply_to, subject=subject, sender=sender,
                recipients=recipients, date=date, headers=headers, body=body,
                size=len(headers) + len(body))


def insert_message(db, rng, folder_id, thread_id, uid, message, writer_seq=None):
    db.execute("INSERT INTO messages(writer_seq, folder_id, thread_id, uid, message_id, in_reply_to, subject,"
               " sender, recipients, date, flags, size, headers, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (writer_seq, folder_id, thread_id, uid, message["message_id"], message["in_reply_to"],
                message["subject"], message["sender"], message["recipients"], message["date"],
                rng.randint(0, 31), message["size"], message["headers"], message["body"]))
    return db.execute("SELECT last_insert_rowid()")[0][0]


def insert_attachment(db, rng, message_row, max_size=16000):
    name, mime = rng.choice(MIME)
    content = rng.randbytes(rng.randint(500, max_size))
    db.execute("INSERT INTO attachments(message_id, filename, mime_type, size, content) VALUES (?,?,?,?,?)",
               (message_row, name, mime, len(content), content))


def configure(db, journal, page_size=None, autocheckpoint=None):
    if page_size:
        db.execute(f"PRAGMA page_size={int(page_size)}")
    mode = db.execute(f"PRAGMA journal_mode={'WAL' if journal == 'wal' else 'DELETE'}")[0][0]
    expected = "wal" if journal == "wal" else "delete"
    if str(mode).lower() != expected:
        raise RuntimeError(f"journal_mode is {mode}, expected {expected}")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    if autocheckpoint is not None and journal == "wal":
        db.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")


def populate(db, rng, messages, start_date=1_600_000_000):
    """A mailbox's history: folders, threads of replies, messages with attachments."""
    db.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA.strip().split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('counter', 0)")
    for index, name in enumerate(FOLDERS, start=1):
        db.execute("INSERT OR IGNORE INTO folders(id, name, uidvalidity, uidnext) VALUES (?,?,?,1)",
                   (index, name, rng.getrandbits(31)))
    date = start_date
    threads = []
    for _ in range(messages):
        date += rng.randint(30, 20000)
        if threads and rng.random() < 0.45:
            thread_id, subject, parent = rng.choice(threads)
            subject = "Re: " + subject.removeprefix("Re: ")
        else:
            subject = sentence(rng, rng.randint(2, 7))
            db.execute("INSERT INTO threads(subject, last_date, message_count) VALUES (?,?,0)", (subject, date))
            thread_id, parent = db.execute("SELECT last_insert_rowid()")[0][0], None
        folder_id = rng.choice([1, 1, 1, 2, 3, 4, 4, 5, 7, 8])
        uid = db.execute("SELECT uidnext FROM folders WHERE id=?", (folder_id,))[0][0]
        db.execute("UPDATE folders SET uidnext=uidnext+1 WHERE id=?", (folder_id,))
        message = make_message(rng, date, subject, parent)
        row = insert_message(db, rng, folder_id, thread_id, uid, message)
        db.execute("UPDATE threads SET last_date=?, message_count=message_count+1 WHERE id=?", (date, thread_id))
        threads.append((thread_id, subject, message["message_id"]))
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 2)):
                insert_attachment(db, rng, row)
    db.execute("COMMIT")


def writer_transaction(db, rng, big=False):
    """One committed writer transaction: insert, update, delete; returns the new counter."""
    db.execute("BEGIN IMMEDIATE")
    try:
        seq = db.execute("SELECT value FROM meta WHERE key='counter'")[0][0] + 1
        db.execute("UPDATE meta SET value=? WHERE key='counter'", (seq,))
        db.execute("INSERT INTO ledger(seq, committed_at, kind) VALUES (?,?,?)",
                   (seq, time.time(), "big" if big else "normal"))
        date = int(time.time())
        message = make_message(rng, date, sentence(rng, 4), None,
                               body_max=20000 if big else 4000)
        thread = db.execute("SELECT id FROM threads ORDER BY random() LIMIT 1")
        thread_id = thread[0][0] if thread else 1
        row = insert_message(db, rng, 1, thread_id, 1_000_000 + seq, message, writer_seq=seq)
        if seq % 3 == 0:
            insert_attachment(db, rng, row, max_size=60000 if big else 16000)
        db.execute("UPDATE threads SET last_date=?, message_count=message_count+1 WHERE id=?", (date, thread_id))
        db.execute("UPDATE messages SET flags=? WHERE id=(SELECT id FROM messages WHERE writer_seq IS NULL"
                   " ORDER BY random() LIMIT 1)", (rng.randint(0, 31),))
        if seq > WINDOW:
            db.execute("DELETE FROM messages WHERE writer_seq=?", (seq - WINDOW,))
        db.execute("COMMIT")
        return seq
    except BaseException:
        try:
            db.execute("ROLLBACK")
        except Exception:
            pass
        raise


def check_invariant(db):
    """Returns (counter, problems) for an opened image."""
    problems = []
    integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        problems.append("integrity_check: " + "; ".join(str(x) for x in integrity[:5]))
    fk = db.execute("PRAGMA foreign_key_check")
    if fk:
        problems.append(f"foreign_key_check: {len(fk)} violations")
    counter = db.execute("SELECT value FROM meta WHERE key='counter'")[0][0]
    count, low, high = db.execute("SELECT count(*), min(seq), max(seq) FROM ledger")[0]
    if count != counter or (counter and (low != 1 or high != counter)):
        problems.append(f"ledger holds {count} rows {low}..{high} but counter is {counter}")
    expected_low = max(1, counter - WINDOW + 1)
    expected_count = counter - expected_low + 1 if counter else 0
    count, low, high = db.execute(
        "SELECT count(*), min(writer_seq), max(writer_seq) FROM messages WHERE writer_seq IS NOT NULL")[0]
    if count != expected_count or (counter and (low != expected_low or high != counter)):
        problems.append(f"writer messages {count} ({low}..{high}), expected {expected_count} "
                        f"({expected_low}..{counter})")
    attachments = db.execute("SELECT count(*) FROM attachments a JOIN messages m ON m.id=a.message_id"
                             " WHERE m.writer_seq IS NOT NULL")[0][0]
    expected_attachments = sum(1 for s in range(expected_low, counter + 1) if s % 3 == 0) if counter else 0
    if attachments != expected_attachments:
        problems.append(f"writer attachments {attachments}, expected {expected_attachments}")
    return counter, problems
