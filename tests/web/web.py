#!/usr/bin/env python3
"""The web page of `sdc serve` in a real browser (Debian's headless Chromium through
ChromeDriver): txt2img matching `sdc` byte for byte, the progress bar and the live preview,
errors beside their field, a queue of three jobs, Interrupt, PNG info by drag and drop,
inpainting with a mask painted by mouse moves, the form kept over a reload, the embedding
picker (--embd-dir) matching `sdc --embd-dir`, a lost
connection retried, and --api-auth. Uses the built-in demo model (`sdc serve` without -m).
Skips (exit 77) when chromium or chromedriver is missing. With SDC_WEB_SCREENSHOTS=DIR the
screenshots of docs/server.md are written to DIR as well."""
import base64
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png  # noqa: E402
import webdriver as wd  # noqa: E402

SDC = os.path.join(os.environ["SDC_BUILD_DIR"], "cmd", "sdc")
SRC = os.environ["SDC_SOURCE_DIR"]
SHOTS = os.environ.get("SDC_WEB_SCREENSHOTS")
failures = []


def check(ok, what):
    if not ok:
        print(f"FAIL: {what}", flush=True)
        failures.append(what)
    return ok


class Server:
    """`sdc serve` on a loopback port (0: a free one) with the demo model."""

    def __init__(self, work, port=0, *args):
        self.args = args
        self.err_path = os.path.join(work, f"serve-{time.time()}.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([SDC, "serve", "--listen", f"127.0.0.1:{port}", *args],
                                     stderr=self.err)
        for _ in range(300):
            m = re.search(r"listening on (http://\S+)", open(self.err_path).read())
            if m:
                self.url = m.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"sdc serve did not start: {open(self.err_path).read()}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(30)
        self.err.close()
        check(rc == 0, f"sdc serve exit status {rc} after SIGTERM: {open(self.err_path).read()}")


# ---- page helpers ----

def load(b, url):
    b.get(url + "/")
    b.wait("return document.body.dataset.ready === '1'", 30, "the page to load its lists")


def set_field(b, field, value):
    """Types into an input (as a user), or picks an option of a select."""
    el = b.find(f"#{field}")
    if b.js("return arguments[0].tagName", el) == "SELECT":
        b.js("arguments[0].value = arguments[1];"
             "arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", el, value)
        return
    el.clear()
    el.type(str(value))


def value(b, field):
    return b.js("return document.getElementById(arguments[0]).value", field)


def cards(b):
    return b.js("return document.querySelectorAll('#gallery .card').length")


def wait_cards(b, n, timeout):
    b.wait("return document.querySelectorAll('#gallery .card').length >= arguments[0]", timeout,
           f"{n} pictures in the gallery", n)


def download_newest(b, folder, name):
    """Clicks the newest card's download link; the file's bytes once written."""
    path = os.path.join(folder, name)
    if os.path.exists(path):
        os.unlink(path)
    b.find("#gallery .card a.download").click()
    for _ in range(100):
        if os.path.exists(path) and not os.path.exists(path + ".crdownload"):
            time.sleep(0.1)
            return open(path, "rb").read()
        time.sleep(0.1)
    raise wd.WebDriverError(f"no download {name}")


def shown_pixels(b):
    """The RGBA pixels of the newest gallery picture as the page shows it, row by row."""
    flat = b.js("const img = document.querySelector('#gallery .card img');"
                "const c = document.createElement('canvas');"
                "[c.width, c.height] = [img.naturalWidth, img.naturalHeight];"
                "const x = c.getContext('2d'); x.drawImage(img, 0, 0);"
                "return [c.width, Array.from(x.getImageData(0, 0, c.width, c.height).data)];")
    w, data = flat
    px = [tuple(data[i:i + 4]) for i in range(0, len(data), 4)]
    return [px[i:i + w] for i in range(0, len(px), w)]


def shot(b, work, name):
    b.screenshot(os.path.join(work, name))
    if SHOTS:
        b.screenshot(os.path.join(SHOTS, name))


