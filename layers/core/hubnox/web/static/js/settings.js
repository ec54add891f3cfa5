/* The hubnox settings page.
 *
 * Loads the portal's settings and the choices HubSpot (properties, pipelines) and Fortnox (terms,
 * currencies, price lists, print templates, delivery, accounts, cost centers, projects) offer, fills the form, and saves it with the version it
 * loaded: a 400 puts each message beside its field, a 409 says someone else saved first and offers
 * a reload. A list that cannot be loaded (Fortnox not connected, say) leaves its pickers as text
 * boxes that say why. Plain JavaScript, no build step, nothing from outside /settings/static/.
 */
"use strict";

/* Field mappings' HubSpot property pickers and "Create property".
 *
 * A picker is the row's text box made an ARIA combobox: typing filters the object's properties by
 * label or internal name, ArrowDown/ArrowUp move through the list, Enter (or a click) picks, Escape
 * closes the list and then restores the last pick. What is saved is the internal name; a name typed
 * in full counts too, so the box still works when HubSpot's list could not be loaded.
 * "Create property" opens a small form in the row: a label, the internal name made from it, and one
 * POST that makes a text property in hubnox's group for the row's Fortnox field, which the row then maps.
 */
const mappingPickers = (() => {
  const SHOWN = 100; // options rendered at once; typing narrows the rest
  const pickers = new WeakMap();
  let serial = 0;

  const display = (item) => (item.label && item.label !== item.value ? `${item.label} (${item.value})` : item.value);

  /** An internal name made from a label as hubnox's API would make it (`Org. nr` -> `org_nr`). */
  function nameFrom(label) {
    let name = label.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
    name = name.slice(0, 100);
    if (name && !/^[a-z]/.test(name)) name = `p_${name}`.slice(0, 100);
    return name.startsWith("hs_") ? `x_${name}`.slice(0, 100) : name;
  }

  function matches(items, query) {
    const q = query.trim().toLowerCase();
    if (!q) return items;
    const first = [];
    const rest = [];
    for (const item of items) {
      const label = (item.label || "").toLowerCase();
      if (label.startsWith(q) || item.value.startsWith(q)) first.push(item);
      else if (label.includes(q) || item.value.includes(q)) rest.push(item);
    }
    return first.concat(rest);
  }

  /** Make `input` a combobox over `choices()` (`[{value, label}]`, read afresh each time it opens). */
  function attach(input, choices) {
    const id = input.id || `property-picker-${++serial}`;
    input.id = id;
    const list = Object.assign(document.createElement("ul"), { id: `${id}-listbox`, className: "picker-list", hidden: true });
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "HubSpot properties");
    const status = Object.assign(document.createElement("p"), { id: `${id}-count`, className: "picker-count" });
    status.setAttribute("aria-live", "polite");
    status.hidden = true;
    const box = Object.assign(document.createElement("div"), { className: "picker" });
    input.replaceWith(box);
    box.append(input, list, status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    const unknown = Object.assign(document.createElement("p"), { id: `${id}-unknown`, className: "hint picker-unknown", hidden: true });
    box.after(unknown);
    input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby") || ""} ${unknown.id}`.trim());
    const picker = { input, list, status, unknown, choices, shown: [], active: -1 };
    pickers.set(input, picker);

    input.addEventListener("input", () => open(picker, input.value));
    input.addEventListener("focus", () => input.select());
    input.addEventListener("blur", () => {
      close(picker);
      checkKnown(picker);
    });
    input.addEventListener("keydown", (event) => keydown(picker, event));
    // mousedown would move the focus away (and close the list) before the click lands
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const option = event.target.closest('[role="option"]');
      if (option) choose(picker, picker.shown[Number(option.dataset.index)]);
    });
  }

  function open(picker, query) {
    const all = picker.choices();
    // An unchanged box shows every property, so ArrowDown on a mapped row browses the whole list.
    const text = query === picker.input.dataset.display ? "" : query;
    picker.shown = matches(all, text);
    picker.active = -1;
    picker.list.replaceChildren(...picker.shown.slice(0, SHOWN).map((item, index) => {
      const option = Object.assign(document.createElement("li"), { id: `${picker.list.id}-${index}` });
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.index = String(index);
      const label = Object.assign(document.createElement("span"), { className: "picker-label", textContent: item.label || item.value });
      const name = Object.assign(document.createElement("span"), { className: "picker-name", textContent: item.value });
      option.append(label, name);
      return option;
    }));
    const found = picker.shown.length;
    picker.status.textContent = found === 0
      ? `No property matches "${text.trim()}". Type its internal name, or create it with "Create property".`
      : found > SHOWN
        ? `${found} of ${all.length} properties match; the first ${SHOWN} are shown, type more to narrow.`
        : `${found} of ${all.length} properties ${found === 1 ? "matches" : "match"}.`;
    picker.status.hidden = false;
    picker.list.hidden = found === 0;
    picker.input.setAttribute("aria-expanded", String(found > 0));
    picker.input.removeAttribute("aria-activedescendant");
  }

  /** Say so under the box when what it holds is none of HubSpot's properties (saving would map nothing). */
  function checkKnown(picker) {
    const value = valueOf(picker.input);
    const known = !value || picker.choices().some((p) => p.value === value);
    picker.unknown.hidden = known;
    picker.unknown.textContent = known ? "" : `"${value}" is not a HubSpot property here: choose one from the list, or create it.`;
  }

  function close(picker) {
    picker.list.hidden = true;
    picker.status.hidden = true;
    picker.active = -1;
    picker.input.setAttribute("aria-expanded", "false");
    picker.input.removeAttribute("aria-activedescendant");
  }

  // Open while it shows options, or says that none match.
  const isOpen = (picker) => !picker.list.hidden || !picker.status.hidden;

  function activate(picker, index) {
    const options = picker.list.children;
    if (!options.length) return;
    picker.active = Math.max(0, Math.min(index, options.length - 1));
    for (const option of options) option.setAttribute("aria-selected", "false");
    const option = options[picker.active];
    option.setAttribute("aria-selected", "true");
    picker.input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  function keydown(picker, event) {
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!isOpen(picker)) open(picker, picker.input.value);
        activate(picker, picker.active + 1);
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!isOpen(picker)) {
          open(picker, picker.input.value);
          activate(picker, picker.list.children.length - 1);
        } else {
          activate(picker, picker.active - 1);
        }
        break;
      case "Enter":
        if (!isOpen(picker)) return; // a closed picker leaves Enter to the form (Save)
        event.preventDefault();
        if (picker.active >= 0) choose(picker, picker.shown[picker.active]);
        else if (picker.shown.length === 1) choose(picker, picker.shown[0]);
        else close(picker);
        break;
      case "Escape":
        if (isOpen(picker)) {
          event.preventDefault();
          close(picker);
        } else if (picker.input.dataset.display !== undefined && picker.input.value !== picker.input.dataset.display) {
          event.preventDefault();
          picker.input.value = picker.input.dataset.display;
          close(picker);
        }
        break;
      case "Tab":
        if (isOpen(picker) && picker.active >= 0) choose(picker, picker.shown[picker.active]);
        close(picker);
        break;
      default:
    }
  }

  function choose(picker, item) {
    show(picker.input, item.value, item);
    close(picker);
    picker.input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function show(input, value, item) {
    input.value = item ? display(item) : value;
    input.dataset.value = value;
    input.dataset.display = input.value;
    const picker = pickers.get(input);
    if (picker) checkKnown(picker);
  }

  /** Show `value` (an internal name) in the box, by its label where the list knows it. */
  function setValue(input, value) {
    const text = value === null || value === undefined ? "" : String(value);
    const picker = pickers.get(input);
    const item = picker && text ? picker.choices().find((p) => p.value === text) : undefined;
    show(input, text, item);
  }

  /** The internal name a box stands for: its pick, a name typed in full, or a label typed in full. */
  function valueOf(input) {
    const text = input.value.trim();
    if (input.dataset.display !== undefined && text === input.dataset.display.trim()) return input.dataset.value;
    const picker = pickers.get(input);
    if (!picker || !text) return text;
    const items = picker.choices();
    if (items.some((p) => p.value === text)) return text;
    const lower = text.toLowerCase();
    const named = items.filter((p) => (p.label || "").toLowerCase() === lower || display(p).toLowerCase() === lower);
    return named.length === 1 ? named[0].value : text;
  }

  /**
   * Wire a mapping row's "Create property". `options`: `fortnoxField` (the row's Fortnox field select),
   * `picker` (its property box), `create(body)` (the POST, answering `{ok, status, body, message}`)
   * and `created(item)` (adds the new property to the object's list).
   */
  function attachCreate(row, options) {
    const button = row.querySelector("[data-create-property]");
    const panel = row.querySelector("[data-create-panel]");
    const label = panel.querySelector("[data-create-label]");
    const name = panel.querySelector("[data-create-name]");
    const status = panel.querySelector("[data-create-status]");
    const submit = panel.querySelector("[data-create-submit]");
    const id = `create-property-${++serial}`;
    panel.id = id;
    button.setAttribute("aria-controls", id);
    for (const [input, key] of [[label, "label"], [name, "name"]]) {
      input.id = `${id}-${key}`;
      input.closest(".create-field").querySelector("label").htmlFor = input.id;
    }
    let named = false; // the name follows the label until the admin edits it
    panel.addEventListener("input", (event) => event.stopPropagation()); // no setting changes until it is made

    const fieldLabel = () => {
      const select = options.fortnoxField;
      const text = select.selectedOptions[0] ? select.selectedOptions[0].textContent : select.value;
      return text.replace(/\s*\([^)]*\)\s*$/, "");
    };
    const toggle = (show) => {
      panel.hidden = !show;
      button.setAttribute("aria-expanded", String(show));
      if (!show) return;
      status.textContent = "";
      label.value = fieldLabel();
      name.value = nameFrom(label.value);
      named = false;
      label.focus();
      label.select();
    };
    const go = async () => {
      if (submit.disabled) return;
      submit.disabled = true;
      status.textContent = "Creating…";
      const answer = await options.create({ label: label.value, name: name.value.trim(), fortnoxField: options.fortnoxField.value });
      submit.disabled = false;
      if (!answer.ok) {
        status.textContent = answer.status === 409 || answer.status === 400
          ? answer.message
          : `Not created. ${answer.message}`;
        return;
      }
      const made = answer.body.property;
      const item = { value: made.name, label: made.label };
      options.created(item);
      show(options.picker, item.value, item);
      options.picker.dispatchEvent(new Event("change", { bubbles: true }));
      toggle(false);
      const note = row.querySelector("[data-create-done]") || Object.assign(document.createElement("p"), { className: "create-done hint" });
      note.dataset.createDone = "";
      note.setAttribute("role", "status");
      note.textContent = `Created "${made.label}" (${made.name}) in HubSpot and mapped it here. Save the settings to keep the mapping.`;
      button.after(note);
      options.picker.focus();
    };

    button.addEventListener("click", () => toggle(panel.hidden));
    label.addEventListener("input", () => {
      if (!named) name.value = nameFrom(label.value);
    });
    name.addEventListener("input", () => {
      named = name.value !== "";
    });
    submit.addEventListener("click", go);
    panel.querySelector("[data-create-cancel]").addEventListener("click", () => {
      toggle(false);
      button.focus();
    });
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.tagName === "INPUT") {
        event.preventDefault(); // not the form's Save
        go();
      } else if (event.key === "Escape") {
        event.preventDefault();
        toggle(false);
        button.focus();
      }
    });
  }

  return { attach, setValue, valueOf, attachCreate };
})();

