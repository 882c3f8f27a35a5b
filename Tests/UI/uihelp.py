"""Helpers shared by the UI tests: pressing on-screen buttons as a person would (one at a time, never
twice within the screen's 500 ms tremor guard), typing on the on-screen keyboards, the checks every screen
must pass (axe-core, and what axe cannot see: target size and gaps in mm of the configured panel, text
size, contrast, lang, nothing scrolls or is cut off, live regions), screenshots, the event stream as a test
sees it, and the checks that a finished visit left no trace."""
import http.client
import json
import os
import pathlib
import socket
import threading
import time

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SHOTS = os.environ.get("KIOSK_UI_SHOTS", "/tmp/cus-kiosk-ui")
HALINA = {"kind": "iso14443a", "uid": "04:A1:10:22:33:44:80"}
STAFF_CARD = {"kind": "iso14443a", "uid": "04:5A:77:22:33:44:80"}
STAFF_PIN = "2468"

# What the screen shows about Halina (a senior with a disability card) in any language. None of it may
# remain anywhere in the page, visible or hidden, or in the page's state, once her visit is over.
# ("Karta za Jeden Uśmiech" alone is also in the idle screen's hint, so entitlements are matched by full name.)
TRACES = ("Halina", "Wójcik", "Starachowicka Karta", "Starachowice Senior", 'Starachowice "For a Smile"',
          "bezterminowo", "безстроково", "no end date", "zostało 20 dni", "Karta ważna", "Картка дійсна", "Card valid",
          "Dzień dobry", "Добрий день", "Hello", "Zostaw kartę", "Залиште картку", "Leave the card",
          "Pokaż dokument", "Taksówka", "CUS taxi", "Majówka", "512 345 678", "512345678", "Twoje zgłoszenia")

# A capital letter at least 7 mm high (7 mm at 60 cm), measured in the page's own font.
TEXT_MM = 7
TARGET_MM = 20
GAP_MM = 4

# The last press: when, on what, and where (the centre of the element, in CSS px).
_last_press = {"at": 0.0, "el": None, "xy": (-1000.0, -1000.0)}


def wait(browser, seconds=15):
    return WebDriverWait(browser, seconds)


def set_viewport(browser, width, height):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def open_screen(kiosk, browser, width=1920, height=1080):
    set_viewport(browser, width, height)
    browser.get(kiosk.base + "/")
    wait(browser).until(lambda b: b.execute_script("return document.body.dataset.ready === '1' && document.body.dataset.events === 'open'"))


def screen(browser):
    return browser.execute_script("return document.body.dataset.screen")


def title(browser):
    return browser.find_element(By.ID, "title").text


def wait_screen(browser, name, seconds=15):
    wait(browser, seconds).until(lambda b: screen(b) == name)


def press(browser, target):
    """Clicks like a finger, on an element or a CSS selector, waiting for it to be there. A touch of the same
    target, or of the same spot once the screen has changed under the finger, comes at least 0.55 s after the
    one before: the screen ignores such a second touch within 500 ms (tremor). Different keys follow each
    other as fast as a person types."""
    for attempt in range(3):
        el = target
        if isinstance(target, str):
            el = wait(browser).until(lambda b: next((e for e in b.find_elements(By.CSS_SELECTOR, target) if e.is_displayed() and e.is_enabled()), None))
        try:
            _touch(browser, el)
            return
        except StaleElementReferenceException:
            # The screen was drawn again between finding the button and touching it (a list that loaded, a
            # status that changed): a finger would touch the new button in the same place.
            if not isinstance(target, str) or attempt == 2:
                raise


def _touch(browser, el):
    r = el.rect
    xy = (r["x"] + r["width"] / 2, r["y"] + r["height"] / 2)
    last = _last_press
    # Within 100 px counts as the same spot (the screen's own rule is 10 mm: 40 px on the 21.5″, 52 px on the 7″).
    near = abs(xy[0] - last["xy"][0]) < 100 and abs(xy[1] - last["xy"][1]) < 100
    again = last["el"] is not None and last["el"].parent is browser and (el == last["el"] or (near and stale(last["el"])))
    left = 0.55 - (time.monotonic() - last["at"])
    if again and left > 0:
        time.sleep(left)
    el.click()
    last.update(at=time.monotonic(), el=el, xy=xy)


def type_on_keyboard(browser, text):
    """Types on the on-screen keyboard, turning its pages ("Inne znaki") to find each key (the 7″ panel's
    keyboard has a few keys a page, and its pages go round)."""
    for ch in text:
        key = "space" if ch == " " else ch.upper()
        for _ in range(40):
            found = [e for e in browser.find_elements(By.CSS_SELECTOR, "#content [data-key]") if e.get_attribute("data-key") == key]
            if found:
                press(browser, found[0])
                break
            press(browser, "[data-nav=next]")
        else:
            raise AssertionError(f"no key {key!r} on the keyboard")


def typed(browser):
    return browser.find_element(By.ID, "typed").text.strip()


