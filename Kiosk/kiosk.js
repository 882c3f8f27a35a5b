// The kiosk screen. Plain JavaScript, no build step, nothing fetched from outside the kiosk; it runs under a
// strict CSP (no inline scripts, handlers or style attributes). Every word shown comes from i18n/<lang>.json.
//
// One screen at a time is drawn into #title, #content and #bar from a screen function (SCREENS) and the
// state: S (the person in front of the kiosk: wiped whole when they are done), STAFF (a verification
// session) and lastStatus. Nothing scrolls: a screen whose content does not fit the panel is shown in
// pages ("Dalej" / "Wstecz"), and pickers and keyboards page their own keys.
"use strict";

const $ = (id) => document.getElementById(id);
const LANGS = ["pl", "uk", "en"];
const LOCALES = { pl: "pl-PL", uk: "uk-UA", en: "en-GB" };
const CAT = { pl: {}, uk: {}, en: {} };
let UI = {
  mode: "resident", panel: { width: 1920, height: 1080, diagonal_inches: 21.5 }, speech: false, printer: false,
  inactivity_seconds: 75, answer_seconds: 30, kiosk_phone: null,
};
let lang = "pl";
let lastStatus = null;
let statusTimer = null;
let statusEvery = 5000;
let announceTimer = null;      // the live region's pending announcement (see announce)
let pauseUntil = 0;      // number entry paused by the server (429) until this time (ms)
let callbackPauseUntil = 0;
let STAFF = null;        // { token } while verification mode is on
let lastSound = null;    // the last beep pattern played ("valid", "invalid", "retry"), for the tests
let soundCount = 0;
let pxPerMm = 4.034;

// Everything about the person in front of the kiosk. forget() replaces it whole.
function fresh(prefs) {
  return {
    verdict: null,      // the verdict JSON that opened the person's visit
    session: null,      // its session id (valid verdicts only)
    speech: Boolean(prefs && prefs.speech),
    large: Boolean(prefs && prefs.large),  // "Większy tekst" (panels with room for it)
    saved: null,        // the screen preferences stored with their card ({lang, large_text, speech}), from the tap
    requests: null,     // their earlier requests (GET /requests?session=)
    catalogue: null,    // GET /services?session= (their fees) or the public one
    form: null,         // { item, bundle, questions, answers, problems, error }
    ticket: null,       // { ticket, next_step, printed, name }
    lastExtend: 0,
  };
}
let S = fresh();
let route = null;        // the screen showing: { name, ...its own state }
let stack = [];          // the screens "Wstecz" goes back to

// ---------------------------------------------------------------- words

function tr(key, vars) {
  let s = CAT[lang][key];
  if (s === undefined) s = CAT.pl[key];
  if (s === undefined) s = key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined || vars[k] === null ? "" : String(vars[k])));
  return s;
}
function loc(text) { return text ? (typeof text === "string" ? text : text[lang] || text.pl || text.en || "") : ""; }
function errorText(body) {
  const e = body && body.error;
  if (!e) return tr("failed");
  return (lang === "pl" ? e.message_pl : lang === "uk" ? e.message_uk : e.message) || e.message_pl || e.message || tr("failed");
}
function isoToday(offset = 0) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Warsaw", year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
  return addDays(parts, offset);
}
function addDays(iso, n) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function dayDiff(a, b) { return Math.round((new Date(b + "T12:00:00Z") - new Date(a + "T12:00:00Z")) / 86400000); }
function shortDate(iso) { const [y, m, d] = iso.split("-"); return `${Number(d)}.${m}.${y}`; }
function dayLabel(iso) {
  const d = new Date(iso + "T12:00:00Z");
  const wd = new Intl.DateTimeFormat(LOCALES[lang], { weekday: "short", timeZone: "UTC" }).format(d);
  const [, m, dd] = iso.split("-");
  return [wd, `${Number(dd)}.${m}`];
}
function longDay(iso) {
  return new Intl.DateTimeFormat(LOCALES[lang], { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" })
    .format(new Date(iso + "T12:00:00Z"));
}
function stamp(isoTime) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Warsaw", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false })
    .formatToParts(new Date(isoTime))) parts[p.type] = p.value;
  return `${parts.day}.${parts.month}, ${parts.hour}:${parts.minute}`;
}
function money(grosze) {
  return new Intl.NumberFormat(LOCALES[lang], { style: "currency", currency: "PLN" }).format(grosze / 100);
}
function feeText(fee) {
  if (!fee) return tr("services.noPrice");
  if (fee.kind === "free" || !fee.amount_grosze) return tr("services.free");
  return tr(fee.kind === "discounted" ? "services.discounted" : "services.full", { amount: money(fee.amount_grosze), per: loc(fee.per) })
    .replace(/\s+—/, " —").replace(/\s+$/, "");
}
function priceText(fee) {
  if (!fee || fee.kind === "free" || !fee.amount_grosze) return feeText(fee);
  return `${money(fee.amount_grosze)} ${loc(fee.per)}`.trim();
}
/// A long text (a reason from kioskd) as one paragraph a sentence, so that a small panel can page it.
function sentences(text) { return String(text || "").split(/(?<=[.!?])\s+/).filter((x) => x.trim()); }
function isCompact() { return document.documentElement.classList.contains("compact"); }
function phoneGroups(digits) { return digits.replace(/(\d{3})(?=\d)/g, "$1 "); }

// ---------------------------------------------------------------- elements

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "on") el.addEventListener("click", v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
function btn(label, onClick, cls = "", attrs = {}) {
  return h("button", { type: "button", class: "btn " + cls, on: onClick, ...attrs }, label);
}
function para(text, cls = "", attrs = {}) { return h("p", { class: cls, ...attrs }, text); }
function optional(node) { node.dataset.optional = "1"; return node; }

// ---------------------------------------------------------------- screens and pages

function go(r) { if (route) stack.push(route); route = r; render(); }
function replace(r) { route = r; render(); }
function home() { stack = []; route = { name: "idle" }; render(); }
function back() {
  if (route && route.page > 0) { route.page -= 1; render(); return; }
  if (route && route.onBack) { route.onBack(); return; }
  if (!stack.length) { finish(); return; }
  route = stack.pop();
  route.page = 0;
  render();
}

/// Draws the current route: title, content (paged to fit) and the bar; moves focus to the heading;
/// reads it aloud when the person asked for that.
function render(focus = true) {
  document.documentElement.classList.toggle("large", S.large && !isCompact());
  const spec = SCREENS[route.name](route);
  document.documentElement.lang = lang;
  document.title = tr("app.title");
  document.body.dataset.screen = route.name;
  document.body.dataset.kind = spec.kind || "";
  $("title").textContent = spec.title;
  const content = $("content");
  content.className = spec.cls || "";
  if (spec.grid) layoutGrid(spec);
  else layoutBlocks(spec);
  renderBanners();
  if (focus) $("title").focus();
  speakScreen(spec);
  armInactivity();
}

function overflows() {
  const c = $("content");
  return c.scrollHeight > c.clientHeight + 1 || c.scrollWidth > c.clientWidth + 1;
}

/// Fills #content with as many of spec.blocks as fit, from the route's page; "optional" blocks that do
/// not fit are left out rather than paged.
function layoutBlocks(spec) {
  const blocks = spec.blocks || [];
  if (isCompact() && spec.actions) {
    // The 7″ panel's bar holds one action beside Wstecz, if it fits there on one line; the others close
    // the screen's last page.
    const acts = spec.actions();
    if (acts.length) {
      renderBar({ ...spec, actions: () => [acts[0]] }, true);
      const row = $("bar").firstElementChild;
      const oneLine = [...$("bar").children].every((x) => x.offsetTop === row.offsetTop && x.offsetHeight === row.offsetHeight);
      const inBar = oneLine ? acts.slice(0, 1) : [];
      const rest = acts.slice(inBar.length);
      if (rest.length) blocks.push(h("div", { class: "choices" }, rest));
      spec.actions = () => inBar;
    }
  }
  // Pages are laid out from the first each time, so that blocks split on an earlier page (below) are
  // split the same way again and every page starts where the one before it ended. Whether a page is the
  // last is tried first without splitting anything (dry).
  const fill = (start, dry) => {
    const content = $("content");
    content.replaceChildren();
    let n = 0;
    for (let i = start; i < blocks.length; i++) {
      const b = blocks[i];
      const into = b.classList.contains("tile") ? tilesBox(content) : content;
      into.append(b);
      if (overflows() && !b.dataset.optional && makeRoom(content, b)) { n++; continue; }
      if (overflows() && dry) {
        if (b.dataset.optional) { b.remove(); n++; continue; }
        return -1;
      }
      if (overflows()) {
        if (n === 0 && b.children.length > 1 && !b.classList.contains("tile")) {
          // Too tall for a page of its own: its parts go on in turn.
          const parts = [...b.children];
          for (const part of parts) if (!part.classList.contains("btn")) part.classList.add(...b.classList);
          b.remove();
          blocks.splice(i, 1, ...parts);
          i--;
          continue;
        }
        if (n === 0 && !b.dataset.optional) {
          // Alone and still too tall (a long name on the 7″ panel): its optional parts (a tile's price,
          // repeated on the service's own page) give way; a long text goes on on the next page.
          for (const part of [...b.querySelectorAll("[data-optional]")].reverse()) { if (!overflows()) break; part.remove(); }
          const rest = overflows() ? splitText(b) : null;
          if (rest) blocks.splice(i + 1, 0, rest);
          n = 1;
          continue;
        }
        if (!b.dataset.optional && isPlainText(b) && !fitsAlone(content, b)) {
          // A text that will not fit on a page of its own anyway begins here and goes on on the next page.
          const rest = splitText(b, false);
          if (rest) { blocks.splice(i + 1, 0, rest); n++; break; }
        }
        b.remove();
        if (into !== content && !into.children.length) into.remove();
        if (b.dataset.optional) { n++; continue; }
        break;
      }
      n++;
    }
    return n;
  };
  const want = route.page || 0;
  let start = 0;
  let page = 0;
  for (;;) {
    renderBar(spec, true);
    if (fill(start, true) >= 0) { fill(start, false); break; }
    renderBar(spec, false);
    const n = fill(start, false);
    // (Should everything fit beside "Dalej" after all, the actions get a page of their own.)
    if (page >= want) break;
    start += Math.max(1, n);
    page += 1;
  }
  route.page = page;
}
/// Whether block `b` (the last in `content`) would fit on a page of its own.
function fitsAlone(content, b) {
  const others = [...content.children].filter((x) => x !== b);
  for (const x of others) x.remove();
  const fits = !overflows();
  content.prepend(...others);
  return fits;
}
/// A paragraph of plain text taller than a page: keeps the words that fit and answers a paragraph with
/// the rest (or null when it cannot be split).
function isPlainText(b) { return b.tagName === "P" && !b.children.length; }
function splitText(p, atLeastOne = true) {
  if (!isPlainText(p)) return null;
  const words = p.textContent.split(" ");
  if (words.length < 2) return null;
  let lo = 1, hi = words.length - 1, best = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    p.textContent = words.slice(0, mid).join(" ");
    if (overflows()) hi = mid - 1;
    else { best = mid; lo = mid + 1; }
  }
  if (!best && !atLeastOne) { p.textContent = words.join(" "); return null; }
  best = Math.max(1, best);
  p.textContent = words.slice(0, best).join(" ");
  const rest = p.cloneNode(false);
  rest.removeAttribute("id");
  rest.textContent = words.slice(best).join(" ");
  return rest;
}
/// Optional blocks already on the page make way for a required one that would not fit beside them (a
/// picture must not push the buttons to a second page); answers whether it fits now. Nothing is dropped
/// when even that would not help.
function makeRoom(content, required) {
  const optionals = [...content.children].filter((x) => x !== required && x.dataset.optional);
  if (!optionals.length) return false;
  const removed = [];
  for (const el of optionals.reverse()) {
    removed.push([el, el.nextSibling]);
    el.remove();
    if (!overflows()) return true;
  }
  for (const [el, next] of removed) content.insertBefore(el, next);
  return false;
}
function tilesBox(content) {
  const last = content.lastElementChild;
  if (last && last.classList.contains("tiles")) return last;
  const box = h("div", { class: "tiles" });
  content.append(box);
  return box;
}

