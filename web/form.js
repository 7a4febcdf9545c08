// The generation form: reading it into an AUTOMATIC1111 request, filling it from saved
// settings or a picture's parameters, keeping it in localStorage, and showing the server's
// errors next to the field they name.

const STORE_KEY = 'sdc.form';
const NUMBERS = ['steps', 'cfg_scale', 'width', 'height', 'seed', 'n_iter', 'mask_blur',
  'denoising_strength'];
const TEXTS = ['prompt', 'negative_prompt', 'sd_model_checkpoint', 'sampler_name', 'scheduler'];

const $ = (id) => document.getElementById(id);

export function mode() {
  return document.querySelector('input[name=mode]:checked').value;
}

export function setMode(m) {
  document.querySelector(`input[name=mode][value="${m}"]`).checked = true;
  $('img2img-panel').hidden = m !== 'img2img';
}

// The form as the body of POST /v1/jobs (txt2img; the caller adds the pictures for img2img).
export function request() {
  const body = {};
  for (const k of ['prompt', 'negative_prompt', 'sampler_name', 'scheduler']) body[k] = $(k).value;
  for (const k of ['steps', 'cfg_scale', 'width', 'height', 'seed', 'n_iter']) body[k] = Number($(k).value);
  body.batch_size = 1;
  if ($('sd_model_checkpoint').value)
    body.override_settings = { sd_model_checkpoint: $('sd_model_checkpoint').value };
  if (mode() === 'img2img') {
    body.mask_blur = Number($('mask_blur').value);
    body.denoising_strength = Number($('denoising_strength').value);
    body.inpainting_fill = 1;
  }
  return body;
}

// Sets a <select> to value when it offers it (by name or alias); returns whether it did.
function choose(select, value) {
  const want = String(value).toLowerCase();
  for (const o of select.options) {
    if (o.value.toLowerCase() === want || (o.dataset.aliases || '').split(',').includes(want)) {
      select.value = o.value;
      return true;
    }
  }
  return false;
}

function apply(values) {
  for (const k of NUMBERS.concat(TEXTS)) {
    if (values[k] === undefined || values[k] === null) continue;
    if ($(k).tagName === 'SELECT') choose($(k), values[k]);
    else $(k).value = values[k];
  }
  if (values.mode) setMode(values.mode);
}

// Fills the form from an object with some of the request's fields, and keeps it.
export function fill(values) {
  apply(values);
  save();
}

// A1111's "Sampler: DPM++ 2M Karras" is a sampler and a schedule in one name.
function samplerAndSchedule(p, out) {
  let s = p.Sampler;
  if (!s) return;
  if (!choose($('sampler_name'), s) && / Karras$/.test(s)) {
    s = s.replace(/ Karras$/, '');
    out.scheduler = 'karras';
  }
  out.sampler_name = s;
}

// The parsed parameters of POST /sdapi/v1/png-info ({"Prompt", "Steps", "Size": "WxH"...})
// as form fields.
export function fromPngParameters(p) {
  const out = { prompt: p.Prompt, negative_prompt: p['Negative prompt'] || '', steps: p.Steps,
    cfg_scale: p['CFG scale'], seed: p.Seed };
  samplerAndSchedule(p, out);
  if (p['Schedule type']) out.scheduler = p['Schedule type'];
  const size = /^(\d+)x(\d+)$/.exec(p.Size || '');
  if (size) [out.width, out.height] = [size[1], size[2]];
  if (p.Model) out.sd_model_checkpoint = p.Model;
  if (p['Denoising strength']) out.denoising_strength = p['Denoising strength'];
  return out;
}

export function save() {
  const v = { mode: mode() };
  for (const k of NUMBERS.concat(TEXTS)) v[k] = $(k).value;
  localStorage.setItem(STORE_KEY, JSON.stringify(v));
}

export function restore() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    if (v) apply(v); // not saved: the pickers may not have their options yet
  } catch (e) { /* a damaged entry: the defaults */ }
}

// Fills a picker from a list of {name, aliases} (samplers) or strings; keeps the choice.
export function setChoices(id, items, fallback) {
  const sel = $(id), old = sel.value;
  sel.replaceChildren();
  for (const it of items) {
    const o = document.createElement('option');
    o.value = o.textContent = it.name;
    if (it.label) o.textContent = it.label;
    o.dataset.aliases = (it.aliases || []).map((a) => a.toLowerCase()).join(',');
    sel.append(o);
  }
  if (!(old && choose(sel, old)) && fallback) choose(sel, fallback);
}

export function clearErrors() {
  for (const e of document.querySelectorAll('.err')) e.textContent = '';
  for (const e of document.querySelectorAll('.invalid')) e.classList.remove('invalid');
}

// The server's messages start with the field at fault ("steps: must be an integer",
// "override_settings.sd_model_checkpoint: ..."): shown beside that field, else at the button.
export function showError(message) {
  const m = /^([\w.]+(?:\[\d+\])?): /.exec(message);
  const field = m ? m[1].replace(/^override_settings\./, '').replace(/\[\d+\]$/, '') : '';
  const at = field && document.querySelector(`.err[data-err="${field}"]`);
  (at || $('form-error')).textContent = at ? message.slice(m[0].length) : message;
  if (at && $(field)) $(field).classList.add('invalid');
}
