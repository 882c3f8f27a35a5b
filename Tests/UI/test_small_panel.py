"""The 7″ 800×480 touch display of the outreach kiosks (KIOSK_UI_PANEL=800x480@7): the same screens, sized
in millimetres of that panel (20 mm targets are 105 px there), paged so that nothing scrolls."""
import pytest
from selenium.webdriver.common.by import By

from conftest import SMALL, start_kiosk, stop_kiosk
from uihelp import HALINA, assert_no_trace, check_screen, open_screen, press, screen, title, type_on_keyboard, wait, wait_screen


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk(SMALL)
    yield k
    stop_kiosk(k)


def pages(browser, kiosk, name):
    """Checks every page of the screen showing, turning them with "Dalej"; answers how many there were."""
    n = 1
    check_screen(browser, kiosk, name)
    while browser.find_elements(By.ID, "next-page"):
        press(browser, "#next-page")
        n += 1
        check_screen(browser, kiosk, f"{name}-{n}" if n <= 2 else None)
    return n


def test_the_main_screens_fit_the_7_inch_panel(kiosk, browser):
    assert kiosk.ui()["panel"] == {"width": 800, "height": 480, "diagonal_inches": 7}
    open_screen(kiosk, browser, 800, 480)
    assert browser.execute_script("return document.documentElement.classList.contains('compact')")
    check_screen(browser, kiosk, "idle")
    for id in ("type-number", "browse", "speech", "help"):
        assert browser.find_element(By.ID, id).is_displayed(), id
    try:
        kiosk.place(HALINA)
        wait_screen(browser, "verdict")
        assert pages(browser, kiosk, "verdict") >= 2
        # "Zobacz usługi" comes first of the verdict's choices, on its last page or the one before.
        while not [e for e in browser.find_elements(By.ID, "services") if e.is_displayed()]:
            assert browser.execute_script("return route.page") > 0, "no 'Zobacz usługi' on any page"
            press(browser, "#back")
        press(browser, "#services")
        wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".tile"))
        seen = set()
        while True:
            seen |= {t.get_attribute("data-service") for t in browser.find_elements(By.CSS_SELECTOR, ".tile")}
            check_screen(browser, kiosk, "services" if len(seen) <= 2 else None)
            if not browser.find_elements(By.ID, "next-page"):
                break
            press(browser, "#next-page")
        assert {"senior_taxi", "home_care"} <= seen
        while browser.execute_script("return route.page") > 0:
            press(browser, "#back")
        # kioskd's catalogue lists the taxi a few pages in: "Dalej" until it shows.
        while not browser.find_elements(By.CSS_SELECTOR, "button[data-service=senior_taxi]"):
            press(browser, "#next-page")
        press(browser, "button[data-service=senior_taxi]")
        wait_screen(browser, "service")
        pages(browser, kiosk, "service")
        press(browser, "#ask")
        wait_screen(browser, "question")
        check_screen(browser, kiosk, "question-text")
        type_on_keyboard(browser, "Łąka 1")
        press(browser, "#answer")
        press(browser, "#back")
        press(browser, "#back")
        press(browser, "[data-lang=uk]")
        check_screen(browser, kiosk, "service-uk", lang="uk")
    finally:
        kiosk.remove()
    assert_no_trace(browser)
    press(browser, "#type-number")
    wait_screen(browser, "number")
    check_screen(browser, kiosk, "number")
    type_on_keyboard(browser, "KDR1004")
    press(browser, "#entry-submit")
    wait(browser).until(lambda b: title(b) == "Karta nieważna")
    pages(browser, kiosk, "typed-expired")
    press(browser, "#done")
    press(browser, "#browse")
    wait(browser).until(lambda b: screen(b) == "browse" and b.find_elements(By.CSS_SELECTOR, "#content .lead"))
    pages(browser, kiosk, "browse")


def pick(browser, selector, wanted):
    """Turns the picker's pages ("Później") until an item matching `wanted` shows, and presses it."""
    for _ in range(30):
        found = [e for e in browser.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed() and e.is_enabled() and wanted(e)]
        if found:
            press(browser, found[0])
            return found[0]
        press(browser, "[data-nav=next]")
    raise AssertionError(f"nothing for {selector} on any page")


def test_the_day_and_time_pickers_fit_the_7_inch_panel(kiosk, browser):
    open_screen(kiosk, browser, 800, 480)
    try:
        kiosk.place(HALINA)
        wait_screen(browser, "verdict")
        # "Moje ustawienia" fits too (in pages), with reading aloud but no larger text: the 7″ panel has no room for it.
        while not [e for e in browser.find_elements(By.ID, "prefs") if e.is_displayed()]:
            press(browser, "#next-page")
        press(browser, "#prefs")
        wait_screen(browser, "prefs")
        assert not browser.find_elements(By.ID, "large-text")
        pages(browser, kiosk, "prefs")
        while screen(browser) == "prefs":
            press(browser, "#back")
        while not browser.find_elements(By.ID, "services"):
            press(browser, "#next-page")
        press(browser, "#services")
        wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".tile"))
        while not browser.find_elements(By.CSS_SELECTOR, "button[data-service=senior_taxi]"):
            press(browser, "#next-page")
        press(browser, "button[data-service=senior_taxi]")
        wait_screen(browser, "service")
        while not browser.find_elements(By.ID, "ask"):
            press(browser, "#next-page")
        press(browser, "#ask")
        wait(browser).until(lambda b: title(b) == "Skąd mamy Cię odebrać")
        type_on_keyboard(browser, "Łąka 1")
        press(browser, "#answer")
        wait(browser).until(lambda b: title(b) == "Dokąd jedziesz")
        type_on_keyboard(browser, "Szpital")
        press(browser, "#answer")

        wait(browser).until(lambda b: title(b) == "Którego dnia")
        check_screen(browser, kiosk, "question-date")
        day = pick(browser, "[data-day]", lambda e: True)
        assert day.get_attribute("aria-pressed") == "true"
        check_screen(browser, kiosk, "question-date-chosen", run_axe=False)
        press(browser, "[data-nav=next]")
        check_screen(browser, kiosk, None, run_axe=False)
        press(browser, "#answer")

        wait(browser).until(lambda b: title(b) == "O której godzinie")
        check_screen(browser, kiosk, "question-time")
        pick(browser, "[data-time]", lambda e: e.get_attribute("data-time") == "09:30")
        check_screen(browser, kiosk, None, run_axe=False)
        press(browser, "#answer")
        wait(browser).until(lambda b: title(b) == "Co jeszcze chcesz nam powiedzieć")
    finally:
        kiosk.remove()
    assert_no_trace(browser)