def sdc_cli(work, name, *args):
    out = os.path.join(work, name)
    subprocess.run([SDC, *args, "-o", out, "--quiet"], check=True)
    return open(out, "rb").read()


# ---- the cases ----

def case_txt2img(b, work, downloads):
    """Typed settings and Generate: the picture shown and downloaded equal `sdc`'s for the
    same settings and seed."""
    for field, v in [("prompt", "a red circle"), ("steps", 20), ("cfg_scale", 7), ("width", 64),
                     ("height", 64), ("seed", 1234), ("n_iter", 1), ("sampler_name", "Euler a"),
                     ("scheduler", "automatic")]:
        set_field(b, field, v)
    b.find("#generate").click()
    wait_cards(b, 1, 120)
    cli = sdc_cli(work, "cli.png", "-p", "a red circle", "-s", "1234", "--steps", "20",
                  "--cfg-scale", "7", "-W", "64", "-H", "64", "--sampling-method", "euler_a")
    got = download_newest(b, downloads, "sdc-1234.png")
    check(got == cli, "the downloaded PNG differs from sdc's")
    check(shown_pixels(b) == png.read(cli)[2], "the picture shown differs from sdc's pixels")
    b.find("#random-seed").click()
    check(value(b, "seed") == "-1", "random seed button")
    b.find("#reuse-seed").click()
    check(value(b, "seed") == "1234", f"reuse last seed: {value(b, 'seed')}")


def case_gallery(b):
    """A card enlarges on click, gives its settings back to the form, and goes to img2img."""
    b.find("#gallery .card img").click()
    b.wait("return document.getElementById('lightbox').open &&"
           " document.getElementById('lightbox-img').naturalWidth === 64", 5, "the enlarged picture")
    b.find("#lightbox").click()
    b.wait("return !document.getElementById('lightbox').open", 5, "the enlarged picture to close")
    for field, v in [("prompt", "something else"), ("steps", 3), ("seed", -1)]:
        set_field(b, field, v)
    b.find("#gallery .card button.reuse").click()
    got = {k: value(b, k) for k in ("prompt", "steps", "seed", "sampler_name")}
    check(got == {"prompt": "a red circle", "steps": "20", "seed": "1234", "sampler_name": "Euler a"},
          f"reuse settings: {got}")
    b.find("#gallery .card button.to-img2img").click()
    b.wait("return document.querySelector('input[name=mode]:checked').value === 'img2img' &&"
           " !document.getElementById('stage').hidden &&"
           " document.getElementById('mask-canvas').width === 64", 5, "the picture in img2img")
    b.find("input[name=mode][value=txt2img]").click()


def case_field_error(b):
    set_field(b, "steps", 0)
    b.keys(b.find("#prompt"), wd.CONTROL, wd.ENTER)
    msg = b.wait("return document.querySelector('.err[data-err=steps]').textContent", 10,
                 "the steps error beside its field")
    check("1..1000" in msg, f"steps error: {msg!r}")
    check(b.js("return document.getElementById('steps').classList.contains('invalid')"),
          "steps not marked invalid")


def case_queue(b, work):
    """Three jobs submitted at once (one with Ctrl+Enter, one with a batch count of 2) all
    reach the gallery."""
    before = cards(b)
    set_field(b, "prompt", "a (red:1.2) circle, [blue] background")
    set_field(b, "steps", 6)
    set_field(b, "seed", -1)
    set_field(b, "n_iter", 2)  # batch count: two pictures from the first job
    b.js("window.longest = 0; window.sampler = setInterval(() => window.longest = Math.max("
         " window.longest, document.querySelectorAll('#queue li').length), 20)")
    b.find("#generate").click()
    set_field(b, "n_iter", 1)
    b.find("#generate").click()
    b.keys(b.find("#prompt"), wd.CONTROL, wd.ENTER)
    wait_cards(b, before + 4, 90)
    queued = b.js("clearInterval(window.sampler); return window.longest")
    check(queued >= 2, f"the queue listed {queued} jobs at most")
    seeds = b.js("return Array.from(document.querySelectorAll('#gallery .card'))"
                 ".slice(0, 4).map((c) => Number(c.dataset.seed))")
    check(len(set(seeds)) == 4 and seeds[3] + 1 == seeds[2], f"random seeds (seed, seed + 1 for "
          f"the batch, newest first): {seeds}")
    b.wait("return document.querySelectorAll('#queue li').length === 0", 10, "an empty queue")
    b.js("window.scrollTo(0, 0)")
    shot(b, work, "web-txt2img.png")


