// harness.js — the start-up both UI tests share: playwright-core and Debian's
// /usr/bin/chromium (exit 77, meson's skip, when either is missing), carved
// on 127.0.0.1 port 0, a headless browser profile, the pass/fail count and
// the last line "N passed, N failed".
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// playwright-core's chromium, or exit 77
function playwright() {
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
  return chromium;
}

// carved on 127.0.0.1:0 with its data in dir/data and its log in
// dir/carved.log; resolves to { proc, port } once it wrote its port file
async function startCarved(carved, dir, args) {
  const portFile = path.join(dir, 'port');
  const log = fs.openSync(path.join(dir, 'carved.log'), 'a');
  const p = spawn(carved, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), '--port-file', portFile]
    .concat(args || []), { stdio: ['ignore', 'ignore', log] });
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile)) return { proc: p, port: parseInt(fs.readFileSync(portFile, 'utf8'), 10) };
    if (p.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  p.kill('SIGKILL');
  throw new Error('carved did not start');
}

// headless chromium with a fresh profile in userDir (options added to ours)
function launch(chromium, userDir, options) {
  return chromium.launchPersistentContext(userDir, Object.assign({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  }, options || {}));
}

// check(cond, what) counting passes and failures (failures printed with label)
function counter(label) {
  const c = { passed: 0, failed: 0 };
  c.check = (cond, what) => {
    if (cond) c.passed++;
    else { c.failed++; console.error('FAIL ' + label + ': ' + what); }
  };
  return c;
}

// runs main, prints the last line and exits 0 only when nothing failed
function run(main, c) {
  main().then(() => {
    console.log(c.passed + ' passed, ' + c.failed + ' failed');
    process.exit(c.failed ? 1 : 0);
  }, (e) => {
    console.error(e);
    console.log(c.passed + ' passed, ' + (c.failed + 1) + ' failed');
    process.exit(1);
  });
}

module.exports = { playwright, startCarved, launch, counter, run };
