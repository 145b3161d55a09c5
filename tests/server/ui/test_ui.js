// test_ui.js — the carved web UI in headless Chromium (Debian's
// /usr/bin/chromium driven by npm playwright-core).  Exit 77 (meson: skip)
// when chromium or playwright-core is missing.
//
//   node tests/server/ui/test_ui.js PATH/TO/carved
//
// Starts carved on 127.0.0.1 (port 0) with an API key and checks, as a
// person would use it: no broken images on a first visit; the missing and the
// wrong key told apart; keyboard order and keyboard-only submission; the job
// id in the URL, a reload showing the finished SVG large and above the fold;
// the recent-jobs list; before/after and zoom; corrections (pick the vehicle,
// an erase box) re-run with those options; every download; a rejected
// upload announced (role=alert) while the previous result stays; a phone
// viewport without sideways scrolling.  Screenshots go to $CARVED_UI_SHOTS
// (default $TMPDIR/carved-ui): ui-desktop.jpg and ui-phone.jpg (docs/ keeps a
// copy: CARVED_UI_SHOTS=docs node tests/server/ui/test_ui.js build/tools/carved).
// Last line: "N passed, N failed".
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const H = require('./harness');
const chromium = H.playwright();

const carved = path.resolve(process.argv[2] || 'build/tools/carved');
const data = process.env.CARVE_TEST_DATA || path.join(__dirname, '..', '..', 'data');
const sample = path.join(data, 'samples', 'sedan_black_side.jpg');
const shots = process.env.CARVED_UI_SHOTS || path.join(os.tmpdir(), 'carved-ui');
const KEY = 'ui-test-key';
const C = H.counter('ui');
const check = C.check;

function startCarved(dir, extra) {
  return H.startCarved(carved, dir, ['--api-key', KEY, '--workers', '1'].concat(extra || []));
}

async function apiJson(base, p) {
  const r = await fetch(base + p, { headers: { Authorization: 'Bearer ' + KEY } });
  return r.json();
}

// visible <img> elements that failed to load (a broken-image icon on screen)
async function brokenImages(page) {
  return page.$$eval('img', (imgs) => imgs.filter((i) => i.offsetParent !== null && (!i.getAttribute('src') ||
    (i.complete && i.naturalWidth === 0))).map((i) => i.id || i.alt));
}

async function noSideScroll(page) {
  return page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth + 1);
}

async function waitDone(page) {
  await page.waitForFunction(() => /^(Done|Failed|Cancelled)/.test(document.getElementById('status').textContent),
                             null, { timeout: 150000 });
  return page.textContent('#status');
}

async function download(page, click) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), click()]);
  const p = await dl.path();
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(p) };
}

