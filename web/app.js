// sdc serve's page: wires the form, the queue of jobs (POST /v1/jobs, polled with
// GET /v1/jobs/{id}), the progress bar (GET /sdapi/v1/progress), the gallery, PNG info and
// the img2img mask. It talks to nothing but this server.
import { api, ApiError, setHooks } from './api.js';
import * as form from './form.js';
import * as gallery from './gallery.js';
import * as mask from './mask.js';
import * as prompt from './prompt.js';

const POLL_MS = 300;
const $ = (id) => document.getElementById(id);
const pending = new Map(); // job id -> {li, body}
let lastSeed = null, polling = false;
let wordTarget = 'prompt'; // the prompt field typed in last: where an embedding's word goes

// ---- the server's lists ----

async function loadLists() {
  const [models, samplers, schedulers, options] = await Promise.all([
    api('GET', '/sdapi/v1/sd-models'), api('GET', '/sdapi/v1/samplers'),
    api('GET', '/sdapi/v1/schedulers'), api('GET', '/sdapi/v1/options')]);
  form.setChoices('sd_model_checkpoint', models.map((m) => ({ name: m.title, aliases: [m.model_name] })),
    options.sd_model_checkpoint);
  form.setChoices('sampler_name', samplers, 'Euler a');
  form.setChoices('scheduler', schedulers, 'automatic');
  $('model-status').textContent = options.sd_model_checkpoint || '';
  await loadExtras();
}

// The LoRAs and embeddings depend on the model: loaded with the lists, and again when the
// model may have changed (another picked, a job done with it).
async function loadExtras() {
  await Promise.all([loadLoras(), loadEmbeddings()]);
}

// The LoRAs beside the model: picking one adds its <lora:NAME:1> tag at the prompt's cursor.
async function loadLoras() {
  const loras = await api('GET', '/sdapi/v1/loras').catch(() => []);
  const pick = $('lora-pick');
  pick.replaceChildren(pick.options[0]);
  for (const l of loras) {
    const o = document.createElement('option');
    o.value = o.textContent = l.name;
    pick.append(o);
  }
  $('lora-row').hidden = loras.length === 0;
}

// The embeddings of --embd-dir the loaded model takes (/sdapi/v1/embeddings "loaded"); those
// made for another model's text encoder ("skipped") are listed but cannot be picked.
async function loadEmbeddings() {
  const e = await api('GET', '/sdapi/v1/embeddings').catch(() => ({}));
  const pick = $('embedding-pick');
  pick.replaceChildren(pick.options[0]);
  const add = (name, item, usable) => {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = usable ? name : `${name} (for another model)`;
    o.title = `${item.vectors} vector${item.vectors === 1 ? '' : 's'} of width ${item.shape}`;
    o.disabled = !usable;
    pick.append(o);
  };
  for (const [name, item] of Object.entries(e.loaded || {})) add(name, item, true);
  for (const [name, item] of Object.entries(e.skipped || {})) add(name, item, false);
  $('embedding-row').hidden = pick.options.length === 1;
}

// Puts text at the cursor of the field `id`, a space on either side where a word touches it.
function insertAtCursor(id, text) {
  const p = $(id);
  const at = p.selectionStart ?? p.value.length;
  const before = p.value.slice(0, at), after = p.value.slice(at);
  const lead = before && !/\s$/.test(before) ? ' ' : '';
  const trail = after && !/^\s/.test(after) ? ' ' : '';
  p.value = before + lead + text + trail + after;
  p.focus();
  p.selectionStart = p.selectionEnd = (before + lead + text).length;
  form.save();
  showPrompt();
}

function insertLora() {
  const name = $('lora-pick').value;
  $('lora-pick').value = '';
  if (name) insertAtCursor('prompt', `<lora:${name}:1>`);
}

function insertEmbedding() {
  const name = $('embedding-pick').value;
  $('embedding-pick').value = '';
  if (name) insertAtCursor(wordTarget, name);
}

// The form filled from settings (a picture's, a card's, the seed buttons').
function fill(values) {
  form.fill(values);
  showPrompt();
}

function showPrompt() {
  prompt.render($('prompt').value, $('prompt-view'));
}

// ---- submitting ----

async function submit() {
  form.clearErrors();
  form.save();
  const body = form.request();
  if (form.mode() === 'img2img') {
    if (!mask.picturePresent()) return form.showError('init_images: pick or drop a picture first');
    body.init_images = [mask.pictureData()];
    const m = mask.maskData();
    if (m) body.mask = m;
  }
  try {
    const job = await api('POST', '/v1/jobs', body);
    addToQueue(job.id, body);
    poll();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    form.showError(e.message);
  }
}

function addToQueue(id, body) {
  const li = document.createElement('li');
  li.dataset.id = id;
  const state = document.createElement('span');
  state.className = 'state';
  state.textContent = 'queued';
  const text = document.createElement('span');
  text.textContent = body.prompt.slice(0, 60) || '(no prompt)';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.textContent = 'cancel';
  cancel.addEventListener('click', () => api('DELETE', `/v1/jobs/${id}`).catch(() => {}));
  li.append(state, text, cancel);
  $('queue').append(li);
  pending.set(id, { li, body });
}

// ---- following the jobs ----