/// Pickers and keyboards: spec.intro always shows; spec.grid.items are paged with their own keys
/// (grid.prev / grid.next labels), and grid.fixed keys are on every page.
function layoutGrid(spec) {
  const g = spec.grid;
  if (g.key === "kb" && isCompact()) { layoutCompactKeyboard(spec); return; }
  const content = $("content");
  const key = g.key || "grid";
  const starts = route[key + "Starts"] || (route[key + "Starts"] = [0]);
  let page = route[key + "Page"] || 0;
  if (g.startAt !== undefined && route[key + "Page"] === undefined) {
    // open on the page holding a chosen item: walk forward page by page
    page = 0;
  }
  page = Math.min(page, starts.length - 1);
  route[key + "Page"] = page;
  const start = starts[page];
  const turn = (p) => () => { route[key + "Page"] = p; render(false); focusFirstKey(); };
  // The 7″ panel has room for the question and one row of days or times: the keys that turn the pages ("‹" "›")
  // wait in the side column under the languages, and the step line ("Pytanie 3 z 5") is left out.
  const compact = isCompact() && !g.fixed;
  let prevKey = null;
  let nextKey = null;
  if (compact) {
    prevKey = btn("‹", turn(page - 1), "key nav", { "data-nav": "prev", "aria-label": g.prev, disabled: page === 0 });
    nextKey = btn("›", turn(page + 1), "key nav", { "data-nav": "next", "aria-label": g.next, disabled: true });
    renderBar({ ...spec, side: [...(spec.side || []), prevKey, nextKey] }, true);
  } else {
    renderBar(spec, true);
  }
  const intro = (spec.intro || []).filter((x) => !(compact && x.classList.contains("step")));
  const box = h("div", { class: "grid " + (g.cls || "") });
  content.replaceChildren(...intro, box);
  box.append(...(g.fixed || []));
  if (page > 0 && !compact) box.append(btn(g.prev, turn(page - 1), "key nav", { "data-nav": "prev" }));
  const fill = () => {
    let n = 0;
    const max = g.perPage || Infinity;
    for (let i = start; i < g.items.length && n < max; i++) {
      box.append(g.items[i]);
      if (overflows()) { g.items[i].remove(); break; }
      n++;
    }
    return n;
  };
  let n = fill();
  if (n === 0 && compact) {
    // Not even one key beside the answer chosen so far: the keys show it (pressed) without the line.
    for (const x of intro) if (x.id === "chosen") x.remove();
    n = fill();
  }
  if (start + n < g.items.length) {
    if (compact) {
      nextKey.disabled = false;
    } else {
      box.append(btn(g.next, turn(page + 1), "key nav", { "data-nav": "next" }));
      while (overflows() && n > 1) { g.items[start + n - 1].remove(); n--; }
    }
    starts[page + 1] = start + Math.max(1, n);
    starts.length = page + 2;
  }
}
function focusFirstKey() { $("title").focus(); }

/// A keyboard on the 7″ panel. With 20 mm keys and 7 mm letters there is room for the question, the typed
/// text and one row of keys: the row starts with the key that turns the pages of keys round ("Inne znaki",
/// shown as »), and goes back to the first page after each key; space, a second action ("Pomiń") and the
/// other keys are paged with the letters; "Usuń" waits in the side column under the languages. A message (a
/// problem, the pause after wrong numbers) stands in for the typed text until the next key.
function layoutCompactKeyboard(spec) {
  const g = spec.grid;
  const content = $("content");
  let actions = spec.actions ? spec.actions() : [];
  const extra = actions.slice(0, -1);
  for (const a of extra) a.classList.add("key", "wide");
  actions = actions.slice(-1);
  const [del, ...others] = g.fixed || [];
  del.classList.remove("key", "wide");
  renderBar({ ...spec, actions: () => actions, side: [del] }, true);
  const items = [...extra, ...others.map((k) => {
    k.classList.remove("wide");
    if (k.dataset.key === "space") { k.textContent = tr("key.spaceShort"); k.setAttribute("aria-label", tr("key.space")); }
    return k;
  }), ...g.items];
  const box = (spec.intro || []).find((x) => x.classList.contains("typed-box"));
  const message = (spec.intro || []).filter((x) => x !== box && !x.classList.contains("step") && x.textContent.trim());
  const said = message.map((x) => x.textContent).join(" ");
  const showMessage = said !== "" && said !== route.kbQuiet;
  const more = btn(tr("key.moreShort"), () => {
    if (showMessage) route.kbQuiet = said;
    else route.kbPage = route.kbNext || 0;
    render(false);
    focusFirstKey();
  }, "key nav", { "data-nav": "next", "aria-label": tr("key.more") });
  const keys = h("div", { class: "grid keys" }, more);
  content.replaceChildren(...(showMessage ? message : [box]), keys);
  if (overflows()) {
    // A long message alone: "Usuń" (at the side) or Wstecz go on from here.
    keys.remove();
    return;
  }
  let perPage = 0;
  for (const item of items) {
    keys.append(item);
    if (overflows()) { item.remove(); break; }
    perPage++;
  }
  [...keys.children].slice(1).forEach((x) => x.remove());
  perPage = Math.max(1, perPage);
  const pages = Math.ceil(items.length / perPage);
  const page = Math.min(route.kbPage || 0, pages - 1);
  route.kbPage = page;
  route.kbNext = (page + 1) % pages;
  const shown = items.slice(page * perPage, (page + 1) * perPage);
  // After a key the keyboard starts again from its first page: the same way to every letter each time.
  for (const k of shown) if (page > 0 && !extra.includes(k)) k.addEventListener("click", () => { if (route.kbPage) { route.kbPage = 0; render(false); } });
  keys.append(...shown);
  fitTail($("typed"));
}
/// The end of a typed text too long for its box: "…" and as much of the end as fits.
function fitTail(el) {
  if (!el || !el.isConnected || !isCompact()) return;
  const text = el.textContent;
  let cut = 0;
  while (el.scrollWidth > el.clientWidth + 1 && cut < text.length - 1) {
    cut++;
    el.textContent = "…" + text.slice(cut);
  }
}

/// Moves the grid to the page showing item `index` (used when a screen opens on a chosen day or time).
function gridPageOf(key, index) {
  const starts = route[key + "Starts"] || [0];
  let p = 0;
  while (p + 1 < starts.length && starts[p + 1] <= index) p++;
  return p;
}

function renderBar(spec, last) {
  const bar = $("bar");
  const kids = [];
  if (spec.back !== false) kids.push(btn(tr("bar.back"), back, "secondary", { id: "back" }));
  if (last) kids.push(...(spec.actions ? spec.actions() : []));
  else kids.push(btn(tr("bar.next"), () => { route.page = (route.page || 0) + 1; render(); }, "primary", { id: "next-page" }));
  const tail = [];
  if (spec.help !== false) tail.push(btn(tr("bar.help"), () => go({ name: "help" }), "secondary", { id: "help" }));
  for (const l of LANGS) {
    if (l === lang) continue;
    tail.push(btn(CAT[l]["lang." + l] || l.toUpperCase(), () => setLang(l), "secondary lang", { "data-lang": l, lang: l }));
  }
  tail.push(...(spec.side || []));
  bar.replaceChildren(...kids);
  bar.hidden = !kids.length && isCompact();
  const side = $("side");
  side.setAttribute("aria-label", tr("lang.group"));
  side.replaceChildren(...tail);
}

