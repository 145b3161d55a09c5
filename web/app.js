// carved web UI: plain JavaScript, no build step.  Talks to the /v1 API
// (docs/API.md); live progress and logs come from Server-Sent Events.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { file: null, job: null, es: null, urls: [] };

function apiKey() { return $('apikey').value.trim(); }

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (apiKey()) h['Authorization'] = 'Bearer ' + apiKey();
  return h;
}

async function api(method, path, body, extraHeaders) {
  const r = await fetch(path, { method, body, headers: headers(extraHeaders) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { raw: text }; }
  if (!r.ok) {
    const msg = data && data.error ? data.error.message : ('HTTP ' + r.status);
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return data;
}

async function blobUrl(path) {
  const r = await fetch(path, { headers: headers() });
  if (!r.ok) return null;
  const u = URL.createObjectURL(await r.blob());
  state.urls.push(u);
  return u;
}

function showError(msg) {
  $('error').textContent = msg;
  $('error').hidden = !msg;
}

function setStatus(msg) { $('status').textContent = msg; }

function logLine(level, msg) {
  const li = document.createElement('li');
  li.className = level;
  li.textContent = msg;
  $('log').appendChild(li);
  $('log').scrollTop = $('log').scrollHeight;
}

async function loadChoices() {
  try {
    const o = await api('GET', '/v1/options');
    const preset = o.options.find((x) => x.key === 'preset');
    const keepPreset = $('preset').value;
    $('preset').replaceChildren();
    for (const name of (preset ? preset.choices.split('|') : ['illustration'])) {
      const opt = document.createElement('option');
      opt.value = opt.textContent = name;
      if (keepPreset ? name === keepPreset : preset && name === preset.default) opt.selected = true;
      $('preset').appendChild(opt);
    }
    $('version').textContent = o.pipeline ? 'carved' : 'carved (pipeline not built)';
  } catch (e) {
    showError(e.status === 401 ? 'This server needs an API key (top right).' : 'Cannot load options: ' + e.message);
    return;
  }
  try {
    const p = await api('GET', '/v1/palettes');
    const sel = $('palette');
    const keep = sel.value;
    sel.replaceChildren(new Option('automatic (from the photo)', ''));
    for (const b of p.builtin) sel.appendChild(new Option(b.name + (b.description ? ' — ' + b.description : ''), b.name));
    for (const c of p.custom) sel.appendChild(new Option(c + ' (uploaded)', c));
    sel.value = keep;
  } catch (e) { /* palettes not built: automatic only */ }
  showError('');
}

function pickFile(f) {
  if (!f) return;
  state.file = f;
  $('drop').classList.add('has');
  $('drop').querySelector('strong').textContent = f.name + ' (' + Math.round(f.size / 1024) + ' KiB)';
  $('go').disabled = false;
  showError('');
}

function resetViews() {
  for (const u of state.urls) URL.revokeObjectURL(u);
  state.urls = [];
  for (const id of ['v-original', 'v-sanitize', 'v-matte', 'v-steer', 'v-chroma', 'v-svg']) $(id).removeAttribute('src');
  for (const f of document.querySelectorAll('.phase')) f.hidden = true;
  $('download').hidden = true;
  $('log').replaceChildren();
  $('bar').value = 0;
  $('stage').textContent = '';
}

async function submit() {
  if (!state.file) return;
  if (state.es) state.es.close();
  resetViews();
  showError('');
  const q = new URLSearchParams();
  q.set('preset', $('preset').value);
  if ($('palette').value) q.set('palette', $('palette').value);
  if ($('colors').value) q.set('colors', $('colors').value);
  $('go').disabled = true;
  setStatus('uploading…');
  let job;
  try {
    job = await api('POST', '/v1/jobs?' + q.toString(), state.file,
                    { 'Content-Type': state.file.type || 'application/octet-stream' });
  } catch (e) {
    showError(e.message);
    setStatus('');
    $('go').disabled = false;
    return;
  }
  state.job = job;
  const orig = URL.createObjectURL(state.file);
  state.urls.push(orig);
  $('v-original').src = orig;
  $('views').hidden = false;
  $('progress').hidden = false;
  $('cancel').hidden = false;
  setStatus('queued');
  follow(job);
}

function follow(job) {
  let url = job.urls.events;
  if (apiKey()) url += '?access_token=' + encodeURIComponent(apiKey());
  const es = new EventSource(url);
  state.es = es;
  es.addEventListener('progress', (ev) => {
    const d = JSON.parse(ev.data);
    $('bar').value = d.progress;
    $('stage').textContent = Math.round(d.progress * 100) + '% ' + d.stage;
  });
  es.addEventListener('log', (ev) => {
    const d = JSON.parse(ev.data);
    logLine(d.level, d.msg);
  });
  es.addEventListener('state', (ev) => {
    const d = JSON.parse(ev.data);
    setStatus(d.state);
    if (d.state === 'done' || d.state === 'failed' || d.state === 'cancelled') {
      es.close();
      finished(job, d.state);
    }
  });
  es.onerror = () => {
    // the browser reconnects with Last-Event-ID; if the job is gone, stop
    api('GET', job.urls.self).catch((e) => { if (e.status === 404) { es.close(); setStatus('deleted'); } });
  };
}

async function finished(job, st) {
  $('cancel').hidden = true;
  $('go').disabled = !state.file;
  let info = null;
  try { info = await api('GET', job.urls.self); } catch (e) { /* deleted */ }
  if (st !== 'done') {
    if (info && info.error) showError(info.error.message);
    return;
  }
  $('bar').value = 1;
  const t = info && info.timings && info.timings.total;
  setStatus('done' + (t ? ' in ' + t.toFixed(1) + ' s' : ''));
  const svg = await blobUrl(job.urls.result);
  if (svg) {
    $('v-svg').src = svg;
    const a = $('download');
    a.href = svg;
    a.download = 'carve-' + job.id.slice(0, 8) + '.svg';
    a.hidden = false;
  }
  for (const phase of ['sanitize', 'matte', 'steer', 'chroma']) {
    const u = await blobUrl(job.urls.artifacts[phase]);
    if (u) {
      $('v-' + phase).src = u;
      $('v-' + phase).closest('figure').hidden = false;
    }
  }
}

async function cancel() {
  if (!state.job) return;
  try {
    await api('DELETE', state.job.urls.self);
    setStatus('cancelled');
  } catch (e) { showError(e.message); }
  if (state.es) state.es.close();
  $('cancel').hidden = true;
  $('go').disabled = !state.file;
}

async function uploadPalette() {
  const name = $('palname').value.trim();
  const f = $('palfile').files[0];
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) { showError('Palette name: 1-64 of A-Z a-z 0-9 _ -'); return; }
  if (!f) { showError('Choose a palette file'); return; }
  try {
    await api('PUT', '/v1/palettes/' + name, await f.text(), { 'Content-Type': 'text/plain' });
    await loadChoices();
    $('palette').value = name;
    setStatus('palette ' + name + ' uploaded');
  } catch (e) { showError('Palette: ' + e.message); }
}

function init() {
  $('apikey').value = localStorage.getItem('carve.apikey') || '';
  $('apikey').addEventListener('change', () => { localStorage.setItem('carve.apikey', apiKey()); loadChoices(); });
  const drop = $('drop');
  drop.addEventListener('click', () => $('file').click());
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') $('file').click(); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    pickFile(e.dataTransfer.files[0]);
  });
  $('file').addEventListener('change', () => pickFile($('file').files[0]));
  $('go').addEventListener('click', submit);
  $('cancel').addEventListener('click', cancel);
  $('palupload').addEventListener('click', uploadPalette);
  loadChoices();
}

document.addEventListener('DOMContentLoaded', init);
