"""The static book (`make book`) opens in a real browser, offline, with its images and formulas."""
import time

import pytest

from conftest import ARTIFACTS, ROOT

BOOK = ROOT / "_book"


@pytest.fixture(scope="module")
def book_pages():
    if not (BOOK / "index.html").exists():
        pytest.fail("_book/index.html is missing: run `make book` (make test-browser does) first")
    return sorted(p.name for p in BOOK.glob("[0-9][0-9]_*.html"))


def _no_external_requests(page):
    external = []
    page.on("request", lambda r: external.append(r.url) if r.url.startswith(("http://", "https://")) else None)
    return external


def test_index_lists_every_chapter_in_order(browser, book_pages):
    page = browser.new_page()
    external = _no_external_requests(page)
    try:
        page.goto((BOOK / "index.html").as_uri())
        links = page.eval_on_selector_all("#toc a", "as => as.map(a => a.getAttribute('href'))")
        assert links == book_pages and len(links) >= 10
        page.screenshot(path=str(ARTIFACTS / "book-index.png"))
        assert not external, f"the book loads from the internet: {external[:3]}"
    finally:
        page.close()


@pytest.mark.parametrize("chapter", ["04_softmax.html", "10_convolution.html"])
def test_chapter_page_shows_images_formulas_and_widget_snapshots(browser, book_pages, chapter):
    assert chapter in book_pages
    page = browser.new_page()
    external = _no_external_requests(page)
    try:
        page.goto((BOOK / chapter).as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
        assert len(images) >= 3, f"{chapter} shows only {len(images)} images"
        assert all(done and width > 0 for done, width in images), f"broken images in {chapter}: {images}"
        for _ in range(40):  # MathJax typesets after load
            if page.query_selector(".MathJax, .MathJax_Display, mjx-container"):
                break
            time.sleep(0.25)
        else:
            raise AssertionError(f"no formula was typeset in {chapter}: is MathJax in _book/mathjax?")
        assert page.query_selector(".annicas-widget-note"), f"{chapter} has no widget snapshot"
        assert page.query_selector(".annicas-nav a[href='index.html']")
        page.screenshot(path=str(ARTIFACTS / f"book-{chapter.replace('.html', '')}.png"), full_page=False)
        assert not external, f"the book loads from the internet: {external[:3]}"
    finally:
        page.close()
