/* The hubnox settings page.
 *
 * Loads the portal's settings and the choices HubSpot (properties, pipelines) and Fortnox (terms,
 * currencies, price lists, print templates) offer, fills the form, and saves it with the version it
 * loaded: a 400 puts each message beside its field, a 409 says someone else saved first and offers
 * a reload. A list that cannot be loaded (Fortnox not connected, say) leaves its pickers as text
 * boxes that say why. Plain JavaScript, no build step, nothing from outside /settings/static/.
 */
"use strict";

(() => {
  const form = document.getElementById("sync-settings");
  if (!form) return;

  const api = form.dataset.api;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
  const defaults = JSON.parse(document.getElementById("settings-defaults").textContent);
  const loading = document.getElementById("settings-loading");
  const summary = document.getElementById("error-summary");
  const sourceNotices = document.getElementById("source-notices");
  const saveButton = form.querySelector("[data-save]");
  const saveStatus = document.getElementById("save-status");
  const stale = document.getElementById("stale-notice");
  const contactToggle = form.querySelector('[data-toggle="contact_match"]');
  const runsSection = document.getElementById("runs");

  const state = {
    version: 0,
    settings: null,
    dirty: false,
    saving: false,
    fortnox: null,
    fortnoxError: "",
    properties: {},
    pipelines: null,
    pipelinesError: "",
  };
  let serial = 0;

  // -- talking to hubnox ------------------------------------------------------------------------

  /** One request to the settings API; never throws: `{ok, status, body, message}`. */
  async function call(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    let response;
    try {
      response = await fetch(api + path, { ...options, headers, credentials: "same-origin", cache: "no-store" });
    } catch {
      return { ok: false, status: 0, body: {}, message: "hubnox could not be reached. Check the connection and try again." };
    }
    let body = {};
    try {
      body = await response.json();
    } catch {
      body = {};
    }
    return { ok: response.ok, status: response.status, body, message: body.message || `hubnox answered ${response.status}.` };
  }

  const option = (value, label) => ({ value: String(value), label: String(label) });
  const coded = (item) => option(item.code, item.description ? `${item.code} – ${item.description}` : item.code);
  const template = (item) => option(item.template, item.name ? `${item.name} (${item.template})` : item.template);
  const FORTNOX_LISTS = {
    termsOfPayment: coded,
    currencies: coded,
    priceLists: coded,
    "printTemplates.invoice": template,
    "printTemplates.order": template,
  };

  async function loadChoices() {
    const objects = new Set();
    for (const element of form.querySelectorAll('[data-source^="hubspot:"]')) objects.add(element.dataset.source.slice(8));
    for (const list of form.querySelectorAll("[data-list][data-object]")) objects.add(list.dataset.object);
    objects.delete("pipelines");
    objects.delete("stages");
    const tasks = [...objects].map(async (object) => {
      const answer = await call(`/hubspot/properties/${encodeURIComponent(object)}`);
      state.properties[object] = answer.ok
        ? { options: answer.body.properties.map((p) => option(p.name, p.label && p.label !== p.name ? `${p.label} (${p.name})` : p.name)) }
        : { error: answer.message };
    });
    tasks.push(call("/hubspot/pipelines").then((answer) => {
      if (answer.ok) state.pipelines = answer.body.pipelines;
      else state.pipelinesError = answer.message;
    }));
    if (form.dataset.fortnox === "connected") {
      tasks.push(call("/fortnox/options").then((answer) => {
        if (answer.ok) state.fortnox = answer.body;
        else state.fortnoxError = `Fortnox's lists could not be loaded: ${answer.message}`;
      }));
    } else {
      state.fortnoxError = "Fortnox is not connected, so its lists cannot be shown.";
    }
    await Promise.all(tasks);
  }

  /** The options a picker offers, or why it cannot offer any (`{options}` or `{error}`). */
  function choicesFor(source) {
    const [system, what] = source.split(":");
    if (system === "fortnox") {
      if (!state.fortnox) {
        const why = form.dataset.fortnox === "connected" ? "Fortnox's list could not be loaded" : "Fortnox is not connected";
        return { error: `${why}: type the code as Fortnox shows it.` };
      }
      const items = what.split(".").reduce((value, key) => (value == null ? undefined : value[key]), state.fortnox) || [];
      return { options: items.map(FORTNOX_LISTS[what]) };
    }
    if (what === "pipelines" || what === "stages") {
      if (!state.pipelines) return { error: `HubSpot's pipelines could not be loaded: type the ${what === "stages" ? "stage" : "pipeline"} id.` };
      return { options: what === "pipelines" ? state.pipelines.map((p) => option(p.id, p.label)) : [] };
    }
    const found = state.properties[what];
    if (found && found.options) return found;
    return { error: "HubSpot's properties could not be loaded: type the property's internal name." };
  }

  // -- controls ---------------------------------------------------------------------------------

  /** Turn a picker's text box into a list of its choices; it stays a text box, saying why, when there are none. */
  function upgrade(input) {
    const choices = choicesFor(input.dataset.source);
    if (choices.error) {
      explain(input, choices.error);
      return input;
    }
    const select = document.createElement("select");
    for (const { name, value } of [...input.attributes]) {
      if (!["type", "autocomplete", "spellcheck", "inputmode"].includes(name)) select.setAttribute(name, value);
    }
    fillOptions(select, choices.options);
    input.replaceWith(select);
    return select;
  }

  function fillOptions(select, options) {
    select.replaceChildren();
    if (select.dataset.empty !== undefined) select.append(new Option(select.dataset.empty, ""));
    for (const item of options) select.append(new Option(item.label, item.value));
  }

  function explain(control, text) {
    const note = document.createElement("p");
    note.className = "hint picker-note";
    note.id = `${control.id}-note`;
    note.textContent = text;
    control.after(note);
    control.setAttribute("aria-describedby", `${control.getAttribute("aria-describedby") || ""} ${note.id}`.trim());
  }

  function setValue(control, value) {
    if (control.type === "checkbox") {
      control.checked = Boolean(value);
      return;
    }
    if (control.type === "radio") {
      control.checked = control.value === String(value);
      return;
    }
    const text = value === null || value === undefined ? "" : String(value);
    if (control.tagName === "SELECT" && ![...control.options].some((o) => o.value === text)) {
      if (text === "") {
        control.prepend(new Option("Choose…", ""));
      } else {
        const where = (control.dataset.source || "").startsWith("fortnox:") ? "Fortnox" : "HubSpot";
        control.append(new Option(`${text} (not found in ${where})`, text));
      }
    }
    control.value = text;
  }

  function readValue(control) {
    if (control.type === "checkbox") return control.checked;
    const raw = control.value.trim();
    const whole = /^-?\d+$/.test(raw);
    switch (control.dataset.kind) {
      case "optional":
        return raw === "" ? null : raw;
      case "int":
        return whole ? Number(raw) : raw;
      case "optional-int":
        if (raw === "") return null;
        return whole ? Number(raw) : raw;
      default:
        return raw;
    }
  }

  const getPath = (object, path) => path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), object);

  function setPath(object, path, value) {
    const keys = path.split(".");
    const last = keys.pop();
    let target = object;
    for (const key of keys) {
      if (target[key] === null || typeof target[key] !== "object") target[key] = {};
      target = target[key];
    }
    target[last] = value;
  }

  // -- lists of rows (trigger stages, field mappings) -------------------------------------------

  const listOf = (name) => form.querySelector(`[data-list="${name}"]`);
  const rowsOf = (name) => [...listOf(name).children];
  const controlOf = (row, key) => row.querySelector(`.field[data-key="${key}"]`).querySelector("input, select");

  function addRow(name, values) {
    const list = listOf(name);
    const row = document.getElementById(list.dataset.template).content.firstElementChild.cloneNode(true);
    for (const field of row.querySelectorAll(".field[data-key]")) {
      const id = `row-${++serial}-${field.dataset.key.replace(/_/g, "-")}`;
      const control = field.querySelector("input, select");
      const error = field.querySelector(".field-error");
      control.id = id;
      field.querySelector("label").htmlFor = id;
      error.id = `${id}-error`;
      control.setAttribute("aria-describedby", error.id);
      if (control.dataset.source === "") control.dataset.source = `hubspot:${list.dataset.object}`;
    }
    list.append(row);
    if (name === "trigger_stages") setUpStageRow(row, values || {});
    else setUpMappingRow(row, list, values);
    rowsChanged(list);
    return row;
  }

  function setUpStageRow(row, stage) {
    const pipeline = upgrade(controlOf(row, "pipeline_id"));
    const stageControl = upgrade(controlOf(row, "stage_id"));
    if (state.pipelines) {
      const showStages = (current) => {
        const found = state.pipelines.find((p) => p.id === pipeline.value);
        fillOptions(stageControl, (found ? found.stages : []).map((s) => option(s.id, s.label)));
        setValue(stageControl, current);
      };
      setValue(pipeline, stage.pipeline_id ?? (state.pipelines[0] ? state.pipelines[0].id : ""));
      showStages(stage.stage_id ?? "");
      pipeline.addEventListener("change", () => showStages(""));
    } else {
      setValue(pipeline, stage.pipeline_id ?? "");
      setValue(stageControl, stage.stage_id ?? "");
    }
    const documentType = form.querySelector('[data-setting="default_document_type"]').value;
    setValue(controlOf(row, "document_type"), stage.document_type ?? documentType);
  }

  function setUpMappingRow(row, list, values) {
    const fortnoxField = controlOf(row, "fortnox_field");
    const used = new Set(rowsOf(list.dataset.list).filter((r) => r !== row).map((r) => controlOf(r, "fortnox_field").value));
    const free = [...fortnoxField.options].find((o) => !used.has(o.value));
    setValue(fortnoxField, values ? values[0] : free ? free.value : "");
    setValue(upgrade(controlOf(row, "property")), values ? values[1] : "");
    fortnoxField.addEventListener("change", () => rowsChanged(list));
  }

  /** Number the rows' Remove buttons, say when a list is empty, and keep a Fortnox field mapped once. */
  function rowsChanged(list) {
    const rows = [...list.children];
    const label = list.dataset.label || "row";
    rows.forEach((row, index) => {
      row.querySelector("[data-remove]").setAttribute("aria-label", `Remove ${label} ${index + 1}`);
    });
    form.querySelector(`[data-empty-for="${list.dataset.list}"]`).hidden = rows.length > 0;
    if (list.dataset.template !== "mapping-row") return;
    const used = rows.map((row) => controlOf(row, "fortnox_field").value);
    for (const row of rows) {
      const select = controlOf(row, "fortnox_field");
      for (const choice of select.options) choice.disabled = choice.value !== select.value && used.includes(choice.value);
    }
    const fields = document.getElementById("mapping-row").content.querySelector("select").options.length;
    form.querySelector(`[data-add="${list.dataset.list}"]`).disabled = rows.length >= fields;
  }

  // -- the form as a whole ----------------------------------------------------------------------

  function fill(settings) {
    for (const control of form.querySelectorAll("[data-setting]")) {
      const path = control.dataset.setting;
      let value = getPath(settings, path);
      // A switched-off contact rule shows the default rule, ready to switch on.
      if (value === undefined && path.startsWith("contact_match.")) value = getPath(defaults, path);
      setValue(control, value);
    }
    contactToggle.checked = settings.contact_match !== null;
    for (const list of form.querySelectorAll("[data-list]")) list.replaceChildren();
    for (const stage of settings.trigger_stages) addRow("trigger_stages", stage);
    for (const kind of ["company", "contact"]) {
      for (const pair of Object.entries(settings.customer_fields[kind])) addRow(`customer_fields.${kind}`, pair);
    }
    for (const list of form.querySelectorAll("[data-list]")) rowsChanged(list);
    applyDependents();
  }

  function collect() {
    const settings = structuredClone(state.settings);
    for (const control of form.querySelectorAll("[data-setting]")) {
      if (control.type === "radio" && !control.checked) continue;
      setPath(settings, control.dataset.setting, readValue(control));
    }
    if (!contactToggle.checked) settings.contact_match = null;
    settings.trigger_stages = rowsOf("trigger_stages").map((row, index) => {
      row.dataset.field = `trigger_stages.${index}`;
      const stage = {};
      for (const field of row.querySelectorAll(".field[data-key]")) {
        field.dataset.field = `trigger_stages.${index}.${field.dataset.key}`;
        stage[field.dataset.key] = readValue(field.querySelector("input, select"));
      }
      return stage;
    });
    for (const kind of ["company", "contact"]) {
      const mapping = {};
      for (const row of rowsOf(`customer_fields.${kind}`)) {
        const fortnoxField = controlOf(row, "fortnox_field").value;
        const property = row.querySelector('.field[data-key="property"]');
        property.dataset.field = `customer_fields.${kind}.${fortnoxField}`;
        mapping[fortnoxField] = readValue(property.querySelector("input, select"));
      }
      settings.customer_fields[kind] = mapping;
    }
    return settings;
  }

  function applyDependents() {
    form.querySelector('[data-toggled-by="contact_match"]').disabled = !contactToggle.checked;
    for (const block of form.querySelectorAll("[data-shown-when]")) {
      const [path, wanted] = block.dataset.shownWhen.split("=");
      const chosen = form.querySelector(`[data-setting="${path}"]:checked`);
      block.hidden = !chosen || chosen.value !== wanted;
    }
  }

  function accept(body) {
    state.version = body.version;
    state.settings = body.settings;
  }

  // -- saving and its answers -------------------------------------------------------------------

  function say(text) {
    saveStatus.textContent = text;
  }

  function markDirty() {
    if (state.dirty || !state.settings) return;
    state.dirty = true;
    say("Unsaved changes.");
  }

  function clearErrors() {
    for (const slot of form.querySelectorAll(".field-error")) {
      slot.hidden = true;
      slot.textContent = "";
    }
    for (const control of form.querySelectorAll('[aria-invalid="true"]')) control.removeAttribute("aria-invalid");
    summary.hidden = true;
    summary.querySelector("ul").replaceChildren();
    stale.hidden = true;
  }

  /** The element standing for a settings path: the path itself, else its nearest parent on the page. */
  function targetFor(path) {
    const parts = path ? path.split(".") : [];
    while (parts.length) {
      const found = form.querySelector(`[data-field="${CSS.escape(parts.join("."))}"]`);
      if (found) return found;
      parts.pop();
    }
    return null;
  }

  const slotOf = (target) => [...target.querySelectorAll(".field-error")].find((slot) => slot.closest("[data-field]") === target);

  function nameOf(target) {
    const own = target.querySelector("label, legend, h3, h4");
    const name = own ? own.textContent.trim() : target.dataset.field;
    const row = target.closest("[data-row]");
    if (!row) return name;
    const list = row.parentElement;
    const label = list.dataset.label || "row";
    return `${label[0].toUpperCase()}${label.slice(1)} ${[...list.children].indexOf(row) + 1}, ${name.toLowerCase()}`;
  }

  function showErrors(answer) {
    const errors = answer.body.errors && answer.body.errors.length ? answer.body.errors : [{ field: "", message: answer.message }];
    const list = summary.querySelector("ul");
    for (const error of errors) {
      const target = targetFor(error.field);
      const slot = target && slotOf(target);
      const item = document.createElement("li");
      list.append(item);
      if (!slot) {
        item.textContent = error.field ? `${error.field}: ${error.message}` : error.message;
        continue;
      }
      const controls = target.matches(".field") ? [...target.querySelectorAll("input, select")] : [];
      const focusable = controls[0] || target.querySelector("input, select, button");
      // A list left at "Choose…" fails as an empty text; say it in the list's own terms.
      const message = focusable && focusable.tagName === "SELECT" && focusable.value === "" ? "Choose one from the list." : error.message;
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      slot.hidden = false;
      for (const control of controls) control.setAttribute("aria-invalid", "true");
      const link = document.createElement("a");
      link.href = focusable && focusable.id ? `#${focusable.id}` : "#";
      link.textContent = `${nameOf(target)}: ${message}`;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        if (focusable) focusable.focus();
      });
      item.append(link);
    }
    summary.hidden = false;
    summary.focus();
    return errors.length;
  }

  async function save(event) {
    event.preventDefault();
    if (state.saving) return;
    clearErrors();
    const settings = collect();
    state.saving = true;
    saveButton.disabled = true;
    say("Saving…");
    const answer = await call("/settings", {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ version: state.version, settings }),
    });
    state.saving = false;
    saveButton.disabled = false;
    if (answer.ok) {
      accept(answer.body);
      fill(state.settings);
      state.dirty = false;
      say(`Saved at ${new Date().toLocaleTimeString()}.`);
    } else if (answer.status === 400) {
      const count = showErrors(answer);
      say(`Not saved: ${count === 1 ? "one setting needs" : `${count} settings need`} correcting.`);
    } else if (answer.status === 409 && answer.body.code === "STALE_VERSION") {
      stale.querySelector("[data-message]").textContent = answer.message;
      stale.hidden = false;
      say("Not saved.");
    } else {
      say(`Not saved. ${answer.message}`);
    }
  }

  // -- recent runs ------------------------------------------------------------------------------

  const TRIGGERS = { workflow: "Workflow", poller: "Deal stage", card: "Record card", replay: "Replay", settings: "Settings" };
  const capital = (text) => `${text[0].toUpperCase()}${text.slice(1)}`;

  function describeRun(run) {
    const object = run.objectType && run.objectId ? ` for ${run.objectType.replace("_", " ")} ${run.objectId}` : "";
    if (run.kind === "create_document") return `${capital(run.documentType || "document")}${object}`;
    if (run.kind === "sync_customer") return `Customer sync${object}`;
    return `Product sync${object}`;
  }

  function outcomeOf(run, cell) {
    const status = document.createElement("span");
    status.className = `status ${run.status === "succeeded" ? "ok" : run.status === "failed" ? "bad" : ""}`;
    status.textContent = { queued: "Queued", running: "Running", succeeded: "Done", failed: "Failed" }[run.status] || run.status;
    cell.append(status);
    if (run.status === "succeeded" && run.documentNumber) {
      cell.append(` · ${capital(run.documentType || "document")} ${run.documentNumber}`);
    }
    if (run.status === "succeeded" && run.productSync) {
      cell.append(` · ${run.productSync.summary}`);
      cell.append(productSyncDetails(run.productSync));
    }
    if (run.delivery === "pending") cell.append(" · telling HubSpot");
    if (run.notTold && run.notTold.length) {
      const lost = document.createElement("div");
      lost.className = "muted";
      lost.textContent = `HubSpot did not take ${run.notTold.join(", ")}; see the worker's logs.`;
      cell.append(lost);
    }
    if (run.status === "failed" && run.errorMessage) {
      const why = document.createElement("div");
      why.className = "muted";
      why.textContent = run.errorMessage;
      cell.append(why);
    }
    if (run.replayUrl) {
      const link = document.createElement("a");
      link.href = run.replayUrl;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = "Replay";
      link.setAttribute("aria-label", `Replay run ${run.runId} (opens a new tab)`);
      cell.append(" ", link);
    }
  }

  function productSyncDetails(sync) {
    const list = document.createElement("ul");
    list.className = "muted product-sync-details";
    for (const line of sync.details || []) list.append(Object.assign(document.createElement("li"), { textContent: line }));
    if (sync.moreDetails) list.append(Object.assign(document.createElement("li"), { textContent: `… and ${sync.moreDetails} more.` }));
    return list;
  }

  /* The newest product sync among the recent runs, shown beside "Sync products now". */
  function showLatestProductSync(runs) {
    const latest = document.querySelector("[data-product-sync-latest]");
    if (!latest) return;
    const run = runs.find((candidate) => candidate.kind === "sync_products");
    latest.replaceChildren();
    latest.hidden = !run;
    if (!run) return;
    const when = new Date(run.createdAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    latest.append(`Latest product sync (${when}): `);
    outcomeOf(run, latest);
  }

  function runRow(run) {
    const row = document.createElement("tr");
    const cells = [0, 1, 2, 3].map(() => row.insertCell());
    const when = document.createElement("time");
    when.dateTime = run.createdAt;
    when.textContent = new Date(run.createdAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    cells[0].append(when);
    cells[1].textContent = describeRun(run);
    cells[2].textContent = TRIGGERS[run.trigger] || run.trigger;
    outcomeOf(run, cells[3]);
    return row;
  }

  async function loadRuns() {
    runsSection.hidden = false;
    const status = runsSection.querySelector("[data-runs-status]");
    const table = runsSection.querySelector("table");
    status.textContent = "Loading the recent runs…";
    const answer = await call("/runs");
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!answer.ok) {
      table.hidden = true;
      status.textContent = `The recent runs could not be loaded. ${answer.message}`;
      return;
    }
    const runs = answer.body.runs;
    table.hidden = runs.length === 0;
    status.textContent = runs.length ? "" : "No runs yet. They appear here once a workflow, the card or a trigger stage starts one.";
    for (const run of runs) body.append(runRow(run));
    showLatestProductSync(runs);
  }

  // -- start ------------------------------------------------------------------------------------

  function showSourceNotices() {
    const notes = [];
    if (state.fortnoxError) notes.push(`${state.fortnoxError} The Fortnox choices below are text boxes: type the codes as Fortnox shows them.`);
    if (!state.pipelines) notes.push(`HubSpot's pipelines could not be loaded (${state.pipelinesError}): type pipeline and stage ids.`);
    for (const [object, found] of Object.entries(state.properties)) {
      if (found.error) notes.push(`HubSpot's ${object} properties could not be loaded (${found.error}): type internal property names.`);
    }
    const list = sourceNotices.querySelector("ul");
    list.replaceChildren(...notes.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
    sourceNotices.hidden = notes.length === 0;
  }

  function loadingFailed(message) {
    loading.classList.remove("loading");
    const text = Object.assign(document.createElement("p"), { className: "status bad", textContent: `The settings could not be loaded. ${message}` });
    const retry = Object.assign(document.createElement("button"), { type: "button", textContent: "Try again" });
    retry.addEventListener("click", () => window.location.reload());
    loading.setAttribute("role", "alert");
    loading.replaceChildren(text, retry);
  }

  function listen() {
    form.addEventListener("submit", save);
    form.addEventListener("input", markDirty);
    form.addEventListener("change", () => {
      markDirty();
      applyDependents();
    });
    form.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove]");
      if (remove) {
        const row = remove.closest("[data-row]");
        const list = row.parentElement;
        const next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        rowsChanged(list);
        (next ? next.querySelector("input, select") : form.querySelector(`[data-add="${list.dataset.list}"]`)).focus();
        markDirty();
        return;
      }
      const add = event.target.closest("[data-add]");
      if (add) {
        addRow(add.dataset.add, null).querySelector("input, select").focus();
        markDirty();
      }
    });
    stale.querySelector("[data-reload]").addEventListener("click", () => {
      state.dirty = false;
      window.location.reload();
    });
    runsSection.querySelector("[data-refresh-runs]").addEventListener("click", loadRuns);
    window.addEventListener("beforeunload", (event) => {
      if (state.dirty) event.preventDefault();
    });
  }

  async function start() {
    const [answer] = await Promise.all([call("/settings"), loadChoices()]);
    if (!answer.ok) {
      loadingFailed(answer.message);
      return;
    }
    accept(answer.body);
    for (const input of form.querySelectorAll("input[data-source]")) upgrade(input);
    fill(state.settings);
    showSourceNotices();
    listen();
    loading.hidden = true;
    form.hidden = false;
    loadRuns();
  }

  start();
})();

