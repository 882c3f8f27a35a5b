"""Ways a session ends that need a kioskd of their own: the server's session lifetime running out
(KIOSK_SESSION_SECONDS=4), and number entry paused after too many refused numbers (that pause is kept
in the state directory across restarts, so it must not share one with other tests)."""
import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from conftest import start_kiosk, stop_kiosk
from uihelp import (HALINA, EventLog, assert_idle_without_trace, assert_session_gone, open_screen, shot,
                    shown_session, wait, wait_for_idle)


@pytest.fixture(scope="module")
def short_sessions():
    k = start_kiosk({"KIOSK_SESSION_SECONDS": "4"})
    yield k
    stop_kiosk(k)


@pytest.fixture
def fresh_kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


def test_the_server_ends_an_idle_session_and_the_screen_forgets_the_person(short_sessions, browser):
    kiosk = short_sessions
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        try:
            kiosk.place(HALINA)  # and left on the reader: only the lifetime can end this session
            wait(browser).until(EC.text_to_be_present_in_element((By.ID, "verdict-greeting"), "Halina W."))
            started = time.monotonic()
            session = shown_session(browser)
            assert session
            # The screen's own timer would take 20 s; the server's 4 s lifetime must end it first.
            wait_for_idle(browser, 12)
            elapsed = time.monotonic() - started
            assert 2.5 <= elapsed < 12, elapsed
            assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "timeout"
            assert_idle_without_trace(browser)
            assert_session_gone(kiosk, session)
        finally:
            kiosk.remove()


def type_number(browser, number):
    wait(browser).until(EC.element_to_be_clickable((By.ID, "type-number"))).click()
    field = wait(browser).until(EC.visibility_of_element_located((By.ID, "number")))
    field.clear()
    field.send_keys(number)
    browser.find_element(By.ID, "entry-submit").click()


PAUSED = re.compile(r"^Zbyt wiele prób\. Spróbuj ponownie za (\d+) s\.$")


def seconds_shown(browser):
    m = PAUSED.match(browser.find_element(By.ID, "entry-error").text)
    assert m, browser.find_element(By.ID, "entry-error").text
    return int(m.group(1))


def test_too_many_unknown_numbers_pause_number_entry_with_a_countdown(fresh_kiosk, browser):
    kiosk = fresh_kiosk
    open_screen(kiosk, browser)
    for i in range(1, 6):
        type_number(browser, f"ZZZ-000{i}")
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "verdict-title"), "Nie znamy tej karty"))
        browser.find_element(By.ID, "verdict-done").click()
        wait_for_idle(browser, 5)

    type_number(browser, "ZZZ-0006")
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "entry-error"), "Zbyt wiele prób"))
    assert browser.find_element(By.ID, "entry").is_displayed()
    first = seconds_shown(browser)
    assert 0 < first <= 60
    submit = browser.find_element(By.ID, "entry-submit")
    assert not submit.is_enabled()
    # Calm, not an alarm: not the error red, and not an alert re-read on every tick.
    error = browser.find_element(By.ID, "entry-error")
    assert error.value_of_css_property("color") != "rgba(179, 38, 30, 1)"
    assert error.get_attribute("role") is None
    shot(browser, "rate-limited")
    time.sleep(2.2)
    assert seconds_shown(browser) < first  # a live countdown
    assert not submit.is_enabled()
    browser.find_element(By.CSS_SELECTOR, "[data-lang=en]").click()
    assert re.match(r"^Too many attempts\. Try again in \d+ s\.$", browser.find_element(By.ID, "entry-error").text)
    browser.find_element(By.CSS_SELECTOR, "[data-lang=uk]").click()
    assert re.match(r"^Забагато спроб\. Спробуйте ще раз через \d+ с\.$", browser.find_element(By.ID, "entry-error").text)
    browser.find_element(By.CSS_SELECTOR, "[data-lang=pl]").click()

    # The server's side of it: 429, Retry-After, and the error body the screen reads.
    status, headers, body = kiosk.post("/api/v1/check", {"number": "ZZZ-0007"})
    assert status == 429
    assert body["error"]["code"] == "too_many_attempts"
    assert 0 < int(headers["Retry-After"]) <= 60 and 0 < body["error"]["retry_after"] <= 60
    assert body["error"]["message_pl"]

    # A restart (same state directory) does not lift the pause.
    kiosk.restart_kioskd()
    status, headers, body = kiosk.post("/api/v1/check", {"number": "SKS-0001"})
    assert status == 429, body
    open_screen(kiosk, browser)
    type_number(browser, "SKS-0001")
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "entry-error"), "Zbyt wiele prób"))
    assert seconds_shown(browser) > 0
    assert not browser.find_element(By.ID, "entry-submit").is_enabled()
