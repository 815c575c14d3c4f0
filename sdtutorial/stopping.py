"""Stopping a command cleanly on Ctrl-C or SIGTERM: no process left behind, one line saying what was kept."""

import signal

import psutil


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM, as KeyboardInterrupt is for SIGINT."""


def raise_on_stop_signals() -> dict:
    """Make SIGINT raise KeyboardInterrupt and SIGTERM raise Terminated in the main thread; return the handlers
    they replace. Python installs the first only when SIGINT is not ignored at start, and a shell without job
    control starts background commands with SIGINT ignored."""

    def terminated(signum, frame):
        raise Terminated()

    return {signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
            signal.SIGTERM: signal.signal(signal.SIGTERM, terminated)}


def end_child_processes(grace: float = 2.0) -> int:
    """Terminate every process this one started (notebook kernels, their children), killing those still alive
    after `grace` seconds; return how many there were."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return len(children)


class Progress:
    """What a long command has finished so far, for the line it prints when stopped."""

    NOTHING_KEPT = "nothing was written; run the same command again"

    def __init__(self):
        self.text = self.NOTHING_KEPT

    def update(self, text: str = NOTHING_KEPT) -> None:
        self.text = text


progress = Progress()
