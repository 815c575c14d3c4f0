"""The playground, and an Arabic chapter, in the real thing: JupyterLab in headless Chromium, driven by Playwright."""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from sdtutorial.notebooks import copy_notebooks, notebooks_folder

from conftest import NOTEBOOKS, inline_code_in_reading_order

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.extended]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a loopback port with a token, serving a copy of the playground and of the Arabic speed
    chapter (ar/, as committed, its pictures beside it); stopped after."""
    notebook = nbformat.read(NOTEBOOKS / "05_playground.ipynb", as_version=4)
    for cell in notebook.cells:  # without the reference outputs, a prompt like [1]: means this run ran it
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, tmp_path / "05_playground.ipynb")
    copy_notebooks(tmp_path / "ar", notebooks_folder("ar"))
    # JupyterLab renders only the cells in view by default: render them all, so the panel is there to
    # click; and start the notebook's kernel without asking, so no kernel dialog stops the run.
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none", "autoStartDefaultKernel": true}')
    # and no toast asking whether to fetch Jupyter's news, which would cover the panel in the screenshot
    notifications = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "jupyterlab.log", "w"), cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "jupyterlab.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield url, token, tmp_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_generate_in_jupyterlab_shows_the_papermill_fingerprint(jupyterlab, browser, run_notebook):
    from playwright.sync_api import expect

    url, token, folder = jupyterlab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/tree/05_playground.ipynb?token={token}")
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # kernel connected
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        page.get_by_text("[1]:").first.wait_for(timeout=60_000)
        generate = page.get_by_role("button", name="Generate")
        generate.wait_for(timeout=120_000)
        generate.click()
        shown = page.locator(".sdtutorial-fingerprints")
        expect(shown).to_have_text(re.compile(r"^[0-9a-f]{16}$"), timeout=120_000)
        fingerprint_shown = shown.inner_text()
        expect(page.locator(".sdtutorial-status")).to_contain_text("1 image(s) in")
        expect(page.locator(".jupyter-widgets img").first).to_be_visible()
        if os.environ.get("SDTUTORIAL_PLAYGROUND_SCREENSHOT"):  # the book's picture of the panel (05's markdown)
            panel = page.locator(".jp-OutputArea-output").filter(has=page.get_by_role("button", name="Generate"))
            panel.first.screenshot(path=os.environ["SDTUTORIAL_PLAYGROUND_SCREENSHOT"])
    finally:
        page.screenshot(path=folder / "playground.png", full_page=True)  # on failure too, to see why
        page.close()
    under_papermill = run_notebook("05_playground", generate_on_start=True)
    assert [fingerprint_shown] == under_papermill["fingerprints"]["playground"]


JUPYTERLAB_DIRECTIONS = """() => {
    const direction = element => getComputedStyle(element).direction;
    const markdown = [...document.querySelectorAll(".jp-MarkdownCell .jp-RenderedMarkdown")];
    return {
        paragraphs: markdown.flatMap(cell => [...cell.querySelectorAll("p, h1, h2, h3, li")]).map(direction),
        code: [...document.querySelectorAll(".jp-CodeCell .jp-InputArea-editor .cm-line")].map(direction),
        outputs: [...document.querySelectorAll(".jp-OutputArea-output")].map(direction),
        images: [...document.querySelectorAll(".jp-OutputArea-output img")].map(image => image.naturalWidth),
    };
}"""


def test_an_arabic_chapter_reads_right_to_left_in_jupyterlab(jupyterlab, browser):
    url, token, folder = jupyterlab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/tree/ar/01_speed.ipynb?token={token}")
        page.locator(".jp-RenderedMarkdown h1").first.wait_for(timeout=60_000)
        page.wait_for_function("[...document.querySelectorAll('.jp-OutputArea-output img')].length > 0 && "
                               "[...document.querySelectorAll('.jp-OutputArea-output img')].every(i => i.complete)",
                               timeout=60_000)
        seen = page.evaluate(JUPYTERLAB_DIRECTIONS)
        assert seen["paragraphs"] and set(seen["paragraphs"]) == {"rtl"}
        assert seen["code"] and set(seen["code"]) == {"ltr"}
        assert seen["outputs"] and set(seen["outputs"]) == {"ltr"}
        assert seen["images"] and all(width > 0 for width in seen["images"])
        assert inline_code_in_reading_order(page, ".jp-RenderedMarkdown p") >= 3
    finally:
        page.screenshot(path=folder / "arabic-01_speed-jupyterlab.png")
        print(f"screenshot: {folder / 'arabic-01_speed-jupyterlab.png'}")
        page.close()
