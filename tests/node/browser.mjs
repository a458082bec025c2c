// Opens an app's /docs and /redoc in Debian's chromium (driven by playwright-core; no browser
// is ever downloaded) and checks what a user would see (tests/checks/docs_browser.sh):
//   - every operation of /openapi.json is rendered by Swagger UI and by ReDoc,
//   - in Swagger UI, one GET operation expanded, "Try it out", "Execute": the live response's
//     status and body are those the server gives,
//   - no console errors, no failed requests, nothing loaded from outside the app (offline docs),
//   - screenshots of both pages in SCREENSHOT_DIR,
//   - with LOGIN=user:password (an app with OAuth2's password flow): the tried-out operation
//     first answers without credentials; then "Authorize" with the password form, and the
//     same operation executed again shows what the server answers with that user's token.
//   - under a proxy's prefix (DOCS_PATH=/api/docs ... OPENAPI_PATH=/api/openapi.json), the
//     operations are tried out at the document's relative server URL ("/api"),
//   node browser.mjs BASE_URL SCREENSHOT_DIR [DOCS_PATH=/docs] [REDOC_PATH=/redoc] [OPENAPI_PATH=/openapi.json]
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { chromium } from "playwright-core";

const [base, shots, docsPath = "/docs", redocPath = "/redoc", openapiPath = "/openapi.json"] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node browser.mjs BASE_URL SCREENSHOT_DIR [DOCS_PATH] [REDOC_PATH] [OPENAPI_PATH]");
  process.exit(2);
}
const TIMEOUT = 20000;
const LOGIN = process.env.LOGIN ?? "";
const SHOT_PREFIX = process.env.SHOT_PREFIX ?? "";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.log(`  FAIL  ${message}`);
};
const ok = (message) => console.log(`  ok    ${message}`);

const origin = new URL(base).origin;
const documentResponse = await fetch(new URL(openapiPath, base));
if (documentResponse.status !== 200) {
  console.error(`${openapiPath} answered ${documentResponse.status}`);
  process.exit(1);
}
const spec = await documentResponse.json();
// Swagger UI sends "Try it out" requests to the document's first server; a relative one (an
// app under a proxy's prefix, root_path: servers [{"url": "/api"}]) prefixes every path.
const serverUrl = spec.servers?.[0]?.url ?? "";
const serverPrefix = serverUrl.startsWith("/") ? serverUrl.replace(/\/+$/, "") : "";
const operationUrl = (path) => new URL(serverPrefix + path, base);
const operations = [];
for (const [path, item] of Object.entries(spec.paths ?? {}))
  for (const method of METHODS) if (item[method]) operations.push({ path, method, op: item[method], item });
console.log(`${operations.length} operation(s) in ${openapiPath}`);

mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "fastapi-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  viewport: { width: 1280, height: 900 },
});

// Only the app itself may be asked for anything: the offline docs must not need the network.
// ReDoc's bundle always asks for its attribution logo from its CDN and hides the image when
// that fails; it is refused without counting as a problem.
const TOLERATED = new Set(["https://cdn.redoc.ly/redoc/logo-mini.svg"]);
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith(origin + "/") || url.startsWith("data:")) return route.continue();
  if (!TOLERATED.has(url)) fail(`the page asked for ${url}, outside the app`);
  return route.abort();
});

