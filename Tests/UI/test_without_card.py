"""Without a chip: the public catalogue and a coordinator's call-back, and a card number typed on the on-screen
keypad (the national Large Family Card has no chip): the verdict without a name, "show your ID at the desk",
and the pause after too many unknown numbers as a calm countdown."""
import re
import time

import pytest
from selenium.webdriver.common.by import By

from conftest import start_kiosk, stop_kiosk
from uihelp import (EventLog, assert_no_trace, assert_session_gone, check_screen, open_screen, press, screen, title,
                    type_on_keyboard, typed, wait, wait_screen)


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


def test_the_public_catalogue_one_service_a_screen_and_a_call_back(kiosk, browser):
    open_screen(kiosk, browser)
    press(browser, "#browse")
    wait(browser).until(lambda b: screen(b) == "browse" and b.find_elements(By.ID, "fee"))
    first = title(browser)
    services = kiosk.get("/api/v1/services")["services"]
    assert first == services[0]["name"]["pl"]
    assert "Usługa 1 z" in browser.find_element(By.CSS_SELECTOR, "#content .step").text
    check_screen(browser, kiosk, "browse")
    # Each service on its own screen: what, who, when, what it costs without a card (or that it needs one).
    press(browser, "#next-service")
    wait(browser).until(lambda b: title(b) == services[1]["name"]["pl"])
    fee = browser.find_element(By.ID, "fee").text
    assert fee.startswith("Cena bez karty") or fee == "Tylko dla osób z kartą."
    press(browser, "[data-lang=uk]")
    assert title(browser) == services[1]["name"]["uk"]
    check_screen(browser, kiosk, "browse-uk", lang="uk")
    press(browser, "[data-lang=pl]")
    press(browser, "#callback")
    wait_screen(browser, "callbackPhone")
    press(browser, "#answer")  # nothing typed yet
    assert "polski numer" in browser.find_element(By.ID, "entry-error").text
    type_on_keyboard(browser, "512345678")
    assert typed(browser) == "512 345 678"
    check_screen(browser, kiosk, "callback-phone")
    press(browser, "#answer")
    wait_screen(browser, "callbackConfirm")
    assert browser.find_element(By.ID, "callback-phone").text == "Koordynator zadzwoni pod numer 512 345 678."
    check_screen(browser, kiosk, "callback-confirm")
    press(browser, "#send")
    wait_screen(browser, "ticket")
    assert re.fullmatch(r"\S+-\S+", browser.find_element(By.ID, "ticket").get_attribute("data-ticket"))
    check_screen(browser, kiosk, "callback-ticket")
    press(browser, "#done")
    assert_no_trace(browser)


def test_a_typed_number_shows_the_verdict_without_a_name(kiosk, browser):
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        press(browser, "#type-number")
        wait_screen(browser, "number")
        check_screen(browser, kiosk, "number")
        type_on_keyboard(browser, "SKS0001")
        assert typed(browser) == "SKS0001"
        press(browser, "#entry-submit")
        wait_screen(browser, "verdict")
        event = events.wait_for("check", lambda d: d["verdict"] == "valid")
        assert "holder" not in event and event["identity"] == "unverified"
        assert title(browser) == "Karta ważna"
        assert not browser.find_elements(By.ID, "greeting")
        assert "Halina" not in browser.execute_script("return document.documentElement.outerHTML")
        assert browser.find_element(By.ID, "show-id").text == "Pokaż dokument tożsamości w okienku."
        assert not browser.find_elements(By.ID, "keep-card")  # no card on the reader
        assert not browser.find_elements(By.CSS_SELECTOR, ".request")  # a typed number never lists requests
        page = browser.execute_script("return document.body.innerText")
        assert "pracownik" not in page.lower()
        check_screen(browser, kiosk, "typed-valid")
        session = browser.execute_script("return S.session")
        press(browser, "#done")
        assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "done"
        assert_no_trace(browser)
        assert_session_gone(kiosk, session)

    press(browser, "#type-number")
    type_on_keyboard(browser, "KDR1004")
    press(browser, "#entry-submit")
    wait(browser).until(lambda b: title(b) == "Karta nieważna")
    assert "straciła ważność" in browser.find_element(By.ID, "reason").text
    assert browser.execute_script("return lastSound") == "invalid"
    assert browser.execute_script("return getComputedStyle(document.getElementById('title'), '::before').content").startswith('"✗')
    check_screen(browser, kiosk, "typed-expired")
    press(browser, "[data-lang=uk]")
    assert title(browser) == "Картка недійсна"
    check_screen(browser, kiosk, lang="uk")
    press(browser, "#done")
    assert_no_trace(browser)


PAUSE = re.compile(r"^Chwila przerwy po kilku próbach\. Spróbuj ponownie za (\d+) s\.$")


def test_too_many_unknown_numbers_pause_entry_with_a_calm_countdown(browser):
    kiosk = start_kiosk()
    try:
        open_screen(kiosk, browser)
        for i in range(1, 7):
            if screen(browser) != "number":
                press(browser, "#type-number")
            wait_screen(browser, "number")
            type_on_keyboard(browser, f"ZZZ000{i}")
            press(browser, "#entry-submit")
            # (Read in the page: the line is drawn anew when the pause begins.)
            wait(browser).until(lambda b: screen(b) == "verdict" or PAUSE.match(
                b.execute_script("const e = document.getElementById('entry-error'); return e ? e.innerText : ''") or ""))
            if screen(browser) == "verdict":
                assert title(browser) == "Nie znamy tej karty"
                press(browser, "#done")
                wait_screen(browser, "idle")
        line = browser.find_element(By.ID, "entry-error")
        first = int(PAUSE.match(line.text).group(1))
        assert 0 < first <= 60
        assert not browser.find_element(By.ID, "entry-submit").is_enabled()
        # Calm: not an alert re-read every second, not the error red.
        assert line.get_attribute("role") is None
        assert "problem" not in line.get_attribute("class")
        check_screen(browser, kiosk, "number-paused")
        time.sleep(2.2)
        assert int(PAUSE.match(line.text).group(1)) < first
        press(browser, "[data-lang=uk]")
        assert re.match(r"^Невелика перерва після кількох спроб\. Спробуйте ще раз через \d+ с\.$", browser.find_element(By.ID, "entry-error").text)
        press(browser, "[data-lang=pl]")
        status, headers, body = kiosk.post("/api/v1/check", {"number": "ZZZ-0009"})
        assert status == 429 and body["error"]["code"] == "too_many_attempts"
    finally:
        stop_kiosk(kiosk)
