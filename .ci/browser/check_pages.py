"""Opens timeline pages in a real, headless Chromium and checks them.

Usage: check_pages.py SHOTS_DIR PAGE[:CHECKS] ...

CHECKS is a comma-separated list of what the page must also show:
  lit      the finding chosen when the page opens lights records in a
           partition lane and positions in a group lane, in the highlight
           colour; choosing another finding by its label moves the light
  diff     the first pair of views, opened if folded, shows differing lines
  hostile  the injected <script> and <img onerror> text is displayed as text

The browser is Debian's chromium, or the one the CHROMIUM variable names.
Every page must load with no console error, no page error, no dialog, no
request but its own file, and no script, image, frame or link element; the
injected scripts must not have run (window.__pwned stays unset). A
full-page screenshot of each goes to SHOTS_DIR. Exits 1 on the first page
that fails, naming the page and the check.
"""

import os
import pathlib
import shutil
import sys
import time

from playwright.sync_api import sync_playwright

LIT = "rgb(255, 213, 79)"  # --lit in the page's style
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


class PageFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise PageFailed(message)


def lit_count(page, selector):
    """How many elements matching selector show the highlight colour."""
    return page.eval_on_selector_all(
        selector,
        "(els, lit) => els.filter(e => getComputedStyle(e).backgroundColor === lit).length",
        LIT,
    )


def check_lit(page):
    checked = page.eval_on_selector("input[name=focus]:checked", "e => e.id")
    require(checked.startswith("focus-"), "no finding is chosen when the page opens")
    number = checked.removeprefix("focus-")
    in_partitions = f'tr.partition [data-f~="{number}"]'
    in_groups = f'tr.group td [data-f~="{number}"]'
    require(lit_count(page, in_partitions) > 0, f"finding {number} lights no record in a partition lane")
    require(lit_count(page, in_groups) > 0, f"finding {number} lights nothing in a group lane")
    # Another finding, chosen by clicking its label, takes the light.
    others = page.eval_on_selector_all(
        "input[name=focus]", f"els => els.map(e => e.id).filter(id => id !== '{checked}' && id !== 'focus-all')"
    )
    for other in others:
        other_number = other.removeprefix("focus-")
        if page.locator(f'td [data-f~="{other_number}"]').count() == 0:
            continue
        page.click(f'label[for="{other}"]')
        require(lit_count(page, f'td [data-f~="{other_number}"]') > 0, f"choosing finding {other_number} lights nothing")
        only_first = f'td [data-f~="{number}"]:not([data-f~="{other_number}"])'
        require(lit_count(page, only_first) == 0, f"finding {number} stays lit after choosing {other_number}")
        page.click(f'label[for="{checked}"]')
        break


def check_diff(page):
    pair = page.locator("details.pair").first
    require(pair.count() == 1, "no pair of views is shown")
    if pair.get_attribute("open") is None:
        pair.locator("summary").click()
    changed = pair.locator("td.del, td.ins")
    require(changed.count() > 0, "the pair of views marks no differing line")
    require(changed.first.is_visible(), "the differing lines are not visible")
    texts = [t.strip() for t in changed.all_inner_texts()]
    require(any(texts), "the differing lines are empty")


def check_hostile(page):
    shown = page.inner_text("body")
    require("<script>window.__pwned=1</script>" in shown, "the injected <script> is not shown as text")
    require('<img src=x onerror="window.__pwned=' in shown, "the injected <img onerror> is not shown as text")


def check_page(browser, path, checks, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = []
    url = path.resolve().as_uri()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"request: {r.url}") if r.url != url else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    started = time.monotonic()
    page.goto(url, wait_until="load")
    loaded = time.monotonic() - started
    require(not page.evaluate("typeof window.__pwned !== 'undefined'"), "an injected script ran")
    active = page.eval_on_selector_all("script, img, iframe, object, embed, link", "els => els.length")
    require(active == 0, f"{active} script, image, frame or link elements in the page")
    if "lit" in checks:
        check_lit(page)
    if "diff" in checks:
        check_diff(page)
    if "hostile" in checks:
        check_hostile(page)
    require(not problems, "; ".join(problems))
    shot = shots / (path.stem + ".png")
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    return loaded


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    shots = pathlib.Path(argv[1])
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for spec in argv[2:]:
            name, _, checks = spec.partition(":")
            path = pathlib.Path(name)
            if not path.is_file():
                print(f"browser check: {name}: no such page (was it generated?)", file=sys.stderr)
                return 1
            try:
                loaded = check_page(browser, path, set(filter(None, checks.split(","))), shots)
            except PageFailed as failure:
                print(f"browser check: {name}: {failure}", file=sys.stderr)
                return 1
            size = path.stat().st_size
            print(f"browser check: {name}: ok ({size} bytes, loaded in {loaded:.2f} s; checks: {checks or 'base'})")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
