// The kiosk screen: shows each verdict kioskd announces on /api/v1/events, lets a resident type a card
// number, and forgets the person as soon as they are done (their session ends on the server too).
// Plain JavaScript, no build step, nothing fetched from outside the kiosk; runs under a strict CSP
// (no inline scripts, handlers or style attributes).
"use strict";

const T = {
  pl: {
    tap: "Przyłóż kartę do czytnika",
    tapHint: "Karta Seniora 60+, Karta Dużej Rodziny lub Karta za Jeden Uśmiech",
    typeNumber: "Wpisz numer karty", entryTitle: "Wpisz numer karty", back: "Wróć", check: "Sprawdź", done: "Gotowe",
    requestService: "Zamów usługę", servicesTitle: "Wybierz usługę", requestedTitle: "Przyjęliśmy zgłoszenie",
    requestedNote: "Koordynator CUS skontaktuje się z Tobą.", requestNumber: "Numer zgłoszenia",
    requestFailed: "Nie udało się przyjąć zgłoszenia. Spróbuj ponownie lub podejdź do okienka.",
    hello: (n) => `Dzień dobry, ${n}!`,
    until: (d, n) => `ważna do ${d}` + (n <= 30 ? ` — zostało ${n} dni` : ""), noEnd: "bezterminowo",
    offline: "Nowa karta, potwierdzona podpisem.", lowAssurance: "Stara karta — pracownik może poprosić o dokument.",
    reader: { ready: "Czytnik gotowy", opening: "Łączenie z czytnikiem…", absent: "Brak czytnika — wpisz numer", error: "Czytnik nie odpowiada" },
    central: { online: "Połączono z CUS", offline: "Tryb offline", not_configured: "" },
    empty: "Wpisz numer karty.", busy: "Sprawdzam…", failed: "Nie udało się sprawdzić. Spróbuj ponownie.",
    keepCard: "Zostaw kartę na czytniku, dopóki nie skończysz.",
    tooMany: (n) => `Zbyt wiele prób. Spróbuj ponownie za ${n} s.`,
    clockBehind: "Zegar kiosku jest cofnięty — powiadom obsługę.",
    preparing: (p) => p == null ? "Przygotowanie danych…" : `Przygotowanie danych: ${p} %`,
    verdict: {
      valid: "Karta ważna", expired: "Karta nieważna", not_yet_valid: "Karta jeszcze nieważna", suspended: "Karta zawieszona",
      revoked: "Karta unieważniona", lost: "Karta zgłoszona jako zgubiona", unknown: "Nie znamy tej karty",
      unreadable: "Przyłóż kartę ponownie", counterfeit: "Nie można potwierdzić karty",
    },
  },
  uk: {
    tap: "Прикладіть картку до зчитувача",
    tapHint: "Картка сеньйора 60+, Картка великої родини або Картка «За одну усмішку»",
    typeNumber: "Ввести номер картки", entryTitle: "Введіть номер картки", back: "Назад", check: "Перевірити", done: "Готово",
    requestService: "Замовити послугу", servicesTitle: "Виберіть послугу", requestedTitle: "Заявку прийнято",
    requestedNote: "Координатор CUS зв'яжеться з вами.", requestNumber: "Номер заявки",
    requestFailed: "Не вдалося прийняти заявку. Спробуйте ще раз або зверніться до віконця.",
    hello: (n) => `Добрий день, ${n}!`,
    until: (d, n) => `дійсна до ${d}` + (n <= 30 ? ` — залишилось ${n} дн.` : ""), noEnd: "безстроково",
    offline: "Нова картка, підтверджена підписом.", lowAssurance: "Стара картка — працівник може попросити документ.",
    reader: { ready: "Зчитувач готовий", opening: "З'єднання…", absent: "Немає зчитувача — введіть номер", error: "Зчитувач не відповідає" },
    central: { online: "З'єднано з CUS", offline: "Офлайн", not_configured: "" },
    empty: "Введіть номер картки.", busy: "Перевіряю…", failed: "Не вдалося перевірити. Спробуйте ще раз.",
    keepCard: "Залиште картку на зчитувачі, доки не закінчите.",
    tooMany: (n) => `Забагато спроб. Спробуйте ще раз через ${n} с.`,
    clockBehind: "Годинник кіоску відстає — повідомте персонал.",
    preparing: (p) => p == null ? "Підготовка даних…" : `Підготовка даних: ${p} %`,
    verdict: {
      valid: "Картка дійсна", expired: "Картка недійсна", not_yet_valid: "Картка ще не дійсна", suspended: "Картку призупинено",
      revoked: "Картку анульовано", lost: "Картку заявлено як загублену", unknown: "Картка невідома",
      unreadable: "Прикладіть картку ще раз", counterfeit: "Картку неможливо підтвердити",
    },
  },
  en: {
    tap: "Tap your card on the reader",
    tapHint: "Senior Card 60+, Large Family Card or \u201cFor a Smile\u201d Card",
    typeNumber: "Type the card number", entryTitle: "Type the card number", back: "Back", check: "Check", done: "Done",
    requestService: "Request a service", servicesTitle: "Choose a service", requestedTitle: "Request received",
    requestedNote: "A CUS coordinator will contact you.", requestNumber: "Request number",
    requestFailed: "The request could not be taken. Please try again or ask at the desk.",
    hello: (n) => `Hello, ${n}!`,
    until: (d, n) => `valid until ${d}` + (n <= 30 ? ` — ${n} days left` : ""), noEnd: "no end date",
    offline: "A new card, confirmed by its signature.", lowAssurance: "Old card — staff may ask for an ID.",
    reader: { ready: "Reader ready", opening: "Connecting to the reader…", absent: "No reader — type the number", error: "Reader not answering" },
    central: { online: "Connected to CUS", offline: "Offline", not_configured: "" },
    empty: "Type the card number.", busy: "Checking…", failed: "Could not check. Please try again.",
    keepCard: "Leave the card on the reader until you finish.",
    tooMany: (n) => `Too many attempts. Try again in ${n} s.`,
    clockBehind: "The kiosk's clock is behind — tell the staff.",
    preparing: (p) => p == null ? "Preparing data…" : `Preparing data: ${p} %`,
    verdict: {
      valid: "Card valid", expired: "Card expired", not_yet_valid: "Card not valid yet", suspended: "Card suspended",
      revoked: "Card revoked", lost: "Card reported lost", unknown: "Card not known",
      unreadable: "Tap your card again", counterfeit: "Card cannot be verified",
    },
  },
};

