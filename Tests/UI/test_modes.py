"""Staff verification (a staff card and its PIN turn every tap into a full-screen VALID / NOT VALID with the
holder's name), partner mode (valid or not and the card kind, never a name), and the states a resident must
understand: kioskd without its central (an offline banner with the data's age), a missing reader, an unreadable
card."""
import pathlib
import subprocess

import pytest
from selenium.webdriver.common.by import By

from conftest import BIN, STAFF_PIN, start_kiosk, stop_kiosk
from uihelp import (HALINA, STAFF_CARD, assert_no_trace, check_screen, open_screen, press, screen, title,
                    type_on_keyboard, wait, wait_screen)


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


def test_staff_unlock_with_a_pin_then_verify_taps_and_numbers(kiosk, browser):
    open_screen(kiosk, browser)
    try:
        kiosk.place(STAFF_CARD)
        wait_screen(browser, "verdict")
        press(browser, "#staff")
        wait_screen(browser, "pin")
        check_screen(browser, kiosk, "staff-pin")
        type_on_keyboard(browser, "1111")
        assert browser.find_element(By.ID, "typed").text == "••••"
        press(browser, "#unlock")
        wait(browser).until(lambda b: "Zły PIN" in b.find_element(By.ID, "entry-error").text)
        assert "4" in browser.find_element(By.ID, "entry-error").text  # tries left
        type_on_keyboard(browser, STAFF_PIN)
        press(browser, "#unlock")
        wait(browser).until(lambda b: title(b) == "Przyłóż kartę klienta")
        assert "Anna" not in browser.execute_script("return document.documentElement.outerHTML + JSON.stringify(S)")
        check_screen(browser, kiosk, "staff-waiting")
    finally:
        kiosk.remove()
    kiosk.place(HALINA)
    try:
        wait(browser).until(lambda b: screen(b) == "check" and title(b) == "WAŻNA")
        assert browser.find_element(By.ID, "holder").text == "Halina W."
        lines = [p.text for p in browser.find_elements(By.CSS_SELECTOR, ".entitlement")]
        assert any("Karta Seniora" in x and "bezterminowo" in x for x in lines), lines
        assert browser.execute_script("return lastSound") == "valid"
        check_screen(browser, kiosk, "staff-valid")
    finally:
        kiosk.remove()
    press(browser, "#next-card")
    wait(browser).until(lambda b: title(b) == "Przyłóż kartę klienta")
    press(browser, "#type-number")
    type_on_keyboard(browser, "KDR1004")
    press(browser, "#entry-submit")
    wait(browser).until(lambda b: title(b) == "NIEWAŻNA")
    assert "straciła ważność" in browser.find_element(By.ID, "reason").text
    assert browser.execute_script("return lastSound") == "invalid"
    check_screen(browser, kiosk, "staff-invalid")
    press(browser, "[data-lang=uk]")
    assert title(browser) == "НЕДІЙСНА"
    check_screen(browser, kiosk, lang="uk")
    press(browser, "[data-lang=pl]")
    press(browser, "#next-card")
    press(browser, "#staff-end")
    wait(browser).until(lambda b: title(b) == "Przyłóż kartę do czytnika")
    assert browser.execute_script("return STAFF") is None
    assert_no_trace(browser)


def test_a_resident_is_never_offered_verification(kiosk, browser):
    open_screen(kiosk, browser)
    try:
        kiosk.place(HALINA)
        wait_screen(browser, "verdict")
        assert not browser.find_elements(By.ID, "staff")
        assert "pracownik" not in browser.execute_script("return document.body.innerText").lower()
    finally:
        kiosk.remove()
    assert_no_trace(browser)


def test_partner_mode_says_valid_or_not_and_the_kind_never_a_name(browser):
    k = start_kiosk({"KIOSK_MODE": "partner"})
    try:
        assert k.ui()["mode"] == "partner"
        open_screen(k, browser)
        assert title(browser) == "Przyłóż kartę klienta"
        assert not browser.find_elements(By.ID, "browse")
        check_screen(browser, k, "partner-idle")
        k.place(HALINA)
        wait(browser).until(lambda b: title(b) == "WAŻNA")
        html = browser.execute_script("return document.documentElement.outerHTML")
        assert "Halina" not in html and not browser.find_elements(By.ID, "holder")
        assert any("Karta Seniora" in p.text for p in browser.find_elements(By.CSS_SELECTOR, ".entitlement"))
        assert not browser.find_elements(By.ID, "services")
        check_screen(browser, k, "partner-valid")
        k.remove()
        press(browser, "#next-card")
        press(browser, "#type-number")
        type_on_keyboard(browser, "KDR1004")
        press(browser, "#entry-submit")
        wait(browser).until(lambda b: title(b) == "NIEWAŻNA")
        check_screen(browser, k, "partner-invalid")
    finally:
        stop_kiosk(k)


def test_offline_banner_with_the_age_of_the_data(browser):
    # A central that is not there: the kiosk works from its replica and says how old it is.
    k = start_kiosk({"KIOSK_CENTRAL_URL": "http://127.0.0.1:9", "KIOSK_CENTRAL_TOKEN": "cusk_22_offlinetesttoken"})
    try:
        open_screen(k, browser)
        banner = browser.find_element(By.ID, "offline")
        wait(browser, 40).until(lambda b: banner.is_displayed())
        assert banner.text.startswith("Bez sieci — dane z ")
        import re
        assert re.fullmatch(r"Bez sieci — dane z \d\d\.\d\d, \d\d:\d\d", banner.text), banner.text
        check_screen(browser, k, "offline")
        press(browser, "[data-lang=uk]")
        assert banner.text.startswith("Офлайн — дані від ")
        press(browser, "[data-lang=pl]")
    finally:
        stop_kiosk(k)


def test_a_missing_reader_gets_one_plain_instruction(browser):
    k = start_kiosk({"KIOSK_NFC_DEVICE": "pn532_uart:/nonexistent/reader"})
    try:
        open_screen(k, browser)
        wait(browser, 30).until(lambda b: title(b) == "Czytnik kart nie działa")
        assert browser.find_element(By.CSS_SELECTOR, "#content .lead").text == "Wpisz numer karty. Jest wydrukowany na karcie."
        assert browser.find_element(By.ID, "type-number").is_displayed()
        check_screen(browser, k, "reader-missing")
        press(browser, "[data-lang=uk]")
        assert title(browser) == "Зчитувач карток не працює"
        check_screen(browser, k, lang="uk")
    finally:
        stop_kiosk(k)


def text_ndef(length):
    payload = b"\x02en" + b"a" * (length - 7)
    return (bytes([0xD1, 0x01, len(payload), 0x54]) + payload).hex()


def test_an_unreadable_card_is_asked_again_kindly(kiosk, browser):
    open_screen(kiosk, browser)
    subprocess.run([str(BIN / "pn532-emulator"), "fault", "tear", "1", "--control", kiosk.control], check=True)
    try:
        kiosk.place({"kind": "ntag215", "uid": "04:AA:BB:CC:DD:EE:01", "ndef": text_ndef(200)})
        wait(browser).until(lambda b: title(b) == "Przyłóż kartę jeszcze raz")
        assert "Połóż ją płasko" in browser.find_element(By.CSS_SELECTOR, "#content .lead").text
        assert browser.execute_script("return lastSound") == "retry"
        check_screen(browser, kiosk, "unreadable")
    finally:
        kiosk.remove()
    press(browser, "#done")
    assert_no_trace(browser)
