/* What every settings page shares: one way to call hubnox's API, and one way to build elements.
 *
 * Loaded with `defer` before the page's own scripts, it sets `window.hubnox`:
 *
 * - `call(url, {method, body})`: one request to the API. It sends the session cookie, never reads a
 *   cached answer, asks for JSON, and puts the page's CSRF token (`<meta name="csrf-token">`) in
 *   X-CSRF-Token on every write, which the settings routes check. `body` is sent as JSON; a string is
 *   taken to be JSON text already (an imported file, sent as it was read). It never throws: the answer
 *   is `{ok, status, body, message}`, `message` being the API's own or "hubnox answered 409.", and a
 *   request that never reached hubnox answers status 0 with a message saying so, so each page says
 *   what went wrong in one place.
 * - `el(tag, props, ...children)`: an element with its properties (a name with a dash is set as an
 *   attribute: `aria-label`, `data-retry`) and its children; text is always set as text, and empty
 *   children (null, undefined, "") are left out.
 *
 * Plain JavaScript, no build step, nothing from outside /settings/static/.
 */
"use strict";

window.hubnox = (() => {
  const UNREACHABLE = "hubnox could not be reached. Check the connection and try again.";

  /** One request to the API; never throws: `{ok, status, body, message}`. */
  async function call(url, { method = "GET", body } = {}) {
    const init = { method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (method !== "GET" && method !== "HEAD") {
      init.headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = typeof body === "string" ? body : JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      return { ok: false, status: 0, body: {}, message: UNREACHABLE };
    }
    let answer = {};
    try {
      answer = (await response.json()) ?? {};
    } catch {
      answer = {};
    }
    if (typeof answer !== "object") answer = {};
    return { ok: response.ok, status: response.status, body: answer,
             message: answer.message || `hubnox answered ${response.status}.` };
  }

  /** An element with its properties (a dashed name is an attribute) and its non-empty children. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name.includes("-")) node.setAttribute(name, value);
      else node[name] = value;
    }
    node.append(...children.filter((child) => child !== null && child !== undefined && child !== ""));
    return node;
  }

  return Object.freeze({ call, el });
})();
