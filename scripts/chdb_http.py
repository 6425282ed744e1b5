#!/usr/bin/env python3
"""A ClickHouse-compatible HTTP endpoint around chDB, for tests only.

chDB is the ClickHouse engine as a library (PyPI chdb-core). This adapter
serves the slice of ClickHouse's HTTP interface that clickhouse-go's HTTP
transport uses, so that pulse's own client code (schema apply, batch
inserts, queries) runs end to end against the real engine in CI, where no
ClickHouse server can run.

    python3 scripts/chdb_http.py [--host 127.0.0.1] [--port 8123] [--data DIR]

It prints "listening on http://HOST:PORT" once it serves. Point pulse at it
with a DSN such as http://127.0.0.1:8123/ (scripts/chdb.sh start does it all).

What it implements:
  POST / with the SQL in the body, or in the `query` parameter with the
      body appended (ClickHouse's rule); GET /?query=...; GET /ping.
  `database`: the statement runs with it as the current database (USE), and
      the default database otherwise.
  `default_format` (clickhouse-go sends Native): results come back in it
      (TabSeparated when absent), produced by the engine itself.
  `param_<name>`: passed to the engine as query parameters ({name:Type}).
  INSERT ... FORMAT <fmt> with the data in the body (clickhouse-go's batch
      Send): streamed into the engine with chDB's send_insert. Chunked
      request bodies are accepted.
  Errors: a non-200 status, X-ClickHouse-Exception-Code, and the engine's
      "Code: N. DB::Exception: ..." text as the body, which clickhouse-go
      turns into *clickhouse.Exception.

What it fakes or leaves out (tests must not rely on these):
  * No authentication: any user and password are accepted, every statement
    runs as chDB's default user, and `quota_key` is ignored.
  * One engine session shared by all connections, statements serialised by
    a lock; no sessions (session_id), no concurrency, no query cancellation
    (KILL QUERY, closed connections), no progress headers.
  * Settings passed as URL parameters are IGNORED (logged once per name),
    except compress/decompress=1 (ClickHouse's native LZ4/ZSTD framing),
    which are refused with an error; request/response Content-Encoding
    (gzip, ...) is refused too.
  * The handshake query clickhouse-go sends when it connects ("SELECT
    displayName(), version(), revision(), timezone()") is answered by the
    adapter with revision() = 0. The real revision (54515 for 26.9) tells the
    client to expect Native blocks with a BlockInfo header and per-column
    serialization flags, which a server writes for HTTP clients that send
    client_protocol_version; chDB's Native writer has no client revision and
    writes the plain form, which is what a client expecting revision 0
    reads. version() and timezone() are the engine's.
  * Access control: chDB has no writable access storage (CREATE USER / ROLE
    / ROW POLICY and GRANT fail there). The adapter has the engine PARSE such
    statements (EXPLAIN AST, so a syntax error still fails) and then answers
    success without running them. Row policies and grants are therefore not
    exercised; test them against a real server.
  * Kafka tables: chDB registers a CREATE TABLE ... ENGINE = Kafka (settings
    checked) but cannot start its consumers ("Shutdown was called",
    LOGICAL_ERROR 49: the embedded engine has no message-broker pool). When
    exactly that happens and the table is then in system.tables, the
    adapter answers success. Nothing is ever consumed from Kafka, and the
    data directory cannot be opened again by chDB afterwards, which is why
    every start uses a fresh one unless --data is given.
"""

import argparse
import http.server
import os
import re
import shutil
import signal
import socketserver
import struct
import sys
import tempfile
import threading
import urllib.parse

try:
    from chdb import session as chdb_session
except ImportError:  # pragma: no cover - told to the operator
    sys.exit("chdb_http.py: chdb is not installed; run scripts/chdb.sh install and use its venv")

