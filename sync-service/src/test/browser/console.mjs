// Drives the admin console in Debian's headless Chromium through playwright-core. ConsoleIT seeds the service and
// starts this script with what to expect; it prints each step and exits non-zero at the first thing that is wrong.
// Run by hand: OUTPOST_URL=... OUTPOST_ADMIN_TOKEN=... CONSOLE_CASE='{...}' node console.mjs
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const base = process.env.OUTPOST_URL;
// The operator's own API token (ConsoleIT makes the operator with the break-glass admin token).
const token = process.env.OUTPOST_OPERATOR_TOKEN;
const expect = JSON.parse(process.env.CONSOLE_CASE);
const shots = process.env.SCREENSHOT_DIR || "target/console-screenshots";
mkdirSync(shots, { recursive: true });

function check(ok, what) {
  if (!ok) throw new Error("console check failed: " + what);
  console.log("ok - " + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // Sign-in: a wrong token is refused with the service's own words; the right one opens the fleet.
  await page.goto(base + "/console");
  check(page.url().endsWith("/console/"), "/console leads to the console");
  await page.getByLabel("Your operator token").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  const refusal = await page.getByRole("alert").textContent();
  check(/operator credential/.test(refusal), "a wrong token is refused: " + refusal.trim());
  await page.getByLabel("Your operator token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Fleet" }).waitFor();
  check((await page.locator("#who").textContent()).includes(expect.actor + " (admin)"),
    "signed in as the operator the token belongs to, with their role");

  // Fleet: this test's devices, with last sync, lag, conflicts and model health.
  await page.getByRole("searchbox").fill(expect.devicePrefix);
  const rows = page.locator("#fleet tbody tr");
  await page.waitForFunction((n) => document.querySelectorAll("#fleet tbody tr").length === n, expect.devices.length);
  check((await rows.count()) === expect.devices.length, `the search shows the ${expect.devices.length} devices of this case`);
  for (const d of expect.devices) {
    const row = page.locator(`#fleet tr[data-device="${d.id}"]`);
    const cells = await row.locator("td").allTextContents();
    check(cells[1] === expect.scope, `${d.id}: scope ${cells[1]}`);
    check(d.synced ? !cells[2].includes("never") : cells[2].includes("never"), `${d.id}: last sync "${cells[2]}"`);
    check(cells[3].includes(d.lag), `${d.id}: sync lag "${cells[3]}" (expected "${d.lag}")`);
    check(cells[4].trim() === String(d.openConflicts), `${d.id}: open conflicts ${cells[4]}`);
    check(cells[5].includes(d.model), `${d.id}: models "${cells[5]}" (expected "${d.model}")`);
  }
  await page.screenshot({ path: shots + "/fleet.png" });

  // Conflicts: both values side by side; keep one; the conflict leaves the open list.
  await page.locator(`#fleet tr[data-device="${expect.devices[0].id}"] td:nth-child(5) a`).click();
  const card = page.locator(`[data-conflict="${expect.conflict.id}"]`);
  await card.waitFor();
  const values = (await card.locator(".side pre").allTextContents()).map((v) => v.replace(/"/g, ""));
  check(values.length === 2 && expect.conflict.values.every((v) => values.includes(v)),
    "both values side by side: " + values.join(" | "));
  await card.locator(".side", { hasText: expect.conflict.keep }).getByRole("button", { name: "Keep this value" }).click();
  await card.getByText("Resolved").waitFor();
  check(true, "kept " + expect.conflict.keep);
  await page.reload();
  await page.locator("#no-conflicts").waitFor();
  check((await page.locator(`[data-conflict="${expect.conflict.id}"]`).count()) === 0, "no open conflict left in the scope");

  // Rollout: create a draft with the form, start it, watch wave 1 fill as its device reports; promote; roll back
  // only after confirming.
  await page.getByRole("link", { name: "Rollouts" }).click();
  const form = page.locator("#new-rollout");
  await form.waitFor();
  await form.getByLabel("Artifact").selectOption(expect.artifact);
  await form.getByLabel("Version").fill("2");
  await form.getByLabel("Scopes").fill(expect.scope);
  await form.getByLabel("Waves").fill("50, 100");
  await form.getByRole("button", { name: "Create draft" }).click();
  await page.locator("#rollout-status", { hasText: "draft" }).waitFor();
  check(true, "draft created from the form: " + (await page.locator("h1").textContent()));
  await page.locator('[data-action="start"]').click();
  await page.locator("#rollout-status", { hasText: "running" }).waitFor();
  check((await page.locator('[data-wave="1"] .counts').textContent()).startsWith("0 healthy"), "wave 1 starts empty");
  // The wave-1 device installs and reports, as a tablet would; the open page picks it up by itself.
  for (const r of expect.rollout.reports) {
    const res = await fetch(base + "/v1/device/model-reports", {
      method: "POST",
      headers: { Authorization: "Bearer " + r.token, "Content-Type": "application/json" },
      body: JSON.stringify({ artifact: expect.artifact, fromVersion: 1, toVersion: 2, activeVersion: 2, outcome: "installed", bytesDownloaded: 1000 }),
    });
    check(res.status === 204, "a device reported its install");
  }
  await page.locator("#rollout-reason", { hasText: "waiting for an operator" }).waitFor({ timeout: 20000 });
  const wave1 = await page.locator('[data-wave="1"] .counts').textContent();
  check(wave1.startsWith(`${expect.rollout.reports.length} healthy`), "wave 1 filled while watched: " + wave1);
  await page.locator('[data-action="promote"]').click();
  await page.locator('[data-wave="2"] .bar:not(.closed)').waitFor();
  check(true, "promoted: wave 2 is open");
  await page.screenshot({ path: shots + "/rollout.png", fullPage: true });

  await page.locator('[data-action="rollback"]').click();
  const dialog = page.locator("dialog#confirm");
  await dialog.waitFor();
  const asked = await dialog.textContent();
  check(asked.includes("version " + expect.rollout.previousVersion), "the confirmation names the version devices go back to");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  check((await page.locator("#rollout-status").textContent()) === "running", "cancelling the confirmation changes nothing");
  await page.locator('[data-action="rollback"]').click();
  await dialog.getByRole("button", { name: /^Roll back to v/ }).click();
  await page.locator("#rollout-status", { hasText: "rolled-back" }).waitFor();
  const trail = await page.locator("#events tbody").textContent();
  check(["create", "start", "promote", "rollback"].every((a) => trail.includes(expect.actor + a)),
    "the audit trail names the operator for create, start, promote and rollback");

  // Artifacts: versions with sizes and dedup savings.
  await page.getByRole("link", { name: "Artifacts" }).click();
  const artifact = page.locator(`[data-artifact="${expect.artifact}"]`);
  await artifact.waitFor();
  const summary = await artifact.locator("p").textContent();
  check(/\d+% saved by dedup/.test(summary) && summary.includes("2 versions"), "artifact summary: " + summary);
  check((await artifact.locator("tbody tr").count()) === 2, "both versions listed");

  // Data: the crop record of this case, filtered by its scope; opened, a field corrected (a change that syncs),
  // the conflict-free row shown with the office as the field's device; the list exported as CSV.
  await page.getByRole("link", { name: "Data" }).click();
  await page.getByLabel("Table").selectOption("crop_record");
  await page.locator('[data-table="crop_record"]').waitFor();
  await page.getByLabel("Filter field").selectOption("district");
  await page.getByLabel("Filter value").fill(expect.scope);
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByRole("link", { name: /clear filters/ }).waitFor();
  const dataRow = page.locator(`#data tr[data-id="${expect.data.id}"]`);
  await dataRow.waitFor();
  check((await page.locator("#data tbody tr").count()) === 1, "the scope filter shows this case's one crop record");
  check((await dataRow.textContent()).includes(expect.data.yield), "the row shows the kept yield " + expect.data.yield);
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-csv").click()]);
  const csvPath = shots + "/data.csv";
  await download.saveAs(csvPath);
  const csvText = (await import("node:fs")).readFileSync(csvPath, "utf8");
  check(csvText.startsWith("id,district,") && csvText.includes(expect.data.id), "the CSV export holds the row");
  await dataRow.locator("a").click();
  await page.locator('#row tr[data-field="notes"]').waitFor();
  await page.getByLabel("New value of notes").fill(expect.data.note);
  await page.locator('#row tr[data-field="notes"] button').click();
  await page.locator('#row tr[data-field="notes"] td.value', { hasText: expect.data.note }).waitFor();
  check((await page.locator('#row tr[data-field="notes"] td.device').textContent()).startsWith("server."),
    "the corrected field was written by the office (device server.<replica id>)");
  await page.screenshot({ path: shots + "/data.png", fullPage: true });

  // Audit: every change this operator made, named by the service from the token, not by anything the page said.
  await page.getByRole("link", { name: "Audit" }).click();
  await page.locator("#audit tbody tr").first().waitFor();
  const mine = (await page.locator(`#audit tr[data-actor="${expect.actor}"]`).allTextContents()).join("\n");
  check(mine.includes("POST /v1/admin/conflicts/" + expect.conflict.id + "/resolve") && mine.includes("api-token"),
    "the audit page names the operator for the resolution, signed in with an API token");
  check(mine.includes("PATCH /v1/admin/data/crop_record/" + expect.data.id),
    "the audit page names the operator for the data correction");
  await page.screenshot({ path: shots + "/audit.png", fullPage: true });

  check(errors.length === 0, "no script errors in the page" + (errors.length ? ": " + errors.join("; ") : ""));
} catch (e) {
  failed = true;
  console.error(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
