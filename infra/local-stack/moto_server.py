"""moto server as the bridge's tests and local stack run it.

Three differences from plain `moto_server`:

* DynamoDB requests are handled one at a time. Real DynamoDB applies a
  conditional write atomically; moto's threaded server evaluates the
  condition and writes without a lock, so two concurrent conditional writes
  could both succeed and hide (or fake) a race in the bridge. SQS requests
  stay concurrent (long polls must not block everything else).
* With `MOTO_REQUEST_STATS=<file>` in its environment it counts requests
  per operation (an UpdateItem by the start of its expression, a GetItem
  by its table) and the
  time moto spent on them (for DynamoDB, inside the lock), and rewrites
  that table into the file every 2 s (`{port}` in the name is replaced by
  the server's port): how a load test's requests add up.
* It exits when its standard input closes, so a server never outlives the
  process that started it, even if that process is killed.
* Costs that change no answer are taken out. moto 5 reads a queue's
  retention period for every message it returns through the queue's full
  attribute set, which counts every message in the queue three times
  (receiving 2,000 messages into flight took minutes of CPU, and the local
  fair queue's fetcher holds a whole backlog in flight): read directly
  here. Its SQS clock (every message's visibility, on every pass over the
  queue) builds two datetimes per reading: read as `time.time()`, the
  same epoch. The access log, which goes nowhere (the launcher discards
  it), is not formatted. Every request's dispatch lists moto's package
  directory (a `listdir` and an `isdir` per service, ~3 % of moto's time
  under load): listed once.

Usage: python moto_server.py PORT
"""

import io
import json
import os
import sys
import threading
import time

from werkzeug.serving import run_simple
from moto.core.utils import unix_time
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
import moto.backends as moto_backends
import moto.sqs.models as sqs_models
from moto.sqs.models import SQSBackend


class RequestStats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.counts = {}
        threading.Thread(target=self.write_every_2s, daemon=True).start()

    @staticmethod
    def operation(environ):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            return environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")
        operation = target.rsplit(".", 1)[-1]
        if operation in ("UpdateItem", "GetItem"):
            # Peek at the body for the expression or the table, then hand
            # it on intact.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            try:
                request = json.loads(body)
                if operation == "UpdateItem":
                    operation += " " + request.get("UpdateExpression", "")[:48]
                else:
                    operation += " " + request.get("TableName", "")
            except ValueError:
                pass
        return operation

    def add(self, operation, seconds):
        with self.lock:
            count = self.counts.setdefault(operation, [0, 0.0])
            count[0] += 1
            count[1] += seconds

    def write_every_2s(self):
        while True:
            time.sleep(2)
            with self.lock:
                rows = sorted(self.counts.items(), key=lambda kv: -kv[1][1])
            with open(self.path, "w") as out:
                out.write("requests  seconds  ms/request  operation\n")
                for operation, (count, seconds) in rows:
                    out.write(
                        "%8d %8.2f %11.2f  %s\n"
                        % (count, seconds, 1000 * seconds / count, operation)
                    )


class SerialiseDynamoDB:
    def __init__(self, app, stats=None):
        self.app = app
        self.lock = threading.Lock()
        self.stats = stats

    def __call__(self, environ, start_response):
        operation = self.stats.operation(environ) if self.stats else None
        dynamodb = environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_")
        if dynamodb:
            self.lock.acquire()
        started = time.perf_counter()
        try:
            if dynamodb:
                # Produce the whole answer inside the lock.
                return [b"".join(self.app(environ, start_response))]
            return self.app(environ, start_response)
        finally:
            if dynamodb:
                self.lock.release()
            if operation is not None:
                self.stats.add(operation, time.perf_counter() - started)


def retained(self, queue_name, message):
    """moto's own test, with the retention period read directly."""
    period = int(self.get_queue(queue_name).message_retention_period)
    return period + message.sent_timestamp / 1000 > time.time()


def epoch_seconds(dt=None):
    return time.time() if dt is None else unix_time(dt)


def epoch_millis(dt=None):
    return epoch_seconds(dt) * 1000.0


_MOTO_MODULES = tuple(moto_backends.list_of_moto_modules())


def listed_moto_modules():
    return _MOTO_MODULES


moto_backends.list_of_moto_modules = listed_moto_modules
SQSBackend.is_message_valid_based_on_retention_period = retained
sqs_models.unix_time = epoch_seconds
sqs_models.unix_time_millis = epoch_millis


class QuietRequestHandler(MotoRequestHandler):
    def log_request(self, code="-", size="-"):
        pass


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


def main():
    port = int(sys.argv[1])
    os.environ.setdefault("MOTO_PORT", str(port))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    stats_path = os.environ.get("MOTO_REQUEST_STATS")
    # `{port}` in the name: one file per server when there are several.
    stats = RequestStats(stats_path.replace("{port}", str(port))) if stats_path else None
    run_simple(
        "127.0.0.1",
        port,
        SerialiseDynamoDB(app, stats),
        threaded=True,
        request_handler=QuietRequestHandler,
    )


if __name__ == "__main__":
    main()
