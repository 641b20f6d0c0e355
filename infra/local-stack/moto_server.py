"""moto server as the bridge's tests and local stack run it.

Two differences from plain `moto_server`:

* DynamoDB requests are handled one at a time. Real DynamoDB applies a
  conditional write atomically; moto's threaded server evaluates the
  condition and writes without a lock, so two concurrent conditional writes
  could both succeed and hide (or fake) a race in the bridge. SQS requests
  stay concurrent (long polls must not block everything else).
* It exits when its standard input closes, so a server never outlives the
  process that started it, even if that process is killed.

Usage: python moto_server.py PORT
"""

import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class SerialiseDynamoDB:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                # Produce the whole answer inside the lock.
                return [b"".join(self.app(environ, start_response))]
        return self.app(environ, start_response)


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


def main():
    port = int(sys.argv[1])
    os.environ.setdefault("MOTO_PORT", str(port))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        SerialiseDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