const $ = (id) => document.getElementById(id);
const SCREENS = ["idle", "entry", "verdict", "services", "requested"];
// The heading each screen moves focus to, so focus never stays on a button that was just hidden.
const HEADINGS = { idle: "idle-title", entry: "entry-title", verdict: "verdict-title", services: "services-title", requested: "requested-title" };
// How long a screen waits for the resident before ending the session and going back to idle.
const INACTIVITY_MS = { entry: 60000, verdict: 20000, services: 60000, requested: 30000 };

let lang = "pl";
let screen = "idle";
// The verdict being shown (the person in front of the kiosk), or null. Everything about that person
// lives here and in the verdict/services/requested elements, and is wiped by forgetPerson().
let lastEvent = null;
let backToIdle = null;
let lastStatus = null;
let servicesShown = [];        // the service objects listed on the services screen (names re-rendered on a language switch)
let requestedService = null;   // the service just requested (its name re-rendered on a language switch)
// Verdicts already handled (the POST /check answer and its own event), keyed without any personal data,
// so that a late duplicate never brings a finished verdict back.
const handled = new Map();
// Sessions replaced by a newer verdict: a late session_end for one of them must not clear the newer person.
const replacedSessions = [];
let pauseUntil = 0;            // number entry is paused by the server (429) until this time (ms)
let pauseTimer = null;
let statusTimer = null;
let statusEvery = 5000;        // ms between status polls (shorter while a bootstrap runs)

function t() { return T[lang]; }

function show(next) {
  for (const id of SCREENS) $(id).hidden = id !== next;
  const changed = next !== screen;
  screen = next;
  clearTimeout(backToIdle);
  if (INACTIVITY_MS[next]) backToIdle = setTimeout(() => finish(), INACTIVITY_MS[next]);
  if (next === "entry") {
    renderPause();
    $("number").focus();  // the field is labelled like the heading; the resident types straight away
  } else if (changed || next === "verdict") {
    $(HEADINGS[next]).focus();
  }
}

