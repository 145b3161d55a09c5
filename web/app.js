// carved web UI: plain JavaScript, no build step, no network beyond carved.
// Talks to the /v1 API (docs/API.md).  The job id lives in the URL
// (#/jobs/ID), so a reload resumes a running job or shows a finished one.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  file: null, fileName: '', job: null, es: null, urls: [], report: null, options: null,
  img: { w: 0, h: 0 }, view: { s: 1, tx: 0, ty: 0 }, fix: { subject: null, boxes: [] },
  lastGood: null, side: [], formats: [],
};

// ---- plain words ------------------------------------------------------------
const PRESETS = {
  illustration: 'Clean shapes and a moderate number of colours — a good start.',
  poster: 'Bold, flat and few colours, like a screen print.',
  detailed: 'More colours and smaller shapes, closer to the photo.',
};
const STAGES = {
  prepare: 'Reading the photo', load: 'Reading the photo', detect: 'Finding licence plates and text',
  objects: 'Finding the vehicle', subject: 'Choosing the vehicle', inpaint: 'Removing licence plates and text',
  matte: 'Removing the background', flatten: 'Flattening the photo', edges: 'Finding edges',
  palette: 'Choosing colours', upscale: 'Enlarging', quantize: 'Painting with the palette', outline: 'Drawing outlines',
  trace: 'Drawing the shapes', write: 'Writing the file', sanitize: 'Removing licence plates and text',
  steer: 'Removing the background', chroma: 'Choosing colours', vector: 'Drawing the shapes',
};
const STEP_NAMES = { sanitize: 'Licence plates and text removed', matte: 'Background removed',
  steer: 'Flattened', chroma: 'Colours' };
const STATE_WORDS = { queued: 'Waiting for a free worker…', running: 'Working…', done: 'Done', failed: 'Failed',
  cancelled: 'Cancelled' };
function stageWords(stage) {
  if (!stage) return '';
  const key = String(stage).split(/[/.: ]/).pop();
  return STAGES[key] || STAGES[stage] || stage;
}

// ---- the API key: kept for this tab only unless the user asks -------------------
function apiKey() { return $('apikey').value.trim(); }
function saveKey() {
  const k = apiKey();
  sessionStorage.setItem('carve.apikey', k);
  if ($('remember').checked && k) localStorage.setItem('carve.apikey', k);
  else localStorage.removeItem('carve.apikey');
}
function forgetKey() {
  $('apikey').value = '';
  $('remember').checked = false;
  sessionStorage.removeItem('carve.apikey');
  localStorage.removeItem('carve.apikey');
  setStatus('The key was forgotten on this device.');
}
function authed(path) {
  if (!apiKey() || !path) return path;
  return path + (path.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(apiKey());
}
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (apiKey()) h['Authorization'] = 'Bearer ' + apiKey();
  return h;
}

// ---- errors in plain words ------------------------------------------------------------
function friendly(status, code, msg) {
  const m = msg || '';
  if (status === 401) {
    return apiKey() ? 'The server did not accept this API key. Check it under "Server key" at the bottom of the page.'
                    : 'This server needs an API key. Enter it under "Server key" at the bottom of the page.';
  }
  if (code === 'too_many_pixels') {
    const n = m.match(/(\d+)\s*x\s*(\d+)/);
    const lim = m.match(/max_pixels\s*(\d+)/);
    const have = n ? (n[1] * n[2] / 1e6).toFixed(0) + ' Mpx' : 'too large';
    const limit = lim ? (lim[1] / 1e6).toFixed(0) + ' Mpx' : 'the server\'s limit';
    return 'The image is ' + have + '; the limit is ' + limit + '. Resize it, or ask the operator to raise max_pixels.';
  }
  if (code === 'too_large' || status === 413) return 'The file is larger than this server accepts. Resize or compress it and try again.';
  if (code === 'unsupported_media_type' || status === 415) return 'This file is not a photo carve can read. Use JPEG, PNG, WebP, HEIC, TIFF or GIF.';
  if (code === 'queue_full' || status === 429) return 'The server is busy. Try again in a moment.';
  if (code === 'decode') return 'The photo could not be read (' + m.replace(/^[^:]*:\s*/, '') + '). Is the file complete?';
  if (code === 'invalid_option' || code === 'bad_options') return 'A setting was not accepted: ' + m.replace(/^request:\s*/, '');
  if (code === 'invalid_palette') return 'The palette file was not accepted: ' + m;
  if (status === 404) return 'That image is no longer on the server (it may have expired).';
  if (status >= 500) return 'The server had a problem (' + (m || status) + '). Try again; if it persists, tell the operator.';
  return m || ('The server answered ' + status + '.');
}
function jobError(err) {
  if (!err) return 'The run failed.';
  const kinds = { timeout: 'The run took too long and was stopped. Try a smaller photo or a simpler style.',
    decode: 'The photo could not be read. Is the file complete?',
    too_many_colors: 'The image has too many colours for tracing. Choose fewer colours.' };
  return kinds[err.code] || ('The run failed: ' + err.message);
}