/* Deleting the portal's data: typed confirmation, one DELETE, the answer read out. */
(() => {
  const form = document.getElementById("delete-data-form");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
  const status = form.querySelector("[data-delete-status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Deleting…";
    let response;
    try {
      response = await fetch(form.dataset.api, {
        method: "DELETE",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ confirm: form.elements.confirm.value.trim() }),
      });
    } catch (error) {
      status.textContent = "hubnox could not be reached; nothing was deleted.";
      return;
    }
    let body = {};
    try {
      body = await response.json();
    } catch (error) {
      body = {};
    }
    status.textContent = body.message || (response.ok ? "Deleted." : `Nothing was deleted (${response.status}).`);
    if (response.ok) {
      form.querySelector("button").disabled = true;
    }
  });
})();

/* "Sync products now": one POST that queues the sync-products job; its outcome shows in Recent runs. */
(() => {
  const button = document.querySelector("[data-sync-products]");
  if (!button) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
  const status = document.querySelector("[data-sync-products-status]");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Queueing…";
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      const body = await response.json().catch(() => ({}));
      status.textContent = body.message || (response.ok ? "Queued." : `Not queued (${response.status}).`);
    } catch (error) {
      status.textContent = "hubnox could not be reached; nothing was queued.";
    } finally {
      button.disabled = false;
    }
  });
})();

/* "Log out": ends this browser's session (other admins stay signed in) and leaves the page. */
(() => {
  const form = document.getElementById("logout-form");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
  const status = form.querySelector("[data-logout-status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        status.textContent = body.message || `Not logged out (${response.status}).`;
        return;
      }
      document.querySelector("main")?.replaceChildren();
      document.body.replaceChildren(Object.assign(document.createElement("p"), { textContent: body.message }));
    } catch (error) {
      status.textContent = "hubnox could not be reached; you are still signed in.";
    }
  });
})();
