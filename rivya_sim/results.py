"""Result downloads: ``GET /results/<task_id>/<n>.png``, shaped by the task's result mode.

A result exists only once its task has succeeded; before that, or for an unknown task or an
``n`` beyond the task's URLs, the answer is 404 ``not_found``. The "redirect" mode answers 302
to ``/results/<task_id>/real/<n>.png`` on the same origin, which serves the real picture.

Assumptions where the brief is silent: "huge" is 40 MiB (honest ``Content-Length``);
"lie_length" claims 1000 bytes but streams the real picture followed by junk up to 21 MiB and
then closes the connection; "drip" claims the real length and sends the first byte at once,
then one byte per second until the client leaves or the simulator stops; "hang" accepts the
request and never answers (until the simulator stops, or an hour passes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rivya_sim.engine import Engine
from rivya_sim.images import (
    HTML_RESULT,
    ArtSpec,
    bomb_png,
    junk_stream,
    svg_document,
)
from rivya_sim.responses import Request, Response, error_response
from rivya_sim.state import Task

HUGE_BYTES = 40 * 1024 * 1024
LIE_BYTES = 21 * 1024 * 1024
LIE_CLAIM = 1000
HANG_SECONDS = 3600.0
PNG_TYPE = "image/png"
METADATA_URL = "http://169.254.169.254/latest/meta-data"
_PATH = re.compile(r"/results/(?P<task_id>task_[0-9a-f]+)/(?P<real>real/)?(?P<n>[0-9]+)\.png")


def handle_result(engine: Engine, request: Request) -> Response:
    """Serve one result URL."""
    match = _PATH.fullmatch(request.path)
    task = engine.state.task(match["task_id"]) if match else None
    if match is None or task is None or task.status != "succeeded" or task.result is None:
        return error_response(404, "not_found", "No such result.")
    number = int(match["n"])
    if not 1 <= number <= len(task.result["urls"]):
        return error_response(404, "not_found", "No such result.")
    return serve_mode(engine, task, number, redirected=bool(match["real"]))


def serve_mode(engine: Engine, task: Task, number: int, redirected: bool) -> Response:
    """The answer for this task's result mode."""
    mode = task.result_mode
    if mode == "hang":
        return Response(200, drop_after=HANG_SECONDS)
    if mode == "huge":
        stream = junk_stream(HUGE_BYTES)
        return Response(200, content_type=PNG_TYPE, stream=stream, content_length=HUGE_BYTES)
    if mode == "html":
        return Response(200, HTML_RESULT, content_type="text/html; charset=utf-8")
    if mode == "svg":
        return Response(200, svg_document(task.prompt), content_type="image/svg+xml")
    if mode == "bomb":
        return Response(200, bomb_png(), content_type=PNG_TYPE)
    if mode == "redirect_private":
        return redirect(METADATA_URL)
    if mode == "redirect" and not redirected:
        return redirect(f"{engine.base_url}/results/{task.id}/real/{number}.png")
    return _picture_response(engine, task, number)


def _picture_response(engine: Engine, task: Task, number: int) -> Response:
    picture = picture_bytes(engine, task, number)
    if task.result_mode == "drip":
        stream = drip(engine, picture)
        return Response(200, content_type=PNG_TYPE, stream=stream, content_length=len(picture))
    if task.result_mode == "lie_length":
        stream = junk_stream(LIE_BYTES, prefix=picture)
        return Response(
            200, content_type=PNG_TYPE, stream=stream, content_length=LIE_CLAIM, close=True
        )
    return Response(200, picture, content_type=PNG_TYPE)


def picture_bytes(engine: Engine, task: Task, number: int) -> bytes:
    """The (cached) picture ``number`` of a task."""
    spec = ArtSpec(task.prompt, task.render_seed, task.model, task.aspect, number)
    return engine.images.get(spec)


def redirect(location: str) -> Response:
    return Response(302, content_type="text/plain", headers={"Location": location})


def drip(engine: Engine, data: bytes) -> Iterator[bytes]:
    """One byte now, then one a second, stopping early if the simulator stops."""
    for index in range(len(data)):
        if index and not engine.sleep(1.0):
            return
        yield data[index : index + 1]
