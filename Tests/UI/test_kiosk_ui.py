"""The kiosk screen as a resident sees it, in a real headless Chromium: tap a card on the emulated
reader (real libnfc inside kioskd), type a number, switch language, and be forgotten when done."""
import json
import pathlib
import re
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from uihelp import (HALINA, EventLog, assert_idle_without_trace, assert_session_gone, open_screen, shot,
                    shown_session, wait, wait_for_idle)


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
        # Taking the card off ends the session, so the resident is told to leave it there.
        assert browser.find_element(By.ID, "verdict-keep-card").text == "Zostaw kartę na czytniku, dopóki nie skończysz."
        # Announced through the live region that is never hidden; focus is on the new heading.
        live = browser.find_element(By.ID, "live")
        assert live.get_attribute("hidden") is None and "Karta ważna" in live.get_attribute("textContent")
        assert browser.execute_script("return document.activeElement.id") == "verdict-title"
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
    assert browser.find_element(By.ID, "verdict-reason").get_attribute("textContent") == ""
    assert browser.execute_script("return document.activeElement.id") == "idle-title"


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
    return kiosk.get("/api/v1/taps?limit=100")["taps"]


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
        # Each service shows what this person would pay; one she cannot ask for says why and is no button.
        assert "bezpłatnie" in taxi.text  # the disability card makes the taxi free
        crisis = browser.find_element(By.CSS_SELECTOR, "[data-unavailable=family_crisis_support]")
        assert "inną kartą" in crisis.text
        taxi.click()
        # The taxi's details, asked one by one; a missing address is explained in the chosen language.
        wait(browser).until(EC.visibility_of_element_located((By.ID, "details")))
        assert browser.find_element(By.ID, "details-title").text == "Taksówka CUS"
        shot(browser, "details")
        browser.find_element(By.ID, "field-destination").send_keys("Szpital, ul. Radomska 70")
        browser.find_element(By.ID, "details-submit").click()
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "field-pickup-error"), "Uzupełnij"))
        assert browser.find_element(By.ID, "field-destination-error").text == ""
        browser.find_element(By.ID, "field-pickup").send_keys("ul. Kolejowa 5")
        Select(browser.find_element(By.ID, "field-date")).select_by_index(2)
        Select(browser.find_element(By.ID, "field-time")).select_by_value("10:30")
        browser.find_element(By.ID, "field-phone").send_keys("512 345 678")
        browser.find_element(By.ID, "details-submit").click()
        wait(browser).until(EC.visibility_of_element_located((By.ID, "requested")))
        assert browser.find_element(By.ID, "requested-service").text == "Taksówka CUS"
        # The ticket to quote on the phone, and what happens next.
        assert re.fullmatch(r"[2-9A-HJKMNP-TV-Z]{2,6}-[2-9A-HJKMNP-TV-Z]{5,}", browser.find_element(By.ID, "requested-id").text)
        assert browser.find_element(By.ID, "requested-note").text == "Kierowca zadzwoni dzień przed kursem."
        shot(browser, "requested")
        browser.find_element(By.CSS_SELECTOR, "[data-lang=uk]").click()
        assert browser.find_element(By.ID, "requested-service").text == "Таксі CUS"
        assert browser.find_element(By.ID, "requested-note").text == "Водій зателефонує за день до поїздки."
        browser.find_element(By.CSS_SELECTOR, "[data-lang=pl]").click()
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


def tap_halina(kiosk, browser):
    """Halina taps her card; answers her session id once the screen greets her."""
    kiosk.place(HALINA)
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "verdict-greeting"), "Halina W."))
    session = shown_session(browser)
    assert session
    return session


