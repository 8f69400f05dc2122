"""One small connection interface over three real SQLite builds.

- cipher "none":      Python's sqlite3 module (Debian's libsqlite3), unencrypted.
- cipher "chacha20":  apsw from the PyPI package apsw-sqlite3mc (SQLite3MultipleCiphers).
- cipher "sqlcipher": Debian's libsqlcipher0 (SQLCipher 3.4, AES, 1024-byte pages) via ctypes.

Nothing is installed here: a missing library raises MissingDependency naming the package.
"""
import ctypes
import ctypes.util
import os
import stat

CIPHERS = ("none", "chacha20", "sqlcipher")


class MissingDependency(RuntimeError):
    pass


class DatabaseError(RuntimeError):
    pass


def read_key_file(path):
    """The passphrase from a private file (refused if group/other can read it)."""
    info = os.stat(path)
    if info.st_mode & 0o077:
        raise DatabaseError(f"key file {path} has mode {stat.filemode(info.st_mode)}; it must be 0600")
    with open(path, "r", encoding="utf-8") as handle:
        key = handle.read().strip()
    if not key:
        raise DatabaseError(f"key file {path} is empty")
    return key


def _quote(text):
    return "'" + text.replace("'", "''") + "'"


class _Stdlib:
    def __init__(self, path, busy_ms):
        import sqlite3
        self._sqlite3 = sqlite3
        self.db = sqlite3.connect(path, isolation_level=None, timeout=busy_ms / 1000.0)

    def execute(self, sql, params=()):
        try:
            return self.db.execute(sql, params).fetchall()
        except self._sqlite3.Error as error:
            raise DatabaseError(str(error)) from None

    def close(self):
        self.db.close()


class _Apsw:
    def __init__(self, path, busy_ms, key):
        try:
            import apsw
        except ImportError:
            raise MissingDependency(
                "the Python module apsw is missing: install the PyPI package apsw-sqlite3mc "
                "(pip install apsw-sqlite3mc)") from None
        self._apsw = apsw
        self.db = apsw.Connection(path)
        self.db.setbusytimeout(busy_ms)
        cipher = self.db.execute("PRAGMA cipher").fetchall()
        if not cipher:
            raise MissingDependency(
                "the installed apsw is not built with SQLite3MultipleCiphers: install the PyPI "
                "package apsw-sqlite3mc instead of apsw")
        self.db.execute("PRAGMA cipher='chacha20'")
        self.db.execute("PRAGMA key=" + _quote(key))

    def execute(self, sql, params=()):
        try:
            return [tuple(row) for row in self.db.execute(sql, params)]
        except self._apsw.Error as error:
            raise DatabaseError(f"{type(error).__name__}: {error}") from None

    def close(self):
        self.db.close()


SQLITE_OK, SQLITE_ROW, SQLITE_DONE = 0, 100, 101
SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL = 1, 2, 3, 4, 5
_TRANSIENT = ctypes.c_void_p(-1)
_sqlcipher = None


def _load_sqlcipher():
    global _sqlcipher
    if _sqlcipher is not None:
        return _sqlcipher
    name = ctypes.util.find_library("sqlcipher") or "libsqlcipher.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise MissingDependency(
            "the SQLCipher library is missing: install the Debian package sqlcipher "
            "(apt-get install sqlcipher, which brings libsqlcipher0)") from None
    vp, cp, i, i64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int64
    lib.sqlite3_open_v2.argtypes = [cp, ctypes.POINTER(vp), i, cp]
    lib.sqlite3_close_v2.argtypes = [vp]
    lib.sqlite3_errmsg.argtypes = [vp]
    lib.sqlite3_errmsg.restype = cp
    lib.sqlite3_busy_timeout.argtypes = [vp, i]
    lib.sqlite3_prepare_v2.argtypes = [vp, cp, i, ctypes.POINTER(vp), ctypes.POINTER(cp)]
    lib.sqlite3_step.argtypes = [vp]
    lib.sqlite3_finalize.argtypes = [vp]
    lib.sqlite3_bind_int64.argtypes = [vp, i, i64]
    lib.sqlite3_bind_double.argtypes = [vp, i, ctypes.c_double]
    lib.sqlite3_bind_text.argtypes = [vp, i, cp, i, vp]
    lib.sqlite3_bind_blob.argtypes = [vp, i, cp, i, vp]
    lib.sqlite3_bind_null.argtypes = [vp, i]
    lib.sqlite3_column_count.argtypes = [vp]
    lib.sqlite3_column_type.argtypes = [vp, i]
    lib.sqlite3_column_int64.argtypes = [vp, i]
    lib.sqlite3_column_int64.restype = i64
    lib.sqlite3_column_double.argtypes = [vp, i]
    lib.sqlite3_column_double.restype = ctypes.c_double
    lib.sqlite3_column_bytes.argtypes = [vp, i]
    lib.sqlite3_column_blob.argtypes = [vp, i]
    lib.sqlite3_column_blob.restype = vp
    lib.sqlite3_column_text.argtypes = [vp, i]
    lib.sqlite3_column_text.restype = vp
    _sqlcipher = lib
    return lib


