#!/usr/bin/env python3
"""API fuzzing of the five services with schemathesis (run through scripts/fuzz.sh).

For each service: a fresh database (fuzz_<service>_<pid>), the binary from target/debug on a
free port (development runtime; the exchange fuzz.events, queues fuzz.<pid>.* and Redis keys
fuzz:<pid>:* of this run's own, deleted at the end, like the databases), wait for /readyz; its /openapi.json is validated (openapi-spec-validator, unique operationIds, no
`default` responses) and then fuzzed with schemathesis once per principal: every role
(customer, agent, supervisor, admin, service) and, when `devtoken --help` offers `--scopes` /
`--functions`, a service holding every scope the document names and staff with each function
it names. Checks: not_a_server_error and status_code_conformance. Streaming operations and the
kernel's mutating admin routes are left out (printed at the start).

Everything a run leaves is under target/fuzz/: report.md and report.json (the summary and
each distinct finding once, with a curl reproduction), runs/<service>/<principal>.ndjson
(schemathesis' event log) and logs/<service>.log (the service's own log). Exit status 1 when
a document is invalid or a 5xx or an undocumented status was seen, 2 when the run itself could
not be carried out.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["intake", "routing", "refund", "training-scheduling", "notifications"]
ROLES = ["customer", "agent", "supervisor", "admin", "service"]
# Every role name a security requirement may hold; other names without `:` are staff functions.
ROLE_NAMES = {"customer", "agent", "supervisor", "admin", "staff", "service"}

# Streaming operations: their success response is an open stream that a fuzzer would wait on
# until its request timeout. Every operation whose 2xx response is `text/event-stream` is left
# out anyway (found in each document and printed); list "METHOD /path" here for a stream its
# document does not declare as such. None of the five services has one today.
EXCLUDED_STREAMING: list[str] = []
# The kernel's admin routes that change what the rest of the run sees: moving a manual clock,
# putting parked messages back on the bus.
EXCLUDED_ADMIN: list[str] = [
    "POST /v1/admin/clock",
    "POST /v1/admin/parking/{consumer}/replay",
]

# Where `make run` (scripts/run.sh) serves each service: reproductions are written for it.
RUN_PORTS = {"intake": 8081, "routing": 8082, "refund": 8083, "training-scheduling": 8084, "notifications": 8085}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CHECKS = "not_a_server_error,status_code_conformance"
FUZZ_DIR = ROOT / "target" / "fuzz"


def log(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Clean-up on every way out


class Cleanup:
    """Processes to stop and databases to drop, whatever ends the run (Ctrl-C included)."""

    def __init__(self, admin_url: str, keep_databases: bool, run_id: str, bin_dir: Path) -> None:
        self.admin_url = admin_url
        self.run_id = run_id
        self.bin_dir = bin_dir
        self.keep_databases = keep_databases
        self.services: list[subprocess.Popen] = []
        self.children: set[subprocess.Popen] = set()
        self.databases: list[str] = []
        self.lock = threading.Lock()
        self.done = False

    def add_child(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.children.add(proc)

    def remove_child(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.children.discard(proc)

    def run(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
            children = list(self.children)
        for proc in children:
            terminate(proc, 5)
        t0 = time.time()
        for proc in self.services:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 15
        for proc in self.services:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.services:
            log(f"stopped {len(self.services)} service(s) in {time.time() - t0:.0f} s")
            t1 = time.time()
            drop_broker_state(self.run_id, self.bin_dir)
            log(f"  broker clean-up took {time.time() - t1:.0f} s")
        if self.databases and not self.keep_databases:
            t2 = time.time()
            for db in self.databases:
                psql(self.admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', check=False)
            log(f"  ({time.time() - t2:.0f} s) dropped {len(self.databases)} database(s): {' '.join(self.databases)}")
        elif self.databases:
            log(f"kept database(s): {' '.join(self.databases)}")


def terminate(proc: subprocess.Popen, grace: float) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


def psql(url: str, sql: str, check: bool = True) -> str:
    out = subprocess.run(
        ["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
    )
    if check and out.returncode != 0:
        raise RuntimeError(f"psql failed ({sql}): {out.stderr.strip()}")
    return out.stdout


def drop_stale_databases(admin_url: str) -> None:
    """Databases of earlier runs whose process is gone (a run killed with SIGKILL)."""
    names = psql(admin_url, "SELECT datname FROM pg_database WHERE datname LIKE 'fuzz\\_%'", check=False)
    for name in names.split():
        m = re.fullmatch(r"fuzz_[a-z_]+_(\d+)", name)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
            log(f"dropped {name}, left by an earlier run")


# ---------------------------------------------------------------------------------------------
# Services


@dataclass
class Service:
    name: str
    port: int
    database: str
    proc: subprocess.Popen
    log_path: Path
    # One schemathesis run at a time per service: what a run generates depends on what the
    # service answers (values it returns feed later requests), so runs do not interleave.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def amqp_url() -> str:
    return os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def drop_broker_state(run_id: str, bin_dir: Path) -> None:
    """This run's queues and Redis keys, and those of earlier runs whose process is gone."""

    def ours(pid: str) -> bool:
        return pid == run_id or not Path(f"/proc/{pid}").exists()

    if shutil.which("rabbitmqctl"):
        out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True)
        queues = [
            q.strip() for q in out.stdout.splitlines()
            if (m := re.match(r"fuzz\.(\d+)\.", q.strip())) and ours(m.group(1))
        ]
        if queues:
            dropper = bin_dir / "drop-test-queues"
            done = False
            if dropper.is_file():
                res = subprocess.run([str(dropper)], input="\n".join(queues) + "\n", capture_output=True, text=True,
                                     env={**os.environ, "TEST_AMQP_URL": amqp_url()})
                done = res.returncode == 0
            if not done:
                for q in queues:
                    subprocess.run(["rabbitmqctl", "-q", "delete_queue", q], capture_output=True)
            log(f"deleted {len(queues)} RabbitMQ queue(s) fuzz.*")
    else:
        log(f"rabbitmqctl not found: queues fuzz.{run_id}.* are left on the broker")
    if shutil.which("redis-cli"):
        out = subprocess.run(["redis-cli", "-u", redis_url(), "--scan", "--pattern", "fuzz:*"], capture_output=True, text=True)
        keys = [k for k in out.stdout.split() if (m := re.match(r"fuzz:(\d+):", k)) and ours(m.group(1))]
        for i in range(0, len(keys), 500):
            subprocess.run(["redis-cli", "-u", redis_url(), "unlink", *keys[i:i + 500]], capture_output=True)
        if keys:
            log(f"deleted {len(keys)} Redis key(s) fuzz:*")