async function api(method, path, body, extraHeaders) {
  let r;
  try {
    r = await fetch(path, { method, body, headers: headers(extraHeaders) });
  } catch (e) {
    const err = new Error('The server cannot be reached. Is carved running?');
    err.status = 0;
    throw err;
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { raw: text }; }
  if (!r.ok) {
    const e = data && data.error ? data.error : {};
    const err = new Error(friendly(r.status, e.code, e.message));
    err.status = r.status;
    err.code = e.code;
    throw err;
  }
  return data;
}

async function fetchBlob(path) {
  const r = await fetch(path, { headers: headers() });
  if (!r.ok) return null;
  return r.blob();
}
function keepUrl(blob) {
  const u = URL.createObjectURL(blob);
  state.urls.push(u);
  return u;
}

function showError(msg) {
  $('error').textContent = msg || '';
  $('error').hidden = !msg;
}
function setStatus(msg) { $('status').textContent = msg; }
function showWarning(msg) {
  $('warning').textContent = msg || '';
  $('warning').hidden = !msg;
}
function logLine(level, msg) {
  const li = document.createElement('li');
  li.className = level;
  li.textContent = msg;
  $('log').appendChild(li);
  $('log').scrollTop = $('log').scrollHeight;
}

// ---- names of photos (the server keeps bytes, not file names) -----------------------
function names() { try { return JSON.parse(localStorage.getItem('carve.names') || '{}'); } catch (e) { return {}; } }
function rememberName(id, name) {
  const n = names();
  n[id] = name;
  const ids = Object.keys(n);
  if (ids.length > 200) delete n[ids[0]];
  localStorage.setItem('carve.names', JSON.stringify(n));
}
function stemOf(id) {
  const n = names()[id] || ('carve-' + id.slice(0, 8));
  return n.replace(/\.[A-Za-z0-9]{1,5}$/, '').replace(/[^A-Za-z0-9_.-]+/g, '_') || 'carve';
}

// ---- settings -------------------------------------------------------------------
async function loadChoices() {
  try {
    const o = await api('GET', '/v1/options');
    state.options = o.options;
    const preset = o.options.find((x) => x.key === 'preset');
    const keep = $('preset').value;
    $('preset').replaceChildren();
    for (const name of (preset && preset.choices ? preset.choices.split('|') : ['illustration'])) {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      const opt = new Option(label, name);
      if (keep ? name === keep : preset && name === preset.default) opt.selected = true;
      $('preset').appendChild(opt);
    }
    presetHelp();
    const hasSubject = o.options.some((x) => x.key === 'subject');
    document.querySelector('input[name=tool][value=subject]').closest('label').hidden = !hasSubject;
    const fmt = o.options.find((x) => x.key === 'format');
    state.formats = fmt && fmt.choices ? fmt.choices.split('|').filter((f) => f !== 'svg' && f !== 'auto') : [];
    $('server-state').textContent = o.pipeline === false ? 'This server runs without the pipeline (test mode).' : '';
  } catch (e) {
    showError(e.message);
    return false;
  }
  await loadPalettes();
  showError('');
  return true;
}
function presetHelp() {
  const p = $('preset').value;
  $('preset-help').textContent = PRESETS[p] || 'A style saved on this server.';
}
async function loadPalettes() {
  try {
    const p = await api('GET', '/v1/palettes');
    const sel = $('palette');
    const keep = sel.value;
    sel.replaceChildren(new Option('Chosen from the photo', ''));
    for (const b of p.builtin) sel.appendChild(new Option(b.name + (b.description ? ' — ' + b.description : ''), b.name));
    for (const c of p.custom) {
      const o = new Option(c + ' (yours)', c);
      o.dataset.custom = '1';
      sel.appendChild(o);
    }
    sel.value = keep;
    if (sel.value !== keep) sel.value = '';
  } catch (e) { /* palettes not built: automatic only */ }
  paletteChanged();
}
async function paletteChanged() {
  const sel = $('palette');
  const name = sel.value;
  const opt = sel.selectedOptions[0];
  $('paldelete').hidden = !(opt && opt.dataset.custom);
  $('colors-field').hidden = !!name;
  $('colors-help').hidden = !!name;
  $('palette-help').textContent = name ? 'Every colour of this palette may be used; the number of colours does not apply.' : '';
  const sw = $('swatches');
  sw.replaceChildren();
  if (!name) return;
  try {
    const p = await api('GET', '/v1/palettes/' + encodeURIComponent(name));
    for (const c of p.colors || []) {
      const s = document.createElement('span');
      s.style.background = c.hex;
      s.title = (c.name ? c.name + ' ' : '') + c.hex;
      sw.appendChild(s);
    }
  } catch (e) { /* no swatches */ }
}
async function uploadPalette() {
  const name = $('palname').value.trim();
  const f = $('palfile').files[0];
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) { showError('The palette name may use letters, digits, _ and - (up to 64).'); return; }
  if (!f) { showError('Choose a palette file first.'); return; }
  try {
    await api('PUT', '/v1/palettes/' + name, await f.text(), { 'Content-Type': 'text/plain' });
    await loadPalettes();
    $('palette').value = name;
    paletteChanged();
    setStatus('Palette ' + name + ' added.');
    showError('');
  } catch (e) { showError(e.message); }
}
async function deletePalette() {
  const name = $('palette').value;
  if (!name) return;
  try {
    await api('DELETE', '/v1/palettes/' + encodeURIComponent(name));
    $('palette').value = '';
    await loadPalettes();
    setStatus('Palette ' + name + ' deleted.');
  } catch (e) { showError(e.message); }
}

