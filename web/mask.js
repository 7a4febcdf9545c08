// img2img / inpainting input: the picture, and a mask painted on it with the mouse. The
// canvas has the picture's own size (so the mask PNG matches it pixel for pixel) and is shown
// scaled over it; painted pixels are opaque (in a colour that shows on most pictures), the
// rest transparent.

const $ = (id) => document.getElementById(id);
const PAINT = '#ff5a1f';
let canvas, ctx, last = null, painted = false, picture = null; // picture: data URL

function toCanvas(ev) {
  const r = canvas.getBoundingClientRect();
  return [(ev.clientX - r.left) * canvas.width / r.width, (ev.clientY - r.top) * canvas.height / r.height];
}

function brush() {
  const r = canvas.getBoundingClientRect();
  return Number($('brush').value) * canvas.width / r.width; // the slider is in screen pixels
}

function stroke(ev) {
  const [x, y] = toCanvas(ev);
  const [x0, y0] = last || [x, y];
  ctx.globalCompositeOperation = $('eraser').checked ? 'destination-out' : 'source-over';
  ctx.strokeStyle = PAINT;
  ctx.lineWidth = brush();
  ctx.lineCap = ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x, y);
  ctx.stroke();
  last = [x, y];
  if (!$('eraser').checked) painted = true;
}

function clear() {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  painted = false;
}

// What was painted becomes unpainted and the rest painted.
function invert() {
  const copy = document.createElement('canvas');
  [copy.width, copy.height] = [canvas.width, canvas.height];
  copy.getContext('2d').drawImage(canvas, 0, 0);
  ctx.globalCompositeOperation = 'source-over';
  ctx.fillStyle = PAINT;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.globalCompositeOperation = 'destination-out';
  ctx.drawImage(copy, 0, 0);
  ctx.globalCompositeOperation = 'source-over';
  painted = true;
}

export function init() {
  canvas = $('mask-canvas');
  ctx = canvas.getContext('2d');
  canvas.addEventListener('pointerdown', (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    last = null;
    stroke(ev);
  });
  canvas.addEventListener('pointermove', (ev) => { if (ev.buttons & 1) stroke(ev); });
  canvas.addEventListener('pointerup', () => { last = null; });
  $('mask-clear').addEventListener('click', clear);
  $('mask-invert').addEventListener('click', invert);
}

// Shows a picture (a data URL) to change; resolves with its [width, height].
export function setPicture(dataUrl) {
  return new Promise((done, fail) => {
    const img = $('init-img');
    img.onload = () => {
      [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
      clear();
      picture = dataUrl;
      $('stage').hidden = false;
      done([img.naturalWidth, img.naturalHeight]);
    };
    img.onerror = () => fail(new Error('init_images: the picture cannot be read'));
    img.src = dataUrl;
  });
}

export function picturePresent() {
  return picture !== null;
}

export function pictureData() {
  return picture;
}

// The mask as A1111's `mask`: a PNG data URL, white where to repaint, black elsewhere; null
// when nothing is painted (plain img2img).
export function maskData() {
  if (!painted) return null;
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < px.data.length; i += 4) { // the paint's coverage (alpha) as grey
    const a = px.data[i + 3];
    px.data.fill(a, i, i + 3);
    px.data[i + 3] = 255;
  }
  const out = document.createElement('canvas');
  [out.width, out.height] = [canvas.width, canvas.height];
  out.getContext('2d').putImageData(px, 0, 0);
  return out.toDataURL('image/png');
}
