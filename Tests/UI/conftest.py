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
"""


class Kiosk:
    def __init__(self, base, control, state):
        self.base = base
        self.control = control
        self.state = state

    def place(self, card):
        path = pathlib.Path(self.state) / "card.json"
        path.write_text(json.dumps(card))
        subprocess.run([str(BIN / "pn532-emulator"), "place", str(path), "--control", self.control], check=True)

    def remove(self):
        subprocess.run([str(BIN / "pn532-emulator"), "remove", "--control", self.control], check=True)

    def status(self):
        with urllib.request.urlopen(self.base + "/api/v1/status", timeout=5) as r:
            return json.load(r)


@pytest.fixture(scope="module")
def kiosk():
    tmp = tempfile.mkdtemp(prefix="cus-ui-")
    state = os.path.join(tmp, "state")
    env = dict(os.environ, KIOSK_STATE_DIR=state, LIBNFC_LOG_LEVEL="0")
    csv = os.path.join(tmp, "registry.csv")
    pathlib.Path(csv).write_text(REGISTRY)
    subprocess.run([str(BIN / "kioskctl"), "replica", "import", csv], env=env, check=True, capture_output=True)

    link, control = os.path.join(tmp, "pn532"), os.path.join(tmp, "pn532.sock")
    emulator = subprocess.Popen([str(BIN / "pn532-emulator"), "serve", "--link", link, "--control", control],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(control):
            break
        time.sleep(0.05)
    env.update(KIOSK_HTTP_ADDR="127.0.0.1:0", KIOSK_NFC_DEVICE="pn532_uart:" + link, KIOSK_UI_DIR=str(ROOT / "Kiosk"))
    log = open(os.path.join(tmp, "kioskd.log"), "w")
    kioskd = subprocess.Popen([str(BIN / "kioskd")], env=env, stdout=subprocess.DEVNULL, stderr=log)
    addr_file = pathlib.Path(state) / "http.addr"
    for _ in range(400):
        if addr_file.exists() and addr_file.read_text().strip():
            break
        assert kioskd.poll() is None, pathlib.Path(tmp, "kioskd.log").read_text()
        time.sleep(0.05)
    k = Kiosk("http://" + addr_file.read_text().strip(), control, tmp)
    yield k
    kioskd.terminate()
    emulator.terminate()
    assert kioskd.wait(timeout=15) == 0
    emulator.wait(timeout=5)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800", "--lang=pl-PL"):
        options.add_argument(arg)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
