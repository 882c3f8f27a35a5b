"""The kiosk screen as a resident sees it, in a real headless Chromium: tap a card on the emulated
reader (real libnfc inside kioskd), type a number, switch language."""
import os

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

SHOTS = os.environ.get("KIOSK_UI_SHOTS", "/tmp/cus-kiosk-ui")


def wait(browser, seconds=15):
    return WebDriverWait(browser, seconds)


def shot(browser, name):
    os.makedirs(SHOTS, exist_ok=True)
    browser.save_screenshot(os.path.join(SHOTS, name + ".png"))


def test_idle_screen_invites_a_tap_in_large_type(kiosk, browser):
    browser.get(kiosk.base + "/")
    title = wait(browser).until(EC.visibility_of_element_located((By.ID, "idle-title")))
    assert title.text == "Przyłóż kartę do czytnika"
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "reader-state"), "Czytnik gotowy"))
    assert float(title.value_of_css_property("font-size").rstrip("px")) >= 40
    button = browser.find_element(By.ID, "type-number")
    assert button.size["height"] >= 60
    shot(browser, "idle")


def test_a_tapped_card_shows_its_verdict_and_greeting(kiosk, browser):
    browser.get(kiosk.base + "/")
    wait(browser).until(lambda b: b.execute_script("return document.body.dataset.events") == "open")
    kiosk.place({"kind": "iso14443a", "uid": "04:A1:10:22:33:44:80"})
    try:
        verdict = wait(browser).until(EC.visibility_of_element_located((By.ID, "verdict")))
        assert verdict.get_attribute("data-verdict") == "valid"
        assert browser.find_element(By.ID, "verdict-title").text == "Karta ważna"
        assert browser.find_element(By.ID, "verdict-greeting").text == "Dzień dobry, Halina W.!"
        items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#verdict-entitlements li")]
        assert any("Karta Seniora" in i and "bezterminowo" in i for i in items)
        assert any("Jeden Uśmiech" in i and "zostało 20 dni" in i for i in items)
        assert "dokument" in browser.find_element(By.ID, "verdict-note").text  # UID-only chip: low assurance
        shot(browser, "tap-valid")
    finally:
        kiosk.remove()


def test_typing_a_number_checks_it(kiosk, browser):
    browser.get(kiosk.base + "/")
    wait(browser).until(EC.element_to_be_clickable((By.ID, "type-number"))).click()
    field = wait(browser).until(EC.visibility_of_element_located((By.ID, "number")))
    field.send_keys("kdr 1004")
    browser.find_element(By.ID, "entry-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "verdict-title"), "Karta nieważna"))
    assert "straciła ważność" in browser.find_element(By.ID, "verdict-reason").text
    assert browser.find_element(By.ID, "verdict").get_attribute("data-kind") == "no"
    shot(browser, "typed-expired")
    browser.find_element(By.ID, "verdict-done").click()
    wait(browser, 5).until(EC.visibility_of_element_located((By.ID, "idle")))
    assert not browser.find_element(By.ID, "verdict").is_displayed()


def test_a_bad_number_is_explained_and_nothing_happens(kiosk, browser):
    taps_before = len(kiosk_taps(kiosk))
    browser.get(kiosk.base + "/")
    wait(browser).until(EC.element_to_be_clickable((By.ID, "type-number"))).click()
    field = wait(browser).until(EC.visibility_of_element_located((By.ID, "number")))
    field.send_keys("12$4")
    browser.find_element(By.ID, "entry-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "entry-error"), "tylko litery i cyfry"))
    assert browser.find_element(By.ID, "entry").is_displayed()
    assert len(kiosk_taps(kiosk)) == taps_before


def test_ukrainian_and_english(kiosk, browser):
    browser.get(kiosk.base + "/")
    wait(browser).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-lang=uk]"))).click()
    assert browser.find_element(By.ID, "idle-title").text == "Прикладіть картку до зчитувача"
    assert browser.execute_script("return document.documentElement.lang") == "uk"
    browser.find_element(By.CSS_SELECTOR, "[data-lang=en]").click()
    assert browser.find_element(By.ID, "idle-title").text == "Tap your card on the reader"


def kiosk_taps(kiosk):
    import json
    import urllib.request
    with urllib.request.urlopen(kiosk.base + "/api/v1/taps?limit=100", timeout=5) as r:
        return json.load(r)["taps"]


def test_a_resident_requests_a_service_after_a_valid_tap(kiosk, browser):
    pending_before = kiosk.status()["outbox"]["pending"]
    browser.get(kiosk.base + "/")
    wait(browser).until(lambda b: b.execute_script("return document.body.dataset.events") == "open")
    kiosk.place({"kind": "iso14443a", "uid": "04:A1:10:22:33:44:80"})
    try:
        wait(browser).until(EC.element_to_be_clickable((By.ID, "request-service"))).click()
        taxi = wait(browser).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-service=senior_taxi]")))
        names = [b.get_attribute("data-service") for b in browser.find_elements(By.CSS_SELECTOR, "#services-list button")]
        assert "family_crisis_support" not in names  # a senior with a disability card, not a large family
        shot(browser, "services")
        taxi.click()
        wait(browser).until(EC.visibility_of_element_located((By.ID, "requested")))
        assert browser.find_element(By.ID, "requested-service").text == "Taksówka CUS"
        assert len(browser.find_element(By.ID, "requested-id").text) == 6
        shot(browser, "requested")
    finally:
        kiosk.remove()
    # Stored durably in the outbox before the screen said so (a standalone kiosk keeps it queued).
    assert kiosk.status()["outbox"]["pending"] == pending_before + 1


def test_a_refused_card_offers_no_service(kiosk, browser):
    browser.get(kiosk.base + "/")
    wait(browser).until(EC.element_to_be_clickable((By.ID, "type-number"))).click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "number"))).send_keys("KDR-1004")
    browser.find_element(By.ID, "entry-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "verdict-title"), "Karta nieważna"))
    assert not browser.find_element(By.ID, "request-service").is_displayed()
