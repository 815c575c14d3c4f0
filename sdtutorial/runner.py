"""The one way sdtutorial executes a notebook: papermill (or nbclient in place) on a quiet local kernel, stoppable.

Kernels listen on IPC sockets, files in Jupyter's runtime folder that only this user can open, rather than on
TCP ports any local user can reach; ipykernel then has no reason to warn that it runs over TCP unencrypted.

nbclient answers SIGINT and SIGTERM by shutting the kernel down and carrying on with the cells, which kept
`sdtutorial run` going for minutes after Ctrl-C. So execution runs in a worker thread, where nbclient installs
no signal handlers, and the main thread keeps Python's: Ctrl-C raises KeyboardInterrupt there, and the caller
ends the kernel (`stopping.end_child_processes`).
"""

import threading
import uuid
from pathlib import Path

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbclient import NotebookClient
from traitlets import default

KERNEL = "python3"


class LocalKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels talk over IPC sockets instead of TCP."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # The sockets' path prefix. It must be absolute: the kernel starts in the notebook's folder, the client
        # stays where it is, and a relative path leaves each waiting at its own socket.
        folder = Path(jupyter_runtime_dir())
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"kernel-{uuid.uuid4()}-ipc")


def in_worker_thread(work):
    """Run `work()` in a daemon thread and return its result or raise its exception; KeyboardInterrupt and other
    signals' exceptions reach the calling (main) thread while it waits."""
    outcome = {}

    def target():
        try:
            outcome["result"] = work()
        except BaseException as error:  # handed to the caller, which raises it in its own thread
            outcome["error"] = error

    worker = threading.Thread(target=target, name="sdtutorial-notebook", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def execute_notebook(source: Path | nbformat.NotebookNode, output: Path, parameters: dict | None = None,
                     cwd: Path | None = None, progress_bar: bool = False) -> None:
    """Execute `source` with papermill into `output`, parameters injected; raises PapermillExecutionError on a
    failing cell (the output notebook keeps the error)."""
    source = source if isinstance(source, nbformat.NotebookNode) else str(source)
    in_worker_thread(lambda: papermill.execute_notebook(
        source, str(output), parameters=parameters or {}, kernel_name=KERNEL, progress_bar=progress_bar,
        cwd=str(cwd or Path(output).parent), kernel_manager_class=LocalKernelManager,
    ))


def execute_in_place(notebook: nbformat.NotebookNode, folder: Path, timeout: int = 1200) -> None:
    """Execute `notebook`'s cells as they are (no parameters, no papermill metadata), in `folder`."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                            kernel_manager_class=LocalKernelManager, resources={"metadata": {"path": str(folder)}})
    in_worker_thread(client.execute)
