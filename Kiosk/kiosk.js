// The kiosk screen: shows each verdict kioskd announces on /api/v1/events, and lets a resident
// type a card number. Plain JavaScript, no build step, nothing fetched from outside the kiosk.
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
    verdict: {
      valid: "Card valid", expired: "Card expired", not_yet_valid: "Card not valid yet", suspended: "Card suspended",
      revoked: "Card revoked", lost: "Card reported lost", unknown: "Card not known",
      unreadable: "Tap your card again", counterfeit: "Card cannot be verified",
    },
  },
};

const $ = (id) => document.getElementById(id);
let lang = "pl";
let lastEvent = null;
let backToIdle = null;
let lastStatus = null;

function t() { return T[lang]; }

function show(screen) {
  for (const id of ["idle", "entry", "verdict", "services", "requested"]) $(id).hidden = id !== screen;
  clearTimeout(backToIdle);
  const timeouts = { verdict: 20000, services: 60000, requested: 30000 };
  if (timeouts[screen]) backToIdle = setTimeout(() => show("idle"), timeouts[screen]);
  if (screen === "entry") $("number").focus();
}

function translateStatic() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t()[el.dataset.t];
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  if (lastEvent) renderVerdict(lastEvent);
  if (lastStatus) renderStatus(lastStatus);
}

function polishDate(iso) {
  const [y, m, d] = iso.split("-");
  return `${Number(d)}.${m}.${y}`;
}

function renderVerdict(e) {
  lastEvent = e;
  const v = $("verdict");
  v.dataset.kind = e.verdict === "valid" ? "ok" : e.verdict === "unreadable" ? "retry" : "no";
  v.dataset.verdict = e.verdict;
  $("verdict-mark").textContent = e.verdict === "valid" ? "✓" : e.verdict === "unreadable" ? "↻" : "✗";
  $("verdict-title").textContent = t().verdict[e.verdict] || e.verdict;
  $("verdict-greeting").textContent = e.holder ? t().hello(e.holder) : "";
  // For a valid card the list of entitlements says it all; a refusal needs its reason.
  $("verdict-reason").textContent = e.verdict === "valid" ? "" : (lang === "en" ? e.reason.en : e.reason.pl);
  $("verdict-reason").hidden = e.verdict === "valid";
  const list = $("verdict-entitlements");
  list.replaceChildren();
  for (const ent of e.entitlements || []) {
    const li = document.createElement("li");
    const name = lang === "en" ? ent.name.en : ent.name.pl;
    li.textContent = `${name}: ` + (ent.valid_until ? t().until(polishDate(ent.valid_until), ent.days_to_expiry) : t().noEnd);
    list.append(li);
  }
  const notes = [];
  if (e.accepted_offline) notes.push(t().offline);
  if (e.verdict === "valid" && e.assurance === "low") notes.push(t().lowAssurance);
  $("verdict-note").textContent = notes.join(" ");
  // A valid card opens a short session: the screen acts for the holder through it, never by number.
  $("request-service").hidden = !(e.verdict === "valid" && e.session);
  show("verdict");
}

async function showServices() {
  const e = lastEvent;
  if (!e || !e.session) return;
  const list = $("services-list");
  const error = $("services-error");
  error.textContent = "";
  list.replaceChildren();
  show("services");
  try {
    const res = await fetch("/api/v1/services", { cache: "no-store" });
    const body = await res.json();
    const held = new Set((e.entitlements || []).map((x) => x.kind));
    for (const svc of body.services) {
      if (svc.entitlements.length && !svc.entitlements.some((k) => held.has(k))) continue;
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.service = svc.id;
      b.textContent = lang === "en" ? svc.name.en : svc.name.pl;
      b.addEventListener("click", () => requestService(svc, b));
      list.append(b);
    }
  } catch (_) {
    error.textContent = t().requestFailed;
  }
}

async function requestService(svc, button) {
  const error = $("services-error");
  for (const b of $("services-list").querySelectorAll("button")) b.disabled = true;
  try {
    const res = await fetch("/api/v1/requests", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: lastEvent.session, service: svc.id }),
    });
    const body = await res.json();
    if (!res.ok) {
      error.textContent = (lang === "en" ? body.error.message : body.error.message_pl) || body.error.message;
      return;
    }
    $("requested-service").textContent = lang === "en" ? svc.name.en : svc.name.pl;
    // The last characters of the request's id are enough to quote at the desk.
    $("requested-id").textContent = body.request.id.replace(/-/g, "").slice(-6).toUpperCase();
    show("requested");
  } catch (_) {
    error.textContent = t().requestFailed;
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
}

async function refreshStatus() {
  try {
    const res = await fetch("/api/v1/status", { cache: "no-store" });
    if (res.ok) renderStatus(await res.json());
  } catch (_) { /* kioskd restarting: try again on the next tick */ }
}

async function submitNumber(ev) {
  ev.preventDefault();
  const number = $("number").value.trim();
  const error = $("entry-error");
  if (!number) { error.textContent = t().empty; return; }
  error.textContent = t().busy;
  $("entry-submit").disabled = true;
  try {
    const res = await fetch("/api/v1/check", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ number }),
    });
    const body = await res.json();
    if (!res.ok) {
      error.textContent = (lang === "en" ? body.error.message : body.error.message_pl) || body.error.message;
      return;
    }
    error.textContent = "";
    $("number").value = "";
    // The same verdict also arrives on the event stream; render it now in case the stream is reconnecting.
    renderVerdict(body);
  } catch (_) {
    error.textContent = t().failed;
  } finally {
    $("entry-submit").disabled = false;
  }
}

function connectEvents() {
  const source = new EventSource("/api/v1/events");
  const onVerdict = (msg) => {
    const e = JSON.parse(msg.data);
    if (lastEvent && lastEvent.at === e.at && lastEvent.card.masked === e.card.masked) return;
    renderVerdict(e);
  };
  source.addEventListener("tap", onVerdict);
  source.addEventListener("check", onVerdict);
  source.addEventListener("open", () => document.body.dataset.events = "open");
  // EventSource reconnects by itself (kioskd sends retry: 2000).
}

function tick() {
  $("clock").textContent = new Date().toLocaleString(lang === "uk" ? "uk-UA" : lang === "en" ? "en-GB" : "pl-PL",
    { timeZone: "Europe/Warsaw", weekday: "long", hour: "2-digit", minute: "2-digit" });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => { lang = b.dataset.lang; translateStatic(); tick(); });
  $("type-number").addEventListener("click", () => show("entry"));
  $("entry-cancel").addEventListener("click", () => { $("entry-error").textContent = ""; show("idle"); });
  $("verdict-done").addEventListener("click", () => show("idle"));
  $("request-service").addEventListener("click", showServices);
  $("services-back").addEventListener("click", () => show("verdict"));
  $("requested-done").addEventListener("click", () => show("idle"));
  $("entry-form").addEventListener("submit", submitNumber);
  translateStatic();
  tick();
  setInterval(tick, 30000);
  refreshStatus();
  setInterval(refreshStatus, 5000);
  connectEvents();
});
