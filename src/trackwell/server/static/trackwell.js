/* trackwell.js: marketing-page analytics for a trackwell gateway. No dependencies.
 * <script src="https://GATEWAY/trackwell.js" data-write-key="BROWSER_KEY" data-page="Pricing" async></script>
 * Sets a first-party anonymous id cookie (tw_anon_id), sends page views of planned pages and
 * planned events in batches, and hands what is left to navigator.sendBeacon when the page hides.
 */
(function (w, d) {
  "use strict";
  if (w.trackwell && w.trackwell.loaded) return;
  var PLAN = /*TRACKWELL_PLAN*/{"pages": [], "events": []};
  var VERSION = "1";
  var COOKIE = "tw_anon_id";
  var YEAR = 365 * 24 * 3600;
  var MAX_BATCH = 20, MAX_QUEUE = 200, FLUSH_MS = 1000;
  var script = d.currentScript || d.querySelector("script[data-write-key]");
  var attr = function (name) { return script ? script.getAttribute(name) : null; };
  var key = attr("data-write-key") || "";
  var base = (attr("data-gateway") || (script && script.src ? script.src.replace(/\/trackwell\.js(\?.*)?$/, "") : "")).replace(/\/$/, "");
  var queue = [], timer = null, pending = w.trackwell;

  function warn(text) { if (w.console) w.console.warn("trackwell: " + text); }
  function has(list, item) { for (var i = 0; i < list.length; i++) if (list[i] === item) return true; return false; }

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16);
    w.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = [];
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function readCookie() {
    var parts = d.cookie ? d.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === COOKIE) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  function anonymousId() {
    var id = readCookie() || uuid();
    // Written on every page view, so the year counts from the last visit.
    var cookie = COOKIE + "=" + encodeURIComponent(id) + "; Max-Age=" + YEAR + "; Path=/; SameSite=Lax";
    if (attr("data-cookie-domain")) cookie += "; Domain=" + attr("data-cookie-domain");
    if (w.location.protocol === "https:") cookie += "; Secure";
    d.cookie = cookie;
    return id;
  }

  var anon = anonymousId();

  function context() {
    return {
      library: { name: "trackwell.js", version: VERSION },
      page: { path: w.location.pathname, url: w.location.href, title: d.title, referrer: d.referrer, search: w.location.search },
      userAgent: w.navigator.userAgent,
      locale: w.navigator.language
    };
  }

  function enqueue(message) {
    message.anonymousId = anon;
    message.messageId = uuid();
    message.timestamp = new Date().toISOString();
    message.context = context();
    queue.push(message);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    if (queue.length >= MAX_BATCH) flush();
    else if (!timer) timer = w.setTimeout(flush, FLUSH_MS);
  }

  function body(batch) {
    return JSON.stringify({ batch: batch, sentAt: new Date().toISOString(), writeKey: key });
  }

  function flush() {
    if (timer) { w.clearTimeout(timer); timer = null; }
    if (!queue.length || !base) return;
    var batch = queue.splice(0, MAX_BATCH);
    var retry = function () { queue = batch.concat(queue).slice(0, MAX_QUEUE); };
    // text/plain keeps it a CORS "simple" request: no preflight before each batch.
    w.fetch(base + "/v1/batch", { method: "POST", body: body(batch), keepalive: true, headers: { "Content-Type": "text/plain" } })
      .then(function (r) { if (r.status === 429 || r.status >= 500) retry(); }, retry);
    if (queue.length) timer = w.setTimeout(flush, 0);
  }

  function beacon() {
    if (!queue.length || !base || !w.navigator.sendBeacon) return flush();
    // sendBeacon cannot set headers: the (public) browser key travels in the URL and the body.
    var url = base + "/v1/batch?writeKey=" + encodeURIComponent(key);
    while (queue.length) {
      var batch = queue.splice(0, MAX_BATCH);
      if (!w.navigator.sendBeacon(url, body(batch))) { queue = batch.concat(queue); return flush(); }
    }
  }

  function page(name, properties) {
    if (!has(PLAN.pages, name)) { warn("page '" + name + "' is not a planned page; not sent"); return; }
    var props = properties || {};
    props.path = props.path || w.location.pathname;
    props.url = props.url || w.location.href;
    props.title = props.title || d.title;
    props.referrer = props.referrer || d.referrer;
    enqueue({ type: "page", name: name, properties: props });
  }

  function track(event, properties) {
    if (!has(PLAN.events, event)) { warn("event '" + event + "' is not a planned event; not sent"); return; }
    enqueue({ type: "track", event: event, properties: properties || {} });
  }

  w.addEventListener("pagehide", beacon);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") beacon(); });

  w.trackwell = { loaded: true, page: page, track: track, flush: flush, anonymousId: function () { return anon; } };
  // Calls queued before the script loaded: window.trackwell = [["track", "Event", {...}], ...]
  if (pending && pending.length) for (var i = 0; i < pending.length; i++) w.trackwell[pending[i][0]].apply(null, pending[i].slice(1));
  var meta = d.querySelector('meta[name="trackwell:page"]');
  var declared = attr("data-page") || (meta && meta.getAttribute("content"));
  if (declared) page(declared);
  else if (has(PLAN.pages, d.title)) page(d.title);
})(window, document);
