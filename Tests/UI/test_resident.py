"""The resident's visit on the 21.5″ Skałka kiosk, in a real headless Chromium against a real kioskd reading an
emulated PN532: tap the card, see the services with this person's fees, open one, answer one question a screen
on the on-screen keyboards and pickers, check and confirm, get a ticket, and be forgotten. Every screen passes
axe-core and the project's own measurements, in Polish and in Ukrainian."""
import re

import pytest
from selenium.webdriver.common.by import By

from conftest import start_kiosk, stop_kiosk
from uihelp import (HALINA, EventLog, assert_no_trace, assert_session_gone, check_screen, open_screen, press, screen,
                    shown_session, title, type_on_keyboard, typed, wait, wait_screen)


@pytest.fixture(scope="module")
def kiosk():
    k = start_kiosk()
    yield k
    stop_kiosk(k)


def tap_halina(kiosk, browser):
    kiosk.place(HALINA)
    wait(browser).until(lambda b: b.execute_script("return S.verdict !== null && S.session !== null"))
    wait_screen(browser, "verdict")
    return shown_session(browser)


def outbox(kiosk):
    return kiosk.status()["outbox"]["pending"]


def test_idle_screen_in_three_languages(kiosk, browser):
    open_screen(kiosk, browser)
    assert title(browser) == "Przyłóż kartę do czytnika"
    assert browser.execute_script("return document.activeElement.id") == "title"
    for id in ("type-number", "browse", "speech", "help"):
        assert browser.find_element(By.ID, id).is_displayed(), id
    assert not browser.find_elements(By.ID, "back")  # nothing to go back to
    check_screen(browser, kiosk, "idle")
    press(browser, "[data-lang=uk]")
    assert title(browser) == "Прикладіть картку до зчитувача"
    check_screen(browser, kiosk, "idle-uk", lang="uk")
    press(browser, "[data-lang=en]")
    assert title(browser) == "Hold your card to the reader"
    check_screen(browser, kiosk, lang="en")
    press(browser, "[data-lang=pl]")
    assert title(browser) == "Przyłóż kartę do czytnika"


