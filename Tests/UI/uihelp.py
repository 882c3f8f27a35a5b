"""Helpers shared by the UI tests: waiting, screenshots, the event stream as a test sees it, and the
two checks every way of ending a session must pass (no trace on screen, no session on the server)."""
import json
import os
import threading
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

SHOTS = os.environ.get("KIOSK_UI_SHOTS", "/tmp/cus-kiosk-ui")
HALINA = {"kind": "iso14443a", "uid": "04:A1:10:22:33:44:80"}

# What the screen shows about Halina (a senior with a disability card) in any language. None of it may
# remain anywhere in the page, visible or hidden, once her session is over. ("Karta za Jeden Uśmiech"
# alone is also in the idle screen's hint, so the entitlement is matched by its full name.)
TRACES = ("Halina", "Wójcik", "Starachowicka Karta", "Starachowice Senior", 'Starachowice "For a Smile"',
          "bezterminowo", "безстроково", "no end date", "zostało 20 dni", "Karta ważna", "Картка дійсна", "Card valid",
          "Dzień dobry", "Добрий день", "Hello", "Zostaw kartę", "Залиште картку", "Leave the card",
          "dokument", "Стара картка", "staff may ask", "Taksówka", "CUS taxi")


def wait(browser, seconds=15):
    return WebDriverWait(browser, seconds)


def shot(browser, name):
    os.makedirs(SHOTS, exist_ok=True)
    browser.save_screenshot(os.path.join(SHOTS, name + ".png"))


def open_screen(kiosk, browser):
    browser.get(kiosk.base + "/")
    wait(browser).until(lambda b: b.execute_script("return document.body.dataset.events") == "open")


def shown_session(browser):
    return browser.execute_script("return lastEvent && lastEvent.session")


def assert_idle_without_trace(browser):
    assert browser.find_element(By.ID, "idle").is_displayed()
    for screen in ("entry", "verdict", "services", "requested"):
        assert not browser.find_element(By.ID, screen).is_displayed(), screen
    html = browser.execute_script("return document.body.innerHTML")
    text = browser.execute_script("return document.body.innerText")
    for trace in TRACES:
        assert trace not in html, f"{trace!r} still in the page"
        assert trace not in text, f"{trace!r} still on screen"
    assert browser.execute_script("return lastEvent") is None
    assert browser.find_element(By.ID, "live").get_attribute("textContent") == ""
    assert not browser.find_elements(By.CSS_SELECTOR, "#verdict-entitlements li")


def allowed_service(kiosk):
    """A service anyone may request (the public catalogue says it is available), from the kiosk's own catalogue."""
    services = kiosk.get("/api/v1/services")["services"]
    return next(s["id"] for s in services if s["available"])


def assert_session_gone(kiosk, session):
    status, _, body = kiosk.post("/api/v1/requests", {"session": session, "service": allowed_service(kiosk)})
    assert status == 410, (status, body)
    assert body["error"]["code"] == "session_expired"


class EventLog:
    """The kiosk's event stream (GET /api/v1/events) as the test reads it, next to the browser."""

    def __init__(self, base):
        self.events = []
        self.cond = threading.Condition()
        self.connected = threading.Event()
        self.response = urllib.request.urlopen(base + "/api/v1/events", timeout=120)
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
        try:
            self.response.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_for_idle(browser, seconds=15):
    wait(browser, seconds).until(EC.visibility_of_element_located((By.ID, "idle")))