def case_interrupt(b):
    """A long run with a second job behind it: the progress bar moves, the live preview shows
    and changes; cancel the second, interrupt the first."""
    set_field(b, "steps", 1000)
    b.find("#generate").click()
    # the bar moves: a value between 0 and 1, then a larger one, with the step count and the
    # time left beside it (a long run, so a loaded machine's seldom polls see it too)
    bar = ("const v = document.getElementById('progress').value;"
           "const t = document.getElementById('progress-text').textContent;"
           "return v > arguments[0] && v < 1 && /^step \\d+\\/1000 · [\\d.]+ s left/.test(t) && [v, t]")
    first = b.wait(bar, 60, "the bar to show the long run", 0)
    second = b.wait(bar, 60, "the bar to move on", first[0])
    print(f"  the bar: {first} then {second}")
    # the live preview (current_image: the server's proj previews, one per step) is shown
    # and changes as the run goes on
    preview = ("const p = document.getElementById('preview');"
               "return !p.hidden && p.src.startsWith('data:image/png;base64,') && "
               "p.complete && p.naturalWidth > 0 && p.src !== arguments[0] && p.src")
    shown = b.wait(preview, 60, "the live preview", "")
    b.wait(preview, 60, "the live preview to change", shown)
    b.find("#generate").click()  # a second one waits behind it; its cancel button drops it
    b.wait("return document.querySelectorAll('#queue li').length === 2", 10, "a second job queued")
    b.find("#queue li:nth-child(2) button").click()
    b.wait("return document.querySelectorAll('#queue li').length === 1", 10, "the cancelled job gone")
    notice = b.js("return document.getElementById('notice').textContent")
    check(notice.endswith("cancelled"), f"no word of the cancellation: {notice!r}")
    t0 = time.time()
    b.find("#interrupt").click()
    b.wait("return document.querySelectorAll('#queue li').length === 0", 30,
           "the interrupted job to end")
    check(time.time() - t0 < 30, f"interrupt took {time.time() - t0:.1f} s")
    notice = b.js("return document.getElementById('notice').textContent")
    check(notice.endswith("interrupted"), f"no word of the interruption: {notice!r}")


def case_png_info(b, work):
    """A PNG dropped on the page fills the form from its parameters."""
    info = sdc_cli(work, "info.png", "-p", "a lighthouse", "-n", "blurry", "-s", "42",
                   "--steps", "7", "--cfg-scale", "5.5", "--sampling-method", "dpm++2m",
                   "--scheduler", "karras", "-W", "64", "-H", "64")
    b.js("const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));"
         "const dt = new DataTransfer();"
         "dt.items.add(new File([bytes], 'info.png', {type: 'image/png'}));"
         "document.getElementById('pnginfo-drop').dispatchEvent("
         " new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
         base64.b64encode(info).decode())
    b.wait("return document.getElementById('prompt').value === 'a lighthouse'", 10,
           "the form filled from the PNG")
    want = {"negative_prompt": "blurry", "steps": "7", "cfg_scale": "5.5", "seed": "42",
            "width": "64", "height": "64", "sampler_name": "DPM++ 2M", "scheduler": "karras"}
    for k, v in want.items():
        check(value(b, k) == v, f"png info: {k} = {value(b, k)!r}, want {v!r}")
    check("Seed: 42" in b.js("return document.getElementById('pnginfo-text').textContent"),
          "png info text not shown")


