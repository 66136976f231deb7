"""Reading the pyinstrument profile of `usagegraph serve`: the HTML report and the hot spots.

Only time spent handling requests counts: frames under the event loop's callbacks, so start-up
imports and idle waiting in `epoll` stay out of the hot spots. On asyncio's loop those are the
frames under `Handle._run`; uvloop runs callbacks from C, so there they are the Python frames
directly under `asyncio.Runner.run` (uvicorn serves on uvloop whenever it is installed).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["analyse_profile"]

_PROJECT_DIRS = ("clients/", "resolvers/", "schema/", "usagegraph/")
_IDLE = {"epoll.poll", "select", "poll", "KqueueSelector.select", "EpollSelector.select"}


def _short(path: str | None) -> str:
    if not path:
        return "<built-in>"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if "/lib/python3" in path:
        return path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(root)


_AREAS = (
    ("graphql/", "graphql-core execution"),
    ("strawberry/", "strawberry (resolver wrappers, selections)"),
    ("httpx/", "HTTP client (httpx/httpcore/h11)"),
    ("httpcore/", "HTTP client (httpx/httpcore/h11)"),
    ("h11/", "HTTP client (httpx/httpcore/h11)"),
    ("anyio/", "HTTP client (httpx/httpcore/h11)"),
    ("json/", "JSON decoding/encoding"),
    ("asyncio/", "asyncio event loop"),
    ("clients/", "usagegraph clients/ (vendor response parsing)"),
    ("resolvers/", "usagegraph resolvers/"),
    ("schema/", "usagegraph schema/"),
    ("usagegraph/", "usagegraph app, middleware"),
    ("starlette/", "starlette/fastapi/uvicorn"),
    ("fastapi/", "starlette/fastapi/uvicorn"),
    ("uvicorn/", "starlette/fastapi/uvicorn"),
    ("decimal", "decimal"),
)


def _area(short: str) -> str:
    for prefix, area in _AREAS:
        if short.startswith(prefix):
            return area
    return "built-ins and other"


def _is_callback(frame: Any) -> bool:
    return frame.function == "_run" and "asyncio/events.py" in (frame.file_path or "")


def _is_uvloop_callback(frame: Any, parent: Any) -> bool:
    if parent is None or parent.function not in ("Runner.run", "run"):
        return False
    if "asyncio/runners.py" not in (parent.file_path or ""):
        return False
    path = frame.file_path or ""
    # on asyncio's own loop the runner's child is its loop machinery, not a callback
    return frame.function != "[self]" and "asyncio/" not in path


def analyse_profile(session_path: Path, out_dir: Path, top: int = 12) -> dict[str, Any]:
    """Write profile.html and profile.txt next to the report; return the hot spots."""
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session

    session = Session.load(str(session_path))
    (out_dir / "profile.html").write_text(HTMLRenderer().render(session), encoding="utf-8")
    text = ConsoleRenderer(unicode=False, color=False, show_all=False, time="seconds").render(
        session
    )
    (out_dir / "profile.txt").write_text(text, encoding="utf-8")

    self_time: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    project_total: Counter[str] = Counter()
    handled = 0.0

    def walk(frame: Any, inside: bool, seen: frozenset[str], parent: Any = None) -> None:
        nonlocal handled
        name = f"{frame.function} ({_short(frame.file_path)}:{frame.line_no})"
        entering = not inside and (_is_callback(frame) or _is_uvloop_callback(frame, parent))
        if entering:
            handled += frame.time
        now_inside = inside or entering
        if now_inside and frame.function not in _IDLE and frame.function != "[self]":
            # pyinstrument keeps a frame's own time in synthetic "[self]" children
            own = sum(c.time for c in frame.children if c.function == "[self]")
            if own:
                self_time[name] += own
                by_area[_area(_short(frame.file_path))] += own
            short = _short(frame.file_path)
            if short.startswith(_PROJECT_DIRS) and name not in seen:
                project_total[name] += frame.time
        for child in frame.children:
            walk(child, now_inside, seen | {name}, frame)

    root = session.root_frame()
    if root is not None:
        walk(root, False, frozenset())
    return {
        "duration": session.duration,
        "request_handling_seconds": handled,
        "self_time": self_time.most_common(top),
        "by_area": by_area.most_common(),
        "project_cumulative": project_total.most_common(top),
    }