def service_env(name: str, port: int, db_url: str, run_id: str) -> dict[str, str]:
    prefix = name.upper().replace("-", "_")
    # Nothing from the caller's environment configures the service but what is set here.
    env = {k: v for k, v in os.environ.items() if not k.startswith(f"{prefix}__") and k != "CONFIG_FILE"}

    def put(key: str, value: str) -> None:
        env[f"{prefix}__{key}"] = value

    put("RUNTIME__ENVIRONMENT", "development")
    put("TELEMETRY__LOG_FORMAT", "json")
    put("HTTP__HOST", "127.0.0.1")
    put("HTTP__PORT", str(port))
    put("HTTP__SHUTDOWN_TIMEOUT_SECS", "5")
    put("DATABASE__URL", db_url)
    put("DATABASE__RUN_MIGRATIONS", "true")
    put("REDIS__URL", redis_url())
    put("REDIS__KEY_PREFIX", f"fuzz:{run_id}")
    put("BUS__URL", amqp_url())
    # One exchange for fuzz runs (events flow between the five services as in production),
    # apart from `make run`'s and the tests'; queues of this run's own, deleted at the end.
    # Not ephemeral: an ephemeral queue without a consumer (the parking queues) expires after
    # a minute, and GET /v1/admin/parking would then fail on a queue the run made disappear.
    put("BUS__EXCHANGE", "fuzz.events")
    put("BUS__QUEUE_PREFIX", f"fuzz.{run_id}.{name}")
    put("BUS__EPHEMERAL", "false")
    put("BUS__RETRY_DELAYS_MS", "100")
    put("BUS__CONNECT_TIMEOUT_MS", "20000")
    return env


