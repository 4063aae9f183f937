#!/usr/bin/env python3
"""Example MCP server: answers questions about the Turtle ontologies in ./ontologies.

Standard library only (Python 3.9+). Speaks MCP over Streamable HTTP at POST /mcp with
plain JSON responses. Like most 2025-era servers it issues a session on `initialize`
(Mcp-Session-Id) and keeps it in memory, so a request carrying a session this process did
not issue gets 404 (the client's cue to start a new session); DELETE /mcp ends a session.
Requests without a session are served too (stand-alone requests). See README.md for
endpoints, tools and environment variables.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections import namedtuple
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the deployed folder free of __pycache__

from ontology import (  # noqa: E402
    RDF_TYPE, RDFS_COMMENT, RDFS_LABEL, Literal, Ontology, ParseError, local_name,
)

SERVER_NAME = "ontology-server"
SERVER_VERSION = os.environ.get("SERVER_VERSION") or "1.0.0"
RELEASE_ID = os.environ.get("RELEASE_ID") or None
SUPPORTED_PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")  # newest first
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0]
DEFAULT_PROTOCOL_VERSION = "2025-03-26"  # assumed when MCP-Protocol-Version is absent
MAX_BODY_BYTES = 1024 * 1024
IDLE_TIMEOUT_S = 75  # keep-alive idle timeout; keep nginx's upstream keepalive_timeout below it
DRAIN_TIMEOUT_S = 10.0  # how long SIGTERM waits for in-flight requests

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700, -32600, -32601, -32602, -32603,
)


def _env_ms(name: str) -> float:
    try:
        return max(0.0, float(os.environ.get(name, "0") or 0)) / 1000.0
    except ValueError:
        return 0.0


# Testing aid: delay every tools/call by this many milliseconds (default 0).
SLOW_S = _env_ms("EXAMPLE_SLOW_MS")


def log(message: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    try:
        sys.stderr.write("%s %s\n" % (stamp, message))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr gone (closed pipe): keep serving


# =========================================================================== tools
#
# Each tool is one entry in TOOLS: name, title, description, JSON Schema for its
# arguments, and a handler(onto, args) -> str. A handler raises ToolError for an
# error the caller should see (returned as a result with isError: true).
# Add or remove a tool by editing this list.


class ToolError(Exception):
    pass


Tool = namedtuple("Tool", ["name", "title", "description", "input_schema", "handler"])


def tool_list_concepts(onto: Ontology, args: dict) -> str:
    kind = (args.get("kind") or "").strip()
    concepts = onto.concepts()
    if kind:
        concepts = [c for c in concepts if kind.lower() in (k.lower() for k in onto.kinds(c))]
        if not concepts:
            known = sorted({k for c in onto.concepts() for k in onto.kinds(c)})
            return 'No concepts of kind "%s". Known kinds: %s.' % (kind, ", ".join(known))
    heading = "%d concept%s" % (len(concepts), "" if len(concepts) == 1 else "s")
    if kind:
        heading += ' of kind "%s"' % kind
    lines = [heading + ":"]
    for concept in concepts:
        lines.append("- %s: %s [%s]" % (onto.compact(concept), onto.label(concept), ", ".join(onto.kinds(concept))))
    return "\n".join(lines)


def tool_get_concept(onto: Ontology, args: dict) -> str:
    name = args["name"].strip()
    hits = onto.find(name)
    if not hits:
        raise ToolError('No concept named "%s". Use list_concepts to see the available names.' % name)
    if len(hits) > 1:
        return 'Several concepts match "%s":\n%s' % (
            name,
            "\n".join("- %s: %s" % (onto.compact(c), onto.label(c)) for c in hits),
        )
    concept = hits[0]
    lines = [
        "%s (%s)" % (onto.label(concept), onto.compact(concept)),
        "IRI: %s" % concept,
        "Types: %s" % (", ".join(onto.compact(t) for t in onto.types(concept)) or "none"),
        "Kinds: %s" % ", ".join(onto.kinds(concept)),
    ]
    comment = onto.text(concept, RDFS_COMMENT)
    if comment:
        lines.append("Comment: %s" % " ".join(comment.split()))
    other_labels = [
        o for o in onto.objects(concept, RDFS_LABEL)
        if isinstance(o, Literal) and o.value != onto.label(concept)
    ]
    if other_labels:
        lines.append("Other labels: %s" % ", ".join(onto.describe_term(o) for o in other_labels))
    skip = {RDF_TYPE, RDFS_LABEL, RDFS_COMMENT}
    for predicate, objects in onto.properties(concept).items():
        if predicate not in skip:
            lines.append("%s: %s" % (onto.label(predicate), "; ".join(onto.describe_term(o) for o in objects)))
    instances = [s for s, p in onto.referrers(concept) if p == RDF_TYPE]
    if instances:
        lines.append("Instances: %s" % ", ".join(onto.describe_term(s) for s in instances))
    referrers = [(s, p) for s, p in onto.referrers(concept) if p != RDF_TYPE]
    if referrers:
        lines.append("Referenced by:")
        for subject, predicate in referrers:
            lines.append("- %s via %s" % (onto.describe_term(subject), onto.label(predicate)))
    return "\n".join(lines)


def tool_search_guidelines(onto: Ontology, args: dict) -> str:
    query = args["query"]
    limit = args.get("limit", 5)
    terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]
    if not terms:
        raise ToolError("The query must contain at least one word of two or more letters.")
    guidelines = [c for c in onto.concepts() if "guideline" in (k.lower() for k in onto.kinds(c))]
    scored = []
    for guideline in guidelines:
        label = onto.label(guideline).lower()
        comment = (onto.text(guideline, RDFS_COMMENT) or "").lower()
        score = sum(2 * label.count(t) + comment.count(t) for t in terms)
        if score:
            scored.append((-score, onto.label(guideline), guideline))
    scored.sort()
    if not scored:
        return 'No guidelines match "%s" (searched %d guidelines).' % (query, len(guidelines))
    shown = scored[:limit]
    lines = ['%d guideline%s match "%s"%s:' % (
        len(scored), "" if len(scored) == 1 else "s", query,
        "" if len(shown) == len(scored) else " (showing %d)" % len(shown),
    )]
    for _, label, guideline in shown:
        comment = " ".join((onto.text(guideline, RDFS_COMMENT) or "").split())
        supports = [
            onto.label(o)
            for p, objects in onto.properties(guideline).items() if local_name(p) == "supports"
            for o in objects
        ]
        line = "- %s (%s): %s" % (label, onto.compact(guideline), comment)
        if supports:
            line += " [supports: %s]" % ", ".join(supports)
        lines.append(line)
    return "\n".join(lines)


TOOLS = [
    Tool(
        name="list_concepts",
        title="List concepts",
        description="List the concepts (classes, principles, stakeholders, guidelines, properties) "
        "defined in the loaded ontologies, optionally only those of one kind.",
        input_schema={
            "type": "object",
            "properties": {
                "kind": {
                    "type": "string",
                    "description": "Only concepts of this kind (type local name, case-insensitive), "
                    "e.g. Class, EthicalPrinciple, Stakeholder, Guideline.",
                },
            },
            "additionalProperties": False,
        },
        handler=tool_list_concepts,
    ),
    Tool(
        name="get_concept",
        title="Get concept",
        description="Describe one concept: label, comment, types, properties and what refers to it.",
        input_schema={
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Local name (PublicSafety), prefixed name (eth:PublicSafety), "
                    "full IRI or label (Public safety); case-insensitive.",
                },
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        handler=tool_get_concept,
    ),
    Tool(
        name="search_guidelines",
        title="Search guidelines",
        description="Full-text search over the labels and comments of the guidelines; "
        "results name the principles each guideline supports.",
        input_schema={
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "description": "Words to look for."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 50,
                    "description": "Maximum number of results (default 5).",
                },
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        handler=tool_search_guidelines,
    ),
]

TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


def validate_arguments(schema: dict, args: dict):
    """The JSON Schema subset the tools above use. Returns an error message or None."""
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            return 'missing required argument "%s"' % name
    for name, value in args.items():
        spec = props.get(name)
        if spec is None:
            if schema.get("additionalProperties", True) is False:
                return 'unknown argument "%s" (expected: %s)' % (name, ", ".join(props) or "none")
            continue
        kind = spec.get("type")
        if kind == "string":
            if not isinstance(value, str):
                return 'argument "%s" must be a string' % name
            if len(value) < spec.get("minLength", 0):
                return 'argument "%s" must not be empty' % name
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                return 'argument "%s" must be an integer' % name
            if not spec.get("minimum", value) <= value <= spec.get("maximum", value):
                return 'argument "%s" must be between %s and %s' % (name, spec.get("minimum"), spec.get("maximum"))
            args[name] = int(value)
    return None


# =========================================================================== JSON-RPC


class RpcError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def rpc_error(request_id, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class McpApp:
    def __init__(self, onto: Ontology):
        self.onto = onto

    def handle_message(self, message, in_batch: bool = False):
        """One JSON-RPC message -> response dict, or None for notifications and responses."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return rpc_error(None, INVALID_REQUEST, "Invalid Request: expected a JSON-RPC 2.0 object")
        has_id = "id" in message
        request_id = message.get("id")
        method = message.get("method")
        if method is None and has_id and ("result" in message or "error" in message):
            return None  # a response from the client; we never send requests, so ignore it
        if not isinstance(method, str) or (has_id and (request_id is None or isinstance(request_id, bool)
                                                       or not isinstance(request_id, (str, int, float)))):
            return rpc_error(request_id if has_id else None, INVALID_REQUEST,
                             "Invalid Request: method must be a string and id a string or number")
        if not has_id:
            return None  # notification (notifications/initialized, notifications/cancelled, ...)
        params = message.get("params", {})
        if params is None:
            params = {}
        try:
            if not isinstance(params, dict):
                raise RpcError(INVALID_PARAMS, "Invalid params: params must be an object")
            if method == "initialize" and in_batch:
                raise RpcError(INVALID_REQUEST, "Invalid Request: initialize must not be part of a batch")
            result = self.dispatch(method, params)
        except RpcError as err:
            return rpc_error(request_id, err.code, err.message)
        except Exception as err:  # noqa: BLE001 - report, don't crash the connection
            log("internal error in %s: %r" % (method, err))
            return rpc_error(request_id, INTERNAL_ERROR, "Internal error")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def dispatch(self, method: str, params: dict):
        if method == "initialize":
            return self.initialize(params)
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": [self.describe_tool(tool) for tool in TOOLS]}
        if method == "tools/call":
            return self.call_tool(params)
        raise RpcError(METHOD_NOT_FOUND, "Method not found: %s" % method)

    def initialize(self, params: dict):
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise RpcError(INVALID_PARAMS, "Invalid params: protocolVersion must be a string")
        version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
        return {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": SERVER_NAME, "title": "Ontology example server", "version": SERVER_VERSION},
            "instructions": "Read-only access to small engineering-ethics ontologies: list concepts, "
            "describe one concept, search the guidelines.",
        }

    @staticmethod
    def describe_tool(tool: Tool) -> dict:
        return {
            "name": tool.name,
            "title": tool.title,
            "description": tool.description,
            "inputSchema": tool.input_schema,
            "annotations": {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
        }

    def call_tool(self, params: dict):
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "Invalid params: tools/call needs a tool name")
        tool = TOOLS_BY_NAME.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, "Unknown tool: %s" % name)
        args = params.get("arguments")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise RpcError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        if SLOW_S:
            log("EXAMPLE_SLOW_MS: delaying tools/call %s by %d ms" % (name, SLOW_S * 1000))
            time.sleep(SLOW_S)
        # Argument problems are tool execution errors (isError), so a model can correct itself.
        args = dict(args)
        problem = validate_arguments(tool.input_schema, args)  # also normalises integers
        if problem:
            return self.text_result("Invalid arguments for %s: %s" % (name, problem), is_error=True)
        try:
            return self.text_result(tool.handler(self.onto, args))
        except ToolError as err:
            return self.text_result(str(err), is_error=True)

    @staticmethod
    def text_result(text: str, is_error: bool = False) -> dict:
        return {"content": [{"type": "text", "text": text}], "isError": is_error}


