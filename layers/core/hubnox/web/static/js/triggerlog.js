// "Why did this deal (not) trigger?" on the sync log: one deal's trigger decisions, newest first,
// as the poller and the webhooks recorded them (GET /settings/api/triggers?deal=&cursor=).
"use strict";

(() => {
  const section = document.getElementById("trigger-log");
  if (!section) return;
  const form = section.querySelector("[data-trigger-form]");
  const list = section.querySelector("[data-trigger-list]");
  const status = section.querySelector("[data-trigger-status]");
  const more = section.querySelector("[data-trigger-more]");
  const SOURCES = { webhook: "Webhook", poller: "Poller" };
  let deal = "";
  let cursor = null;

  const row = (decision) => {
    const item = document.createElement("li");
    item.className = "trigger-row";
    const when = new Date(decision.at * 1000);
    const parts = [
      when.toLocaleString(),
      SOURCES[decision.source] || decision.source,
      decision.triggerKey || (decision.stageId ? `stage ${decision.stageId}` : ""),
      decision.decision + (decision.runId ? ` (run ${decision.runId})` : ""),
    ];
    for (const text of parts) {
      const cell = document.createElement("span");
      cell.textContent = text;
      item.append(cell);
    }
    return item;
  };

  const load = async (append) => {
    const params = new URLSearchParams({ deal });
    if (append && cursor) params.set("cursor", cursor);
    status.textContent = "Loading…";
    let answer;
    try {
      const response = await fetch(`${section.dataset.api}?${params}`, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      answer = await response.json();
      if (!response.ok) throw new Error(answer.message || `HTTP ${response.status}`);
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    if (!append) list.replaceChildren();
    list.append(...answer.decisions.map(row));
    cursor = answer.nextCursor;
    more.hidden = !cursor;
    status.textContent = list.children.length ? ""
      : "Nothing recorded for this deal in the last 14 days: neither a webhook nor the poller saw it in a trigger stage.";
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    deal = new FormData(form).get("deal").toString().trim();
    cursor = null;
    load(false);
  });
  more.addEventListener("click", () => load(true));
})();