def shot(browser, name):
    os.makedirs(SHOTS, exist_ok=True)
    size = browser.execute_script("return innerWidth + 'x' + innerHeight")
    browser.save_screenshot(os.path.join(SHOTS, f"{name}-{size}.png"))


# ------------------------------------------------------------------ the checks on every screen

AXE = os.environ.get("KIOSK_AXE_JS", os.path.join(os.environ.get("TMPDIR", "/tmp"), "cus-kiosk-axe", "axe.min.js"))


def axe(browser):
    """axe-core in the page with the WCAG 2.0/2.1/2.2 A and AA rules: answers the violations."""
    assert os.path.exists(AXE), f"axe-core not found at {AXE}: .ci/run fetches it (KIOSK_AXE_JS)"
    if not browser.execute_script("return typeof axe !== 'undefined'"):
        browser.execute_script(pathlib.Path(AXE).read_text())
    browser.set_script_timeout(30)
    result = browser.execute_async_script("""const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']}})
          .then(r => done(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' ') + ' ' + (n.failureSummary || '')).slice(0, 5)}))))
          .catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));""")
    return result


OWN_CHECKS = r"""
const panel = arguments[0], textMm = arguments[1], targetMm = arguments[2], gapMm = arguments[3];
const mm = Math.hypot(panel.width, panel.height) / (panel.diagonal_inches * 25.4);
const problems = [];
const hiddenByAncestor = (el) => Boolean(el.closest('[hidden]')) || (document.querySelector('dialog[open]') && !el.closest('dialog[open]'));
const shown = (el) => {
  if (hiddenByAncestor(el)) return false;
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none';
};
const name = (el) => (el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
const rgb = (s) => { const m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
// 1. Touch targets: at least 20 mm both ways, at least 4 mm from every other target.
const targets = [...document.querySelectorAll('button, a[href], input, select, textarea, [role=button], [tabindex]:not([tabindex="-1"])')].filter(shown);
const rects = targets.map((t) => t.getBoundingClientRect());
targets.forEach((t, i) => {
  const r = rects[i];
  if (r.width + 0.5 < targetMm * mm || r.height + 0.5 < targetMm * mm) problems.push(`target ${name(t)} is ${(r.width / mm).toFixed(1)}×${(r.height / mm).toFixed(1)} mm`);
  for (let j = i + 1; j < targets.length; j++) {
    const q = rects[j];
    const gap = Math.max(Math.max(0, q.left - r.right, r.left - q.right), Math.max(0, q.top - r.bottom, r.top - q.bottom));
    if (gap + 0.5 < gapMm * mm) problems.push(`targets ${name(t)} and ${name(targets[j])} are ${(gap / mm).toFixed(1)} mm apart`);
  }
  // Borders of controls (or their fill) against what is behind them: at least 3:1.
  const cs = getComputedStyle(t), behind = bgOf(t.parentElement), fill = rgb(cs.backgroundColor);
  const border = parseFloat(cs.borderTopWidth) > 0 ? ratio(rgb(cs.borderTopColor), behind) : 0;
  const filled = fill.a > 0.5 ? ratio(fill, behind) : 0;
  if (Math.max(border, filled) < 3) problems.push(`control ${name(t)} stands out ${Math.max(border, filled).toFixed(2)}:1 from its background`);
});
// 2. Text: every visible character at least the size of 35 px on the 21.5″ panel, contrast at least 7:1,
//    and inside the viewport and not cut off by the screen's content area.
const content = document.getElementById('content').getBoundingClientRect();
const pen = document.createElement('canvas').getContext('2d');
const caps = new Map();
const capHeight = (cs) => {
  const font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  if (!caps.has(font)) { pen.font = font; caps.set(font, pen.measureText('H').actualBoundingBoxAscent); }
  return caps.get(font);
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (!n.textContent.trim()) continue;
  const el = n.parentElement;
  if (seen.has(el) || !shown(el) || el.closest('.visually-hidden, script, style')) continue;
  seen.add(el);
  const cs = getComputedStyle(el);
  const cap = capHeight(cs);
  if (cap + 0.3 < textMm * mm) problems.push(`text ${name(el)} has ${(cap / mm).toFixed(2)} mm capitals`);
  const c = ratio(rgb(cs.color), bgOf(el));
  if (c < 7) problems.push(`text ${name(el)} has contrast ${c.toFixed(2)}:1`);
  const range = document.createRange(); range.selectNodeContents(n);
  for (const r of range.getClientRects()) {
    if (r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5 || r.top < -0.5 || r.left < -0.5) problems.push(`text ${name(el)} is outside the screen`);
    if (el.closest('#content') && (r.bottom > content.bottom + 0.5 || r.top < content.top - 0.5)) problems.push(`text ${name(el)} is cut off`);
  }
}
targets.forEach((t, i) => { const r = rects[i]; if (r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5 || (t.closest('#content') && r.bottom > content.bottom + 0.5)) problems.push(`target ${name(t)} is cut off`); });
// 3. Nothing scrolls.
const doc = document.documentElement;
if (doc.scrollHeight > innerHeight || doc.scrollWidth > innerWidth) problems.push(`the page is ${doc.scrollWidth}×${doc.scrollHeight} in a ${innerWidth}×${innerHeight} window`);
// 4. Live regions are never inside hidden elements.
for (const el of document.querySelectorAll('[aria-live], [role=alert], [role=status], [role=log]')) {
  if (el.closest('[hidden]') || getComputedStyle(el).display === 'none') problems.push(`live region ${name(el)} is hidden`);
}
// 5. The focus indicator: at least 3:1 against the background, at least 2 px.
const first = targets.find((t) => !t.disabled);
if (first) {
  const before = document.activeElement;
  // A control that already has focus from a touch shows no ring, and focus() on it changes nothing:
  // take the focus away first, so that the ring measured is the one a keyboard or switch user sees.
  if (before === first) first.blur();
  first.focus({focusVisible: true});
  const cs = getComputedStyle(first);
  const width = parseFloat(cs.outlineWidth);
  const c = ratio(rgb(cs.outlineColor), bgOf(first.parentElement));
  if (cs.outlineStyle === 'none' || width < 2 || c < 3) problems.push(`focus on ${name(first)}: ${cs.outlineStyle} ${width}px ${c.toFixed(2)}:1`);
  if (before && before.focus) before.focus();
}
return {problems, lang: doc.lang, mm};
"""


