// test_ui.js — the carved web UI in headless Chromium (Debian's
// /usr/bin/chromium driven by npm playwright-core).  Exit 77 (meson: skip)
// when chromium or playwright-core is missing.
//
//   node tests/server/ui/test_ui.js PATH/TO/carved
//
// Starts carved on 127.0.0.1 (port 0) with an API key, types the key into
// the UI, drops a sample photo, waits for "done", checks the original, the
// phase images and the SVG are shown and that the download link gives the
// SVG.  A screenshot goes to $CARVED_UI_SCREENSHOT (default
// $TMPDIR/carved-ui.png).  Last line: "N passed, N failed".
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let chromium;
try {
  ({ chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core')));
} catch (e) {
  console.log('skip: playwright-core is not installed (cd tests/server/ui && npm ci)');
  process.exit(77);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log('skip: ' + CHROMIUM + ' not found (apt-get install chromium)');
  process.exit(77);
}

const carved = path.resolve(process.argv[2] || 'build/tools/carved');
const data = process.env.CARVE_TEST_DATA || path.join(__dirname, '..', '..', 'data');
const sample = path.join(data, 'samples', 'sedan_black_side.jpg');
const shot = process.env.CARVED_UI_SCREENSHOT || path.join(os.tmpdir(), 'carved-ui.png');
let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.error('FAIL ui: ' + what); }
}

async function startCarved(dir, engineArgs) {
  const portFile = path.join(dir, 'port');
  const log = fs.openSync(path.join(dir, 'carved.log'), 'a');
  const p = spawn(carved, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), '--port-file', portFile,
                           '--api-key', 'ui-test-key', '--workers', '1'].concat(engineArgs),
                  { stdio: ['ignore', 'ignore', log] });
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile)) return { proc: p, port: parseInt(fs.readFileSync(portFile, 'utf8'), 10) };
    if (p.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  p.kill('SIGKILL');
  throw new Error('carved did not start');
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carved-ui-'));
  // the real pipeline when it is built (phase images), else the synthetic engine
  let srv = await startCarved(dir, []);
  const base = 'http://127.0.0.1:' + srv.port;
  const ready = await (await fetch(base + '/readyz')).json();
  if (!ready.pipeline) {
    srv.proc.kill('SIGTERM');
    srv = await startCarved(dir, ['--engine', 'synthetic', '--synthetic-ms', '500']);
  }
  const url = 'http://127.0.0.1:' + srv.port + '/';
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carved-ui-profile-'));
  process.on('exit', () => { try { srv.proc.kill('SIGKILL'); } catch (e) { /* gone */ } });
  // a fresh profile (--user-data-dir) through launchPersistentContext
  const browser = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(url);
    // without the key the UI says so
    await page.waitForSelector('#error:not([hidden])', { timeout: 10000 });
    check(/API key/.test(await page.textContent('#error')), 'asks for the API key');
    consoleErrors.length = 0; // the expected 401s of the first load without a key
    await page.fill('#apikey', 'ui-test-key');
    await page.dispatchEvent('#apikey', 'change');
    await page.waitForFunction(() => document.querySelectorAll('#preset option').length >= 3, null, { timeout: 10000 });
    const presets = await page.$$eval('#preset option', (os_) => os_.map((o) => o.value));
    check(presets.includes('poster') && presets.includes('illustration'), 'presets listed: ' + presets);
    const palettes = await page.$$eval('#palette option', (os_) => os_.length);
    check(palettes >= 1, 'palette choices: ' + palettes);
    await page.waitForFunction(() => document.getElementById('error').hidden, null, { timeout: 10000 });
    await page.selectOption('#preset', 'poster');
    await page.setInputFiles('#file', sample);
    check(!(await page.isDisabled('#go')), 'go enabled after choosing a photo');
    await page.click('#go');
    await page.waitForFunction(() => /^(done|failed|cancelled)/.test(document.getElementById('status').textContent),
                               null, { timeout: 150000 });
    const status = await page.textContent('#status');
    check(await page.$eval('#preset', (p) => p.value) === 'poster', 'preset kept');
    check(status.startsWith('done'), 'job done in the UI: ' + status + ' ' + (await page.textContent('#error')));
    check(await page.$eval('#bar', (b) => b.value) === 1, 'progress bar full');
    const logLines = await page.$$eval('#log li', (l) => l.length);
    check(logLines >= 1, 'live log lines: ' + logLines);
    await page.waitForFunction(() => document.getElementById('v-svg').naturalWidth > 0, null, { timeout: 10000 });
    check(await page.$eval('#v-original', (i) => i.naturalWidth) > 0, 'original shown');
    if (ready.pipeline) {
      const phases = await page.$$eval('.phase:not([hidden]) img', (imgs) => imgs.filter((i) => i.src).length);
      check(phases >= 1, 'phase images shown: ' + phases);
    }
    check(await page.isVisible('#download'), 'download link visible');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = path.join(dir, 'dl.svg');
    await dl.saveAs(saved);
    const svg = fs.readFileSync(saved, 'utf8');
    check(svg.trimStart().startsWith('<svg') && svg.includes('</svg>'), 'downloaded file is the SVG');
    check(/^carve-[0-9a-f]{8}\.svg$/.test(dl.suggestedFilename()), 'download name ' + dl.suggestedFilename());
    await page.waitForTimeout(300);
    await page.screenshot({ path: shot, fullPage: true });
    console.error('screenshot: ' + shot);
    check(consoleErrors.length === 0, 'no console errors: ' + consoleErrors.join(' | '));
  } finally {
    await browser.close();
    srv.proc.kill('SIGTERM');
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().then(() => {
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
}, (e) => {
  console.error(e);
  console.log(passed + ' passed, ' + (failed + 1) + ' failed');
  process.exit(1);
});
