"""``python -m rivya_sim``: run the simulator until SIGINT or SIGTERM.

Every option falls back to an environment variable (``RIVYA_SIM_HOST``, ``RIVYA_SIM_PORT``,
``RIVYA_SIM_API_KEY``, ``RIVYA_SIM_DELAY``, ``RIVYA_SIM_CREDITS``, ``RIVYA_SIM_WEBHOOK_URL``,
``RIVYA_SIM_WEBHOOK_SECRET``, ``RIVYA_SIM_CREATE_STATUS``, ``RIVYA_SIM_PUBLIC_URL``), then to a
default. Prints one line, ``Rivya simulator on http://host:port``, once it is serving.

Pass the key and the webhook secret through the environment, not ``--api-key`` or
``--webhook-secret``: a command line is visible to every user in ``ps`` (``manage.py runstack``
does so; the flags stay for tests and one-off runs).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from rivya_sim.simulator import Simulator


def _env(name: str, default: str | None) -> str | None:
    return os.environ.get(f"RIVYA_SIM_{name}", default)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rivya_sim", description=__doc__)
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=_env("PORT", "8765"))
    parser.add_argument("--api-key", default=_env("API_KEY", "rvya_sk_local"))
    parser.add_argument("--delay", type=float, default=_env("DELAY", "4"))
    parser.add_argument("--credits", type=int, default=_env("CREDITS", "100000"))
    parser.add_argument("--webhook-url", default=_env("WEBHOOK_URL", None))
    parser.add_argument("--webhook-secret", default=_env("WEBHOOK_SECRET", None))
    parser.add_argument(
        "--create-status", type=int, choices=(200, 201, 202), default=_env("CREATE_STATUS", "200")
    )
    parser.add_argument("--public-url", default=_env("PUBLIC_URL", None))
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    simulator = Simulator(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        delay=args.delay,
        initial_credits=args.credits,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        create_status=args.create_status,
        public_url=args.public_url,
        log_requests=args.verbose,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with simulator.start():
        print(f"Rivya simulator on {simulator.base_url}", flush=True)
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