def test_a_tap_a_service_several_questions_a_ticket_and_nothing_left(kiosk, browser):
    open_screen(kiosk, browser)
    before = outbox(kiosk)
    with EventLog(kiosk.base) as events:
        try:
            session = tap_halina(kiosk, browser)
            # Greeting by first name (a verified tap), her entitlements and until when; sound and icon too.
            assert title(browser) == "Karta ważna"
            assert browser.find_element(By.ID, "greeting").text == "Dzień dobry, Halina W.!"
            lines = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#content .entitlement")]
            assert any("Karta Seniora" in x and "bezterminowo" in x for x in lines), lines
            assert any("Jeden Uśmiech" in x and "zostało 20 dni" in x for x in lines), lines
            assert browser.execute_script("return getComputedStyle(document.getElementById('title'), '::before').content").startswith('"✓')
            assert browser.execute_script("return lastSound") == "valid"
            assert browser.execute_script("return document.activeElement.id") == "title"
            check_screen(browser, kiosk, "verdict")

            press(browser, "#services")
            wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-service=senior_taxi]"))
            # Why not, for what she may not ask for (a large-family service).
            off = browser.find_elements(By.CSS_SELECTOR, "div.tile.off[data-service=family_crisis_support]")
            if off:
                assert "Nie dla Ciebie" in off[0].text
            check_screen(browser, kiosk, "services")

            # A tile opens the service's page; one touch never files a request.
            press(browser, "button[data-service=senior_taxi]")
            wait_screen(browser, "service")
            assert title(browser) == "Taksówka CUS"
            assert "Dla Ciebie: Bezpłatnie" in browser.find_element(By.ID, "fee").text
            assert outbox(kiosk) == before
            check_screen(browser, kiosk, "service")

            press(browser, "#ask")
            wait_screen(browser, "question")
            assert title(browser) == "Skąd mamy Cię odebrać"
            type_on_keyboard(browser, "Majówka 21a")
            assert typed(browser) == "Majówka 21a"
            check_screen(browser, kiosk, "question-text")
            press(browser, "#answer")
            wait(browser).until(lambda b: title(b) == "Dokąd jedziesz")
            type_on_keyboard(browser, "Szpital")
            press(browser, "#answer")

            wait(browser).until(lambda b: title(b) == "Którego dnia")
            # Dalej without an answer: the question says what is missing, in its own words.
            press(browser, "#answer")
            wait(browser).until(lambda b: b.find_elements(By.ID, "problem"))
            assert browser.find_element(By.ID, "problem").text == "Uzupełnij: Którego dnia"
            press(browser, "[data-nav=next]")  # the next week
            days = [d for d in browser.find_elements(By.CSS_SELECTOR, "[data-day]") if d.is_enabled()]
            assert len(days) == 7
            chosen = days[2].get_attribute("data-day")
            press(browser, days[2])
            assert days[2].get_attribute("aria-pressed") == "true"
            check_screen(browser, kiosk, "question-date")
            press(browser, "#answer")

            wait(browser).until(lambda b: title(b) == "O której godzinie")
            times = [t.get_attribute("data-time") for t in browser.find_elements(By.CSS_SELECTOR, "[data-time]")]
            assert times[0] == "06:00" and times[-1] == "20:00"  # within the field's min–max
            press(browser, "[data-time='09:30']")
            check_screen(browser, kiosk, "question-time")
            press(browser, "#answer")

            wait(browser).until(lambda b: title(b) == "Co jeszcze chcesz nam powiedzieć")
            press(browser, "#skip")
            wait(browser).until(lambda b: title(b) == "Twój numer telefonu")
            type_on_keyboard(browser, "512345678")
            assert typed(browser) == "512 345 678"
            check_screen(browser, kiosk, "question-phone")
            press(browser, "#answer")

            wait_screen(browser, "confirm")
            rows = {r.get_attribute("data-field"): r.text for r in browser.find_elements(By.CSS_SELECTOR, ".answer")}
            assert "Majówka 21a" in rows["pickup"] and "Szpital" in rows["destination"] and "9:30" in rows["time"]
            assert "pominięte" in rows["note"] and "512 345 678" in rows["phone"]
            check_screen(browser, kiosk, "confirm")
            # "Popraw" goes to that one question and straight back here.
            press(browser, "[data-fix=destination]")
            wait(browser).until(lambda b: title(b) == "Dokąd jedziesz")
            assert typed(browser) == "Szpital"
            type_on_keyboard(browser, " 2")
            press(browser, "#answer")
            wait_screen(browser, "confirm")
            assert "Szpital 2" in browser.find_element(By.CSS_SELECTOR, "[data-field=destination]").text

            press(browser, "#send")
            wait_screen(browser, "ticket")
            code = browser.find_element(By.ID, "ticket").get_attribute("data-ticket")
            assert re.fullmatch(r"[2-9A-HJKMNP-TV-Z]{2,6}-[2-9A-HJKMNP-TV-Z]{5,13}", code), code
            shown = browser.find_element(By.ID, "ticket").text
            assert shown.replace(" ", "").replace("–", "-") == code and " " in shown  # grouped for reading aloud
            assert browser.find_element(By.ID, "printed").text == "Zapisz ten numer albo zrób mu zdjęcie."  # no printer here
            check_screen(browser, kiosk, "ticket")
            assert outbox(kiosk) == before + 1
            stored = kiosk.get(f"/api/v1/requests?session={session}")["requests"]
            assert any(r["ticket"] == code for r in stored)
            _ = chosen

            press(browser, "#done")
            assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "done"
            assert_no_trace(browser)
            assert_session_gone(kiosk, session)
        finally:
            kiosk.remove()


