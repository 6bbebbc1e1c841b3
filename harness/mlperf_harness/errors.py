"""Error reporting: one ``error:`` line on stderr, never a traceback."""

import os
import sys
import threading


class HarnessError(Exception):
    """A failure with a message fit for the user; printed without a traceback."""


class UsageError(HarnessError):
    """A bad or out-of-range argument found after parsing (e.g. --count larger
    than the dataset): reported like an argparse error, exit status 2."""


class CountError(UsageError):
    """--count asks for more samples than the dataset has."""


class AlreadyReported(HarnessError):
    """A failure whose ``error:`` line was already printed (by a child process)."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, HarnessError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


_abort_lock = threading.Lock()


def abort(message: str, code: int = 1) -> None:
    """Hard stop from inside a LoadGen callback or worker thread.

    An exception escaping a LoadGen callback aborts the process (exit 134),
    and a query left uncompleted hangs StartTest forever; so on a failure in
    the SUT or QSL we print one line and leave at once. Only the first
    caller prints.
    """
    if _abort_lock.acquire(blocking=False):
        try:
            sys.stdout.flush()
        except Exception:
            pass
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        os._exit(code)
    threading.Event().wait()  # another thread is already exiting the process
