#!/usr/bin/env python3
"""Cold start of the Lambda binaries: time from process spawn to the first
`GET /2018-06-01/runtime/invocation/next` on a minimal local Lambda Runtime
API, i.e. everything a function does before it can take its first event
(runtime start, tracing set-up, AWS SDK configuration, clients, caches).

    infra/bench/coldstart.py [--runs N] [--binary-dir DIR | --sam-build-dir DIR]
                             [--wrapper "qemu-aarch64 -L /usr/aarch64-linux-gnu"] [NAME ...]

NAME defaults to ingest transfer rescan; binaries are looked up in
DIR (default target/release), or as SAM lays them out
(DIR/IngestFunction/bootstrap, ...). `--wrapper` runs each binary under
another program: an arm64 build under qemu-user proves it starts and
reaches the Runtime API (its times are emulation times, not Lambda's).
Prints one `key=value` line per function (bench.sh reads them) and exits
non-zero if a binary reported an init error or never polled.

The Runtime API here answers nothing but the first poll: it records the
time and holds the request until the process is killed, so no event is ever
handled and no AWS endpoint is contacted (AWS_ENDPOINT_URL points at a
closed port on purpose: a function that talks to AWS during init would show
up as slow or failing). Measured on a warm page cache (the binary was read
before); a real Lambda adds its own sandbox and download time on top.
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

NEXT_PATH = "/2018-06-01/runtime/invocation/next"
INIT_ERROR_PATH = "/2018-06-01/runtime/init/error"


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.first_poll = threading.Event()
        self.release = threading.Event()
        self.poll_at = None
        self.init_error = None

    def arm(self):
        self.first_poll.clear()
        self.release.clear()
        self.poll_at = None
        self.init_error = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server = self.server
        if self.path == NEXT_PATH:
            if server.poll_at is None:
                server.poll_at = time.monotonic()
            server.first_poll.set()
            # Hold the long poll until the run is over; then drop it.
            server.release.wait(10)
            self.close_connection = True
            return
        self.send_error(404)

    def do_POST(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == INIT_ERROR_PATH:
            server.init_error = body.decode("utf-8", "replace")[:300]
            server.first_poll.set()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def function_env(port, name):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "SHOPS_TABLE": "econ-bridge-shops",
        "ORDERS_TABLE": "econ-bridge-orders",
        "QUEUE_URL": "http://127.0.0.1:9/000000000000/econ-bridge-transfer",
        "DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/000000000000/econ-bridge-transfer-dlq",
        "ECONOMIC_BASE_URL": "http://127.0.0.1:9",
        "RUST_LOG": "info",
    }
    return env


def percentile(sorted_values, p):
    # Nearest rank.
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def measure(server, binary, name, runs, wrapper=(), wait_seconds=5):
    port = server.server_address[1]
    env = function_env(port, name)
    times = []
    for _ in range(runs):
        server.arm()
        started = time.monotonic()
        child = subprocess.Popen(
            [*wrapper, binary], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        polled = server.first_poll.wait(wait_seconds)
        try:
            if not polled:
                raise RuntimeError(f"{name}: no poll within {wait_seconds} s")
            if server.init_error is not None:
                raise RuntimeError(f"{name}: init error: {server.init_error}")
            times.append((server.poll_at - started) * 1000.0)
        finally:
            child.kill()
            child.wait()
            server.release.set()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--binary-dir", default="target/release")
    parser.add_argument("--sam-build-dir", help="a `sam build` output directory")
    parser.add_argument("--wrapper", default="", help="command line to run each binary under")
    parser.add_argument("names", nargs="*", default=["ingest", "transfer", "rescan"])
    args = parser.parse_args()
    wrapper = args.wrapper.split()
    # Emulated start-up is slower; the bound is only there to end a hang.
    wait_seconds = 60 if wrapper else 5

    server = RuntimeApi()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    failed = False
    for name in args.names:
        if args.sam_build_dir:
            binary = os.path.join(args.sam_build_dir, f"{name.capitalize()}Function", "bootstrap")
        else:
            binary = os.path.join(args.binary_dir, name)
        if not os.path.isfile(binary):
            print(f"coldstart {name}: missing binary {binary}", file=sys.stderr)
            failed = True
            continue
        size = os.path.getsize(binary)
        try:
            times = sorted(measure(server, binary, name, args.runs, wrapper, wait_seconds))
        except RuntimeError as error:
            print(f"coldstart {error}", file=sys.stderr)
            failed = True
            continue
        print(
            f"coldstart {name}: runs={len(times)} size_bytes={size} "
            f"size_mb={size / 1_000_000:.2f} "
            f"median_ms={statistics.median(times):.1f} "
            f"p95_ms={percentile(times, 95):.1f} "
            f"min_ms={times[0]:.1f} max_ms={times[-1]:.1f}"
        )
    server.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