def test_a_bundle_in_ukrainian_with_the_error_summary(kiosk, browser):
    open_screen(kiosk, browser)
    try:
        session = tap_halina(kiosk, browser)
        press(browser, "[data-lang=uk]")
        assert title(browser) == "Картка дійсна"
        assert browser.find_element(By.ID, "greeting").text == "Добрий день, Halina W.!"
        check_screen(browser, kiosk, "verdict-uk", lang="uk")
        # Her earlier request (the taxi of the test before) with its status, in Ukrainian.
        assert any("Таксі CUS" in p.text for p in browser.find_elements(By.CSS_SELECTOR, ".request"))
        press(browser, "#services")
        wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "button[data-service=home_support]"))
        check_screen(browser, kiosk, lang="uk")
        press(browser, "button[data-service=home_support]")
        wait_screen(browser, "service")
        check_screen(browser, kiosk, "bundle-uk", lang="uk")
        press(browser, "#ask")
        wait(browser).until(lambda b: title(b) == "Адреса, за якою маємо прийти")
        # A Ukrainian keyboard on the Ukrainian screen, the Polish letters one key away.
        assert browser.find_elements(By.CSS_SELECTOR, "[data-key='Ї']")
        check_screen(browser, kiosk, "question-text-uk", lang="uk")
        press(browser, "#key-script")
        type_on_keyboard(browser, "Łą")  # too short for an address: kioskd will say so
        press(browser, "#answer")

        wait(browser).until(lambda b: title(b).startswith("У які дні ми можемо прийти"))
        assert title(browser).endswith("Перший день")
        first = [d for d in browser.find_elements(By.CSS_SELECTOR, "[data-day]") if d.is_enabled()][0]
        press(browser, first)
        check_screen(browser, kiosk, lang="uk")
        press(browser, "#answer")
        wait(browser).until(lambda b: title(b).endswith("Останній день"))
        days = [d for d in browser.find_elements(By.CSS_SELECTOR, "[data-day]") if d.is_enabled()]
        press(browser, days[min(3, len(days) - 1)])
        press(browser, "#answer")

        # The bundle's merged fields go on: what to help with (required), then the phone (skipped).
        while screen(browser) == "question" and not title(browser).startswith("Ваш номер"):
            if browser.find_elements(By.ID, "skip"):
                press(browser, "#skip")
            else:
                type_on_keyboard(browser, "Допомога")
                press(browser, "#answer")
            wait(browser).until(lambda b: True)
        press(browser, "#skip")
        wait_screen(browser, "confirm")
        press(browser, "#send")
        # kioskd refused the address: the summary at the top names it in the field's own words.
        wait(browser).until(lambda b: b.find_elements(By.ID, "problems"))
        summary = browser.find_element(By.ID, "problems").text
        assert "Треба виправити" in summary and "Адреса, за якою маємо прийти: Закоротко" in summary, summary
        check_screen(browser, kiosk, "confirm-errors-uk", lang="uk")
        press(browser, "[data-fix=address]")
        wait(browser).until(lambda b: title(b) == "Адреса, за якою маємо прийти")
        assert "Закоротко" in browser.find_element(By.ID, "problem").text
        press(browser, "#key-script")
        type_on_keyboard(browser, "ka 12")
        assert typed(browser) == "Łąka 12"
        press(browser, "#answer")
        wait_screen(browser, "confirm")
        assert not browser.find_elements(By.ID, "problems")
        press(browser, "#send")
        wait_screen(browser, "ticket")
        assert title(browser) == "Заявку прийнято"
        check_screen(browser, kiosk, "ticket-uk", lang="uk")
    finally:
        kiosk.remove()
    # Taking the card off ends her session: her data goes; the ticket (no one's name) stays to be written down.
    wait(browser).until(lambda b: b.execute_script("return S.session === null && S.verdict === null"))
    assert screen(browser) == "ticket"
    press(browser, "#done")
    assert_no_trace(browser)
    assert_session_gone(kiosk, session)


