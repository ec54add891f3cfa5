/* Export and import of the portal's settings (the "Export and import" section of the settings page).
 *
 * Export is a plain download link. Import reads the chosen file, asks hubnox for a preview (what the
 * file changes, "field: old → new", and what this portal lacks, with what to fix), and Apply saves it
 * with the version the preview was made against; a 409 says to preview again. Once applied, the form
 * above is told (event `hubnox:settings-replaced` on #sync-settings, detail = the API's answer) so it
 * shows the new settings and saves over their version. Plain JavaScript, no build step.
 */
"use strict";

(() => {
  const section = document.getElementById("transfer");
  if (!section) return;
  const api = section.dataset.transferApi;
  const input = section.querySelector("#import-file");
  const status = section.querySelector("[data-import-status]");
  const preview = section.querySelector("[data-import-preview]");
  const source = section.querySelector("[data-import-source]");
  const changesList = section.querySelector("[data-import-changes]");
  const problemsBlock = section.querySelector("[data-import-problems-block]");
  const problemsList = section.querySelector("[data-import-problems]");
  const applyButton = section.querySelector("[data-import-apply]");
  /** The file's text and the settings version its preview was made against. */
  const pending = { text: "", version: 0 };

  /** One POST to the import routes (a preview sends the file's text as it was read); never throws: `{ok, status, body, message}`. */
  const post = (path, body) => window.hubnox.call(api + path, { method: "POST", body });

  /** A setting's value in words: stages as "pipeline / stage (document)", on/off, "not set". */
  function shown(value) {
    if (value === null || value === undefined) return "not set";
    if (value === true) return "on";
    if (value === false) return "off";
    if (Array.isArray(value)) {
      if (value.length === 0) return "none";
      return value
        .map((item) => (item && item.pipeline_id ? `${item.pipeline_id} / ${item.stage_id} (${item.document_type})` : JSON.stringify(item)))
        .join("; ");
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  const item = (...parts) => {
    const li = document.createElement("li");
    li.append(...parts);
    return li;
  };
  const text = (tag, content, className) => Object.assign(document.createElement(tag), { textContent: content, ...(className ? { className } : {}) });

  function showChanges(changes) {
    changesList.replaceChildren(
      ...(changes.length
        ? changes.map((change) => item(text("code", change.field), `: ${shown(change.current)} → ${shown(change.imported)}`))
        : [item("Nothing: the file holds the settings this portal has.")]),
    );
  }

  /** Problems as the API lists them: `{field, message, fix?, blocking?}`. */
  function showProblems(problems) {
    problemsList.replaceChildren(
      ...problems.map((problem) => {
        const parts = [];
        if (problem.blocking) parts.push(text("strong", "Blocks the import. "));
        if (problem.field) parts.push(text("code", problem.field), ": ");
        parts.push(problem.message);
        if (problem.fix) parts.push(text("span", problem.fix, "fix"));
        const li = item(...parts);
        li.className = problem.blocking ? "status bad" : "";
        return li;
      }),
    );
    problemsBlock.hidden = problems.length === 0;
  }

  function refused(answer, what) {
    const errors = answer.body.errors || [];
    status.textContent = `${what} ${answer.message}${answer.body.hint ? ` ${answer.body.hint}` : ""}`;
    status.className = "status bad";
    if (errors.length) {
      preview.hidden = false;
      source.textContent = "";
      changesList.replaceChildren();
      showProblems(errors.map((error) => ({ ...error, blocking: true })));
      applyButton.hidden = true;
    }
  }

  async function previewFile() {
    preview.hidden = true;
    status.className = "muted";
    status.textContent = "Reading the file…";
    const answer = await post("/import/preview", pending.text);
    if (!answer.ok) {
      refused(answer, "This file cannot be imported.");
      return;
    }
    const found = answer.body;
    pending.version = found.version;
    const from = found.fromPortal ? `portal ${found.fromPortal}` : "an unnamed portal";
    const when = found.exportedAt ? `, exported ${found.exportedAt}` : "";
    const migrated = found.migrated ? ` Its settings (schema version ${found.schemaVersion}) were brought up to this hubnox's.` : "";
    source.textContent = `From ${found.samePortal ? "this portal" : from}${when}.${migrated}`;
    showChanges(found.changes);
    showProblems(found.problems);
    applyButton.hidden = false;
    applyButton.disabled = found.blocking;
    status.className = found.blocking ? "status bad" : "muted";
    status.textContent = found.blocking
      ? "Not importable yet: fix what blocks the import, then choose the file again."
      : `${found.changes.length === 1 ? "One setting changes" : `${found.changes.length} settings change`}. Nothing is saved until you apply.`;
    preview.hidden = false;
  }

  async function apply() {
    let document_;
    try {
      document_ = JSON.parse(pending.text);
    } catch {
      status.textContent = "The file is no longer readable; choose it again.";
      return;
    }
    applyButton.disabled = true;
    status.className = "muted";
    status.textContent = "Applying…";
    const answer = await post("/import", { document: document_, version: pending.version });
    if (answer.ok) {
      document.getElementById("sync-settings")?.dispatchEvent(new CustomEvent("hubnox:settings-replaced", { detail: answer.body }));
      const left = answer.body.problems.length;
      status.className = "status ok";
      status.textContent = `Imported and saved at ${new Date().toLocaleTimeString()}.${left ? " Fix what is listed below in the form above." : ""}`;
      source.textContent = "";
      changesList.replaceChildren();
      showProblems(answer.body.problems);
      applyButton.hidden = true;
      input.value = "";
      return;
    }
    applyButton.disabled = false;
    if (answer.status === 409) {
      status.className = "status bad";
      status.textContent = answer.message;
      applyButton.disabled = true;
      await previewFile();
      status.textContent = `${answer.message} The preview below is new.`;
      return;
    }
    refused(answer, "Not imported.");
  }

  input.addEventListener("change", async () => {
    const [file] = input.files;
    if (!file) return;
    pending.text = await file.text();
    await previewFile();
  });
  applyButton.addEventListener("click", apply);
})();