// ---- the viewer: photo and illustration in one transformed layer ---------------------
function applyView() {
  const v = state.view;
  $('pan').style.transform = 'translate(' + v.tx + 'px,' + v.ty + 'px) scale(' + v.s + ')';
}
function fit() {
  const c = $('canvas');
  if (!state.img.w || !c.clientWidth) return;
  const s = Math.min(c.clientWidth / state.img.w, c.clientHeight / state.img.h);
  state.view = { s, tx: (c.clientWidth - state.img.w * s) / 2, ty: (c.clientHeight - state.img.h * s) / 2 };
  applyView();
}
function zoomAt(factor, cx, cy) {
  const v = state.view;
  const s = Math.min(32, Math.max(0.05, v.s * factor));
  const k = s / v.s;
  state.view = { s, tx: cx - (cx - v.tx) * k, ty: cy - (cy - v.ty) * k };
  applyView();
}
function zoomCenter(factor) { const c = $('canvas'); zoomAt(factor, c.clientWidth / 2, c.clientHeight / 2); }
function toImage(ev) {
  const r = $('canvas').getBoundingClientRect();
  const v = state.view;
  return [Math.round((ev.clientX - r.left - v.tx) / v.s), Math.round((ev.clientY - r.top - v.ty) / v.s)];
}
function setSize(w, h) {
  state.img = { w, h };
  for (const id of ['v-photo', 'v-svg']) { $(id).style.width = w + 'px'; $(id).style.height = h + 'px'; }
  const o = $('overlay');
  o.setAttribute('width', w); o.setAttribute('height', h); o.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
}
function split() {
  const p = Number($('split').value);
  $('v-svg').style.clipPath = 'inset(0 0 0 ' + p + '%)';
}
async function showPhoto(blob) {
  const url = keepUrl(blob);
  const img = $('v-photo');
  await new Promise((res) => { img.onload = res; img.onerror = res; img.src = url; });
  if (!img.naturalWidth) { img.removeAttribute('src'); return false; }
  setSize(img.naturalWidth, img.naturalHeight);
  $('drop').hidden = true;
  $('canvas').hidden = false;
  $('tools').hidden = false;
  img.hidden = false;
  fit();
  return true;
}
async function showSvg(blob) {
  const url = keepUrl(blob);
  const img = $('v-svg');
  await new Promise((res) => { img.onload = res; img.onerror = res; img.src = url; });
  if (!img.naturalWidth && !img.complete) return false;
  img.hidden = false;
  $('compare-wrap').hidden = !$('v-photo').src;
  split();
  return true;
}

