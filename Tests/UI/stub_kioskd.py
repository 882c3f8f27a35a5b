"""A stand-in for kioskd's local API, for looking at the screen while working on it (not used by the tests,
which run the real kioskd): serves Kiosk/ and answers /api/v1 with fixed data. POST /stub/emit with
{"event": "check", "data": {...}} sends an event to every open /api/v1/events stream.

    /usr/bin/python3 Tests/UI/stub_kioskd.py 8099 [--partner] [--small]
"""
import json
import pathlib
import queue
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

ROOT = pathlib.Path(__file__).resolve().parents[2] / "Kiosk"
STREAMS = []
T = lambda pl, uk, en: {"pl": pl, "uk": uk, "en": en}  # noqa: E731
ADDRESS = {"id": "address", "kind": "address", "label": T("Adres, pod którym mamy przyjść", "Адреса, за якою маємо прийти", "The address we should come to"), "required": True}
WINDOW = {"id": "when", "kind": "date_window", "label": T("W jakie dni możemy przyjść", "У які дні ми можемо прийти", "Which days suit you"), "required": True, "max": 14}
NOTE = {"id": "note", "kind": "note", "label": T("Co jeszcze chcesz nam powiedzieć", "Що ще ви хочете нам сказати", "Anything else"), "required": False, "max": 500}
HOURS = {"weekdays": True, "evenings": True, "nights": False, "weekends": True}
SERVICES = [
    {"id": "home_care", "name": T("Usługi opiekuńcze w domu", "Послуги догляду вдома", "Home care"),
     "description": T("Opiekunka pomaga w codziennych sprawach w Twoim domu.", "Доглядальниця допомагає вдома.", "A carer helps at home."),
     "provider": {"kind": "cus", "name": "Centrum Usług Społecznych w Starachowicach"}, "hours": HOURS,
     "fields": [ADDRESS, WINDOW, NOTE], "next_step": T("Koordynator zadzwoni w ciągu 2 dni roboczych.", "Координатор зателефонує.", "A coordinator will call."),
     "available": True, "fee": {"kind": "discounted", "amount_grosze": 800, "per": T("za godzinę", "за годину", "per hour")}, "lead_days": 2},
    {"id": "senior_taxi", "name": T("Taksówka CUS", "Таксі CUS", "CUS taxi"),
     "description": T("Bus z kierowcą zawiezie Cię do lekarza.", "Автобус відвезе вас до лікаря.", "A bus takes you to the doctor."),
     "provider": {"kind": "cus", "name": "Centrum Usług Społecznych w Starachowicach"}, "hours": HOURS,
     "fields": [{"id": "pickup", "kind": "place", "label": T("Skąd mamy Cię odebrać", "Звідки вас забрати", "Where we pick you up"), "required": True},
                {"id": "date", "kind": "date", "label": T("Którego dnia", "Якого дня", "Which day"), "required": True, "max": 30},
                {"id": "time", "kind": "time", "label": T("O której godzinie", "О котрій годині", "At what time"), "required": True, "min": 360, "max": 1200},
                NOTE],
     "next_step": T("Kierowca zadzwoni dzień przed kursem.", "Водій зателефонує.", "The driver will call."),
     "available": True, "fee": {"kind": "free"}, "lead_days": 1},
    {"id": "theatre_trips", "name": T("Wyjazdy do teatru i filharmonii", "Поїздки до театру", "Theatre trips"),
     "description": T("Wspólny wyjazd autokarem na spektakl.", "Спільна поїздка.", "A coach trip."),
     "provider": {"kind": "cus", "name": "CUS"}, "hours": HOURS,
     "fields": [{"id": "people", "kind": "count", "label": T("Ile osób pojedzie", "Скільки осіб поїде", "How many"), "required": True, "min": 1, "max": 4}, NOTE],
     "next_step": T("Koordynator zadzwoni.", "Координатор зателефонує.", "A coordinator will call."),
     "available": True, "fee": {"kind": "discounted", "amount_grosze": 2000, "per": T("za osobę", "за особу", "per person")}, "lead_days": 1},
    {"id": "family_crisis_support", "name": T("Wsparcie dla rodzin w kryzysie", "Підтримка для сімей у кризі", "Support for families"),
     "description": T("Psycholog, pedagog.", "Психолог.", "A psychologist."), "provider": {"kind": "cus", "name": "CUS"}, "hours": HOURS,
     "fields": [], "next_step": T("x", "x", "x"), "available": False,
     "reason": {"code": "not_entitled", "text": T("dla rodziców z Kartą Dużej Rodziny", "для батьків із Карткою великої родини", "for parents with a Large Family Card")},
     "fee": None, "lead_days": 1},
]
BUNDLES = [{"id": "home_support", "name": T("Pakiet „Bezpiecznie w domu”", "Пакет «Безпечно вдома»", "Safe at home"),
            "description": T("Opieka i taksówka — jedno zgłoszenie.", "Догляд і таксі.", "Care and a taxi."),
            "services": ["home_care", "senior_taxi"], "fields": [ADDRESS, WINDOW, NOTE], "next_step": T("Koordynator zadzwoni.", "Координатор.", "A coordinator."),
            "available": True, "fees": {"home_care": SERVICES[0]["fee"], "senior_taxi": {"kind": "free"}}}]
