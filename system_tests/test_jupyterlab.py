"""What a student sees: the chapters open in JupyterLab in a real (headless) browser, run
without errors, and their widgets respond. Screenshots land in test-artifacts/."""
import json
import os
import time

import pytest

from conftest import ARTIFACTS

# One chapter of Part I, the kernel explorer of chapter 10, and the digits CNN of chapter 14.
CHAPTERS = os.environ.get("ANNICAS_BROWSER_CHAPTERS", "01_single_neuron 10_convolution 14_learning_and_teaching").split()
RUN_TIMEOUT = 400  # seconds for "Run All Cells"; chapter 14 trains a CNN


def _dismiss_dialogs(page):
    accept = page.query_selector(".jp-Dialog button.jp-mod-accept")  # "Select kernel" on notebooks without kernelspec
    if accept:
        accept.click()
    no_news = page.query_selector(".jp-toast-button:has-text('No')")
    if no_news:
        no_news.click()


def _run_all_and_wait(page, n_code_cells):
    """Run All Cells, then wait until every code cell has run, or the kernel has sat idle for
    15 s with cells left (Run All stops at an error: the saved notebook then shows which)."""
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    deadline, idle_since = time.time() + RUN_TIMEOUT, None
    while time.time() < deadline:
        prompts = [p.inner_text().strip() for p in page.query_selector_all(".jp-CodeCell .jp-InputPrompt")]
        done = sum(p.startswith("[") and p[1:-2].strip().isdigit() for p in prompts)
        running = any("*" in p for p in prompts)
        status = page.get_attribute(".jp-Notebook-ExecutionIndicator", "data-status")
        if done >= n_code_cells and status == "idle":
            return
        if status == "idle" and not running and done:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 15:
                return
        else:
            idle_since = None
        time.sleep(1)
    raise AssertionError(f"the kernel did not finish running all cells within {RUN_TIMEOUT} s")


def _save_and_read(page, path):
    before = path.stat().st_mtime
    page.keyboard.press("Control+s")
    for _ in range(60):
        if path.stat().st_mtime != before:
            time.sleep(0.5)
            return json.loads(path.read_text())
        time.sleep(0.5)
    raise AssertionError("saving the notebook from the browser did not update the file")


def _cell_state(cell):
    """What a person sees in a cell's output: its text and its images."""
    text = cell.inner_text()
    images = [img.get_attribute("src") or "" for img in cell.query_selector_all("img")]
    return text, images


def _move_first_widget(page):
    """Move the first slider (keyboard) or pick another dropdown entry; return the cell it lives in and its state before."""
    handle = page.query_selector(".widget-slider .noUi-handle")
    if handle:
        cell = handle.evaluate_handle("el => el.closest('.jp-Cell')").as_element()
        handle.scroll_into_view_if_needed()
        before = _cell_state(cell)
        value = handle.get_attribute("aria-valuenow")
        handle.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        assert handle.get_attribute("aria-valuenow") != value, "the slider did not move under the keyboard"
        return cell, before, "slider"
    select = page.query_selector(".widget-dropdown select")
    if select:
        cell = select.evaluate_handle("el => el.closest('.jp-Cell')").as_element()
        select.scroll_into_view_if_needed()
        before = _cell_state(cell)
        options = select.eval_on_selector_all("option", "opts => opts.map(o => o.value)")
        current = select.input_value()
        choice = next(o for o in options if o != current)
        select.select_option(choice)
        time.sleep(1)
        assert select.input_value() == choice, f"the dropdown shows {select.input_value()!r} after choosing {choice!r}"
        return cell, before, "dropdown"
    raise AssertionError("no slider or dropdown widget found in the notebook")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_and_widget_responds(lab, browser, chapter):
    path = lab["root"] / "notebooks" / f"{chapter}.ipynb"
    assert path.exists(), f"notebooks/{chapter}.ipynb is missing"
    n_code = sum(c["cell_type"] == "code" for c in json.loads(path.read_text())["cells"])
    page = browser.new_page()
    try:
        page.goto(f"{lab['url']}/lab/tree/notebooks/{chapter}.ipynb?reset&token={lab['token']}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        time.sleep(2)
        _dismiss_dialogs(page)
        _run_all_and_wait(page, n_code)
        _dismiss_dialogs(page)

        saved = _save_and_read(page, path)
        errors = [
            f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
            for i, c in enumerate(saved["cells"]) for o in c.get("outputs", []) if o.get("output_type") == "error"
        ]
        assert not errors, f"{chapter} shows errors in the browser: {errors}"
        not_run = [i for i, c in enumerate(saved["cells"]) if c["cell_type"] == "code" and not c.get("execution_count")]
        assert not not_run, f"{chapter}: cells {not_run} never ran in the browser"

        cell, before, kind = _move_first_widget(page)
        for _ in range(60):  # the kernel redraws the output the widget drives
            time.sleep(0.5)
            if _cell_state(cell) != before:
                break
        else:
            raise AssertionError(f"moving the {kind} in {chapter} did not change its output")
        time.sleep(1)
        cell.screenshot(path=str(ARTIFACTS / f"{chapter}-widget.png"))
        page.screenshot(path=str(ARTIFACTS / f"{chapter}.png"))
    finally:
        page.close()
