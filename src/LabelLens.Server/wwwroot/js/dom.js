// Small DOM and formatting helpers. Text always goes in through textContent (never innerHTML), so object
// keys and label names from uploads cannot inject markup.

/** el('div.tile', {attrs}, ...children): an element with classes, attributes/properties and children. */
export function el(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    // CSSOM, not a style attribute: the page's Content-Security-Policy forbids inline style attributes.
    else if (name === 'style') for (const [property, v] of Object.entries(value)) node.style.setProperty(property, String(v));
    else if (name === 'text') node.textContent = value;
    else if (name in node && typeof value !== 'string') node[name] = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
const ICONS = {
  search: 'M11 4a7 7 0 1 1 0 14 7 7 0 0 1 0-14zm10 17-5.2-5.2',
  upload: 'M12 16V4m0 0L7 9m5-5 5 5M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3',
  queue: 'M4 6h16M4 12h16M4 18h10',
  sun: 'M12 8a4 4 0 1 1 0 8 4 4 0 0 1 0-8zM12 2v2m0 16v2M4.9 4.9l1.4 1.4m11.4 11.4 1.4 1.4M2 12h2m16 0h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4',
  moon: 'M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z',
  close: 'M6 6l12 12M18 6 6 18',
  filter: 'M4 5h16l-6 7v6l-4 2v-8z',
  download: 'M12 4v12m0 0-5-5m5 5 5-5M4 20h16',
  refresh: 'M20 11a8 8 0 1 0-2.3 5.7M20 5v6h-6',
  trash: 'M4 7h16M10 11v6m4-6v6M6 7l1 13h10l1-13M9 7V4h6v3',
  left: 'M15 5l-7 7 7 7',
  right: 'M9 5l7 7-7 7',
  image: 'M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9.5a1 1 0 1 0 0-.1',
  folder: 'M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z',
  file: 'M6 3h8l4 4v14H6zM14 3v4h4',
  alert: 'M12 4 2 20h20zM12 10v4m0 3v.1',
  check: 'M5 12l5 5 9-10',
  key: 'M15 7a4 4 0 1 1-3.9 5H4v3h3v-2',
  box: 'M4 4h6M4 4v6m16-6h-6m6 0v6M4 20h6m-6 0v-6m16 6h-6m6 0v-6',
  text: 'M5 6V4h14v2M12 4v16m-3 0h6',
  copy: 'M9 9h10v11H9zM5 15V4h10',
  play: 'M8 5.5v13l10.5-6.5z',
  stop: 'M7 7h10v10H7z',
  video: 'M3 6h12v12H3zM15 10l6-3.5v11L15 14',
  face: 'M12 3a6 7 0 1 1 0 14 6 7 0 0 1 0-14zM9.5 9v.1m5-.1v.1M9.5 13.5a3.5 3.5 0 0 0 5 0M5 21a7 4 0 0 1 14 0',
};

/** An inline stroke icon (decorative: hidden from assistive technology). */
export function icon(name, size = 20) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', size);
  svg.setAttribute('height', size);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name] || '');
  svg.append(path);
  return svg;
}

export const fileName = (key) => key.split('/').pop() || key;

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export const percent = (confidence) => `${Math.round(confidence)}%`;

/** A media time: 9000 ms is "0:09", 3725000 ms "1:02:05". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor((ms ?? 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export const isVideo = (details) => details?.mediaType === 'video' && Boolean(details.video);

/** A video job that is still queued or running (its progress moves). */
export const videoRunning = (details) => isVideo(details) && details.video.jobStatus === 'IN_PROGRESS';

export function formatTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * The labels worth showing first: the picture's findings (see foundDirectly) before the parents inferred from
 * them (a dog photo also has Animal, Mammal, Pet...), each group by confidence.
 */
export function primaryLabels(labels) {
  const found = foundDirectly(labels);
  return [...labels].sort((a, b) => found(b) - found(a) || b.confidence - a.confidence);
}

/**
 * Whether a label is one of the picture's own findings rather than a parent it implies: a box (Dog), a hand-made
 * label, or a label no other label descends from (Coffee from the classifier: no box, but not an ancestor either).
 */
export function foundDirectly(labels) {
  const parents = new Set(labels.flatMap((l) => (l.parents || []).map((p) => p.name)));
  return (l) => l.instances.length > 0 || l.source === 'manual' || !parents.has(l.name);
}

/** The labels a tile has room for: what was detected, not the parents it implies (Dog, not Dog and Animal). */
export function tileLabels(labels) {
  const sorted = primaryLabels(labels);
  const parents = new Set(labels.flatMap((l) => (l.parents || []).map((p) => p.name)));
  const leaves = sorted.filter((l) => !parents.has(l.name));
  return leaves.length ? leaves : sorted;
}

/** "not an image" from "InvalidImageFormat: not an image (no supported image format recognised)". */
export function shortError(error) {
  const text = String(error || '').replace(/^[A-Za-z]+:\s*/, '').replace(/\s*\(.*$/, '').trim();
  return text ? text[0].toUpperCase() + text.slice(1) : 'Labeling failed';
}

/** "dog.jpg: Dog, Bicycle" — what a screen reader says for a picture. */
export function altText(details) {
  const name = fileName(details.image.key) + (isVideo(details) && details.video.durationMillis ? ` (video, ${formatDuration(details.video.durationMillis)})` : '');
  const { status } = details.image;
  if (status === 'queued' || status === 'labeling') return `${name}: not labeled yet`;
  if (status === 'failed') return `${name}: labeling failed`;
  const labels = primaryLabels(details.labels).filter(foundDirectly(details.labels));
  const names = (labels.length ? labels : details.labels).slice(0, 5).map((l) => l.name);
  return names.length ? `${name}: ${[...new Set(names)].join(', ')}` : `${name}: no labels found`;
}

/** A stable hue per label name, so Dog is the same colour in every box and chip. */
export function labelHue(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return [212, 152, 28, 340, 268, 190, 12, 96, 300, 48][hash % 10];
}

let toastRoot;

/**
 * The toasts are a popover, in the top layer, so "Relabel queued" or an error is seen while a modal dialog
 * (the detail view) is open. They move into that dialog while it is open: everything outside a modal dialog
 * is inert, and an inert toast would not be read out. When it closes they move back to the page.
 */
function showToasts() {
  const modal = document.querySelector('dialog:modal');
  const host = modal ?? document.body;
  if (toastRoot.parentElement !== host) {
    host.append(toastRoot); // moving a popover closes it
    modal?.addEventListener('close', () => {
      document.body.append(toastRoot);
      if (toastRoot.childElementCount) showToasts();
    }, { once: true });
  }
  if (!toastRoot.showPopover) return;
  if (toastRoot.matches(':popover-open') && modal) toastRoot.hidePopover(); // above anything opened since
  if (!toastRoot.matches(':popover-open')) toastRoot.showPopover();
}

/** A short message at the bottom of the screen; `kind` is info, success or error. */
export function toast(message, kind = 'info') {
  toastRoot ??= document.getElementById('toasts');
  const node = el(`div.toast.toast-${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, icon(kind === 'error' ? 'alert' : 'check', 18), el('span', { text: message }));
  toastRoot.append(node);
  showToasts();
  setTimeout(() => node.classList.add('leaving'), 4200);
  setTimeout(() => {
    node.remove();
    if (!toastRoot.childElementCount && toastRoot.matches(':popover-open')) toastRoot.hidePopover();
  }, 4600);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