function showProgress(p) {
  const s = p.state || {};
  $('progress').value = p.progress || 0;
  if (!s.job) {
    $('progress-text').textContent = 'idle';
    return;
  }
  if (!s.sampling_steps) { // taken from the queue, not sampling yet (loading, encoding)
    $('progress-text').textContent = 'starting';
    return;
  }
  const left = p.eta_relative > 0 ? ` · ${p.eta_relative.toFixed(1)} s left` : '';
  const waiting = s.job_count > 1 ? ` · ${s.job_count - 1} waiting` : '';
  $('progress-text').textContent = `step ${s.sampling_step}/${s.sampling_steps}${left}${waiting}`;
  if (p.current_image) { // the live preview, when the server sends one
    const img = p.current_image;
    $('preview').src = img.startsWith('data:') ? img : 'data:image/png;base64,' + img;
    $('preview').hidden = false;
  }
}

function finished(id, job) {
  const { li, body } = pending.get(id);
  pending.delete(id);
  li.remove();
  loadExtras(); // the job may have loaded another model
  if (job.state === 'cancelled') { // Interrupt or cancel: what was asked, not an error
    $('notice').textContent = `"${body.prompt.slice(0, 40)}": ${job.error || 'cancelled'}`;
    return;
  }
  if (job.state !== 'done') {
    form.showError(job.error || `job ${job.state}`);
    return;
  }
  const info = JSON.parse(job.info || '{}');
  (job.images || []).forEach((b64, i) => {
    const seed = (info.all_seeds || [])[i];
    const settings = { ...body, seed, sd_model_checkpoint: body.override_settings?.sd_model_checkpoint };
    gallery.add({ b64, seed, infotext: (info.infotexts || [])[i] || '', settings }, {
      reuse: (s) => fill(s), toImg2img: sendToImg2img });
    lastSeed = seed;
  });
}

async function pollOnce() {
  showProgress(await api('GET', '/sdapi/v1/progress?skip_current_image=false'));
  for (const id of [...pending.keys()]) {
    let job;
    try {
      job = await api('GET', `/v1/jobs/${id}`);
    } catch (e) {
      job = { state: 'failed', error: e.message };
    }
    pending.get(id).li.querySelector('.state').textContent = job.state;
    if (!['queued', 'running'].includes(job.state)) finished(id, job);
  }
}

async function poll() {
  if (polling) return;
  polling = true;
  while (pending.size) {
    await pollOnce();
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
  polling = false;
  showProgress(await api('GET', '/sdapi/v1/progress'));
}

// ---- pictures in ----

function readFile(file) {
  return new Promise((done, fail) => {
    const r = new FileReader();
    r.onload = () => done(r.result);
    r.onerror = () => fail(r.error);
    r.readAsDataURL(file);
  });
}

async function sendToImg2img(dataUrl) {
  form.setMode('img2img');
  try {
    const [w, h] = await mask.setPicture(dataUrl);
    fill({ width: w, height: h, mode: 'img2img' });
  } catch (e) {
    form.showError(e.message);
  }
}

async function pngInfo(file) {
  form.clearErrors();
  try {
    const r = await api('POST', '/sdapi/v1/png-info', { image: await readFile(file) });
    $('pnginfo-text').textContent = r.info || '(no parameters in this picture)';
    if (r.info) fill(form.fromPngParameters(r.parameters));
  } catch (e) {
    $('pnginfo-text').textContent = e.message;
  }
}

// A drop zone and its file input both hand their file to take(file).
function dropZone(zone, input, take) {
  zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    if (ev.dataTransfer.files.length) take(ev.dataTransfer.files[0]);
  });
  input.addEventListener('change', () => { if (input.files.length) take(input.files[0]); });
}

// ---- the rest of the wiring ----

function askCredentials() {
  return new Promise((done) => {
    const d = $('login');
    d.onclose = () => done(d.returnValue === 'ok' ? `${$('login-user').value}:${$('login-password').value}` : null);
    d.showModal();
  });
}

function showConnection(ok, message) {
  $('connection').hidden = ok;
  $('connection').textContent = message;
}

function wire() {
  const f = $('gen-form');
  f.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  f.addEventListener('input', () => { form.save(); showPrompt(); });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
  });
  for (const r of document.querySelectorAll('input[name=mode]'))
    r.addEventListener('change', () => { form.setMode(form.mode()); form.save(); });
  $('random-seed').addEventListener('click', () => fill({ seed: -1 }));
  $('reuse-seed').addEventListener('click', () => { if (lastSeed !== null) fill({ seed: lastSeed }); });
  $('lora-pick').addEventListener('change', insertLora);
  $('embedding-pick').addEventListener('change', insertEmbedding);
  for (const id of ['prompt', 'negative_prompt'])
    $(id).addEventListener('focus', () => { wordTarget = id; });
  $('sd_model_checkpoint').addEventListener('change', loadExtras);
  $('interrupt').addEventListener('click', () => api('POST', '/sdapi/v1/interrupt').catch(() => {}));
  dropZone($('init-drop'), $('init-file'), async (file) => sendToImg2img(await readFile(file)));
  dropZone($('pnginfo-drop'), $('pnginfo-file'), pngInfo);
}

async function main() {
  setHooks({ askCredentials, connection: showConnection });
  mask.init();
  gallery.init();
  wire();
  form.restore();
  form.setMode(form.mode());
  try {
    await loadLists();
  } catch (e) {
    form.showError(e.message);
  }
  form.restore(); // the saved picker choices, now that the pickers have their options
  showPrompt();
  document.body.dataset.ready = '1';
}

main();