def test_gotowe_ends_the_session_and_the_next_person_never_sees_the_last(kiosk, browser):
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        try:
            session = tap_halina(kiosk, browser)
            browser.find_element(By.ID, "verdict-done").click()
            wait_for_idle(browser, 5)
            assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "done"
            assert_idle_without_trace(browser)
            assert_session_gone(kiosk, session)
            assert browser.execute_script("return document.activeElement.id") == "idle-title"
            # The next resident presses a language button: the idle screen, in that language, and nothing else.
            for lang, title in (("uk", "Прикладіть картку до зчитувача"), ("en", "Tap your card on the reader"),
                                ("pl", "Przyłóż kartę do czytnika")):
                browser.find_element(By.CSS_SELECTOR, f"[data-lang={lang}]").click()
                assert browser.find_element(By.ID, "idle-title").text == title
                assert_idle_without_trace(browser)
            shot(browser, "after-gotowe")
        finally:
            kiosk.remove()


def test_taking_the_card_off_ends_the_session(kiosk, browser):
    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        session = tap_halina(kiosk, browser)
        tap = events.wait_for("tap", lambda d: d.get("session") == session)
        assert tap["identity"] == "verified" and tap["holder"] == "Halina W."
        kiosk.remove()
        wait_for_idle(browser, 5)
        assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "card_removed"
        assert_idle_without_trace(browser)
        assert_session_gone(kiosk, session)


def test_a_language_switch_rerenders_the_verdict_showing(kiosk, browser):
    open_screen(kiosk, browser)
    try:
        tap_halina(kiosk, browser)
        browser.find_element(By.CSS_SELECTOR, "[data-lang=uk]").click()
        assert browser.find_element(By.ID, "verdict-title").text == "Картка дійсна"
        assert browser.find_element(By.ID, "verdict-greeting").text == "Добрий день, Halina W.!"
        assert browser.find_element(By.ID, "verdict-keep-card").text == "Залиште картку на зчитувачі, доки не закінчите."
        browser.find_element(By.CSS_SELECTOR, "[data-lang=en]").click()
        assert browser.find_element(By.ID, "verdict-keep-card").text == "Leave the card on the reader until you finish."
        browser.execute_script("document.getElementById('verdict-done').scrollIntoView()")
        shot(browser, "tap-valid-en")
        browser.find_element(By.CSS_SELECTOR, "[data-lang=pl]").click()
        assert browser.find_element(By.ID, "verdict-title").text == "Karta ważna"
    finally:
        kiosk.remove()
    wait_for_idle(browser, 5)
    assert_idle_without_trace(browser)


def test_a_typed_number_never_shows_the_holders_name(kiosk, browser):
    # The contract, straight from the API: a typed check carries no name and says the identity is unverified.
    status, _, answer = kiosk.post("/api/v1/check", {"number": "SKS-0001"})
    assert status == 200 and answer["verdict"] == "valid"
    assert "holder" not in answer and answer["identity"] == "unverified"

    open_screen(kiosk, browser)
    with EventLog(kiosk.base) as events:
        wait(browser).until(EC.element_to_be_clickable((By.ID, "type-number"))).click()
        wait(browser).until(EC.visibility_of_element_located((By.ID, "number"))).send_keys("sks 0001")
        browser.find_element(By.ID, "entry-submit").click()
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "verdict-title"), "Karta ważna"))
        event = events.wait_for("check", lambda d: d["verdict"] == "valid")
        assert "holder" not in event and event["identity"] == "unverified"
        # The verdict and the card's kinds, but no greeting and no name anywhere in the page.
        items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#verdict-entitlements li")]
        assert any("Karta Seniora 60+" in i for i in items) and any("Jeden Uśmiech" in i for i in items)
        assert browser.find_element(By.ID, "verdict-greeting").get_attribute("textContent") == ""
        assert "Halina" not in browser.execute_script("return document.body.innerHTML")
        assert not browser.find_element(By.ID, "verdict-keep-card").is_displayed()  # no card on the reader
        assert browser.find_element(By.ID, "request-service").is_displayed()  # the session may still be used
        shot(browser, "typed-valid")
        browser.execute_script("document.getElementById('verdict-done').scrollIntoView()")
        session = shown_session(browser)
        assert session
        browser.find_element(By.ID, "verdict-done").click()
        wait_for_idle(browser, 5)
        assert events.wait_for("session_end", lambda d: d["session"] == session)["reason"] == "done"
        assert_idle_without_trace(browser)
        assert_session_gone(kiosk, session)