async function desktop(browser, base) {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(base + '/');

  // first visit: no key yet — a plain message, announced, and no broken image
  await page.waitForSelector('#error:not([hidden])', { timeout: 10000 });
  check(await page.getAttribute('#error', 'role') === 'alert', 'errors are role=alert');
  check(/needs an API key/.test(await page.textContent('#error')), 'missing key: ' + await page.textContent('#error'));
  check((await brokenImages(page)).length === 0, 'no broken images on a first visit: ' + await brokenImages(page));

  // a wrong key is told apart from a missing one
  await page.click('#keybox summary');
  await page.fill('#apikey', 'wrong-key');
  await page.dispatchEvent('#apikey', 'change');
  await page.waitForFunction(() => /did not accept/.test(document.getElementById('error').textContent), null, { timeout: 10000 });
  check(true, 'wrong key told apart');
  await page.fill('#apikey', KEY);
  await page.dispatchEvent('#apikey', 'change');
  await page.waitForFunction(() => document.querySelectorAll('#preset option').length >= 3, null, { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById('error').hidden, null, { timeout: 10000 });
  check(await page.evaluate(() => localStorage.getItem('carve.apikey')) === null, 'key not stored without "remember"');
  check(/\S/.test(await page.textContent('#preset-help')), 'preset has a description');

  // keyboard order: the photo first, settings next, the key last
  await page.evaluate(() => document.activeElement.blur());
  await page.focus('body');
  const order = [];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName));
  }
  check(order.indexOf('drop') >= 0 && order.indexOf('drop') < order.indexOf('preset'), 'tab order: ' + order.join(' '));
  check(!order.slice(0, 6).includes('apikey'), 'the key field is not an early tab stop: ' + order.join(' '));

  // keyboard-only submission: choose the photo, then Enter on "Carve it"
  await page.setInputFiles('#file', sample);
  check(await page.evaluate(() => document.activeElement.id) === 'go', 'focus on "Carve it" after choosing a photo');
  check((await brokenImages(page)).length === 0, 'photo preview loads');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /#\/jobs\/[0-9a-f]{32}$/.test(location.hash), null, { timeout: 20000 });
  const id1 = (await page.evaluate(() => location.hash)).split('/').pop();
  check(/^[0-9a-f]{32}$/.test(id1), 'job id in the URL');
  check(await page.getAttribute('#bar', 'aria-label') !== null, 'progress bar has a name');
  const st1 = await waitDone(page);
  check(st1.startsWith('Done'), 'job done: ' + st1 + ' ' + await page.textContent('#error'));

  // reload: the finished SVG comes back, large and above the fold
  await page.reload();
  await page.waitForFunction(() => { const i = document.getElementById('v-svg'); return !i.hidden && i.naturalWidth > 0; },
                             null, { timeout: 20000 });
  const box = await page.$eval('#canvas', (c) => { const r = c.getBoundingClientRect(); return [r.top, r.width, r.height]; });
  check(box[0] < 200 && box[1] >= 700 && box[2] >= 400, 'result large and above the fold: top/width/height ' + box);
  check((await brokenImages(page)).length === 0, 'no broken images after a reload: ' + await brokenImages(page));
  await page.waitForFunction((id) => !!document.querySelector('#recent-list li[data-id="' + id + '"]'), id1, { timeout: 10000 });
  check(true, 'the job is in the recent list');

  // before/after and zoom: one transform for photo and illustration
  await page.fill('#split', '0');
  await page.dispatchEvent('#split', 'input');
  const clip0 = await page.$eval('#v-svg', (i) => i.style.clipPath);
  await page.fill('#split', '100');
  await page.dispatchEvent('#split', 'input');
  const clip100 = await page.$eval('#v-svg', (i) => i.style.clipPath);
  check(/inset\(0(px)? 0(px)? 0(px)? 0%\)/.test(clip0) && /100%/.test(clip100), 'before/after slider: ' + clip0 + ' / ' + clip100);
  const t0 = await page.$eval('#pan', (p) => p.style.transform);
  await page.click('#zoom-in');
  const t1 = await page.$eval('#pan', (p) => p.style.transform);
  const sc = (t) => parseFloat((t.match(/scale\(([\d.]+)\)/) || [0, 0])[1]);
  check(sc(t1) > sc(t0) * 1.2, 'zoom in: ' + t0 + ' -> ' + t1);
  check(await page.$eval('#v-photo', (i) => i.parentElement.id) === 'pan' &&
        await page.$eval('#v-svg', (i) => i.parentElement.id) === 'pan', 'photo and SVG share the zoom');
  await page.click('#zoom-fit');
  await page.fill('#split', '50');
  await page.dispatchEvent('#split', 'input');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(shots, 'ui-desktop.jpg'), type: 'jpeg', quality: 80 });

  // downloads: SVG and PNG named after the photo, and each vector format offered
  const svg = await download(page, () => page.click('#dl-svg'));
  check(svg.name === 'sedan_black_side.svg' && svg.bytes.toString('utf8').includes('</svg>'), 'SVG download ' + svg.name);
  await page.fill('#png-width', '640');
  const png = await download(page, () => page.click('#dl-png'));
  check(png.name === 'sedan_black_side.png' && png.bytes.slice(1, 4).toString() === 'PNG' && png.bytes.readUInt32BE(16) === 640,
        'PNG download ' + png.name + ' width ' + (png.bytes.length > 20 ? png.bytes.readUInt32BE(16) : 0));
  const formats = await page.$$eval('#dl-vector button', (bs) => bs.map((b) => b.textContent.toLowerCase()));
  const magic = { pdf: '%PDF', eps: '%!PS', dxf: '0' };
  for (const f of formats) {
    const d = await download(page, () => page.click('#dl-vector button:text-is("' + f.toUpperCase() + '")'));
    check(d.name === 'sedan_black_side.' + f && d.bytes.toString('latin1').trimStart().startsWith(magic[f] || ''),
          f + ' download ' + d.name);
  }
  console.error('vector formats offered: ' + (formats.join(', ') || 'none'));

  // corrections: pick the vehicle (when the server has `subject`) and an erase box, run again
  const hasSubject = await page.isVisible('input[name=tool][value=subject]');
  const c = await page.$eval('#canvas', (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });
  if (hasSubject) {
    await page.check('input[name=tool][value=subject]');
    await page.mouse.click(c[0] + c[2] * 0.5, c[1] + c[3] * 0.55);
  }
  await page.check('input[name=tool][value=box]');
  await page.mouse.move(c[0] + c[2] * 0.1, c[1] + c[3] * 0.1);
  await page.mouse.down();
  await page.mouse.move(c[0] + c[2] * 0.2, c[1] + c[3] * 0.2, { steps: 4 });
  await page.mouse.up();
  check(/1 erased area/.test(await page.textContent('#fix-summary')), 'erase box drawn: ' + await page.textContent('#fix-summary'));
  await page.click('#rerun');
  await page.waitForFunction((id) => /#\/jobs\/[0-9a-f]{32}$/.test(location.hash) && !location.hash.endsWith(id), id1,
                             { timeout: 20000 });
  const id2 = (await page.evaluate(() => location.hash)).split('/').pop();
  const st2 = await waitDone(page);
  check(st2.startsWith('Done'), 'corrected run done: ' + st2 + ' ' + await page.textContent('#error'));
  const job2 = await apiJson(base, '/v1/jobs/' + id2);
  check(/^\d+,\d+,\d+,\d+$/.test(job2.options.erase || ''), 'erase box sent as an option: ' + JSON.stringify(job2.options));
  if (hasSubject) check(/^\d+,\d+$/.test(job2.options.subject || ''), 'vehicle pick sent as subject: ' + JSON.stringify(job2.options));
  else console.error('server has no subject option: the vehicle pick is not offered');

  // side by side: compare the two runs
  await page.waitForFunction(() => document.querySelectorAll('#recent-list li').length >= 2, null, { timeout: 10000 });
  const cmp = await page.$$('#recent-list button:text-is("Compare")');
  for (const b of cmp.slice(0, 2)) await b.click();
  await page.waitForFunction(() => [...document.querySelectorAll('#side-row img')].filter((i) => i.naturalWidth > 0).length >= 2,
                             null, { timeout: 10000 });
  check(true, 'two runs side by side');

  // a rejected upload is announced and the previous result stays
  const bad = path.join(os.tmpdir(), 'carve-ui-not-a-photo.jpg');
  fs.writeFileSync(bad, 'this is not a photo\n');
  await page.setInputFiles('#file', bad);
  await page.click('#go');
  await page.waitForFunction(() => /not a photo carve can read/.test(document.getElementById('error').textContent), null,
                             { timeout: 10000 });
  check(await page.isVisible('#error'), 'rejected upload announced');
  fs.rmSync(bad, { force: true });

  check(consoleErrors.length === 0, 'no console errors: ' + consoleErrors.join(' | '));
  await page.close();
  return id1;
}

