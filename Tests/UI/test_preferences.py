"""A holder's own screen: larger text and reading aloud from the idle screen, and "Moje ustawienia" to have
the kiosk remember them (and the language) with her card, so that her next tap opens in her mode; "Zapomnij"
takes them away again. Taps come from the emulator."""
import pytest
from selenium.webdriver.common.by import By

from conftest import start_kiosk, stop_kiosk
from uihelp import HALINA, assert_no_trace, check_screen, open_screen, press, screen, wait, wait_screen


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


def large(browser):
    return browser.execute_script("return document.documentElement.classList.contains('large')")


def shown_mode(browser):
    return browser.execute_script("return [document.documentElement.lang, S.speech, S.large]")


def message(browser):
    """The settings screen's message, read in the page (the screen may be drawn again at any moment)."""
    return browser.execute_script("const m = document.getElementById('prefs-message'); return m ? m.textContent : ''")


def open_prefs(browser):
    """From the verdict: "Dalej" until "Moje ustawienia" shows, then into it."""
    for _ in range(6):
        if [e for e in browser.find_elements(By.ID, "prefs") if e.is_displayed()]:
            break
        press(browser, "#next-page")
    press(browser, "#prefs")
    wait_screen(browser, "prefs")


def test_settings_stored_with_the_card_open_at_the_next_tap_and_can_be_forgotten(kiosk, browser):
    open_screen(kiosk, browser)
    press(browser, "#large-text")
    wait(browser).until(lambda b: large(b))
    assert browser.find_element(By.ID, "large-text").get_attribute("aria-pressed") == "true"
    check_screen(browser, kiosk, "idle-large")
    press(browser, "#speech")
    try:
        kiosk.place(HALINA)
        wait_screen(browser, "verdict")
        # The same person keeps what she chose before her tap.
        assert shown_mode(browser) == ["pl", True, True]
        check_screen(browser, kiosk, "verdict-large")
        press(browser, "[data-lang=uk]")
        open_prefs(browser)
        check_screen(browser, kiosk, "prefs", lang="uk")
        assert not browser.find_elements(By.ID, "prefs-forget")
        press(browser, "#prefs-save")
        wait(browser).until(lambda b: "Запам'ятано" in message(b))
        assert not browser.find_elements(By.ID, "prefs-save")
        assert browser.find_element(By.ID, "prefs-forget").is_displayed()
    finally:
        kiosk.remove()
    assert_no_trace(browser)
    assert shown_mode(browser) == ["pl", False, False] and not large(browser)

    # Her next tap: Ukrainian, larger text, read aloud, before she touches anything.
    try:
        kiosk.place(HALINA)
        wait(browser).until(lambda b: screen(b) == "verdict" and shown_mode(b) == ["uk", True, True])
        assert large(browser)
        open_prefs(browser)
        assert "пам'ятає" in message(browser)
        press(browser, "#prefs-forget")
        wait(browser).until(lambda b: "забув" in message(b))
    finally:
        kiosk.remove()
    assert_no_trace(browser)

    # Forgotten: the next tap opens as for anyone.
    try:
        kiosk.place(HALINA)
        wait_screen(browser, "verdict")
        assert shown_mode(browser) == ["pl", False, False] and not large(browser)
    finally:
        kiosk.remove()
    assert_no_trace(browser)


def test_a_typed_number_offers_no_settings_to_store(kiosk, browser):
    open_screen(kiosk, browser)
    status, _, body = kiosk.post("/api/v1/check", {"number": "SKS-0001"})
    assert status == 200 and body["verdict"] == "valid" and "preferences" not in body
    wait_screen(browser, "verdict")
    assert not browser.find_elements(By.ID, "prefs")
    press(browser, "#done")
    wait_screen(browser, "idle")
