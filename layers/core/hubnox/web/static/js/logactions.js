/* The sync log's actions on failed work: "Replay failed runs…" for the failures the log's filter shows,
and the dead-letter panel with a Retry for each job whose tries are spent.

The bulk replay is counted first (POST /settings/api/runs/replay/preview with the log's filter) and
confirmed with that count: the server refuses a count that changed since (409 COUNT_CHANGED, with the
new count), so two admins confirming at once replay each failure once, and the second is asked again
with what is left. After a replay or a retry the log reloads its page ("hubnox:log-changed", which
synclog.js listens to). Requests go through api.js, which sends the page's CSRF token on writes. */
(() => {
  const section = document.getElementById("log");
  const bar = document.getElementById("log-actions");
  const panel = document.getElementById("dead-letters");
  if (!section || !bar) return;

  const params = new URLSearchParams(window.location.search);
  if (params.get("run")) return; // a run's story: the list and its actions stay hidden

  const runsApi = section.dataset.api;
  const pageUrl = section.dataset.page;
  const FILTERS = ["status", "trigger", "documentType", "from", "to", "q"];

  const { call, el } = window.hubnox;
  const when = (iso) => (iso ? iso.replace("T", " ").replace("+00:00", " UTC") : "");
  const storyUrl = (runId) => `${pageUrl}?run=${encodeURIComponent(runId)}`;
  const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;
  const logChanged = () => document.dispatchEvent(new CustomEvent("hubnox:log-changed"));

  // -- Replay failed runs… -------------------------------------------------------------------------

  /** The filter the log shows, as the preview and the replay read it. */
  function filter() {
    const fields = {};
    for (const name of FILTERS) if (params.get(name)) fields[name] = params.get(name);
    return fields;
  }

  const replayButton = el("button", { type: "button", className: "secondary", "data-replay-failed": "",
                                      "aria-controls": "replay-box", "aria-expanded": "false" },
                          "Replay failed runs…");
  const box = el("div", { id: "replay-box", className: "confirm-box", role: "group",
                          "aria-labelledby": "replay-question", "data-replay-box": "" });
  box.hidden = true;
  const question = el("p", { id: "replay-question" });
  const note = el("p", { className: "muted", "data-replay-note": "" });
  const confirmButton = el("button", { type: "button", "data-replay-confirm": "" }, "Confirm");
  const cancelButton = el("button", { type: "button", className: "secondary", "data-replay-cancel": "" }, "Cancel");
  box.append(question, note, el("div", { className: "confirm-buttons" }, confirmButton, cancelButton));
  const said = el("p", { className: "muted", role: "status", "data-replay-status": "" });
  bar.append(replayButton, box, said);

  let confirmed = 0; // the count the admin is asked to confirm

  /** The question for a count: how many, how long they take, and how many wait for the next batch. */
  function ask(count, remaining, spreadSeconds, changedFrom) {
    confirmed = count;
    const changed = changedFrom === undefined ? ""
      : `The count changed since you looked (it was ${changedFrom}): someone else may have replayed some. `;
    if (count === 0) {
      question.textContent = `${changed}There is nothing to replay: no failed run this filter shows is waiting for a replay.`;
      note.textContent = "";
      confirmButton.hidden = true;
      cancelButton.textContent = "Close";
      cancelButton.setAttribute("aria-label", "Close this message");
    } else {
      const they = count === 1 ? "It is" : "They are";
      const over = spreadSeconds > 0
        ? `${they} queued over about ${plural(spreadSeconds, "second", "seconds")} to stay inside Fortnox's limit.`
        : `${they} queued at once.`;
      question.textContent = `${changed}Replay ${plural(count, "failed run", "failed runs")}? ${over}`;
      note.textContent = remaining > 0 ? `${remaining} more remain after this batch: replay again for them.` : "";
      confirmButton.hidden = false;
      confirmButton.disabled = false;
      confirmButton.setAttribute("aria-label", `Confirm: replay ${plural(count, "failed run", "failed runs")}`);
      cancelButton.textContent = "Cancel";
      cancelButton.setAttribute("aria-label", "Cancel the replay");
    }
    box.hidden = false;
    replayButton.setAttribute("aria-expanded", "true");
    (count === 0 ? cancelButton : confirmButton).focus();
  }

  function close() {
    box.hidden = true;
    replayButton.setAttribute("aria-expanded", "false");
    replayButton.disabled = false;
    replayButton.focus();
  }

  replayButton.addEventListener("click", async () => {
    replayButton.disabled = true;
    said.textContent = "Counting the failed runs…";
    const answer = await call(`${runsApi}/replay/preview`, { method: "POST", body: filter() });
    if (!answer.ok) {
      said.textContent = answer.message;
      replayButton.disabled = false;
      return;
    }
    said.textContent = "";
    ask(answer.body.count, answer.body.remaining, answer.body.spreadSeconds);
  });

  cancelButton.addEventListener("click", close);

  confirmButton.addEventListener("click", async () => {
    confirmButton.disabled = true;
    said.textContent = "Queuing the replays…";
    const expected = confirmed;
    const answer = await call(`${runsApi}/replay`, { method: "POST", body: { ...filter(), expectedCount: expected } });
    if (answer.status === 409 && answer.body.code === "COUNT_CHANGED") {
      said.textContent = "";
      ask(answer.body.count, answer.body.remaining, answer.body.spreadSeconds, expected);
      return;
    }
    if (!answer.ok) {
      said.textContent = answer.message;
      confirmButton.disabled = false;
      return;
    }
    const done = answer.body;
    const parts = [`${plural(done.queued, "failed run", "failed runs")} queued for a replay`,
                   `${done.alreadyReplayed} had been replayed already`];
    if (done.notQueued) parts.push(`${done.notQueued} could not be queued just now: replay again in a minute for them`);
    if (done.remaining) parts.push(`${done.remaining} more remain: replay again for them`);
    box.hidden = true;
    replayButton.setAttribute("aria-expanded", "false");
    replayButton.disabled = false;
    said.textContent = `${parts.join("; ")}.`;
    logChanged();
  });

  // -- Dead letters --------------------------------------------------------------------------------

  if (!panel) return;
  const lettersApi = panel.dataset.api;
  const details = panel.querySelector("details");
  const summary = panel.querySelector("[data-dlq-summary]");
  const letterList = panel.querySelector("[data-dlq-list]");
  const malformedNote = panel.querySelector("[data-dlq-malformed]");
  panel.hidden = false;

  function recordOf(letter) {
    if (letter.recordName) return letter.recordName;
    return letter.objectId ? `${letter.objectType || "record"} ${letter.objectId}` : "";
  }

  function letterOf(letter) {
    const item = el("li", { className: "dlq-entry" });
    item.dataset.messageId = letter.messageId;
    if (letter.runId) item.dataset.runId = letter.runId;
    const head = el("div", { className: "row-what" },
                    el("a", { href: storyUrl(letter.runId), "aria-label": `Story of run ${letter.runId}` },
                       `Run ${letter.runId}`));
    const record = recordOf(letter);
    if (record) head.append(" · ", el("span", { className: "record" }, record));
    item.append(head);
    if (letter.errorMessage) {
      item.append(el("div", { className: "error" }, letter.errorCode
        ? `${letter.errorMessage} (${letter.errorCode})` : letter.errorMessage));
    }
    const tries = letter.attempts ? plural(letter.attempts, "try", "tries") : "";
    const moment = letter.lastTriedAt ? `Dead-lettered after its last try, ${when(letter.lastTriedAt)}`
      : letter.sentAt ? `First queued ${when(letter.sentAt)}` : "";
    item.append(el("div", { className: "muted" }, [moment, tries].filter(Boolean).join(" · ")));
    if (letter.replayedBy) {
      item.append(el("div", { className: "muted" }, "Its run was replayed as ",
                     el("a", { href: storyUrl(letter.replayedBy) }, `run ${letter.replayedBy}`)));
    }
    const answer = el("p", { className: "dlq-answer", role: "status" });
    const retry = el("button", { type: "button", className: "secondary", "data-retry": "",
                                 "aria-label": `Retry run ${letter.runId}` }, "Retry");
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      answer.textContent = "Retrying…";
      const done = await call(`${lettersApi}/${encodeURIComponent(letter.messageId)}/retry`, { method: "POST" });
      answer.textContent = done.message;
      if (done.ok || done.status === 404) {
        retry.remove();
        item.classList.add("done");
        logChanged();
      } else {
        retry.disabled = false;
      }
    });
    item.append(el("div", { className: "row-actions" }, retry), answer);
    return item;
  }

  async function showLetters() {
    summary.textContent = "Dead letters: loading…";
    const answer = await call(lettersApi);
    if (!answer.ok) {
      summary.textContent = "Dead letters";
      letterList.replaceChildren(el("li", { className: "error" }, answer.message));
      details.open = true;
      return;
    }
    const letters = (answer.body.deadLetters || []).filter((letter) => !letter.malformed);
    const malformed = answer.body.malformed || 0;
    letterList.replaceChildren(...letters.map(letterOf));
    malformedNote.textContent = malformed
      ? `${plural(malformed, "message", "messages")} in the queue ${malformed === 1 ? "is" : "are"} not a hubnox job and cannot be retried.`
      : "";
    if (letters.length) {
      summary.textContent = `Dead letters: ${plural(letters.length, "job is", "jobs are")} waiting`;
      details.open = true;
    } else {
      summary.textContent = "No jobs are waiting in the dead-letter queue";
      details.open = false;
    }
  }

  showLetters();
})();
