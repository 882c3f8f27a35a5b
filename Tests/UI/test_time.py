"""Time: after KIOSK_UI_INACTIVITY_SECONDS without a touch, "Czy potrzebujesz więcej czasu?" with one big
button and KIOSK_UI_ANSWER_SECONDS to answer; yes extends the session (as often as wanted); no answer clears
the screen for the next person and ends the session. Also the server's own session lifetime."""
import time

import pytest
from selenium.webdriver.common.by import By

from conftest import start_kiosk, stop_kiosk
from uihelp import (HALINA, EventLog, assert_no_trace, assert_session_gone, check_screen, open_screen, press, screen,
                    wait, wait_screen)


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk({"KIOSK_UI_INACTIVITY_SECONDS": "3", "KIOSK_UI_ANSWER_SECONDS": "4", "KIOSK_SESSION_SECONDS": "8"})
    yield k
    stop_kiosk(k)


def dialog_open(browser):
    return browser.execute_script("return document.getElementById('more-time').open")


def test_more_time_as_often_as_wanted_then_cleared_for_the_next_person(kiosk, browser):
    assert kiosk.ui()["inactivity_seconds"] == 3 and kiosk.ui()["answer_seconds"] == 4
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        kiosk.place(HALINA)  # and left there: only the screen (or the server's lifetime) ends this visit
        try:
            wait_screen(browser, "verdict")
            session = browser.execute_script("return S.session")
            press(browser, "#services")
            for round in range(3):  # 3 × (3 s + answer) is well past the 8 s session lifetime
                wait(browser, 10).until(dialog_open)
                assert browser.find_element(By.ID, "more-time-title").text == "Czy potrzebujesz więcej czasu?"
                assert browser.execute_script("return document.activeElement.id") == "more-time-title"
                if round == 0:
                    check_screen(browser, kiosk, "more-time")
                time.sleep(1.5)
                press(browser, "#more-time-yes")
                assert not dialog_open(browser)
                assert screen(browser) == "services"
            # The extensions kept the session open past its 8 s lifetime.
            assert kiosk.get(f"/api/v1/requests?session={session}")["requests"] is not None
            wait(browser, 10).until(dialog_open)
            started = time.monotonic()
            assert_no_trace_after = lambda: assert_no_trace(browser)  # noqa: E731
            wait(browser, 10).until(lambda b: screen(b) == "idle")
            assert time.monotonic() - started >= 3.5  # the whole answer time
            assert_no_trace_after()
            assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "done"
            assert_session_gone(kiosk, session)
        finally:
            kiosk.remove()


def test_the_server_ending_a_session_clears_the_screen(kiosk, browser):
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        kiosk.place(HALINA)
        try:
            wait_screen(browser, "verdict")
            session = browser.execute_script("return S.session")
            # No touch, no extension: kioskd's 8 s lifetime, or the screen's own 3 + 4 s, whichever first.
            wait(browser, 15).until(lambda b: screen(b) == "idle")
            events.wait_for("session_end", lambda d: d["session"] == session)
            assert_no_trace(browser)
        finally:
            kiosk.remove()
