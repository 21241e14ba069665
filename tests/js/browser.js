// Drives headless Chromium over the DevTools protocol (on a pipe, so nothing but Node.js
// itself is needed) to watch the explorer page as a person would.
//
//   node browser.js <chromium> <explorer url> <screenshot.png> <seconds>
//
// It loads the page, prints `ready` once the page is connected to the node, then every
// 100 ms reads the transaction rows (`<tr data-tx data-status>`) and prints each status
// change as `tx <hash> <status>`. Once a transaction it first saw before it was verified
// shows `verified` (the page followed it live), it saves a 1280x900 screenshot, prints `done`
// and exits 0; after <seconds> without one it exits 1.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");

const [chromium, url, png, seconds] = process.argv.slice(2);
if (!seconds) {
  console.error("usage: browser.js <chromium> <url> <screenshot.png> <seconds>");
  process.exit(2);
}

const profile = fs.mkdtempSync("/tmp/ferry-chromium-");
const browser = spawn(
  chromium,
  [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--remote-debugging-pipe",
    `--user-data-dir=${profile}`,
    "about:blank",
  ],
  { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] }
);
const [toBrowser, fromBrowser] = [browser.stdio[3], browser.stdio[4]];

// one DevTools call: a JSON message ended by NUL, answered by the message with its id
let nextId = 1;
const waiting = new Map();
let buffered = "";
fromBrowser.on("data", (chunk) => {
  buffered += chunk.toString();
  let end;
  while ((end = buffered.indexOf("\0")) >= 0) {
    const msg = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    const w = waiting.get(msg.id);
    if (w) {
      waiting.delete(msg.id);
      msg.error ? w.reject(new Error(JSON.stringify(msg.error))) : w.resolve(msg.result);
    }
  }
});
function call(method, params = {}, sessionId) {
  const id = nextId++;
  toBrowser.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

async function main() {
  const { targetId } = await call("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await call("Target.attachToTarget", { targetId, flatten: true });
  const page = (method, params) => call(method, params, sessionId);
  await page("Emulation.setDeviceMetricsOverride", {
    width: 1280,
    height: 900,
    deviceScaleFactor: 1,
    mobile: false,
  });
  await page("Page.navigate", { url });
  const evaluate = async (expression) =>
    (await page("Runtime.evaluate", { expression, returnByValue: true })).result.value;

  const deadline = Date.now() + Number(seconds) * 1000;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let ready = false;
  const seen = new Map();
  const live = new Set(); // first seen before verified: the page followed them
  while (Date.now() < deadline) {
    if (!ready && (await evaluate("document.getElementById('conn')?.textContent")) === "connected") {
      ready = true;
      console.log("ready");
    }
    const rows = await evaluate(
      "[...document.querySelectorAll('tr[data-tx]')].map(r => [r.dataset.tx, r.dataset.status])"
    );
    for (const [hash, status] of rows || []) {
      if (!seen.has(hash) && status !== "verified") live.add(hash);
      if (seen.get(hash) !== status) {
        seen.set(hash, status);
        console.log(`tx ${hash} ${status}`);
      }
    }
    if ([...live].some((h) => seen.get(h) === "verified")) {
      await sleep(1500); // the rest of the page settles on the same state
      const shot = await page("Page.captureScreenshot", { format: "png" });
      fs.writeFileSync(png, Buffer.from(shot.data, "base64"));
      console.log("done");
      return 0;
    }
    await sleep(100);
  }
  console.error(ready ? "no transaction went on to verified" : "the page never connected");
  return 1;
}

// stops the browser, waits for it to go, and removes its profile directory
function finish(code) {
  const done = () => {
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(code);
  };
  if (browser.exitCode !== null || browser.signalCode !== null) return done();
  browser.once("exit", done);
  browser.kill();
}

main().then(finish, (e) => {
  console.error(e.stack || String(e));
  finish(1);
});