/// Ends the person's session on the server (if any) and forgets them on the screen: "Gotowe",
/// "Wróć" to idle and the screen's own inactivity timers all come here.
function finish() {
  const session = lastEvent && lastEvent.session;
  if (session) {
    // keepalive: the DELETE is sent even if the page is being reloaded. The screen does not wait for it.
    fetch(`/api/v1/sessions/${encodeURIComponent(session)}`, { method: "DELETE", keepalive: true, cache: "no-store" })
      .catch(() => { /* the server's own session timeout ends it anyway */ });
  }
  forgetPerson();
  show("idle");
}

/// Removes every trace of the person from memory and from the DOM (not merely hidden).
function forgetPerson() {
  if (lastEvent && lastEvent.session) rememberReplaced(lastEvent.session);
  lastEvent = null;
  servicesShown = [];
  requestedService = null;
  const v = $("verdict");
  delete v.dataset.kind;
  delete v.dataset.verdict;
  for (const id of ["verdict-mark", "verdict-title", "verdict-greeting", "verdict-reason", "verdict-note", "verdict-keep-card",
    "services-error", "requested-service", "requested-id", "live"]) $(id).textContent = "";
  $("verdict-entitlements").replaceChildren();
  $("services-list").replaceChildren();
  $("verdict-keep-card").hidden = true;
  $("request-service").hidden = true;
  $("number").value = "";
  if (!pausedSeconds()) $("entry-error").textContent = "";
}

function rememberReplaced(session) {
  replacedSessions.push(session);
  if (replacedSessions.length > 8) replacedSessions.shift();
}

function translateStatic() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t()[el.dataset.t];
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  // Only the screen that is showing is re-rendered: idle stays idle, a finished verdict never comes back.
  if (screen === "verdict" && lastEvent) fillVerdict(lastEvent);
  if (screen === "services") relabelServices();
  if (screen === "requested" && requestedService) $("requested-service").textContent = serviceName(requestedService);
  if (screen === "entry") renderPause();
  if (lastStatus) renderStatus(lastStatus);
}

function polishDate(iso) {
  const [y, m, d] = iso.split("-");
  return `${Number(d)}.${m}.${y}`;
}

function localized(pair) { return pair ? (lang === "en" ? pair.en : pair.pl) || pair.pl || "" : ""; }

function eventKey(e) { return `${e.type}|${e.at}|${e.card && e.card.masked}|${e.verdict}|${e.session || ""}`; }

/// A new verdict replaces whoever was shown before, entirely: forget first, then render.
function showVerdict(e) {
  const key = eventKey(e);
  const now = Date.now();
  for (const [k, when] of handled) if (now - when > 60000) handled.delete(k);
  if (handled.has(key)) return;
  handled.set(key, now);
  forgetPerson();
  lastEvent = e;
  fillVerdict(e);
  show("verdict");
  $("live").textContent = [$("verdict-title").textContent, $("verdict-reason").textContent].filter(Boolean).join(". ");
}

function fillVerdict(e) {
  const v = $("verdict");
  v.dataset.kind = e.verdict === "valid" ? "ok" : e.verdict === "unreadable" ? "retry" : "no";
  v.dataset.verdict = e.verdict;
  $("verdict-mark").textContent = e.verdict === "valid" ? "✓" : e.verdict === "unreadable" ? "↻" : "✗";
  $("verdict-title").textContent = t().verdict[e.verdict] || e.verdict;
  // Only a card on the reader proves who is standing here; a typed number is anyone's to type,
  // so it never greets by name even if a name were sent.
  const verified = e.type === "tap" && e.identity === "verified";
  $("verdict-greeting").textContent = verified && e.holder ? t().hello(e.holder) : "";
  // For a valid card the list of entitlements says it all; a refusal needs its reason.
  $("verdict-reason").textContent = e.verdict === "valid" ? "" : localized(e.reason);
  $("verdict-reason").hidden = e.verdict === "valid";
  const list = $("verdict-entitlements");
  list.replaceChildren();
  for (const ent of e.entitlements || []) {
    const li = document.createElement("li");
    li.textContent = `${localized(ent.name)}: ` + (ent.valid_until ? t().until(polishDate(ent.valid_until), ent.days_to_expiry) : t().noEnd);
    list.append(li);
  }
  const notes = [];
  if (e.accepted_offline) notes.push(t().offline);
  if (e.verdict === "valid" && e.assurance === "low") notes.push(t().lowAssurance);
  $("verdict-note").textContent = notes.join(" ");
  // Taking the card off the reader ends a tapped card's session on the server.
  const keep = e.type === "tap" && e.verdict === "valid" && Boolean(e.session);
  $("verdict-keep-card").textContent = keep ? t().keepCard : "";
  $("verdict-keep-card").hidden = !keep;
  // A valid card opens a short session: the screen acts for the holder through it, never by number.
  $("request-service").hidden = !(e.verdict === "valid" && e.session);
}

