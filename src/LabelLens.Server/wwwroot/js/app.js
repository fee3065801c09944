// LabelLens web UI: search box, filters, the gallery with infinite scroll, live updates, and the wiring of
// the detail view, the upload panel and the queue panel.
import { api, ApiError, apiKey, openSession, setApiKey, setUnauthorizedHandler, thumbnailUrl } from './api.js';
import { COLORS, hasFaceFilter, isFiltered, matches, pageUrl, readQuery, searchParams } from './query.js';
import { altText, debounce, el, fileName, formatDuration, icon, isVideo, labelHue, percent, shortError, tileLabels, toast, videoRunning } from './dom.js';
import { createDetail } from './detail.js';
import { createUploader } from './upload.js';
import { createQueuePanel } from './queue.js';

const PAGE = 48;
const $ = (id) => document.getElementById(id);

const grid = $('grid');
const emptyState = $('empty');
const resultCount = $('result-count');
const notice = $('notice');
const health = $('health');
const sentinel = $('sentinel');

/** What the gallery shows: ids in order, details by id, the next page's cursor. */
const state = {
  query: readQuery(),
  appliedSearch: null,
  order: [],
  byId: new Map(),
  cursor: null,
  loading: false,
  generation: 0,
  colorUnsupported: false,
};

// ---------------------------------------------------------------- API key

const keyDialog = $('key-dialog');
let keyPrompt = null;

/** Asks for an API key (once for concurrent 401s); resolves true when one was entered. */
function askForKey() {
  keyPrompt ??= new Promise((resolve) => {
    const input = $('key-input');
    $('key-error').hidden = !apiKey();
    input.value = '';
    keyDialog.showModal();
    input.focus();
    keyDialog.addEventListener('close', async () => {
      keyPrompt = null;
      const entered = keyDialog.returnValue === 'ok' && input.value.trim();
      if (entered) {
        setApiKey(input.value.trim());
        // The cookie first: the retried call's thumbnails and the live stream need it.
        await openSession();
      }
      resolve(Boolean(entered));
      if (entered) connectLive();
    }, { once: true });
  });
  return keyPrompt;
}

setUnauthorizedHandler(askForKey);
// A plain button, not a second submit button: Enter in the key field must mean Continue.
$('key-cancel').addEventListener('click', () => keyDialog.close('cancel'));

// ---------------------------------------------------------------- navigation

/** Changes the URL (a new history entry unless `replace`) and shows what it says. */
function navigate(query, { replace = false, state = null } = {}) {
  const url = pageUrl(query);
  if (replace) history.replaceState(state, '', url);
  else history.pushState(state, '', url);
  applyUrl();
}

function searchKey(query) {
  return searchParams(query).toString();
}

function applyUrl() {
  state.query = readQuery();
  renderSearchControls();
  const key = searchKey(state.query);
  if (key !== state.appliedSearch) {
    state.appliedSearch = key;
    runSearch();
  }

  if (state.query.image) {
    detail.show(state.query.image);
  } else {
    // Give focus back to the picture that was open, so keyboard users keep their place in the grid.
    const closed = detail.hide();
    if (closed) tileOf(closed)?.querySelector('.tile-link')?.focus();
  }
}

window.addEventListener('popstate', applyUrl);

function setQuery(changes, options) {
  navigate({ ...state.query, ...changes, image: '' }, options);
}

// ---------------------------------------------------------------- search box

const chips = $('chips');
const input = $('search-input');
const suggestions = $('suggestions');
let suggestionItems = [];
let suggestionsFor = null;
let activeSuggestion = -1;