function setLang(l) {
  lang = l;
  if (route) {
    route.starts = null; route.page = 0;
    for (const k of Object.keys(route)) if (k.endsWith("Starts")) { route[k] = null; route[k.replace(/Starts$/, "Page")] = 0; }
    render();
  }
}

// ---------------------------------------------------------------- the resident's screens

const SCREENS = {};

SCREENS.idle = () => {
  if (UI.mode === "partner") return SCREENS.partnerIdle();
  if (STAFF) return SCREENS.staffWait();
  const broken = lastStatus && lastStatus.reader && ["absent", "error"].includes(lastStatus.reader.state);
  const choices = [btn(tr("idle.typeNumber"), () => go({ name: "number", purpose: "resident" }), "primary choice", { id: "type-number" })];
  if (!broken) choices.push(btn(tr("idle.browse"), openBrowse, "secondary choice", { id: "browse" }));
  // On the 7″ panel the speech button waits in the side column, under help and the languages, so that
  // the choices fit beside them (the bar, empty here, is not drawn).
  const compact = document.documentElement.classList.contains("compact");
  if (UI.speech && !compact) choices.push(speechButton());
  if (!compact && !broken) choices.push(largeButton());
  return {
    title: broken ? tr("reader.title") : tr("idle.title"),
    kind: broken ? "reader" : "idle",
    back: false,
    side: UI.speech && compact ? [speechButton()] : [],
    blocks: broken
      ? [para(tr("reader.text"), "lead"), h("div", { class: "choices" }, choices)]
      : [optional(cardPicture()), h("div", { class: "choices" }, choices), optional(para(tr("idle.hint"), "lead")), optional(para(tr("idle.cards")))],
  };
};

function speechButton() {
  return btn(tr("speech.button"), () => {
    S.speech = !S.speech;
    render(false);
    if (S.speech) speak(tr("speech.on") + " " + screenText());
    else stopSpeech();
  }, "secondary choice", { id: "speech", "aria-pressed": String(S.speech) });
}

/// "Większy tekst": larger type and targets on a panel with room for them (not the 7″ one).
function largeButton() {
  return btn(tr("large.button"), () => { S.large = !S.large; render(false); $("large-text").focus(); },
    "secondary choice", { id: "large-text", "aria-pressed": String(S.large) });
}

function cardPicture() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 160 80");
  svg.setAttribute("class", "picture");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const add = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); svg.append(e); };
  add("rect", { x: 6, y: 10, width: 86, height: 56, rx: 8, fill: "#fff", stroke: "#10203a", "stroke-width": 4 });
  add("rect", { x: 16, y: 48, width: 34, height: 7, rx: 3, fill: "#10203a" });
  add("path", { d: "M104 26c7 7 7 21 0 28M116 18c12 12 12 32 0 44M128 10c17 17 17 43 0 60", stroke: "#10203a", "stroke-width": 5, fill: "none", "stroke-linecap": "round" });
  return h("div", { class: "picture-box" }, svg);
}

SCREENS.number = (r) => {
  const staff = r.purpose === "staff";
  const typed = r.typed || "";
  r.typed = typed;
  const line = para(numberLine(), "message", { id: "entry-error" });
  return {
    title: tr("number.title"),
    kind: "keyboard",
    intro: [typedBox(typed || "", tr("number.field")), line],
    grid: keyboardGrid(r, {
      keys: (tr("kb.digits") + tr("kb.latin")).split(""),
      max: 32,
      onChange: () => { line.textContent = numberLine(); },
    }),
    actions: () => [btn(tr("number.check"), () => submitNumber(r), "primary", { id: "entry-submit", disabled: pausedSeconds() > 0 || r.busy })],
    staff,
  };
};
function numberLine() {
  if (pausedSeconds() > 0) return tr("number.pause", { n: pausedSeconds() });
  return route && route.message ? route.message : "";
}
/// The number screen's message line: written in place, or on the 7″ panel (where it takes the keys' row)
/// drawn again.
function setLine(r, text) {
  r.message = text;
  if (isCompact()) { if (route === r) render(false); return; }
  const el = $("entry-error");
  if (el) el.textContent = text;
}
function pausedSeconds() { return Math.max(0, Math.ceil((pauseUntil - Date.now()) / 1000)); }

let pauseTimer = null;
function startPause(seconds) {
  pauseUntil = Date.now() + seconds * 1000;
  clearInterval(pauseTimer);
  pauseTimer = setInterval(tickPause, 250);
  if (route && route.name === "number") render(false);
  // Said once; the countdown line itself is not a live region (it changes every second).
  announce(tr("number.pause", { n: pausedSeconds() }));
}
function tickPause() {
  const left = pausedSeconds();
  const line = $("entry-error");
  if (route && route.name === "number" && line) {
    line.textContent = left > 0 ? tr("number.pause", { n: left }) : (route.message || "");
    const submit = $("entry-submit");
    if (submit) submit.disabled = left > 0;
  }
  if (left <= 0) {
    clearInterval(pauseTimer);
    pauseTimer = null;
    if (isCompact() && route && route.name === "number") render(false);
  }
}

async function submitNumber(r) {
  if (pausedSeconds() > 0) return;
  const number = (r.typed || "").trim();
  if (!number) { setLine(r, tr("number.empty")); announce(r.message); return; }
  setLine(r, tr("number.busy"));
  const staff = r.purpose === "staff";
  try {
    const res = await fetch(staff ? "/api/v1/staff/check" : "/api/v1/check", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(staff ? { token: STAFF && STAFF.token, number } : { number }),
    });
    const body = await res.json().catch(() => null);
    if (route !== r) return;
    if (res.status === 429) {
      r.message = "";
      const fromBody = body && body.error && Number(body.error.retry_after);
      startPause(fromBody > 0 ? fromBody : Number(res.headers.get("Retry-After")) || 60);
      return;
    }
    if (staff && res.status === 401) { endStaff(true); return; }
    if (!res.ok) { setLine(r, errorText(body)); announce(r.message); return; }
    r.typed = "";
    r.message = "";
    onVerdict(body, staff ? "staff" : null);
  } catch (_) {
    if (route === r) setLine(r, tr("failed"));
  }
}

SCREENS.verdict = () => {
  const e = S.verdict;
  if (!e) return SCREENS.idle();
  const valid = e.verdict === "valid";
  if (e.verdict === "unreadable") {
    return {
      title: tr("verdict.unreadable"), kind: "retry", back: true,
      blocks: [para(tr("unreadable.text"), "lead")],
      actions: () => [btn(tr("idle.typeNumber"), () => go({ name: "number", purpose: "resident" }), "secondary", { id: "type-number" }),
        btn(tr("done"), finish, "primary", { id: "done" })],
    };
  }
  const blocks = [];
  const verified = e.type === "tap" && e.identity === "verified";
  if (valid && verified && e.holder) blocks.push(para(tr("verdict.hello", { name: e.holder }), "greeting", { id: "greeting" }));
  if (!valid && e.reason) blocks.push(para(loc(e.reason), "lead", { id: "reason" }));
  for (const ent of e.entitlements || []) blocks.push(h("div", { class: "entitlement" }, h("p", null, loc(ent.name) + ":"), h("p", null, entitlementUntil(ent))));
  if (valid && (e.identity === "unverified" || e.assurance === "low")) blocks.push(para(tr("verdict.showId"), "note", { id: "show-id" }));
  if (e.accepted_offline) blocks.push(para(tr("verdict.offline"), "note"));
  if (valid && e.type === "tap" && e.session) blocks.push(para(tr("verdict.keepCard"), "note keep-card", { id: "keep-card" }));
  if (S.requests && S.requests.length) {
    blocks.push(h("h2", { class: "subhead" }, tr("requests.title")));
    for (const q of S.requests) blocks.push(para(requestLine(q), "request"));
  }
  return {
    title: tr("verdict." + e.verdict) || e.verdict, kind: valid ? "ok" : "no", back: true, blocks,
    actions: () => {
      const a = [];
      if (valid && S.session && UI.mode !== "partner") a.push(btn(tr("verdict.services"), openServices, "primary", { id: "services" }));
      if (valid && S.session && verified && UI.mode !== "partner") a.push(btn(tr("verdict.prefs"), () => go({ name: "prefs" }), "secondary", { id: "prefs" }));
      if (valid && S.session && (e.entitlements || []).some((x) => x.kind === "staff")) a.push(btn(tr("verdict.staff"), () => go({ name: "pin", typed: "" }), "secondary", { id: "staff" }));
      if (!valid && e.type === "check") a.push(btn(tr("verdict.again"), () => go({ name: "number", purpose: "resident" }), "secondary", { id: "type-number" }));
      a.push(btn(tr("done"), finish, valid ? "secondary" : "primary", { id: "done" }));
      return a;
    },
  };
};
function entitlementUntil(ent) {
  let until = tr("verdict.noEnd");
  if (ent.valid_until) {
    until = tr("verdict.until", { date: shortDate(ent.valid_until) });
    if (typeof ent.days_to_expiry === "number" && ent.days_to_expiry <= 30) until += ", " + tr("verdict.left", { n: ent.days_to_expiry });
  }
  return until;
}
function requestLine(q) {
  const name = serviceName(q.service) || q.ticket;
  let status = tr("status." + q.status);
  if (q.status === "scheduled") status = q.scheduled_for ? tr("status.scheduled", { date: shortDate(String(q.scheduled_for).slice(0, 10)) }) : tr("status.scheduledNoDate");
  if (q.status === "declined" && q.reason) status += ": " + loc(q.reason.text);
  return tr("requests.line", { service: name, status }) + ` (${q.ticket})`;
}
function serviceName(id) {
  const cat = S.catalogue;
  const all = cat ? [...(cat.services || []), ...(cat.bundles || [])] : [];
  const s = all.find((x) => x.id === id);
  return s ? loc(s.name) : "";
}

