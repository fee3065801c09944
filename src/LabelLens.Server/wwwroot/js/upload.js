// Uploads: drop files or whole folders anywhere on the page, or pick them; each file is PUT with its progress
// shown, into the chosen bucket (created if missing). The gallery shows the new pictures through the live
// stream, so this panel only tracks the transfers.
import { api, ApiError, uploadFile } from './api.js';
import { el, formatBytes, icon, toast } from './dom.js';

const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|gif|tiff?|heic|heif|avif|jxl|mp4|m4v|mov|mkv|webm|avi)$/i;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PARALLEL = 3;

/** Every file under a dropped entry, with its path relative to the drop (folders keep their structure). */
async function filesOf(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path: entry.fullPath.replace(/^\//, '') }];
  }
  if (!entry.isDirectory) return [];
  const reader = entry.createReader();
  const children = [];
  // readEntries returns at most 100 entries a call: keep reading until it returns none.
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    children.push(...batch);
  }
  return (await Promise.all(children.map(filesOf))).flat();
}

export function createUploader({ defaultBucket, uploaded }) {
  const panel = document.getElementById('upload');
  const bucketInput = document.getElementById('upload-bucket');
  const prefixInput = document.getElementById('upload-prefix');
  const fileInput = document.getElementById('file-input');
  const folderInput = document.getElementById('folder-input');
  const list = document.getElementById('upload-list');
  const summary = document.getElementById('upload-summary');
  const dropZone = document.getElementById('drop-zone');
  const overlay = document.getElementById('drop-overlay');
  const bucketError = document.getElementById('upload-bucket-error');

  const items = [];
  let running = 0;
  const createdBuckets = new Set();

  function open() {
    if (!bucketInput.value) bucketInput.value = defaultBucket();
    if (!panel.open) panel.show();
    panel.classList.add('visible');
    (items.length ? panel.querySelector('.panel-close') : bucketInput).focus();
  }

  function closePanel() {
    panel.classList.remove('visible');
    panel.close();
    document.getElementById('upload-button').focus();
  }

  panel.querySelector('.panel-close').addEventListener('click', closePanel);
  panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); closePanel(); } });
  document.getElementById('choose-files').addEventListener('click', () => fileInput.click());
  document.getElementById('choose-folder').addEventListener('click', () => folderInput.click());
  document.getElementById('upload-clear').addEventListener('click', () => {
    for (const item of items.filter((i) => i.state === 'done' || i.state === 'error' || i.state === 'skipped')) {
      item.row.remove();
      items.splice(items.indexOf(item), 1);
    }
    renderSummary();
  });
  fileInput.addEventListener('change', () => {
    add([...fileInput.files].map((file) => ({ file, path: file.name })));
    fileInput.value = '';
  });
  folderInput.addEventListener('change', () => {
    add([...folderInput.files].map((file) => ({ file, path: file.webkitRelativePath || file.name })));
    folderInput.value = '';
  });

  // Drag and drop anywhere on the page; the overlay says what will happen.
  let dragDepth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    dragDepth++;
    overlay.hidden = false;
  });
  document.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) overlay.hidden = true;
  });
  document.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', async (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dragDepth = 0;
    overlay.hidden = true;
    dropZone.classList.remove('over');
    // Entries must be taken synchronously: the DataTransfer is emptied once the handler yields.
    const entries = [...e.dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
    const plain = entries.length ? [] : [...e.dataTransfer.files].map((file) => ({ file, path: file.name }));
    open();
    const found = (await Promise.all(entries.map(filesOf))).flat();
    add([...found, ...plain]);
  });
  dropZone.addEventListener('dragover', () => dropZone.classList.add('over'));
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));

  function add(files) {
    const bucket = bucketInput.value.trim();
    if (!BUCKET_NAME.test(bucket)) {
      bucketError.hidden = false;
      bucketInput.setAttribute('aria-invalid', 'true');
      open();
      bucketInput.focus();
      return;
    }
    bucketError.hidden = true;
    bucketInput.removeAttribute('aria-invalid');
    let prefix = prefixInput.value.trim().replace(/^\/+/, '');
    if (prefix && !prefix.endsWith('/')) prefix += '/';
    for (const { file, path } of files) {
      const name = path.split('/').pop();
      const item = { file, bucket, key: prefix + path, state: 'waiting', progress: 0, message: '' };
      if (name.startsWith('.') || (!/^(image|video)\//.test(file.type) && !IMAGE_EXTENSIONS.test(name))) {
        item.state = 'skipped';
        item.message = 'Not an image or video: skipped';
      }
      item.row = el('li.upload-item');
      items.push(item);
      list.append(item.row);
      renderItem(item);
    }
    list.hidden = items.length === 0;
    renderSummary();
    pump();
  }

  function renderItem(item) {
    const label = {
      waiting: 'Waiting',
      uploading: `${Math.round(item.progress * 100)}%`,
      done: item.message || 'Uploaded',
      error: item.message,
      skipped: item.message,
    }[item.state];
    item.row.dataset.state = item.state;
    item.row.replaceChildren(
      el('span.upload-icon', {}, icon(item.state === 'error' ? 'alert' : item.state === 'done' ? 'check' : 'file', 18)),
      el('span.upload-text', {},
        el('span.upload-name', { text: item.key, title: `${item.bucket}/${item.key}` }),
        el('span.upload-meta', { text: `${formatBytes(item.file.size)} · ${label}` })),
      el('span.progress', { role: 'progressbar', 'aria-label': `Upload of ${item.key}`, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(item.progress * 100)) },
        el('span', { style: { width: `${item.progress * 100}%` } })));
  }

  function renderSummary() {
    const count = (state) => items.filter((i) => i.state === state).length;
    const done = count('done');
    const failed = count('error');
    const active = count('uploading') + count('waiting');
    summary.textContent = items.length === 0
      ? ''
      : active ? `Uploading ${done + failed + 1} of ${items.length - count('skipped')}…` : `${done} uploaded${failed ? `, ${failed} failed` : ''}${count('skipped') ? `, ${count('skipped')} skipped` : ''}`;
    document.getElementById('upload-clear').hidden = active === items.length;
  }

  async function ensureBucket(bucket) {
    if (createdBuckets.has(bucket)) return;
    await api(`/api/v1/buckets/${encodeURIComponent(bucket)}`, { method: 'PUT' });
    createdBuckets.add(bucket);
  }

  function pump() {
    while (running < PARALLEL) {
      const item = items.find((i) => i.state === 'waiting');
      if (!item) break;
      running++;
      item.state = 'uploading';
      renderItem(item);
      send(item).finally(() => {
        running--;
        renderSummary();
        if (!items.some((i) => i.state === 'waiting' || i.state === 'uploading')) {
          uploaded();
          const failed = items.filter((i) => i.state === 'error').length;
          if (failed) toast(`${failed} upload${failed === 1 ? '' : 's'} failed`, 'error');
        }
        pump();
      });
    }
    renderSummary();
  }

  async function send(item) {
    try {
      await ensureBucket(item.bucket);
      const result = await uploadFile(item.bucket, item.key, item.file, (fraction) => {
        item.progress = fraction;
        renderItem(item);
      });
      item.state = 'done';
      item.progress = 1;
      item.imageId = result?.imageId;
      item.message = result?.enqueued === false ? 'Already there (same bytes)' : 'Uploaded · labeling';
    } catch (error) {
      item.state = 'error';
      item.message = error instanceof ApiError ? error.message : String(error);
    }
    renderItem(item);
  }

  return {
    open,
    /** A live change: the rows of uploaded files say when their labels arrived. */
    labeled(change) {
      const message = { labeled: 'Labeled', failed: 'Labeling failed' }[change.type];
      if (!message) return;
      for (const item of items.filter((i) => i.imageId === change.imageId && i.state === 'done')) {
        item.message = message;
        renderItem(item);
      }
    },
  };
}