function renderSearchControls() {
  const { query } = state;
  chips.replaceChildren(...[
    ...query.label.map((name) => chip(name, false)),
    ...query.notLabel.map((name) => chip(name, true)),
    query.text ? textChip(query.text) : null,
  ].filter(Boolean));
  const narrow = matchMedia('(max-width: 600px)').matches;
  input.placeholder = query.label.length || query.notLabel.length
    ? 'Add a label…'
    : narrow ? 'Search: Dog, Car, -Person…' : 'Search by what is in the picture: Dog, Car, -Person…';
  confidence.value = query.minConfidence || 0;
  confidenceOutput.textContent = query.minConfidence ? `≥ ${query.minConfidence}%` : 'Any';
  bucketSelect.value = query.bucket;
  if (bucketSelect.value !== query.bucket) {
    bucketSelect.append(el('option', { value: query.bucket, text: query.bucket }));
    bucketSelect.value = query.bucket;
  }
  if (document.activeElement !== prefixInput) prefixInput.value = query.prefix;
  categorySelect.value = query.category;
  statusSelect.value = query.status;
  // "2" exactly two, "3+" at least three, "-1" at most one; a number from a shared URL gets its own option.
  const faces = query.faces || (query.minFaces ? `${query.minFaces}+` : '') || (query.maxFaces ? `-${query.maxFaces}` : '');
  if (![...facesSelect.options].some((o) => o.value === faces)) {
    const text = query.faces ? `Exactly ${query.faces}` : query.minFaces ? `${query.minFaces} or more` : `At most ${query.maxFaces}`;
    facesSelect.append(el('option', { value: faces, text }));
  }
  facesSelect.value = faces;
  shotSelect.value = query.shot;
  sortSelect.value = query.sort || (query.label.length ? 'confidence' : 'time');
  // One tab stop for the twelve swatches (the chosen one, else the first); arrow keys move between them.
  const swatches = [...colorGroup.querySelectorAll('button')];
  for (const swatch of swatches) {
    const pressed = swatch.dataset.color === query.color;
    swatch.setAttribute('aria-pressed', String(pressed));
    swatch.tabIndex = pressed || (!query.color && swatch === swatches[0]) ? 0 : -1;
  }
  const active = [query.minConfidence, query.bucket, query.prefix, query.category, query.status, query.color, query.faces || query.minFaces || query.maxFaces, query.shot].filter(Boolean).length;
  $('filter-count').textContent = active ? String(active) : '';
  $('filter-count').hidden = !active;
  $('clear-filters').hidden = !isFiltered(query);
}

function chip(name, excluded) {
  const hue = labelHue(name);
  return el(
    `li.chip${excluded ? '.chip-not' : ''}`,
    { style: { '--hue': hue } },
    el('button.chip-toggle', {
      type: 'button',
      title: excluded ? 'Excluded: click to include' : 'Included: click to exclude',
      'aria-label': `${excluded ? 'Without' : 'With'} ${name}: switch to ${excluded ? 'with' : 'without'}`,
      onclick: () => toggleLabel(name, excluded),
    }, el('span.chip-dot', { 'aria-hidden': 'true', style: { '--hue': hue } }), excluded ? `not ${name}` : name),
    el('button.chip-remove', { type: 'button', 'aria-label': `Remove ${name}`, onclick: () => removeLabel(name) }, icon('close', 14)),
  );
}

/** The `text:` search (words read in the picture), removable like a label. */
function textChip(text) {
  return el('li.chip.chip-text', {},
    el('span.chip-toggle', { title: 'Text in the picture' }, icon('text', 14), `“${text}”`),
    el('button.chip-remove', { type: 'button', 'aria-label': `Remove text search ${text}`, onclick: () => { setQuery({ text: '' }); input.focus(); } }, icon('close', 14)));
}

function addLabel(raw, exclude = false) {
  let name = raw.trim();
  // "text: scene 42" searches the text read in the pictures, not a label.
  const text = /^text:\s*(.*)$/i.exec(name);
  if (text) {
    input.value = '';
    closeSuggestions();
    if (text[1].trim()) setQuery({ text: text[1].trim() });
    return;
  }
  if (name.startsWith('-') || name.startsWith('!')) { exclude = true; name = name.slice(1).trim(); }
  if (!name) return;
  const lower = name.toLowerCase();
  const label = state.query.label.filter((n) => n.toLowerCase() !== lower);
  const notLabel = state.query.notLabel.filter((n) => n.toLowerCase() !== lower);
  (exclude ? notLabel : label).push(name);
  input.value = '';
  closeSuggestions();
  setQuery({ label, notLabel });
}

function removeLabel(name) {
  setQuery({ label: state.query.label.filter((n) => n !== name), notLabel: state.query.notLabel.filter((n) => n !== name) });
  input.focus();
}

function toggleLabel(name, excluded) {
  const label = state.query.label.filter((n) => n !== name);
  const notLabel = state.query.notLabel.filter((n) => n !== name);
  (excluded ? label : notLabel).push(name);
  setQuery({ label, notLabel });
}