def stroke(b, canvas, points):
    """A mouse drag through points (x, y) relative to the canvas's centre."""
    moves = [{"type": "pointerMove", "duration": 0, "origin": canvas.json(), "x": points[0][0],
              "y": points[0][1]}, {"type": "pointerDown", "button": 0}]
    moves += [{"type": "pointerMove", "duration": 30, "origin": canvas.json(), "x": x, "y": y}
              for x, y in points[1:]]
    moves.append({"type": "pointerUp", "button": 0})
    b.actions([{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": moves}])


def sent_body(b):
    """The last img2img request the page sent (window.fetch is wrapped to record them)."""
    return json.loads(b.js("return window.sentBodies.filter((s) => s.includes('init_images')).pop()"))


def generate(b):
    before = cards(b)
    b.find("#generate").click()
    wait_cards(b, before + 1, 60)


def case_mask_tools(b, mask):
    """Invert sends the complement of the painted mask; clear sends none (plain img2img)."""
    b.find("#mask-invert").click()
    generate(b)
    _, _, inv = png.read(base64.b64decode(sent_body(b)["mask"].split(",", 1)[1]))
    flipped = all(inv[y][x][0] == 255 - mask[y][x][0] for y in range(64) for x in range(64)
                  if mask[y][x][0] in (0, 255))
    check(flipped, "the inverted mask is not the painted one's complement")
    b.find("#mask-clear").click()
    generate(b)
    check("mask" not in sent_body(b), "a mask sent after clear")


def case_inpaint(b, work, downloads):
    """A mask painted with the mouse (and partly erased) goes out as the request's mask PNG;
    the pixels outside it come back unchanged."""
    init = os.path.join(SRC, "docs", "demo.png")
    b.find("input[name=mode][value=img2img]").click()
    b.find("#init-file").type(init)
    b.wait("return !document.getElementById('stage').hidden &&"
           " document.getElementById('mask-canvas').width === 64", 10, "the picture on the canvas")
    for field, v in [("mask_blur", 0), ("denoising_strength", 0.75), ("steps", 4), ("seed", 7)]:
        set_field(b, field, v)
    b.js("const r = document.getElementById('brush'); r.value = 40;")  # screen px: 8 image px
    canvas = b.find("#mask-canvas")
    # pointer moves are relative to the centre of the element's visible part: all of it
    b.js("arguments[0].scrollIntoView({block: 'center'})", canvas)
    # the canvas shows 64 pixels in 320: 5 screen pixels each; the centre is pixel (32, 32)
    stroke(b, canvas, [(-120, -40), (-60, -40), (0, -40), (60, -40), (120, -40)])
    eraser = "document.getElementById('eraser').checked = arguments[0]"  # no scrolling
    b.js(eraser, True)
    stroke(b, canvas, [(-125, -40), (-70, -40)])
    b.js(eraser, False)
    b.js("window.sentBodies = []; const f = window.fetch;"
         "window.fetch = (u, o) => { if (o && o.body) window.sentBodies.push(o.body); return f(u, o); };")
    before = cards(b)
    b.find("#generate").click()
    wait_cards(b, before + 1, 60)
    body = sent_body(b)
    check(body.get("mask_blur") == 0 and body.get("denoising_strength") == 0.75,
          f"inpaint request fields: { {k: body.get(k) for k in ('mask_blur', 'denoising_strength')} }")
    mw, mh, mask = png.read(base64.b64decode(body["mask"].split(",", 1)[1]))
    check((mw, mh) == (64, 64), f"mask size {mw}x{mh}")
    row = 32 - 40 // 5  # the stroke's row in the picture
    with open(os.path.join(work, "mask.txt"), "w") as f:  # for a failure's inquiry
        f.write("\n".join("".join("#" if p[0] > 127 else "." for p in r) for r in mask))
    check(mask[row][44][:3] == (255, 255, 255) and mask[row][32][:3] == (255, 255, 255),
          "the painted stroke is not white in the mask")
    check(mask[row][10][:3] == (0, 0, 0), "the erased part of the stroke is not black")
    check(all(p[:3] == (0, 0, 0) for p in mask[2] + mask[60]), "unpainted rows are not black")
    shot(b, work, "web-inpaint.png")
    result = download_newest(b, downloads, "sdc-7.png")
    _, _, out = png.read(result)
    _, _, src = png.read(open(init, "rb").read())
    outside = [(y, x) for y in range(64) for x in range(64) if mask[y][x][:3] == (0, 0, 0)]
    same = sum(out[y][x] == src[y][x] for y, x in outside)
    check(same == len(outside), f"{len(outside) - same} of {len(outside)} pixels outside the mask changed")
    inside = [(y, x) for y in range(64) for x in range(64) if mask[y][x][0] == 255]
    check(any(out[y][x] != src[y][x] for y, x in inside), "nothing changed inside the mask")
    case_mask_tools(b, mask)


def case_reload(b, url):
    """The form survives a reload (localStorage)."""
    load(b, url)
    check(value(b, "prompt") == "a lighthouse", f"prompt after reload: {value(b, 'prompt')!r}")
    check(value(b, "steps") == "4" and value(b, "sampler_name") == "DPM++ 2M",
          f"steps/sampler after reload: {value(b, 'steps')}, {value(b, 'sampler_name')}")
    check(b.js("return document.querySelector('input[name=mode]:checked').value") == "img2img",
          "mode after reload")


def write_embedding(path, shape, values):
    """A textual-inversion .safetensors file: emb_params, float32."""
    raw = struct.pack(f"<{len(values)}f", *values)
    text = json.dumps({"emb_params": {"dtype": "F32", "shape": shape,
                                      "data_offsets": [0, len(raw)]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + raw)


def embeddings_folder(work):
    """The --embd-dir of the page's server: "sparkle" for the demo model's text encoder
    (width 64), "wide" for another model's (768)."""
    folder = os.path.join(work, "embeddings")
    os.mkdir(folder)
    write_embedding(os.path.join(folder, "sparkle.safetensors"), [2, 64],
                    [((i * 37) % 101) / 50.0 - 1 for i in range(128)])
    write_embedding(os.path.join(folder, "wide.safetensors"), [1, 768], [0.0] * 768)
    return folder


def pick_embedding(b, name):
    b.js("const p = document.getElementById('embedding-pick'); p.value = arguments[0];"
         "p.dispatchEvent(new Event('change'))", name)


def case_embedding(b, work, downloads, folder):
    """The embedding picker offers what the model takes (the other model's one greyed out)
    and puts the word at the cursor of the prompt field typed in last; the picture equals
    `sdc --embd-dir` with the same prompts, and differs from the one without the embedding."""
    b.find("input[name=mode][value=txt2img]").click()
    options = b.js("return Array.from(document.getElementById('embedding-pick').options)"
                   ".map((o) => [o.value, o.disabled])")
    check(options == [["", False], ["sparkle", False], ["wide", True]], f"embedding picker: {options}")
    for field, v in [("prompt", "a circle"), ("negative_prompt", "blurry"), ("steps", 8),
                     ("cfg_scale", 7), ("width", 64), ("height", 64), ("seed", 77),
                     ("n_iter", 1), ("sampler_name", "Euler a"), ("scheduler", "automatic")]:
        set_field(b, field, v)
    b.find("#negative_prompt").click()
    pick_embedding(b, "sparkle")  # the negative prompt was typed in last
    check(value(b, "negative_prompt") == "blurry sparkle", f"negative: {value(b, 'negative_prompt')!r}")
    b.find("#prompt").click()
    b.js("document.getElementById('prompt').setSelectionRange(2, 2)")  # the cursor after "a "
    pick_embedding(b, "sparkle")
    check(value(b, "prompt") == "a sparkle circle", f"prompt: {value(b, 'prompt')!r}")
    generate(b)
    got = download_newest(b, downloads, "sdc-77.png")
    args = ["-p", "a sparkle circle", "-n", "blurry sparkle", "-s", "77", "--steps", "8",
            "--cfg-scale", "7", "-W", "64", "-H", "64", "--sampling-method", "euler_a"]
    check(got == sdc_cli(work, "emb.png", *args, "--embd-dir", folder),
          "the picture with an embedding differs from sdc --embd-dir's")
    check(png.read(got)[2] != png.read(sdc_cli(work, "noemb.png", *args))[2],
          "the embedding changed nothing")


def case_reconnect(b, server, work):
    """The server goes away: the page says so and retries; the job goes through once it is back."""
    server.stop()
    b.find("input[name=mode][value=txt2img]").click()
    set_field(b, "steps", 2)
    before = cards(b)
    b.find("#generate").click()
    b.wait("const c = document.getElementById('connection');"
           "return !c.hidden && c.textContent.includes('retrying')", 10, "the lost-connection banner")
    server = Server(work, server.port, *server.args)
    wait_cards(b, before + 1, 60)
    check(b.js("return document.getElementById('connection').hidden"), "banner still shown")
    return server


def raw_status(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def case_auth(b, work):
    """With --api-auth the page itself loads, asks for the credentials and sends them."""
    models = os.path.join(work, "models")
    os.makedirs(os.path.join(models, "loras"))
    demo = os.path.join(SRC, "models", "demo")
    for f in ("model.safetensors", "vocab.json", "merges.txt", "special_tokens_map.json"):
        os.symlink(os.path.join(demo, f), os.path.join(models, f))
    for f in ("zebra.safetensors", "style.pt", "notes.txt"):
        open(os.path.join(models, "loras", f), "w").close()
    server = Server(work, 0, "--api-auth", "user:secret", "-m", os.path.join(models, "model.safetensors"))
    try:
        status, headers = raw_status(server.url + "/")
        check(status == 200 and "script-src 'self'" in headers.get("Content-Security-Policy", ""),
              f"page under --api-auth: {status} {headers}")
        check(raw_status(server.url + "/sdapi/v1/options")[0] == 401, "API open under --api-auth")
        b.get(server.url + "/")
        b.wait("return document.getElementById('login').open", 20, "the sign-in dialog")
        b.find("#login-user").type("user")
        b.find("#login-password").type("secret")
        b.find("#login-ok").click()
        b.wait("return document.body.dataset.ready === '1' &&"
               " document.getElementById('sampler_name').options.length > 0", 20,
               "the lists after signing in")
        loras = b.js("return Array.from(document.getElementById('lora-pick').options).map((o) => o.value)")
        check(loras == ["", "style", "zebra"], f"LoRA picker: {loras}")
        set_field(b, "prompt", "a cat")
        b.js("const p = document.getElementById('lora-pick'); p.value = 'zebra';"
             "p.dispatchEvent(new Event('change'))")
        check(value(b, "prompt") == "a cat <lora:zebra:1>", f"LoRA tag: {value(b, 'prompt')!r}")
        set_field(b, "prompt", "a (red:1.3) [blue] cat <lora:zebra:0.5> BREAK ((x))")
        marked = b.js("return Array.from(document.querySelectorAll('#prompt-view span'))"
                      ".map((e) => e.className + ' ' + e.textContent)")
        check(marked == ["up (red:1.3)", "down [blue]", "lora <lora:zebra:0.5>", "kw BREAK", "up (x)"],
              f"prompt syntax marked: {marked}")
    finally:
        server.stop()


def case_http(url):
    """Without a browser: the page's files, their headers, the same-origin rule, /loras."""
    status, headers = raw_status(url + "/")
    csp = headers.get("Content-Security-Policy", "")
    check(status == 200 and headers.get("Content-Type", "").startswith("text/html") and
          "script-src 'self'" in csp and "unsafe-inline" not in csp and
          headers.get("X-Content-Type-Options") == "nosniff", f"/: {status} {headers}")
    status, headers = raw_status(url + "/app.js")
    check(status == 200 and headers.get("Content-Type", "").startswith("text/javascript"),
          f"app.js: {status} {headers.get('Content-Type')}")
    status, headers = raw_status(url + "/nothing.js")
    check(status == 404 and headers.get("Content-Type") == "application/json",
          f"/nothing.js: {status} {headers.get('Content-Type')}")
    check(raw_status(url + "/", "POST")[0] == 404, "POST / answered")
    status, _ = raw_status(url + "/sdapi/v1/interrupt", "POST", {"Origin": "http://example.com"})
    check(status == 403, f"a request from another site's page: {status}")
    host = url.split("://", 1)[1]
    status, _ = raw_status(url + "/sdapi/v1/progress", "GET", {"Origin": "https://" + host})
    check(status == 200, f"the page seen through a TLS proxy: {status}")
    with urllib.request.urlopen(url + "/sdapi/v1/loras") as r:
        check(json.load(r) == [], "LoRAs of the demo model (it has no loras folder)")
    with urllib.request.urlopen(url + "/sdapi/v1/embeddings") as r:
        got = json.load(r)
        shapes = {k: {n: (e["shape"], e["vectors"]) for n, e in v.items()} for k, v in got.items()}
        check(shapes == {"loaded": {"sparkle": (64, 2)}, "skipped": {"wide": (768, 1)}},
              f"embeddings: {got}")


def main():
    work = tempfile.mkdtemp(prefix="sdc-web-")
    downloads = os.path.join(work, "downloads")
    os.mkdir(downloads)
    folder = embeddings_folder(work)
    server = Server(work, 0, "--embd-dir", folder)
    case_http(server.url)
    if not wd.find_browser():
        server.stop()
        print("SKIP: chromium and chromedriver are needed for the web page tests "
              "(apt-get install chromium chromium-driver); the HTTP checks ran"
              + (f", {len(failures)} failed" if failures else " and passed"))
        shutil.rmtree(work, ignore_errors=True)
        return 1 if failures else 77
    b = wd.Browser(work, downloads)
    try:
        load(b, server.url)
        b.js("localStorage.clear()")
        load(b, server.url)
        check(value(b, "sd_model_checkpoint").startswith("model.safetensors"), "demo model not picked")
        check(b.js("return ['lora-row', 'img2img-panel'].every((id) =>"
                   " document.getElementById(id).offsetParent === null)"),
              "the LoRA picker (no LoRAs) or the img2img panel (txt2img) is shown")
        steps = [("txt2img", lambda: case_txt2img(b, work, downloads)),
                 ("gallery", lambda: case_gallery(b)), ("field error", lambda: case_field_error(b)),
                 ("queue", lambda: case_queue(b, work)),
                 ("interrupt", lambda: case_interrupt(b)), ("png info", lambda: case_png_info(b, work)),
                 ("inpaint", lambda: case_inpaint(b, work, downloads)),
                 ("reload", lambda: case_reload(b, server.url)),
                 ("embedding", lambda: case_embedding(b, work, downloads, folder))]
        for name, run in steps:
            t0 = time.time()
            run()
            print(f"ok {name} ({time.time() - t0:.1f} s)", flush=True)
        server = case_reconnect(b, server, work)
        print("ok reconnect", flush=True)
        case_auth(b, work)
        print("ok auth", flush=True)
    except (wd.WebDriverError, RuntimeError, subprocess.CalledProcessError) as e:
        check(False, str(e))
        b.screenshot(os.path.join(work, "failure.png"))
    finally:
        b.quit()
        if server.proc.poll() is None:
            server.stop()
    if failures:
        print(f"(screenshots, the server's and chromedriver's logs in {work})")
    print(f"{len(failures)} failures" if failures else "all web page checks passed")
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


sys.exit(main())
