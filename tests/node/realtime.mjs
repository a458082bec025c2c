// EventSource and WebSocket in Debian's chromium (driven by playwright-core; no browser is ever
// downloaded) against the examples themselves (tests/checks/realtime_browser.sh):
//   - examples/sse.cpp: an EventSource on /events?count=N receives N events with ids 1..N and
//     data {"n": i}; when the stream ends the browser reconnects on its own with
//     Last-Event-ID: N and nothing is repeated; a stream cut after 3 events (the connection
//     closed under it) is resumed by the browser's automatic reconnect with Last-Event-ID: 3,
//     and the example sends 4..N.
//   - examples/websockets.cpp's /ws/echo: text and binary (ArrayBuffer) messages echoed with
//     their type, the subprotocol "chat" selected when offered ("" when not), the close code the
//     browser sent answered back, 1009 past the 16 MiB limit, permessage-deflate as chromium offers it:
//     declined without zlib (the handshake still succeeds, the bytes on the wire are the
//     messages'), accepted with it (WS_ZLIB_URL: compressed on the wire both ways, counted by a
//     relay), large compressible and incompressible messages echoed intact either way.
// The page's origin is the SSE example itself (its GET / answers "ok"), reached through a
// loopback TCP relay in this process that records each /events request's Last-Event-ID and can
// cut one response after its third event. The page's scripts are tests/node/realtime_page.js.
//   node realtime.mjs SSE_URL WS_URL [WS_ZLIB_URL]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [sseUrl, wsUrl, wsZlibUrl] = process.argv.slice(2);
if (!sseUrl || !wsUrl) {
  console.error("usage: node realtime.mjs SSE_URL WS_URL [WS_ZLIB_URL]");
  process.exit(2);
}
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.log(`  FAIL  ${message}`);
};
const ok = (message) => console.log(`  ok    ${message}`);
const check = (cond, message, detail) => (cond ? ok(message) : fail(detail === undefined ? message : `${message}: ${detail}`));

// The relay: every connection piped to the SSE example; /events requests recorded; when `cut`
// is armed, the next /events response is forwarded up to the end of its third event and then
// both sockets are destroyed (to the browser, the server closed the stream mid-way).
const upstream = new URL(sseUrl);
const seen = [];  // {target, lastEventId} of each /events request, in order
let cut = false;
const relay = createServer((client) => {
  const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
  let cutThis = false, tail = "", events = 0, head = "";
  client.on("data", (bytes) => {
    head = (head + bytes.toString("latin1")).slice(-8192);
    const m = /^GET (\/events[^ ]*) HTTP\/1\.1\r\n([\s\S]*?)\r\n\r\n/m.exec(head);
    if (m) {
      const id = /^last-event-id: *(.*)$/im.exec(m[2]);
      seen.push({ target: m[1], lastEventId: id ? id[1].trim() : null });
      head = head.slice(m.index + m[0].length);
      if (cut) { cut = false; cutThis = true; tail = ""; events = 0; }
    }
    server.write(bytes);
  });
  server.on("data", (bytes) => {
    if (!cutThis) return void client.write(bytes);
    const text = bytes.toString("latin1");
    for (let i = 0; i < text.length; ++i) {
      tail = (tail + text[i]).slice(-2);
      if (tail === "\n\n" && ++events === 3) {
        client.write(bytes.subarray(0, i + 1));
        client.destroy();
        server.destroy();
        return;
      }
    }
    client.write(bytes);
  });
  const end = () => { client.destroy(); server.destroy(); };
  client.on("error", end).on("close", end);
  server.on("error", end).on("close", end);
});
await new Promise((resolve) => relay.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${relay.address().port}`;

// A counting relay in front of a WebSocket server: the bytes on the wire each way, so that
// permessage-deflate is seen to compress (or, declined, not to).
const counted = async (url) => {
  const target = new URL(url);
  const bytes = { up: 0, down: 0 };
  const server = createServer((client) => {
    const peer = createConnection({ host: target.hostname, port: Number(target.port) });
    client.on("data", (b) => { bytes.up += b.length; peer.write(b); });
    peer.on("data", (b) => { bytes.down += b.length; client.write(b); });
    const end = () => { client.destroy(); peer.destroy(); };
    client.on("error", end).on("close", end);
    peer.on("error", end).on("close", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `ws://127.0.0.1:${server.address().port}`, bytes, server };
};
const wsRelays = [await counted(wsUrl)];
if (wsZlibUrl) wsRelays.push(await counted(wsZlibUrl));