const fetchSuggestions = debounce(async () => {
  const text = input.value.trim().replace(/^[-!]/, '');
  try {
    const params = new URLSearchParams({ limit: '8' });
    if (text) params.set('prefix', text);
    const [{ labels }, vocabulary] = await Promise.all([
      api(`/api/v1/labels?${params}`),
      // Labels the configured models can find but no image has yet (Beach before any beach is uploaded).
      text ? api(`/api/v1/labels/vocabulary?${new URLSearchParams({ prefix: text })}`).catch(() => ({ labels: [] })) : { labels: [] },
    ]);
    const chosen = new Set([...state.query.label, ...state.query.notLabel].map((n) => n.toLowerCase()));
    // Answers can come back out of order: show only the one for what the box says now.
    if (text !== input.value.trim().replace(/^[-!]/, '')) return;
    const seen = new Set(labels.map((l) => l.name.toLowerCase()));
    // Their counts are not known here (the facets count by name): no number, and the alias that matched, if any.
    const typed = text.toLowerCase();
    const more = vocabulary.labels.filter((l) => !seen.has(l.name.toLowerCase()))
      .sort((a, b) => b.name.toLowerCase().startsWith(typed) - a.name.toLowerCase().startsWith(typed))
      .slice(0, Math.max(0, 8 - labels.length))
      .map((l) => ({ name: l.name, images: null, alias: l.name.toLowerCase().startsWith(typed) ? null : l.aliases.find((a) => a.toLowerCase().startsWith(typed)) }));
    showSuggestions([...labels, ...more].filter((l) => !chosen.has(l.name.toLowerCase())), text);
  } catch {
    closeSuggestions();
  }
}, 120);

function showSuggestions(labels, text) {
  suggestionItems = labels;
  suggestionsFor = text;
  activeSuggestion = -1;
  if (!labels.length && !text) { closeSuggestions(); return; }
  const rows = labels.map((label, index) => el('li.suggestion', {
    role: 'option',
    id: `suggestion-${index}`,
    'aria-selected': 'false',
    onmousedown: (e) => { e.preventDefault(); addLabel(label.name, e.shiftKey); },
  }, el('span.chip-dot', { 'aria-hidden': 'true', style: { '--hue': labelHue(label.name) } }),
  el('span.suggestion-name', { text: label.alias ? `${label.name} (${label.alias})` : label.name }),
  el('span.suggestion-count', { text: label.images == null ? '' : `${label.images}` })));
  if (!labels.length) rows.push(el('li.suggestion-empty', { role: 'presentation', text: `No label starts with “${text}”. Enter searches for it anyway.` }));
  rows.push(el('li.suggestion-hint', { role: 'presentation' }, el('kbd', { text: 'Enter' }), ' include  ', el('kbd', { text: 'Shift+Enter' }), ' exclude  ', el('kbd', { text: 'Esc' }), ' close'));
  suggestions.replaceChildren(...rows);
  suggestions.hidden = false;
  input.setAttribute('aria-expanded', 'true');
}

/**
 * What Enter means with no suggestion picked: labels are a fixed list, so "do" means the first label
 * suggested for it (Dog), as in other galleries, rather than a search for a label "do" that cannot exist.
 * Typed text that no label starts with is searched as typed.
 */
function completion(raw) {
  const typed = raw.trim();
  const text = typed.replace(/^[-!]/, '').trim();
  const sign = typed.slice(0, typed.length - typed.replace(/^[-!]/, '').length);
  if (suggestionsFor !== text || !suggestionItems.length) return typed;
  const lower = text.toLowerCase();
  const pick = suggestionItems.find((l) => l.name.toLowerCase() === lower)
    ?? suggestionItems.find((l) => l.name.toLowerCase().startsWith(lower));
  return pick ? sign + pick.name : typed;
}

function closeSuggestions() {
  suggestions.hidden = true;
  input.setAttribute('aria-expanded', 'false');
  input.removeAttribute('aria-activedescendant');
  activeSuggestion = -1;
}

function highlightSuggestion(index) {
  activeSuggestion = index;
  suggestions.querySelectorAll('.suggestion').forEach((row, i) => row.setAttribute('aria-selected', String(i === index)));
  if (index >= 0) input.setAttribute('aria-activedescendant', `suggestion-${index}`);
  else input.removeAttribute('aria-activedescendant');
}

