// test_tunings_ui.js — the Tunings page in headless Chromium (Debian's
// /usr/bin/chromium driven by npm playwright-core).  Exit 77 (meson: skip)
// when either is missing.  Uploads two photo/reference pairs (references
// made by carve with options the tuner is not told), follows the trials
// live, checks the score plot, the best render beside its reference, and
// saves the result as a preset.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const H = require('./harness');
const chromium = H.playwright();
const carved = path.resolve(process.argv[2] || 'build/tools/carved');
const carve = path.join(path.dirname(carved), 'carve');
const data = process.env.CARVE_TEST_DATA || path.join(__dirname, '..', '..', 'data');
const C = H.counter('tunings-ui');
const check = C.check;

function startCarved(dir) {
  return H.startCarved(carved, dir, ['--workers', '1']);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carved-tui-'));
  const photos = [], refs = [];
  for (const name of ['sedan_black_side', 'pickup_white_street']) {
    const p = path.join(data, 'samples', name + '.jpg');
    const r = path.join(dir, name + '.svg');
    execFileSync(carve, ['run', p, '-o', r, '-q', '--work-size', '256', '--colors', '5', '--flatten', '3']);
    photos.push(p);
    refs.push(r);
  }
  const srv = await startCarved(dir);
  const base = 'http://127.0.0.1:' + srv.port;
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carved-tui-profile-'));
  process.on('exit', () => { try { srv.proc.kill('SIGKILL'); } catch (e) { /* gone */ } });
  const browser = await H.launch(chromium, userDir, { viewport: { width: 1200, height: 1000 } });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base + '/tunings.html');
    await page.setInputFiles('#photos', photos);
    await page.setInputFiles('#refs', refs.slice(0, 1));
    check(/has no reference/.test(await page.textContent('#pairs')) && await page.isDisabled('#start'),
      'an unpaired photo is named and blocks the start');
    await page.setInputFiles('#refs', refs);
    check(await page.isEnabled('#start'), 'two pairs: start enabled');
    await page.fill('#trials', '4');
    await page.fill('#worksize', '256');
    await page.click('#start');
    await page.waitForSelector('#save:not([hidden])', { timeout: 120000 });
    const dots = await page.$$eval('#plot circle', (c) => c.length);
    check(dots === 4 + 2 + 1, 'one plot point per trial: ' + dots);
    check(await page.$$eval('#plot polyline', (p) => p.length) === 1, 'best-score line drawn');
    check(/best \d/.test(await page.textContent('#best')), 'best score shown');
    const preset = JSON.parse(await page.textContent('#preset'));
    check('colors' in preset, 'best preset shown');
    await page.waitForSelector('#compare:not([hidden])', { timeout: 60000 });
    check(await page.$eval('#c-render', (i) => i.src.startsWith('blob:')) &&
          await page.$eval('#c-ref', (i) => i.src.startsWith('blob:')), 'best render beside its reference');
    await page.fill('#pname', 'ui_house');
    await page.click('#psave');
    await page.waitForFunction(() => /saved/.test(document.getElementById('psaved').textContent), null, { timeout: 10000 });
    const list = await (await fetch(base + '/v1/presets')).json();
    check(list.installed.includes('ui_house'), 'preset saved: ' + JSON.stringify(list));
    await page.screenshot({ path: path.join(os.tmpdir(), 'carved-tunings-ui.png'), fullPage: true });
    check(errors.length === 0, 'no console errors: ' + errors.join(' | '));
  } finally {
    await browser.close();
    srv.proc.kill('SIGTERM');
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

H.run(main, C);
