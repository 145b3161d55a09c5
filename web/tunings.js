'use strict';
// Tunings page: upload photo/reference pairs, follow the trials live (SSE),
// plot the score, compare the best render with its reference, save a preset.
const $ = (id) => document.getElementById(id);
let current = null, source = null, trials = [];

function apiKey() { return $('apikey').value.trim(); }
function headers() { return apiKey() ? { Authorization: 'Bearer ' + apiKey() } : {}; }
function stem(name) { const i = name.lastIndexOf('.'); return i > 0 ? name.slice(0, i) : name; }
function showError(msg) { $('terror').textContent = msg; $('terror').hidden = !msg; }

async function api(method, path, body, extra) {
  const r = await fetch(path, { method, body, headers: Object.assign(headers(), extra || {}) });
  const text = await r.text();
  let j = null;
  try { j = JSON.parse(text); } catch (e) { j = null; }
  if (!r.ok) throw new Error(j && j.error ? j.error.message : 'HTTP ' + r.status);
  return j;
}

function pairs() {
  const refs = new Map([...$('refs').files].map((f) => [stem(f.name), f]));
  const out = [], bad = [];
  for (const p of $('photos').files) {
    if (refs.has(stem(p.name))) { out.push([p, refs.get(stem(p.name))]); refs.delete(stem(p.name)); }
    else bad.push('photo ' + p.name + ' has no reference');
  }
  for (const r of refs.values()) bad.push('reference ' + r.name + ' has no photo');
  return { out, bad };
}

