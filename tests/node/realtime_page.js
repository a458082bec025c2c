// The page's side of tests/node/realtime.mjs: plain browser APIs (EventSource, WebSocket), every
// wait bounded. Each function resolves with what the browser saw; the driver judges it.
window.realtime = (() => {
  const within = (ms, what, run) => new Promise((resolve) => {
    let done = false;
    const finish = (value) => { if (!done) { done = true; clearTimeout(timer); resolve(value); } };
    const timer = setTimeout(() => finish({ error: `timed out after ${ms} ms waiting for ${what}` }), ms);
    run(finish);
  });

  // /events?count=n read whole; then the browser's own reconnect (Last-Event-ID: n) is awaited
  // and anything it brings is recorded as `extra`.
  const eventsUntilReconnect = (n) => within(20000, `${n} events and a reconnect`, (finish) => {
    const es = new EventSource(`/events?count=${n}`);
    const r = { ids: [], data: [], types: [], extra: [], opens: 0, reopened: false };
    es.onopen = () => {
      if (++r.opens === 2) {
        r.reopened = true;
        // Whatever the resumed stream holds arrives right after; then stop.
        setTimeout(() => { es.close(); finish(r); }, 500);
      }
    };
    es.onmessage = (e) => {
      if (r.opens >= 2) return void r.extra.push(e.lastEventId);
      r.ids.push(e.lastEventId);
      r.data.push(e.data);
      r.types.push(e.type);
    };
  });

  // /events?count=m whose first response the relay cuts after 3 events: collects until m.
  const eventsAcrossCut = (m) => within(20000, `${m} events across a cut`, (finish) => {
    const es = new EventSource(`/events?count=${m}`);
    const r = { ids: [], data: [], opens: 0, errorsBeforeEnd: 0 };
    es.onopen = () => { ++r.opens; };
    es.onerror = () => { if (r.ids.length < m) ++r.errorsBeforeEnd; };
    es.onmessage = (e) => {
      r.ids.push(e.lastEventId);
      r.data.push(e.data);
      if (r.ids.length === m) { es.close(); finish(r); }
    };
  });

  const refused = (url) => within(10000, `${url} refused`, (finish) => {
    const es = new EventSource(url);
    let events = 0;
    es.onmessage = () => { ++events; };
    es.onerror = () => setTimeout(() => { const readyState = es.readyState; es.close(); finish({ events, readyState }); }, 300);
  });

  // One WebSocket, opened; resolves with it or throws.
  const open = (url, protocols) => new Promise((resolve, reject) => {
    const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => reject(new Error(`${url}: not open after 10 s`)), 10000);
    ws.onopen = () => { clearTimeout(timer); resolve(ws); };
    ws.onerror = () => { clearTimeout(timer); reject(new Error(`${url}: error before open`)); };
  });
  // The next message on ws, within 10 s.
  const next = (ws) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message within 10 s")), 10000);
    ws.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
    ws.onclose = (e) => { clearTimeout(timer); reject(new Error(`closed (${e.code}) while waiting for a message`)); };
  });
  const closed = (ws, code, reason) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no close event within 10 s")), 10000);
    ws.onclose = (e) => { clearTimeout(timer); resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); };
    if (code === undefined) ws.close(); else ws.close(code, reason);
  });
  const same = (a, b) => {
    const x = new Uint8Array(a), y = new Uint8Array(b);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  };

  const echo = async (url) => {
    try {
      const r = {};
      const chat = await open(url, ["chat", "superchat"]);
      r.protocolOffered = chat.protocol;
      r.extensions = chat.extensions;
      r.text = (await Promise.all([next(chat), chat.send("héllo, wörld ✓")]))[0];
      r.emptyText = (await Promise.all([next(chat), chat.send("")]))[0];
      const bytes = new Uint8Array(512).map((_, i) => i % 256);
      const back = (await Promise.all([next(chat), chat.send(bytes.buffer)]))[0];
      r.binaryIsArrayBuffer = back instanceof ArrayBuffer;
      r.binaryOk = r.binaryIsArrayBuffer && same(back, bytes.buffer);
      const bigText = "the quick brown fox jumps over the lazy dog ".repeat(24000).slice(0, 1 << 20);
      const bigTextBack = (await Promise.all([next(chat), chat.send(bigText)]))[0];
      r.bigTextOk = bigTextBack === bigText;
      const random = new Uint8Array(1 << 18);
      for (let at = 0; at < random.length; at += 65536) crypto.getRandomValues(random.subarray(at, at + 65536));
      const randomBack = (await Promise.all([next(chat), chat.send(random.buffer)]))[0];
      r.bigBinaryOk = randomBack instanceof ArrayBuffer && same(randomBack, random.buffer);
      r.close = await closed(chat, 4001, "bye");

      const plain = await open(url);
      r.protocolNone = plain.protocol;
      r.closeNormal = await closed(plain);

      // A message past the example's 16 MiB limit: the server closes with 1009. Compressible
      // text, so that with permessage-deflate it is the decompressed size that is refused.
      const over = await open(url);
      r.tooBig = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ error: "no close within 20 s" }), 20000);
        over.onmessage = () => { clearTimeout(timer); resolve({ error: "the message was echoed" }); };
        over.onclose = (e) => { clearTimeout(timer); resolve({ code: e.code, wasClean: e.wasClean }); };
        over.send("x".repeat((16 << 20) + 1));
      });
      return r;
    } catch (e) {
      return { error: String(e) };
    }
  };

  return { eventsUntilReconnect, eventsAcrossCut, refused, echo };
})();
