#!/usr/bin/env python3
"""localaws: moto 5.2.5 in-process, with Route 53 / ECS / EC2 / Cloud Map
fidelity patches, fault injection, call counters and a JSON control API under
``/_localaws/``.

    .venv/bin/python tests/localaws/server.py --port 0 [--route53-rate 5 [--route53-burst 5]]

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
# moto would serve every request as this one account; the account must come
# from the request's credentials (see README.md, "Regions and accounts").
os.environ.pop("MOTO_ACCOUNT_ID", None)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ratelimit  # noqa: E402  (no moto: flags are checked before moto loads)

RATE_ENV = "LOCALAWS_ROUTE53_RATE"
BURST_ENV = "LOCALAWS_ROUTE53_BURST"


def build_app(route53_rate_limit: dict | None = None):
    """moto behind the localaws middleware (a ``control.LocalAws``)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    import control
    import ec2_patches
    import ecs_patches
    import r53_patches
    import r53_vpcs
    import sd_patches

    r53_patches.install()
    r53_vpcs.install()
    ec2_patches.install()
    ecs_patches.install()
    sd_patches.install()
    return control.LocalAws(DomainDispatcherApplication(create_backend_app), route53_rate_limit)


def route53_rate_limit(rate: str | None, burst: str | None) -> dict | None:
    """The start-up Route 53 rate limit from the flags (or, where a flag is
    absent, the environment): None when off. Raises ValueError."""
    if rate is None or rate.strip().lower() in ("", "off"):
        if burst is not None and burst.strip():
            raise ValueError(f"--route53-burst / {BURST_ENV} needs --route53-rate / {RATE_ENV}")
        return None
    try:
        spec: dict = {"rate": float(rate)}
    except ValueError:
        raise ValueError(f"--route53-rate / {RATE_ENV}: {rate!r} is not a number") from None
    if spec["rate"].is_integer():
        spec["rate"] = int(spec["rate"])
    if burst is not None and burst.strip():
        try:
            spec["burst"] = int(burst)
        except ValueError:
            raise ValueError(f"--route53-burst / {BURST_ENV}: {burst!r} is not a whole number") from None
    return ratelimit.route53_limit(spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes: a parent holding the pipe takes the server down with it, even if it is killed",
    )
    parser.add_argument(
        "--route53-rate",
        metavar="RATE",
        default=os.environ.get(RATE_ENV),
        help=f"switch the Route 53 request rate limit on: RATE requests a second, account-wide "
        f"(Route 53's documented per-account limit: 5); 'off' or absent = off (default: ${RATE_ENV}, else off)",
    )
    parser.add_argument(
        "--route53-burst",
        metavar="N",
        default=os.environ.get(BURST_ENV),
        help=f"bucket size of that limit (default: ${BURST_ENV}, else RATE rounded up)",
    )
    args = parser.parse_args(argv)
    try:
        limit = route53_rate_limit(args.route53_rate, args.route53_burst)
    except ValueError as exc:
        parser.error(str(exc))

    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.ERROR)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    app = build_app(limit)
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