def test_the_card_taken_off_midway_forgets_the_person(kiosk, browser):
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        try:
            session = tap_halina(kiosk, browser)
            press(browser, "#services")
            wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "button[data-service=home_care]"))
            press(browser, "button[data-service=home_care]")
            press(browser, "#ask")
            wait_screen(browser, "question")
            type_on_keyboard(browser, "Majówka")
        finally:
            kiosk.remove()
        assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "card_removed"
        assert_no_trace(browser)


def test_help_is_on_every_screen_and_goes_back(kiosk, browser):
    open_screen(kiosk, browser)
    try:
        tap_halina(kiosk, browser)
        press(browser, "#help")
        wait_screen(browser, "help")
        assert title(browser) == "Pomoc"
        check_screen(browser, kiosk, "help")
        press(browser, "#back")
        wait_screen(browser, "verdict")
        assert browser.execute_script("return document.activeElement.id") == "title"
    finally:
        kiosk.remove()
    assert_no_trace(browser)


def test_read_aloud_from_the_idle_screen_until_the_visit_ends(kiosk, browser):
    open_screen(kiosk, browser)
    spoken = browser.execute_script("""window.spoken = []; const f = window.fetch;
        window.fetch = (url, o) => { if (url === '/api/v1/speech' && o && o.method === 'POST') spoken.push(JSON.parse(o.body)); return f(url, o); };
        return true""")
    assert spoken
    press(browser, "#speech")
    assert browser.find_element(By.ID, "speech").get_attribute("aria-pressed") == "true"
    wait(browser).until(lambda b: b.execute_script("return spoken.length") >= 1)
    try:
        tap_halina(kiosk, browser)
        wait(browser).until(lambda b: any("Karta ważna" in s["text"] for s in b.execute_script("return spoken")))
        press(browser, "[data-lang=uk]")
        wait(browser).until(lambda b: any(s["lang"] == "uk" and "Картка дійсна" in s["text"] for s in b.execute_script("return spoken")))
        press(browser, "[data-lang=pl]")
    finally:
        kiosk.remove()
    assert_no_trace(browser)
    assert browser.execute_script("return S.speech") is False
    # kioskd really spoke them (into WAV files on this speakerless test machine).
    import os
    wait(browser, 20).until(lambda b: len(os.listdir(os.path.join(kiosk.tmp, "speech"))) >= 1)


def test_the_ticket_code_is_spelled_aloud(kiosk, browser):
    open_screen(kiosk, browser)
    browser.execute_script("""window.spoken = []; const f = window.fetch;
        window.fetch = (url, o) => { if (url === '/api/v1/speech' && o && o.method === 'POST') spoken.push(JSON.parse(o.body)); return f(url, o); };""")
    press(browser, "#speech")
    try:
        tap_halina(kiosk, browser)
        press(browser, "#services")
        press(browser, "button[data-service=vaccinations]")
        press(browser, "#ask")
        wait_screen(browser, "question")
        first = [d for d in browser.find_elements(By.CSS_SELECTOR, "[data-day]") if d.is_enabled()][0]
        press(browser, first)
        press(browser, "#answer")
        wait(browser).until(lambda b: title(b).endswith("Ostatni dzień"))
        press(browser, [d for d in browser.find_elements(By.CSS_SELECTOR, "[data-day]") if d.is_enabled()][0])
        press(browser, "#answer")
        while screen(browser) == "question":
            press(browser, "#skip")
        press(browser, "#send")
        wait_screen(browser, "ticket")
        code = browser.find_element(By.ID, "ticket").get_attribute("data-ticket")
        spelled = ", ".join("kreska" if c == "-" else c for c in code)
        wait(browser).until(lambda b: any(spelled in s["text"] for s in b.execute_script("return spoken")))
        press(browser, "#done")
    finally:
        kiosk.remove()
    assert_no_trace(browser)