input.addEventListener('input', fetchSuggestions);
input.addEventListener('focus', fetchSuggestions);
input.addEventListener('blur', () => setTimeout(closeSuggestions, 100));
input.addEventListener('keydown', (e) => {
  const open = !suggestions.hidden && suggestionItems.length > 0;
  if (e.key === 'ArrowDown' && open) {
    e.preventDefault();
    highlightSuggestion((activeSuggestion + 1) % suggestionItems.length);
  } else if (e.key === 'ArrowUp' && open) {
    e.preventDefault();
    highlightSuggestion(activeSuggestion <= 0 ? suggestionItems.length - 1 : activeSuggestion - 1);
  } else if (e.key === 'Enter') {
    e.preventDefault();
    if (activeSuggestion >= 0) addLabel(suggestionItems[activeSuggestion].name, e.shiftKey);
    else if (input.value.trim()) addLabel(completion(input.value), e.shiftKey);
  } else if (e.key === 'Escape') {
    if (!suggestions.hidden) { e.preventDefault(); closeSuggestions(); } else { input.value = ''; }
  } else if (e.key === 'Backspace' && !input.value) {
    const last = state.query.notLabel.at(-1) ?? state.query.label.at(-1);
    if (last) removeLabel(last);
  }
});
$('search-form').addEventListener('submit', (e) => e.preventDefault());
$('search-field').addEventListener('click', (e) => { if (e.target === e.currentTarget) input.focus(); });

// ---------------------------------------------------------------- filters

const confidence = $('confidence');
const confidenceOutput = $('confidence-value');
const bucketSelect = $('bucket');
const prefixInput = $('prefix');
const categorySelect = $('category');
const statusSelect = $('status');
const facesSelect = $('faces');
const shotSelect = $('shot');
const sortSelect = $('sort');
const colorGroup = $('colors');

confidence.addEventListener('input', () => { confidenceOutput.textContent = confidence.value > 0 ? `≥ ${confidence.value}%` : 'Any'; });
// Arrow keys on the slider fire a change per step: one search (and one history entry) when they stop.
confidence.addEventListener('change', debounce(() => setQuery({ minConfidence: confidence.value > 0 ? confidence.value : '' }), 250));
bucketSelect.addEventListener('change', () => setQuery({ bucket: bucketSelect.value }));
prefixInput.addEventListener('input', debounce(() => setQuery({ prefix: prefixInput.value }, { replace: true }), 350));
categorySelect.addEventListener('change', () => setQuery({ category: categorySelect.value }));
statusSelect.addEventListener('change', () => setQuery({ status: statusSelect.value }));
// "3+" is minFaces=3, "-1" maxFaces=1; a number is exactly that many (faces=0 finds pictures known to have none).
facesSelect.addEventListener('change', () => {
  const value = facesSelect.value;
  setQuery(value.endsWith('+') ? { faces: '', minFaces: value.slice(0, -1), maxFaces: '' }
    : value.startsWith('-') ? { faces: '', minFaces: '', maxFaces: value.slice(1) }
      : { faces: value, minFaces: '', maxFaces: '' });
});
shotSelect.addEventListener('change', () => setQuery({ shot: shotSelect.value }));
sortSelect.addEventListener('change', () => setQuery({ sort: sortSelect.value }));
$('clear-filters').addEventListener('click', () => navigate({ label: [], notLabel: [] }));

const filtersPanel = $('filters');
$('filters-toggle').addEventListener('click', () => {
  const open = filtersPanel.classList.toggle('open');
  $('filters-toggle').setAttribute('aria-expanded', String(open));
});

colorGroup.append(...COLORS.map((color) => el('button.swatch', {
  type: 'button',
  dataset: { color },
  title: color,
  'aria-label': `Colour: ${color}`,
  'aria-pressed': 'false',
  onclick: () => setQuery({ color: state.query.color === color ? '' : color }),
})));

colorGroup.addEventListener('keydown', (e) => {
  const swatches = [...colorGroup.querySelectorAll('button')];
  const index = swatches.indexOf(document.activeElement);
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  if (index < 0 || (step === undefined && e.key !== 'Home' && e.key !== 'End')) return;
  e.preventDefault();
  const next = e.key === 'Home' ? 0 : e.key === 'End' ? swatches.length - 1 : (index + step + swatches.length) % swatches.length;
  swatches.forEach((s, i) => { s.tabIndex = i === next ? 0 : -1; });
  swatches[next].focus();
});