/// The server ended a session (Gotowe elsewhere, card taken off the reader, or its lifetime ran out).
function onSessionEnd(msg) {
  let end;
  try { end = JSON.parse(msg.data); } catch (_) { return; }
  if (!lastEvent) return;
  // A late end of a session that a newer verdict already replaced says nothing about the person shown now.
  if (end.session !== lastEvent.session && (replacedSessions.includes(end.session) || lastEvent.session)) return;
  forgetPerson();
  show("idle");
}

function serviceName(svc) { return localized(svc.name); }

function relabelServices() {
  for (const b of $("services-list").querySelectorAll("button")) {
    const svc = servicesShown.find((s) => s.id === b.dataset.service);
    if (svc) b.textContent = serviceName(svc);
  }
}

async function showServices() {
  const e = lastEvent;
  if (!e || !e.session) return;
  const list = $("services-list");
  const error = $("services-error");
  error.textContent = "";
  list.replaceChildren();
  servicesShown = [];
  show("services");
  try {
    const res = await fetch("/api/v1/services", { cache: "no-store" });
    const body = await res.json();
    if (lastEvent !== e || screen !== "services") return;  // the person left meanwhile
    const held = new Set((e.entitlements || []).map((x) => x.kind));
    for (const svc of body.services) {
      if (svc.entitlements.length && !svc.entitlements.some((k) => held.has(k))) continue;
      servicesShown.push(svc);
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.service = svc.id;
      b.textContent = serviceName(svc);
      b.addEventListener("click", () => requestService(svc));
      list.append(b);
    }
  } catch (_) {
    if (screen === "services") error.textContent = t().requestFailed;
  }
}

function errorText(body) {
  const err = body && body.error;
  if (!err) return t().failed;
  return (lang === "en" ? err.message : err.message_pl) || err.message || t().failed;
}

async function requestService(svc) {
  const e = lastEvent;
  if (!e || !e.session) return;
  const error = $("services-error");
  for (const b of $("services-list").querySelectorAll("button")) b.disabled = true;
  try {
    const res = await fetch("/api/v1/requests", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: e.session, service: svc.id }),
    });
    const body = await res.json();
    if (lastEvent !== e) return;  // the session ended while the request was on its way
    if (!res.ok) {
      error.textContent = errorText(body);
      return;
    }
    requestedService = svc;
    $("requested-service").textContent = serviceName(svc);
    // The last characters of the request's id are enough to quote at the desk.
    $("requested-id").textContent = body.request.id.replace(/-/g, "").slice(-6).toUpperCase();
    show("requested");
    $("live").textContent = `${t().requestedTitle}. ${serviceName(svc)}`;
  } catch (_) {
    if (lastEvent === e) error.textContent = t().requestFailed;
  } finally {
    for (const b of $("services-list").querySelectorAll("button")) b.disabled = false;
  }
}

function renderStatus(s) {
  lastStatus = s;
  const r = $("reader-state");
  r.dataset.state = s.reader.state;
  r.textContent = t().reader[s.reader.state] || s.reader.state;
  const c = $("central-state");
  c.dataset.state = s.central.state;
  c.textContent = t().central[s.central.state] || "";
  c.hidden = !c.textContent;
  const behind = Boolean(s.clock && s.clock.ok === false);
  $("clock-warning").textContent = behind ? t().clockBehind : "";
  $("clock-warning").hidden = !behind;
  // A snapshot download into an empty replica: say so rather than answer "card not known" in silence.
  const preparing = Boolean(s.bootstrap);
  $("preparing").textContent = preparing ? t().preparing(s.bootstrap.percent) : "";
  $("preparing").hidden = !preparing;
  // Poll every second while data is being prepared, so the percentage moves; every 5 s otherwise.
  const every = preparing ? 1000 : 5000;
  if (every !== statusEvery) {
    statusEvery = every;
    clearInterval(statusTimer);
    statusTimer = setInterval(refreshStatus, statusEvery);
  }
}

