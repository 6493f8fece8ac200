"""Time bounds on symbolic work that might hang.

Two tools: :func:`run_time_bounded` runs a computation in a forked child that is killed
when its time is up (for calls that may never return, like ``sympy.integrate``), and
:func:`time_limit` interrupts a block in this process with SIGALRM (cheap, for steps that
are usually fast, like a holonomic conversion).

sympy cannot be interrupted from inside (a thread cannot be stopped), so anything that might
hang (``sympy.integrate``, ``limit``, ``solveset``) runs in a child process; the parent waits
at most ``seconds`` and then kills it.

>>> run_time_bounded(sum, ([1, 2, 3],), 5.0)
('ok', 6)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import sys
import traceback
from typing import Any, Callable, Iterator


def _child(connection, func, args) -> None:
    try:
        connection.send(("ok", func(*args)))
    except BaseException as exc:  # report every failure to the parent, never hang it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def run_time_bounded(func: Callable, args: tuple, seconds: float) -> tuple[str, Any]:
    """``("ok", value)``, ``("timeout", seconds)`` or ``("error", message)``.

    Falls back to an in-process call (no time bound) only where fork is unavailable.
    """
    if "fork" not in multiprocessing.get_all_start_methods() or sys.platform == "win32":
        try:
            return "ok", func(*args)
        except Exception as exc:  # pragma: no cover - platforms without fork
            return "error", f"{type(exc).__name__}: {exc}"
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, func, args), daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(seconds):
            try:
                return receiver.recv()
            except EOFError:
                return "error", f"the worker exited with code {process.exitcode}"
        return "timeout", seconds
    except Exception:  # pragma: no cover - a broken pipe or an unpicklable value
        return "error", traceback.format_exc(limit=1)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(1.0)
        if process.is_alive():  # pragma: no cover
            os.kill(process.pid, 9)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block after ``seconds`` (main thread on POSIX; else unbounded)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds is None:
        yield
        return

    def _expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"symbolic step exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, _expire)
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, remaining)