def die_with_parent() -> None:
    """In the child: SIGTERM when the driver dies, however it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_service(name: str, bin_dir: Path, admin_url: str, run_id: str, cleanup: Cleanup) -> Service:
    database = f"fuzz_{name.replace('-', '_')}_{run_id}"
    psql(admin_url, f'CREATE DATABASE "{database}"')
    cleanup.databases.append(database)
    base = admin_url.rsplit("/", 1)[0]
    port = free_port()
    log_path = FUZZ_DIR / "logs" / f"{name}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [str(bin_dir / name)],
            env=service_env(name, port, f"{base}/{database}", run_id),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            # Its own process group: Ctrl-C reaches the driver, which stops it in order.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    cleanup.services.append(proc)
    return Service(name, port, database, proc, log_path)


def wait_ready(svc: Service, timeout: float, stop: threading.Event) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not stop.is_set():
        if svc.proc.poll() is not None:
            raise RuntimeError(f"{svc.name} exited with status {svc.proc.returncode}\n{tail(svc.log_path)}")
        try:
            with urllib.request.urlopen(f"{svc.url}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    if stop.is_set():
        raise RuntimeError("interrupted")
    raise RuntimeError(f"{svc.name} not ready after {timeout:.0f}s\n{tail(svc.log_path)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------------------------------------
# The OpenAPI document


@dataclass
class Operation:
    method: str  # upper case
    path: str
    operation_id: str | None
    statuses: list[str]  # documented response keys
    streaming: bool
    names: set[str]  # every name in its security requirements

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Document:
    service: str
    spec: dict
    operations: list[Operation]
    problems: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    def find(self, label: str) -> Operation | None:
        return next((op for op in self.operations if op.label == label), None)

    @property
    def scopes(self) -> list[str]:
        return sorted({n for op in self.operations for n in op.names if ":" in n})

    @property
    def functions(self) -> list[str]:
        return sorted({n for op in self.operations for n in op.names if ":" not in n and n not in ROLE_NAMES})


def analyse(service: str, spec: dict) -> Document:
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    problems: list[str] = []
    version = str(spec.get("openapi", ""))
    validator_cls = OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
    if not version.startswith(("3.0", "3.1")):
        problems.append(f"unsupported OpenAPI version {version!r}")
    else:
        for err in validator_cls(spec).iter_errors():
            message = str(getattr(err, "message", err)).strip().splitlines()[0]
            if re.match(r"Operation ID .* is not unique", message):
                continue  # said below, with every operation sharing it
            where = " > ".join(str(p) for p in getattr(err, "absolute_path", None) or getattr(err, "path", None) or [])
            problems.append(f"openapi-spec-validator: {message}" + (f" (at {where})" if where else ""))

    top_security = spec.get("security")
    operations: list[Operation] = []
    ids: dict[str, list[str]] = {}
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if not isinstance(op, dict):
                continue
            label = f"{method.upper()} {path}"
            responses = op.get("responses") or {}
            statuses = sorted(str(s) for s in responses)
            if "default" in responses:
                problems.append(f"{label}: has a `default` response (document each status instead)")
            streaming = False
            for status, resp in responses.items():
                if str(status).startswith("2") and isinstance(resp, dict):
                    resp = resolve(spec, resp)
                    if "text/event-stream" in (resp.get("content") or {}):
                        streaming = True
            names: set[str] = set()
            for req in op.get("security", top_security) or []:
                for scheme_names in (req or {}).values():
                    names.update(scheme_names or [])
            op_id = op.get("operationId")
            if op_id:
                ids.setdefault(op_id, []).append(label)
            operations.append(Operation(method.upper(), path, op_id, statuses, streaming, names))
    for op_id, labels in sorted(ids.items()):
        if len(labels) > 1:
            problems.append(f"operationId {op_id!r} is shared by {', '.join(labels)}")
    return Document(service, spec, operations, problems)


def resolve(spec: dict, obj: dict) -> dict:
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj and seen < 10:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            return obj
        target = spec
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        obj, seen = target, seen + 1
    return obj


# ---------------------------------------------------------------------------------------------
# Principals and their tokens


@dataclass
class Principal:
    label: str  # customer, ..., service+scopes, staff:trainer
    args: list[str]  # devtoken arguments

    def subject(self) -> str:
        # Deterministic, so a finding replays with the same subject.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"edu-support/fuzz/{self.label}"))


def devtoken_options(bin_dir: Path) -> set[str]:
    out = subprocess.run([str(bin_dir / "devtoken"), "--help"], capture_output=True, text=True)
    return set(re.findall(r"--[a-z][a-z-]*", out.stdout + out.stderr))


def principals_for(doc: Document, roles: list[str], options: set[str]) -> list[Principal]:
    found = [Principal(role, ["--role", role]) for role in roles]
    if "--scopes" in options and doc.scopes:
        found.append(Principal("service+scopes", ["--role", "service", "--scopes", ",".join(doc.scopes)]))
    if "--functions" in options:
        for fn in doc.functions:
            found.append(Principal(f"staff:{fn}", ["--role", "staff", "--functions", fn]))
    return found


def token_for(bin_dir: Path, principal: Principal) -> str:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}  # the development key
    out = subprocess.run(
        [str(bin_dir / "devtoken"), *principal.args, "--sub", principal.subject()],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"devtoken {' '.join(principal.args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


# ---------------------------------------------------------------------------------------------
# One schemathesis run and what it found


@dataclass
class Finding:
    service: str
    method: str
    path: str
    status: int
    kind: str  # "server error" or "undocumented status"
    documented: list[str]
    principals: set[str] = field(default_factory=set)
    cases: int = 0
    curl: str = ""
    principal_args: list[str] = field(default_factory=list)
    response: str = ""

    @property
    def key(self) -> tuple:
        return (self.service, self.method, self.path, self.status)


@dataclass
class RunResult:
    service: str
    principal: str
    operations: int = 0
    examples: int = 0
    server_errors: int = 0
    undocumented: int = 0
    errors: list[str] = field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)


def schemathesis_cmd(
    svc: Service, doc: Document, token: str, excluded: list[str], args: argparse.Namespace, ndjson: Path
) -> list[str]:
    cmd = [
        str(ROOT / ".venv" / "bin" / "schemathesis"),
        "run",
        f"{svc.url}/openapi.json",
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--phases",
        args.phases,
        "--mode",
        args.mode,
        "--workers",
        str(args.workers),
        # The bearer header above is the only credential: none is generated.
        "--generation-with-security-parameters",
        "false",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--continue-on-failure",
        "--request-timeout",
        str(args.request_timeout),
        "--warnings",
        "off",
        "--no-color",
        # The report needs the headers as sent (Idempotency-Key included); the token is
        # replaced by $TOKEN when a request is written out.
        "--output-sanitize",
        "false",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(ndjson),
    ]
    if args.no_shrink:
        cmd.append("--no-shrink")
    for label in excluded:
        if doc.find(label) is not None:
            cmd += ["--exclude-name", label]
    return cmd


def decode_body(body) -> str:
    if body is None:
        return ""
    if isinstance(body, dict) and "$base64" in body:
        raw = base64.b64decode(body["$base64"])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if isinstance(body, str):
        return body
    return json.dumps(body)


def printable(text: str) -> bool:
    return all(c.isprintable() for c in text)


def escape(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def sh_quote(text: str) -> str:
    """Shell quoting that keeps control characters visible: $'\\x01' rather than a raw byte."""
    if printable(text):
        return shlex.quote(text)
    out = "".join(
        c if (c.isprintable() and c not in "\\'") else ("\\" + c if c in "\\'" else escape(c))
        for c in text
    )
    return f"$'{out}'"


def curl_of(request: dict, base_url: str, service: str) -> str:
    """A curl command for a recorded request against `make run`'s port, the token left to $TOKEN."""
    method = request.get("method", "GET")
    uri = request.get("uri", "")
    if uri.startswith(base_url):
        uri = f"http://127.0.0.1:{RUN_PORTS.get(service, 8080)}" + uri[len(base_url):]
    parts = ["curl", "-i", "-X", method, shlex.quote(uri)]
    for name, value in (request.get("headers") or {}).items():
        if isinstance(value, list):
            value = value[0] if value else ""
        if name.lower() == "authorization":
            parts += ["-H", '"Authorization: Bearer $TOKEN"']
        elif name.lower() in ("x-schemathesis-testcaseid", "content-length", "user-agent", "accept-encoding", "connection"):
            continue
        else:
            parts += ["-H", sh_quote(f"{name}: {value}")]
    body = decode_body(request.get("body"))
    if body:
        if len(body) > 2000:
            body = body[:2000] + "...(cut)"
        if printable(body):
            parts += ["--data-raw", shlex.quote(body)]
        else:  # control characters, NUL included: printf writes them
            fmt = "".join(
                c if (c.isprintable() and c not in "\\'%") else ("%%" if c == "%" else escape(c))
                for c in body
            )
            parts += ["--data-binary", f"@<(printf '{fmt}')"]
    return " ".join(parts)


