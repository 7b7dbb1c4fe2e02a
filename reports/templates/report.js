/* msgtrace report: the messages table and the message detail view.
 *
 * Everything is rendered from the one embedded JSON block (#report-data). Untrusted export
 * values only ever reach the page through textContent and createElement, never as markup,
 * and their hidden characters (bidi, zero-width, control) show as markers (textNodes).
 * The message detail formats the chain model computed in Python (analyzer.chains: lineage
 * order and depth, gaps and their levels, the words of relations): nothing is derived here.
 * Nothing here makes a network request: exports are blob downloads made on the page.
 */
(function () {
  "use strict";

  const D = JSON.parse(document.getElementById("report-data").textContent);
  const S = D.s;
  const LOWER = S.map((s) => s.toLowerCase());

  function columnIndex(block) {
    const index = {};
    block.cols.forEach((name, i) => {
      index[name.slice(name.indexOf(":") + 1)] = i;
    });
    return index;
  }
  const MSG = D.messages.rows;
  const MC = columnIndex(D.messages);
  const ROWS = D.recipients.rows;
  const RC = columnIndex(D.recipients);
  const EVENTS = D.events.rows;
  const EC = columnIndex(D.events);
  const LINKS = D.links.rows;
  const LC = columnIndex(D.links);

  // ---------------------------------------------------------------- times
  const OFFSETS = D.zone.offsets;

  function offsetAt(rel) {
    let low = 0;
    let high = OFFSETS.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (OFFSETS[mid][0] <= rel) low = mid;
      else high = mid - 1;
    }
    return OFFSETS[low];
  }
  function pad(value, width) {
    return String(value).padStart(width || 2, "0");
  }
  function civil(ms, withSeconds) {
    const d = new Date(ms);
    let text =
      d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (withSeconds !== false) text += ":" + pad(d.getUTCSeconds());
    return text;
  }
  /** A time (ms after the base) in the display zone, labelled. */
  function displayTime(rel) {
    if (rel < 0) return "-";
    const offset = offsetAt(rel);
    return civil(D.base + rel + offset[1] * 60000) + " " + offset[2];
  }
  /** A time (ms after the base) as ISO 8601 UTC. */
  function isoUtc(rel) {
    if (rel < 0) return "";
    return new Date(D.base + rel).toISOString().replace(".000Z", "Z");
  }
  /** An event time (100 ns ticks after the base) as ISO UTC with all 7 fractional digits. */
  function isoTicks(ticks) {
    if (ticks < 0) return "-";
    const ms = Math.floor(ticks / 10000);
    return civil(D.base + ms).replace(" ", "T") + "." + pad(ticks % 10000000, 7) + "Z";
  }
  /** Local wall time typed in a datetime-local box -> ms after the base (UTC). */
  function parseLocal(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
    if (!m) return null;
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - D.base;
    let rel = wall - offsetAt(wall)[1] * 60000;
    rel = wall - offsetAt(rel)[1] * 60000;
    return rel;
  }
  /** Python's round(): halves to the even neighbour. */
  function roundHalfEven(value) {
    const rounded = Math.round(value);
    return Math.abs(value % 1) === 0.5 && rounded % 2 ? rounded - 1 : rounded;
  }
  /** A duration (whole ms) as analyzer.timestamps.duration_text writes it: the two largest
   *  units, rounded to the smaller of the two (3 d 22 h 59 min 40 s reads 3 d 23 h); under a
   *  second, milliseconds. "" when unknown (-1). */
  function duration(ms) {
    if (ms < 0) return "";
    if (ms < 1000) return ms ? ms + " ms" : "0 s";
    const seconds = ms / 1000;
    const step = seconds >= 86400 ? 3600 : seconds >= 3600 ? 60 : 1;
    let rest = roundHalfEven(seconds / step) * step;
    const parts = [];
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
      const value = Math.floor(rest / size);
      rest -= value * size;
      parts.push([value, unit]);
    }
    const first = parts.findIndex(([value]) => value > 0);
    if (first < 0) return "0 s";
    return parts
      .slice(first, first + 2)
      .filter(([value]) => value > 0)
      .map(([value, unit]) => value + " " + unit)
      .join(" ");
  }
  function bytes(value) {
    if (value < 0) return "";
    if (value >= 1048576) return (value / 1048576).toFixed(1) + " MB";
    if (value >= 1024) return (value / 1024).toFixed(1) + " KB";
    return value + " B";
  }

  // ---------------------------------------------------------------- text
  // Export text is attacker-written. Its hidden characters (the ranges of
  // analyzer.report.marks, sent in D.words) show as markers such as ⟨U+202E⟩ in their own
  // style, so that invoice\u202efdp.exe cannot display as invoiceexe.pdf; the exports (CSV,
  // JSON) keep the exact text. Addresses, ids and paths may wrap after @ . / \ _ - : (<wbr>),
  // not in the middle of a word.
  const W = D.words;
  const codePoint = (value) => "\\u{" + value.toString(16) + "}";
  const HIDDEN_CLASS =
    "[" + W.hidden_ranges.map(([first, last]) => codePoint(first) + "-" + codePoint(last)).join("") + "]";
  const HIDDEN = new RegExp(HIDDEN_CLASS, "u");
  const HIDDEN_PIECES = new RegExp("(" + HIDDEN_CLASS + ")", "u");
  const BREAKS = new RegExp("([" + W.break_after.replace(/[\\\]\-^]/g, "\\$&") + "])");

  function marker(character) {
    const hex = character.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    return W.hidden_marker[0] + hex + W.hidden_marker[1];
  }
  /** Text with its hidden characters as markers, as plain text (for attributes). */
  function markedText(value) {
    if (!HIDDEN.test(value)) return value;
    return value.split(HIDDEN_PIECES).map((piece, i) => (i % 2 ? marker(piece) : piece)).join("");
  }
  /** Export text as nodes: hidden characters as styled markers; with ``breaks``, a <wbr>
   *  after each separator of addresses, ids and paths. Never markup. */
  function textNodes(value, breaks) {
    const text = value === null || value === undefined ? "" : String(value);
    if (!breaks && !HIDDEN.test(text)) return document.createTextNode(text);
    const fragment = document.createDocumentFragment();
    text.split(HIDDEN_PIECES).forEach((piece, i) => {
      if (i % 2) {
        const mark = document.createElement("span");
        mark.className = "hidden-char";
        mark.title = W.hidden_title;
        mark.textContent = marker(piece);
        fragment.appendChild(mark);
      } else if (!breaks) {
        if (piece) fragment.appendChild(document.createTextNode(piece));
      } else {
        piece.split(BREAKS).forEach((part, j) => {
          if (part) fragment.appendChild(document.createTextNode(part));
          if (j % 2) fragment.appendChild(document.createElement("wbr"));
        });
      }
    });
    return fragment;
  }

  // ---------------------------------------------------------------- DOM helpers
  /** Create an element; string children and ``text`` become text (``textNodes``), ``ids``
   *  breakable text (addresses, ids, paths); never markup. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.appendChild(textNodes(value, false));
        else if (key === "ids") node.appendChild(textNodes(value, true));
        else if (key === "title" || key === "aria-label") node.setAttribute(key, markedText(value));
        else node.setAttribute(key, value === true ? "" : value);
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? textNodes(child, false) : child);
    }
    return node;
  }
  function sentence(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  function statusClass(status) {
    return "badge st-" + (D.statuses.indexOf(status) >= 0 ? status : "Unknown");
  }
  function messageHref(m) {
    return "#message=" + encodeURIComponent(S[MSG[m][MC.link]]);
  }

  // ---------------------------------------------------------------- the messages table
  const table = document.getElementById("messages-table");
  if (table) setUpTable();

  function setUpTable() {
    const tbody = table.tBodies[0];
    const search = document.getElementById("q");
    const statusSelect = document.getElementById("status");
    const directionSelect = document.getElementById("direction");
    const fromInput = document.getElementById("from");
    const toInput = document.getElementById("to");
    const pageSizeSelect = document.getElementById("page-size");
    const info = document.getElementById("page-info");
    const summary = document.getElementById("table-status");
    const buttons = {
      first: document.getElementById("first-page"),
      prev: document.getElementById("prev-page"),
      next: document.getElementById("next-page"),
    };
    const state = { sort: "time", descending: true, page: 0, filtered: null };
    const REPLY_CHARS = 80; // longer replies are cut in the table; the detail view has them whole
    const HEADINGS = Array.from(table.tHead.rows[0].cells, (th) => th.textContent.trim());

    const MESSAGE_TEXT = [MC.network_message_id, MC.message_id, MC.sender, MC.subject, MC.key];
    const ROW_TEXT = [
      RC.recipient, RC.final_status, RC.status_code, RC.smtp_reply, RC.status_meaning,
      RC.parent, RC.from_ip, RC.to_ip, RC.sfv, RC.di, RC.country, RC.malware,
      RC.transport_rules, RC.direction,
    ];
    // Strings come most frequent first; sorting by text needs their alphabetical rank.
    let alphabetical = null;
    function rank(index) {
      if (!alphabetical) {
        const order = S.map((_, i) => i);
        const compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
        order.sort((a, b) => compare(LOWER[a], LOWER[b]) || compare(S[a], S[b]));
        alphabetical = new Int32Array(S.length);
        order.forEach((stringIndex, position) => {
          alphabetical[stringIndex] = position;
        });
      }
      return alphabetical[index];
    }
    const SORT_KEYS = {
      time: (row) => row[RC.first_time],
      sender: (row) => rank(MSG[row[RC.m]][MC.sender]),
      recipient: (row) => rank(row[RC.recipient]),
      subject: (row) => rank(MSG[row[RC.m]][MC.subject]),
      status: (row) => rank(row[RC.final_status]),
      direction: (row) => rank(row[RC.direction]),
      reply: (row) => rank(row[RC.smtp_reply] || row[RC.status_code]),
      from_ip: (row) => rank(row[RC.from_ip]),
      size: (row) => row[RC.total_bytes],
    };

    function termHits(term) {
      const hits = new Uint8Array(S.length);
      for (let i = 1; i < LOWER.length; i++) if (LOWER[i].indexOf(term) >= 0) hits[i] = 1;
      const messageHits = new Uint8Array(MSG.length);
      for (let m = 0; m < MSG.length; m++) {
        const message = MSG[m];
        for (const c of MESSAGE_TEXT) {
          if (hits[message[c]]) {
            messageHits[m] = 1;
            break;
          }
        }
      }
      return (row) => {
        if (messageHits[row[RC.m]]) return true;
        for (const c of ROW_TEXT) if (hits[row[c]]) return true;
        return false;
      };
    }

    function stringIndex(value) {
      const i = S.indexOf(value);
      return i < 0 ? -2 : i;
    }

    function filter() {
      const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      const matchers = terms.map(termHits);
      const status = statusSelect.value;
      const negate = status.startsWith("!");
      const statusIndex = status ? stringIndex(negate ? status.slice(1) : status) : -1;
      const directionIndex = directionSelect.value ? stringIndex(directionSelect.value) : -1;
      const from = parseLocal(fromInput.value);
      const to = parseLocal(toInput.value);
      const toEnd = to === null ? null : to + (toInput.value.length > 16 ? 999 : 59999);
      const result = [];
      for (let i = 0; i < ROWS.length; i++) {
        const row = ROWS[i];
        if (statusIndex !== -1 && (row[RC.final_status] === statusIndex) === negate) continue;
        if (directionIndex !== -1 && row[RC.direction] !== directionIndex) continue;
        const time = row[RC.first_time];
        if (from !== null && (time < 0 || time < from)) continue;
        if (toEnd !== null && (time < 0 || time > toEnd)) continue;
        let ok = true;
        for (const match of matchers) {
          if (!match(row)) {
            ok = false;
            break;
          }
        }
        if (ok) result.push(i);
      }
      state.filtered = result;
      sort();
    }

    function sort() {
      const key = SORT_KEYS[state.sort];
      const sign = state.descending ? -1 : 1;
      const values = new Float64Array(ROWS.length);
      for (const i of state.filtered) values[i] = key(ROWS[i]);
      // Ties keep the data's order (message time, then recipient): deterministic.
      state.filtered.sort((a, b) => (values[a] - values[b]) * sign || a - b);
      for (const th of table.tHead.rows[0].cells) {
        if (th.dataset.sort === state.sort) {
          th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
        } else th.removeAttribute("aria-sort");
      }
      render();
    }

    function pageSize() {
      return parseInt(pageSizeSelect.value, 10) || 50;
    }

    function render() {
      const rows = state.filtered;
      const size = pageSize();
      const pages = Math.max(1, Math.ceil(rows.length / size));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      const start = state.page * size;
      const end = Math.min(rows.length, start + size);
      const fragment = document.createDocumentFragment();
      for (let k = start; k < end; k++) fragment.appendChild(tableRow(ROWS[rows[k]]));
      tbody.replaceChildren(fragment);
      if (!rows.length) {
        tbody.appendChild(
          el("tr", null, el("td", { colspan: "9", text: "No message matches these filters." }))
        );
      }
      const total = ROWS.length.toLocaleString("en-US");
      summary.textContent =
        rows.length === ROWS.length
          ? total + " rows"
          : rows.length.toLocaleString("en-US") + " of " + total + " rows match";
      info.textContent = rows.length
        ? "Rows " + (start + 1).toLocaleString("en-US") + "–" + end.toLocaleString("en-US") +
          ", page " + (state.page + 1) + " of " + pages
        : "";
      buttons.first.disabled = buttons.prev.disabled = state.page === 0;
      buttons.next.disabled = state.page >= pages - 1;
    }

    function tableRow(row) {
      const message = MSG[row[RC.m]];
      const status = S[row[RC.final_status]] || "Unknown";
      const subject = S[message[MC.subject]];
      const reply = S[row[RC.smtp_reply]] || S[row[RC.status_code]];
      const cells = [
        el("td", { class: "time", text: displayTime(row[RC.first_time]) }),
        el("td", { class: "id", ids: S[message[MC.sender]] }),
        el("td", { class: "id", ids: S[row[RC.recipient]] }),
        el(
          "td",
          { class: "subject" },
          el("a", { href: messageHref(row[RC.m]), text: subject || "(no subject)" })
        ),
        el("td", null, el("span", { class: statusClass(status), text: status })),
        el("td", { class: "direction", text: S[row[RC.direction]] }),
        el("td", {
          class: "id reply",
          title: reply.length > REPLY_CHARS ? reply : S[row[RC.status_meaning]] || null,
          ids: reply.length > REPLY_CHARS ? reply.slice(0, REPLY_CHARS) + "…" : reply,
        }),
        el("td", { class: "id ip", ids: S[row[RC.from_ip]] }),
        el("td", { class: "num", text: bytes(row[RC.total_bytes]) }),
      ];
      // Narrow screens show each row as a card; the labels name the fields there.
      cells.forEach((cell, i) => cell.setAttribute("data-label", HEADINGS[i]));
      return el("tr", null, ...cells);
    }

    function reset() {
      search.value = "";
      statusSelect.value = "";
      directionSelect.value = "";
      fromInput.value = "";
      toInput.value = "";
      state.page = 0;
      filter();
    }

    for (const control of [search, statusSelect, directionSelect, fromInput, toInput]) {
      control.addEventListener(control === search ? "input" : "change", () => {
        state.page = 0;
        filter();
      });
    }
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault();
    });
    pageSizeSelect.addEventListener("change", () => {
      state.page = 0;
      render();
    });
    document.getElementById("reset").addEventListener("click", reset);
    buttons.first.addEventListener("click", () => {
      state.page = 0;
      render();
    });
    buttons.prev.addEventListener("click", () => {
      state.page -= 1;
      render();
    });
    buttons.next.addEventListener("click", () => {
      state.page += 1;
      render();
    });
    for (const th of table.tHead.rows[0].cells) {
      th.querySelector("button").addEventListener("click", () => {
        if (state.sort === th.dataset.sort) state.descending = !state.descending;
        else {
          state.sort = th.dataset.sort;
          state.descending = th.dataset.sort === "time" || th.dataset.sort === "size";
        }
        state.page = 0;
        sort();
      });
    }

    // ------------------------------------------------------------ exports
    const EXPORT_COLUMNS = [
      ["received", (row) => displayTime(row[RC.first_time])],
      ["received_utc", (row) => isoUtc(row[RC.first_time])],
      ["sender", (row, msg) => S[msg[MC.sender]]],
      ["recipient", (row) => S[row[RC.recipient]]],
      ["subject", (row, msg) => S[msg[MC.subject]]],
      ["final_status", (row) => S[row[RC.final_status]]],
      ["direction", (row) => S[row[RC.direction]]],
      ["status_code", (row) => S[row[RC.status_code]]],
      ["smtp_reply", (row) => S[row[RC.smtp_reply]]],
      ["status_meaning", (row) => S[row[RC.status_meaning]]],
      ["parent_recipient", (row) => S[row[RC.parent]]],
      ["from_ip", (row) => S[row[RC.from_ip]]],
      ["to_ip", (row) => S[row[RC.to_ip]]],
      ["total_bytes", (row) => (row[RC.total_bytes] < 0 ? "" : String(row[RC.total_bytes]))],
      ["network_message_id", (row, msg) => S[msg[MC.network_message_id]]],
      ["message_id", (row, msg) => S[msg[MC.message_id]]],
    ];

    /** The formula guard of every CSV cell: a ' before = + - @ tab CR (and before a ' already
     *  there) wherever a spreadsheet could start a cell: at the start of the value, and after
     *  ; tab CR LF and " inside it. A spreadsheet that splits lines on ; or tab (or that loses
     *  the quoting) starts cells at those places, so no cell it makes can start a formula
     *  (e.g. Invoice;=1+1;@SUM(9*9)). Removing that one ' gives back the exact value. */
    const FORMULA_START = /(?<=^|[;\t\r\n"])(?=[=+\-@\t\r'])/g;
    function excelSafe(value) {
      return value.replace(FORMULA_START, "'");
    }
    /** Every field quoted (RFC 4180), after the formula guard. */
    function csvField(value) {
      return '"' + excelSafe(value).replace(/"/g, '""') + '"';
    }
    function download(name, type, text) {
      const url = URL.createObjectURL(new Blob([text], { type: type }));
      const link = el("a", { href: url, download: name });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 0);
    }
    document.getElementById("export-csv").addEventListener("click", () => {
      const lines = [EXPORT_COLUMNS.map((c) => csvField(c[0])).join(",")];
      for (const i of state.filtered) {
        const row = ROWS[i];
        const msg = MSG[row[RC.m]];
        lines.push(EXPORT_COLUMNS.map((c) => csvField(c[1](row, msg) || "")).join(","));
      }
      // A BOM so that spreadsheet programs read the file as UTF-8.
      download("msgtrace-messages.csv", "text/csv;charset=utf-8", "\ufeff" + lines.join("\r\n") + "\r\n");
    });
    document.getElementById("export-json").addEventListener("click", () => {
      const records = state.filtered.map((i) => {
        const row = ROWS[i];
        const msg = MSG[row[RC.m]];
        const record = {};
        for (const [name, value] of EXPORT_COLUMNS) record[name] = value(row, msg) || null;
        record.total_bytes = row[RC.total_bytes] < 0 ? null : row[RC.total_bytes];
        return record;
      });
      download("msgtrace-messages.json", "application/json", JSON.stringify(records, null, 2));
    });

    filter();
  }

  // ---------------------------------------------------------------- the message detail view
  const detail = document.getElementById("message-detail");
  const detailBody = document.getElementById("detail-body");
  let lookup = null;
  let eventRanges = null;

  function findMessage(id) {
    if (!lookup) {
      lookup = new Map();
      const add = (key, m) => {
        if (key && !lookup.has(key)) lookup.set(key, m);
      };
      for (let m = 0; m < MSG.length; m++) {
        add(S[MSG[m][MC.link]].toLowerCase(), m);
        add(S[MSG[m][MC.network_message_id]].toLowerCase(), m);
        add(S[MSG[m][MC.key]].toLowerCase(), m);
      }
      for (let m = 0; m < MSG.length; m++) {
        add(S[MSG[m][MC.message_id]].replace(/^\s*<|>\s*$/g, "").toLowerCase(), m);
      }
    }
    const key = id.trim().toLowerCase();
    if (lookup.has(key)) return lookup.get(key);
    const bare = key.replace(/^<|>$/g, "");
    return lookup.has(bare) ? lookup.get(bare) : -1;
  }

  function eventsOf(m) {
    if (!eventRanges) {
      eventRanges = new Map();
      for (let i = 0; i < EVENTS.length; i++) {
        const key = EVENTS[i][EC.m];
        const range = eventRanges.get(key);
        if (range) range[1] = i + 1;
        else eventRanges.set(key, [i, i + 1]);
      }
    }
    const range = eventRanges.get(m);
    return range ? EVENTS.slice(range[0], range[1]) : [];
  }

  /** A fact of a definition list; ``breaks`` for addresses, ids and paths. */
  function fact(label, value, className, breaks) {
    if (!value) return null;
    const attrs = { class: className || null };
    attrs[breaks ? "ids" : "text"] = value;
    return el("div", null, el("dt", { text: label }), el("dd", attrs));
  }

  function verdictText(key, value) {
    const meanings = W.verdict_meanings[key] || {};
    const meaning = meanings[value.toUpperCase()];
    return meaning ? value + " (" + meaning + ")" : value;
  }

  /** A recipient's timeline: its rows of the timeline, each after the model's gap mark. */
  function timeline(events) {
    const list = el("ol", { class: "timeline" });
    for (const event of events) {
      if (!event[EC.timeline]) continue;
      const ticks = event[EC.time];
      const ownTime = S[event[EC.time_basis]] !== "message";
      if (event[EC.gap_ms] >= 0) {
        const level = W.gap_levels[event[EC.gap_level]] || "";
        list.appendChild(
          el("li", { class: "gap-mark " + level, "aria-label": "gap", text: "+" + duration(event[EC.gap_ms]) })
        );
      }
      const eventId = S[event[EC.event_id]];
      list.appendChild(
        el(
          "li",
          { class: "ev ev-" + eventId.toLowerCase() },
          el(
            "span",
            { class: "ev-time" },
            ticks >= 0 ? displayTime(Math.floor(ticks / 10000)) : "-",
            ownTime
              ? null
              : el("span", {
                  class: "muted",
                  text: " (time the message was received; the export has no per-event time)",
                })
          ),
          el("span", { class: "ev-id", text: eventId || "status" }),
          S[event[EC.source]] ? el("span", { class: "ev-source", text: " " + S[event[EC.source]] }) : null,
          S[event[EC.status]] ? el("span", { class: "ev-status", ids: S[event[EC.status]] }) : null,
          S[event[EC.related_recipient]]
            ? el(
                "span",
                { class: "ev-related" },
                sentence(W.related_recipient) + " ",
                el("span", { class: "id", ids: S[event[EC.related_recipient]] })
              )
            : null,
          S[event[EC.detail]] ? el("span", { class: "ev-detail", ids: S[event[EC.detail]] }) : null,
          el("span", { class: "ev-where", ids: where(event) })
        )
      );
    }
    return list;
  }

  function where(event) {
    const input = event[EC.input] >= 0 ? D.inputs[event[EC.input]] : "";
    return input + (event[EC.line] >= 0 ? ":" + event[EC.line] : "");
  }

  /** The messages linked to ``m``, in the chain model's words for each side of the link. */
  function relatedList(m) {
    const items = [];
    for (const link of LINKS) {
      const relation = S[link[LC.relation]];
      const words = W.related_messages[relation] || {};
      let other;
      let said;
      if (link[LC.m] === m) {
        other = link[LC.related_m];
        said = words.this_is_related_to || relation;
      } else if (link[LC.related_m] === m) {
        other = link[LC.m];
        said = words.related_is_about_this || relation;
      } else continue;
      said = sentence(said) + " ";
      if (other < 0) {
        items.push(
          el("li", null, said + "a message not in the data ", el("span", { class: "id", ids: S[link[LC.reference]] }))
        );
        continue;
      }
      const subject = S[MSG[other][MC.subject]] || S[MSG[other][MC.link]];
      items.push(
        el(
          "li",
          null,
          said,
          el("a", { href: messageHref(other), text: subject }),
          " ",
          el("span", { class: "id", ids: S[MSG[other][MC.link]] })
        )
      );
    }
    return items;
  }

  /** A route fact of a recipient row (From IP, To IP, country, connector, size). */
  function routeValue(row, key) {
    if (key === "total_bytes") {
      return row[RC.total_bytes] >= 0 ? row[RC.total_bytes].toLocaleString("en-US") + " bytes" : "";
    }
    return S[row[RC[key]]];
  }

  /** The route facts every recipient shares (for the message) and the keys that differ. */
  function routeFacts(message, rows) {
    const shared = [];
    const differing = new Set();
    for (const [key, label] of W.route) {
      let values = new Set(rows.map((row) => routeValue(row, key)));
      if (key === "total_bytes" && (values.size === 0 || (values.size === 1 && values.has("")))) {
        values = new Set([message[MC.total_bytes] >= 0 ? message[MC.total_bytes].toLocaleString("en-US") + " bytes" : ""]);
      }
      if (values.size > 1) {
        differing.add(key);
        shared.push(fact(label, W.per_recipient, "route"));
      } else if (values.size === 1) {
        const [value] = values;
        shared.push(fact(label, value, "route", true));
      }
    }
    return [shared, differing];
  }

  function renderDetail(m) {
    const message = MSG[m];
    const subject = S[message[MC.subject]] || "(no subject)";
    const rows = [];
    for (const row of ROWS) if (row[RC.m] === m) rows.push(row);
    rows.sort((a, b) => a[RC.order] - b[RC.order]); // the model's lineage order
    const [shared, differing] = routeFacts(message, rows);
    const nodes = [];
    nodes.push(el("h3", { text: subject }));
    nodes.push(
      el(
        "dl",
        { class: "message-facts" },
        fact("Sender", S[message[MC.sender]], "id", true),
        fact("Network message id", S[message[MC.network_message_id]] || "-", "id", true),
        fact("Internet message id", S[message[MC.message_id]] || "-", "id", true),
        fact("First seen", displayTime(message[MC.first_time])),
        fact("Last seen", displayTime(message[MC.last_time])),
        fact("Direction", S[message[MC.direction]] || "unknown"),
        ...shared,
        fact("Recipients", message[MC.recipient_count] >= 0 ? String(message[MC.recipient_count]) : "")
      )
    );
    const related = relatedList(m);
    if (related.length) {
      nodes.push(el("h3", { text: "Related messages" }));
      nodes.push(el("ul", { class: "related" }, ...related));
    }
    const events = eventsOf(m);
    const state = message[MC.detail];
    if (state === 0) {
      nodes.push(
        el("p", {
          class: "note",
          text:
            "The event rows of this message are not embedded in this report (at most " +
            D.caps.max_detail_events.toLocaleString("en-US") +
            " event rows are). Its recipients and outcomes are below; for every event run: msgtrace report SOURCE --message " +
            (S[message[MC.network_message_id]] || S[message[MC.message_id]]) + " -o message.html",
        })
      );
    } else if (state === 2) {
      nodes.push(
        el("p", {
          class: "note",
          text: "Only the first " + D.caps.max_events_per_message.toLocaleString("en-US") + " event rows of this message are embedded.",
        })
      );
    }
    const byRecipient = new Map(); // the model: each row's recipient, by its lineage order
    for (const event of events) {
      const order = event[EC.recipient_order];
      if (order < 0) continue;
      if (!byRecipient.has(order)) byRecipient.set(order, []);
      byRecipient.get(order).push(event);
    }
    nodes.push(el("h3", { text: "Recipients (" + rows.length + ")" }));
    for (const row of rows) {
      const address = S[row[RC.recipient]];
      const status = S[row[RC.final_status]] || "Unknown";
      const reply = S[row[RC.smtp_reply]] || S[row[RC.status_code]];
      const facts = el(
        "dl",
        { class: "facts" },
        reply
          ? el("div", { class: "wide" }, el("dt", { text: "Deciding reply" }), el("dd", null, el("code", { ids: reply }), S[row[RC.status_meaning]] ? " · " + S[row[RC.status_meaning]] : ""))
          : null,
        ...W.route.filter(([key]) => differing.has(key)).map(([key, label]) => fact(label, routeValue(row, key), "route", true)),
        fact("First to last event", row[RC.duration_ms] >= 0 ? duration(row[RC.duration_ms]) : ""),
        fact("Deferrals", row[RC.deferral_count] > 0 ? row[RC.deferral_count] + " deferral(s), " + duration(Math.max(row[RC.deferral_ms], 0)) : ""),
        ...W.verdicts.map(([key, label]) => {
          const column = key === "malware_name" ? RC.malware : RC[key];
          return fact(label, S[row[column]] ? verdictText(key, S[row[column]]) : "");
        })
      );
      const recipientEvents = byRecipient.get(row[RC.order]) || [];
      const relation = W.relations[S[row[RC.relation]]] || W.relation_unnamed;
      nodes.push(
        el(
          "article",
          { class: "recipient depth-" + Math.min(row[RC.depth], 4), "aria-label": "Recipient " + address },
          el("h4", null, el("span", { class: "id", ids: address || "(no recipient)" }), " ", el("span", { class: statusClass(status), text: status })),
          S[row[RC.parent]]
            ? el("p", { class: "lineage" }, sentence(relation) + " ", el("span", { class: "id", ids: S[row[RC.parent]] }))
            : null,
          facts,
          S[row[RC.conflict]] ? el("p", { class: "warn-text", text: "Conflict: " + S[row[RC.conflict]] }) : null,
          recipientEvents.length ? timeline(recipientEvents) : null
        )
      );
    }
    if (events.length) {
      nodes.push(el("h3", { text: "Raw event rows (" + events.length + ")" }));
      nodes.push(
        el("p", {
          class: "raw-note",
          text:
            "Every row of every export about this message, with the input file and line it was " +
            "read from, per recipient in time order. Rows marked \u201cno\u201d under \u201cIn " +
            "timeline\u201d repeat a fact that another export timed better; they stay here as evidence.",
        })
      );
      const body = el("tbody");
      for (const event of events) {
        const report = S[event[EC.report_type]];
        body.appendChild(
          el(
            "tr",
            null,
            el(
              "td",
              { class: "time" },
              isoTicks(event[EC.time]),
              S[event[EC.time_basis]] === "message"
                ? el("span", { class: "muted raw-basis", text: "message time" })
                : null
            ),
            el(
              "td",
              { class: "wrap where" },
              textNodes(where(event), true),
              report ? el("span", { class: "muted raw-basis", text: report }) : null
            ),
            el("td", { class: "id", ids: S[event[EC.recipient]] }),
            el("td", { text: S[event[EC.event_id]] || "status" }),
            el("td", { text: event[EC.timeline] ? "yes" : "no" }),
            el("td", { class: "wrap", ids: S[event[EC.status]] }),
            el("td", { class: "wrap", ids: S[event[EC.detail]] }),
            el("td", { text: S[event[EC.source]] }),
            el("td", { class: "id", ids: S[event[EC.related_recipient]] }),
            el("td", { class: "wrap", ids: S[event[EC.reference]] }),
            el("td", { class: "wrap", ids: S[event[EC.client]] }),
            el("td", { class: "wrap", ids: S[event[EC.server]] }),
            el("td", { class: "wrap", ids: S[event[EC.also_seen]] }),
            el("td", { class: "wrap custom", text: S[event[EC.custom_data]] })
          )
        );
        // Narrow screens and paper show each row as a block; the labels name the fields there.
        Array.from(body.lastChild.cells).forEach((cell, i) => cell.setAttribute("data-label", W.raw_headings[i]));
      }
      const head = el("tr", null, ...W.raw_headings.map((h) => el("th", { scope: "col", text: h })));
      nodes.push(
        el(
          "div",
          { class: "table-wrap" },
          el("table", { class: "raw" }, el("caption", { class: "visually-hidden", text: "Raw event rows" }), el("thead", null, head), body)
        )
      );
    }
    detailBody.replaceChildren(...nodes.filter(Boolean));
  }

  /** Paper prints the open view alone (report.css, @media print): the body says one is open. */
  function setOpenView(view, open) {
    view.classList.toggle("open-view", open);
    document.body.classList.toggle("view-open", open);
  }

  function route() {
    const hash = location.hash;
    if (!detail) return;
    if (hash.startsWith("#message=")) {
      let id = hash.slice("#message=".length);
      try {
        id = decodeURIComponent(id);
      } catch (error) {
        /* keep the raw text */
      }
      const m = findMessage(id);
      if (m < 0) {
        detailBody.replaceChildren(el("p", { class: "note", text: "No message with the id " + id + " is in this report." }));
      } else renderDetail(m);
      detail.hidden = false;
      setOpenView(detail, true);
      detail.focus();
      detail.scrollIntoView();
    } else {
      detail.hidden = true;
      setOpenView(detail, false);
    }
  }
  window.addEventListener("hashchange", route);
  if (location.hash) route();
})();