(() => {
  const form = document.getElementById("sync-settings");
  if (!form) return;

  const api = form.dataset.api;
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

  /** One request to the settings API (`options`: `method`, `body` sent as JSON); never throws:
   * `{ok, status, body, message}`. */
  const call = (path, options) => window.hubnox.call(api + path, options);

  const option = (value, label) => ({ value: String(value), label: String(label) });
  const coded = (item) => option(item.code, item.description ? `${item.code} – ${item.description}` : item.code);
  const template = (item) => option(item.template, item.name ? `${item.name} (${item.template})` : item.template);
  const FORTNOX_LISTS = {
    termsOfPayment: coded,
    currencies: coded,
    priceLists: coded,
    "printTemplates.invoice": template,
    "printTemplates.order": template,
    "printTemplates.offer": template,
    waysOfDelivery: coded,
    termsOfDelivery: coded,
    salesAccounts: coded,
    costCenters: coded,
    projects: coded,
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
        ? {
          options: answer.body.properties.map((p) => option(p.name, p.label && p.label !== p.name ? `${p.label} (${p.name})` : p.name)),
          items: answer.body.properties.map((p) => option(p.name, p.label || p.name)), // the mapping pickers' list
        }
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
      const refused = (state.fortnox.unavailable || {})[what];
      if (refused) return { error: `Fortnox did not give hubnox this list (${refused}): type the code as Fortnox shows it.` };
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
    setUpPropertyPicker(row, list, fortnoxField, values ? values[1] : "");
    fortnoxField.addEventListener("change", () => rowsChanged(list));
  }

  /** A mapping row's property box: a searchable picker over the object's properties, and Create property. */
  function setUpPropertyPicker(row, list, fortnoxField, value) {
    const input = controlOf(row, "property");
    const object = list.dataset.object;
    const choices = choicesFor(input.dataset.source);
    if (choices.error) explain(input, choices.error);
    else mappingPickers.attach(input, () => state.properties[object].items);
    mappingPickers.setValue(input, value);
    mappingPickers.attachCreate(row, {
      fortnoxField,
      picker: input,
      create: (body) => call(`/hubspot/properties/${encodeURIComponent(object)}`, { method: "POST", body }),
      created: (item) => {
        const found = state.properties[object];
        if (!found || !found.items || found.items.some((p) => p.value === item.value)) return;
        found.items.push(item);
        found.items.sort((a, b) => a.label.localeCompare(b.label, undefined, { sensitivity: "base" }));
        found.options.push(option(item.value, `${item.label} (${item.value})`));
      },
    });
  }

  /** "Name <- first name + last name" shows while no contact row maps Name: the default HubSpot has no property for. */
  function showContactNameDefault() {
    const note = form.querySelector("[data-full-name-default]");
    if (!note) return;
    note.hidden = rowsOf("customer_fields.contact").some((row) => controlOf(row, "fortnox_field").value === "Name");
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
    showContactNameDefault();
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
        mapping[fortnoxField] = mappingPickers.valueOf(property.querySelector("input, select"));
      }
      settings.customer_fields[kind] = mapping;
    }
    return settings;
  }

  function applyDependents() {
    form.querySelector('[data-toggled-by="contact_match"]').disabled = !contactToggle.checked;
    for (const block of form.querySelectorAll("[data-shown-if]")) {
      block.hidden = !form.querySelector(`[data-setting="${block.dataset.shownIf}"]`).checked;
    }
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
    const answer = await call("/settings", { method: "PUT", body: { version: state.version, settings } });
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

  const TRIGGERS = { workflow: "Workflow", poller: "Deal stage", webhook: "Deal stage (webhook)", card: "Record card", replay: "Replay", settings: "Settings" };
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
    if (run.superseded) cell.append(" · a later run made the document");
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
    // An import (settings_transfer.js) saved other settings: show them, and save over their version.
    form.addEventListener("hubnox:settings-replaced", (event) => {
      clearErrors();
      accept(event.detail);
      fill(state.settings);
      state.dirty = false;
      say(`Imported settings saved at ${new Date().toLocaleTimeString()}.`);
    });
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
  const status = form.querySelector("[data-delete-status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Deleting…";
    const answer = await window.hubnox.call(form.dataset.api,
                                            { method: "DELETE", body: { confirm: form.elements.confirm.value.trim() } });
    if (answer.status === 0) {
      status.textContent = "hubnox could not be reached; nothing was deleted.";
      return;
    }
    status.textContent = answer.body.message || (answer.ok ? "Deleted." : `Nothing was deleted (${answer.status}).`);
    if (answer.ok) {
      form.querySelector("button").disabled = true;
    }
  });
})();