async function openPage(path) {
  const page = await context.newPage();
  const problems = [];
  const fetched = new Set();  // the URLs the page loaded with a 200
  page.on("console", (msg) => {
    // With LOGIN, the protected operation's 401 before logging in is expected (and logged).
    if (LOGIN && /status of 401/.test(msg.text())) return;
    if (msg.type() === "error" && !TOLERATED.has(msg.location()?.url)) problems.push(`console error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    if (!TOLERATED.has(req.url())) problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  page.on("response", (res) => {
    if (res.status() === 200) fetched.add(res.url());
    if (res.status() >= 400 && !(LOGIN && res.status() === 401)) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  const response = await page.goto(new URL(path, base).href, { waitUntil: "load", timeout: TIMEOUT });
  if (response?.status() !== 200) fail(`${path} answered ${response?.status()}`);
  return { page, problems, fetched };
}

// The page loaded the document from OPENAPI_PATH (under a proxy's prefix: /api/openapi.json).
function checkDocumentLoaded(path, fetched) {
  const url = new URL(openapiPath, base).href;
  if (fetched.has(url)) ok(`${path}: loaded ${openapiPath}`);
  else fail(`${path}: did not load ${url}`);
}

function reportProblems(path, problems) {
  if (problems.length === 0) ok(`${path}: no console errors, no failed requests`);
  for (const p of problems) fail(`${path}: ${p}`);
}

// Swagger UI's "Authorize" with OAuth2's password flow, then the protected operation again:
// it must show what the server answers to the bearer token that /token gives for LOGIN.
async function authorizeAndExecute(page, block, target) {
  const [username, password] = LOGIN.split(":");
  const scheme = Object.values(spec.components?.securitySchemes ?? {}).find((s) => s.flows?.password);
  if (!scheme) return fail(`${docsPath}: LOGIN given but no OAuth2 password flow in the document`);
  await page.locator(".auth-wrapper .btn.authorize").click({ timeout: TIMEOUT });
  const modal = page.locator(".modal-ux");
  await modal.locator("#oauth_username").fill(username);
  await modal.locator("#oauth_password").fill(password);
  await modal.locator("button.modal-btn.auth.authorize").click({ timeout: TIMEOUT });
  // Logged in: the form gives way to a Logout button.
  await modal.locator("button.modal-btn.auth", { hasText: "Logout" }).waitFor({ timeout: TIMEOUT });
  ok(`${docsPath}: Authorize as ${username} through ${scheme.flows.password.tokenUrl}`);
  await modal.locator("button.btn-done, .close-modal").first().click();

  const form = new URLSearchParams({ grant_type: "password", username, password });
  const token = await (await fetch(new URL(scheme.flows.password.tokenUrl, new URL(openapiPath, base)), { method: "POST", body: form })).json();
  const direct = await fetch(operationUrl(target.path), { headers: { Authorization: `Bearer ${token.access_token}` } });
  const directBody = await direct.text();
  if (direct.status !== 200) fail(`${target.path} with ${username}'s token answers ${direct.status}, not 200`);

  await block.locator("button.execute").click({ timeout: TIMEOUT });
  const status = block.locator(".live-responses-table .response .response-col_status").first();
  await page.waitForFunction((el) => el.innerText.trim().split(/\s/)[0] === "200", await status.elementHandle(), { timeout: TIMEOUT })
    .catch(() => {});
  const shownStatus = (await status.innerText()).trim().split(/\s/)[0];
  const shownBody = (await block.locator(".live-responses-table .response-col_description pre").first().innerText()).trim();
  const name = `GET ${target.path} as ${username}`;
  if (shownStatus === "200") ok(`${docsPath}: ${name}: status 200 shown`);
  else fail(`${docsPath}: ${name} shows status ${shownStatus}`);
  let same = false;
  try { same = isDeepStrictEqual(JSON.parse(shownBody), JSON.parse(directBody)); } catch {}
  if (same) ok(`${docsPath}: ${name} response body shown: ${shownBody.replace(/\s+/g, " ").slice(0, 80)}`);
  else fail(`${docsPath}: ${name} shows body ${JSON.stringify(shownBody)}, the server answers ${JSON.stringify(directBody)}`);
}

// ---- Swagger UI ----
{
  console.log(`== ${docsPath} (Swagger UI)`);
  const { page, problems, fetched } = await openPage(docsPath);
  try {
    await page.waitForSelector(".opblock", { timeout: TIMEOUT });
    ok(`${docsPath}: Swagger UI rendered`);
    checkDocumentLoaded(docsPath, fetched);
    // Operations under several tags are shown once per tag; each must be there at least once.
    for (const { path, method } of operations) {
      const found = await page.locator(`.opblock-${method} .opblock-summary-path[data-path="${path}"]`).count();
      if (found > 0) ok(`${docsPath}: ${method.toUpperCase()} ${path} is shown`);
      else fail(`${docsPath}: ${method.toUpperCase()} ${path} is not shown`);
    }
    const shown = await page.locator(".opblock").count();
    if (shown < operations.length) fail(`${docsPath}: ${shown} operation blocks for ${operations.length} operations`);

    // One GET that needs no input: expand, Try it out, Execute, compare with the server's answer.
    const needsInput = ({ op, item }) =>
      [...(op.parameters ?? []), ...(item.parameters ?? [])].some((p) => p.required) || op.requestBody?.required;
    // With LOGIN, the protected one (a GET that declares security).
    const target = operations.find((o) => o.method === "get" && !needsInput(o) && (!LOGIN || o.op.security));
    if (!target) {
      fail(`${docsPath}: no GET operation without required parameters to try out`);
    } else {
      const name = `GET ${target.path}`;
      const block = page.locator(`.opblock-get:has(.opblock-summary-path[data-path="${target.path}"])`).first();
      await block.locator(".opblock-summary").first().click();
      await block.locator(".try-out__btn").click({ timeout: TIMEOUT });
      await block.locator("button.execute").click({ timeout: TIMEOUT });
      const live = block.locator(".live-responses-table .response");
      await live.first().waitFor({ timeout: TIMEOUT });
      // The cell reads "401\nUndocumented" for a status the document does not declare.
      const shownStatus = (await live.locator(".response-col_status").first().innerText()).trim().split(/\s/)[0];
      const shownBody = (await block.locator(".live-responses-table .response-col_description pre").first().innerText()).trim();

      const direct = await fetch(operationUrl(target.path));
      const directBody = await direct.text();
      if (shownStatus === String(direct.status)) ok(`${docsPath}: ${name} executed, status ${shownStatus} shown`);
      else fail(`${docsPath}: ${name} shows status ${shownStatus}, the server answers ${direct.status}`);
      let same;
      try {
        same = isDeepStrictEqual(JSON.parse(shownBody), JSON.parse(directBody));
      } catch {
        same = shownBody === directBody.trim();
      }
      if (same) ok(`${docsPath}: ${name} response body shown: ${shownBody.replace(/\s+/g, " ").slice(0, 80)}`);
      else fail(`${docsPath}: ${name} shows body ${JSON.stringify(shownBody)}, the server answers ${JSON.stringify(directBody)}`);
      if (LOGIN) await authorizeAndExecute(page, block, target);
    }
  } catch (e) {
    fail(`${docsPath}: ${e.message.split("\n")[0]}`);
  }
  await page.screenshot({ path: join(shots, `${SHOT_PREFIX}docs.png`), fullPage: true });
  console.log(`  saved ${join(shots, `${SHOT_PREFIX}docs.png`)}`);
  reportProblems(docsPath, problems);
  await page.close();
}

// ---- ReDoc ----
{
  console.log(`== ${redocPath} (ReDoc)`);
  const { page, problems, fetched } = await openPage(redocPath);
  try {
    await page.waitForSelector("[data-section-id]", { timeout: TIMEOUT });
    ok(`${redocPath}: ReDoc rendered`);
    checkDocumentLoaded(redocPath, fetched);
    // ReDoc gives each operation a section "…operation/<operationId>" and a menu entry
    // whose badge carries the method as a class.
    for (const { path, method, op } of operations) {
      const label = `${method.toUpperCase()} ${path}`;
      if (!op.operationId) {
        fail(`${redocPath}: ${label} has no operationId to find it by`);
        continue;
      }
      const sections = await page.locator(
        `[data-section-id="operation/${op.operationId}"], [data-section-id$="/operation/${op.operationId}"]`).count();
      if (sections > 0) ok(`${redocPath}: ${label} is shown`);
      else fail(`${redocPath}: ${label} (operation/${op.operationId}) is not shown`);
    }
    const badges = await page.locator(`[role="menu"] .operation-type, .menu-content .operation-type`).count();
    if (badges < operations.length) fail(`${redocPath}: ${badges} operations in the menu for ${operations.length}`);
    else ok(`${redocPath}: ${badges} operations in the menu`);
  } catch (e) {
    fail(`${redocPath}: ${e.message.split("\n")[0]}`);
  }
  await page.screenshot({ path: join(shots, `${SHOT_PREFIX}redoc.png`), fullPage: true });
  console.log(`  saved ${join(shots, `${SHOT_PREFIX}redoc.png`)}`);
  reportProblems(redocPath, problems);
  await page.close();
}

await context.close();
rmSync(profile, { recursive: true, force: true });
console.log(failures.length ? `${failures.length} problem(s)` : "docs pages OK");
process.exit(failures.length ? 1 : 0);