HELLO_QUERY = "SELECT displayName(), version(), revision(), timezone()"
# URL parameters that are part of the HTTP interface, not settings.
PROTOCOL_PARAMS = {
    "query", "database", "default_format", "query_id", "quota_key", "user",
    "password", "client_protocol_version", "session_id", "session_timeout",
    "session_check", "wait_end_of_query", "buffer_size",
}
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*\s*", re.S)
ACCESS_DDL = re.compile(
    r"^(CREATE|ALTER|DROP)\s+(USER|ROLE|ROW\s+POLICY|POLICY|SETTINGS\s+PROFILE|PROFILE|QUOTA)\b"
    r"|^(GRANT|REVOKE)\b|^SET\s+(DEFAULT\s+)?ROLE\b",
    re.I,
)
KAFKA_CREATE = re.compile(
    r"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(`?)(\w+)\2\.(`?)(\w+)\4\s*\(.*\bENGINE\s*=\s*Kafka\b",
    re.I | re.S,
)
INSERT_WITH_DATA = re.compile(r"^(INSERT\s+INTO\s+.*?)\s+FORMAT\s+(\w+)\s*;?\s*$", re.I | re.S)
ERROR_CODE = re.compile(r"Code:\s*(\d+)\.")


class EngineError(Exception):
    def __init__(self, message, code=1000, status=500):
        super().__init__(message)
        self.code = code
        self.status = status


def uvarint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def native_string(s):
    data = s.encode()
    return uvarint(len(data)) + data


def hello_block(display_name, version, timezone):
    """One Native block in the client-revision form (BlockInfo, then a
    serialization flag after each column type), with revision() = 0."""
    out = bytearray()
    out += uvarint(1) + b"\x00" + uvarint(2) + struct.pack("<i", -1) + uvarint(0)  # BlockInfo
    out += uvarint(4) + uvarint(1)  # columns, rows
    columns = [
        ("displayName()", "String", native_string(display_name)),
        ("version()", "String", native_string(version)),
        ("revision()", "UInt32", struct.pack("<I", 0)),
        ("timezone()", "String", native_string(timezone)),
    ]
    for name, typ, data in columns:
        out += native_string(name) + native_string(typ) + b"\x00" + data
    return bytes(out)


class Engine:
    """The one chDB session, used under a lock."""

    def __init__(self, path):
        self.session = chdb_session.Session(path)
        self.lock = threading.Lock()
        row = self.session.query("SELECT displayName(), version(), timezone()", "TSV").bytes().decode().strip()
        self.display_name, self.version, self.timezone = row.split("\t")
        self.hello = hello_block(self.display_name, self.version, self.timezone)
        self.ignored_settings = set()

    def run(self, sql, database, fmt, params, body):
        normalized = " ".join(sql.split())
        if normalized == HELLO_QUERY:
            return self.hello
        with self.lock:
            self._use(database)
            stripped = LEADING_COMMENTS.sub("", sql, count=1)
            insert = INSERT_WITH_DATA.match(stripped) if body else None
            if insert:
                return self._insert(insert.group(1), insert.group(2), body)
            if body:
                sql = sql + "\n" + body.decode()
            if ACCESS_DDL.match(stripped):
                # Parsed, not run: see the module comment.
                self._query("EXPLAIN AST " + stripped, "TSV", None)
                return b""
            try:
                return self._query(sql, fmt, params)
            except EngineError as e:
                kafka = KAFKA_CREATE.match(stripped)
                if e.code == 49 and "Shutdown was called" in str(e) and kafka and self._table_exists(kafka.group(3), kafka.group(5)):
                    return b""
                raise

    def _use(self, database):
        database = database or "default"
        if not IDENTIFIER.match(database):
            raise EngineError("Code: 81. DB::Exception: Database %s does not exist. (UNKNOWN_DATABASE)" % database, 81, 404)
        self._query("USE " + database, "TSV", None)

    def _table_exists(self, database, table):
        out = self._query(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            "TSV", {"db": database, "t": table})
        return out.strip() == b"1"

    def _insert(self, statement, fmt, body):
        try:
            inserter = self.session.send_insert(statement, fmt)
            try:
                inserter.append(body)
                inserter.finish()
            finally:
                inserter.close()
        except Exception as e:  # chDB raises RuntimeError with the engine's text
            raise engine_error(e)
        return b""

    def _query(self, sql, fmt, params):
        try:
            result = self.session.query(sql, fmt, params=params or None)
        except Exception as e:
            raise engine_error(e)
        data = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return data or b""


