/**
 * The LwM2M sidebar panel: a device browser (like Eclipse Leshan's device page).
 *
 * /lwm2m                      every device of every loaded entry, filtered by a search box
 * /lwm2m/device/<endpoint>    one device: its registration, its objects, instances and
 *                             resources with their values and the operations the model allows
 *                             (Read, Write, Execute, Observe, Discover, Write-Attributes, Create,
 *                             Delete; Write of a whole instance, replace or partial update; Read-
 *                             and Write-Composite of the resources ticked), in the content format
 *                             chosen in the header (or the device's best), each answer under the
 *                             row that asked (the composite ones in the bar above the tree), and
 *                             its message log
 *
 * A plain ES module with no build step and no imports (Home Assistant works offline): one
 * custom element with a shadow root, rendered from template strings. It talks to the
 * integration's WebSocket API (browser_api.py) through the hass object Home Assistant sets on it.
 *
 * Rendering keeps what the user types: every form control carries data-key, its value is kept
 * in a map and put back after a render, with the focus and the caret. Values that arrive
 * (answers, notifications, Sends) update their cells in place without rendering the rows again.
 */

const LIST_REFRESH_MS = 10000; // the device list, and the open device's facts, every 10 s
const LOG_MAX = 100; // log entries shown
const OPEN_OBJECTS = 6; // objects expanded when a device is opened
const VALUES_SHOWN = 50; // values listed under an answer
const ATTRIBUTES = ["pmin", "pmax", "gt", "lt", "st"];
const ATTRIBUTE_HINTS = {
  pmin: "minimum period (s)",
  pmax: "maximum period (s)",
  gt: "greater than",
  lt: "less than",
  st: "step",
};
const OP_LABELS = {
  read: "Read",
  write: "Write",
  write_instance: "Write instance",
  read_composite: "Read composite",
  observe_composite: "Observe composite",
  cancel_observe_composite: "Cancel observe composite",
  write_composite: "Write composite",
  execute: "Execute",
  observe: "Observe",
  cancel_observe: "Cancel observe",
  discover: "Discover",
  write_attributes: "Write attributes",
  create: "Create instance",
  delete: "Delete instance",
};
// The content formats a user may choose in the header (browser_api.FORMATS); "": the device's best.
const FORMAT_CHOICES = [
  ["", "Device's choice"],
  ["0", "Text"],
  ["42", "Opaque"],
  ["11542", "TLV"],
  ["110", "SenML JSON"],
  ["112", "SenML CBOR"],
  ["11543", "LwM2M JSON"],
  ["11544", "LwM2M CBOR"],
];
const FORMAT_NAMES = {
  ...Object.fromEntries(FORMAT_CHOICES.filter(([n]) => n)),
  40: "CoRE Link Format",
  1542: "TLV (legacy)",
  1543: "LwM2M JSON (legacy)",
};
const FORMAT_OPS = new Set(["read", "observe", "write", "create", "read_composite", "observe_composite", "write_composite"]);
const COMPOSITE_FORMATS = new Set([110, 112, 11543, 11544]); // the formats that carry several paths
const COMPOSITE = "composite"; // the composite bar's data-path: its forms and answer are kept as a row's
const STATE_LABELS = { registered: "registered", sleeping: "sleeping", offline: "offline" };
const SCHEMES = { udp: "coap", dtls: "coaps" };
const INTEGER_TYPES = new Set(["integer", "unsigned integer"]);
const VALUE_KINDS = new Set(["notification", "send", "response"]);
const REGISTRATION_KINDS = new Set(["registered", "updated", "deregistered", "expired"]);

// -- formatting -----------------------------------------------------------------------------

const esc = (value) =>
  String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );

const isTruncated = (value) => typeof value === "string" && value.length > 200 && value.endsWith("…");