async function loadCatalogue(session) {
  const res = await fetch(session ? `/api/v1/services?session=${encodeURIComponent(session)}` : "/api/v1/services", { cache: "no-store" });
  if (!res.ok) throw new Error(String(res.status));
  return res.json();
}
async function loadRequests(e) {
  // A session opened by a typed number may not list requests (403 typed_session): nothing is shown then.
  if (!e.session || e.type !== "tap") return;
  try {
    const [reqs, cat] = await Promise.all([
      fetch(`/api/v1/requests?session=${encodeURIComponent(e.session)}`, { cache: "no-store" }).then((r) => (r.ok ? r.json() : null)),
      S.catalogue ? Promise.resolve(S.catalogue) : loadCatalogue(e.session).catch(() => null),
    ]);
    if (S.verdict !== e) return;
    if (cat) S.catalogue = cat;
    if (reqs && reqs.requests && reqs.requests.length) {
      S.requests = reqs.requests;
      if (route.name === "verdict") render(false);
    }
  } catch (_) { /* the list is a courtesy; the screen works without it */ }
}

async function openServices() {
  const e = S.verdict;
  go({ name: "services", loading: true });
  try {
    const cat = await loadCatalogue(S.session);
    if (S.verdict !== e) return;
    S.catalogue = cat;
    if (route.name === "services") { route.loading = false; render(); }
  } catch (_) {
    if (S.verdict === e && route.name === "services") { route.loading = false; route.failed = true; render(); }
  }
}

SCREENS.services = (r) => {
  const cat = S.catalogue;
  const blocks = [];
  if (r.failed) blocks.push(para(tr("services.failed"), "lead"));
  else if (cat && !r.loading) {
    const items = [...(cat.services || []).map((s) => ({ s, bundle: false })), ...(cat.bundles || []).map((s) => ({ s, bundle: true }))];
    items.sort((a, b) => Number(b.s.available) - Number(a.s.available));
    for (const { s, bundle } of items) blocks.push(tile(s, bundle));
    if (!items.length) blocks.push(para(tr("services.none"), "lead"));
  }
  return { title: tr("services.title"), back: true, blocks, cls: "list" };
};
function tile(s, bundle) {
  const name = loc(s.name);
  const compact = isCompact();
  if (!s.available && compact) {
    // The 7″ panel cannot hold a whole reason on a tile (nor a tile on a page): the tile says "not for you"
    // and opens the service's page, which says why.
    return btn([h("span", { class: "tile-name" }, name), h("span", { class: "tile-fee" }, tr("services.notForYouShort"))],
      () => go({ name: "service", id: s.id, bundle }), "tile off", { "data-service": s.id });
  }
  if (!s.available) {
    return h("div", { class: "tile off", "data-service": s.id },
      h("span", { class: "tile-name" }, name), h("span", { class: "tile-fee" }, tr("services.notForYou", { reason: loc(s.reason && s.reason.text) })));
  }
  // On the 7″ panel the tile gives the price alone; the service's page says it is discounted.
  const fee = bundle ? bundleFee(s) : compact ? priceText(s.fee) : feeText(s.fee);
  return btn([h("span", { class: "tile-name" }, name), fee ? optional(h("span", { class: "tile-fee" }, fee)) : null],
    () => go({ name: "service", id: s.id, bundle }), "tile", { "data-service": s.id });
}
function bundleFee(b) {
  const fees = Object.values(b.fees || {});
  return fees.length && fees.every((f) => f && (f.kind === "free" || !f.amount_grosze)) ? tr("services.free") : "";
}
function findItem(id, bundle) {
  const cat = S.catalogue;
  return cat ? (bundle ? cat.bundles || [] : cat.services || []).find((x) => x.id === id) : null;
}
function hoursText(hours) {
  const parts = ["weekdays", "evenings", "nights", "weekends"].filter((k) => hours && hours[k]).map((k) => tr("hours." + k));
  return parts.length ? parts.join(", ") : tr("hours.arranged");
}

SCREENS.service = (r) => {
  const s = findItem(r.id, r.bundle);
  if (!s) return SCREENS.services(r);
  const blocks = [];
  // Not for this person: why comes first (a sentence a paragraph, so that it pages), and no fee or next step.
  if (!s.available && s.reason) blocks.push(h("div", { class: "note", id: "why-not" }, sentences(loc(s.reason.text)).map((x) => h("p", null, x))));
  blocks.push(para(loc(s.description), "lead"));
  if (r.bundle) {
    blocks.push(h("h2", { class: "subhead" }, tr("service.includes")));
    for (const id of s.services || []) {
      const part = findItem(id, false);
      const name = part ? loc(part.name) : id;
      blocks.push(para(s.available ? `${name} — ${feeText((s.fees || {})[id])}` : name, "entitlement"));
    }
  } else {
    if (s.provider) blocks.push(para(tr("service.provider", { name: s.provider.name })));
    blocks.push(para(tr("service.when", { list: hoursText(s.hours) })));
    if (s.available) blocks.push(para(tr("service.fee", { fee: feeText(s.fee) }), "fee", { id: "fee" }));
  }
  if (s.next_step && s.available) blocks.push(para(tr("service.next", { text: loc(s.next_step) })));
  return {
    title: loc(s.name), back: true, blocks,
    actions: () => (s.available ? [btn(tr("service.ask"), () => startForm(s, r.bundle), "primary", { id: "ask" })] : []),
  };
};

// ---------------------------------------------------------------- the request form: one question a screen

function startForm(item, bundle) {
  const questions = [...(item.fields || []), { id: "phone", kind: "phone", required: false }];
  S.form = { item, bundle, questions, answers: {}, phone: "", problems: null, error: "" };
  go({ name: "question", i: 0 });
}
function questionLabel(q) { return q.kind === "phone" ? tr("phone.title") : loc(q.label); }
function answerText(q, v) {
  if (v === undefined || v === null || v === "") return tr("confirm.skipped");
  switch (q.kind) {
    case "date": return longDay(v);
    case "date_window": return tr("window.chosen", { from: shortDate(v.from), to: shortDate(v.to) });
    case "phone": return phoneGroups(v);
    case "time": return String(v).replace(/^0/, "");
    default: return String(v);
  }
}

SCREENS.question = (r) => {
  const f = S.form;
  const q = f.questions[r.i];
  if (r.draft === undefined) r.draft = q.kind === "phone" ? f.phone : f.answers[q.id];
  const intro = [para(tr("form.step", { i: r.i + 1, n: f.questions.length }), "step")];
  if (!q.required) intro.push(para(q.kind === "phone" ? tr("phone.hint") + " " + tr("form.optional") : tr("form.optional"), "step"));
  const problem = r.error || problemFor(q.id);
  if (problem) intro.push(para(problem, "problem", { role: "alert", id: "problem" }));
  let title = questionLabel(q);
  let grid = null;
  switch (q.kind) {
    case "date": grid = dayGrid(r, q, "draft"); intro.push(para(r.draft ? chosenDay(r.draft) : tr("date.none"), "chosen", { id: "chosen" })); break;
    case "date_window": {
      const phase = r.phase || "from";
      title = `${questionLabel(q)}: ${tr(phase === "from" ? "window.first" : "window.last")}`;
      const d = r.draft || {};
      intro.push(para(d.from ? chosenWindow(d) : tr("date.none"), "chosen", { id: "chosen" }));
      grid = dayGrid(r, q, phase);
      break;
    }
    case "time": grid = timeGrid(r, q); intro.push(para(r.draft ? chosenTime(r.draft) : tr("time.none"), "chosen", { id: "chosen" })); break;
    case "count": {
      const low = q.min ?? 1, high = q.max ?? 10;
      if (typeof r.draft !== "number") r.draft = low;
      const value = h("p", { class: "count", id: "count" }, String(r.draft));
      const step = (d) => () => { r.draft = Math.min(high, Math.max(low, r.draft + d)); value.textContent = String(r.draft); };
      intro.push(h("div", { class: "counter" }, btn(tr("count.less"), step(-1), "secondary key wide", { id: "less" }), value, btn(tr("count.more"), step(1), "secondary key wide", { id: "more" })));
      break;
    }
    case "phone": {
      if (typeof r.draft !== "string") r.draft = "";
      r.typed = r.draft;
      intro.push(typedBox(phoneGroups(r.typed), tr("phone.title")));
      grid = keyboardGrid(r, { keys: tr("kb.digits").split(""), max: 9, digits: true, onChange: () => { r.draft = r.typed; } });
      break;
    }
    default: {
      if (typeof r.draft !== "string") r.draft = "";
      r.typed = r.draft;
      intro.push(typedBox(r.typed, tr("form.answer")));
      grid = keyboardGrid(r, { text: true, kind: q.kind, max: q.max || (q.kind === "note" ? 500 : 200), onChange: () => { r.draft = r.typed; } });
    }
  }
  return {
    title, kind: "question", intro, grid, blocks: intro, back: true,
    actions: () => {
      const a = [];
      if (!q.required) a.push(btn(tr("skip"), () => answer(r, q, null), "secondary", { id: "skip" }));
      a.push(btn(tr("bar.next"), () => answer(r, q, r.draft), "primary", { id: "answer" }));
      return a;
    },
  };
};
function problemFor(id) {
  const p = S.form && S.form.problems && S.form.problems.find((x) => x.field === id);
  return p ? problemText(p) : "";
}
function problemText(p) { return loc(p.text) || loc(p.message) || p.message || ""; }