def engine_error(e):
    text = str(e).strip()
    codes = ERROR_CODE.findall(text)
    code = int(codes[0]) if codes else 1000
    # chDB repeats the "Code: N. DB::Exception: " prefix; clients want one.
    prefix = "Code: %d. DB::Exception: " % code
    while text.startswith(prefix + prefix):
        text = text[len(prefix):]
    if not codes:
        text = prefix + text
    status = 400 if code == 62 else 404 if code in (60, 81) else 500
    return EngineError(text, code, status)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pulse-chdb-http"
    engine = None
    quiet = False

    def log_message(self, format, *args):
        if not self.quiet:
            sys.stderr.write("chdb_http: %s\n" % (format % args))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/ping", "/"):
            params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            if "query" not in params:
                return self.reply(200, b"Ok.\n", "text/plain; charset=UTF-8")
        self.handle_query(b"")

    def do_POST(self):
        self.handle_query(self.read_body())

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_query(self, body):
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if self.headers.get("Content-Encoding"):
                raise EngineError("Code: 1000. DB::Exception: the chDB adapter does not decode Content-Encoding %s; use a DSN without compression" % self.headers["Content-Encoding"])
            for name in ("compress", "decompress"):
                if params.get(name, "0") not in ("0", ""):
                    raise EngineError("Code: 1000. DB::Exception: the chDB adapter does not implement %s=1 (native LZ4/ZSTD framing); use a DSN without compress" % name)
            query_params = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
            for name in params:
                if name not in PROTOCOL_PARAMS and not name.startswith("param_") and name not in ("compress", "decompress") and name not in self.engine.ignored_settings:
                    self.engine.ignored_settings.add(name)
                    sys.stderr.write("chdb_http: ignoring setting %s (settings are not applied)\n" % name)
            if "query" in params:
                sql = params["query"]
                data = body
            else:
                sql, data = body.decode(), b""
            if not sql.strip():
                raise EngineError("Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)", 62, 400)
            fmt = params.get("default_format") or "TabSeparated"
            out = self.engine.run(sql, params.get("database"), fmt, query_params, data)
        except EngineError as e:
            msg = str(e).encode() + b"\n"
            return self.reply(e.status, msg, "text/plain; charset=UTF-8", {"X-ClickHouse-Exception-Code": str(e.code)})
        except Exception as e:  # a bug here must still answer the client
            return self.reply(500, ("Code: 1001. DB::Exception: chdb_http: %r\n" % e).encode(), "text/plain; charset=UTF-8", {"X-ClickHouse-Exception-Code": "1001"})
        self.reply(200, out, "application/octet-stream", {"X-ClickHouse-Format": params.get("default_format", "TabSeparated")})

    def reply(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description="ClickHouse-compatible HTTP adapter around chDB (tests only)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8123, help="port (default 8123; 0 picks a free one)")
    parser.add_argument("--data", help="engine data directory (default: a fresh temporary one, removed on exit)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args()

    tmp = None
    data = args.data
    if not data:
        tmp = tempfile.mkdtemp(prefix="pulse-chdb-")
        data = os.path.join(tmp, "data")
    Handler.engine = Engine(data)
    Handler.quiet = args.quiet
    server = Server((args.host, args.port), Handler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print("listening on http://%s:%d (ClickHouse %s via chDB, data %s)" % (host, port, Handler.engine.version, data), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