function ago(ts) {
  if (ts === null || ts === undefined) return "—";
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

function dateTime(ts) {
  if (ts === null || ts === undefined || Number.isNaN(Number(ts))) return "—";
  return new Date(Number(ts) * 1000).toLocaleString();
}

function clock(ts) {
  if (ts === null || ts === undefined) return "";
  const d = new Date(ts * 1000);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

function base64ToBytes(text) {
  try {
    const bin = atob(String(text).replace(/-/g, "+").replace(/_/g, "/").replace(/\s/g, ""));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch (err) {
    return null;
  }
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function opaqueShown(value) {
  if (isTruncated(value)) return { text: String(value), title: "" };
  const bytes = base64ToBytes(value);
  if (bytes === null) return { text: String(value), title: "" };
  if (!bytes.length) return { text: "(empty)", title: "" };
  const full = "0x" + hex(bytes);
  if (bytes.length <= 16) return { text: full, title: `${bytes.length} bytes` };
  return { text: `0x${hex(bytes.slice(0, 16))}… (${bytes.length} bytes)`, title: full.slice(0, 2050) };
}

/** One value as the tree shows it: {text, title}. */
function shownValue(res, value) {
  if (value === null || value === undefined) return { text: "—", title: "" };
  const type = res ? res.type : null;
  if (type === "boolean" || typeof value === "boolean") {
    const on = value === true || value === 1 || value === "true";
    return { text: on ? "on" : "off", title: String(value) };
  }
  if (type === "time" && typeof value === "number") return { text: dateTime(value), title: `${value} (epoch s)` };
  if (type === "opaque") return opaqueShown(value);
  if (typeof value === "object") return { text: JSON.stringify(value), title: "" };
  let text = String(value);
  const label = res && res.enum ? res.enum[String(value)] : undefined;
  if (label !== undefined) text += ` (${label})`;
  if (res && res.units && typeof value === "number") text += ` ${res.units}`;
  return { text, title: "" };
}

function compact(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 60 ? text.slice(0, 59) + "…" : text;
}

function rangeText(res) {
  if (res.enum) {
    const text = Object.entries(res.enum)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ");
    return { text: text.length > 48 ? text.slice(0, 47) + "…" : text, title: text };
  }
  const min = res.min ?? null;
  const max = res.max ?? null;
  if (min !== null && max !== null) return { text: `${min}–${max}`, title: "range" };
  if (min !== null) return { text: `≥ ${min}`, title: "range" };
  if (max !== null) return { text: `≤ ${max}`, title: "range" };
  return { text: "", title: "" };
}

function transportText(device) {
  if (!device.transport) return "—";
  return `${SCHEMES[device.transport] ?? device.transport} · ${device.security ?? "nosec"}`;
}

function formatName(number) {
  if (number === null || number === undefined || number === "") return "";
  return FORMAT_NAMES[String(number)] ?? `format ${number}`;
}

/** The JSON a form shows for values (pretty, one entry a line). */
function jsonText(value) {
  return JSON.stringify(value, null, 2);
}

/** A form's Submit (its operation) and Close (the form) buttons. */
function formButtons(op, form) {
  return `<span class="form-btns">
            <button type="button" class="primary" data-op="${op}">Submit</button>
            <button type="button" data-action="close-form" data-form="${form}">Close</button>
          </span>`;
}

function textRows(text, min = 3, max = 14) {
  return Math.min(max, Math.max(min, String(text ?? "").split("\n").length));
}

function parentPath(path, depth) {
  return "/" + path.split("/").filter(Boolean).slice(0, depth).join("/");
}

function depthOf(path) {
  return path.split("/").filter(Boolean).length;
}

/** Whether path is at or below base. */
function below(path, base) {
  return path === base || path.startsWith(base.endsWith("/") ? base : base + "/");
}

function resourceOps(res) {
  // a resource no model describes: nothing forbids reading or writing it
  if (res.name === null && res.type === null && !res.operations) return "RW";
  return res.operations || "";
}

const STYLE = `
  :host {
    display: block;
    height: 100%;
    background: var(--primary-background-color);
    color: var(--primary-text-color);
    font-family: var(--ha-font-family-body, var(--mdc-typography-font-family, Roboto, "Noto Sans", sans-serif));
    font-size: 14px;
    -webkit-font-smoothing: antialiased;
  }
  :host([dark]) { color-scheme: dark; }
  * { box-sizing: border-box; }
  .app { display: flex; flex-direction: column; min-height: 100%; }
  .toolbar {
    display: flex; align-items: center; gap: 4px; flex: none; position: sticky; top: 0; z-index: 3;
    height: var(--header-height, 56px); padding: 0 12px 0 4px;
    background: var(--app-header-background-color, var(--primary-color));
    color: var(--app-header-text-color, var(--text-primary-color, #fff));
    border-bottom: var(--app-header-border-bottom, none);
  }
  .toolbar .title { font-size: 20px; font-weight: 400; margin-inline-start: 12px; white-space: nowrap;
    overflow: hidden; text-overflow: ellipsis; }
  .menu-fallback { display: none; color: inherit; border: none; background: none; font-size: 22px; width: 48px;
    height: 48px; border-radius: 50%; padding: 0; }
  :host([narrow]) .menu-fallback.shown { display: inline-block; }
  .content { flex: 1; }
  .page { padding: 16px; max-width: 1800px; margin: 0 auto; container-type: inline-size; container-name: page; }
  :host([narrow]) .page { padding: 8px; }
  .card {
    background: var(--card-background-color, var(--ha-card-background, #fff));
    border-radius: var(--ha-card-border-radius, 12px);
    border: 1px solid var(--divider-color);
    box-shadow: var(--ha-card-box-shadow, none);
  }
  h1, h2, h3 { font-weight: 400; margin: 0; }
  h1 { font-size: 22px; }
  h2 { font-size: 18px; }
  .muted, .sub { color: var(--secondary-text-color); }
  .sub { font-size: 12px; }
  .mono, code { font-family: var(--ha-font-family-code, "Roboto Mono", ui-monospace, monospace); font-size: 12.5px; }
  .grow { flex: 1; }
  button {
    font: inherit; font-size: 12.5px; line-height: 1.2; cursor: pointer; min-height: 26px; padding: 2px 8px;
    border-radius: 6px; border: 1px solid var(--divider-color); background: transparent;
    color: var(--primary-color); white-space: nowrap;
  }
  button:hover { background: color-mix(in srgb, var(--primary-color) 10%, transparent); }
  button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible,
  summary:focus-visible { outline: 2px solid var(--primary-color); outline-offset: 1px; }
  button.primary { background: var(--primary-color); border-color: var(--primary-color);
    color: var(--text-primary-color, #fff); }
  button.primary:hover { filter: brightness(1.08); }
  button.danger { color: var(--error-color); }
  button[disabled] { opacity: .5; cursor: default; }
  input, select, textarea {
    font: inherit; font-size: 13px; color: var(--primary-text-color); min-height: 28px;
    background: var(--input-fill-color, var(--secondary-background-color, transparent));
    border: 1px solid var(--divider-color); border-radius: 6px; padding: 3px 6px; min-width: 0;
  }
  input[type="checkbox"] { min-height: 0; width: 18px; height: 18px; accent-color: var(--primary-color); margin: 0; }
  a { color: var(--primary-color); text-decoration: none; }
  a:hover { text-decoration: underline; }
  .badge {
    display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; line-height: 18px;
    white-space: nowrap; border: 1px solid transparent;
  }
  .state-registered { color: var(--success-color, #43a047);
    background: color-mix(in srgb, var(--success-color, #43a047) 16%, transparent); }
  .state-sleeping { color: var(--warning-color, #ffa600);
    background: color-mix(in srgb, var(--warning-color, #ffa600) 16%, transparent); }
  .state-offline { color: var(--secondary-text-color);
    background: color-mix(in srgb, var(--secondary-text-color) 14%, transparent); }
  .observed { color: var(--primary-color); border-color: color-mix(in srgb, var(--primary-color) 45%, transparent);
    font-size: 11px; padding: 0 6px; line-height: 16px; }
  .error-card { color: var(--error-color); padding: 16px; }
  .empty { padding: 24px 16px; text-align: center; color: var(--secondary-text-color); }
  .spin { display: inline-block; width: 12px; height: 12px; border: 2px solid var(--divider-color);
    border-top-color: var(--primary-color); border-radius: 50%; animation: spin 0.8s linear infinite;
    vertical-align: -2px; margin-inline-end: 6px; }
  @keyframes spin { to { transform: rotate(360deg); } }
  @keyframes flash { from { background: color-mix(in srgb, var(--primary-color) 28%, transparent); } to { background: transparent; } }
  .flash { animation: flash 1.2s ease-out; border-radius: 4px; }

  /* the device list */
  .bar { display: flex; align-items: center; flex-wrap: wrap; gap: 8px 12px; margin-bottom: 12px; }
  .search { display: flex; align-items: center; gap: 8px; }
  .search span { color: var(--secondary-text-color); }
  .search input { width: min(320px, 60vw); min-height: 34px; padding: 4px 10px; }
  .table-wrap { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: start; padding: 9px 12px; border-bottom: 1px solid var(--divider-color); white-space: nowrap; }
  th { font-weight: 500; font-size: 12.5px; color: var(--secondary-text-color); }
  tbody tr:last-child td { border-bottom: none; }
  tbody tr { cursor: pointer; }
  tbody tr:hover { background: color-mix(in srgb, var(--primary-color) 6%, transparent); }
  td.num { text-align: end; font-variant-numeric: tabular-nums; }
  td.name a { font-weight: 500; }
  td.errors.some { color: var(--error-color); }

  /* a device */
  .dev-head { padding: 12px 16px; margin-bottom: 12px; }
  .head-row { display: flex; align-items: center; flex-wrap: wrap; gap: 8px 12px; }
  .head-row h1 { overflow-wrap: anywhere; }
  .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 16px; margin-top: 12px; }
  .fact .k { font-size: 12px; color: var(--secondary-text-color); }
  .fact .v { overflow-wrap: anywhere; }
  .fmt-choice { display: inline-flex; align-items: center; gap: 6px; font-size: 12.5px; }
  .fmt-choice span { color: var(--secondary-text-color); }
  .result .fmt { font-weight: 500; }
  .composite { padding: 8px 16px; margin-bottom: 10px; }
  .composite .comp-row { display: flex; align-items: center; flex-wrap: wrap; gap: 6px 8px; }
  .composite .label { font-weight: 500; }
  .composite .comp-paths { font-size: 12px; color: var(--secondary-text-color); overflow-wrap: anywhere; min-width: 0; }
  .composite .slot:empty { display: none; }
  .cols { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; align-items: start; }
  @container page (min-width: 1350px) {
    .cols { grid-template-columns: minmax(0, 1fr) 400px; }
    .log { position: sticky; top: calc(var(--header-height, 56px) + 12px);
      max-height: calc(100vh - var(--header-height, 56px) - 24px); display: flex; flex-direction: column; }
    .cols .log ol { overflow: auto; max-height: none; }
  }
  details.object { margin-bottom: 10px; overflow: hidden; }
  details.object > summary {
    list-style: none; cursor: pointer; padding: 10px 16px; display: flex; align-items: center; gap: 10px;
    font-size: 16px; user-select: none;
  }
  details.object > summary::-webkit-details-marker { display: none; }
  details.object > summary::before { content: "▸"; color: var(--secondary-text-color); transition: transform .15s; }
  details.object[open] > summary::before { transform: rotate(90deg); }
  details.object[open] > summary { border-bottom: 1px solid var(--divider-color); }
  .node { display: flex; align-items: center; flex-wrap: wrap; gap: 6px 8px; padding: 8px 16px; }
  .node.object-node { background: color-mix(in srgb, var(--primary-text-color) 3%, transparent); }
  .node .label { font-weight: 500; margin-inline-end: 4px; }
  .inst-node { border-top: 1px solid var(--divider-color);
    background: color-mix(in srgb, var(--primary-color) 5%, transparent); }
  .node .slot, .res .slot { flex-basis: 100%; }
  .node .slot:empty, .res .slot:empty { display: none; }
  .res {
    display: grid; gap: 4px 12px; padding: 7px 16px; border-top: 1px solid var(--divider-color);
    grid-template-columns: 5.2em minmax(9em, 1fr) minmax(8em, 1fr) 404px; /* the same in every row */
    align-items: start;
  }
  .res .slot { grid-column: 1 / -1; }
  .rid { color: var(--secondary-text-color); padding-top: 4px; display: flex; gap: 6px; align-items: center; }
  .rid input.pick { width: 16px; height: 16px; flex: none; }
  .rid .no-pick { width: 16px; flex: none; }
  .rname { padding-top: 3px; min-width: 0; }
  .rname .nm { font-weight: 500; overflow-wrap: anywhere; }
  .meta { display: flex; flex-wrap: wrap; gap: 2px 8px; font-size: 12px; color: var(--secondary-text-color); }
  .ops { font-family: var(--ha-font-family-code, ui-monospace, monospace); font-weight: 600; }
  .vcell { padding-top: 3px; min-width: 0; }
  .val { overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
  .val.none { color: var(--secondary-text-color); }
  .val ul { margin: 0; padding: 0; list-style: none; }
  .at { font-size: 12px; color: var(--secondary-text-color); display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
  .acts { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
  .acts .ctl { justify-content: flex-end; }
  .btns, .ctl { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
  .ctl input:not([type="checkbox"]), .ctl select { flex: 1 1 8em; width: 8em; }
  .ctl label.check { display: inline-flex; align-items: center; gap: 6px; min-height: 28px; padding-inline-end: 6px; }
  .hint { font-size: 11.5px; color: var(--secondary-text-color); flex-basis: 100%; }
  @container page (max-width: 820px) {
    .res { grid-template-columns: 4.7em minmax(0, 1fr); }
    .res .vcell, .res .acts { grid-column: 2; }
    .acts .ctl { justify-content: flex-start; }
  }
  .result { font-size: 12.5px; padding: 6px 10px; border-radius: 6px; margin-top: 2px;
    background: color-mix(in srgb, var(--primary-text-color) 5%, transparent);
    display: flex; gap: 8px; align-items: flex-start; }
  .result .body { flex: 1; min-width: 0; overflow-wrap: anywhere; }
  .result.ok .code { color: var(--success-color, #43a047); font-weight: 500; }
  .result.err { color: var(--error-color);
    background: color-mix(in srgb, var(--error-color) 9%, transparent); }
  .result ul { margin: 4px 0 0; padding-inline-start: 16px; }
  .result button.x { min-height: 22px; padding: 0 6px; border: none; color: var(--secondary-text-color); }
  form.inline { border: 1px dashed var(--divider-color); border-radius: 8px; padding: 8px 10px; margin-top: 4px;
    display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: flex-end; }
  form.inline .field { display: flex; flex-direction: column; gap: 2px; font-size: 12px; }
  form.inline .field > span { color: var(--secondary-text-color); }
  form.inline .field input[type="number"] { width: 7.5em; }
  form.inline .clear { display: inline-flex; gap: 4px; align-items: center; font-size: 11.5px; color: var(--secondary-text-color); }
  form.inline textarea { width: min(420px, 80vw); min-height: 60px; font-family: var(--ha-font-family-code, ui-monospace, monospace); }
  form.inline .form-btns { display: flex; gap: 6px; }
  form.inline label.check { display: inline-flex; align-items: center; gap: 6px; min-height: 28px; font-size: 12.5px; }

  /* the message log */
  .log { padding: 0; }
  .log h2 { padding: 12px 16px; border-bottom: 1px solid var(--divider-color); display: flex; align-items: center; gap: 8px; }
  .log ol { list-style: none; margin: 0; padding: 0; max-height: 520px; overflow: auto; }
  .log li { padding: 6px 16px; border-bottom: 1px solid var(--divider-color); font-size: 12.5px;
    display: flex; flex-wrap: wrap; gap: 2px 8px; align-items: baseline; }
  .log li:last-child { border-bottom: none; }
  .log time { color: var(--secondary-text-color); font-variant-numeric: tabular-nums; }
  .log .kind { font-size: 11px; padding: 0 6px; line-height: 16px; }
  .kind-notification, .kind-send { color: var(--primary-color); background: color-mix(in srgb, var(--primary-color) 14%, transparent); }
  .kind-response { color: var(--secondary-text-color); background: color-mix(in srgb, var(--secondary-text-color) 14%, transparent); }
  .kind-registered, .kind-updated { color: var(--success-color, #43a047); background: color-mix(in srgb, var(--success-color, #43a047) 14%, transparent); }
  .kind-deregistered, .kind-expired { color: var(--error-color); background: color-mix(in srgb, var(--error-color) 12%, transparent); }
  .kind-firmware { color: var(--warning-color, #ffa600); background: color-mix(in srgb, var(--warning-color, #ffa600) 14%, transparent); }
  .log .code-bad { color: var(--error-color); }
  .log .vals { flex-basis: 100%; color: var(--secondary-text-color); overflow-wrap: anywhere; }
`;

class LwM2MPanel extends HTMLElement {
  constructor() {
    super();
    this._hass = null;
    this._narrow = false;
    this._route = null;
    this._panel = null;
    this._view = null; // "list" or "device:<endpoint>" once shown
    this._token = 0; // answers of a view that is gone are dropped
    this._connected = false;
    // the list
    this._devices = null;
    this._listError = null;
    this._search = "";
    this._timer = null;
    // a device
    this._endpoint = null;
    this._tree = null;
    this._treeError = null;
    this._signature = "";
    this._res = new Map(); // path -> resource (as the tree gives it, kept up to date)
    this._nodes = new Map(); // "/3" and "/3/0" -> object and instance
    this._log = [];
    this._logKeys = new Set();
    this._results = new Map(); // path -> the last answer shown under its row
    this._forms = new Set(); // "<path>|attributes", "<path>|create": open inline forms
    this._form = new Map(); // data-key -> what the user typed (kept across renders)
    this._openObjects = new Map(); // object id -> expanded
    this._hidden = new Set(); // instances deleted here (the server still holds their last values)
    this._picked = new Set(); // resources ticked for Read- and Write-Composite
    this._format = ""; // the content format chosen in the header ("": the device's best), kept across devices
    this._timeout = "30"; // seconds each request may wait for the device (the header's Timeout)
    this._unsub = null;
    this._logError = null;
    this._refetch = null;

    this.attachShadow({ mode: "open" });
    this.shadowRoot.innerHTML = `
      <style>${STYLE}</style>
      <div class="app">
        <div class="toolbar">
          <span class="menu"></span>
          <button class="menu-fallback" aria-label="Sidebar toggle" title="Sidebar">☰</button>
          <div class="title">LwM2M</div>
        </div>
        <div class="content"></div>
      </div>`;
    this._content = this.shadowRoot.querySelector(".content");
    this._menu = document.createElement("ha-menu-button");
    this.shadowRoot.querySelector(".menu").appendChild(this._menu);
    this._fallback = this.shadowRoot.querySelector(".menu-fallback");
    this._fallback.addEventListener("click", () =>
      this.dispatchEvent(new Event("hass-toggle-menu", { bubbles: true, composed: true })),
    );
    if (!customElements.get("ha-menu-button")) {
      this._fallback.classList.add("shown");
      customElements.whenDefined("ha-menu-button").then(() => this._fallback.classList.remove("shown"));
    }

    const root = this.shadowRoot;
    root.addEventListener("click", (ev) => this._onClick(ev));
    root.addEventListener("input", (ev) => this._onInput(ev));
    root.addEventListener("change", (ev) => this._onInput(ev));
    root.addEventListener("keydown", (ev) => this._onKey(ev));
    root.addEventListener("submit", (ev) => ev.preventDefault());
    root.addEventListener("toggle", (ev) => this._onToggle(ev), true);
  }

  // -- what Home Assistant sets -------------------------------------------------------------

  set hass(hass) {
    const first = !this._hass;
    this._hass = hass;
    this._menu.hass = hass;
    this.toggleAttribute("dark", Boolean(hass && hass.themes && hass.themes.darkMode));
    if (first) this._update();
  }

  get hass() {
    return this._hass;
  }

  set narrow(narrow) {
    this._narrow = Boolean(narrow);
    this._menu.narrow = this._narrow;
    this.toggleAttribute("narrow", this._narrow);
  }

  get narrow() {
    return this._narrow;
  }

  set route(route) {
    this._route = route;
    this._update();
  }

  get route() {
    return this._route;
  }

  set panel(panel) {
    this._panel = panel;
  }

  get panel() {
    return this._panel;
  }

  connectedCallback() {
    this._connected = true;
    this._update();
  }

  disconnectedCallback() {
    this._connected = false;
    this._leave();
    this._view = null;
  }

  // -- views -----------------------------------------------------------------------------------

  get _prefix() {
    return (this._route && this._route.prefix) || "/lwm2m";
  }

  _wanted() {
    const path = ((this._route && this._route.path) || "").replace(/^\/+/, "");
    const match = /^device\/([^/]+)/.exec(path);
    if (!match) return { key: "list" };
    let endpoint = match[1];
    try {
      endpoint = decodeURIComponent(endpoint);
    } catch (err) {
      // keep it as it came
    }
    return { key: `device:${endpoint}`, endpoint };
  }

  _update() {
    if (!this._connected || !this._hass) return;
    const wanted = this._wanted();
    if (wanted.key === this._view) return;
    this._leave();
    this._view = wanted.key;
    if (wanted.endpoint !== undefined) this._openDevice(wanted.endpoint);
    else this._openList();
  }

  _leave() {
    this._token += 1;
    clearInterval(this._timer);
    this._timer = null;
    clearTimeout(this._refetch);
    this._refetch = null;
    if (this._unsub) {
      const unsub = this._unsub;
      this._unsub = null;
      Promise.resolve(unsub)
        .then((fn) => typeof fn === "function" && fn())
        .catch(() => {});
    }
  }

  _navigate(path) {
    history.pushState(null, "", path);
    window.dispatchEvent(new Event("location-changed", { bubbles: true, composed: true }));
    // Home Assistant sets the new route; without it (the panel on its own) follow the address
    setTimeout(() => {
      if (this._route && !location.pathname.endsWith(this._route.path || "")) {
        this._route = { ...this._route, path: location.pathname.slice(this._prefix.length) };
        this._update();
      }
    }, 0);
  }

  _deviceUrl(endpoint) {
    return `${this._prefix}/device/${encodeURIComponent(endpoint)}`;
  }

  _ws(msg) {
    return this._hass.callWS(msg);
  }

  /** Replace the page, keeping what was typed and the focus (the page scrolls in Home Assistant's view). */
  _renderPage(html) {
    const root = this.shadowRoot;
    const active = root.activeElement;
    const key = active && active.dataset ? active.dataset.key : undefined;
    let selection = null;
    if (key && typeof active.selectionStart === "number") {
      try {
        selection = [active.selectionStart, active.selectionEnd];
      } catch (err) {
        selection = null;
      }
    }
    this._content.innerHTML = html;
    this._restoreInputs(this._content);
    if (key) {
      const again = root.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again) {
        again.focus({ preventScroll: true });
        if (selection) {
          try {
            again.setSelectionRange(...selection);
          } catch (err) {
            // not a text control
          }
        }
      }
    }
  }

  _restoreInputs(scope) {
    for (const el of scope.querySelectorAll("[data-key]")) {
      if (!this._form.has(el.dataset.key)) continue;
      const value = this._form.get(el.dataset.key);
      if (el.type === "checkbox") el.checked = Boolean(value);
      else el.value = value;
    }
  }

  // -- the device list -------------------------------------------------------------------------

  _openList() {
    this._renderPage(`
      <div class="page list">
        <div class="bar">
          <label class="search"><span>Search devices</span>
            <input type="text" data-role="search" placeholder="Name or endpoint" autocomplete="off" spellcheck="false">
          </label>
          <span class="count muted"></span>
          <span class="grow"></span>
          <button data-action="refresh-list">Refresh</button>
        </div>
        <div class="card list-card"></div>
      </div>`);
    this.shadowRoot.querySelector('[data-role="search"]').value = this._search;
    this._renderList();
    this._loadDevices();
    this._timer = setInterval(() => this._loadDevices(), LIST_REFRESH_MS);
  }

  async _loadDevices() {
    const token = this._token;
    try {
      const result = await this._ws({ type: "lwm2m/devices" });
      if (token !== this._token) return;
      this._devices = result.devices || [];
      this._listError = null;
    } catch (err) {
      if (token !== this._token) return;
      this._listError = err;
    }
    this._renderList();
  }

  _filtered() {
    const term = this._search.trim().toLowerCase();
    const devices = this._devices || [];
    if (!term) return devices;
    return devices.filter(
      (d) => String(d.name ?? "").toLowerCase().includes(term) || String(d.endpoint).toLowerCase().includes(term),
    );
  }

  _renderList() {
    const card = this.shadowRoot.querySelector(".list-card");
    if (!card) return;
    const count = this.shadowRoot.querySelector(".list .count");
    if (this._listError && this._devices === null) {
      card.innerHTML = `<div class="error-card">Could not load the devices: ${esc(this._errorText(this._listError))}</div>`;
      return;
    }
    if (this._devices === null) {
      card.innerHTML = `<div class="empty"><span class="spin"></span>Loading devices…</div>`;
      return;
    }
    const shown = this._filtered();
    count.textContent = this._search.trim()
      ? `${shown.length} of ${this._devices.length} devices`
      : `${this._devices.length} device${this._devices.length === 1 ? "" : "s"}`;
    const entries = new Set(this._devices.map((d) => d.entry_id));
    const error = this._listError
      ? `<div class="error-card">Could not refresh: ${esc(this._errorText(this._listError))}</div>`
      : "";
    if (!shown.length) {
      card.innerHTML =
        error +
        `<div class="empty">${
          this._devices.length ? "No device matches the search." : "No LwM2M device has registered yet."
        }</div>`;
      return;
    }
    const rows = shown.map((d) => {
      const state = STATE_LABELS[d.state] ? d.state : "offline";
      const inOut =
        d.messages_in !== undefined ? `${d.messages_in ?? 0} / ${d.messages_out ?? 0}` : "—";
      const lastSeen = d.last_seen ?? d.updated_at ?? null;
      return `
        <tr data-endpoint="${esc(d.endpoint)}">
          <td class="name"><a href="${esc(this._deviceUrl(d.endpoint))}" data-nav="${esc(d.endpoint)}">${esc(
            d.name || d.endpoint,
          )}</a>${entries.size > 1 ? `<div class="sub">${esc(d.entry_title)}</div>` : ""}</td>
          <td class="mono">${esc(d.endpoint)}</td>
          <td><span class="badge state-${state}">${esc(STATE_LABELS[state])}</span></td>
          <td>${esc(transportText(d))}</td>
          <td>${esc(d.lwm2m_version ?? "—")}</td>
          <td>${esc(d.binding ?? "—")}${d.queue_mode ? ' <span class="sub">queue</span>' : ""}</td>
          <td class="num">${d.lifetime !== undefined && d.lifetime !== null ? `${esc(d.lifetime)} s` : "—"}</td>
          <td title="${esc(lastSeen ? dateTime(lastSeen) : "")}">${esc(lastSeen ? ago(lastSeen) : "—")}</td>
          <td class="num">${esc(inOut)}</td>
          <td class="num errors ${d.errors ? "some" : ""}">${esc(d.errors ?? "—")}</td>
          <td>${esc(d.firmware ?? "—")}</td>
        </tr>`;
    });
    const html = `${error}
      <div class="table-wrap"><table>
        <thead><tr>
          <th>Name</th><th>Endpoint</th><th>State</th><th>Transport</th><th>LwM2M</th><th>Binding</th>
          <th class="num">Lifetime</th><th>Last seen</th><th class="num">Messages in / out</th>
          <th class="num">Errors</th><th>Firmware</th>
        </tr></thead>
        <tbody>${rows.join("")}</tbody>
      </table></div>`;
    this._patch(card, html);
  }

  /**
   * Put html in card, changing only the cells that differ when the same rows are shown: a
   * row replaced under the pointer between mouse down and up would lose the click.
   */
  _patch(card, html) {
    const fresh = document.createElement("template");
    fresh.innerHTML = html;
    const oldBody = card.querySelector("tbody");
    const newBody = fresh.content.querySelector("tbody");
    const keys = (body) => Array.from(body ? body.rows : [], (r) => r.dataset.endpoint).join("\n");
    const oldError = card.querySelector(".error-card");
    const newError = fresh.content.querySelector(".error-card");
    if (!oldBody || !newBody || keys(oldBody) !== keys(newBody) || Boolean(oldError) !== Boolean(newError)) {
      card.replaceChildren(fresh.content);
      return;
    }
    if (oldError && newError && oldError.outerHTML !== newError.outerHTML) oldError.replaceWith(newError);
    Array.from(newBody.rows).forEach((row, i) => {
      const old = oldBody.rows[i];
      Array.from(row.cells).forEach((cell, j) => {
        if (old.cells[j] && old.cells[j].outerHTML !== cell.outerHTML) old.cells[j].replaceWith(cell.cloneNode(true));
      });
    });
  }

  // -- a device ---------------------------------------------------------------------------------

  _openDevice(endpoint) {
    this._endpoint = endpoint;
    this._tree = null;
    this._treeError = null;
    this._signature = "";
    this._res = new Map();
    this._nodes = new Map();
    this._log = [];
    this._logKeys = new Set();
    this._results = new Map();
    this._forms = new Set();
    this._form = new Map();
    this._openObjects = new Map();
    this._hidden = new Set();
    this._picked = new Set();
    this._logError = null;
    this._renderDevice();
    this._loadTree();
    this._subscribe();
    this._timer = setInterval(() => this._loadTree(), LIST_REFRESH_MS);
  }

  async _loadTree() {
    const token = this._token;
    try {
      const result = await this._ws({ type: "lwm2m/device/tree", endpoint: this._endpoint });
      if (token !== this._token) return;
      this._treeError = null;
      this._applyTree(result);
    } catch (err) {
      if (token !== this._token) return;
      this._treeError = err;
      if (!this._tree) this._renderDevice();
      else this._renderHead();
    }
  }

  _scheduleTree(delay = 400) {
    clearTimeout(this._refetch);
    this._refetch = setTimeout(() => this._loadTree(), delay);
  }

  _structure(objects) {
    return objects
      .map(
        (o) =>
          `${o.id}${o.known ? "+" : ""}${o.multiple ? "*" : ""}${o.name || ""}:${o.instances
            .map(
              (i) =>
                `${i.id}[${i.resources.map((r) => `${r.id}${r.multiple ? "*" : ""}${r.name || ""}${r.operations}`).join(",")}]`,
            )
            .join(",")}`,
      )
      .join(";");
  }

  /** Take a tree the server sent: in place when only values and facts changed, else render anew. */
  _applyTree(result) {
    if (this._hidden.size) {
      for (const obj of result.objects || []) obj.instances = obj.instances.filter((i) => !this._hidden.has(i.path));
    }
    const signature = this._structure(result.objects || []);
    if (this._tree && signature === this._signature) {
      this._tree.device = result.device;
      for (const obj of result.objects) {
        const known = this._nodes.get(`/${obj.id}`);
        if (known) known.observed = obj.observed;
        for (const inst of obj.instances) {
          const node = this._nodes.get(inst.path);
          if (node) node.observed = inst.observed;
          for (const res of inst.resources) {
            const mine = this._res.get(res.path);
            if (!mine) continue;
            mine.observed = res.observed;
            const newer = res.at !== undefined && res.at !== null && (mine.at === undefined || mine.at === null || res.at >= mine.at);
            if ("value" in res && (newer || !("value" in mine))) mine.value = res.value;
            if (res.instances && (newer || !mine.instances)) mine.instances = res.instances;
            if (newer) mine.at = res.at;
            this._renderValue(res.path, false);
          }
          this._renderObserved(inst.path);
        }
        this._renderObserved(`/${obj.id}`);
      }
      this._renderHead();
      return;
    }
    this._tree = result;
    this._signature = signature;
    this._res = new Map();
    this._nodes = new Map();
    for (const obj of result.objects) {
      this._nodes.set(`/${obj.id}`, obj);
      for (const inst of obj.instances) {
        this._nodes.set(inst.path, inst);
        for (const res of inst.resources) this._res.set(res.path, res);
      }
    }
    this._renderDevice();
  }

  _renderDevice() {
    const endpoint = this._endpoint;
    let body;
    if (!this._tree && this._treeError) {
      body = `<div class="card error-card">Could not open ${esc(endpoint)}: ${esc(this._errorText(this._treeError))}</div>`;
    } else if (!this._tree) {
      body = `<div class="card empty"><span class="spin"></span>Loading ${esc(endpoint)}…</div>`;
    } else {
      const objects = this._tree.objects;
      body = objects.length
        ? this._compositeHtml() + objects.map((obj, index) => this._objectHtml(obj, index)).join("")
        : `<div class="card empty">The device registered no objects.</div>`;
    }
    this._renderPage(`
      <div class="page device">
        <div class="card dev-head">
          <div class="head-row">
            <button data-action="back">Back</button>
            <h1 class="dev-name">${esc(this._tree ? this._tree.device.name || endpoint : endpoint)}</h1>
            <span class="dev-state"></span>
            <span class="grow"></span>
            <label class="fmt-choice" title="The format of every Read, Observe, Write, Create and composite operation sent from this page; Device's choice: the richest the device takes">
              <span>Content format</span>
              <select data-role="format" aria-label="Content format">${FORMAT_CHOICES.map(
                ([n, name]) => `<option value="${n}" ${n === this._format ? "selected" : ""}>${esc(name)}</option>`,
              ).join("")}</select>
            </label>
            <label class="fmt-choice" title="How long each request may wait for the device (a sleeping one answers when it wakes)">
              <span>Timeout (s)</span>
              <input data-role="timeout" type="number" min="1" max="3600" step="1" value="${esc(this._timeout)}"
                     aria-label="Timeout (s)" style="width: 5em">
            </label>
            <button data-action="refresh-device">Refresh</button>
          </div>
          <div class="head-facts"></div>
        </div>
        <div class="cols">
          <div class="tree">${body}</div>
          <section class="card log" aria-label="Message log">
            <h2>Message log <span class="badge observed log-count"></span></h2>
            <ol class="log-list"></ol>
          </section>
        </div>
      </div>`);
    this._renderHead();
    this._renderLog();
    this._renderPicks();
  }

  _renderHead() {
    const facts = this.shadowRoot.querySelector(".head-facts");
    if (!facts) return;
    const stateSlot = this.shadowRoot.querySelector(".dev-state");
    const name = this.shadowRoot.querySelector(".dev-name");
    const error = this._treeError && this._tree
      ? `<div class="error-card" style="padding: 8px 0 0">Could not refresh: ${esc(this._errorText(this._treeError))}</div>`
      : "";
    if (!this._tree) {
      facts.innerHTML = `<div class="sub mono">${esc(this._endpoint)}</div>`;
      stateSlot.innerHTML = "";
      return;
    }
    const d = this._tree.device;
    const state = STATE_LABELS[d.state] ? d.state : "offline";
    name.textContent = d.name || d.endpoint;
    stateSlot.innerHTML = `<span class="badge state-${state}">${esc(STATE_LABELS[state])}</span>`;
    const about = [d.manufacturer, d.model, d.firmware ? `firmware ${d.firmware}` : null].filter(Boolean);
    const fact = (k, v, title = "") =>
      `<div class="fact"><div class="k">${esc(k)}</div><div class="v" ${title ? `title="${esc(title)}"` : ""}>${esc(v)}</div></div>`;
    const list = [fact("Endpoint", d.endpoint)];
    if (d.transport !== undefined) {
      list.push(
        fact("Transport", transportText(d)),
        fact("LwM2M version", d.lwm2m_version ?? "—"),
        fact("Binding", `${d.binding ?? "—"}${d.queue_mode ? " (queue mode)" : ""}`),
        fact("Lifetime", d.lifetime !== undefined && d.lifetime !== null ? `${d.lifetime} s` : "—"),
        fact("Registered", d.registered_at ? ago(d.registered_at) : "—", dateTime(d.registered_at)),
        fact("Updated", d.updated_at ? ago(d.updated_at) : "—", dateTime(d.updated_at)),
        fact("Last seen", d.last_seen ? ago(d.last_seen) : "—", dateTime(d.last_seen)),
        fact("Messages in / out", `${d.messages_in ?? 0} / ${d.messages_out ?? 0}`),
        fact("Errors", d.errors ?? 0),
      );
    } else {
      list.push(fact("Registration", "not registered"));
    }
    if (d.entry_title) list.push(fact("Server", d.entry_title));
    facts.innerHTML = `${about.length ? `<div class="muted">${esc(about.join(" · "))}</div>` : ""}
      <div class="facts">${list.join("")}</div>${error}`;
  }

  _objectHtml(obj, index) {
    const open = this._openObjects.has(obj.id) ? this._openObjects.get(obj.id) : index < OPEN_OBJECTS;
    const title = obj.name ? `${obj.id} · ${obj.name}` : `Object ${obj.id}`;
    const version = obj.version ? ` (v${obj.version})` : "";
    const count = obj.instances.length;
    const path = `/${obj.id}`;
    const create = obj.multiple || !obj.known;
    return `
      <details class="object card" data-obj="${obj.id}" ${open ? "open" : ""}>
        <summary><span>${esc(title)}${esc(version)}</span>
          <span class="sub">${count} instance${count === 1 ? "" : "s"}${obj.mandatory ? " · mandatory" : ""}${
            obj.multiple ? " · multiple" : ""
          }</span>
        </summary>
        <div class="node object-node" data-path="${esc(path)}">
          <span class="label mono">${esc(path)}</span>
          <span class="obs" data-obs="${esc(path)}">${this._observedHtml(obj)}</span>
          <span class="btns">
            ${this._button("read")}${this._button("observe")}${this._button("cancel_observe")}${this._button("discover")}${this._button("write_attributes")}${create ? this._button("create") : ""}
          </span>
          <div class="slot form-slot">${this._formsHtml(path)}</div>
          <div class="slot result-slot" data-result-for="${esc(path)}">${this._resultHtml(path)}</div>
        </div>
        ${obj.instances.map((inst) => this._instanceHtml(obj, inst)).join("")}
        ${count ? "" : `<div class="empty">No instance.</div>`}
      </details>`;
  }

  _instanceHtml(obj, inst) {
    const deletable = obj.multiple || !obj.known;
    const writable = inst.resources.some((res) => resourceOps(res).includes("W"));
    return `
      <div class="instance">
        <div class="node inst-node" data-path="${esc(inst.path)}">
          <span class="label mono">${esc(inst.path)}</span>
          <span class="obs" data-obs="${esc(inst.path)}">${this._observedHtml(inst)}</span>
          <span class="btns">
            ${this._button("read")}${this._button("observe")}${this._button("cancel_observe")}${this._button("discover")}${writable ? this._button("write_instance") : ""}${this._button("write_attributes")}${deletable ? this._button("delete", "danger") : ""}
          </span>
          <div class="slot form-slot">${this._formsHtml(inst.path)}</div>
          <div class="slot result-slot" data-result-for="${esc(inst.path)}">${this._resultHtml(inst.path)}</div>
        </div>
        ${inst.resources.map((res) => this._resourceHtml(res)).join("")}
      </div>`;
  }

  // -- the composite bar: Read- and Write-Composite of the resources ticked -------------------------

  _compositeHtml() {
    return `
      <div class="card composite" data-path="${COMPOSITE}" role="group" aria-label="Composite operations">
        <div class="comp-row">
          <span class="label">Composite</span>
          <span class="comp-paths"></span>
          <span class="grow"></span>
          <button type="button" data-op="read_composite">Read selected</button>
          <button type="button" data-op="observe_composite">Observe selected</button>
          <button type="button" data-op="cancel_observe_composite">Cancel observe selected</button>
          <button type="button" data-op="write_composite">Write selected</button>
          <button type="button" data-action="clear-picks">Clear selection</button>
        </div>
        <div class="slot form-slot">${this._formsHtml(COMPOSITE)}</div>
        <div class="slot result-slot" data-result-for="${COMPOSITE}">${this._resultHtml(COMPOSITE)}</div>
      </div>`;
  }

  /** The resources ticked that the tree still has, in the tree's order. */
  _pickedPaths() {
    return Array.from(this._res.keys()).filter((path) => this._picked.has(path));
  }

  _renderPicks() {
    const bar = this._row(COMPOSITE);
    if (!bar) return;
    const paths = this._pickedPaths();
    const writable = paths.filter((path) => resourceOps(this._res.get(path)).includes("W"));
    const shown = paths.length > 6 ? `${paths.slice(0, 6).join(", ")} and ${paths.length - 6} more` : paths.join(", ");
    bar.querySelector(".comp-paths").textContent = paths.length
      ? `${paths.length} selected: ${shown}`
      : "Tick resources below to read or write them in one request.";
    bar.querySelector('[data-op="read_composite"]').disabled = !paths.length;
    bar.querySelector('[data-op="observe_composite"]').disabled = !paths.length;
    bar.querySelector('[data-op="cancel_observe_composite"]').disabled = !paths.length;
    bar.querySelector('[data-op="write_composite"]').disabled = !writable.length;
    bar.querySelector('[data-action="clear-picks"]').disabled = !paths.length;
  }

  _button(op, cls = "") {
    return `<button type="button" data-op="${op}" ${cls ? `class="${cls}"` : ""}>${esc(OP_LABELS[op])}</button>`;
  }

  _observedHtml(node) {
    return node && node.observed ? `<span class="badge observed" title="The server observes this">observed</span>` : "";
  }

  _resourceHtml(res) {
    const ops = resourceOps(res);
    const readable = ops.includes("R");
    const writable = ops.includes("W");
    const executable = ops.includes("E");
    const name = res.name ?? String(res.id);
    const range = rangeText(res);
    const meta = [
      res.type ? `<span>${esc(res.type)}${res.multiple ? "[]" : ""}</span>` : res.multiple ? "<span>multiple</span>" : "",
      ops ? `<span class="ops" title="operations">${esc(ops)}</span>` : "",
      res.units ? `<span title="units">${esc(res.units)}</span>` : "",
      range.text ? `<span title="${esc(range.title)}">${esc(range.text)}</span>` : "",
      res.mandatory ? `<span title="mandatory">mandatory</span>` : "",
    ].join("");
    const buttons = readable
      ? `${this._button("read")}${this._button("observe")}${this._button("cancel_observe")}${this._button("discover")}${this._button("write_attributes")}`
      : "";
    const write = writable
      ? `<div class="ctl write-ctl">${this._writeControl(res, name)}<button type="button" class="primary" data-op="write">Write</button>${this._writeHint(res)}</div>`
      : "";
    const execute = executable
      ? `<div class="ctl exec-ctl"><input type="text" data-key="${esc(res.path)}|args" data-enter="execute"
           placeholder="arguments (optional)" aria-label="Arguments for ${esc(name)}" autocomplete="off">
         <button type="button" class="primary" data-op="execute">Execute</button></div>`
      : "";
    return `
      <div class="res" data-path="${esc(res.path)}" role="group" aria-label="${esc(`${res.path} ${name}`)}">
        <div class="rid mono">${
          readable
            ? `<input type="checkbox" class="pick" data-pick="${esc(res.path)}" aria-label="${esc(`Select ${res.path}`)}"
                 title="Tick for Read selected / Write selected" ${this._picked.has(res.path) ? "checked" : ""}>`
            : `<span class="no-pick"></span>`
        }<span>${esc(res.id)}</span></div>
        <div class="rname"><div class="nm">${esc(name)}</div><div class="meta">${meta}</div></div>
        <div class="vcell">${this._valueHtml(res)}</div>
        <div class="acts">${buttons ? `<div class="btns">${buttons}</div>` : ""}${write}${execute}</div>
        <div class="slot form-slot">${this._formsHtml(res.path)}</div>
        <div class="slot result-slot" data-result-for="${esc(res.path)}">${this._resultHtml(res.path)}</div>
      </div>`;
  }

  _writeControl(res, name) {
    const key = `${res.path}|value`;
    const label = `New value of ${name}`;
    const common = `data-key="${esc(key)}" aria-label="${esc(label)}" data-enter="write"`;
    if (res.multiple) {
      return `<input type="text" ${common} placeholder='{"0": value, "1": value}' autocomplete="off" spellcheck="false">`;
    }
    if (res.enum) {
      const options = Object.entries(res.enum)
        .map(([k, v]) => `<option value="${esc(k)}">${esc(`${k} · ${v}`)}</option>`)
        .join("");
      return `<select data-key="${esc(key)}" aria-label="${esc(label)}"><option value="">choose…</option>${options}</select>`;
    }
    switch (res.type) {
      case "boolean":
        return `<label class="check"><input type="checkbox" data-key="${esc(key)}" aria-label="${esc(label)}"> on</label>`;
      case "integer":
      case "unsigned integer": {
        const min = res.min ?? (res.type === "unsigned integer" ? 0 : null);
        return `<input type="number" step="1" ${min !== null ? `min="${esc(min)}"` : ""} ${
          res.max !== null && res.max !== undefined ? `max="${esc(res.max)}"` : ""
        } ${common} placeholder="integer">`;
      }
      case "float":
        return `<input type="number" step="any" ${res.min !== null && res.min !== undefined ? `min="${esc(res.min)}"` : ""} ${
          res.max !== null && res.max !== undefined ? `max="${esc(res.max)}"` : ""
        } ${common} placeholder="number">`;
      case "time":
        return `<input type="datetime-local" step="1" ${common}>`;
      case "opaque":
        return `<input type="text" ${common} placeholder="0x0a1b… or base64" autocomplete="off" spellcheck="false">`;
      case "objlnk":
        return `<input type="text" ${common} placeholder="3:0" autocomplete="off" spellcheck="false">`;
      case "corelnk":
        return `<input type="text" ${common} placeholder="</3/0>" autocomplete="off" spellcheck="false">`;
      default:
        return `<input type="text" ${common} placeholder="${res.type ? "text" : "value"}" autocomplete="off">`;
    }
  }

  _writeHint(res) {
    if (res.multiple) return `<span class="hint">JSON: {"instance id": value} or a list</span>`;
    if (res.type === "opaque") return `<span class="hint">hex as 0x…, or base64</span>`;
    if (res.type === "objlnk") return `<span class="hint">object:instance, e.g. 3:0</span>`;
    return "";
  }

  _valueHtml(res) {
    let value;
    if (res.instances && Object.keys(res.instances).length) {
      const items = Object.entries(res.instances)
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([i, v]) => {
          const shown = shownValue(res, v);
          return `<li ${shown.title ? `title="${esc(shown.title)}"` : ""}><span class="muted">${esc(i)}:</span> ${esc(shown.text)}</li>`;
        });
      value = `<div class="val"><ul>${items.join("")}</ul></div>`;
    } else if ("value" in res && res.value !== undefined) {
      const shown = shownValue(res, res.value);
      value = `<div class="val" ${shown.title ? `title="${esc(shown.title)}"` : ""}>${esc(shown.text)}</div>`;
    } else {
      value = `<div class="val none">—</div>`;
    }
    const at = res.at ? `<span title="${esc(dateTime(res.at))}">at ${esc(clock(res.at))}</span>` : "";
    const observed = this._observedHtml(res);
    return `${value}${at || observed ? `<div class="at">${at}${observed}</div>` : ""}`;
  }

  _renderValue(path, flash = true) {
    const res = this._res.get(path);
    const row = this._row(path);
    if (!res || !row) return;
    const cell = row.querySelector(".vcell");
    const html = this._valueHtml(res);
    if (cell.dataset.html === html) return; // unchanged: leave the cell (and a selection in it) alone
    cell.dataset.html = html;
    const before = cell.textContent;
    cell.innerHTML = html;
    if (flash && before !== cell.textContent) {
      const val = cell.querySelector(".val");
      if (val) val.classList.add("flash");
    }
  }

  _renderObserved(path) {
    const slot = this.shadowRoot.querySelector(`[data-obs="${CSS.escape(path)}"]`);
    const html = this._observedHtml(this._nodes.get(path));
    if (slot && slot.innerHTML !== html) slot.innerHTML = html;
  }

  _row(path) {
    return this.shadowRoot.querySelector(`[data-path="${CSS.escape(path)}"]`);
  }

  // -- inline forms ----------------------------------------------------------------------------

  _formsHtml(path) {
    let html = "";
    if (this._forms.has(`${path}|attributes`)) {
      const fields = ATTRIBUTES.map(
        (name) => `
          <div class="field">
            <label class="field"><span title="${esc(ATTRIBUTE_HINTS[name])}">${name}</span>
              <input type="number" step="any" data-key="${esc(path)}|attr:${name}" data-enter="write_attributes_submit"
                     placeholder="${esc(ATTRIBUTE_HINTS[name])}"></label>
            <label class="clear"><input type="checkbox" data-key="${esc(path)}|clear:${name}" aria-label="Clear ${name}"> clear</label>
          </div>`,
      ).join("");
      html += `
        <form class="inline attributes-form" aria-label="Write attributes of ${esc(path)}">
          ${fields}
          ${formButtons("write_attributes_submit", "attributes")}
          <span class="hint">Empty fields are not sent; “clear” removes the attribute.</span>
        </form>`;
    }
    if (this._forms.has(`${path}|create`)) {
      html += `
        <form class="inline create-form" aria-label="Create an instance of ${esc(path)}">
          <label class="field"><span>Instance id</span>
            <input type="number" min="0" max="65534" step="1" data-key="${esc(path)}|create:id" placeholder="the device picks"></label>
          <label class="field"><span>Resource values (JSON)</span>
            <textarea data-key="${esc(path)}|create:values" spellcheck="false" placeholder='{"5700": 21.5, "5701": "Cel"}'></textarea></label>
          ${formButtons("create_submit", "create")}
        </form>`;
    }
    if (this._forms.has(`${path}|write_instance`)) {
      const key = `${path}|wi:values`;
      html += `
        <form class="inline write-instance-form" aria-label="Write instance ${esc(path)}">
          <label class="field"><span>Instance values (JSON)</span>
            <textarea data-key="${esc(key)}" rows="${textRows(this._form.get(key))}" spellcheck="false"
                      placeholder='{"5851": 70, "5850": true}'></textarea></label>
          <label class="check"><input type="checkbox" data-key="${esc(path)}|wi:replace"> Replace the whole instance</label>
          ${formButtons("write_instance_submit", "write_instance")}
          <span class="hint">{"resource id": value}; a multiple resource takes {"instance id": value}. Unticked:
            a partial update (the resources not given keep their values); ticked: the instance is replaced.</span>
        </form>`;
    }
    if (this._forms.has(`${path}|write_composite`)) {
      const key = `${path}|wc:values`;
      html += `
        <form class="inline write-composite-form" aria-label="Write the selected resources">
          <label class="field"><span>Composite values (JSON)</span>
            <textarea data-key="${esc(key)}" rows="${textRows(this._form.get(key))}" spellcheck="false"
                      placeholder='{"/3311/0/5851": 40}'></textarea></label>
          ${formButtons("write_composite_submit", "write_composite")}
          <span class="hint">{"/object/instance/resource": value}, or a resource instance's path; one request.</span>
        </form>`;
    }
    return html;
  }

  /** The known values of an instance's writable resources, as Write instance takes them. */
  _instanceValues(path) {
    const inst = this._nodes.get(path);
    const values = {};
    for (const res of inst ? inst.resources : []) {
      if (!resourceOps(res).includes("W")) continue;
      const value = this._knownValue(res);
      if (value !== undefined) values[String(res.id)] = value;
    }
    return values;
  }

  /** The selected writable resources with their known values (null: none known), as Write selected takes them. */
  _compositeValues() {
    const values = {};
    for (const path of this._pickedPaths()) {
      const res = this._res.get(path);
      if (!resourceOps(res).includes("W")) continue;
      const value = this._knownValue(res);
      if (value !== undefined && value !== null && typeof value === "object" && !Array.isArray(value)) {
        for (const [i, v] of Object.entries(value)) values[`${path}/${i}`] = v; // a multiple resource: its instances
      } else {
        values[path] = value === undefined ? null : value;
      }
    }
    return values;
  }

  /** A resource's value as a Write takes it: {id: value} for a multiple resource; undefined if unknown or cut. */
  _knownValue(res) {
    if (res.instances && Object.keys(res.instances).length) {
      if (Object.values(res.instances).some(isTruncated)) return undefined;
      return { ...res.instances };
    }
    if (!("value" in res) || res.value === undefined || res.value === null || isTruncated(res.value)) return undefined;
    return res.value;
  }

  _toggleForm(path, form) {
    const key = `${path}|${form}`;
    if (this._forms.has(key)) this._forms.delete(key);
    else this._forms.add(key);
    this._renderForms(path);
    if (this._forms.has(key)) {
      const first = this._row(path)?.querySelector(
        `.form-slot ${form === "create" ? "input" : form === "attributes" ? "input[type=number]" : "textarea"}`,
      );
      if (first) first.focus();
    }
  }

  _renderForms(path) {
    const slot = this._row(path)?.querySelector(".form-slot");
    if (!slot) return;
    slot.innerHTML = this._formsHtml(path);
    this._restoreInputs(slot);
  }

  // -- operations ------------------------------------------------------------------------------

  _onOp(op, path) {
    const res = this._res.get(path);
    switch (op) {
      case "write": {
        const value = this._writeValue(res, path);
        if (value === undefined) return;
        this._run(path, "write", { value });
        return;
      }
      case "execute": {
        const args = String(this._form.get(`${path}|args`) ?? "").trim();
        this._run(path, "execute", args ? { arguments: args } : {});
        return;
      }
      case "write_attributes":
        this._toggleForm(path, "attributes");
        return;
      case "write_attributes_submit": {
        const attributes = {};
        for (const name of ATTRIBUTES) {
          if (this._form.get(`${path}|clear:${name}`)) {
            attributes[name] = null;
            continue;
          }
          const text = String(this._form.get(`${path}|attr:${name}`) ?? "").trim();
          if (!text) continue;
          const number = Number(text);
          if (!Number.isFinite(number)) return this._localError(path, "write_attributes", `${name} is not a number`);
          attributes[name] = number;
        }
        if (!Object.keys(attributes).length) {
          this._localError(path, "write_attributes", "Give at least one attribute, or tick “clear”.");
          return;
        }
        this._run(path, "write_attributes", { attributes });
        return;
      }
      case "create":
        this._toggleForm(path, "create");
        return;
      case "create_submit": {
        const extra = {};
        const idText = String(this._form.get(`${path}|create:id`) ?? "").trim();
        if (idText) {
          const id = Number(idText);
          if (!Number.isInteger(id) || id < 0 || id > 65534) {
            this._localError(path, "create", "The instance id is a whole number from 0 to 65534.");
            return;
          }
          extra.instance_id = id;
        }
        const text = String(this._form.get(`${path}|create:values`) ?? "").trim();
        let values = {};
        if (text) {
          try {
            values = JSON.parse(text);
          } catch (err) {
            this._localError(path, "create", `The resource values are not JSON: ${err.message}`);
            return;
          }
          if (!values || typeof values !== "object" || Array.isArray(values)) {
            this._localError(path, "create", 'The resource values are a JSON object: {"resource id": value}.');
            return;
          }
        }
        extra.values = values;
        this._run(path, "create", extra);
        return;
      }
      case "write_instance":
        if (!this._forms.has(`${path}|write_instance`)) {
          // fill the form afresh with what the server knows of the instance
          this._form.set(`${path}|wi:values`, jsonText(this._instanceValues(path)));
        }
        this._toggleForm(path, "write_instance");
        return;
      case "write_instance_submit": {
        const value = this._jsonObject(path, "write_instance", `${path}|wi:values`, "The instance values");
        if (value === undefined) return;
        const bad = Object.keys(value).find((k) => !/^\d+$/.test(k.trim()));
        if (bad !== undefined) {
          this._localError(path, "write_instance", `“${bad}” is not a resource id: use {"5851": 70}.`);
          return;
        }
        const replace = Boolean(this._form.get(`${path}|wi:replace`));
        this._run(path, "write_instance", { value, replace }, { operation: "write" });
        return;
      }
      case "read_composite": {
        const paths = this._pickedPaths();
        if (!paths.length) return this._localError(path, "read_composite", "Tick the resources to read first.");
        if (!this._compositeFormatOk(path, "read_composite")) return;
        this._run(path, "read_composite", { paths }, { target: paths.join(", ") });
        return;
      }
      case "observe_composite": {
        const paths = this._pickedPaths();
        if (!paths.length) return this._localError(path, op, "Tick the resources to observe first.");
        if (!this._compositeFormatOk(path, op)) return;
        this._run(path, op, { paths }, { target: paths.join(", ") });
        return;
      }
      case "cancel_observe_composite": {
        const paths = this._pickedPaths();
        if (!paths.length) return this._localError(path, op, "Tick the resources of the observation first.");
        this._run(path, op, { paths }, { operation: "cancel_observe", target: paths.join(", ") });
        return;
      }
      case "write_composite":
        if (!this._forms.has(`${path}|write_composite`)) {
          this._form.set(`${path}|wc:values`, jsonText(this._compositeValues()));
        }
        this._toggleForm(path, "write_composite");
        return;
      case "write_composite_submit": {
        const values = this._jsonObject(path, "write_composite", `${path}|wc:values`, "The composite values");
        if (values === undefined) return;
        const bad = Object.keys(values).find((p) => !/^(\/\d+){3,4}$/.test(p));
        if (bad !== undefined) {
          this._localError(path, "write_composite", `“${bad}” is not a resource path such as /3311/0/5851.`);
          return;
        }
        const unset = Object.keys(values).filter((p) => values[p] === null);
        if (unset.length) {
          this._localError(path, "write_composite", `Give a value for ${unset.join(", ")} (null is not one).`);
          return;
        }
        if (!this._compositeFormatOk(path, "write_composite")) return;
        this._run(path, "write_composite", { values }, { target: Object.keys(values).join(", ") });
        return;
      }
      case "delete":
        // eslint-disable-next-line no-alert
        if (!window.confirm(`Delete instance ${path} of ${this._endpoint}?`)) return;
        this._run(path, "delete", {});
        return;
      default:
        this._run(path, op, {});
    }
  }

  /** A form's JSON object, not empty; undefined (and the reason shown) if it is not one. */
  _jsonObject(path, op, key, what) {
    const text = String(this._form.get(key) ?? "").trim();
    let value;
    try {
      value = JSON.parse(text || "{}");
    } catch (err) {
      this._localError(path, op, `${what} are not JSON: ${err.message}`);
      return undefined;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      this._localError(path, op, `${what} are a JSON object.`);
      return undefined;
    }
    if (!Object.keys(value).length) {
      this._localError(path, op, `${what} are empty: give at least one.`);
      return undefined;
    }
    return value;
  }

  /** Whether the chosen content format can carry a composite operation (else the reason is shown). */
  _compositeFormatOk(path, op) {
    if (this._format === "" || COMPOSITE_FORMATS.has(Number(this._format))) return true;
    this._localError(
      path,
      op,
      `${formatName(this._format)} carries one path only: choose SenML JSON, SenML CBOR, LwM2M JSON, LwM2M CBOR or Device's choice in Content format.`,
    );
    return false;
  }

  /** The value a Write sends, from the row's control; undefined (and the reason shown) if none. */
  _writeValue(res, path) {
    const raw = this._form.get(`${path}|value`);
    const type = res ? res.type : null;
    const fail = (message) => {
      this._localError(path, "write", message);
      return undefined;
    };
    if (type === "boolean" && !(res && (res.multiple || res.enum))) return Boolean(raw);
    if ((type === "string" || type === "corelnk") && !(res && (res.multiple || res.enum))) return String(raw ?? "");
    const text = String(raw ?? "").trim();
    if (!text) return fail("Enter a value to write.");
    if (res && res.multiple) {
      try {
        const value = JSON.parse(text);
        if (value === null || typeof value !== "object") return fail('A multiple resource takes {"0": value, …} or a list.');
        return value;
      } catch (err) {
        return fail(`Not JSON: ${err.message}`);
      }
    }
    if (res && res.enum) return INTEGER_TYPES.has(type) || type === "float" ? Number(text) : text;
    switch (type) {
      case "integer":
      case "unsigned integer": {
        const number = Number(text);
        if (!Number.isInteger(number)) return fail("Enter a whole number.");
        if (type === "unsigned integer" && number < 0) return fail("Enter a number of 0 or more.");
        return this._inRange(res, number, fail);
      }
      case "float": {
        const number = Number(text);
        if (!Number.isFinite(number)) return fail("Enter a number.");
        return this._inRange(res, number, fail);
      }
      case "time": {
        const ms = new Date(text).getTime();
        if (Number.isNaN(ms)) return fail("Enter a date and time.");
        return Math.round(ms / 1000);
      }
      case "opaque": {
        if (/^0x/i.test(text)) {
          const digits = text.slice(2).replace(/[\s:]/g, "");
          if (!/^([0-9a-fA-F]{2})*$/.test(digits)) return fail("Hex needs pairs of digits 0-9, a-f.");
          return "0x" + digits.toLowerCase();
        }
        return text.replace(/\s/g, "");
      }
      case null:
      case undefined:
        try {
          const value = JSON.parse(text);
          return typeof value === "object" && value !== null ? text : value;
        } catch (err) {
          return text;
        }
      default:
        return String(raw);
    }
  }

  _inRange(res, number, fail) {
    if (res.min !== null && res.min !== undefined && number < res.min) return fail(`${number} is below the minimum, ${res.min}.`);
    if (res.max !== null && res.max !== undefined && number > res.max) return fail(`${number} is above the maximum, ${res.max}.`);
    return number;
  }

  _localError(path, op, message) {
    this._results.set(path, { op, ok: false, local: true, error: message });
    this._renderResult(path);
  }

  /** The content format a message of operation carries: {content_format} if one is chosen, else {}. */
  _formatFor(operation) {
    return FORMAT_OPS.has(operation) && this._format !== "" ? { content_format: Number(this._format) } : {};
  }

  /**
   * Send op (options.operation: the API's name for it) about path (the composite bar: none),
   * and show the answer under path's row; options.target: what the pending line names.
   */
  async _run(path, op, extra, options = {}) {
    const token = this._token;
    const started = Date.now();
    const operation = options.operation || op;
    const format = this._formatFor(operation);
    const shown = { op, target: options.target, requested: format.content_format };
    this._results.set(path, { ...shown, pending: true, started });
    this._renderResult(path);
    const msg = { type: "lwm2m/operation", endpoint: this._endpoint, operation, ...format, ...extra };
    const timeout = Number(this._timeout);
    if (Number.isFinite(timeout) && timeout >= 1 && timeout <= 3600) msg.timeout = timeout;
    if (path !== COMPOSITE) msg.path = path;
    let result;
    try {
      result = await this._ws(msg);
    } catch (err) {
      result = { ok: false, wsError: true, code: err && err.code, error: this._errorText(err) };
    }
    if (token !== this._token) return;
    result = { ...result, ...shown };
    this._results.set(path, result);
    if (result.ok) this._afterOp(path, op, result, extra);
    this._renderResult(path);
  }

  _afterOp(path, op, result, extra) {
    if (result.values && (op === "read" || op === "observe" || op === "write")) {
      this._applyValues(result.values, Date.now() / 1000, path, true);
    }
    if (op === "write_instance") {
      if (result.values) this._applyValues(result.values, Date.now() / 1000, path, Boolean(extra.replace));
      this._forms.delete(`${path}|write_instance`);
      this._form.delete(`${path}|wi:values`);
      this._renderForms(path);
      this._scheduleTree(1500); // a replaced instance may have lost resources
    }
    if ((op === "read_composite" || op === "observe_composite") && result.values) {
      // each path asked for is the base of its values (a multiple resource's instances replaced)
      const at = Date.now() / 1000;
      for (const asked of extra.paths) {
        const mine = Object.fromEntries(Object.entries(result.values).filter(([p]) => below(p, asked)));
        if (Object.keys(mine).length) this._applyValues(mine, at, asked, true);
      }
    }
    if (op === "write_composite") {
      this._applyValues(result.values || extra.values, Date.now() / 1000, null, false);
      this._forms.delete(`${path}|write_composite`);
      this._form.delete(`${path}|wc:values`);
      this._renderForms(path);
    }
    if (op === "observe" || op === "cancel_observe") {
      const node = this._res.get(path) || this._nodes.get(path);
      if (node) {
        node.observed = op === "observe";
        if (this._res.has(path)) this._renderValue(path, false);
        else this._renderObserved(path);
      }
    }
    if (op === "write_attributes") {
      this._forms.delete(`${path}|attributes`);
      for (const name of ATTRIBUTES) {
        this._form.delete(`${path}|attr:${name}`);
        this._form.delete(`${path}|clear:${name}`);
      }
      this._renderForms(path);
    }
    if (op === "create") {
      this._forms.delete(`${path}|create`);
      this._form.delete(`${path}|create:id`);
      this._form.delete(`${path}|create:values`);
      this._renderForms(path);
      // the server learns of the new instance from its values: read them, then show it
      const location = result.location || (extra.instance_id !== undefined ? `${path}/${extra.instance_id}` : null);
      if (location) {
        this._hidden.delete(location);
        const token = this._token;
        const read = (format) =>
          this._ws({ type: "lwm2m/operation", endpoint: this._endpoint, operation: "read", path: location, ...format });
        const format = this._formatFor("read");
        // in the format chosen; if the device answers no to it (Text cannot carry an instance), in its own
        read(format)
          .then((answer) => (answer && !answer.ok && format.content_format !== undefined ? read({}) : answer))
          .catch(() => null)
          .then(() => token === this._token && this._loadTree());
      } else {
        this._loadTree();
      }
    }
    if (op === "delete") {
      if (depthOf(path) === 2) this._hidden.add(path);
      const objectPath = parentPath(path, 1);
      this._results.set(objectPath, { ...result, op, deleted: path });
      this._loadTree();
    }
    if (op === "execute" || op === "write" || op === "write_composite") this._scheduleTree(1500); // facts and values may follow
  }

  _renderResult(path) {
    const slot = this.shadowRoot.querySelector(`[data-result-for="${CSS.escape(path)}"]`);
    if (slot) slot.innerHTML = this._resultHtml(path);
  }

  _resultHtml(path) {
    const r = this._results.get(path);
    if (!r) return "";
    const label = OP_LABELS[r.op] || r.op;
    const target = r.target ?? path;
    const fmtName = formatName(r.content_format ?? r.requested);
    const fmt = fmtName ? ` · <span class="fmt">${esc(fmtName)}</span>` : "";
    const dismiss = `<button type="button" class="x" data-action="dismiss" aria-label="Dismiss" title="Dismiss">✕</button>`;
    if (r.pending) {
      return `<div class="result pending" role="status"><span class="body"><span class="spin"></span>${esc(
        label,
      )} ${esc(target)}${fmt}: waiting for the device…</span></div>`;
    }
    const code = r.code ? `${r.code}${r.meaning ? ` ${r.meaning}` : ""}` : "";
    const elapsed = r.elapsed_ms !== undefined ? ` · ${r.elapsed_ms} ms` : "";
    if (!r.ok) {
      const head = r.local ? label : r.wsError ? `${label} refused` : `${label} failed`;
      const shownCode = r.wsError ? (r.code ? ` (${r.code})` : "") : code ? ` ${code}` : "";
      return `<div class="result err" role="alert"><span class="body"><b>${esc(head)}</b>${esc(shownCode)}${
        r.local ? "" : fmt
      }${esc(elapsed)}${r.error ? ` — ${esc(r.error)}` : ""}</span>${dismiss}</div>`;
    }
    let details = "";
    if (r.location) details += `<div>Created <code>${esc(r.location)}</code></div>`;
    if (r.deleted) details += `<div>Deleted <code>${esc(r.deleted)}</code></div>`;
    if (r.values) {
      const entries = Object.entries(r.values);
      const items = entries.slice(0, VALUES_SHOWN).map(([p, v]) => {
        const res = this._res.get(depthOf(p) >= 3 ? parentPath(p, 3) : p);
        const shown = shownValue(res, v);
        return `<li><code>${esc(p)}</code> = ${esc(shown.text)}</li>`;
      });
      if (entries.length > VALUES_SHOWN) items.push(`<li class="muted">and ${entries.length - VALUES_SHOWN} more</li>`);
      details += `<ul>${items.join("")}</ul>`;
    }
    if (r.attributes) {
      const entries = Object.entries(r.attributes);
      const items = entries.map(([p, attrs]) => {
        const text = Object.entries(attrs)
          .map(([k, v]) => (v === null || v === undefined ? k : `${k}=${v}`))
          .join(", ");
        return `<li><code>${esc(p)}</code>${text ? ` ${esc(text)}` : ' <span class="muted">no attributes</span>'}</li>`;
      });
      details += items.length ? `<ul>${items.join("")}</ul>` : "";
    } else if (r.op === "discover") {
      details += `<div class="muted">No attributes.</div>`;
    }
    return `<div class="result ok" role="status"><span class="body"><b>${esc(label)}</b> <span class="code">${esc(
      code,
    )}</span>${fmt}${esc(elapsed)}${details}</span>${dismiss}</div>`;
  }

  /** Show new values: from an answer (at: now) or a log entry (its at); base: the path asked. */
  _applyValues(values, at, base, replaceMultiple) {
    const touched = new Set();
    let missing = false;
    for (const [path, value] of Object.entries(values)) {
      const depth = depthOf(path);
      if (isTruncated(value)) {
        missing = true; // the log cuts long values: fetch the whole one
        continue;
      }
      if (depth === 3) {
        const res = this._res.get(path);
        if (!res) {
          missing = true;
          continue;
        }
        res.value = value;
        res.at = at;
        touched.add(path);
      } else if (depth === 4) {
        const rpath = parentPath(path, 3);
        const res = this._res.get(rpath);
        if (!res) {
          missing = true;
          continue;
        }
        if (!touched.has(rpath) && replaceMultiple && base && depthOf(base) <= 3 && below(rpath, base)) {
          res.instances = {};
        }
        res.instances = { ...(res.instances || {}), [path.split("/").filter(Boolean)[3]]: value };
        res.at = at;
        touched.add(rpath);
      }
    }
    for (const path of touched) this._renderValue(path);
    if (missing) this._scheduleTree();
  }

  // -- the message log -------------------------------------------------------------------------

  async _subscribe() {
    const token = this._token;
    const endpoint = this._endpoint;
    const conn = this._hass.connection;
    try {
      const unsub = conn.subscribeMessage((event) => this._onEvent(token, event), {
        type: "lwm2m/subscribe",
        endpoint,
      });
      this._unsub = unsub;
      await unsub;
    } catch (err) {
      if (token === this._token) this._logError = err;
      this._renderLog();
      return;
    }
    if (token !== this._token) return;
    // Home Assistant's subscribeMessage keeps the subscription's result (the log so far) to
    // itself: the log so far comes from lwm2m/device/log (or as a first {log: [...]} event).
    try {
      const result = await this._ws({ type: "lwm2m/device/log", endpoint });
      if (token === this._token && result && Array.isArray(result.log)) this._mergeLog(result.log);
    } catch (err) {
      // no such command: the log starts with what comes now
    }
  }

  _onEvent(token, event) {
    if (token !== this._token || !event) return;
    if (Array.isArray(event.log)) {
      this._mergeLog(event.log);
      return;
    }
    const entry = event.entry;
    if (!entry) return;
    const key = JSON.stringify(entry);
    if (this._logKeys.has(key)) return;
    this._logKeys.add(key);
    this._log.push(entry);
    if (this._log.length > LOG_MAX * 2) this._trimLog();
    this._prependLog(entry);
    if (VALUE_KINDS.has(entry.kind) && entry.values) {
      this._applyValues(entry.values, entry.at ?? Date.now() / 1000, entry.path, entry.kind !== "send");
    }
    if (REGISTRATION_KINDS.has(entry.kind) || entry.kind === "firmware") this._scheduleTree();
  }

  _trimLog() {
    this._log = this._log.slice(-LOG_MAX);
    this._logKeys = new Set(this._log.map((e) => JSON.stringify(e)));
  }

  _mergeLog(entries) {
    for (const entry of entries) {
      const key = JSON.stringify(entry);
      if (this._logKeys.has(key)) continue;
      this._logKeys.add(key);
      this._log.push(entry);
    }
    this._log.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    this._trimLog();
    this._renderLog();
  }

  _renderLog() {
    const list = this.shadowRoot.querySelector(".log-list");
    if (!list) return;
    const count = this.shadowRoot.querySelector(".log-count");
    if (this._logError) {
      list.innerHTML = `<li class="error-card">Could not follow the device: ${esc(this._errorText(this._logError))}</li>`;
      return;
    }
    const entries = this._log.slice(-LOG_MAX).reverse();
    count.textContent = entries.length ? String(entries.length) : "";
    count.style.display = entries.length ? "" : "none";
    list.innerHTML = entries.length
      ? entries.map((e) => this._logHtml(e)).join("")
      : `<li class="muted empty-log">No message yet. Operations, notifications and registrations show here.</li>`;
  }

  _prependLog(entry) {
    const list = this.shadowRoot.querySelector(".log-list");
    if (!list) return;
    const empty = list.querySelector(".empty-log");
    if (empty) empty.remove();
    list.insertAdjacentHTML("afterbegin", this._logHtml(entry));
    while (list.children.length > LOG_MAX) list.lastElementChild.remove();
    const count = this.shadowRoot.querySelector(".log-count");
    count.textContent = String(list.children.length);
    count.style.display = "";
  }

  _logHtml(e) {
    const parts = [
      `<time title="${esc(dateTime(e.at))}">${esc(e.at ? new Date(e.at * 1000).toLocaleTimeString() : "")}</time>`,
      `<span class="badge kind kind-${esc(e.kind)}">${esc(e.kind)}</span>`,
    ];
    if (e.operation) parts.push(`<span>${esc(e.operation)}</span>`);
    if (e.path) parts.push(`<code>${esc(e.path)}</code>`);
    if (e.code) {
      const bad = /^[45]/.test(e.code);
      parts.push(`<span class="${bad ? "code-bad" : ""}">${esc(e.code)}${e.meaning ? ` ${esc(e.meaning)}` : ""}</span>`);
    }
    if (e.sequence !== undefined && e.sequence !== null) parts.push(`<span class="muted">#${esc(e.sequence)}</span>`);
    if (e.lifetime !== undefined && e.lifetime !== null) parts.push(`<span class="muted">lifetime ${esc(e.lifetime)} s</span>`);
    if (e.binding) parts.push(`<span class="muted">binding ${esc(e.binding)}</span>`);
    if (e.step) parts.push(`<span class="muted">${esc(e.step)}</span>`);
    if (e.values) {
      const text = Object.entries(e.values)
        .map(([p, v]) => `${p}=${compact(v)}`)
        .join(", ");
      const short = text.length > 300 ? text.slice(0, 299) + "…" : text;
      parts.push(`<span class="vals mono" title="${esc(text.slice(0, 4000))}">${esc(short)}</span>`);
    }
    return `<li>${parts.join("")}</li>`;
  }

  // -- events ----------------------------------------------------------------------------------

  _onClick(ev) {
    const target = ev.target;
    const link = target.closest("a[data-nav]");
    if (link) {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      this._navigate(this._deviceUrl(link.dataset.nav));
      return;
    }
    const button = target.closest("button");
    if (button && button.dataset.op) {
      const holder = button.closest("[data-path]");
      if (holder) this._onOp(button.dataset.op, holder.dataset.path);
      return;
    }
    if (button && button.dataset.action) {
      this._onAction(button);
      return;
    }
    if (button) return;
    const row = target.closest("tr[data-endpoint]");
    if (row && !target.closest("a, input, select, textarea, label")) {
      this._navigate(this._deviceUrl(row.dataset.endpoint));
    }
  }

  _onAction(button) {
    switch (button.dataset.action) {
      case "back":
        this._navigate(this._prefix);
        return;
      case "refresh-list":
        this._loadDevices();
        return;
      case "refresh-device":
        this._loadTree();
        return;
      case "dismiss": {
        const slot = button.closest("[data-result-for]");
        if (!slot) return;
        this._results.delete(slot.dataset.resultFor);
        slot.innerHTML = "";
        return;
      }
      case "clear-picks":
        this._picked.clear();
        for (const box of this.shadowRoot.querySelectorAll("input.pick")) box.checked = false;
        this._renderPicks();
        return;
      case "close-form": {
        const holder = button.closest("[data-path]");
        if (!holder) return;
        this._forms.delete(`${holder.dataset.path}|${button.dataset.form}`);
        this._renderForms(holder.dataset.path);
        return;
      }
      default:
    }
  }

  _onInput(ev) {
    const el = ev.target;
    if (el.dataset && el.dataset.role === "search") {
      if (el.value === this._search) return; // a change event on leaving the box: nothing new
      this._search = el.value;
      this._renderList();
      return;
    }
    if (el.dataset && el.dataset.role === "format") {
      this._format = el.value;
      return;
    }
    if (el.dataset && el.dataset.role === "timeout") {
      this._timeout = el.value;
      return;
    }
    if (el.dataset && el.dataset.pick !== undefined) {
      if (el.checked) this._picked.add(el.dataset.pick);
      else this._picked.delete(el.dataset.pick);
      this._renderPicks();
      return;
    }
    if (el.dataset && el.dataset.key) {
      this._form.set(el.dataset.key, el.type === "checkbox" ? el.checked : el.value);
    }
  }

  _onKey(ev) {
    if (ev.key !== "Enter" || ev.isComposing) return;
    const el = ev.target;
    if (!el.dataset || !el.dataset.enter || el.tagName === "TEXTAREA") return;
    const holder = el.closest("[data-path]");
    if (!holder) return;
    ev.preventDefault();
    if (el.dataset.key) this._form.set(el.dataset.key, el.type === "checkbox" ? el.checked : el.value);
    this._onOp(el.dataset.enter, holder.dataset.path);
  }

  _onToggle(ev) {
    const details = ev.target;
    if (details && details.tagName === "DETAILS" && details.dataset.obj !== undefined) {
      this._openObjects.set(Number(details.dataset.obj), details.open);
    }
  }

  _errorText(err) {
    if (!err) return "unknown error";
    if (typeof err === "string") return err;
    if (err.message) return err.code && typeof err.code === "string" ? `${err.message} (${err.code})` : err.message;
    if (err.error) return err.error;
    return String(err.code ?? err);
  }
}

if (!customElements.get("lwm2m-panel")) customElements.define("lwm2m-panel", LwM2MPanel);
