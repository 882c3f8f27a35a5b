"""Fixtures for the kiosk UI tests: a real kioskd reading an emulated PN532 through libnfc, and a
real headless Chromium driven by Selenium."""
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zoneinfo

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("KIOSK_BIN_DIR", ROOT / ".build" / "debug"))


def warsaw_day(offset):
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Warsaw")).date()
    return (today + datetime.timedelta(days=offset)).isoformat()


REGISTRY = f"""card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status
SKS-0001;04:A1:10:22:33:44:80;senior60;;Halina;Wójcik;{warsaw_day(-400)};;active
SKS-0001;04:A1:10:22:33:44:80;disability;;Halina;Wójcik;{warsaw_day(-400)};{warsaw_day(20)};active
KDR-1004;;large_family;child;Jakub;Dąbrowski;{warsaw_day(-400)};{warsaw_day(-2)};active
STF-0001;04:5A:77:22:33:44:80;staff;;Anna;Kowalska;{warsaw_day(-400)};;active
"""

# The 21.5″ kiosk at Skałka and the 7″ outreach display, as kioskd is told about them.
BIG = {"KIOSK_UI_PANEL": "1920x1080@21.5"}
SMALL = {"KIOSK_UI_PANEL": "800x480@7"}
DEFAULT_UI = {"mode": "resident", "panel": {"width": 1920, "height": 1080, "diagonal_inches": 21.5}, "speech": False,
              "printer": False, "inactivity_seconds": 75, "answer_seconds": 30, "kiosk_phone": None}


class Kiosk:
    """One kioskd (real libnfc) reading one emulated PN532, in its own temporary state directory."""

    def __init__(self, tmp, env_extra=None):
        self.tmp = tmp
        self.state = os.path.join(tmp, "state")
        self.control = os.path.join(tmp, "pn532.sock")
        self.link = os.path.join(tmp, "pn532")
        self.env = dict(os.environ, KIOSK_STATE_DIR=self.state, LIBNFC_LOG_LEVEL="0", **(env_extra or {}))
        # The emulator's reader, unless the test names another device (a missing one).
        self.device = (env_extra or {}).get("KIOSK_NFC_DEVICE", "pn532_uart:" + self.link)
        self.emulator = None
        self.kioskd = None
        self.base = None

    def start_emulator(self):
        self.emulator = subprocess.Popen([str(BIN / "pn532-emulator"), "serve", "--link", self.link, "--control", self.control],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(self.control):
                break
            time.sleep(0.05)

    def start_kioskd(self):
        env = dict(self.env, KIOSK_HTTP_ADDR="127.0.0.1:0", KIOSK_NFC_DEVICE=self.device,
                   KIOSK_UI_DIR=str(ROOT / "Kiosk"))
        addr_file = pathlib.Path(self.state) / "http.addr"
        if addr_file.exists():
            addr_file.unlink()
        log_path = os.path.join(self.tmp, "kioskd.log")
        with open(log_path, "a") as log:
            self.kioskd = subprocess.Popen([str(BIN / "kioskd")], env=env, stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(400):
            if addr_file.exists() and addr_file.read_text().strip():
                break
            assert self.kioskd.poll() is None, pathlib.Path(log_path).read_text()
            time.sleep(0.05)
        self.base = "http://" + addr_file.read_text().strip()

    def stop_kioskd(self):
        self.kioskd.terminate()
        assert self.kioskd.wait(timeout=15) == 0

    def restart_kioskd(self):
        """A new kioskd on the same state directory (and a new port)."""
        self.stop_kioskd()
        self.start_kioskd()

    def place(self, card):
        path = pathlib.Path(self.tmp) / "card.json"
        path.write_text(json.dumps(card))
        subprocess.run([str(BIN / "pn532-emulator"), "place", str(path), "--control", self.control], check=True)

    def remove(self):
        subprocess.run([str(BIN / "pn532-emulator"), "remove", "--control", self.control], check=True)

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=5) as r:
            return json.load(r)

    def status(self):
        return self.get("/api/v1/status")

    def ui(self):
        """GET /api/v1/ui (the panel, mode and timeouts the screen is drawn for)."""
        if not hasattr(self, "_ui"):
            self._ui = self.get("/api/v1/ui")
        return self._ui

    def post(self, path, body):
        """POSTs JSON (with Content-Type: application/json); answers (status, headers, parsed body)."""
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.headers, json.load(r)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.headers, json.loads(raw) if raw else None


STAFF_PIN = "2468"


def start_kiosk(env_extra=None):
    """Starts an emulator and a kioskd on a fresh state directory holding REGISTRY (and the staff card's
    PIN); stop with stop_kiosk."""
    tmp = tempfile.mkdtemp(prefix="cus-ui-")
    # Speech goes to WAV files (a test machine has no speakers): each one is an utterance the screen asked for.
    k = Kiosk(tmp, {**BIG, "KIOSK_SPEECH_WAV_DIR": os.path.join(tmp, "speech"), **(env_extra or {})})
    os.makedirs(os.path.join(tmp, "speech"), exist_ok=True)
    csv = os.path.join(tmp, "registry.csv")
    pathlib.Path(csv).write_text(REGISTRY)
    subprocess.run([str(BIN / "kioskctl"), "replica", "import", csv], env=k.env, check=True, capture_output=True)
    subprocess.run([str(BIN / "kioskctl"), "staff", "pin", "set", "STF-0001", "--pin", STAFF_PIN], env=k.env, check=True, capture_output=True)
    k.start_emulator()
    k.start_kioskd()
    return k


def stop_kiosk(k):
    k.stop_kioskd()
    k.emulator.terminate()
    k.emulator.wait(timeout=5)
    shutil.rmtree(k.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


@pytest.fixture(scope="module")
def browser():
    options = Options()
    # As the appliance runs it (systemd/kiosk-ui.service): sound may play without a touch first.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1920,1080", "--lang=pl-PL",
                "--autoplay-policy=no-user-gesture-required", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    options.binary_location = chromium
    # The console is read by the CSP test (a blocked script or style is logged there).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