function answer(r, q, value) {
  const f = S.form;
  const empty = value === null || value === undefined || value === "" || (q.kind === "date_window" && value && !value.from);
  if (q.kind === "date_window" && !empty && (r.phase || "from") === "from") {
    go({ name: "question", i: r.i, phase: "to", draft: { from: value.from, to: value.to || null }, fix: r.fix });
    return;
  }
  if (empty && value !== null && q.required) return fail(r, tr("form.required", { label: questionLabel(q) }));
  if (empty && value !== null && !q.required) value = null;
  if (value !== null && q.kind === "date_window" && !value.to) return fail(r, tr("form.required", { label: questionLabel(q) }));
  if (value !== null && q.kind === "phone" && !/^[1-9]\d{8}$/.test(value)) return fail(r, tr("phone.bad"));
  // Lengths and the rest are checked by kioskd: its answers come back as the confirm screen's error summary.
  if (value !== null && ["address", "place", "note"].includes(q.kind)) value = value.trim();
  if (q.kind === "phone") f.phone = value || "";
  else if (value === null) delete f.answers[q.id];
  else f.answers[q.id] = value;
  if (f.problems) f.problems = f.problems.filter((p) => p.field !== q.id);
  if (r.fix) {
    // back to the check-and-confirm screen this answer was corrected from
    while (stack.length && stack[stack.length - 1].name !== "confirm") stack.pop();
    back();
    return;
  }
  if (r.i + 1 < f.questions.length) go({ name: "question", i: r.i + 1 });
  else go({ name: "confirm" });
}
function fail(r, message) {
  r.error = message;
  render(false);
  announce(message);
}

function typedBox(text, label) {
  return h("div", { class: "typed-box" },
    h("p", { class: "visually-hidden", id: "typed-label" }, label),
    h("p", { class: "typed", id: "typed" }, text || "\u00a0"));
}

/// An on-screen keyboard: letters of the screen's language (a Ukrainian one on the uk screen, with the
/// Polish letters one key away), digits, or a card number's letters and digits. No system keyboard.
function keyboardGrid(r, opts) {
  let keys = opts.keys;
  const fixed = [btn(tr("key.delete"), () => edit(r, opts, null), "key wide secondary", { id: "key-delete", "data-key": "delete" })];
  if (opts.text) {
    const cyr = lang === "uk" && !r.latin;
    keys = [...(cyr ? tr("kb.cyrillic") : CAT.pl["kb.letters"]), ...tr("kb.digits"), ...tr("kb.punct")];
    fixed.push(btn(tr("key.space"), () => edit(r, opts, " "), "key wide secondary", { id: "key-space", "data-key": "space" }));
    if (lang === "uk") fixed.push(btn(r.latin ? tr("key.cyrillic") : tr("key.latin"), () => { r.latin = !r.latin; r.kbStarts = null; r.kbPage = 0; render(false); }, "key secondary", { id: "key-script", "data-key": "script" }));
  }
  const items = keys.map((k) => btn(k, () => edit(r, opts, k), "key", { "data-key": k }));
  return { key: "kb", cls: "keys", fixed, items, prev: tr("key.more"), next: tr("key.more") };
}
function edit(r, opts, ch) {
  let t = r.typed || "";
  if (ch === null) t = [...t].slice(0, -1).join("");
  else if ([...t].length < opts.max) {
    if (opts.text && /\p{L}/u.test(ch)) {
      const last = t.slice(-1);
      const capital = t === "" || (opts.kind !== "note" && last === " ") || /[.!?]\s$/.test(t.slice(-2));
      ch = capital ? ch.toLocaleUpperCase(LOCALES[lang]) : ch.toLocaleLowerCase(LOCALES[lang]);
    }
    if (!(ch === " " && (t === "" || t.endsWith(" ")))) t += ch;
  }
  r.typed = t;
  const shown = opts.digits ? phoneGroups(t) : route.name === "pin" ? "•".repeat(t.length) : t;
  $("typed").textContent = shown || "\u00a0";
  fitTail($("typed"));
  if (opts.onChange) opts.onChange();
  if (isCompact() && !$("typed").isConnected) {
    // The 7″ keyboard showed a message in place of the typed text: a key brings the text back.
    route.kbQuiet = [...document.querySelectorAll("#content .message, #content .problem")].map((x) => x.textContent).join(" ");
    render(false);
  }
}

/// The answer chosen so far, in one short line on the 7″ panel (its picker has room for one row of keys).
function chosenDay(day) {
  return isCompact() ? tr("picked", { what: dayLabel(day).join(" ") }) : tr("date.chosen", { date: longDay(day) });
}
function chosenWindow(d) {
  const day = isCompact() ? (x) => dayLabel(x)[1] : shortDate;
  return tr("window.chosen", { from: day(d.from), to: d.to ? day(d.to) : "…" });
}
function chosenTime(t) {
  const time = t.replace(/^0/, "");
  return isCompact() ? tr("picked", { what: time }) : tr("time.chosen", { time });
}

function dayGrid(r, q, phase) {
  const lead = S.form.item.lead_days ?? 1;
  const today = isoToday();
  const first = isoToday(lead);
  let last = q.kind === "date" ? isoToday(q.max ?? 60) : isoToday(90);
  let lowest = first;
  const d = r.draft || {};
  if (phase === "to" && d.from) { lowest = d.from; const cap = addDays(d.from, (q.max ?? 14) - 1); if (cap < last) last = cap; }
  // Whole weeks from the Monday of the first day that may be chosen.
  const dow = (new Date(lowest + "T12:00:00Z").getUTCDay() + 6) % 7;
  const monday = addDays(lowest, -dow);
  const count = Math.ceil((dayDiff(monday, last) + 1) / 7) * 7;
  const items = [];
  const chosen = phase === "draft" ? r.draft : d[phase];
  for (let i = 0; i < count; i++) {
    const day = addDays(monday, i);
    const [wd, dm] = dayLabel(day);
    const ok = day >= lowest && day <= last && day > today;
    // The large panel shows whole weeks (days that cannot be chosen keep their place); the 7″ one a few days a page.
    if (!ok && isCompact()) continue;
    const b = btn([h("span", { class: "wd" }, wd), h("span", null, dm)], ok ? () => pickDay(r, q, phase, day) : null,
      "key day" + (ok ? "" : " off"), { "data-day": day, "aria-pressed": String(day === chosen), disabled: !ok, "aria-label": longDay(day) });
    items.push(b);
  }
  return {
    key: "days", cls: "days", items, perPage: 7,
    prev: tr(isCompact() ? "date.earlier" : "date.prev"), next: tr(isCompact() ? "date.later" : "date.next"),
  };
}
function pickDay(r, q, phase, day) {
  if (phase === "draft") {
    r.draft = day;
    $("chosen").textContent = chosenDay(day);
  } else {
    const d = r.draft || (r.draft = {});
    d[phase] = day;
    if (phase === "from" && d.to && d.to < day) d.to = null;
    $("chosen").textContent = chosenWindow(d);
  }
  for (const b of document.querySelectorAll("[data-day]")) b.setAttribute("aria-pressed", String(b.dataset.day === day));
}
function timeGrid(r, q) {
  const low = q.min ?? 7 * 60, high = q.max ?? 20 * 60;
  const step = high - low > 6 * 60 ? 30 : 15;
  const items = [];
  for (let m = low; m <= high; m += step) {
    const t = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    items.push(btn(t.replace(/^0/, ""), () => {
      r.draft = t;
      $("chosen").textContent = chosenTime(t);
      for (const b of document.querySelectorAll("[data-time]")) b.setAttribute("aria-pressed", String(b.dataset.time === t));
    }, "key time", { "data-time": t, "aria-pressed": String(r.draft === t) }));
  }
  return { key: "times", cls: "times", items, prev: tr("time.earlier"), next: tr("time.later") };
}