async function loadFilterOptions() {
  try {
    const [{ buckets }, { categories }] = await Promise.all([api('/api/v1/buckets'), api('/api/v1/categories')]);
    bucketSelect.replaceChildren(el('option', { value: '', text: 'All buckets' }), ...buckets.map((b) => el('option', { value: b, text: b })));
    categorySelect.replaceChildren(el('option', { value: '', text: 'All categories' }), ...categories.map((c) => el('option', { value: c, text: c })));
    $('upload-buckets').replaceChildren(...buckets.map((b) => el('option', { value: b })));
    renderSearchControls();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
}

// ---------------------------------------------------------------- gallery

function statusText(status) {
  return { queued: 'Queued', labeling: 'Labeling', failed: 'Failed', labeled: '' }[status] ?? status;
}

/** The status badge of a tile; a video being labeled says how far it got. */
function statusBadge(details) {
  const { image } = details;
  if (image.status === 'labeled') return null;
  const progress = videoRunning(details) ? details.video.progress?.percent : null;
  return el(`span.status.status-${image.status}`, {},
    image.status === 'failed' ? icon('alert', 14) : el('span.spinner', { 'aria-hidden': 'true' }),
    statusText(image.status),
    progress != null && image.status !== 'failed' ? el('span.status-pct', { text: ` ${Math.floor(progress)}%` }) : null);
}

function noPreview(details) {
  return details.image.status === 'failed' && !details.image.width && !isVideo(details);
}

/** Face count and shot size on a tile ("2 faces · medium"); for a video hit of a face search, when (the first stretch found). */
function faceBadge(details) {
  const spans = details.video?.faceSpans;
  if (isVideo(details) && spans?.length && hasFaceFilter(state.query)) {
    const s = spans[0];
    return el('span.tile-faces', { title: `${spans.length} stretch${spans.length === 1 ? '' : 'es'} match` },
      icon('face', 13), `${formatDuration(s.startTimestampMillis)}–${formatDuration(s.endTimestampMillis)}`, s.shotSize ? ` · ${s.shotSize}` : '');
  }
  const faces = details.faces;
  if (!faces || faces.count === 0) return null;
  const text = `${faces.count} face${faces.count === 1 ? '' : 's'}${faces.shot ? ` · ${faces.shot}` : ''}`;
  return el('span.tile-faces', { 'aria-label': text }, icon('face', 13), text);
}

function renderTile(details) {
  const { image } = details;
  // The labels searched for come first on the tile: they are why the picture is here.
  const searched = new Set(state.query.label.map((n) => n.toLowerCase()));
  const hits = details.labels.filter((l) => searched.has(l.name.toLowerCase()));
  const top = [...hits, ...tileLabels(details.labels).filter((l) => !hits.includes(l))].slice(0, 3);
  const query = new URLSearchParams(location.search);
  query.set('image', image.id);
  const link = el('a.tile-link', {
    href: `?${query}`,
    onclick: (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
      e.preventDefault();
      openImage(image.id);
    },
  },
  el('span.tile-media', {},
    // A file that could not be decoded has no picture to show: say so in the page's own colours rather
    // than load the server's light placeholder into a dark gallery.
    noPreview(details)
      ? el('span.tile-placeholder', { role: 'img', 'aria-label': altText(details) }, icon('image', 36), el('span', { text: 'No preview' }))
      : el('img', { src: thumbnailUrl(image, 320), alt: altText(details), loading: 'lazy', decoding: 'async', width: 320, height: 320, onload: (e) => e.target.classList.add('loaded') }),
    isVideo(details)
      ? el('span.tile-video', { 'aria-hidden': 'true' },
        el('span.tile-play', {}, icon('play', 22)),
        details.video.durationMillis ? el('span.tile-duration', { text: formatDuration(details.video.durationMillis) }) : null)
      : null),
  statusBadge(details),
  el('span.tile-caption', {},
    el('span.tile-name', { text: fileName(image.key), title: `${image.bucket}/${image.key}` }),
    faceBadge(details),
    el('span.tile-labels', {}, top.length
      ? top.map((l) => el('span.tag', { style: { '--hue': labelHue(l.name) } }, l.name, el('span.tag-value', { text: ` ${percent(l.confidence)}` })))
      : image.status === 'failed'
        ? el('span.tag.tag-error', { text: shortError(image.error), title: image.error || 'Labeling failed' })
        : el('span.tag.tag-muted', { text: image.status === 'labeled' ? 'No labels' : 'Waiting for labels…' }))));
  return el('div.tile', { role: 'listitem', dataset: { id: image.id, status: image.status, media: details.mediaType || 'image' } }, link);
}

function skeletons(count) {
  return Array.from({ length: count }, () => el('div.tile.skeleton', { 'aria-hidden': 'true' }, el('span.tile-media'), el('span.tile-caption', {}, el('span.bar'), el('span.bar.short'))));
}

function updateCount() {
  const n = state.order.length;
  resultCount.textContent = n === 0 ? '' : `${n}${state.cursor ? '+' : ''} image${n === 1 ? '' : 's'}`;
}

function renderEmpty() {
  const filtered = isFiltered(state.query);
  emptyState.hidden = state.order.length > 0 || state.loading;
  if (emptyState.hidden) return;
  if (filtered) explainUnfindable(state.generation);
  emptyState.replaceChildren(filtered
    ? el('div.empty-inner', {},
      el('div.empty-art', {}, icon('search', 40)),
      el('h2', { text: 'Nothing matches this search' }),
      el('p', { text: 'Try fewer labels, a lower confidence, or another bucket or colour.' }),
      el('button.button', { type: 'button', onclick: () => navigate({ label: [], notLabel: [] }) }, 'Clear search and filters'))
    : el('div.empty-inner', {},
      el('div.empty-art', {}, icon('image', 40)),
      el('h2', { text: 'Your library is empty' }),
      el('p', { text: 'Drop photos or whole folders anywhere on this page, or choose them. LabelLens finds what is in each picture — dogs, cars, people, food — so you can search by it.' }),
      el('button.button.primary', { type: 'button', onclick: () => uploader.open() }, icon('upload', 18), 'Upload photos')));
}

/**
 * An empty search for a label no configured model can produce says so, instead of suggesting the library
 * lacks it: "No configured model finds “Beach”" (the vocabulary answers 404 for such a name or alias).
 */
async function explainUnfindable(generation) {
  for (const name of state.query.label) {
    try {
      await api(`/api/v1/labels/vocabulary?${new URLSearchParams({ q: name })}`);
    } catch (error) {
      if (error?.status !== 404 || generation !== state.generation || emptyState.hidden) return;
      const heading = emptyState.querySelector('h2');
      const hint = emptyState.querySelector('p');
      if (heading) heading.textContent = `No configured model finds “${name}”`;
      if (hint) hint.textContent = 'LabelLens only finds what its analyses can recognise; search for a related label, or add a label by hand on an image.';
      return;
    }
  }
}

async function runSearch() {
  const generation = ++state.generation;
  state.order = [];
  state.byId.clear();
  state.cursor = null;
  state.loading = true;
  grid.setAttribute('aria-busy', 'true');
  grid.replaceChildren(...skeletons(12));
  emptyState.hidden = true;
  notice.replaceChildren();
  resultCount.textContent = 'Searching…';
  await loadPage(generation);
}

async function fetchPage(cursor) {
  const withColor = Boolean(state.query.color) && !state.colorUnsupported;
  const params = searchParams(state.query, { withColor });
  params.set('limit', String(PAGE));
  if (cursor) params.set('cursor', cursor);
  try {
    return await api(`/api/v1/images?${params}`);
  } catch (error) {
    // The colour filter needs image properties on the server; an older server refuses the parameter.
    // Search without it and say so, rather than show an error.
    if (withColor && error instanceof ApiError && error.status === 400 && /color/i.test(error.message)) {
      state.colorUnsupported = true;
      return fetchPage(cursor);
    }
    throw error;
  }
}

async function loadPage(generation) {
  try {
    const page = await fetchPage(state.cursor);
    if (generation !== state.generation) return;
    if (!state.order.length) grid.replaceChildren();
    for (const details of page.images) {
      if (state.byId.has(details.image.id)) continue;
      state.byId.set(details.image.id, details);
      state.order.push(details.image.id);
      grid.append(renderTile(details));
    }
    state.cursor = page.nextCursor;
    watchVideos();
    if (state.query.color && state.colorUnsupported) {
      notice.replaceChildren(el('p.notice', {}, icon('alert', 16), 'The colour filter is not available on this server yet; showing results for the other filters.'));
    }
  } catch (error) {
    if (generation !== state.generation) return;
    if (!state.order.length) grid.replaceChildren();
    notice.replaceChildren(el('p.notice.notice-error', { role: 'alert' }, icon('alert', 16), `Search failed: ${error.message}`));
  } finally {
    if (generation === state.generation) {
      state.loading = false;
      grid.removeAttribute('aria-busy');
      updateCount();
      renderEmpty();
      // A tall screen may show the whole first page with the sentinel still in view: keep filling.
      if (state.cursor && sentinel.getBoundingClientRect().top < innerHeight + 800) loadMore();
    }
  }
}

function loadMore() {
  if (state.loading || !state.cursor) return;
  state.loading = true;
  grid.append(...skeletons(4));
  const generation = state.generation;
  loadPage(generation).finally(() => grid.querySelectorAll('.skeleton').forEach((s) => s.remove()));
}

new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && loadMore(), { rootMargin: '800px' }).observe(sentinel);

