// Talking to the LabelLens API: the API key (kept for the browser session), JSON fetches, uploads with progress.
// <img>, download links and EventSource cannot send headers: the key is traded once for a session cookie
// (HttpOnly, SameSite=Strict, POST /api/v1/session) that they carry instead, so no URL ever holds a key.

const KEY_STORAGE = 'labellens.apiKey';

/** Raised for every non-2xx answer; `code` is the problem's stable code (UnknownParameter, NoSuchImage...). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = async () => false;

/** Called on a 401: should ask for a key and resolve true when one was entered (the request is then retried). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, 'X-Api-Key': key } : extra;
}

/** Trades the key for the session cookie that images, downloads and the event stream carry. */
export async function openSession() {
  if (!apiKey()) return false;
  const response = await fetch('/api/v1/session', { method: 'POST', headers: headers() });
  return response.ok;
}

async function problem(response) {
  let code = 'HttpError';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    code = body.code || body.title || code;
    message = body.detail || body.title || message;
  } catch {
    // Not a problem document: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/** fetch + JSON with the key; on 401 asks for a key once and retries. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const init = { method, signal, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    if (response.status === 401 && attempt === 0 && (await onUnauthorized())) continue;
    if (!response.ok) throw await problem(response);
    if (response.status === 204) return null;
    const type = response.headers.get('Content-Type') || '';
    return type.includes('json') ? response.json() : response.text();
  }
}

export const encodeKey = (key) => key.split('/').map(encodeURIComponent).join('/');

export const thumbnailUrl = (image, size = 320) =>
  `/api/v1/images/${image.id}/thumbnail?size=${size}&v=${encodeURIComponent(image.sha256)}`;

export const objectUrl = (image) => `/api/v1/buckets/${encodeURIComponent(image.bucket)}/objects/${encodeKey(image.key)}`;

/**
 * PUT one file as an object, reporting upload progress (fetch cannot report request progress; XHR can).
 * Resolves with the object response; rejects with an ApiError.
 */
export function uploadFile(bucket, key, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/v1/buckets/${encodeURIComponent(bucket)}/objects/${encodeKey(key)}`);
    for (const [name, value] of Object.entries(headers({ 'Content-Type': file.type || 'application/octet-stream' }))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* empty or not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.code || 'HttpError', body?.detail || `${xhr.status} ${xhr.statusText}`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'NetworkError', 'The connection failed.'));
    xhr.onabort = () => reject(new ApiError(0, 'Aborted', 'Cancelled.'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}
