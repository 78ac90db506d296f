"""A local simulator of the Rivya Public API v1, for development, tests and benchmarks.

It imports nothing from the Django project. Usage::

    from rivya_sim import Simulator, Faults

    with Simulator(api_key="rvya_sk_test", delay=0.2).start() as sim:
        sim.base_url              # "http://127.0.0.1:<port>"
        sim.faults.rate_limit(2, retry_after=7, on="create")
        sim.state.creates_total

or ``python -m rivya_sim --port 8765``. ``docs/simulator.md`` describes the endpoints, the fault
switches, the prompt markers and the control endpoints.

Assumptions where the contract (``rivya-api-v1.md``) is silent are written in the docstring of
the module they shape, and collected in ``docs/simulator.md``:

- ``catalog``: the ``params`` element shape; 4o-image has no prompt limit; unavailable models
  are listed as ``coming_soon``, removed ones left out.
- ``validation``: strict unknown keys (top level and ``params``); null means absent; text seeds
  are digit strings, number seeds non-negative integers; ``client_request_id`` <= 128 characters;
  unknown/unavailable models are ``validation_failed``.
- ``api``: faults before auth; auth order (missing, revoked, expired, invalid, scope); 5xx code
  ``internal_error``; 405 ``method_not_allowed``; ``Idempotency-Key`` <= 255 characters.
- ``engine``: validation, then idempotency, then credits (402 ``insufficient_credits``); a replay
  returns the stored first response; reserve at create, settle on success, refund on failure;
  ``task_<24 hex>`` ids; result URLs ``/results/<id>/<n>.png`` from 1; marker precedence.
- ``state``: idempotency per API key for 24 h, successes only; ISO times with milliseconds and
  ``updated_at`` strictly increasing.
- ``webhooks``: the ``data`` key; Standard Webhooks signing; 2xx is success; 3 retries after
  0.2/0.5/1 s; several workers (no ordering across tasks).
- ``results`` and ``images``: sizes of the hostile bodies; the bomb written without Pillow.
- ``faults``: negative count = forever; ``on`` defaults to ``any``; one counted fault per request.
- ``server`` and ``simulator``: 1 MiB body cap; wildcard hosts shown as loopback; stop cuts
  connections.
"""

from rivya_sim.faults import Faults
from rivya_sim.simulator import Simulator

__all__ = ["Faults", "Simulator"]