UI = {"mode": "resident", "panel": {"width": 1920, "height": 1080, "diagonal_inches": 21.5}, "speech": True, "printer": False,
      "inactivity_seconds": 75, "answer_seconds": 30, "kiosk_phone": "41 275 00 00"}


class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=str(ROOT), **kw)

    def log_message(self, *a):
        pass

    def send_json(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/api/v1/ui":
            return self.send_json(200, UI)
        if p == "/api/v1/status":
            return self.send_json(200, {"replica": {"cards": 3, "last_sync": "2025-11-23T13:05:00Z"}, "reader": {"state": "ready"},
                                        "central": {"state": "offline"}, "clock": {"ok": True}})
        if p == "/api/v1/services":
            return self.send_json(200, {"catalogue_version": 1, "services": SERVICES, "bundles": BUNDLES})
        if p == "/api/v1/requests":
            return self.send_json(200, {"requests": [{"id": "x", "ticket": "B7-4KXMQ", "service": "senior_taxi", "status": "scheduled", "scheduled_for": "2025-12-01"}]})
        if p == "/api/v1/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            q = queue.Queue()
            STREAMS.append(q)
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while True:
                name, data = q.get()
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        return super().do_GET()

    def do_POST(self):
        p = self.path.split("?")[0]
        b = self.body()
        if p == "/stub/emit":
            for q in STREAMS:
                q.put((b["event"], b["data"]))
            return self.send_json(202, {})
        if p == "/api/v1/requests":
            if b.get("details", {}).get("note") == "zle":
                return self.send_json(422, {"error": {"code": "invalid_details", "message": "bad", "fields": [
                    {"field": "note", "code": "too_short", "message": "x", "text": T("Za krótko: wpisz co najmniej 3 znaki.", "Закоротко.", "Too short.")}]}})
            return self.send_json(201, {"request": {"id": "r", "ticket": "B7-4KXMQ"}, "ticket": "B7-4KXMQ", "next_step": T("Koordynator zadzwoni w ciągu 2 dni roboczych.", "Координатор зателефонує протягом 2 робочих днів.", "A coordinator will call."), "printed": True})
        if p == "/api/v1/check":
            return self.send_json(429, {"error": {"code": "too_many_attempts", "message": "x", "retry_after": 30}})
        if p.startswith("/api/v1/sessions/") or p == "/api/v1/speech":
            return self.send_json(200, {"expires_in": 180})
        if p == "/api/v1/staff/unlock":
            return self.send_json(200, {"staff_token": "t", "expires_in": 600})
        return self.send_json(404, {"error": {"code": "not_found", "message": "no"}})

    def do_DELETE(self):
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    if "--partner" in sys.argv:
        UI["mode"] = "partner"
    if "--small" in sys.argv:
        UI["panel"] = {"width": 800, "height": 480, "diagonal_inches": 7}
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