def parse_ndjson(path: Path, svc: Service, doc: Document, principal: Principal, result: RunResult) -> None:
    labels: set[str] = set()
    findings: dict[tuple, Finding] = {}
    if not path.exists():
        result.errors.append("schemathesis wrote no event log")
        return
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "NonFatalError" in event:
            e = event["NonFatalError"]
            value = e.get("value") or {}
            result.errors.append(f"{e.get('label', '?')}: {value.get('type', '')}: {str(value.get('message', ''))[:300]}")
            continue
        if "FatalError" in event:
            value = event["FatalError"].get("exception") or event["FatalError"]
            result.errors.append(f"fatal: {json.dumps(value)[:500]}")
            continue
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        interactions = recorder.get("interactions") or {}
        cases = recorder.get("cases") or {}
        scenario_label = recorder.get("label") or finished.get("label") or "?"

        def label_of(case_id: str) -> str:
            # A stateful scenario holds several operations: each case names its own.
            case = (cases.get(case_id) or {}).get("value") or {}
            if case.get("method") and case.get("path"):
                label = f"{case['method'].upper()} {case['path']}"
                if doc.find(label):
                    return label
            return scenario_label

        for case_id, interaction in interactions.items():
            if interaction.get("response") is not None:
                result.examples += 1
                label = label_of(case_id)
                if doc.find(label):
                    labels.add(label)
        for case_id, checks in (recorder.get("checks") or {}).items():
            failed = [c for c in checks if c.get("status") == "FAILURE" or c.get("failure_info")]
            if not failed:
                continue
            interaction = interactions.get(case_id) or {}
            response = interaction.get("response") or {}
            status = response.get("status_code")
            if status is None:
                continue
            names = {c.get("name") for c in failed}
            kind = "server error" if status >= 500 or "not_a_server_error" in names else "undocumented status"
            if kind == "server error":
                result.server_errors += 1
            else:
                result.undocumented += 1
            label = label_of(case_id)
            method, _, op_path = label.partition(" ")
            op = doc.find(label)
            key = (svc.name, method, op_path, status)
            f = findings.get(key)
            if f is None:
                f = Finding(
                    svc.name,
                    method,
                    op_path,
                    status,
                    kind,
                    op.statuses if op else [],
                    principal_args=[*principal.args, "--sub", principal.subject()],
                )
                request = interaction.get("request") or {}
                f.curl = curl_of(request, svc.url, svc.name)
                f.response = decode_body(response.get("content"))[:400]
                findings[key] = f
            f.principals.add(principal.label)
            f.cases += 1
    result.operations = len(labels)
    result.findings = list(findings.values())


