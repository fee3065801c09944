// The search lives in the page URL with the API's own parameter names, so a search can be bookmarked and
// shared, and back/forward moves between searches. `image` (the open detail view) is the only UI-only one.

export const COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white', 'gray', 'teal'];

const LISTS = ['label', 'notLabel'];
// text: words read in the picture (the search box's `text:` prefix).
// faces, minFaces, maxFaces, shot: the face filters (how many faces; shot size from the largest face).
const SINGLES = ['minConfidence', 'bucket', 'prefix', 'status', 'category', 'color', 'text', 'faces', 'minFaces', 'maxFaces', 'shot', 'sort'];

/** The current query as an object: {label: [], notLabel: [], minConfidence, bucket, ..., image}. */
export function readQuery(search = location.search) {
  const params = new URLSearchParams(search);
  const query = {};
  for (const name of LISTS) query[name] = params.getAll(name).filter(Boolean);
  for (const name of [...SINGLES, 'image']) query[name] = params.get(name) || '';
  return query;
}

function toParams(query, { includeImage = true } = {}) {
  const params = new URLSearchParams();
  for (const name of LISTS) for (const value of query[name] || []) params.append(name, value);
  for (const name of SINGLES) if (query[name]) params.set(name, query[name]);
  if (includeImage && query.image) params.set('image', query.image);
  return params;
}

export function pageUrl(query) {
  const text = toParams(query).toString();
  return text ? `?${text}` : location.pathname;
}

/** The search API's parameters for a query (without the detail view, optionally without the colour). */
export function searchParams(query, { withColor = true } = {}) {
  const params = toParams(query, { includeImage: false });
  if (!withColor) params.delete('color');
  if (!params.has('sort') && (query.label.length > 0)) params.set('sort', 'confidence');
  return params;
}

/** Whether the search narrows anything down (for the empty state's wording). */
export function isFiltered(query) {
  return LISTS.some((n) => query[n].length > 0) || SINGLES.some((n) => n !== 'sort' && query[n]);
}

/** Whether the search has a face filter (the server decides those: faces are counted per picture and per video stretch). */
export function hasFaceFilter(query) {
  return Boolean(query.faces || query.minFaces || query.maxFaces || query.shot);
}

/**
 * Whether an image that changed live belongs in the current results. Mirrors the server's rules for what the
 * page can check itself (a parent label matches because parents are stored as labels too); the colour
 * filter cannot be checked here, so with a colour set the caller re-runs the search instead.
 */
export function matches(query, details) {
  const { image, labels } = details;
  if (query.bucket && image.bucket !== query.bucket) return false;
  if (query.prefix && !image.key.startsWith(query.prefix)) return false;
  if (query.status && image.status !== query.status) return false;
  const min = Number(query.minConfidence || 0);
  // A label answers to its name and its aliases, as the search API resolves them (Puppy finds Dog).
  const names = new Set(labels.filter((l) => l.confidence >= min)
    .flatMap((l) => [l.name, ...(l.aliases || []).map((a) => a.name)]).map((n) => n.toLowerCase()));
  if (query.label.some((name) => !names.has(name.toLowerCase()))) return false;
  if (query.notLabel.some((name) => names.has(name.toLowerCase()))) return false;
  if (query.category && !labels.some((l) => l.confidence >= min && l.categories.some((c) => c.name === query.category))) return false;
  return true;
}