// ---- detections and corrections over the photo ----------------------------------------
const SVGNS = 'http://www.w3.org/2000/svg';
function boxesOf(report) {
  // every {x,y,w,h} or {box:[x,y,w,h]} object in the report with a kind/class
  const out = [];
  const seen = new Set();
  (function walk(v, key) {
    if (!v || typeof v !== 'object') return;
    if (Array.isArray(v)) { for (const x of v) walk(x, key); return; }
    let b = null;
    if (Array.isArray(v.box) && v.box.length === 4) b = v.box;
    else if (['x', 'y', 'w', 'h'].every((k) => typeof v[k] === 'number')) b = [v.x, v.y, v.w, v.h];
    const kind = v.class || v.kind || (/subject/.test(key || '') ? 'vehicle' : null);
    if (b && kind) {
      const id = kind + b.join(',');
      if (!seen.has(id)) {
        seen.add(id);
        out.push({ kind: String(kind), box: b, score: v.score, chosen: /subject|chosen/.test(key || '') || v.chosen === true,
                   erased: v.erased });
      }
    }
    for (const k of Object.keys(v)) if (k !== 'box') walk(v[k], k);
  })(report, '');
  return out;
}
function kindClass(k) {
  if (/car|bus|truck|motor|bicycle|train|vehicle/.test(k)) return 'vehicle';
  if (/plate|text/.test(k)) return /plate/.test(k) ? 'plate' : 'text';
  if (/person|face/.test(k)) return k === 'face' ? 'face' : 'person';
  return 'text';
}
function drawOverlay() {
  const o = $('overlay');
  o.replaceChildren();
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    o.appendChild(e);
    return e;
  };
  const tool = currentTool();
  if (state.report && tool !== 'none') {
    for (const d of boxesOf(state.report)) {
      const [x, y, w, h] = d.box;
      const cls = kindClass(d.kind) + (d.chosen ? ' subject' : '');
      add('rect', { x, y, width: w, height: h, class: cls });
      add('text', { x: x + 3, y: Math.max(12, y - 4) }, d.kind + (d.score ? ' ' + Math.round(d.score * 100) + '%' : ''));
    }
  }
  for (const b of state.fix.boxes) add('rect', { x: b[0], y: b[1], width: b[2], height: b[3], class: 'erase' });
  if (state.fix.subject) add('circle', { cx: state.fix.subject[0], cy: state.fix.subject[1], r: 7 / state.view.s, class: 'pick' });
  const n = state.fix.boxes.length;
  $('fix-summary').textContent = (state.fix.subject ? 'Vehicle: the one at ' + state.fix.subject.join(', ') + '. ' : '') +
    (n ? n + ' erased area' + (n > 1 ? 's' : '') + '.' : '');
}
function currentTool() {
  const r = document.querySelector('input[name=tool]:checked');
  return r ? r.value : 'none';
}
function toolChanged() {
  const t = currentTool();
  const c = $('canvas');
  c.className = 'canvas' + (t !== 'none' ? ' tool-' + t : '');
  if (t !== 'none') $('split').value = 0; // corrections are made on the photo
  split();
  drawOverlay();
}
function eraseSquare(x, y, r) {
  const b = [Math.max(0, x - r), Math.max(0, y - r), 2 * r, 2 * r];
  const last = state.fix.boxes[state.fix.boxes.length - 1];
  if (last && Math.abs(last[0] - b[0]) < r / 2 && Math.abs(last[1] - b[1]) < r / 2) return;
  state.fix.boxes.push(b);
}
function restoreAt(x, y, r) {
  state.fix.boxes = state.fix.boxes.filter((b) => x + r < b[0] || x - r > b[0] + b[2] || y + r < b[1] || y - r > b[1] + b[3]);
}
function pointerSetup() {
  const c = $('canvas');
  let drag = null;
  c.addEventListener('pointerdown', (ev) => {
    c.setPointerCapture(ev.pointerId);
    const t = currentTool();
    const [x, y] = toImage(ev);
    drag = { t, x0: ev.clientX, y0: ev.clientY, ix: x, iy: y, tx: state.view.tx, ty: state.view.ty };
    const r = Math.max(4, Math.round(Math.max(state.img.w, state.img.h) / 60));
    if (t === 'subject') { state.fix.subject = [x, y]; drawOverlay(); }
    else if (t === 'brush') { eraseSquare(x, y, r); drawOverlay(); }
    else if (t === 'restore') { restoreAt(x, y, r); drawOverlay(); }
  });
  c.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const r = Math.max(4, Math.round(Math.max(state.img.w, state.img.h) / 60));
    const [x, y] = toImage(ev);
    if (drag.t === 'none') {
      state.view.tx = drag.tx + ev.clientX - drag.x0;
      state.view.ty = drag.ty + ev.clientY - drag.y0;
      applyView();
    } else if (drag.t === 'box') {
      drag.cur = [Math.min(drag.ix, x), Math.min(drag.iy, y), Math.abs(x - drag.ix), Math.abs(y - drag.iy)];
      drawOverlay();
      const e = document.createElementNS(SVGNS, 'rect');
      e.setAttribute('class', 'erase');
      ['x', 'y', 'width', 'height'].forEach((k, i) => e.setAttribute(k, drag.cur[i]));
      $('overlay').appendChild(e);
    } else if (drag.t === 'brush') { eraseSquare(x, y, r); drawOverlay(); }
    else if (drag.t === 'restore') { restoreAt(x, y, r); drawOverlay(); }
  });
  const end = () => {
    if (drag && drag.t === 'box' && drag.cur && drag.cur[2] >= 2 && drag.cur[3] >= 2) state.fix.boxes.push(clampBox(drag.cur));
    drag = null;
    drawOverlay();
  };
  c.addEventListener('pointerup', end);
  c.addEventListener('pointercancel', end);
  c.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const r = c.getBoundingClientRect();
    zoomAt(ev.deltaY < 0 ? 1.2 : 1 / 1.2, ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
}
function clampBox(b) {
  const x = Math.max(0, Math.min(state.img.w - 1, b[0])), y = Math.max(0, Math.min(state.img.h - 1, b[1]));
  return [x, y, Math.max(1, Math.min(state.img.w - x, b[2])), Math.max(1, Math.min(state.img.h - y, b[3]))];
}
function correctionOptions() {
  const o = {};
  if (state.fix.subject) o.subject = state.fix.subject.join(',');
  if (state.fix.boxes.length) o.erase = state.fix.boxes.map(clampBox).map((b) => b.join(',')).join(';');
  return o;
}