def fuzz_one(
    svc: Service,
    doc: Document,
    principal: Principal,
    excluded: list[str],
    args: argparse.Namespace,
    bin_dir: Path,
    cleanup: Cleanup,
    stop: threading.Event,
) -> RunResult:
    with svc.lock:
        return fuzz_locked(svc, doc, principal, excluded, args, bin_dir, cleanup, stop)


def fuzz_locked(
    svc: Service,
    doc: Document,
    principal: Principal,
    excluded: list[str],
    args: argparse.Namespace,
    bin_dir: Path,
    cleanup: Cleanup,
    stop: threading.Event,
) -> RunResult:
    result = RunResult(svc.name, principal.label)
    if stop.is_set():
        result.errors.append("not run (interrupted)")
        return result
    started = time.time()
    try:
        token = token_for(bin_dir, principal)
    except RuntimeError as e:
        result.errors.append(str(e))
        return result
    run_dir = FUZZ_DIR / "runs" / svc.name
    run_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9_+-]", "_", principal.label)
    ndjson = run_dir / f"{safe}.ndjson"
    out_path = run_dir / f"{safe}.out"
    cmd = schemathesis_cmd(svc, doc, token, excluded, args, ndjson)
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=FUZZ_DIR)
        cleanup.add_child(proc)
        try:
            while True:
                try:
                    result.exit_code = proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if stop.is_set():
                        terminate(proc, 5)
                        result.errors.append("interrupted")
                        break
                    if time.time() - started > args.run_timeout:
                        terminate(proc, 5)
                        result.errors.append(f"schemathesis stopped after {args.run_timeout}s (--run-timeout)")
                        break
        finally:
            cleanup.remove_child(proc)
    result.seconds = time.time() - started
    parse_ndjson(ndjson, svc, doc, principal, result)
    # Exit 1 is "failures found"; anything else with nothing parsed is the tool failing.
    if result.exit_code not in (0, 1, None) or (result.exit_code is not None and result.operations == 0):
        result.errors.append(f"schemathesis exited with {result.exit_code}; see {out_path.relative_to(ROOT)}:\n{tail(out_path, 15)}")
    if svc.proc.poll() is not None:
        result.errors.append(f"{svc.name} exited with status {svc.proc.returncode} during the run")
    return result


# ---------------------------------------------------------------------------------------------
# Reports


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


