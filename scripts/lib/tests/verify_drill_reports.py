#!/usr/bin/env python3
"""An independent verifier of drctl's drill report chain, written from docs/AUDIT.md alone.

It shares no code with drctl: Ed25519 comes from PyPI's `cryptography` package, SHA-256 from
hashlib, JSON and base64 from the standard library. A test runs it on reports drctl made, so
that the documented format is the one drctl writes.

    verify_drill_reports.py --public-key FILE [--heads DIR] REPORT_DIR
    verify_drill_reports.py --public-key FILE --segment FILE...

REPORT_DIR: a copy of [drill] report_dir (or a target's reports/ folder); every file named
NNNNNN-<12 hex>.dsse.json is a report of the chain. --heads DIR: a folder of chain heads
(head-NNNNNN, a target's reports/ folder) to compare with the chain. Prints one JSON object
({"ok", "reports", "newest", "problems"}); exits 0 when everything verifies, 1 otherwise.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REPORT_TYPE = "application/vnd.drctl.drill+json"
REPORT_SCHEMA = "drctl.drill-report/1"
HEAD_TYPE = "application/vnd.drctl.drill-head+json"
HEAD_SCHEMA = "drctl.drill-head/1"
REPORT_NAME = re.compile(r"^([0-9]{6,})-([0-9a-f]{12})\.dsse\.json$")
HEAD_NAME = re.compile(r"^head-([0-9]{6,})(\.dsse\.json)?$")


def pae(payload_type: bytes, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding; lengths are of the raw bytes, in decimal."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (the DSSE spec accepts both)."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=None, validate=True)
    except (binascii.Error, ValueError):
        return base64.b64decode(padded, altchars=b"-_", validate=True)


def read_public_key(path: str) -> Ed25519PublicKey:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                return Ed25519PublicKey.from_public_bytes(bytes.fromhex(line))
    raise ValueError(f"{path} holds no public key line")


def open_envelope(raw: bytes, key: Ed25519PublicKey, expected_type: str):
    """(payload bytes, signed?) of a DSSE envelope; raises ValueError when it is not one."""
    envelope = json.loads(raw)
    payload_type = envelope["payloadType"]
    if payload_type != expected_type:
        raise ValueError(f"payloadType {payload_type!r}, expected {expected_type!r}")
    body = b64decode(envelope["payload"])
    message = pae(payload_type.encode("utf-8"), body)
    signed = False
    for signature in envelope.get("signatures", []):  # keyid is a hint only: not consulted
        try:
            key.verify(b64decode(signature["sig"]), message)
            signed = True
            break
        except (InvalidSignature, ValueError, KeyError):
            continue
    return body, signed


def verify_chain(files, key, whole_chain):
    problems, chain = [], []
    for path in files:
        name = os.path.basename(path)
        with open(path, "rb") as handle:
            raw = handle.read()
        digest = hashlib.sha256(raw).hexdigest()
        try:
            body, signed = open_envelope(raw, key, REPORT_TYPE)
            payload = json.loads(body)
            if payload["schema"] != REPORT_SCHEMA:
                raise ValueError(f"schema {payload['schema']!r}")
            sequence = payload["sequence"]
            previous = payload["previous"]
        except (ValueError, KeyError, TypeError) as error:
            problems.append({"file": name, "problem": f"not a drill report: {error}"})
            continue
        if not signed:
            problems.append({"file": name, "sequence": sequence, "problem": "signature"})
        match = REPORT_NAME.match(name)
        if match and int(match.group(1)) != sequence:
            problems.append({"file": name, "sequence": sequence, "problem": f"name says sequence {int(match.group(1))}"})
        if match and not digest.startswith(match.group(2)):
            problems.append({"file": name, "sequence": sequence, "problem": "name's hash prefix differs from the content's"})
        chain.append((name, sequence, previous, digest))
    if not whole_chain:
        chain.sort(key=lambda entry: entry[1])
    for index, (name, sequence, previous, _digest) in enumerate(chain):
        if index == 0:
            if whole_chain and sequence != 1:
                problems.append({"file": name, "sequence": sequence, "problem": "the chain does not start at 1"})
            elif sequence == 1 and previous is not None:
                problems.append({"file": name, "sequence": sequence, "problem": "report 1 names a previous report"})
            continue
        before_name, before_sequence, _before_previous, before_digest = chain[index - 1]
        if sequence != before_sequence + 1:
            problems.append({"file": name, "sequence": sequence,
                             "problem": f"follows report {before_sequence} ({before_name}): not the next sequence"})
        elif previous != before_digest:
            problems.append({"file": name, "sequence": sequence,
                             "problem": f"previous hash is not the SHA-256 of {before_name}"})
    return chain, problems


def verify_heads(directory, key, chain):
    """Every head must be signed, and name the local report of its sequence by its hash."""
    problems = []
    local = {sequence: digest for (_name, sequence, _previous, digest) in chain}
    newest_local = max(local) if local else 0
    newest_head = 0
    for name in sorted(os.listdir(directory)):
        match = HEAD_NAME.match(name)
        if not match:
            continue
        with open(os.path.join(directory, name), "rb") as handle:
            raw = handle.read()
        try:
            body, signed = open_envelope(raw, key, HEAD_TYPE)
            head = json.loads(body)
            if head["schema"] != HEAD_SCHEMA or head["sequence"] != int(match.group(1)):
                raise ValueError("schema or sequence")
        except (ValueError, KeyError, TypeError) as error:
            problems.append({"head": name, "problem": f"not a chain head: {error}"})
            continue
        if not signed:
            problems.append({"head": name, "problem": "signature"})
        sequence = head["sequence"]
        newest_head = max(newest_head, sequence)
        if sequence not in local:
            problems.append({"head": name, "sequence": sequence,
                             "problem": "head of a report the chain lacks" + (" (newer than its newest)" if sequence > newest_local else "")})
        elif local[sequence] != head["envelope"]:
            problems.append({"head": name, "sequence": sequence, "problem": "head names another report hash"})
    return newest_head, problems


def verify_names(files):
    """Each local names file (NNNNNN-<hash>.names.json beside a report) must give paths whose
    salted SHA-256 is the pseudonym they are listed under."""
    problems = []
    for path in files:
        names_path = path[: -len(".dsse.json")] + ".names.json"
        if not os.path.exists(names_path):
            continue
        try:
            with open(names_path, encoding="utf-8") as handle:
                names = json.load(handle)
            salt = bytes.fromhex(names["salt"])
            for pseudonym, mailbox in names["mailboxes"].items():
                digest = hashlib.sha256(salt + mailbox.encode("utf-8")).hexdigest()
                if pseudonym != "mailbox-" + digest[:16]:
                    problems.append({"names": os.path.basename(names_path), "problem": f"{pseudonym} is not the pseudonym of its path"})
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            problems.append({"names": os.path.basename(names_path), "problem": f"not a names file: {error}"})
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--heads")
    parser.add_argument("--segment", action="store_true", help="the arguments are report files, a segment of the chain")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    key = read_public_key(args.public_key)
    if args.segment:
        files = args.paths
    else:
        folder = args.paths[0]
        files = sorted((os.path.join(folder, n) for n in os.listdir(folder) if REPORT_NAME.match(n)),
                       key=lambda p: (int(REPORT_NAME.match(os.path.basename(p)).group(1)), p))
    chain, problems = verify_chain(files, key, whole_chain=not args.segment)
    problems += verify_names(files)
    result = {"reports": len(chain), "newest": max((c[1] for c in chain), default=0)}
    if args.heads:
        result["newestHead"], head_problems = verify_heads(args.heads, key, chain)
        problems += head_problems
    result["problems"] = problems
    result["ok"] = not problems and bool(chain)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