async function refreshStatus() {
  try {
    const res = await fetch("/api/v1/status", { cache: "no-store" });
    if (res.ok) renderStatus(await res.json());
  } catch (_) { /* kioskd restarting: try again on the next tick */ }
}

/// Seconds left of the server's pause on number entry (0 when none).
function pausedSeconds() { return Math.max(0, Math.ceil((pauseUntil - Date.now()) / 1000)); }

function startPause(seconds) {
  pauseUntil = Date.now() + seconds * 1000;
  clearInterval(pauseTimer);
  pauseTimer = setInterval(renderPause, 250);
  renderPause();
  $("live").textContent = t().tooMany(pausedSeconds());
}

/// The calm countdown in the entry screen's error line; the Sprawdź button stays disabled until 0.
function renderPause() {
  const error = $("entry-error");
  const left = pausedSeconds();
  if (left > 0) {
    // The line changes every second: it must not be an alert read out on every tick.
    error.removeAttribute("role");
    error.classList.add("calm");
    error.textContent = t().tooMany(left);
    $("entry-submit").disabled = true;
    return;
  }
  if (pauseTimer !== null) {
    clearInterval(pauseTimer);
    pauseTimer = null;
    error.textContent = "";
  }
  error.classList.remove("calm");
  error.setAttribute("role", "alert");
  $("entry-submit").disabled = false;
}

async function submitNumber(ev) {
  ev.preventDefault();
  if (pausedSeconds() > 0) { renderPause(); return; }
  const number = $("number").value.trim();
  const error = $("entry-error");
  if (!number) { error.textContent = t().empty; return; }
  error.textContent = t().busy;
  $("entry-submit").disabled = true;
  let paused = false;
  try {
    const res = await fetch("/api/v1/check", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ number }),
    });
    const body = await res.json().catch(() => null);
    if (res.status === 429) {
      const fromBody = body && body.error && Number(body.error.retry_after);
      const seconds = fromBody > 0 ? fromBody : Number(res.headers.get("Retry-After")) || 60;
      paused = true;
      startPause(seconds);
      return;
    }
    if (!res.ok) {
      error.textContent = errorText(body);
      return;
    }
    error.textContent = "";
    $("number").value = "";
    // The same verdict also arrives on the event stream; render it now in case the stream is reconnecting.
    showVerdict(body);
  } catch (_) {
    error.textContent = t().failed;
  } finally {
    if (!paused) $("entry-submit").disabled = pausedSeconds() > 0;
  }
}

function connectEvents() {
  const source = new EventSource("/api/v1/events");
  const onVerdict = (msg) => {
    let e;
    try { e = JSON.parse(msg.data); } catch (_) { return; }
    showVerdict(e);
  };
  source.addEventListener("tap", onVerdict);
  source.addEventListener("check", onVerdict);
  source.addEventListener("session_end", onSessionEnd);
  source.addEventListener("open", () => { document.body.dataset.events = "open"; });
  source.addEventListener("error", () => { document.body.dataset.events = "reconnecting"; });
  // EventSource reconnects by itself (kioskd sends retry: 2000).
}

function tick() {
  $("clock").textContent = new Date().toLocaleString(lang === "uk" ? "uk-UA" : lang === "en" ? "en-GB" : "pl-PL",
    { timeZone: "Europe/Warsaw", weekday: "long", hour: "2-digit", minute: "2-digit" });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => { lang = b.dataset.lang; translateStatic(); tick(); });
  $("type-number").addEventListener("click", () => show("entry"));
  $("entry-cancel").addEventListener("click", finish);
  $("verdict-done").addEventListener("click", finish);
  $("request-service").addEventListener("click", showServices);
  $("services-back").addEventListener("click", () => { if (lastEvent) show("verdict"); else finish(); });
  $("requested-done").addEventListener("click", finish);
  $("entry-form").addEventListener("submit", submitNumber);
  translateStatic();
  tick();
  setInterval(tick, 30000);
  refreshStatus();
  statusTimer = setInterval(refreshStatus, statusEvery);
  connectEvents();
});