const profile = mkdtempSync(join(tmpdir(), "fastapi-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(30000);
const consoleErrors = [];
page.on("console", (msg) => {
  if (msg.type() === "error") consoleErrors.push({ text: msg.text(), url: msg.location()?.url ?? "" });
});
page.on("pageerror", (error) => consoleErrors.push({ text: String(error), url: "" }));
// The handshakes as chromium sent them and as the server answered (for permessage-deflate).
const handshakes = [];
page.on("websocket", (ws) => handshakes.push(ws.url()));
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
const upgrades = [];
cdp.on("Network.webSocketHandshakeResponseReceived", (e) =>
  upgrades.push({ status: e.response.status, request: e.response.requestHeaders ?? {}, response: e.response.headers ?? {} }));
const header = (headers, name) => {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
};

try {
  const landing = await page.goto(`${origin}/`);
  check(landing.status() === 200, `page opened at ${origin}/ (the SSE example's GET /)`, `status ${landing.status()}`);
  await page.addScriptTag({ content: readFileSync(join(dirname(fileURLToPath(import.meta.url)), "realtime_page.js"), "utf8") });

  console.log("== EventSource on examples/sse.cpp");
  const N = 12;
  seen.length = 0;
  const whole = await page.evaluate(([n]) => window.realtime.eventsUntilReconnect(n), [N]);
  const wantIds = Array.from({ length: N }, (_, i) => String(i + 1));
  check(whole.error === undefined, `EventSource /events?count=${N} ran`, whole.error);
  check(JSON.stringify(whole.ids) === JSON.stringify(wantIds), `${N} events, ids 1..${N}`, JSON.stringify(whole.ids));
  check(whole.data.every((d, i) => d === JSON.stringify({ n: i + 1 })), `data {"n": i} for each`, JSON.stringify(whole.data));
  check(whole.types.every((t) => t === "message"), `each dispatched as "message"`, JSON.stringify(whole.types));
  check(whole.reopened && whole.extra.length === 0,
        "at the end of the stream the browser reconnected by itself and received nothing more",
        `reopened ${whole.reopened}, extra ${JSON.stringify(whole.extra)}`);
  check(seen.length >= 2 && seen[0].lastEventId === null && seen[1].lastEventId === String(N),
        `the browser's reconnect sent Last-Event-ID: ${N}`, JSON.stringify(seen));

  seen.length = 0;
  cut = true;
  const M = 10;
  const resumed = await page.evaluate(([m]) => window.realtime.eventsAcrossCut(m), [M]);
  const wantM = Array.from({ length: M }, (_, i) => String(i + 1));
  check(resumed.error === undefined, `EventSource /events?count=${M}, cut after 3 events, ran`, resumed.error);
  check(resumed.errorsBeforeEnd >= 1 && resumed.opens >= 2, "the cut was seen as an error and the browser reopened the stream",
        `errors ${resumed.errorsBeforeEnd}, opens ${resumed.opens}`);
  check(JSON.stringify(resumed.ids) === JSON.stringify(wantM), `ids 1..${M} once each across the cut`, JSON.stringify(resumed.ids));
  check(resumed.data.every((d, i) => d === JSON.stringify({ n: i + 1 })), "data {\"n\": i} across the cut", JSON.stringify(resumed.data));
  check(seen.length >= 2 && seen[0].lastEventId === null && seen[1].lastEventId === "3",
        "the reconnect after the cut sent Last-Event-ID: 3 and the example resumed at 4", JSON.stringify(seen));
  // A count out of range is refused before any stream: EventSource reports an error, no event.
  const refused = await page.evaluate(() => window.realtime.refused("/events?count=0"));
  check(refused.events === 0 && refused.readyState === 2, "/events?count=0 (a 422): error event, readyState CLOSED, no event",
        JSON.stringify(refused));

  const echo = async (label, relayed, expectExtension) => {
    const url = `${relayed.url}/ws/echo`;
    console.log(`== WebSocket on ${label} (${url}, relayed to the example)`);
    upgrades.length = 0;
    relayed.bytes.up = relayed.bytes.down = 0;
    const r = await page.evaluate(([u]) => window.realtime.echo(u), [url]);
    check(r.error === undefined, "the checks ran", r.error);
    if (r.error !== undefined) return;
    check(r.protocolOffered === "chat", 'offered ["chat", "superchat"]: protocol "chat" selected', JSON.stringify(r.protocolOffered));
    check(r.protocolNone === "", "offered nothing: no protocol", JSON.stringify(r.protocolNone));
    check(r.text === "héllo, wörld ✓", "text echoed as text", JSON.stringify(r.text));
    check(r.emptyText === "", "an empty text message echoed as an empty text", JSON.stringify(r.emptyText));
    check(r.binaryIsArrayBuffer && r.binaryOk, "binary (an ArrayBuffer of bytes 0..255, twice) echoed as binary, same bytes",
          `ArrayBuffer ${r.binaryIsArrayBuffer}, same ${r.binaryOk}`);
    check(r.bigTextOk && r.bigBinaryOk, "1 MiB compressible text and 256 KiB random binary echoed intact",
          `text ${r.bigTextOk}, binary ${r.bigBinaryOk}`);
    // The example echoes the code of the client's close frame (RFC 6455 5.5.1), not its reason.
    check(r.close.code === 4001 && r.close.wasClean,
          `close(4001, "bye"): the close event reports 4001 (reason ${JSON.stringify(r.close.reason)}), clean`,
          JSON.stringify(r.close));
    check(r.closeNormal.code === 1005 && r.closeNormal.wasClean,
          "close() (a close frame without a code): 1005, clean", JSON.stringify(r.closeNormal));
    check(r.tooBig.code === 1009, "a 16 MiB + 1 text message: the server closes with 1009", JSON.stringify(r.tooBig));
    const offeredDeflate = upgrades.filter((u) => /permessage-deflate/.test(header(u.request, "sec-websocket-extensions") ?? ""));
    check(upgrades.length > 0 && offeredDeflate.length === upgrades.length && upgrades.every((u) => u.status === 101),
          `chromium offered permessage-deflate in each of ${upgrades.length} handshake(s), each answered 101`,
          JSON.stringify(upgrades.map((u) => [u.status, header(u.request, "sec-websocket-extensions")])));
    // Echoed payloads: 1 MiB of repeated text, 256 KiB random, a few hundred bytes else.
    const { up, down } = relayed.bytes;
    const wire = `${down} bytes from the server, ${up} to it (the 16 MiB + 1 message included)`;
    if (expectExtension) {
      check(/^permessage-deflate/.test(r.extensions), "permessage-deflate accepted (WebSocket.extensions)", JSON.stringify(r.extensions));
      check(down < (1 << 18) + (1 << 17) && up < (1 << 18) + (1 << 17),
            `compressed on the wire both ways: ${wire}`, wire);
    } else {
      check(r.extensions === "", "permessage-deflate declined (built without zlib) and the handshake still succeeded",
            JSON.stringify(r.extensions));
      check(down > (1 << 20) + (1 << 18) && up > (1 << 20) + (1 << 18), `uncompressed on the wire: ${wire}`, wire);
    }
    console.log(`        WebSocket.extensions: ${JSON.stringify(r.extensions)}; server's answer: ${JSON.stringify(
      upgrades.map((u) => header(u.response, "sec-websocket-extensions") ?? null))}`);
  };
  await echo("examples/websockets.cpp", wsRelays[0], false);
  if (wsZlibUrl) await echo("examples/websockets.cpp built with FASTAPI_WITH_ZLIB", wsRelays[1], true);

  // Chromium logs as console errors the failures this run causes on purpose: the stream the
  // relay cut, the 422 of count=0 and the example's 404 to the favicon; nothing else may be.
  const expected = [`${origin}/events?count=${M}`, `${origin}/events?count=0`, `${origin}/favicon.ico`];
  const unexpected = consoleErrors.filter((e) => !expected.includes(e.url));
  console.log(`        console errors caused on purpose: ${consoleErrors.length - unexpected.length}`);
  check(unexpected.length === 0, "no other console errors", JSON.stringify(unexpected));
} catch (error) {
  fail(`the run stopped: ${error.stack ?? error}`);
} finally {
  await context.close();
  relay.close();
  for (const r of wsRelays) r.server.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures.length === 0 ? "realtime: all checks passed" : `realtime: ${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
