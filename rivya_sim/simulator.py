"""``Simulator``: the server, the task ticker and the webhook workers, started and stopped together.

Assumptions where the brief is silent:

- ``base_url`` uses the host given, except that a wildcard host (``0.0.0.0``, ``::``) is shown as
  the loopback address; ``public_url`` replaces it entirely (for result URLs reached through
  another name, e.g. from a container).
- ``stop()`` cuts open client connections (including slow result downloads and simulated
  timeouts), waits up to 2 s for their threads, and drops webhook deliveries still queued.
- A stopped simulator can be started again; it keeps its record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from rivya_sim.control import CREATE_STATUSES
from rivya_sim.engine import Engine
from rivya_sim.faults import Faults
from rivya_sim.server import SimServer
from rivya_sim.state import State

TICK_SECONDS = 0.02
logger = logging.getLogger("rivya_sim")


class Simulator:
    """A local Rivya Public API v1 on a loopback port.

    >>> with Simulator(delay=0.2).start() as sim:  # doctest: +SKIP
    ...     httpx.get(f"{sim.base_url}/api/v1/models")
    """

    def __init__(
        self,
        api_key: str = "rvya_sk_test",
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 4.0,
        initial_credits: int = 100_000,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        create_status: int = 200,
        *,
        public_url: str | None = None,
        log_requests: bool = False,
    ) -> None:
        if create_status not in CREATE_STATUSES:
            raise ValueError("create_status must be 200, 201 or 202")
        self._engine = Engine(api_key, delay, initial_credits, create_status)
        self._engine.set_webhook(webhook_url, webhook_secret)
        self._address = (host, port)
        self._public_url = public_url.rstrip("/") if public_url else None
        self._log_requests = log_requests
        self._server: SimServer | None = None
        self._threads: list[threading.Thread] = []

    # What tests use ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running simulator."""
        if not self._engine.base_url:
            raise RuntimeError("the simulator has not been started")
        return self._engine.base_url

    @property
    def faults(self) -> Faults:
        return self._engine.faults

    @property
    def state(self) -> State:
        return self._engine.state

    @property
    def api_key(self) -> str:
        return self._engine.api_key

    @property
    def delay(self) -> float:
        return self._engine.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._engine.delay = seconds

    @property
    def create_status(self) -> int:
        return self._engine.create_status

    @create_status.setter
    def create_status(self, status: int) -> None:
        if status not in CREATE_STATUSES:
            raise ValueError("create_status must be 200, 201 or 202")
        self._engine.create_status = status

    def set_webhook(self, url: str | None, secret: str | None) -> None:
        """Send webhooks to ``url`` signed with ``secret``; ``None`` turns them off."""
        self._engine.set_webhook(url, secret)

    def finish_task(self, task_id: str, status: str = "succeeded") -> dict[str, Any]:
        """End an unfinished task now; returns its task object."""
        return self._engine.finish_task(task_id, status)

    def reset(self) -> None:
        """Forget tasks and counters, restore the initial balance, switch faults off."""
        self._engine.reset()

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until no webhook delivery is queued or in flight; False on timeout."""
        return self._engine.webhooks.wait_idle(timeout)

    # Starting and stopping --------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve in daemon threads; returns self."""
        if self._server is not None:
            return self
        self._engine.stop_event.clear()
        server = SimServer(self._address, self._engine, self._log_requests)
        self._server = server
        self._engine.base_url = self._public_url or _url_for(server.server_address)
        self._engine.webhooks.start()
        self._threads = [
            _thread("rivya-sim-server", lambda: server.serve_forever(poll_interval=0.02)),
            _thread("rivya-sim-ticker", self._tick_forever),
        ]
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and join the threads."""
        server, self._server = self._server, None
        if server is None:
            return
        self._engine.stop_event.set()
        server.shutdown()
        if not server.close_connections(wait=2.0):
            logger.warning("rivya simulator: some connections were still busy at stop")
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._threads = []
        self._engine.webhooks.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        while not self._engine.stop_event.wait(TICK_SECONDS):
            try:
                self._engine.tick()
            except Exception:
                logger.exception("rivya simulator: the task ticker failed; it keeps going")


def _thread(name: str, target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _url_for(address: tuple[Any, ...]) -> str:
    host, port = str(address[0]), int(address[1])
    if host in ("0.0.0.0", "::"):  # noqa: S104 - shown as loopback, not bound
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