function listPairs() {
  const { out, bad } = pairs();
  const ul = $('pairs');
  ul.replaceChildren();
  for (const [p, r] of out) { const li = document.createElement('li'); li.textContent = p.name + ' \u2194 ' + r.name; ul.appendChild(li); }
  for (const b of bad) { const li = document.createElement('li'); li.className = 'bad'; li.textContent = b; ul.appendChild(li); }
  $('start').disabled = out.length < 2 || bad.length > 0;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function plot() {
  const svg = $('plot');
  svg.replaceChildren();
  if (!trials.length) return;
  const W = 400, H = 140, L = 34, B = 18;
  const scores = trials.map((t) => t.score);
  const lo = Math.min(...scores), hi = Math.max(...scores), span = hi - lo || 1;
  const x = (i) => L + (W - L - 6) * (trials.length > 1 ? i / (trials.length - 1) : 0.5);
  const y = (v) => 6 + (H - B - 6) * (1 - (v - lo) / span);
  svg.appendChild(svgEl('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }));
  svg.appendChild(svgEl('line', { x1: L, y1: 0, x2: L, y2: H - B, class: 'axis' }));
  const hiT = svgEl('text', { x: 2, y: 12 }); hiT.textContent = hi.toFixed(2); svg.appendChild(hiT);
  const loT = svgEl('text', { x: 2, y: H - B }); loT.textContent = lo.toFixed(2); svg.appendChild(loT);
  const nT = svgEl('text', { x: W - 60, y: H - 4 }); nT.textContent = trials.length + ' trials'; svg.appendChild(nT);
  trials.forEach((t, i) => svg.appendChild(svgEl('circle', { cx: x(i), cy: y(t.score), r: t.rung ? 3 : 2, class: 'all' })));
  let pts = '';
  trials.forEach((t, i) => { pts += x(i).toFixed(1) + ',' + y(t.best).toFixed(1) + ' '; });
  svg.appendChild(svgEl('polyline', { points: pts.trim(), class: 'bestline' }));
}

function log(msg) {
  const li = document.createElement('li');
  li.textContent = msg;
  $('tlog').appendChild(li);
  while ($('tlog').children.length > 200) $('tlog').removeChild($('tlog').firstChild);
}

async function showBest() {
  let best;
  try { best = await api('GET', '/v1/tunings/' + current + '/result'); } catch (e) { return; }
  $('preset').textContent = JSON.stringify(best, null, 1);
  $('save').hidden = false;
  const first = pairs().out[0];
  if (!first) return;
  // the best preset on the first photo, as a normal job, beside its reference
  const q = new URLSearchParams();
  for (const k in best) q.set(k, String(best[k]));
  const wsz = $('worksize').value; if (wsz) q.set('work_size', wsz);
  try {
    const job = await api('POST', '/v1/jobs?' + q.toString(), first[0], { 'Content-Type': first[0].type || 'application/octet-stream' });
    $('c-ref').src = URL.createObjectURL(first[1]);
    for (let i = 0; i < 600; i++) {
      const j = await api('GET', '/v1/jobs/' + job.id);
      if (j.state === 'done') break;
      if (j.state === 'failed' || j.state === 'cancelled') return;
      await new Promise((r) => setTimeout(r, 250));
    }
    const r = await fetch('/v1/jobs/' + job.id + '/result', { headers: headers() });
    $('c-render').src = URL.createObjectURL(await r.blob());
    $('compare').hidden = false;
  } catch (e) { log('render: ' + e.message); }
}

function follow(id) {
  let url = '/v1/tunings/' + id + '/events';
  if (apiKey()) url += '?access_token=' + encodeURIComponent(apiKey());
  source = new EventSource(url);
  source.addEventListener('trial', (ev) => {
    const t = JSON.parse(ev.data);
    if (trials.some((x) => x.index === t.index)) return;
    trials.push(t);
    $('best').textContent = 'best ' + t.best.toFixed(4) + ' after ' + trials.length + ' trials';
    log('trial ' + (t.index + 1) + ' at ' + t.work_size + ' px: ' + t.score.toFixed(4) + (t.restored ? ' (restored)' : ''));
    plot();
    api('GET', '/v1/tunings/' + id).then((j) => { $('tbar').value = j.progress; }).catch(() => {});
  });
  source.addEventListener('log', (ev) => log(JSON.parse(ev.data).msg));
  source.addEventListener('state', (ev) => {
    const st = JSON.parse(ev.data).state;
    $('tstatus').textContent = st;
    if (st === 'done' || st === 'failed' || st === 'cancelled') {
      source.close();
      $('stop').hidden = true;
      $('start').disabled = false;
      if (st === 'done') $('tbar').value = 1;
      showBest();
    }
  });
}

async function start() {
  showError('');
  const fd = new FormData();
  for (const [p, r] of pairs().out) { fd.append('photos', p, p.name); fd.append('references', r, r.name); }
  fd.append('trials', $('trials').value || '40');
  fd.append('seed', $('seed').value || '1');
  if ($('worksize').value) fd.append('options', JSON.stringify({ work_size: Number($('worksize').value) }));
  try {
    const j = await api('POST', '/v1/tunings', fd);
    current = j.id;
    trials = [];
    $('tlog').replaceChildren();
    $('run').hidden = false;
    $('compare').hidden = true;
    $('save').hidden = true;
    $('stop').hidden = false;
    $('start').disabled = true;
    $('tstatus').textContent = 'queued';
    follow(j.id);
  } catch (e) { showError(e.message); }
}

async function stop() {
  if (!current) return;
  try { await api('DELETE', '/v1/tunings/' + current); } catch (e) { showError(e.message); }
}

async function savePreset() {
  const name = $('pname').value.trim();
  try {
    await api('PUT', '/v1/presets/' + encodeURIComponent(name), $('preset').textContent, { 'Content-Type': 'application/json' });
    $('psaved').textContent = 'saved: use preset=' + name;
  } catch (e) { $('psaved').textContent = e.message; }
}

window.addEventListener('DOMContentLoaded', () => {
  $('apikey').value = localStorage.getItem('carve.apikey') || '';
  $('apikey').addEventListener('change', () => localStorage.setItem('carve.apikey', apiKey()));
  $('photos').addEventListener('change', listPairs);
  $('refs').addEventListener('change', listPairs);
  $('start').addEventListener('click', start);
  $('stop').addEventListener('click', stop);
  $('psave').addEventListener('click', savePreset);
});