// ---- runs ------------------------------------------------------------------------------
function pickFile(f) {
  if (!f) return;
  state.file = f;
  state.fileName = f.name || 'photo';
  state.fix = { subject: null, boxes: [] };
  $('drop-title').textContent = f.name + ' (' + Math.round(f.size / 1024) + ' KiB)';
  $('go').disabled = false;
  showError('');
  resetResult();
  showPhoto(f).then((ok) => {
    if (!ok) { $('drop').hidden = false; $('canvas').hidden = true; $('tools').hidden = true; }
  });
  $('go').focus();
}
function resetResult() {
  $('v-svg').hidden = true;
  $('v-svg').removeAttribute('src');
  $('compare-wrap').hidden = true;
  $('downloads').hidden = true;
  $('fix').hidden = true;
  $('step-list').replaceChildren();
  state.report = null;
  showWarning('');
  drawOverlay();
}
function settingsOptions() {
  const o = { preset: $('preset').value };
  if ($('palette').value) o.palette = $('palette').value;
  else if ($('colors').value) o.colors = Number($('colors').value);
  return o;
}
async function submitJob(blob, name, options) {
  const fd = new FormData();
  fd.append('image', blob, name || 'photo');
  fd.append('options', JSON.stringify(options));
  return api('POST', '/v1/jobs', fd);
}
async function submit(extra) {
  if (!state.file) return;
  if (state.es) state.es.close();
  showError('');
  showWarning('');
  $('go').disabled = true;
  $('progress').hidden = false;
  $('log').replaceChildren();
  $('bar').value = 0;
  setStatus('Uploading…');
  const options = Object.assign(settingsOptions(), extra || {});
  let job;
  try {
    job = await submitJob(state.file, state.fileName, options);
  } catch (e) {
    showError(e.message);
    setStatus('');
    $('go').disabled = false;
    $('error').focus && $('error').focus();
    return;
  }
  rememberName(job.id, state.fileName);
  state.job = job;
  history.pushState(null, '', '#/jobs/' + job.id);
  $('status').focus();
  follow(job);
}
function running(on) {
  $('busy').hidden = !on;
  $('cancel').hidden = !on;
  $('go').disabled = on || !state.file;
}
function follow(job) {
  running(true);
  setStatus(STATE_WORDS[job.state] || job.state);
  const es = new EventSource(authed(job.urls.events));
  state.es = es;
  es.addEventListener('progress', (ev) => {
    const d = JSON.parse(ev.data);
    $('bar').value = d.progress;
    $('bar').setAttribute('aria-valuetext', Math.round(d.progress * 100) + ' percent');
    setStatus(Math.round(d.progress * 100) + '% — ' + stageWords(d.stage));
  });
  es.addEventListener('log', (ev) => {
    const d = JSON.parse(ev.data);
    logLine(d.level, d.msg);
  });
  es.addEventListener('state', (ev) => {
    const d = JSON.parse(ev.data);
    if (d.state === 'done' || d.state === 'failed' || d.state === 'cancelled') {
      es.close();
      finished(job, d.state);
    } else setStatus(STATE_WORDS[d.state] || d.state);
  });
  es.onerror = () => {
    api('GET', job.urls.self).then((j) => {
      if (j.state === 'done' || j.state === 'failed' || j.state === 'cancelled') { es.close(); finished(job, j.state); }
    }).catch((e) => { if (e.status === 404) { es.close(); running(false); showError(e.message); } });
  };
}
async function finished(job, st) {
  if (state.job && state.job.id !== job.id) return;
  running(false);
  let info = null;
  try { info = await api('GET', job.urls.self); } catch (e) { /* deleted */ }
  if (st !== 'done') {
    setStatus(STATE_WORDS[st]);
    if (st === 'failed') showError(jobError(info && info.error) + (state.lastGood ? ' Your previous result is still shown.' : ''));
    if (state.lastGood) await showResult(state.lastGood, true);
    return;
  }
  $('bar').value = 1;
  const t = info && info.timings && info.timings.total;
  setStatus('Done' + (t ? ' in ' + t.toFixed(1) + ' s' : '') + '.');
  await showResult(info || job, false);
  refreshRecent();
}
async function showResult(job, quiet) {
  const svg = await fetchBlob(job.urls.result);
  if (!svg) return;
  if (!$('v-photo').src || !$('v-photo').naturalWidth) {
    const orig = await fetchBlob(job.urls.artifacts.original);
    if (orig) await showPhoto(orig);
  }
  if (!state.img.w) { // no photo (e.g. expired original): size from the SVG
    const u = URL.createObjectURL(svg);
    const probe = new Image();
    await new Promise((res) => { probe.onload = res; probe.onerror = res; probe.src = u; });
    setSize(probe.naturalWidth || 800, probe.naturalHeight || 600);
    URL.revokeObjectURL(u);
    $('drop').hidden = true; $('canvas').hidden = false; $('tools').hidden = false;
    fit();
  }
  await showSvg(svg);
  state.lastGood = job;
  $('split').value = 50;
  split();
  const stem = stemOf(job.id);
  const a = $('dl-svg');
  a.href = URL.createObjectURL(svg);
  state.urls.push(a.href);
  a.download = stem + '.svg';
  a.textContent = 'SVG';
  $('report-link').href = '#/jobs/' + job.id + '/report';
  vectorButtons(job);
  $('downloads').hidden = false;
  $("fix").hidden = false;
  try { state.report = await api('GET', job.urls.report); } catch (e) { state.report = null; }
  drawOverlay();
  warnings(state.report);
  steps(job);
  if (!quiet) {
    $('viewer').scrollIntoView({ block: 'start', behavior: 'instant' });
    $('viewer').focus({ preventScroll: true });
  }
}
function warnings(rep) {
  const list = [];
  (function walk(v, k) {
    if (!v || typeof v !== 'object') return;
    if (Array.isArray(v)) { for (const x of v) walk(x, k); return; }
    for (const key of Object.keys(v)) {
      if ((key === 'warning' || key === 'warnings') && v[key]) {
        for (const w of [].concat(v[key])) list.push(typeof w === 'string' ? w : (w.message || JSON.stringify(w)));
      } else walk(v[key], key);
    }
  })(rep, '');
  const noVehicle = list.find((w) => /vehicle/i.test(w));
  showWarning(noVehicle ? 'No vehicle was found in this photo: carve kept the most prominent object instead. ' +
    'Use "Pick the vehicle" below to point at it, or erase what should go.' : (list[0] || ''));
}
async function steps(job) {
  const list = $('step-list');
  list.replaceChildren();
  for (const phase of ['sanitize', 'matte', 'steer', 'chroma']) {
    const b = await fetchBlob(job.urls.artifacts[phase]);
    if (!b) continue;
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = STEP_NAMES[phase];
    img.src = keepUrl(b);
    const cap = document.createElement('figcaption');
    cap.textContent = STEP_NAMES[phase];
    fig.append(img, cap);
    list.appendChild(fig);
  }
}
function vectorButtons(job) {
  const box = $('dl-vector');
  box.replaceChildren();
  for (const f of state.formats) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = f.toUpperCase();
    b.className = 'ghost';
    b.addEventListener('click', () => downloadFormat(job, f, b));
    box.appendChild(b);
  }
}
async function downloadFormat(job, fmt, btn) {
  btn.disabled = true;
  const old = btn.textContent;
  btn.textContent = fmt.toUpperCase() + '…';
  try {
    const orig = await fetchBlob(job.urls.artifacts.original);
    if (!orig) throw new Error('The original photo is no longer on the server.');
    const opts = Object.assign({}, job.options || {}, { format: fmt });
    const j = await submitJob(orig, names()[job.id] || 'photo', opts);
    let info = j;
    for (let i = 0; i < 600 && info.state !== 'done' && info.state !== 'failed' && info.state !== 'cancelled'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      info = await api('GET', j.urls.self);
    }
    if (info.state !== 'done') throw new Error(jobError(info.error));
    const blob = await fetchBlob(j.urls.result);
    saveBlob(blob, stemOf(job.id) + '.' + fmt);
    api('DELETE', j.urls.self).catch(() => {});
  } catch (e) { showError(e.message); }
  btn.textContent = old;
  btn.disabled = false;
}
function saveBlob(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
async function downloadPng() {
  const img = $('v-svg');
  const w = Math.max(16, Math.min(16384, Number($('png-width').value) || 2000));
  const h = Math.round(w * (state.img.h / state.img.w));
  const c = document.createElement('canvas');
  c.width = w; c.height = h;
  c.getContext('2d').drawImage(img, 0, 0, w, h);
  const blob = await new Promise((res) => c.toBlob(res, 'image/png'));
  if (blob) saveBlob(blob, stemOf(state.lastGood.id) + '.png');
}
async function cancel() {
  if (!state.job) return;
  try {
    await api('DELETE', state.job.urls.self);
    setStatus('Cancelled.');
  } catch (e) { showError(e.message); }
  if (state.es) state.es.close();
  running(false);
}
async function rerun() {
  let blob = state.file;
  if (!blob && state.lastGood) {
    blob = await fetchBlob(state.lastGood.urls.artifacts.original);
    state.file = blob;
    state.fileName = names()[state.lastGood.id] || 'photo';
  }
  if (!blob) { showError('The original photo is no longer available; choose it again.'); return; }
  await submit(correctionOptions());
}

// ---- jobs in the URL, recent jobs, side by side ---------------------------------------------
async function route() {
  const m = location.hash.match(/^#\/jobs\/([0-9a-f]{32})(\/report)?$/);
  if (!m) return;
  const id = m[1];
  if (m[2]) { showReport(id); return; }
  closeReport();
  if (state.job && state.job.id === id && state.lastGood && state.lastGood.id === id) return;
  let job;
  try { job = await api('GET', '/v1/jobs/' + id); } catch (e) { showError(e.message); return; }
  state.job = job;
  state.fileName = names()[id] || 'photo';
  state.file = null;
  $('progress').hidden = false;
  if (job.state === 'queued' || job.state === 'running') {
    const orig = await fetchBlob(job.urls.artifacts.original);
    if (orig) { state.file = orig; await showPhoto(orig); }
    follow(job);
  } else if (job.state === 'done') {
    setStatus('Done.');
    $('bar').value = 1;
    const orig = await fetchBlob(job.urls.artifacts.original);
    if (orig) { state.file = orig; await showPhoto(orig); }
    await showResult(job, false);
    $('go').disabled = !state.file;
  } else {
    setStatus(STATE_WORDS[job.state]);
    showError(job.state === 'failed' ? jobError(job.error) : 'This run was cancelled.');
  }
  markCurrent();
}
async function refreshRecent() {
  let page;
  try { page = await api('GET', '/v1/jobs?limit=12'); } catch (e) { return; }
  const list = $('recent-list');
  list.replaceChildren();
  for (const j of page.jobs || []) {
    const li = document.createElement('li');
    li.dataset.id = j.id;
    const th = document.createElement('div');
    th.className = 'thumb';
    if (j.state === 'done') {
      const img = document.createElement('img');
      img.alt = 'Illustration of ' + (names()[j.id] || 'a photo');
      img.loading = 'lazy';
      img.src = authed(j.urls.result);
      th.appendChild(img);
    } else th.textContent = STATE_WORDS[j.state] || j.state;
    const nm = document.createElement('div');
    nm.className = 'name';
    nm.textContent = names()[j.id] || 'photo ' + j.id.slice(0, 6);
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = new Date(j.created * 1000).toLocaleString() + ' · ' + (j.options && j.options.preset || '');
    const acts = document.createElement('div');
    acts.className = 'acts';
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = 'Open';
    open.addEventListener('click', () => { location.hash = '#/jobs/' + j.id; });
    acts.appendChild(open);
    if (j.state === 'done') {
      const cmp = document.createElement('button');
      cmp.type = 'button';
      cmp.className = 'ghost';
      cmp.textContent = 'Compare';
      cmp.setAttribute('aria-label', 'Compare ' + nm.textContent + ' side by side');
      cmp.addEventListener('click', () => addSide(j));
      acts.appendChild(cmp);
    }
    li.append(th, nm, meta, acts);
    list.appendChild(li);
  }
  $('recent-empty').hidden = (page.jobs || []).length > 0;
  markCurrent();
}
function markCurrent() {
  for (const li of document.querySelectorAll('#recent-list li'))
    li.classList.toggle('current', !!(state.job && li.dataset.id === state.job.id));
}
function describe(o) {
  return Object.keys(o || {}).map((k) => k + ' ' + o[k]).join(', ') || 'default settings';
}
function addSide(j) {
  if (state.side.find((x) => x.id === j.id)) return;
  state.side.push(j);
  if (state.side.length > 3) state.side.shift();
  const row = $('side-row');
  row.replaceChildren();
  for (const x of state.side) {
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = 'Illustration made with ' + describe(x.options);
    img.src = authed(x.urls.result);
    const cap = document.createElement('figcaption');
    cap.textContent = (names()[x.id] || 'photo') + ': ' + describe(x.options);
    fig.append(img, cap);
    row.appendChild(fig);
  }
  $('side').hidden = false;
}

// ---- the run report, readable ------------------------------------------------------------------
let reportCard = null;
function closeReport() { if (reportCard) { reportCard.remove(); reportCard = null; } }
async function showReport(id) {
  closeReport();
  let rep;
  try { rep = await api('GET', '/v1/jobs/' + id + '/report'); } catch (e) { showError(e.message); return; }
  const card = document.createElement('section');
  card.className = 'card report';
  card.setAttribute('aria-labelledby', 'report-title');
  const h = document.createElement('h2');
  h.id = 'report-title';
  h.tabIndex = -1;
  h.textContent = 'What carve did';
  card.appendChild(h);
  const t = document.createElement('table');
  t.innerHTML = '<thead><tr><th>Step</th><th>How</th><th>Result</th><th>Time</th></tr></thead>';
  const tb = document.createElement('tbody');
  for (const p of rep.phases || []) {
    for (const s of p.steps || []) {
      const tr = document.createElement('tr');
      const fb = (s.fallbacks || []).filter((f) => !f.unavailable).map((f) => f.backend + ': ' + f.reason).join('; ');
      for (const cell of [stageWords(s.name), s.backend, s.status + (fb ? ' (' + fb + ')' : ''),
                          s.time_s !== undefined ? Number(s.time_s).toFixed(2) + ' s' : '']) {
        const td = document.createElement('td');
        td.textContent = cell;
        tr.appendChild(td);
      }
      tb.appendChild(tr);
    }
  }
  t.appendChild(tb);
  card.appendChild(t);
  const dets = boxesOf(rep);
  if (dets.length) {
    const p = document.createElement('p');
    p.textContent = 'Found: ' + dets.map((d) => d.kind + (d.erased === true ? ' (erased)' : '')).join(', ') + '.';
    card.appendChild(p);
  }
  const raw = document.createElement('a');
  raw.href = authed('/v1/jobs/' + id + '/report');
  raw.textContent = 'The full report (JSON)';
  const back = document.createElement('a');
  back.href = '#/jobs/' + id;
  back.textContent = 'Back to the image';
  const row = document.createElement('p');
  row.append(back, document.createTextNode(' · '), raw);
  card.appendChild(row);
  $('stage').prepend(card);
  reportCard = card;
  h.focus();
}

// ---- start -----------------------------------------------------------------------------------
function init() {
  const k = localStorage.getItem('carve.apikey');
  $('apikey').value = k || sessionStorage.getItem('carve.apikey') || '';
  $('remember').checked = !!k;
  $('apikey').addEventListener('change', () => { saveKey(); loadChoices().then(() => { refreshRecent(); route(); }); });
  $('remember').addEventListener('change', saveKey);
  $('forget').addEventListener('click', forgetKey);
  const drop = $('drop');
  drop.addEventListener('click', () => $('file').click());
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file').click(); } });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); pickFile(e.dataTransfer.files[0]); });
  $('file').addEventListener('change', () => pickFile($('file').files[0]));
  $('new-photo').addEventListener('click', () => $('file').click());
  $('go').addEventListener('click', () => submit());
  $('cancel').addEventListener('click', cancel);
  $('preset').addEventListener('change', presetHelp);
  $('palette').addEventListener('change', paletteChanged);
  $('palupload').addEventListener('click', uploadPalette);
  $('paldelete').addEventListener('click', deletePalette);
  $('split').addEventListener('input', split);
  $('zoom-in').addEventListener('click', () => zoomCenter(1.25));
  $('zoom-out').addEventListener('click', () => zoomCenter(0.8));
  $('zoom-fit').addEventListener('click', fit);
  $('dl-png').addEventListener('click', downloadPng);
  $('rerun').addEventListener('click', rerun);
  $('fix-clear').addEventListener('click', () => { state.fix = { subject: null, boxes: [] }; drawOverlay(); });
  $('side-close').addEventListener('click', () => { state.side = []; $('side').hidden = true; });
  for (const r of document.querySelectorAll('input[name=tool]')) r.addEventListener('change', toolChanged);
  $('status').tabIndex = -1;
  $('error').tabIndex = -1;
  pointerSetup();
  window.addEventListener('resize', fit);
  window.addEventListener('hashchange', route);
  window.addEventListener('popstate', route);
  fetch('/readyz').then((r) => r.json()).then((d) => {
    if (d && d.ready === false) $('server-state').textContent = 'The server is busy right now.';
  }).catch(() => { $('server-state').textContent = 'The server cannot be reached.'; });
  loadChoices().then((ok) => { if (ok) { refreshRecent(); route(); } });
}

document.addEventListener('DOMContentLoaded', init);
