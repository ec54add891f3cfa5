/* The sync log page: the portal's runs with filters, search and paging, and one run's story.

The filters live in the page's address (a GET form), so a filtered log can be bookmarked or shared
with another admin; the pages already seen are kept here so "Newer" goes back without asking again.
Everything shown comes from GET /settings/api/runs and /settings/api/runs/{runId}; text is always
set as text, and a note's HTML is shown in a sandboxed frame. */
(() => {
  const section = document.getElementById("log");
  if (!section) return;

  const api = section.dataset.api;
  const pageUrl = section.dataset.page;
  const list = document.getElementById("log-list");
  const status = section.querySelector("[data-log-status]");
  const older = section.querySelector("[data-older]");
  const newer = section.querySelector("[data-newer]");
  const form = document.getElementById("log-filters");
  const story = document.getElementById("log-story");
  const params = new URLSearchParams(window.location.search);
  const FILTERS = ["status", "trigger", "documentType", "from", "to", "q"];
  const STATUS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed" };
  const STEP_STATE = { told: "told", gave_up: "given up", waiting: "waiting for HubSpot", not_told: "not told" };

  const { call, el } = window.hubnox;
  const when = (iso) => (iso ? iso.replace("T", " ").replace("+00:00", " UTC") : "");
  const capital = (text) => (text ? `${text[0].toUpperCase()}${text.slice(1)}` : "");
  const storyUrl = (runId) => `${pageUrl}?run=${encodeURIComponent(runId)}`;

  function recordOf(run) {
    const name = run.recordName || (run.objectId ? `${run.objectType || "record"} ${run.objectId}` : "");
    if (!name) return null;
    if (!run.recordUrl) return el("span", { className: "record" }, name);
    return el("a", { className: "record", href: run.recordUrl, target: "_blank", rel: "noopener",
                     title: "Open in HubSpot (new tab)" }, name);
  }

  function documentOf(run) {
    if (run.kind === "sync_products") return run.productSync ? run.productSync.summary : "Products";
    if (run.kind === "sync_customer") return "Customer";
    const type = capital(run.documentType || "document");
    return run.documentNumber ? `${type} ${run.documentNumber}` : type;
  }

  function customerOf(run) {
    if (!run.customer) return null;
    const parts = [run.customer.number, run.customer.name].filter(Boolean);
    return parts.length ? el("span", { className: "muted" }, `Customer ${parts.join(" · ")}`) : null;
  }

  /** Replay for a failure nobody made good or replayed since; "Superseded by" for one a later run
   * made good, "Replayed as" for one already replayed (its Replay link would only say so). */
  function actionsOf(run) {
    const box = el("div", { className: "row-actions" });
    box.append(el("a", { href: storyUrl(run.runId), "aria-label": `Story of run ${run.runId}` }, "Story"));
    // A failure its own replay made good says so the same way before and after the replay finished.
    const ownReplayMadeGood = run.superseded && run.supersededBy === run.replayedBy;
    if (run.replayedBy && (!run.superseded || ownReplayMadeGood)) {
      box.append(el("span", { className: "replayed" }, "Replayed as ",
                    el("a", { href: storyUrl(run.replayedBy) }, `run ${run.replayedBy}`),
                    ownReplayMadeGood ? ", which made it good" : ""));
    } else if (run.superseded) {
      const by = run.supersededBy
        ? el("a", { href: storyUrl(run.supersededBy) }, `run ${run.supersededBy}`) : "a later run";
      box.append(el("span", { className: "superseded" }, "Superseded by ", by));
    } else if (run.replayUrl) {
      box.append(el("a", { className: "replay", href: run.replayUrl, target: "_blank", rel: "noopener",
                           "aria-label": `Replay run ${run.runId} (opens a new tab)` }, "Replay"));
    }
    return box;
  }

  function rowOf(run) {
    const state = el("span", { className: `status ${run.status === "succeeded" ? "ok" : run.status === "failed" ? "bad" : ""}` },
                     STATUS[run.status] || run.status);
    const head = el("div", { className: "row-head" }, state, " · ", el("span", {}, run.triggerLabel || run.trigger),
                    " · ", el("time", { dateTime: run.createdAt || "" }, when(run.createdAt)));
    const what = el("div", { className: "row-what" }, recordOf(run), recordOf(run) ? " · " : "", documentOf(run));
    const item = el("li", { className: "log-row" }, head, what);
    item.dataset.runId = run.runId;
    item.dataset.status = run.status;
    const customer = customerOf(run);
    if (customer) item.append(el("div", {}, customer));
    if (run.status === "failed" && run.errorMessage) item.append(el("div", { className: "error" }, run.errorMessage));
    const tries = run.attempts === 1 ? "1 try" : `${run.attempts} tries`;
    item.append(el("div", { className: "muted" }, `${tries} · run ${run.runId}`));
    item.append(actionsOf(run));
    return item;
  }

  // -- the list ------------------------------------------------------------------------------------

  const cursors = [null]; // the cursor of each page seen; the last is the page shown
  let next = null;

  function query(cursor) {
    const search = new URLSearchParams();
    for (const name of FILTERS) if (params.get(name)) search.set(name, params.get(name));
    search.set("limit", "25");
    if (cursor) search.set("cursor", cursor);
    return `${api}?${search}`;
  }

  async function showPage(cursor) {
    status.textContent = "Loading…";
    const answer = await call(query(cursor));
    if (!answer.ok) {
      status.textContent = answer.message;
      return false;
    }
    const runs = answer.body.runs || [];
    list.replaceChildren(...runs.map(rowOf));
    next = answer.body.nextCursor || null;
    older.hidden = !next;
    newer.hidden = cursors.length <= 1;
    const filtered = FILTERS.some((name) => params.get(name));
    status.textContent = runs.length ? "" : next ? "No matching runs on this stretch of the log; try Older."
      : filtered ? "No runs match these filters." : "No runs yet.";
    return true;
  }

  older.addEventListener("click", async () => {
    if (!next) return;
    cursors.push(next);
    if (!(await showPage(next))) cursors.pop();
  });
  newer.addEventListener("click", async () => {
    if (cursors.length <= 1) return;
    cursors.pop();
    await showPage(cursors[cursors.length - 1]);
  });

  // A bulk replay or a dead letter's retry made runs: show the page again.
  document.addEventListener("hubnox:log-changed", () => {
    if (!section.hidden) showPage(cursors[cursors.length - 1]);
  });

  for (const name of FILTERS) {
    const field = form.elements.namedItem(name);
    if (field && params.get(name)) field.value = params.get(name);
  }
  // Empty fields stay out of the address.
  form.addEventListener("submit", () => {
    for (const field of form.elements) if (field.name && !field.value) field.disabled = true;
  });

  // -- one run's story -----------------------------------------------------------------------------

  function facts(pairs) {
    const dl = el("dl");
    for (const [term, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      dl.append(el("dt", {}, term), el("dd", {}, value));
    }
    return dl;
  }

  function showStory(body) {
    const run = body.run;
    story.querySelector("#story-title").textContent = `Run ${run.runId}`;
    const parts = [];
    parts.push(facts([
      ["Status", STATUS[run.status] || run.status],
      ["Trigger", run.triggerLabel || run.trigger],
      ["Record", recordOf(run)],
      ["Document", documentOf(run)],
      ["Customer", run.customer ? [run.customer.number, run.customer.name].filter(Boolean).join(" · ") : ""],
      ["Created", when(run.createdAt)],
      ["Error", run.errorMessage ? `${run.errorMessage} (${run.errorCode})` : ""],
      ["Replays", body.replayOf ? el("a", { href: storyUrl(body.replayOf) }, `run ${body.replayOf}`) : ""],
    ]));
    parts.push(actionsOf(run));

    parts.push(el("h3", {}, "Tries"));
    if (body.attempts.length) {
      const tries = el("ol", { className: "tries" });
      for (const one of body.attempts) {
        const line = el("li", {}, `Try ${one.attempt}: ${STATUS[one.status] || one.status}`,
                        one.startedAt ? ` · started ${when(one.startedAt)}` : "",
                        one.endedAt ? ` · ended ${when(one.endedAt)}` : "");
        if (one.errorMessage) line.append(el("div", { className: "error" }, one.errorMessage));
        tries.append(line);
      }
      parts.push(tries);
    } else {
      parts.push(el("p", { className: "muted" }, run.attempts ? `${run.attempts} tries, from before tries were recorded.`
        : "Not tried yet."));
    }

    if (body.warnings.length) {
      parts.push(el("h3", {}, "Warnings"));
      parts.push(el("ul", {}, ...body.warnings.map((warning) => el("li", {}, warning))));
    }

    parts.push(el("h3", {}, "What HubSpot was told"));
    if (body.delivery.steps.length) {
      parts.push(el("ul", { className: "steps" }, ...body.delivery.steps.map((step) =>
        el("li", {}, `${capital(step.label)}: ${STEP_STATE[step.state] || step.state}`,
           step.detail ? ` (${step.detail})` : ""))));
    } else {
      parts.push(el("p", { className: "muted" }, "Nothing yet."));
    }

    if (body.note) {
      parts.push(el("h3", {}, "The note"));
      const frame = el("iframe", { className: "note", title: "The note hubnox wrote on the record" });
      frame.setAttribute("sandbox", "");
      frame.srcdoc = body.note.html;
      parts.push(frame);
    }

    if (body.replays.length) {
      parts.push(el("h3", {}, "Replayed by"));
      parts.push(el("ul", {}, ...body.replays.map((other) =>
        el("li", {}, el("a", { href: storyUrl(other.runId) }, `run ${other.runId}`),
           ` · ${STATUS[other.status] || other.status} · ${when(other.createdAt)}`))));
    }
    story.querySelector("[data-story-body]").replaceChildren(...parts);
  }

  async function openStory(runId) {
    section.hidden = true;
    story.hidden = false;
    const note = story.querySelector("[data-story-status]");
    note.textContent = "Loading…";
    const answer = await call(`${api}/${encodeURIComponent(runId)}`);
    if (!answer.ok) {
      note.textContent = answer.message;
      return;
    }
    note.textContent = "";
    showStory(answer.body);
  }

  if (params.get("run")) {
    openStory(params.get("run"));
  } else {
    showPage(null);
  }
})();
