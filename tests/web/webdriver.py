"""A small W3C WebDriver client over HTTP (the standard library only) for ChromeDriver with
Debian's headless Chromium: what tests/web/web.py needs and no more."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference


def find_browser():
    """(chromium, chromedriver) paths, or None when either is missing."""
    driver = shutil.which("chromedriver")
    for b in ("/usr/lib/chromium/chromium", shutil.which("chromium") or ""):
        if b and os.access(b, os.X_OK) and driver:
            return b, driver
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriverError(Exception):
    pass


class Element:
    def __init__(self, browser, ref):
        self.browser, self.ref = browser, ref

    def _post(self, what, body=None):
        return self.browser.cmd("POST", f"/element/{self.ref}/{what}", body or {})

    def click(self):
        self._post("click")

    def type(self, text):
        self._post("value", {"text": text})

    def clear(self):
        self._post("clear")

    def json(self):
        return {ELEMENT: self.ref}


class Browser:
    """One headless Chromium session; downloads go to download_dir."""

    def __init__(self, work, download_dir, size=(1100, 800)):
        binary, driver = find_browser()
        self.port = free_port()
        self.log = open(os.path.join(work, "chromedriver.log"), "w")
        self.driver = subprocess.Popen([driver, f"--port={self.port}"], stdout=self.log,
                                       stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_driver()
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-component-update", f"--window-size={size[0]},{size[1]}",
                f"--user-data-dir={os.path.join(work, 'profile')}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": binary, "args": args,
            "prefs": {"download.default_directory": download_dir,
                      "download.prompt_for_download": False}}}}}
        self.session = self._raw("POST", "/session", caps)["sessionId"]
        self.cdp("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})

    def _wait_driver(self):
        for _ in range(100):
            try:
                self._raw("GET", "/status")
                return
            except (OSError, WebDriverError):
                time.sleep(0.1)
        raise WebDriverError("chromedriver did not start")

    def _raw(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise WebDriverError(f"{method} {path}: {e.read().decode(errors='replace')[:500]}")

    def cmd(self, method, path, body=None):
        return self._raw(method, f"/session/{self.session}{path}", body)

    def cdp(self, command, params):
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": command, "params": params})

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        ref = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        if ELEMENT not in ref:
            raise WebDriverError(f"find {css}: {ref}")
        return Element(self, ref[ELEMENT])

    def js(self, script, *args):
        a = [x.json() if isinstance(x, Element) else x for x in args]
        return self.cmd("POST", "/execute/sync", {"script": script, "args": a})

    def js_async(self, script, *args):
        """script ends by calling arguments[arguments.length - 1](result)."""
        a = [x.json() if isinstance(x, Element) else x for x in args]
        return self.cmd("POST", "/execute/async", {"script": script, "args": a})

    def actions(self, actions):
        self.cmd("POST", "/actions", {"actions": actions})
        self.cmd("DELETE", "/actions")

    def keys(self, element, *keys):
        """Presses keys with the WebDriver key codes (e.g. CONTROL, ENTER) on element."""
        element.click()
        down = [{"type": "keyDown", "value": k} for k in keys]
        up = [{"type": "keyUp", "value": k} for k in reversed(keys)]
        self.actions([{"type": "key", "id": "keyboard", "actions": down + up}])

    def screenshot(self, path):
        import base64
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))

    def wait(self, script, timeout, what, *args):
        """Polls a script until it returns something true; returns that."""
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(script, *args)
            if v:
                return v
            time.sleep(0.1)
        raise WebDriverError(f"timed out after {timeout} s waiting for {what}")

    def quit(self):
        try:
            self.cmd("DELETE", "")
        except (OSError, WebDriverError):
            pass
        self.driver.terminate()
        self.driver.wait(10)
        self.log.close()


CONTROL = "\ue009"
ENTER = "\ue007"
