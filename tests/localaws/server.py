#!/usr/bin/env python3
"""localaws: moto 5.2.5 in-process, with Route 53 / ECS fidelity patches, fault
injection, call counters and a JSON control API under ``/_localaws/``.

    .venv/bin/python tests/localaws/server.py --port 0

Prints ``localaws listening on http://127.0.0.1:PORT`` once ready and serves
until SIGTERM/SIGINT (exit status 0).  See README.md in this directory.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

# Keep moto/botocore from ever looking for real credentials or endpoints.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "localaws")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "localaws")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

import control  # noqa: E402
import ec2_patches  # noqa: E402
import ecs_patches  # noqa: E402
import r53_patches  # noqa: E402


def build_app() -> control.LocalAws:
    r53_patches.install()
    ec2_patches.install()
    ecs_patches.install()
    return control.LocalAws(DomainDispatcherApplication(create_backend_app))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes: a parent holding the pipe takes the server down with it, even if it is killed",
    )
    args = parser.parse_args(argv)

    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.ERROR)

    app = build_app()
    # Loopback only, threaded (requests are serialised by control.STATE_LOCK).
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    server.daemon_threads = True

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.exit_with_stdin:

        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    thread = threading.Thread(target=server.serve_forever, name="localaws", daemon=True)
    thread.start()
    print(f"localaws listening on http://127.0.0.1:{server.server_port}", flush=True)

    while not stop.wait(0.5):
        if not thread.is_alive():  # serve_forever died: report failure
            return 1
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