/* "Sync products now": one POST that queues the sync-products job; its outcome shows in Recent runs. */
(() => {
  const button = document.querySelector("[data-sync-products]");
  if (!button) return;
  const status = document.querySelector("[data-sync-products-status]");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Queueing…";
    const answer = await window.hubnox.call(button.dataset.url, { method: "POST" });
    status.textContent = answer.status === 0 ? "hubnox could not be reached; nothing was queued."
      : answer.body.message || (answer.ok ? "Queued." : `Not queued (${answer.status}).`);
    button.disabled = false;
  });
})();

/* "Log out": ends this browser's session (other admins stay signed in) and leaves the page. */
(() => {
  const form = document.getElementById("logout-form");
  if (!form) return;
  const status = form.querySelector("[data-logout-status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await window.hubnox.call(form.dataset.api, { method: "POST" });
    if (answer.status === 0) {
      status.textContent = "hubnox could not be reached; you are still signed in.";
      return;
    }
    if (!answer.ok) {
      status.textContent = answer.body.message || `Not logged out (${answer.status}).`;
      return;
    }
    document.querySelector("main")?.replaceChildren();
    document.body.replaceChildren(Object.assign(document.createElement("p"), { textContent: answer.body.message }));
  });
})();

/* A notice the address asks for (`?notice=fortnox-connected` after connecting Fortnox, say) shows
 * once: the address drops it at once, so a reload or a bookmark does not say it again. */
(() => {
  const url = new URL(window.location.href);
  if (!url.searchParams.has("notice")) return;
  url.searchParams.delete("notice");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
})();