SCREENS.confirm = (r) => {
  const f = S.form;
  const blocks = [];
  if (f.problems && f.problems.length) {
    const box = h("div", { class: "problems", role: "alert", id: "problems" }, h("h2", { class: "subhead" }, tr("confirm.problems")));
    for (const p of f.problems) {
      const q = f.questions.find((x) => x.id === p.field);
      const label = q ? questionLabel(q) : "";
      box.append(para(label ? tr("confirm.problem", { label, message: problemText(p) }) : problemText(p), "problem"));
    }
    blocks.push(box);
  }
  if (f.error) blocks.push(para(f.error, "problem", { role: "alert", id: "send-error" }));
  blocks.push(para(tr("confirm.service", { name: loc(f.item.name) }), "lead"));
  f.questions.forEach((q, i) => {
    const v = q.kind === "phone" ? f.phone : f.answers[q.id];
    const bad = f.problems && f.problems.some((p) => p.field === q.id);
    blocks.push(h("div", { class: "answer" + (bad ? " bad" : ""), "data-field": q.id },
      h("p", null, h("span", { class: "answer-label" }, questionLabel(q) + ": "), answerText(q, v)),
      btn(tr("confirm.fix"), () => go({ name: "question", i, fix: true }), "secondary fix", { "aria-label": tr("confirm.fixThis", { label: questionLabel(q) }), "data-fix": q.id })));
  });
  if (!f.bundle) blocks.push(para(tr("confirm.fee", { fee: feeText(f.item.fee) }), "fee", { id: "fee" }));
  else for (const id of f.item.services || []) {
    const part = findItem(id, false);
    blocks.push(para(tr("confirm.fee", { fee: `${part ? loc(part.name) : id} — ${feeText((f.item.fees || {})[id])}` }), "fee"));
  }
  return {
    title: tr("confirm.title"), back: true, blocks,
    actions: () => [btn(r.sending ? tr("confirm.sending") : tr("confirm.send"), () => sendRequest(r), "primary", { id: "send", disabled: r.sending })],
  };
};
function detailsOf(f) {
  const out = {};
  for (const q of f.questions) if (q.kind !== "phone" && f.answers[q.id] !== undefined) out[q.id] = f.answers[q.id];
  return out;
}
async function sendRequest(r) {
  const f = S.form, e = S.verdict;
  if (r.sending || !S.session) return;
  r.sending = true;
  render(false);
  const body = { session: S.session, details: detailsOf(f), lang };
  body[f.bundle ? "bundle" : "service"] = f.item.id;
  if (f.phone) body.phone = f.phone;
  try {
    const res = await fetch("/api/v1/requests", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => null);
    if (S.verdict !== e || route !== r) return;
    r.sending = false;
    if (res.status === 201) {
      S.ticket = { ticket: answer.ticket || (answer.request && answer.request.ticket), next_step: answer.next_step || (answer.request && answer.request.next_step), printed: Boolean(answer.printed) };
      S.form = null;
      stack = stack.filter((x) => x.name === "verdict" || x.name === "services");
      route = { name: "ticket" };
      render();
      return;
    }
    if (res.status === 410) { forget(); stack = []; route = { name: "notice", key: "confirm.expired" }; render(); return; }
    if (res.status === 422 && answer && answer.error && answer.error.fields) {
      f.problems = answer.error.fields.map((p) => ({ ...p, field: String(p.field).replace(/^details\./, "") }));
      f.error = "";
    } else {
      f.problems = null;
      f.error = errorText(answer);
    }
    render();
    announce([...document.querySelectorAll("#problems .problem, #send-error")].map((x) => x.textContent).join(" "));
  } catch (_) {
    if (route === r) { r.sending = false; f.error = tr("failed"); render(); }
  }
}

SCREENS.ticket = () => {
  const t = S.ticket || {};
  const blocks = [para(tr("ticket.label"), "lead"), h("p", { class: "ticket", id: "ticket", "data-ticket": t.ticket || "" }, groupTicket(t.ticket || ""))];
  if (t.next_step) blocks.push(para(loc(t.next_step), "lead", { id: "next-step" }));
  blocks.push(para(t.printed ? tr("ticket.printed") : tr("ticket.write"), "note", { id: "printed" }));
  return {
    title: tr("ticket.title"), kind: "ok", blocks,
    back: Boolean(S.session || S.browse),
    speak: [tr("ticket.title"), tr("ticket.spoken", { chars: spellTicket(t.ticket || "") }), loc(t.next_step), t.printed ? tr("ticket.printed") : tr("ticket.write")].join(" "),
    actions: () => [btn(tr("done"), finish, "primary", { id: "done" })],
  };
};
/// "B7-4KXMQ" → "B7 – 4KX MQ": short groups that are easy to read aloud.
function groupTicket(code) {
  const [a, b = ""] = code.split("-");
  const groups = b.match(/.{1,3}/g) || [];
  return [a, ...groups].join(" ").replace(/^(\S+) /, "$1 – ");
}
function spellTicket(code) { return [...code].map((c) => (c === "-" ? tr("ticket.dash") : c)).join(", "); }

SCREENS.notice = (r) => ({
  title: tr(r.key), back: false, blocks: [],
  actions: () => [btn(tr("done"), finish, "primary", { id: "done" })],
});

// ---------------------------------------------------------------- without a card: the public catalogue and a call-back

async function openBrowse() {
  go({ name: "browse", i: 0, loading: true });
  try {
    const cat = await loadCatalogue(null);
    S.catalogue = cat;
    S.browse = true;
    if (route.name === "browse") { route.loading = false; render(); }
  } catch (_) {
    if (route.name === "browse") { route.loading = false; route.failed = true; render(); }
  }
}
SCREENS.browse = (r) => {
  const list = (S.catalogue && S.catalogue.services) || [];
  const s = list[r.i];
  if (r.loading || r.failed || !s) return { title: tr("browse.title"), back: true, blocks: r.failed ? [para(tr("services.failed"), "lead")] : [] };
  const blocks = [para(tr("browse.of", { i: r.i + 1, n: list.length }), "step"), para(loc(s.description), "lead")];
  if (s.provider) blocks.push(para(tr("service.provider", { name: s.provider.name })));
  blocks.push(para(tr("service.when", { list: hoursText(s.hours) })));
  const cardOnly = !s.available || !s.fee;
  blocks.push(para(cardOnly ? tr("service.cardOnly") : tr("service.feePublic", { fee: feeText(s.fee) }), "fee", { id: "fee" }));
  return {
    title: loc(s.name), back: true, blocks,
    actions: () => {
      const a = [btn(tr("browse.callback"), () => go({ name: "callbackPhone", service: s.id, typed: "" }), "primary", { id: "callback" })];
      if (r.i + 1 < list.length) a.push(btn(tr("bar.next"), () => go({ name: "browse", i: r.i + 1 }), "secondary", { id: "next-service" }));
      return a;
    },
  };
};
SCREENS.callbackPhone = (r) => {
  r.typed = r.typed || "";
  const line = para(r.error || "", "message", { id: "entry-error" });
  return {
    title: tr("callback.phoneTitle"), kind: "keyboard",
    intro: [para(tr("callback.phoneHint"), "step"), typedBox(phoneGroups(r.typed), tr("phone.title")), line],
    grid: keyboardGrid(r, { keys: tr("kb.digits").split(""), max: 9, digits: true }),
    back: true,
    actions: () => [btn(tr("bar.next"), () => {
      if (!/^[1-9]\d{8}$/.test(r.typed)) {
        r.error = tr("phone.bad");
        if (isCompact()) render(false); else line.textContent = r.error;
        announce(r.error);
        return;
      }
      go({ name: "callbackConfirm", phone: r.typed, service: r.service });
    }, "primary", { id: "answer" })],
  };
};
SCREENS.callbackConfirm = (r) => {
  const s = ((S.catalogue && S.catalogue.services) || []).find((x) => x.id === r.service);
  const blocks = [para(tr("callback.to", { phone: phoneGroups(r.phone) }), "lead", { id: "callback-phone" })];
  if (s) blocks.push(para(tr("callback.about", { name: loc(s.name) })));
  const left = Math.max(0, Math.ceil((callbackPauseUntil - Date.now()) / 1000));
  if (r.error || left) blocks.push(para(left ? tr("number.pause", { n: left }) : r.error, "message", { id: "send-error" }));
  return {
    title: tr("callback.confirmTitle"), back: true, blocks,
    actions: () => [btn(tr("callback.send"), () => sendCallback(r), "primary", { id: "send", disabled: r.sending || left > 0 })],
  };
};
async function sendCallback(r) {
  if (r.sending) return;
  r.sending = true;
  const body = { callback: { phone: r.phone }, lang };
  if (r.service) body.callback.service = r.service;
  try {
    const res = await fetch("/api/v1/requests", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => null);
    r.sending = false;
    if (route !== r) return;
    if (res.status === 201) {
      S.ticket = { ticket: answer.ticket || (answer.request && answer.request.ticket), next_step: answer.next_step || (answer.request && answer.request.next_step), printed: Boolean(answer.printed) };
      stack = stack.filter((x) => x.name === "browse");
      route = { name: "ticket" };
      render();
      return;
    }
    if (res.status === 429) {
      const s = Number(answer && answer.error && answer.error.retry_after) || Number(res.headers.get("Retry-After")) || 60;
      callbackPauseUntil = Date.now() + s * 1000;
      const timer = setInterval(() => { if (route !== r || Date.now() > callbackPauseUntil) clearInterval(timer); if (route === r) { const el = $("send-error"); if (el) el.textContent = Math.ceil((callbackPauseUntil - Date.now()) / 1000) > 0 ? tr("number.pause", { n: Math.ceil((callbackPauseUntil - Date.now()) / 1000) }) : ""; const b = $("send"); if (b) b.disabled = Date.now() < callbackPauseUntil; } }, 250);
      r.error = "";
    } else r.error = errorText(answer);
    render(false);
    announce($("send-error") ? $("send-error").textContent : "");
  } catch (_) {
    r.sending = false;
    if (route === r) { r.error = tr("failed"); render(false); }
  }
}