function tileOf(id) {
  return grid.querySelector(`.tile[data-id="${CSS.escape(id)}"]`);
}

function putTile(details, { prepend = false } = {}) {
  const id = details.image.id;
  const node = renderTile(details);
  const existing = tileOf(id);
  state.byId.set(id, details);
  if (existing) {
    existing.replaceWith(node);
  } else {
    if (!state.order.length) grid.replaceChildren();
    node.classList.add('arrived');
    if (prepend) { state.order.unshift(id); grid.prepend(node); } else { state.order.push(id); grid.append(node); }
  }
  updateCount();
  renderEmpty();
  watchVideos();
}

// ---------------------------------------------------------------- video progress

// A video's job moves without events between "labeling" and "labeled": while tiles show running videos,
// poll the queue (one call for all of them) and update their percent badges in place.
let videoTimer = null;

function watchVideos() {
  const running = [...state.byId.values()].some(videoRunning);
  if (running && !videoTimer) videoTimer = setInterval(pollVideos, 1500);
  else if (!running && videoTimer) { clearInterval(videoTimer); videoTimer = null; }
}

async function pollVideos() {
  let videos;
  try {
    ({ videos = [] } = await api('/api/v1/queue'));
  } catch {
    return;
  }
  for (const entry of videos) {
    const details = state.byId.get(entry.imageId);
    if (!videoRunning(details)) continue;
    const progress = { ...details.video.progress, percent: entry.percent, framesDone: entry.framesDone, processedMillis: entry.processedMillis };
    const status = entry.state === 'running' ? 'labeling' : details.image.status;
    const changed = progress.percent !== details.video.progress?.percent || status !== details.image.status;
    const next = { ...details, image: { ...details.image, status }, video: { ...details.video, progress } };
    state.byId.set(entry.imageId, next);
    if (changed) tileOf(entry.imageId)?.querySelector('.status')?.replaceWith(statusBadge(next));
  }
}

