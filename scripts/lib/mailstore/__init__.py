"""Realistic mail-provider mailboxes (SQLite, optionally encrypted) for drctl's tests.

Used by scripts/gen-mailstore. Keys are read from a 0600 file, never from the command line.
"""
