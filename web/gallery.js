// The gallery of this session's pictures: each card enlarges on click, downloads the PNG the
// server made (its `parameters` text included), reuses its settings or sends it to img2img.

const $ = (id) => document.getElementById(id);

function pngBlob(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: 'image/png' });
}

function button(label, cls, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.className = cls;
  b.addEventListener('click', action);
  return b;
}

export function init() {
  const box = $('lightbox');
  box.addEventListener('click', () => box.close());
}

// picture: {b64, seed, infotext, settings (the request's fields, seed set)};
// actions: {reuse(settings), toImg2img(dataUrl)}.
export function add(picture, actions) {
  const url = URL.createObjectURL(pngBlob(picture.b64));
  const card = document.createElement('div');
  card.className = 'card';
  card.dataset.seed = picture.seed;
  const img = document.createElement('img');
  img.src = url;
  img.alt = picture.infotext;
  img.title = picture.infotext;
  img.addEventListener('click', () => {
    $('lightbox-img').src = url;
    $('lightbox').showModal();
  });
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = `seed ${picture.seed}`;
  const save = document.createElement('a');
  save.href = url;
  save.download = `sdc-${picture.seed}.png`;
  save.textContent = 'download';
  save.className = 'download';
  const buttons = document.createElement('div');
  buttons.className = 'buttons';
  buttons.append(save,
    button('reuse settings', 'reuse', () => actions.reuse(picture.settings)),
    button('to img2img', 'to-img2img', () => actions.toImg2img('data:image/png;base64,' + picture.b64)));
  card.append(img, meta, buttons);
  $('gallery').prepend(card);
}