function dropTile(id) {
  tileOf(id)?.remove();
  state.byId.delete(id);
  state.order = state.order.filter((x) => x !== id);
  updateCount();
  renderEmpty();
}

// Arrow keys move between tiles like a photo grid; Home/End jump to the ends.
grid.addEventListener('keydown', (e) => {
  const links = [...grid.querySelectorAll('.tile-link')];
  const index = links.indexOf(document.activeElement);
  if (index < 0) return;
  const top = links[0].getBoundingClientRect().top;
  const columns = Math.max(1, links.filter((l) => Math.abs(l.getBoundingClientRect().top - top) < 4).length);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns, Home: -index, End: links.length - 1 - index }[e.key];
  if (step === undefined) return;
  e.preventDefault();
  const next = links[Math.min(links.length - 1, Math.max(0, index + step))];
  next.focus();
  next.scrollIntoView({ block: 'nearest' });
});

// ---------------------------------------------------------------- detail view

// Opening a picture is a history entry (back closes it, a shared URL opens it); closing goes back to the
// entry it came from instead of adding another, so back then goes to the previous search.
function openImage(id) {
  navigate({ ...state.query, image: id }, { state: { detail: true } });
}

const detail = createDetail({
  // The labels searched for: their rows come first on a video's timeline.
  searched: () => [...state.query.label, ...(state.query.anyLabel || [])],
  neighbours: (id) => {
    const index = state.order.indexOf(id);
    return { previous: index > 0 ? state.order[index - 1] : null, next: index >= 0 && index < state.order.length - 1 ? state.order[index + 1] : null };
  },
  go: (id) => navigate({ ...state.query, image: id }, { replace: true, state: history.state }),
  close: () => {
    if (history.state?.detail) history.back();
    else navigate({ ...state.query, image: '' }, { replace: true });
  },
  deleted: (id) => dropTile(id),
  // Label edits record no event: update the tile here.
  edited: (details) => { if (state.byId.has(details.image.id)) putTile(details); },
});

// ---------------------------------------------------------------- upload and queue

const uploader = createUploader({
  defaultBucket: () => state.query.bucket || bucketSelect.options[1]?.value || 'photos',
  uploaded: () => loadFilterOptions(),
});
$('upload-button').addEventListener('click', () => uploader.open());