def check_screen(browser, kiosk, name=None, lang=None, run_axe=True):
    """Every screen: axe-core finds nothing, the project's own measurements pass, lang is right; saves a
    screenshot as `name` when given."""
    panel = kiosk.ui()["panel"]
    own = browser.execute_script(OWN_CHECKS, panel, TEXT_MM, TARGET_MM, GAP_MM)
    size = browser.execute_script("return innerWidth + 'x' + innerHeight")
    where = f"{screen(browser)} ({title(browser)!r}, {size})"
    if own["problems"]:
        shot(browser, "failed-" + str(screen(browser)))  # what the checks saw, for whoever reads the failure
    assert own["problems"] == [], f"{where}: {own['problems']}"
    expected = lang or browser.execute_script("return lang")
    assert own["lang"] == expected, f"{where}: lang {own['lang']} != {expected}"
    if run_axe:
        violations = axe(browser)
        assert violations == [], f"{where}: {json.dumps(violations, ensure_ascii=False, indent=1)}"
    if name:
        shot(browser, name)


# ------------------------------------------------------------------ ends of a visit


def assert_no_trace(browser):
    """Idle, and nothing about the last person anywhere: the page (visible or not) and the script's state."""
    wait(browser, 10).until(lambda b: screen(b) == "idle")
    html = browser.execute_script("return document.documentElement.outerHTML")
    text = browser.execute_script("return document.body.innerText")
    state = browser.execute_script("return JSON.stringify({S, stack, route})")
    for trace in TRACES:
        assert trace not in html, f"{trace!r} still in the page"
        assert trace not in text, f"{trace!r} still on screen"
        assert trace not in state, f"{trace!r} still in the page's state"
    assert browser.execute_script("return S.verdict === null && S.session === null && S.form === null && S.ticket === null && stack.length === 0")
    assert browser.find_element(By.ID, "live").get_attribute("textContent") == ""
    assert browser.execute_script("return document.documentElement.lang") == "pl"
    assert browser.execute_script("return document.activeElement.id") == "title"


def assert_session_gone(kiosk, session):
    status, _, body = kiosk.post("/api/v1/requests", {"session": session, "service": "senior_taxi", "details": {}, "lang": "pl"})
    assert status == 410, (status, body)
    assert body["error"]["code"] == "session_expired"


def shown_session(browser):
    return browser.execute_script("return S.session")


class EventLog:
    """The kiosk's event stream (GET /api/v1/events) as the test reads it, next to the browser."""

    def __init__(self, base):
        self.events = []
        self.cond = threading.Condition()
        self.connected = threading.Event()
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.conn.request("GET", "/api/v1/events")
        self.response = self.conn.getresponse()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "the event stream did not say it was connected"

    def _read(self):
        name, data = None, []
        try:
            for raw in self.response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith(":"):
                    self.connected.set()
                elif line == "":
                    if data:
                        with self.cond:
                            self.events.append((name or "message", json.loads("\n".join(data))))
                            self.cond.notify_all()
                    name, data = None, []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        except Exception:  # closed by close(), or kioskd stopped
            pass

    def wait_for(self, name, predicate=lambda d: True, timeout=15):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for n, d in self.events:
                    if n == name and predicate(d):
                        return d
                left = deadline - time.monotonic()
                assert left > 0, f"no {name} event within {timeout} s; got {self.events}"
                self.cond.wait(left)

    def close(self):
        # Shut the socket down first: closing the response alone waits for the reading thread, which sits in
        # a read until kioskd's next keep-alive comment (up to 15 s).
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
        self.thread.join(5)
        try:
            self.conn.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stale(el):
    try:
        el.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