class _SQLCipher:
    def __init__(self, path, busy_ms, key):
        self.lib = _load_sqlcipher()
        self.db = ctypes.c_void_p()
        flags = 0x02 | 0x04  # READWRITE | CREATE
        if self.lib.sqlite3_open_v2(path.encode(), ctypes.byref(self.db), flags, None) != SQLITE_OK:
            raise DatabaseError(f"cannot open {path}: {self._message()}")
        self.lib.sqlite3_busy_timeout(self.db, busy_ms)
        self.execute("PRAGMA key=" + _quote(key))

    def _message(self):
        text = self.lib.sqlite3_errmsg(self.db)
        return text.decode(errors="replace") if text else "unknown error"

    def execute(self, sql, params=()):
        lib = self.lib
        statement = ctypes.c_void_p()
        rc = lib.sqlite3_prepare_v2(self.db, sql.encode(), -1, ctypes.byref(statement), None)
        if rc != SQLITE_OK:
            raise DatabaseError(f"{self._message()} (rc {rc}) in {sql[:60]}")
        try:
            for index, value in enumerate(params, start=1):
                if value is None:
                    lib.sqlite3_bind_null(statement, index)
                elif isinstance(value, int):
                    lib.sqlite3_bind_int64(statement, index, value)
                elif isinstance(value, float):
                    lib.sqlite3_bind_double(statement, index, value)
                elif isinstance(value, (bytes, bytearray)):
                    lib.sqlite3_bind_blob(statement, index, bytes(value), len(value), _TRANSIENT)
                else:
                    data = str(value).encode()
                    lib.sqlite3_bind_text(statement, index, data, len(data), _TRANSIENT)
            rows = []
            while True:
                rc = lib.sqlite3_step(statement)
                if rc == SQLITE_DONE:
                    return rows
                if rc != SQLITE_ROW:
                    raise DatabaseError(f"{self._message()} (rc {rc}) in {sql[:60]}")
                row = []
                for column in range(lib.sqlite3_column_count(statement)):
                    kind = lib.sqlite3_column_type(statement, column)
                    if kind == SQLITE_INTEGER:
                        row.append(lib.sqlite3_column_int64(statement, column))
                    elif kind == SQLITE_FLOAT:
                        row.append(lib.sqlite3_column_double(statement, column))
                    elif kind == SQLITE_NULL:
                        row.append(None)
                    else:
                        size = lib.sqlite3_column_bytes(statement, column)
                        pointer = (lib.sqlite3_column_blob(statement, column) if kind == SQLITE_BLOB
                                   else lib.sqlite3_column_text(statement, column))
                        data = ctypes.string_at(pointer, size) if pointer else b""
                        row.append(data if kind == SQLITE_BLOB else data.decode(errors="replace"))
                rows.append(tuple(row))
        finally:
            lib.sqlite3_finalize(statement)

    def close(self):
        self.lib.sqlite3_close_v2(self.db)


def connect(path, cipher, key=None, busy_ms=30000):
    """Opens (creating if needed) a database with the given cipher; key required unless 'none'."""
    if cipher == "none":
        return _Stdlib(path, busy_ms)
    if key is None:
        raise DatabaseError(f"cipher {cipher} needs a key file")
    if cipher == "chacha20":
        return _Apsw(path, busy_ms, key)
    if cipher == "sqlcipher":
        return _SQLCipher(path, busy_ms, key)
    raise DatabaseError(f"unknown cipher {cipher!r}; use one of {', '.join(CIPHERS)}")


def check_dependencies(ciphers):
    """Raises MissingDependency for the first cipher whose library is not installed."""
    for cipher in ciphers:
        if cipher == "chacha20":
            try:
                import apsw  # noqa: F401
            except ImportError:
                raise MissingDependency(
                    "the Python module apsw is missing: install the PyPI package apsw-sqlite3mc "
                    "(pip install apsw-sqlite3mc)") from None
        elif cipher == "sqlcipher":
            _load_sqlcipher()
