"""A kiosk on its first start downloads the registry from a real cus-central: while it does, the screen
says how far it got ("Przygotowanie danych: 45 %") instead of silently knowing no cards. A proxy between
kioskd and the central holds the snapshot part-way, so the screen can be seen mid-download."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from selenium.webdriver.common.by import By

from conftest import BIN, Kiosk, warsaw_day, stop_kiosk
from uihelp import set_viewport, shot, wait

CARDS = 8000


class StallingProxy:
    """Forwards TCP to the central; the reply to GET /v1/registry/snapshot stops after `stall_after`
    bytes until release()."""

    def __init__(self, upstream_port, stall_after):
        self.upstream_port = upstream_port
        self.stall_after = stall_after
        self.released = threading.Event()
        self.stalling = threading.Event()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            snapshot = threading.Event()
            threading.Thread(target=self._pump, args=(client, upstream, snapshot, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, snapshot, True), daemon=True).start()

    def _pump(self, source, sink, snapshot, is_reply):
        forwarded, held = 0, False
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not is_reply and b"/v1/registry/snapshot" in data[:64]:
                    snapshot.set()
                if is_reply and snapshot.is_set() and not held:
                    forwarded += len(data)
                    if forwarded > self.stall_after:
                        held = True
                        self.stalling.set()
                        self.released.wait()
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.server.close()


def central(tmp, *args):
    return subprocess.run([str(BIN / "cus-central"), *args, "--database", "sqlite:" + os.path.join(tmp, "central.db")],
                          check=True, capture_output=True, text=True).stdout


def test_the_screen_shows_the_bootstrap_progress(browser):
    tmp = tempfile.mkdtemp(prefix="cus-ui-bootstrap-")
    rows = ["card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status"]
    rows += [f"PRG-{i:05d};;senior60;;Jan;Nowak;{warsaw_day(-10)};;active" for i in range(CARDS)]
    csv = pathlib.Path(tmp) / "registry.csv"
    csv.write_text("\n".join(rows) + "\n")
    central(tmp, "registry", "import", str(csv))
    token = central(tmp, "kiosk", "add", "ui-bootstrap").strip()
    address_file = os.path.join(tmp, "central.addr")
    serve = subprocess.Popen([str(BIN / "cus-central"), "serve", "--database", "sqlite:" + os.path.join(tmp, "central.db"),
                              "--listen", "127.0.0.1:0", "--address-file", address_file],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = None
    kiosk = None
    try:
        for _ in range(600):
            if os.path.exists(address_file) and open(address_file).read().strip():
                break
            time.sleep(0.05)
        port = int(open(address_file).read().strip().rsplit(":", 1)[1])
        # The gzip snapshot is ~28 bytes a card: some 3,000 cards get through, then it waits part-way.
        proxy = StallingProxy(port, 90_000)
        kiosk = Kiosk(tmp, {"KIOSK_CENTRAL_URL": f"http://127.0.0.1:{proxy.port}", "KIOSK_CENTRAL_TOKEN": token})
        kiosk.start_emulator()
        kiosk.start_kioskd()

        set_viewport(browser, 1920, 1080)  # the 21.5″ panel, whatever the window
        browser.get(kiosk.base + "/")
        preparing = browser.find_element(By.ID, "preparing")
        pattern = re.compile(r"Przygotowanie danych: (\d+) %")
        wait(browser, 60).until(lambda b: proxy.stalling.is_set() and preparing.is_displayed()
                                and pattern.fullmatch(preparing.text) and int(pattern.fullmatch(preparing.text).group(1)) > 0)
        # Once what got through is stored (a moment), the figure stays put: the screen shows the status's.
        time.sleep(2)
        percent = kiosk.status()["bootstrap"]["percent"]
        assert 0 < percent < 100
        wait(browser, 10).until(lambda b: preparing.text == f"Przygotowanie danych: {percent} %")
        browser.execute_script("document.querySelector('footer').scrollIntoView()")
        shot(browser, "bootstrap-progress")
        browser.find_element(By.CSS_SELECTOR, "[data-lang=uk]").click()
        assert preparing.text == f"Підготовка даних: {percent} %"
        browser.find_element(By.CSS_SELECTOR, "[data-lang=en]").click()
        assert preparing.text == f"Preparing data: {percent} %"
        browser.find_element(By.CSS_SELECTOR, "[data-lang=pl]").click()

        # The download goes on and ends: the notice goes, and the kiosk knows every card.
        proxy.release()
        wait(browser, 120).until(lambda b: not preparing.is_displayed())
        assert preparing.text == ""
        assert kiosk.status()["replica"]["cards"] == CARDS
    finally:
        if proxy:
            proxy.close()
        if kiosk and kiosk.kioskd:
            stop_kiosk(kiosk)
        serve.terminate()
        serve.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
