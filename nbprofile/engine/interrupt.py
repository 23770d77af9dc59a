"""The one way nbprofile stops the main thread: a watcher thread sends it a SIGINT.

Both the hang guard (a meter call that does not return) and the ``--enforce``
watchdog (a cell over its limit) are a parked daemon thread that looks every so
often and, when it must, interrupts the main thread with a real SIGINT, so that
a ``time.sleep`` or a blocking system call is cut short too. A call into C code
that does not check for signals finishes first; nothing inside the process can
stop it sooner.

:class:`Watcher` holds the rule that makes this safe: the decision to interrupt
and the interrupt itself happen under :attr:`Watcher.lock`, which whoever ends a
watch takes too, so no interrupt lands after the watch has ended. One sent just
before is absorbed where it is expected (:func:`absorb_pending_interrupt`).
"""

from __future__ import annotations

import signal
import threading
import time
from abc import ABC, abstractmethod
from typing import Any


def interrupt_main_thread() -> None:
    """Raise ``KeyboardInterrupt`` in the main thread, as Ctrl-C would."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]


def make_sigint_raise() -> Any:
    """On the main thread, make a SIGINT raise ``KeyboardInterrupt`` there, as it does by default.

    A process started under ``nohup``, or with ``&`` from a non-interactive shell, inherits
    SIGINT ignored (``SIG_IGN``): :func:`interrupt_main_thread` would then do nothing and an
    enforced limit would never stop anything. Under ``SIG_DFL`` the signal would kill the
    process instead. In both cases ``signal.default_int_handler`` is installed and the handler
    it replaced is returned, for :func:`restore_sigint`; ``None`` when nothing was changed (a
    handler of Python's or the user's, or one installed outside Python, is left alone).
    Raises ``ValueError`` off the main thread, where no signal handler can be set.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous not in (signal.SIG_IGN, signal.SIG_DFL):
        return None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


def restore_sigint(previous: Any) -> None:
    """Put back the handler :func:`make_sigint_raise` replaced (nothing if it replaced none)."""
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def absorb_pending_interrupt() -> None:
    """Let a SIGINT already sent to this (main) thread surface here, and swallow it.

    Python runs signal handlers between bytecodes of the main thread, so a few
    no-op calls give it the chance; an interrupt sent by a watcher whose watch has
    just ended must not hit the user's next line instead.
    """
    try:
        for _ in range(1000):
            time.sleep(0)
    except KeyboardInterrupt:
        pass


class Watcher(ABC):
    """A daemon thread that calls :meth:`look` every ``interval_s`` until stopped.

    :meth:`look` runs with :attr:`lock` held and returns True to interrupt the main
    thread now; with ``once``, the watcher then ends. Subclasses that end a watch
    (``disarm``, ``stop``) take :attr:`lock` to do it.
    """

    def __init__(self, name: str, interval_s: float, *, once: bool = False) -> None:
        self.interval_s = interval_s
        self.lock = threading.Lock()
        self._name = name
        self._once = once
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def look(self) -> bool:
        """Decide, with :attr:`lock` held, whether to interrupt the main thread now."""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            with self.lock:
                if self._stopped.is_set():
                    return
                if not self.look():
                    continue
                interrupt_main_thread()
                if self._once:
                    self._stopped.set()
                    return

    def stop(self) -> None:
        """End the watch; no interrupt is sent once this returns."""
        with self.lock:
            self._stopped.set()