/// "Moje ustawienia": the holder of a tapped card may have the kiosk remember their language, text size and
/// reading aloud with their card, and open in that mode at their next tap; or forget them.
SCREENS.prefs = (r) => {
  const current = currentPrefs();
  const same = S.saved && S.saved.lang === current.lang && S.saved.large_text === current.large_text && S.saved.speech === current.speech;
  const blocks = [para(tr("prefs.text"), "lead"), para(tr("prefs.lang", { name: tr("prefs.langName") }))];
  const toggles = [];
  if (!isCompact()) toggles.push(largeButton());
  if (UI.speech) toggles.push(speechButton());
  if (toggles.length) blocks.push(h("div", { class: "choices" }, toggles));
  // A message about saving or forgetting stays only while nothing was changed since.
  const said = r.message && r.messageFor === JSON.stringify(current) ? r.message : same ? tr("prefs.stored") : "";
  blocks.push(para(said, "message", { id: "prefs-message", role: "status" }));
  return {
    title: tr("prefs.title"), kind: "prefs", back: true, blocks,
    actions: () => {
      const a = [];
      if (!same) a.push(btn(tr("prefs.save"), () => changePrefs(r, current), "primary", { id: "prefs-save" }));
      if (S.saved) a.push(btn(tr("prefs.forget"), () => changePrefs(r, null), "secondary", { id: "prefs-forget" }));
      return a;
    },
  };
};
function currentPrefs() {
  return { lang, large_text: Boolean(S.large), speech: Boolean(S.speech) };
}
async function changePrefs(r, prefs) {
  if (!S.session || r.busy) return;
  r.busy = true;
  const session = S.session;
  let message;
  try {
    const res = await fetch(`/api/v1/sessions/${encodeURIComponent(session)}/preferences`, prefs
      ? { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(prefs), cache: "no-store" }
      : { method: "DELETE", cache: "no-store" });
    if (S.session !== session) return;
    if (res.ok) {
      S.saved = prefs;
      message = tr(prefs ? "prefs.saved" : "prefs.forgotten");
    } else {
      let body = null;
      try { body = await res.json(); } catch (_) { /* no body */ }
      message = errorText(body);
    }
  } catch (_) {
    message = tr("failed");
  } finally {
    r.busy = false;
  }
  if (route !== r) return;
  r.message = message;
  r.messageFor = JSON.stringify(currentPrefs());
  render(false);
  announce(message);
}

SCREENS.help = () => {
  const blocks = [para(tr("help.touch"), "lead"), para(tr("help.buttons")), para(tr("help.desk"))];
  if (UI.kiosk_phone) blocks.push(para(tr("help.phone", { phone: UI.kiosk_phone })));
  if (UI.speech) blocks.push(h("div", { class: "choices" }, speechButton()));
  return { title: tr("help.title"), back: true, help: false, blocks };
};

// ---------------------------------------------------------------- staff verification and partner mode

SCREENS.pin = (r) => {
  r.typed = r.typed || "";
  const line = para(r.message || "", "message", { id: "entry-error" });
  return {
    title: tr("staff.pinTitle"), kind: "keyboard",
    intro: [typedBox("•".repeat(r.typed.length), tr("staff.pinField")), line],
    grid: keyboardGrid(r, { keys: tr("kb.digits").split(""), max: 6 }),
    back: true,
    actions: () => [btn(tr("staff.unlock"), () => unlockStaff(r), "primary", { id: "unlock" })],
  };
};
async function unlockStaff(r) {
  if (!S.session || r.busy) return;
  r.busy = true;
  r.sessionEnded = false;
  const session = S.session;
  try {
    const res = await fetch("/api/v1/staff/unlock", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ session, pin: r.typed }) });
    const body = await res.json().catch(() => null);
    r.busy = false;
    if (route !== r) {
      // Someone else's card replaced the staff card meanwhile: verification mode is not theirs to keep.
      if (res.ok && body && body.staff_token) fetch("/api/v1/staff/session", { method: "DELETE", headers: { Authorization: "Bearer " + body.staff_token }, keepalive: true }).catch(() => {});
      return;
    }
    if (res.ok && body && body.staff_token) {
      // kioskd ends the staff card's own session as it unlocks (its session_end was held back, see onSessionEnd).
      forget();
      STAFF = { token: body.staff_token, lastUse: Date.now() };
      home();
      return;
    }
    if (r.sessionEnded) { finish(); return; }
    const e = (body && body.error) || {};
    r.typed = "";
    if (e.code === "wrong_pin") r.message = tr("staff.wrongPin", { n: e.tries_left ?? 0 });
    else if (e.code === "locked") r.message = tr("staff.locked", { n: Math.max(1, Math.ceil((e.retry_after || 60) / 60)) });
    else if (e.code === "no_pin") r.message = tr("staff.noPin");
    else if (e.code === "not_staff") r.message = tr("staff.notStaff");
    else if (res.status === 410) { finish(); return; }
    else r.message = errorText(body);
    render(false);
    announce(r.message);
  } catch (_) {
    r.busy = false;
    if (route === r && r.sessionEnded) finish();
    else if (route === r) { r.message = tr("failed"); render(false); }
  }
}
SCREENS.staffWait = () => ({
  title: tr("staff.waitTitle"), kind: "staff", back: false,
  blocks: [optional(cardPicture()), para(tr("staff.waitText"), "lead"),
    h("div", { class: "choices" }, btn(tr("staff.typeNumber"), () => go({ name: "number", purpose: "staff" }), "primary choice", { id: "type-number" }),
      btn(tr("staff.end"), () => endStaff(false), "secondary choice", { id: "staff-end" }))],
});
SCREENS.partnerIdle = () => ({
  title: tr("partner.title"), kind: "partner", back: false,
  blocks: [optional(cardPicture()), para(tr("partner.hint"), "lead"),
    h("div", { class: "choices" }, btn(tr("idle.typeNumber"), () => go({ name: "number", purpose: "partner" }), "primary choice", { id: "type-number" }))],
});
/// The full-screen answer for staff and partners: VALID / NOT VALID by word, icon, colour and sound.
SCREENS.check = (r) => {
  const e = r.e;
  const valid = e.verdict === "valid";
  const retry = e.verdict === "unreadable";
  const blocks = [];
  if (r.who === "staff" && e.holder) blocks.push(para(e.holder, "greeting", { id: "holder" }));
  for (const ent of e.entitlements || []) {
    blocks.push(h("div", { class: "entitlement" }, h("p", null, loc(ent.name) + ":"), h("p", null, ent.valid_until ? tr("check.until", { date: shortDate(ent.valid_until) }) : tr("check.noEnd"))));
  }
  if (!valid && e.reason) blocks.push(para(loc(e.reason), "lead", { id: "reason" }));
  if (valid && (e.identity === "unverified" || e.assurance === "low")) blocks.push(para(tr("verdict.showId"), "note"));
  return {
    title: tr(valid ? "check.valid" : retry ? "check.retry" : "check.invalid"), kind: "check " + (valid ? "ok" : retry ? "retry" : "no"),
    back: false, blocks,
    actions: () => [btn(tr("staff.next"), () => { route = null; home(); }, "primary", { id: "next-card" })],
  };
};
async function endStaff(expired) {
  const token = STAFF && STAFF.token;
  STAFF = null;
  if (token && !expired) {
    fetch("/api/v1/staff/session", { method: "DELETE", headers: { Authorization: "Bearer " + token }, keepalive: true }).catch(() => {});
  }
  forget();
  if (expired) { stack = []; route = { name: "notice", key: "staff.expired" }; render(); } else home();
}

// ---------------------------------------------------------------- verdicts, sessions and forgetting

const handled = new Map();
const replacedSessions = [];

/// A verdict from the event stream or from a typed number. A new verdict replaces whoever was shown.
function onVerdict(e, via) {
  const key = `${e.type}|${e.at}|${e.verdict}|${e.session || ""}`;
  const now = Date.now();
  for (const [k, when] of handled) if (now - when > 60000) handled.delete(k);
  if (handled.has(key)) return;
  handled.set(key, now);
  if (STAFF || via === "staff" || UI.mode === "partner") {
    // Verification: the card's own session is not for using the kiosk.
    if (e.session) endSessionOnServer(e.session);
    if (STAFF) STAFF.lastUse = now;
    forget({ keepRoute: true });
    stack = [];
    route = { name: "check", e, who: STAFF ? "staff" : "partner" };
    render();
    beep(e.verdict === "valid" ? "valid" : e.verdict === "unreadable" ? "retry" : "invalid");
    announce($("title").textContent);
    return;
  }
  // A card with stored preferences opens in its holder's mode; otherwise the same person (nobody was shown
  // yet) keeps their language, speech and text size, and a new one starts from Polish.
  const stored = e.preferences && LANGS.includes(e.preferences.lang) ? e.preferences : null;
  let prefs = S.verdict ? null : { speech: S.speech, large: S.large };
  if (stored) { lang = stored.lang; prefs = { speech: stored.speech, large: stored.large_text }; }
  else if (!prefs) lang = "pl";
  if (S.speech && prefs && !prefs.speech) stopSpeech();
  forget({ prefs });
  S.saved = stored;
  S.verdict = e;
  S.session = e.session || null;
  S.lastExtend = now;
  stack = [];
  route = { name: "verdict" };
  render();
  beep(e.verdict === "valid" ? "valid" : e.verdict === "unreadable" ? "retry" : "invalid");
  announce([tr("verdict." + e.verdict), e.verdict !== "valid" ? loc(e.reason) : ""].filter(Boolean).join(". "));
  if (e.verdict === "valid") loadRequests(e);
}

function onSessionEnd(msg) {
  let end;
  try { end = JSON.parse(msg.data); } catch (_) { return; }
  if (!S.session || end.session !== S.session) return;
  if (route && route.name === "pin" && route.busy) {
    // A right PIN ends the staff card's session on the server before the unlock's answer arrives here:
    // unlockStaff decides, from that answer, between verification mode and the start screen.
    route.sessionEnded = true;
    return;
  }
  if (route && route.name === "ticket") {
    // The ticket stays readable (it names no one); the person's data goes now.
    const ticket = S.ticket;
    forget({ keepRoute: true });
    S.ticket = ticket;
    stack = [];
    render(false);
    return;
  }
  forget();
  lang = "pl";
  home();
}

function endSessionOnServer(session) {
  replacedSessions.push(session);
  if (replacedSessions.length > 8) replacedSessions.shift();
  fetch(`/api/v1/sessions/${encodeURIComponent(session)}`, { method: "DELETE", keepalive: true, cache: "no-store" }).catch(() => {});
}

/// "Gotowe", a timeout or Wstecz from the first screen: end the session on the server, forget the person,
/// and clear the screen for the next one (Polish, speech off).
function finish() {
  if (S.session) endSessionOnServer(S.session);
  if (S.speech) stopSpeech();
  forget();
  lang = "pl";
  closeMoreTime();
  home();
}