async function phone(browser, base, id) {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/');
  await page.waitForTimeout(300);
  check(await noSideScroll(page), 'phone: no sideways scrolling on a first visit');
  await page.goto(base + '/#/jobs/' + id);
  await page.waitForFunction(() => { const i = document.getElementById('v-svg'); return !i.hidden && i.naturalWidth > 0; },
                             null, { timeout: 20000 });
  await page.waitForTimeout(300);
  check(await noSideScroll(page), 'phone: no sideways scrolling with a result');
  const top = await page.$eval('#canvas', (c) => c.getBoundingClientRect().top);
  check(top >= 0 && top < 844, 'phone: the result is on screen: top ' + top);
  await page.screenshot({ path: path.join(shots, 'ui-phone.jpg'), type: 'jpeg', quality: 80 });
  await page.close();
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carved-ui-'));
  const srv = await startCarved(dir);
  const base = 'http://127.0.0.1:' + srv.port;
  process.on('exit', () => { try { srv.proc.kill('SIGKILL'); } catch (e) { /* gone */ } });
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carved-ui-profile-'));
  const browser = await H.launch(chromium, userDir, { acceptDownloads: true });
  try {
    const id = await desktop(browser, base);
    await phoneWithKey(browser, base, id);
  } finally {
    await browser.close();
    srv.proc.kill('SIGTERM');
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  console.error('screenshots: ' + shots);
  fs.rmSync(dir, { recursive: true, force: true });
}

// the key was not remembered (sessionStorage is per tab): a new tab gets it
// for this tab only, as a user typing it again would
async function phoneWithKey(browser, base, id) {
  await browser.addInitScript((k) => { if (!sessionStorage.getItem('carve.apikey')) sessionStorage.setItem('carve.apikey', k); }, KEY);
  await phone(browser, base, id);
}

H.run(main, C);