const queuePanel = createQueuePanel();
$('queue-button').addEventListener('click', () => queuePanel.open());

const refreshBadge = debounce(async () => {
  try {
    const { images } = await api('/api/v1/queue');
    const pending = images.queued + images.labeling;
    const badge = $('queue-badge');
    badge.textContent = pending > 0 ? String(pending) : images.failed > 0 ? '!' : '';
    badge.hidden = pending === 0 && images.failed === 0;
    badge.classList.toggle('badge-alert', pending === 0 && images.failed > 0);
    $('queue-button').setAttribute('aria-label', `Queue: ${pending} waiting, ${images.failed} failed`);
  } catch { /* the badge is a nicety */ }
}, 300);

// ---------------------------------------------------------------- live updates

let live = null;

/** Follows /api/v1/events/stream; EventSource reconnects by itself (sending Last-Event-ID). */
function connectLive() {
  live?.close();
  live = new EventSource('/api/v1/events/stream');
  const dot = $('live');
  live.addEventListener('open', () => { dot.dataset.state = 'on'; dot.title = 'Live: new images and labels appear as they arrive'; });
  live.addEventListener('error', () => { dot.dataset.state = 'off'; dot.title = 'Reconnecting…'; });
  for (const type of ['created', 'labeling', 'labeled', 'failed']) live.addEventListener(type, (e) => onChange(JSON.parse(e.data)));
  live.addEventListener('deleted', (e) => {
    const change = JSON.parse(e.data);
    dropTile(change.imageId);
    detail.removed(change.imageId);
    refreshBadge();
    queuePanel.refresh();
  });
}

const rerunSearch = debounce(() => { if (!state.loading) runSearch(); }, 800);

/**
 * Whether the server labels at all: when its analyses could not load (a model missing), uploads only queue.
 * The page says so, with the server's reason, until that changes; /readyz is the same check a load balancer uses.
 */
async function checkHealth() {
  let text = '';
  try {
    const response = await fetch('/readyz', { cache: 'no-store' });
    if (response.status === 503) text = await response.text();
  } catch {
    // The live-update dot already says when the server is unreachable.
  }
  const broken = text.startsWith('not labeling:');
  health.hidden = !broken;
  health.className = broken ? 'health notice notice-error' : 'health';
  if (broken) health.replaceChildren(icon('alert', 16), el('span', { text: `Nothing is being labeled: ${text.slice('not labeling:'.length).trim()}` }));
  if (broken || text) setTimeout(checkHealth, 20_000);
}
checkHealth();

async function onChange(change) {
  uploader.labeled(change);
  refreshBadge();
  queuePanel.refresh();
  let details;
  try {
    details = await api(`/api/v1/images/${change.imageId}`);
  } catch {
    return;
  }
  detail.update(details);
  if ((state.query.color && !state.colorUnsupported) || state.query.text || hasFaceFilter(state.query)) {
    // Colours, text and faces are known to the server: let it decide, once the burst of changes settles.
    rerunSearch();
    return;
  }
  const shown = state.byId.has(details.image.id);
  if (matches(state.query, details)) putTile(details, { prepend: !shown && (state.query.sort || 'time') === 'time' });
  else if (shown && details.image.status !== 'queued' && details.image.status !== 'labeling') dropTile(details.image.id);
}

// ---------------------------------------------------------------- theme

const themeButton = $('theme-toggle');
function currentTheme() {
  return document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}
function renderThemeButton() {
  const dark = currentTheme() === 'dark';
  themeButton.replaceChildren(icon(dark ? 'sun' : 'moon'));
  themeButton.setAttribute('aria-label', dark ? 'Switch to light theme' : 'Switch to dark theme');
  themeButton.title = themeButton.getAttribute('aria-label');
}
themeButton.addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('labellens.theme', next);
  renderThemeButton();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', renderThemeButton);
renderThemeButton();

// ---------------------------------------------------------------- start

// "/" focuses the search box, as in most galleries.
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && !e.ctrlKey && !e.metaKey && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName) && !document.querySelector('dialog[open]')) {
    e.preventDefault();
    input.focus();
  }
});

async function start() {
  // A key kept from earlier in this browser session renews the cookie (it lasts 12 hours).
  if (apiKey()) await openSession().catch(() => false);
  // One call that needs the key first, so a key prompt appears before the page fires many requests.
  try { await api('/api/v1/queue'); } catch { /* shown by the search below */ }
  connectLive();
  loadFilterOptions();
  refreshBadge();
  applyUrl();
}

start();