/// Removes every trace of the person from memory and from the page (not merely hidden).
function forget(opts = {}) {
  S = fresh(opts.prefs);
  stack = [];
  if (!opts.keepRoute) route = { name: "idle" };
  $("content").replaceChildren();
  $("title").textContent = "";
  // An announcement still on its way must not write the person's words back after they are gone.
  clearTimeout(announceTimer);
  $("live").textContent = "";
}

/// Says `text` through the live region: emptied first and filled a moment later, so that a screen
/// reader reads it even when it repeats the last one.
function announce(text) {
  const live = $("live");
  live.textContent = "";
  clearTimeout(announceTimer);
  if (text) announceTimer = setTimeout(() => { live.textContent = text; }, 50);
}

// ---------------------------------------------------------------- time: "Czy potrzebujesz więcej czasu?"

let inactivityTimer = null;
let answerTimer = null;
let answerLeft = 0;
function armInactivity() {
  clearTimeout(inactivityTimer);
  if ($("more-time").open) return;
  const someone = route && (route.name !== "idle" || S.speech || lang !== "pl");
  if (!someone) return;
  if (STAFF && !["check", "number"].includes(route.name)) {
    // Verification mode ends after 10 minutes without use (the server's limit too).
    inactivityTimer = setTimeout(() => endStaff(true), 600000);
    return;
  }
  if (STAFF || UI.mode === "partner" || route.name === "check") {
    inactivityTimer = setTimeout(() => home(), UI.inactivity_seconds * 1000);
    return;
  }
  inactivityTimer = setTimeout(showMoreTime, UI.inactivity_seconds * 1000);
}
function activity() {
  armInactivity();
  // A person still touching the screen keeps their session: extend it now and then.
  if (S.session && Date.now() - S.lastExtend > 30000) { S.lastExtend = Date.now(); extendSession(); }
}
async function extendSession() {
  const session = S.session;
  if (!session) return true;
  try {
    const res = await fetch(`/api/v1/sessions/${encodeURIComponent(session)}/extend`, { method: "POST" });
    if (res.status === 410 && S.session === session) { forget(); lang = "pl"; home(); return false; }
  } catch (_) { /* kioskd restarting */ }
  return true;
}
function showMoreTime() {
  const d = $("more-time");
  answerLeft = UI.answer_seconds || 30;
  $("more-time-title").textContent = tr("time.title");
  $("more-time-text").textContent = tr("time.text", { n: answerLeft });
  $("more-time-yes").textContent = tr("time.more");
  d.setAttribute("lang", lang);
  d.showModal();
  $("more-time-title").focus();
  if (S.speech) speak(tr("time.title") + " " + tr("time.more"));
  clearInterval(answerTimer);
  answerTimer = setInterval(() => {
    answerLeft -= 1;
    $("more-time-text").textContent = tr("time.text", { n: Math.max(0, answerLeft) });
    if (answerLeft <= 0) { closeMoreTime(); finish(); }
  }, 1000);
}
function closeMoreTime() {
  clearInterval(answerTimer);
  const d = $("more-time");
  if (d.open) d.close();
}
async function moreTime() {
  closeMoreTime();
  S.lastExtend = Date.now();
  if (await extendSession()) { armInactivity(); $("title").focus(); }
}

// ---------------------------------------------------------------- speech and sound

function screenText() {
  const parts = [$("title").textContent];
  for (const el of $("content").querySelectorAll("p:not(.visually-hidden), h2, .tile-name, .tile-fee")) {
    if (el.closest(".grid")) continue;
    parts.push(el.textContent);
  }
  return parts.filter((x) => x && x.trim() && x !== "\u00a0").join(". ").replace(/\.\s*\./g, ".");
}
function speakScreen(spec) {
  if (S.speech) speak(spec.speak || screenText());
}
function speak(text) {
  if (!S.speech || !UI.speech || !text) return;
  fetch("/api/v1/speech", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text, lang }) }).catch(() => {});
}
function stopSpeech() { fetch("/api/v1/speech", { method: "DELETE" }).catch(() => {}); }

let audio = null;
/// Two rising beeps for valid, two low buzzes for not valid, one mid beep for "try again".
function beep(kind) {
  lastSound = kind;
  soundCount += 1;
  const patterns = {
    valid: [[880, 0, 0.14, "sine"], [1320, 0.18, 0.22, "sine"]],
    invalid: [[220, 0, 0.4, "square"], [196, 0.55, 0.55, "square"]],
    retry: [[660, 0, 0.2, "triangle"]],
  };
  try {
    audio = audio || new AudioContext();
    const t0 = audio.currentTime + 0.02;
    for (const [f, at, dur, type] of patterns[kind]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.type = type;
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t0 + at);
      g.gain.exponentialRampToValueAtTime(0.25, t0 + at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + at + dur);
      o.connect(g).connect(audio.destination);
      o.start(t0 + at);
      o.stop(t0 + at + dur + 0.05);
    }
  } catch (_) { /* no audio device: the word and the icon still say it */ }
}

// ---------------------------------------------------------------- status: offline, reader, data preparation

function renderStatus(s) {
  const before = lastStatus;
  lastStatus = s;
  renderBanners();
  const readerWas = before && before.reader && before.reader.state;
  if (route && route.name === "idle" && readerWas !== (s.reader && s.reader.state)) render(false);
  const every = s.bootstrap ? 1000 : 5000;
  if (every !== statusEvery) {
    statusEvery = every;
    clearInterval(statusTimer);
    statusTimer = setInterval(refreshStatus, statusEvery);
  }
}
function renderBanners() {
  const s = lastStatus;
  const offline = Boolean(s && s.central && s.central.state === "offline");
  // The data's age: its last sync or import, whichever is newer (as kioskd's own replica.age_seconds).
  const when = s && s.replica && [s.replica.last_sync, s.replica.last_import].filter(Boolean).sort().pop();
  const compact = document.documentElement.classList.contains("compact");
  setBanner("offline", offline ? tr(compact ? "offline.short" : "offline.banner", { when: when ? stamp(when) : "—" }) : "");
  const b = s && s.bootstrap;
  setBanner("preparing", b ? (b.percent === null || b.percent === undefined ? tr("preparing.unknown") : tr("preparing.percent", { p: b.percent })) : "");
  setBanner("clock-warning", s && s.clock && s.clock.ok === false ? tr("clock.behind") : "");
}
function setBanner(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
  el.hidden = !text;
}
async function refreshStatus() {
  try {
    const res = await fetch("/api/v1/status", { cache: "no-store" });
    if (res.ok) renderStatus(await res.json());
  } catch (_) { /* kioskd restarting: try again on the next tick */ }
}

// ---------------------------------------------------------------- start

function connectEvents() {
  const source = new EventSource("/api/v1/events");
  const onEvent = (msg) => { let e; try { e = JSON.parse(msg.data); } catch (_) { return; } onVerdict(e); };
  source.addEventListener("tap", onEvent);
  source.addEventListener("check", onEvent);
  source.addEventListener("session_end", onSessionEnd);
  source.addEventListener("open", () => { document.body.dataset.events = "open"; });
  source.addEventListener("error", () => { document.body.dataset.events = "reconnecting"; });
}

/// Sizes in millimetres of the configured panel: --mm is CSS pixels per millimetre.
function applyPanel() {
  const p = UI.panel || {};
  if (p.width && p.height && p.diagonal_inches) pxPerMm = Math.hypot(p.width, p.height) / (p.diagonal_inches * 25.4) / (window.devicePixelRatio || 1);
  const sheet = [...document.styleSheets].find((x) => x.href && x.href.endsWith("kiosk.css"));
  if (sheet) sheet.insertRule(`:root { --mm: ${pxPerMm.toFixed(4)}px; }`, sheet.cssRules.length);
  // A small panel (the 7″ outreach display): help and languages go to a column at the side.
  document.documentElement.classList.toggle("compact", window.innerHeight / pxPerMm < 130);
}

/// Ignores a second touch on the same target (or the same spot, when the first touch changed the screen)
/// within 500 ms: a tremor must not press twice.
let lastTouch = { el: null, at: 0, x: 0, y: 0 };
function guardTouches(ev) {
  const el = ev.target.closest && ev.target.closest("button");
  if (!el) return;
  const now = performance.now();
  const near = Math.hypot(ev.clientX - lastTouch.x, ev.clientY - lastTouch.y) < 10 * pxPerMm;
  if (now - lastTouch.at < 500 && (el === lastTouch.el || (lastTouch.el && !lastTouch.el.isConnected && near))) {
    ev.stopImmediatePropagation();
    ev.preventDefault();
    return;
  }
  lastTouch = { el, at: now, x: ev.clientX, y: ev.clientY };
  activity();
}

async function start() {
  const load = async (l) => { const r = await fetch(`i18n/${l}.json`, { cache: "no-store" }); CAT[l] = await r.json(); };
  await Promise.all(LANGS.map(load));
  try {
    const res = await fetch("/api/v1/ui", { cache: "no-store" });
    if (res.ok) UI = { ...UI, ...(await res.json()) };
  } catch (_) { /* an older kioskd: the defaults */ }
  applyPanel();
  document.addEventListener("click", guardTouches, true);
  document.addEventListener("keydown", () => activity(), true);
  $("more-time-yes").addEventListener("click", moreTime);
  $("more-time").addEventListener("cancel", (ev) => ev.preventDefault());
  home();
  refreshStatus();
  statusTimer = setInterval(refreshStatus, statusEvery);
  connectEvents();
  document.body.dataset.ready = "1";
}
document.addEventListener("DOMContentLoaded", start);
