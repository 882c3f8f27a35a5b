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
    bundlesTitle: "Pakiety — kilka usług w jednym zgłoszeniu", send: "Wyślij zgłoszenie",
    phoneLabel: "Telefon do kontaktu (nieobowiązkowo)", ticketHint: "Podaj ten numer, gdy zadzwonisz do CUS.",
    free: "bezpłatnie", feeLabel: "Opłata", optional: "(nieobowiązkowo)", from: "od", to: "do", fixFields: "Popraw zaznaczone pola.",
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
    bundlesTitle: "Пакети — кілька послуг в одній заявці", send: "Надіслати заявку",
    phoneLabel: "Телефон для зв'язку (необов'язково)", ticketHint: "Назвіть цей номер, коли телефонуватимете до CUS.",
    free: "безкоштовно", feeLabel: "Плата", optional: "(необов'язково)", from: "з", to: "по", fixFields: "Виправте позначені поля.",
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
    bundlesTitle: "Bundles — several services in one request", send: "Send the request",
    phoneLabel: "Phone number for contact (optional)", ticketHint: "Quote this number when you call the CUS.",
    free: "free", feeLabel: "Fee", optional: "(optional)", from: "from", to: "to", fixFields: "Please correct the marked fields.",
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
const SCREENS = ["idle", "entry", "verdict", "services", "details", "requested"];
// The heading each screen moves focus to, so focus never stays on a button that was just hidden.
const HEADINGS = {
  idle: "idle-title", entry: "entry-title", verdict: "verdict-title", services: "services-title", details: "details-title",
  requested: "requested-title",
};
// How long a screen waits for the resident before ending the session and going back to idle.
const INACTIVITY_MS = { entry: 60000, verdict: 20000, services: 60000, details: 120000, requested: 30000 };

let lang = "pl";
let screen = "idle";
// The verdict being shown (the person in front of the kiosk), or null. Everything about that person
// lives here and in the verdict/services/requested elements, and is wiped by forgetPerson().
let lastEvent = null;
let backToIdle = null;
let lastStatus = null;
let servicesShown = [];        // the service and bundle offers listed on the services screen (re-rendered on a language switch)
let chosen = null;             // {offer, kind: "service" | "bundle"} whose details are being filled in
let fieldProblems = [];        // the server's per-field problems for the form shown ({field, code, text})
let requestedService = null;   // the offer just requested (its name re-rendered on a language switch)
let requestedNext = null;      // its next step, {pl, uk, en}
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

/// The resident is busy on this screen (typing, choosing): its inactivity timer starts again.
function keepAlive() {
  clearTimeout(backToIdle);
  if (INACTIVITY_MS[screen]) backToIdle = setTimeout(() => finish(), INACTIVITY_MS[screen]);
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
  chosen = null;
  fieldProblems = [];
  requestedService = null;
  requestedNext = null;
  const v = $("verdict");
  delete v.dataset.kind;
  delete v.dataset.verdict;
  for (const id of ["verdict-mark", "verdict-title", "verdict-greeting", "verdict-reason", "verdict-note", "verdict-keep-card",
    "services-error", "details-title", "details-description", "details-fee", "details-error", "field-phone-error",
    "requested-service", "requested-note", "requested-id", "live"]) $(id).textContent = "";
  $("verdict-entitlements").replaceChildren();
  $("services-list").replaceChildren();
  $("bundles-list").replaceChildren();
  $("bundles-title").hidden = true;
  $("details-fields").replaceChildren();
  $("field-phone").value = "";
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
  if (screen === "details" && chosen) relabelDetails();
  if (screen === "requested" && requestedService) fillRequested();
  if (screen === "entry") renderPause();
  if (lastStatus) renderStatus(lastStatus);
}

function polishDate(iso) {
  const [y, m, d] = iso.split("-");
  return `${Number(d)}.${m}.${y}`;
}