def merge_findings(results: list[RunResult]) -> list[Finding]:
    merged: dict[tuple, Finding] = {}
    for r in results:
        for f in r.findings:
            m = merged.get(f.key)
            if m is None:
                merged[f.key] = Finding(**{**f.__dict__, "principals": set(f.principals)})
            else:
                m.principals |= f.principals
                m.cases += f.cases
    order = {s: i for i, s in enumerate(SERVICES)}
    return sorted(merged.values(), key=lambda f: (order.get(f.service, 99), f.path, f.method, f.status))


def write_reports(
    results: list[RunResult],
    docs: dict[str, Document],
    findings: list[Finding],
    settings: dict,
    elapsed: float,
) -> None:
    header = ["service", "principal", "operations", "examples", "server errors", "undocumented", "errors", "seconds"]
    rows = [
        [r.service, r.principal, r.operations, r.examples, r.server_errors, r.undocumented, len(r.errors), f"{r.seconds:.0f}"]
        for r in results
    ]
    md: list[str] = ["# API fuzzing report", ""]
    md += [f"- {k}: `{v}`" for k, v in settings.items()]
    md += [f"- total time: {elapsed:.0f} s", ""]
    md += ["## Summary", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    md += [""]
    doc_problems = [(s, p) for s, d in docs.items() for p in d.problems]
    md += ["## OpenAPI document problems", ""]
    md += [f"- **{s}**: {p}" for s, p in doc_problems] or ["none"]
    md += ["", "## Operations left out", ""]
    md += [f"- **{s}**: {', '.join(d.excluded)}" for s, d in docs.items() if d.excluded] or ["none"]
    md += ["", f"## Distinct findings ({len(findings)})", ""]
    if findings:
        md += ["Each (service, method, path, status) once, with the first request that showed it, written for",
               "`make run`'s ports. Ids in a path may name records the run created in its own database: use one",
               "of yours. The service logs of the run (the cause of a 5xx) are in target/fuzz/logs/.", ""]
    if not findings:
        md += ["none"]
    current = None
    for f in findings:
        if f.service != current:
            current = f.service
            md += [f"### {current}", ""]
        md += [
            f"- **{f.method} {f.path}** returned **{f.status}** ({f.kind}); documented: {', '.join(f.documented) or 'nothing'}; "
            f"seen as {', '.join(sorted(f.principals))} in {f.cases} case(s)",
            "",
            "  ```sh",
            f"  TOKEN=$(target/debug/devtoken {' '.join(f.principal_args)})  # against `make run`",
            f"  {f.curl}",
            "  ```",
        ]
        if f.response:
            excerpt = f.response.replace("`", "'")[:300]
            md += [f"  response: `{excerpt}`"]
        md += [""]
    errs = [(r.service, r.principal, e) for r in results for e in r.errors]
    md += ["## Errors of the runs themselves", ""]
    md += [f"- {s} / {p}: {e}" for s, p, e in errs] or ["none"]
    (FUZZ_DIR / "report.md").write_text("\n".join(md) + "\n")
    data = {
        "settings": settings,
        "elapsed_secs": round(elapsed, 1),
        "runs": [
            {k: v for k, v in r.__dict__.items() if k != "findings"} for r in results
        ],
        "document_problems": [{"service": s, "problem": p} for s, p in doc_problems],
        "findings": [{**f.__dict__, "principals": sorted(f.principals)} for f in findings],
    }
    (FUZZ_DIR / "report.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


# ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--services", default=",".join(SERVICES), help="comma-separated (default: all five)")
    p.add_argument("--roles", default=",".join(ROLES), help="comma-separated (default: %(default)s)")
    p.add_argument("--no-extra-principals", action="store_true", help="only --roles: no service+scopes, no staff functions")
    p.add_argument("--max-examples", type=int, default=30, help="fuzzing examples per operation (default %(default)s)")
    p.add_argument("--seed", type=int, default=20240601, help="schemathesis' seed (default %(default)s)")
    p.add_argument("--phases", default="examples,coverage,fuzzing,stateful", help="schemathesis phases (default %(default)s)")
    p.add_argument("--mode", default="all", choices=["all", "positive", "negative"], help="data generation mode (default %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="schemathesis workers per run (default %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="schemathesis runs at once (default %(default)s)")
    p.add_argument("--no-shrink", action=argparse.BooleanOptionalAction, default=True, help="skip shrinking (default: on)")
    p.add_argument("--request-timeout", type=float, default=15.0, help="seconds per request (default %(default)s)")
    p.add_argument("--run-timeout", type=float, default=600.0, help="seconds per schemathesis run (default %(default)s)")
    p.add_argument("--ready-timeout", type=float, default=180.0, help="seconds for a service to be ready (default %(default)s)")
    p.add_argument("--bin-dir", default=os.environ.get("BIN_DIR", "target/debug"), help="where the binaries are (default %(default)s)")
    p.add_argument("--keep-databases", action="store_true", help="do not drop the fuzz_* databases at the end")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    started = time.time()
    services = [s for s in args.services.split(",") if s]
    roles = [r for r in args.roles.split(",") if r]
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        log(f"unknown service(s): {', '.join(unknown)} (one of {', '.join(SERVICES)})")
        return 2
    bin_dir = (ROOT / args.bin_dir).resolve()
    missing = [b for b in services + ["devtoken"] if not (bin_dir / b).is_file()]
    if missing:
        log(f"missing binaries in {bin_dir}: {' '.join(missing)} (run `cargo build --workspace --bins`)")
        return 2
    if shutil.which("psql") is None:
        log("psql is missing (scripts/deps.sh installs it)")
        return 2
    admin_url = os.environ.get("PGURL_ADMIN", "postgres://postgres:postgres@127.0.0.1:5432/postgres")
    run_id = str(os.getpid())
    if FUZZ_DIR.exists():
        shutil.rmtree(FUZZ_DIR / "runs", ignore_errors=True)
    (FUZZ_DIR / "logs").mkdir(parents=True, exist_ok=True)

    import schemathesis  # noqa: F401 (the version for the report)
    from importlib.metadata import version

    st_version = version("schemathesis")
    options = devtoken_options(bin_dir)
    extra = not args.no_extra_principals
    settings = {
        "schemathesis": st_version,
        "openapi-spec-validator": version("openapi-spec-validator"),
        "checks": CHECKS,
        "max examples": args.max_examples,
        "seed": args.seed,
        "phases": args.phases,
        "mode": args.mode,
        "shrinking": "off" if args.no_shrink else "on",
        "workers x jobs": f"{args.workers} x {args.jobs}",
        "devtoken --scopes": "yes" if "--scopes" in options else "no",
        "devtoken --functions": "yes" if "--functions" in options else "no",
    }
    log(f"schemathesis {st_version}: checks {CHECKS}; {args.max_examples} examples per operation; seed {args.seed}; "
        f"phases {args.phases}; mode {args.mode}")
    log(f"excluded (streaming): {', '.join(EXCLUDED_STREAMING) or 'none listed'}; "
        "also every operation whose success response is text/event-stream (per service below)")
    log(f"excluded (admin, mutating): {', '.join(EXCLUDED_ADMIN)}")
    if extra:
        log(f"devtoken --scopes: {'yes: also fuzzing as a service holding every scope' if '--scopes' in options else 'not supported: skipped'}; "
            f"--functions: {'yes: also fuzzing as staff with each function' if '--functions' in options else 'not supported: skipped'}")

    cleanup = Cleanup(admin_url, args.keep_databases, run_id, bin_dir)
    stop = threading.Event()

    def on_signal(signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: leave at once (clean-up still runs)
        stop.set()
        log(f"\n{signal.Signals(signum).name}: stopping the runs, the services, dropping the databases...")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        return run(args, services, roles, bin_dir, admin_url, run_id, options if extra else set(), settings, cleanup, stop, started)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        cleanup.run()
        log(f"total time {time.time() - started:.0f} s")


def run(args, services, roles, bin_dir, admin_url, run_id, options, settings, cleanup, stop, started) -> int:
    try:
        psql(admin_url, "SELECT 1")
    except RuntimeError as e:
        log(f"cannot reach PostgreSQL as {admin_url} (set PGURL_ADMIN): {e}")
        return 2
    drop_stale_databases(admin_url)

    # Start all five at once: migrations run side by side.
    started_svcs: dict[str, Service] = {}
    for name in services:
        started_svcs[name] = start_service(name, bin_dir, admin_url, run_id, cleanup)
    for name, svc in started_svcs.items():
        if stop.is_set():
            return 130
        try:
            wait_ready(svc, args.ready_timeout, stop)
        except RuntimeError as e:
            log(f"{name}: {e}")
            return 2
        log(f"{name:<20} ready on {svc.url} (database {svc.database}, log {svc.log_path.relative_to(ROOT)}) "
            f"after {time.time() - started:.0f} s")

    docs: dict[str, Document] = {}
    jobs: list[tuple[Service, Document, Principal, list[str]]] = []
    for name, svc in started_svcs.items():
        spec = get_json(f"{svc.url}/openapi.json")
        (FUZZ_DIR / "openapi").mkdir(parents=True, exist_ok=True)
        (FUZZ_DIR / "openapi" / f"{name}.json").write_text(json.dumps(spec, indent=2) + "\n")
        doc = analyse(name, spec)
        docs[name] = doc
        streaming = sorted({op.label for op in doc.operations if op.streaming} | {l for l in EXCLUDED_STREAMING if doc.find(l)})
        excluded = streaming + [l for l in EXCLUDED_ADMIN if doc.find(l)]
        doc.excluded = excluded
        principals = principals_for(doc, roles, options)
        log(f"{name}: {len(doc.operations)} operations, {len(doc.operations) - len(excluded)} fuzzed; "
            f"document {'OK' if not doc.problems else f'has {len(doc.problems)} problem(s)'}; "
            f"principals: {', '.join(p.label for p in principals)}")
        if streaming:
            log(f"  excluded here (streaming): {', '.join(streaming)}")
        for problem in doc.problems:
            log(f"  document problem: {problem}")
        jobs += [(svc, doc, p, excluded) for p in principals]

    log(f"\n{len(jobs)} schemathesis runs, {args.jobs} at a time (one per service at a time)")
    # Round robin over the services, so the runs going at once are against different services.
    by_service: dict[str, list] = {}
    for job in jobs:
        by_service.setdefault(job[0].name, []).append(job)
    queue = []
    while any(by_service.values()):
        for name in list(by_service):
            if by_service[name]:
                queue.append(by_service[name].pop(0))
    results: list[RunResult] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {
            pool.submit(fuzz_one, svc, doc, p, excl, args, bin_dir, cleanup, stop): (svc.name, p.label)
            for svc, doc, p, excl in queue
        }
        for fut in concurrent.futures.as_completed(futures):
            r = fut.result()
            results.append(r)
            verdict = "ok" if not (r.server_errors or r.undocumented or r.errors) else (
                f"{r.server_errors} server error(s), {r.undocumented} undocumented status(es)"
                + (f", {len(r.errors)} error(s)" if r.errors else "")
            )
            log(f"[{len(results):>2}/{len(jobs)}] {r.service:<20} {r.principal:<22} {r.operations:>3} ops "
                f"{r.examples:>5} examples {r.seconds:>5.0f} s  {verdict}")
    order = {(s.name, p.label): i for i, (s, _, p, _) in enumerate(jobs)}
    results.sort(key=lambda r: order.get((r.service, r.principal), 0))
    findings = merge_findings(results)
    elapsed = time.time() - started
    write_reports(results, docs, findings, settings, elapsed)

    log("\nSummary (examples = requests answered; errors = runs or operations schemathesis could not complete)")
    header = ["service", "principal", "operations", "examples", "server errors", "undocumented", "errors"]
    for line in table(
        [[r.service, r.principal, r.operations, r.examples, r.server_errors, r.undocumented, len(r.errors)] for r in results],
        header,
    ):
        log(line)

    problems = [(s, p) for s, d in docs.items() for p in d.problems]
    if problems:
        log(f"\nOpenAPI document problems ({len(problems)}):")
        for s, p in problems:
            log(f"  {s}: {p}")
    run_errors = [(r.service, r.principal, e) for r in results for e in r.errors]
    if run_errors:
        log(f"\nErrors of the runs ({len(run_errors)}; details in target/fuzz/report.md):")
        for s, p, e in run_errors[:40]:
            log(f"  {s} / {p}: {e.splitlines()[0][:200]}")
    if findings:
        log(f"\nDistinct findings ({len(findings)}):")
        for f in findings:
            log(f"  {f.service:<20} {f.method:<6} {f.path}  -> {f.status} ({f.kind}); documented: "
                f"{', '.join(f.documented) or 'nothing'}; as {', '.join(sorted(f.principals))}")
            log(f"      {f.curl[:300]}")
    log(f"\nreport: {(FUZZ_DIR / 'report.md').relative_to(ROOT)} (and report.json); run time {elapsed:.0f} s")
    if stop.is_set():
        return 130
    if findings or problems:
        log("FAILED: " + (f"{len(findings)} distinct finding(s)" if findings else "")
            + (", " if findings and problems else "") + (f"{len(problems)} document problem(s)" if problems else ""))
        return 1
    if any(r.errors for r in results):
        log("FAILED: some runs did not complete (see above)")
        return 2
    log("OK: no server error, every status documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