# =========================================================================== HTTP


class Drain:
    """Counts requests in progress so SIGTERM can wait for them."""

    def __init__(self):
        self.cond = threading.Condition()
        self.busy = 0
        self.draining = False

    def begin(self):
        with self.cond:
            self.busy += 1

    def end(self):
        with self.cond:
            self.busy -= 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.busy > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


class Sessions:
    """The sessions this process issued, in memory: a new process knows none of them."""

    LIMIT = 10000  # the oldest are forgotten beyond this: clients that never DELETE cannot grow it forever

    def __init__(self):
        self.lock = threading.Lock()
        self.known = OrderedDict()

    def start(self) -> str:
        session_id = uuid.uuid4().hex
        with self.lock:
            self.known[session_id] = time.monotonic()
            while len(self.known) > self.LIMIT:
                self.known.popitem(last=False)
        return session_id

    def touch(self, session_id: str) -> bool:
        with self.lock:
            if session_id not in self.known:
                return False
            self.known[session_id] = time.monotonic()
            self.known.move_to_end(session_id)
            return True

    def end(self, session_id: str) -> bool:
        with self.lock:
            return self.known.pop(session_id, None) is not None


class Server(ThreadingHTTPServer):
    # Daemon handler threads: requests in progress are tracked by Drain and waited for on
    # shutdown; idle keep-alive connections must not hold the process open.
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, handler, app: McpApp, started: float):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.started = started
        self.drain = Drain()
        self.sessions = Sessions()
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        # One line instead of socketserver's traceback, e.g. for a client that reset the connection.
        log("connection from %s:%s failed: %r" % (client_address[0], client_address[1], sys.exc_info()[1]))

    def server_bind(self):
        # Skip HTTPServer's socket.getfqdn(), which can stall on hosts with slow reverse DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK hold every response back by ~40 ms.
    disable_nagle_algorithm = True
    server_version = "%s/%s" % (SERVER_NAME, SERVER_VERSION)
    timeout = IDLE_TIMEOUT_S

    def version_string(self):
        return self.server_version

    # -- bookkeeping: count the request, log one line when its response is written
    def handle_one_request(self):
        self._tracked = False
        self._status = None
        self._rpc = ""
        self._t0 = time.monotonic()
        try:
            super().handle_one_request()
        finally:
            if self._tracked:
                try:
                    # mcp-deploy's health checks say who they are: marked, so its log pane can dim them.
                    agent = (getattr(self, "headers", None) or {}).get("User-Agent", "")
                    probe = " [mcp-deploy-probe]" if agent.startswith("mcp-deploy-probe") else ""
                    log("%s %s %s %.1fms%s%s" % (
                        self.command, self.path, self._status,
                        (time.monotonic() - self._t0) * 1000, " " + self._rpc if self._rpc else "", probe,
                    ))
                finally:
                    self.server.drain.end()  # after the log line, so a draining exit cannot lose it

    def parse_request(self):
        self.server.drain.begin()
        self._tracked = True
        self._t0 = time.monotonic()
        return super().parse_request()

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def log_request(self, code="-", size="-"):
        pass  # replaced by the one line per request in handle_one_request

    def log_error(self, format, *args):
        log("%s: %s" % (self.address_string(), format % args))

    def send_error(self, code, message=None, explain=None):
        self.close_connection = True
        self.send_json(code, {"error": message or self.responses.get(code, ("error",))[0]})

    # -- responses
    def send_json(self, code: int, payload, headers=None):
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.server.drain.draining or self.close_connection:
            self.send_header("Connection", "close")  # also sets close_connection
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    # -- routing
    def do_GET(self):
        self.route()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def route(self):
        path = self.path.split("?", 1)[0]
        reads_body = self.command == "POST" and path == "/mcp"
        if not reads_body and (self.headers.get("Content-Length", "0").strip() not in ("", "0")
                               or self.headers.get("Transfer-Encoding")):
            self.close_connection = True  # the unread body would corrupt the next request
        if path == "/mcp":
            if self.command == "POST":
                self.handle_mcp()
            elif self.command == "DELETE":
                self.end_session()
            else:
                self.send_json(405, rpc_error(None, -32000, "Method not allowed: use POST"), {"Allow": "POST, DELETE"})
            return
        if path in ("/health", "/ontology/status"):
            if self.command not in ("GET", "HEAD"):
                self.send_json(405, {"error": "method not allowed"}, {"Allow": "GET, HEAD"})
            elif path == "/health":
                self.send_json(200, {
                    "status": "ok",
                    "version": SERVER_VERSION,
                    "release": RELEASE_ID,
                    "uptimeSeconds": round(time.monotonic() - self.server.started, 3),
                })
            else:
                onto = self.server.app.onto
                self.send_json(200, {
                    "loaded": True,
                    "files": len(onto.files),
                    "triples": len(onto.triples),
                    "concepts": len(onto.concepts()),
                })
            return
        self.send_json(404, {"error": "not found", "path": path})

    # -- sessions: issued on initialize, checked when a request carries one, ended by DELETE
    def session_header(self):
        value = self.headers.get("Mcp-Session-Id")
        return value.strip() if value is not None else None

    def send_unknown_session(self):
        self.send_json(404, rpc_error(None, -32001, "Session not found: start a new session with initialize"))

    def end_session(self):
        session_id = self.session_header()
        if session_id is None:
            self.send_json(400, rpc_error(None, INVALID_REQUEST, "Bad Request: DELETE needs an Mcp-Session-Id header"))
        elif self.server.sessions.end(session_id):
            self.send_json(204, None)
        else:
            self.send_unknown_session()

    def read_body(self):
        """The request body, or None after an error response was sent."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.send_error(400, "bad chunked encoding")
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    self.send_error(413, "request body too large")
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if length is None:
            self.send_error(411, "Content-Length required")
            return None
        try:
            size = int(length)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return None
        if size < 0 or size > MAX_BODY_BYTES:
            self.send_error(413, "request body too large")
            return None
        return self.rfile.read(size)

    def handle_mcp(self):
        body = self.read_body()
        if body is None:
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            self.send_json(415, rpc_error(None, INVALID_REQUEST,
                                          "Unsupported Media Type: Content-Type must be application/json"))
            return
        header_version = self.headers.get("MCP-Protocol-Version")
        if header_version is not None and header_version.strip() not in SUPPORTED_PROTOCOL_VERSIONS:
            self.send_json(400, rpc_error(None, INVALID_REQUEST, "Bad Request: unsupported MCP-Protocol-Version %r "
                                          "(supported: %s)" % (header_version, ", ".join(SUPPORTED_PROTOCOL_VERSIONS))))
            return
        protocol_version = (header_version or DEFAULT_PROTOCOL_VERSION).strip()
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.send_json(400, rpc_error(None, PARSE_ERROR, "Parse error: body is not valid JSON"))
            return
        app = self.server.app
        session_id = self.session_header()
        if session_id is not None and not self.server.sessions.touch(session_id):
            self.send_unknown_session()
            return
        if isinstance(message, list):
            # JSON-RPC batches exist only in protocol 2025-03-26; 2025-06-18 removed them.
            if protocol_version != "2025-03-26":
                self.send_json(400, rpc_error(None, INVALID_REQUEST,
                                              "Invalid Request: batches are not supported in protocol %s" % protocol_version))
                return
            if not message:
                self.send_json(400, rpc_error(None, INVALID_REQUEST, "Invalid Request: empty batch"))
                return
            self._rpc = "batch(%d)" % len(message)
            replies = [r for r in (app.handle_message(m, in_batch=True) for m in message) if r is not None]
            if replies:
                self.send_json(200, replies)
            else:
                self.send_json(202, None)
            return
        if isinstance(message, dict) and isinstance(message.get("method"), str):
            self._rpc = message["method"]
        if self.wants_event_stream(message):
            self.send_event_stream(message)
            return
        reply = app.handle_message(message)
        if reply is None:
            self.send_json(202, None)  # notification or response: accepted, no body
        else:
            # A malformed message gets 400; a well-formed request gets 200 even for a JSON-RPC error.
            bad = "error" in reply and reply["error"]["code"] in (INVALID_REQUEST, PARSE_ERROR)
            headers = None
            if message.get("method") == "initialize" and "result" in reply and session_id is None:
                headers = {"Mcp-Session-Id": self.server.sessions.start()}
            self.send_json(400 if bad else 200, reply, headers)


    # -- Server-Sent Events: a tools/call that asks for progress, from a client that accepts SSE,
    # is answered as a stream: a progress notification at once, then the result. This is how
    # long-running MCP tools report while they work, and what a proxy must not buffer.
    def wants_event_stream(self, message) -> bool:
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            return False
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        return "text/event-stream" in self.headers.get("Accept", "") and isinstance(meta, dict) and "progressToken" in meta

    def send_event_stream(self, message):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        token = message["params"]["_meta"]["progressToken"]
        self.write_event({"jsonrpc": "2.0", "method": "notifications/progress",
                          "params": {"progressToken": token, "progress": 0, "message": "working"}})
        self.write_event(self.server.app.handle_message(message))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def write_event(self, payload):
        data = ("event: message\ndata: %s\n\n" % json.dumps(payload, ensure_ascii=False)).encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


# =========================================================================== main


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Example MCP server over Streamable HTTP.")
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: $PORT or 5002")
    args = parser.parse_args(argv)
    if args.port is None:
        try:
            args.port = int(os.environ.get("PORT") or 5002)
        except ValueError:
            parser.error("PORT must be a number, got %r" % os.environ.get("PORT"))
    if not 0 <= args.port <= 65535:
        parser.error("port must be between 0 and 65535")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    directory = os.environ.get("ONTOLOGY_DIR") or os.path.join(HERE, "ontologies")
    try:
        onto = Ontology.load_directory(directory)
    except (OSError, ParseError, UnicodeDecodeError) as err:
        log("cannot load ontologies: %s" % err)
        return 2
    try:
        httpd = Server((args.host, args.port), Handler, McpApp(onto), started)
    except OSError as err:
        log("cannot listen on %s:%d: %s" % (args.host, args.port, err))
        return 1

    def on_signal(signum, _frame):
        if httpd.drain.draining:
            return
        httpd.drain.draining = True
        log("received %s: no longer accepting connections, draining requests in progress" % signal.Signals(signum).name)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    host, port = httpd.server_address[0], httpd.server_address[1]
    shown_host = "[%s]" % host if ":" in host else host
    log("listening on http://%s:%d (version %s, %d files, %d triples, %d concepts from %s)" % (
        shown_host, port, SERVER_VERSION, len(onto.files), len(onto.triples), len(onto.concepts()), directory,
    ))
    if not httpd.drain.draining:
        httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()  # closes the listening socket: new connections are refused
    if httpd.drain.wait_idle(DRAIN_TIMEOUT_S):
        log("shutdown complete")
    else:
        log("shutdown: gave up after %.0fs with %d request(s) still in progress" % (DRAIN_TIMEOUT_S, httpd.drain.busy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