/// A text in the chosen language (pl, uk or en), Polish when that one is missing.
function localized(text) { return text ? text[lang] || text.pl || "" : ""; }

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

/// "8,00 zł za godzinę", "bezpłatnie", or "" when no fee applies.
function feeText(fee) {
  if (!fee) return "";
  if (fee.kind === "free" || fee.amount_grosze == null) return t().free;
  const amount = (fee.amount_grosze / 100).toLocaleString(lang === "en" ? "en-GB" : lang === "uk" ? "uk-UA" : "pl-PL",
    { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${amount} zł` + (fee.per ? ` ${localized(fee.per)}` : "");
}

function offerFee(offer, kind) {
  if (kind === "service") return feeText(offer.fee);
  // A bundle: each service's fee, by the services' names when the list knows them.
  return offer.services.map((id) => {
    const svc = servicesShown.find((o) => o.kind === "service" && o.offer.id === id);
    const fee = feeText(offer.fees ? offer.fees[id] : null);
    return svc && fee ? `${serviceName(svc.offer)}: ${fee}` : fee;
  }).filter(Boolean).join("; ");
}

/// One offer as a button (available) or as a plain card saying why not.
function offerElement(offer, kind) {
  const el = document.createElement(offer.available ? "button" : "div");
  if (offer.available) {
    el.type = "button";
    el.addEventListener("click", () => chooseOffer(offer, kind));
  } else {
    el.className = "unavailable";
  }
  el.dataset[offer.available ? kind : "unavailable"] = offer.id;
  fillOffer(el, offer, kind);
  return el;
}

function fillOffer(el, offer, kind) {
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = serviceName(offer);
  const extra = document.createElement("span");
  if (offer.available) {
    extra.className = "fee";
    const fee = offerFee(offer, kind);
    extra.textContent = fee ? `${t().feeLabel}: ${fee}` : "";
  } else {
    extra.className = "why";
    extra.textContent = offer.reason ? localized(offer.reason.text) : "";
  }
  el.replaceChildren(name, extra);
}

function relabelServices() {
  for (const { offer, kind, el } of servicesShown) fillOffer(el, offer, kind);
}

async function showServices() {
  const e = lastEvent;
  if (!e || !e.session) return;
  const list = $("services-list");
  const bundles = $("bundles-list");
  const error = $("services-error");
  error.textContent = "";
  list.replaceChildren();
  bundles.replaceChildren();
  $("bundles-title").hidden = true;
  servicesShown = [];
  show("services");
  try {
    const res = await fetch(`/api/v1/services?session=${encodeURIComponent(e.session)}`, { cache: "no-store" });
    const body = await res.json();
    if (lastEvent !== e || screen !== "services") return;  // the person left meanwhile
    if (!res.ok) { error.textContent = errorText(body); return; }
    // Available services first, then those this person cannot ask for (with the reason).
    const ordered = [...body.services.filter((s) => s.available), ...body.services.filter((s) => !s.available)];
    for (const offer of ordered) {
      const el = offerElement(offer, "service");
      servicesShown.push({ offer, kind: "service", el });
      list.append(el);
    }
    for (const offer of body.bundles.filter((b) => b.available)) {
      const el = offerElement(offer, "bundle");
      servicesShown.push({ offer, kind: "bundle", el });
      bundles.append(el);
    }
    $("bundles-title").hidden = bundles.childElementCount === 0;
  } catch (_) {
    if (screen === "services") error.textContent = t().requestFailed;
  }
}

function errorText(body) {
  const err = body && body.error;
  if (!err) return t().failed;
  const byLang = { pl: err.message_pl, uk: err.message_uk, en: err.message };
  return byLang[lang] || err.message_pl || err.message || t().failed;
}

// MARK: The request form

/// Today in Warsaw as YYYY-MM-DD (the kiosk judges dates by Warsaw's calendar, whatever the browser's zone).
function warsawToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Warsaw", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

function addDays(iso, n) {
  const [y, m, d] = iso.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + n));
  return date.toISOString().slice(0, 10);
}

function dayLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(lang === "uk" ? "uk-UA" : lang === "en" ? "en-GB" : "pl-PL",
    { timeZone: "UTC", weekday: "long", day: "numeric", month: "long" });
}

function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}

/// The days a date may be: from lead_days ahead to `horizon` days ahead, as a list to choose from.
function daySelect(id, lead, horizon, required) {
  const sel = document.createElement("select");
  sel.id = id;
  const today = warsawToday();
  if (!required) sel.append(option("", "—"));
  for (let n = Math.max(0, lead); n <= horizon; n++) {
    const iso = addDays(today, n);
    sel.append(option(iso, dayLabel(iso)));
  }
  return sel;
}

function timeSelect(id, field) {
  const sel = document.createElement("select");
  sel.id = id;
  if (!field.required) sel.append(option("", "—"));
  const low = field.min != null ? field.min : 7 * 60, high = field.max != null ? field.max : 20 * 60;
  for (let m = Math.ceil(low / 30) * 30; m <= high; m += 30) {
    const hhmm = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    sel.append(option(hhmm, hhmm));
  }
  return sel;
}

function countSelect(id, field) {
  const sel = document.createElement("select");
  sel.id = id;
  if (!field.required) sel.append(option("", "—"));
  const low = field.min != null ? field.min : 1, high = field.max != null ? field.max : 10;
  for (let n = low; n <= high; n++) sel.append(option(String(n), String(n)));
  return sel;
}

/// One labelled control per field, in the catalogue's order; its id is field-<id>.
function fieldElement(field, offer) {
  const wrap = document.createElement("div");
  wrap.className = "field";
  wrap.dataset.field = field.id;
  const label = document.createElement("label");
  const id = `field-${field.id}`;
  label.htmlFor = id;
  wrap.append(label);
  let control;
  switch (field.kind) {
    case "note":
      control = document.createElement("textarea");
      control.id = id;
      control.maxLength = field.max || 500;
      break;
    case "date":
      control = daySelect(id, offer.lead_days, field.max || 60, field.required);
      break;
    case "date_window": {
      control = document.createElement("div");
      control.className = "pair";
      const from = daySelect(`${id}-from`, offer.lead_days, 90, field.required);
      const to = daySelect(`${id}-to`, offer.lead_days, 90, field.required);
      from.setAttribute("aria-label", t().from);
      to.setAttribute("aria-label", t().to);
      // A window of a few days by default, so that a quick "Wyślij" is already sensible.
      if (to.options.length > 6) to.selectedIndex = Math.min(to.options.length - 1, Math.min((field.max || 14) - 1, 6));
      label.htmlFor = `${id}-from`;
      control.append(from, to);
      break;
    }
    case "time":
      control = timeSelect(id, field);
      break;
    case "count":
      control = countSelect(id, field);
      break;
    default:
      control = document.createElement("input");
      control.id = id;
      control.type = "text";
      control.maxLength = field.max || 200;
  }
  const problem = document.createElement("p");
  problem.className = "error field-error";
  problem.id = `${id}-error`;
  wrap.append(control, problem);
  return wrap;
}

function fieldLabel(field) {
  return localized(field.label) + (field.required ? "" : ` ${t().optional}`);
}

function relabelDetails() {
  const { offer, kind } = chosen;
  $("details-title").textContent = serviceName(offer);
  $("details-description").textContent = localized(offer.description);
  const fee = offerFee(offer, kind);
  $("details-fee").textContent = fee ? `${t().feeLabel}: ${fee}` : "";
  for (const field of offer.fields) {
    const wrap = $("details-fields").querySelector(`[data-field="${field.id}"]`);
    if (wrap) wrap.querySelector("label").textContent = fieldLabel(field);
  }
  // Day names in the chosen language.
  for (const o of $("details-fields").querySelectorAll("option")) if (/^\d{4}-\d{2}-\d{2}$/.test(o.value)) o.textContent = dayLabel(o.value);
  showProblems();
}

function chooseOffer(offer, kind) {
  chosen = { offer, kind };
  fieldProblems = [];
  const fields = $("details-fields");
  fields.replaceChildren(...offer.fields.map((f) => fieldElement(f, offer)));
  $("field-phone").value = "";
  $("details-error").textContent = "";
  relabelDetails();
  show("details");
}

function readDetails() {
  const details = {};
  for (const field of chosen.offer.fields) {
    const id = `field-${field.id}`;
    if (field.kind === "date_window") {
      const from = $(`${id}-from`).value, to = $(`${id}-to`).value;
      if (from || to) details[field.id] = { from, to };
    } else if (field.kind === "count") {
      const v = $(id).value;
      if (v) details[field.id] = Number(v);
    } else {
      const v = $(id).value.trim();
      if (v) details[field.id] = v;
    }
  }
  return details;
}

/// The server's per-field problems next to their fields, in the chosen language.
function showProblems() {
  for (const wrap of document.querySelectorAll("#details .field")) {
    const name = wrap.dataset.field || "phone";
    const problem = fieldProblems.find((p) => p.field === name);
    wrap.dataset.invalid = String(Boolean(problem));
    wrap.querySelector(".field-error").textContent = problem ? localized(problem.text) : "";
  }
  const general = fieldProblems.filter((p) => p.field !== "phone" && !chosen.offer.fields.some((f) => f.id === p.field));
  $("details-error").textContent = fieldProblems.length ? [t().fixFields, ...general.map((p) => localized(p.text))].join(" ") : "";
}

async function submitDetails(ev) {
  ev.preventDefault();
  const e = lastEvent;
  if (!e || !e.session || !chosen) return;
  const { offer, kind } = chosen;
  const body = { session: e.session, [kind]: offer.id, details: readDetails(), lang };
  const phone = $("field-phone").value.trim();
  if (phone) body.phone = phone;
  $("details-submit").disabled = true;
  $("details-error").textContent = "";
  try {
    const res = await fetch("/api/v1/requests", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await res.json();
    if (lastEvent !== e) return;  // the session ended while the request was on its way
    if (res.status === 422 && answer.error && answer.error.fields) {
      fieldProblems = answer.error.fields;
      showProblems();
      return;
    }
    if (!res.ok) {
      fieldProblems = [];
      showProblems();
      $("details-error").textContent = errorText(answer);
      return;
    }
    requestedService = offer;
    requestedNext = answer.next_step;
    fillRequested();
    // The ticket is what the resident quotes on the phone; the id stays for software.
    $("requested-id").textContent = answer.ticket || answer.request.id.replace(/-/g, "").slice(-6).toUpperCase();
    show("requested");
    $("live").textContent = `${t().requestedTitle}. ${serviceName(offer)}. ${t().requestNumber}: ${$("requested-id").textContent}`;
  } catch (_) {
    if (lastEvent === e) $("details-error").textContent = t().requestFailed;
  } finally {
    $("details-submit").disabled = false;
  }
}

function fillRequested() {
  $("requested-service").textContent = serviceName(requestedService);
  $("requested-note").textContent = localized(requestedNext) || t().requestedNote;
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
  $("details-back").addEventListener("click", () => { if (lastEvent) show("services"); else finish(); });
  $("details-form").addEventListener("submit", submitDetails);
  $("details-form").addEventListener("input", keepAlive);
  $("details-form").addEventListener("change", keepAlive);
  $("requested-done").addEventListener("click", finish);
  $("entry-form").addEventListener("submit", submitNumber);
  translateStatic();
  tick();
  setInterval(tick, 30000);
  refreshStatus();
  statusTimer = setInterval(refreshStatus, statusEvery);
  connectEvents();
});
