"""The screen under its Content-Security-Policy: served with it, and nothing in the page that it would block
(inline scripts, handlers, style attributes), through a whole visit."""
import pathlib
import re
import urllib.request

import pytest

from conftest import start_kiosk, stop_kiosk
from uihelp import HALINA, assert_no_trace, open_screen, press, wait, wait_screen

CSP = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
       "connect-src": "'self'", "font-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
       "frame-ancestors": "'none'", "form-action": "'self'"}


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


def test_the_ui_is_served_with_its_content_security_policy(kiosk):
    with urllib.request.urlopen(kiosk.base + "/", timeout=5) as r:
        header = r.headers["Content-Security-Policy"]
    directives = {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}
    assert directives == CSP


def test_every_word_comes_from_the_catalogues():
    root = pathlib.Path(__file__).resolve().parents[2] / "Kiosk"
    html = (root / "index.html").read_text()
    body = re.sub(r"<!--.*?-->", "", html.split("<body", 1)[1], flags=re.S)
    assert re.findall(r">\s*([^<\s][^<]*?)\s*<", body) == [], "text in index.html"
    import json
    keys = [set(json.loads((root / "i18n" / f"{l}.json").read_text())) for l in ("pl", "uk", "en")]
    assert keys[0] == keys[1] == keys[2]
    used = set(re.findall(r"tr\(\"([a-zA-Z.]+)\"", (root / "kiosk.js").read_text()))
    assert {k for k in used if not k.endswith(".")} - keys[0] == set()


def test_the_ui_runs_under_its_content_security_policy(kiosk, browser):
    html = (pathlib.Path(__file__).resolve().parents[2] / "Kiosk" / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert not re.search(r"\sstyle\s*=", html, re.I)
    browser.get_log("browser")
    open_screen(kiosk, browser)
    try:
        kiosk.place(HALINA)
        wait_screen(browser, "verdict")
        press(browser, "#services")
        wait(browser).until(lambda b: b.find_elements(by="css selector", value="button[data-service=senior_taxi]"))
        press(browser, "button[data-service=senior_taxi]")
        press(browser, "#ask")
        wait_screen(browser, "question")
        assert browser.execute_script(
            "return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
            ".filter(n => n.startsWith('on') || n === 'style')") == []
    finally:
        kiosk.remove()
    assert_no_trace(browser)
    violations = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    assert violations == []
