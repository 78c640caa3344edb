"""One error policy for every command line of the package.

Exit codes: 0 all good; 1 a claim failed under ``--strict`` or an implementation is not
conformant; 2 a usage or input error, or a crash; 130 interrupted (Ctrl-C) and 143 terminated
(SIGTERM), as shells report them. Errors are one line on stderr, with no traceback unless
``--debug``. A closed stdout (``| head``) ends the output quietly, keeping the exit code.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so ``finally`` blocks clean up as on Ctrl-C."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def emit(text: str) -> None:
    """Print to stdout; if the reader went away (``| head``), stop printing quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())       # no second error when Python flushes at exit


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _what_changed() -> str:
    """The truth about the outputs at an interrupt: none changed, or which were and how."""
    from .report.resultdir import changed_outputs
    changed = changed_outputs()
    return "; ".join(changed.values()) if changed else "no output was changed"


def guarded(prog: str, body: Callable[[], int], *, debug: bool = False) -> int:
    """Run ``body`` under the policy above and return its exit code."""
    from .report.resultdir import forget_changes
    forget_changes()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:                                  # not the main thread
        pass
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {_what_changed()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{prog}: terminated; {_what_changed()}", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        emit("")
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the policy: one line, exit 2
        if debug:
            raise
        known = isinstance(exc, (ValueError, TypeError, OSError, ImportError, LookupError,
                                 FloatingPointError))
        what = "error" if known else f"internal error ({type(exc).__name__})"
        hint = "" if known else " (run again with --debug for the traceback)"
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{prog}: {what}: {msg}{hint}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
