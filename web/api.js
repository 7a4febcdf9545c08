// The page's only way to the server: same-origin JSON requests. A lost connection is
// reported and retried with a growing pause; a 401 asks the user for the --api-auth
// credentials (kept for this tab only, in sessionStorage) and sends them.

const AUTH_KEY = 'sdc.auth';
const RETRY_MAX_MS = 4000;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const hooks = {
  askCredentials: async () => null, // -> "user:password" or null
  connection: () => {},             // (ok, message)
};

export function setHooks(h) {
  Object.assign(hooks, h);
}

let asking = null; // the one sign-in dialog that requests waiting for credentials share

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function headers(hasBody) {
  // X-Requested-With: the server answers 401 without a basic-auth challenge, so the
  // browser does not pop its own dialog and the page asks instead.
  const h = { 'X-Requested-With': 'sdc-web' };
  if (hasBody) h['Content-Type'] = 'application/json';
  const auth = sessionStorage.getItem(AUTH_KEY);
  if (auth) h.Authorization = 'Basic ' + btoa(auth);
  return h;
}

async function send(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch(path, {
        method, headers: headers(body !== undefined), cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      hooks.connection(true, '');
      return r;
    } catch (e) { // the request never got an answer: nothing reached the server's queue
      const wait = Math.min(500 * 2 ** attempt, RETRY_MAX_MS);
      hooks.connection(false, `connection to the server lost; retrying in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
    }
  }
}

// api('GET', '/sdapi/v1/samplers') -> the parsed JSON answer; throws ApiError on an error
// status, with the server's message ("steps: must be an integer").
export async function api(method, path, body) {
  for (;;) {
    const r = await send(method, path, body);
    if (r.status === 401) {
      asking = asking || hooks.askCredentials().finally(() => { asking = null; });
      const cred = await asking;
      if (cred) {
        sessionStorage.setItem(AUTH_KEY, cred);
        continue;
      }
    }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new ApiError(r.status, data.detail || data.error || `HTTP ${r.status}`);
    return data;
  }
}