def test_the_screen_never_greets_a_typed_check_even_if_a_name_were_sent(kiosk, browser):
    # Defence in depth, in the page's own renderer: a check event that (wrongly) carried a name.
    open_screen(kiosk, browser)
    browser.execute_script("""showVerdict({type: "check", identity: "unverified", at: "2000-01-01T00:00:00Z",
        card: {masked: "…0001", technology: "printed"}, verdict: "valid", holder: "Halina W.",
        reason: {pl: "Karta ważna", en: "Card valid"}, entitlements: []})""")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "verdict")))
    assert "Halina" not in browser.execute_script("return document.body.innerHTML")
    browser.find_element(By.ID, "verdict-done").click()
    wait_for_idle(browser, 5)


CSP = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
       "connect-src": "'self'", "font-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
       "frame-ancestors": "'none'", "form-action": "'self'"}


def test_the_ui_is_served_with_its_content_security_policy(kiosk):
    with urllib.request.urlopen(kiosk.base + "/", timeout=5) as r:
        header = r.headers["Content-Security-Policy"]
    assert header, "the UI page has no Content-Security-Policy header"
    directives = {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}
    assert directives == CSP


def test_the_ui_runs_under_its_content_security_policy(kiosk, browser):
    # Nothing in the page that such a policy blocks: inline scripts, handlers, style attributes, javascript: URLs.
    html = (pathlib.Path(__file__).resolve().parents[2] / "Kiosk" / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert not re.search(r"\sstyle\s*=", html, re.I)
    assert "javascript:" not in html.lower()

    browser.get_log("browser")  # what earlier tests logged
    open_screen(kiosk, browser)
    try:
        tap_halina(kiosk, browser)
        wait(browser).until(EC.element_to_be_clickable((By.ID, "request-service"))).click()
        wait(browser).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-service=senior_taxi]")))
        browser.find_element(By.ID, "services-back").click()
        browser.find_element(By.ID, "verdict-done").click()
        wait_for_idle(browser, 5)
    finally:
        kiosk.remove()
    assert browser.execute_script(
        "return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
        ".filter(n => n.startsWith('on') || n === 'style')") == []
    violations = [e["message"] for e in browser.get_log("browser")
                  if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    assert violations == []


def test_the_status_reports_the_clock(kiosk):
    clock = kiosk.status()["clock"]
    assert clock["ok"] is True
    assert clock.get("problem") is None  # absent (the API leaves out empty fields) while the clock is fine
    assert clock["last_sync"]  # the registry import of this fixture


def test_the_footer_warns_when_the_kiosk_clock_is_behind(kiosk, browser):
    open_screen(kiosk, browser)
    wait(browser).until(lambda b: b.execute_script("return lastStatus !== null"))
    assert not browser.find_element(By.ID, "clock-warning").is_displayed()
    # A clock behind its last sync cannot be produced here without a central: render such a status
    # (with the screen's own polling stopped, so that the real status does not replace it meanwhile).
    browser.execute_script("""clearInterval(statusTimer); renderStatus(Object.assign({}, lastStatus,
        {clock: {ok: false, problem: "behind_last_sync", last_sync: "2030-01-01T00:00:00Z"}}))""")
    warning = browser.find_element(By.ID, "clock-warning")
    assert warning.is_displayed() and warning.text == "Zegar kiosku jest cofnięty — powiadom obsługę."
    browser.find_element(By.CSS_SELECTOR, "[data-lang=uk]").click()
    assert warning.text == "Годинник кіоску відстає — повідомте персонал."
    browser.find_element(By.CSS_SELECTOR, "[data-lang=en]").click()
    assert warning.text == "The kiosk's clock is behind — tell the staff."
    browser.execute_script("document.querySelector('footer').scrollIntoView()")
    shot(browser, "clock-behind")
    browser.find_element(By.CSS_SELECTOR, "[data-lang=pl]").click()
