// The detail view: the picture with its boxes (DOM elements over the image, toggled per label), the labels
// with confidence bars, parents and categories, the metadata, and download / relabel / delete.
import { api, objectUrl, thumbnailUrl, encodeKey } from './api.js';
import { altText, el, fileName, formatBytes, formatTime, icon, labelHue, percent, primaryLabels, toast } from './dom.js';

export function createDetail({ neighbours, go, close, deleted, edited }) {
  const dialog = document.getElementById('detail');
  const image = document.getElementById('detail-image');
  const boxes = document.getElementById('detail-boxes');
  const title = document.getElementById('detail-title');
  const path = document.getElementById('detail-path');
  const body = document.getElementById('detail-body');
  const previous = document.getElementById('detail-prev');
  const next = document.getElementById('detail-next');
  let current = null;
  const hidden = new Set();
  let loadToken = 0;
  // Closing goes through history (asynchronous): a second close before it lands must not go back twice.
  let closing = false;
  function requestClose() {
    if (!dialog.open || closing) return;
    closing = true;
    close();
  }

  dialog.addEventListener('cancel', (e) => { e.preventDefault(); requestClose(); });
  document.getElementById('detail-close').addEventListener('click', () => requestClose());
  previous.addEventListener('click', () => step(-1));
  next.addEventListener('click', () => step(1));
  dialog.addEventListener('keydown', (e) => {
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) && e.target.type !== 'checkbox') return;
    if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
    else if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
    else if (e.key === 'b' && !e.ctrlKey && !e.metaKey) { boxes.classList.toggle('off'); }
  });
  // A click on the dimmed backdrop (outside the dialog's box) closes it, as in other galleries.
  dialog.addEventListener('click', (e) => { if (e.target === dialog) requestClose(); });

  function step(direction) {
    if (!current) return;
    const { previous: p, next: n } = neighbours(current.image.id);
    const target = direction < 0 ? p : n;
    if (target) go(target);
  }

  async function show(id) {
    if (current?.image.id === id && dialog.open) return;
    const token = ++loadToken;
    closing = false;
    if (!dialog.open) {
      dialog.showModal();
      document.body.classList.add('modal-open');
    }
    dialog.setAttribute('aria-busy', 'true');
    try {
      const details = await api(`/api/v1/images/${encodeURIComponent(id)}`);
      if (token !== loadToken) return;
      hidden.clear();
      render(details, { fresh: true });
      document.getElementById('detail-close').focus();
    } catch (error) {
      if (token !== loadToken) return;
      current = null;
      title.textContent = 'Image not found';
      path.textContent = '';
      image.removeAttribute('src');
      image.alt = '';
      boxes.replaceChildren();
      body.replaceChildren(el('p.notice.notice-error', { role: 'alert' }, icon('alert', 16), error.message));
    } finally {
      if (token === loadToken) dialog.removeAttribute('aria-busy');
    }
  }

  /** Closes the view; returns the id that was open (null when it was closed already). */
  function hide() {
    loadToken++;
    closing = false;
    const wasOpen = dialog.open ? current?.image.id ?? null : null;
    current = null;
    if (dialog.open) dialog.close();
    document.body.classList.remove('modal-open');
    return wasOpen;
  }

  function render(details, { fresh = false } = {}) {
    current = details;
    const { image: record, labels } = details;
    title.textContent = fileName(record.key);
    path.textContent = `${record.bucket}/${record.key}`;
    const { previous: p, next: n } = neighbours(record.id);
    previous.disabled = !p;
    next.disabled = !n;

    if (fresh) {
      // The grid's thumbnail is in the browser cache already: show it at once, then the sharper one.
      image.src = thumbnailUrl(record, 320);
      const sharp = new Image();
      sharp.onload = () => { if (current?.image.id === record.id) image.src = sharp.src; };
      sharp.src = thumbnailUrl(record, 1280);
      if (record.width && record.height) {
        image.width = record.width;
        image.height = record.height;
      } else {
        image.removeAttribute('width');
        image.removeAttribute('height');
      }
    }
    image.alt = altText(details);
    renderBoxes(labels);

    const sorted = primaryLabels(labels);
    const detected = sorted.filter((l) => l.instances.length > 0 || l.source === 'manual');
    const inferred = sorted.filter((l) => !detected.includes(l));
    body.replaceChildren(...[
      statusBlock(record),
      el('section.detail-section', { 'aria-labelledby': 'labels-heading' },
        el('div.section-head', {},
          el('h3', { id: 'labels-heading', text: 'Labels' }),
          labels.some((l) => l.instances.length) ? el('button.link-button', { type: 'button', onclick: () => boxes.classList.toggle('off') }, icon('box', 16), 'Boxes') : null),
        labels.length
          ? el('ul.label-list', {}, detected.map((l) => labelRow(l)), inferred.map((l) => labelRow(l, true)))
          : el('p.muted', { text: record.status === 'labeled' ? 'Nothing recognised in this picture.' : 'Labels appear here as soon as the picture is labeled.' }),
        addLabelForm()),
      metadata(record),
      actions(record)].filter(Boolean));
  }

  function statusBlock(record) {
    if (record.status === 'labeled') return null;
    return el(`div.detail-status.status-${record.status}`, { role: 'status' },
      record.status === 'failed' ? icon('alert', 18) : el('span.spinner', { 'aria-hidden': 'true' }),
      el('div', {},
        el('strong', { text: { queued: 'Waiting to be labeled', labeling: 'Labeling…', failed: 'Labeling failed' }[record.status] ?? record.status }),
        record.error ? el('p.error-text', { text: record.error }) : null));
  }

  function labelRow(label, inferred = false) {
    const hasBoxes = label.instances.length > 0;
    const id = `toggle-${label.name.replace(/\W+/g, '-')}`;
    const meta = [
      label.parents.length ? `${label.parents.map((p) => p.name).join(' › ')}` : null,
      label.categories.length ? label.categories.map((c) => c.name).join(', ') : null,
      hasBoxes ? `${label.instances.length} box${label.instances.length === 1 ? '' : 'es'}` : null,
      label.source === 'manual' ? 'added by hand' : null,
    ].filter(Boolean);
    return el(`li.label-row${inferred ? '.inferred' : ''}`, { style: { '--hue': labelHue(label.name) } },
      el('div.label-line', {},
        hasBoxes
          ? el('input.label-check', {
            type: 'checkbox', id, checked: !hidden.has(label.name),
            'aria-label': `Show boxes for ${label.name}`,
            onchange: (e) => { if (e.target.checked) hidden.delete(label.name); else hidden.add(label.name); renderBoxes(current.labels); },
          })
          : el('span.label-check-placeholder', { 'aria-hidden': 'true' }),
        el(hasBoxes ? 'label.label-name' : 'span.label-name', hasBoxes ? { for: id } : {}, label.name),
        el('span.label-pct', { text: percent(label.confidence) }),
        el('button.label-remove', {
          type: 'button',
          title: 'Remove this label (a relabel will not bring it back)',
          'aria-label': `Remove label ${label.name}`,
          onclick: () => editLabels('DELETE', label.name),
        }, icon('close', 14))),
      el('div.bar', { role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(label.confidence)), 'aria-label': `${label.name} confidence` },
        el('span', { style: { width: `${Math.max(2, Math.min(100, label.confidence))}%` } })),
      meta.length ? el('p.label-meta', { text: meta.join(' · ') }) : null);
  }

  /** Adds (POST) or removes (DELETE) a label by hand; the answer is the image with its new labels. */
  async function editLabels(method, name) {
    const id = current.image.id;
    try {
      const details = method === 'POST'
        ? await api(`/api/v1/images/${id}/labels`, { method, body: { name } })
        : await api(`/api/v1/images/${id}/labels/${encodeURIComponent(name)}`, { method });
      if (current?.image.id === id) render(details);
      edited(details);
      toast(method === 'POST' ? `Added “${name}”` : `Removed “${name}”`, 'success');
      document.getElementById('add-label-input')?.focus();
    } catch (error) {
      toast(`Could not change the labels: ${error.message}`, 'error');
    }
  }

  let labelOptions = null;

  function addLabelForm() {
    const input = el('input', { type: 'text', id: 'add-label-input', placeholder: 'Add a label…', autocomplete: 'off', list: 'label-options', 'aria-label': 'Add a label by hand' });
    // Known labels (with their parents and categories) are offered first; any other name works too.
    labelOptions ??= api('/api/v1/labels?limit=1000').then(({ labels }) => labels.map((l) => l.name)).catch(() => []);
    labelOptions.then((names) => {
      const list = document.getElementById('label-options');
      if (list && !list.childElementCount) list.append(...names.map((n) => el('option', { value: n })));
    });
    return el('form.add-label', {
      onsubmit: (e) => {
        e.preventDefault();
        const name = input.value.trim();
        if (name) editLabels('POST', name);
      },
    }, input, el('button.button.small', { type: 'submit' }, 'Add'));
  }

  function renderBoxes(labels) {
    const nodes = [];
    for (const label of labels) {
      if (hidden.has(label.name)) continue;
      label.instances.forEach((instance, index) => {
        const b = instance.boundingBox;
        nodes.push(el('div.box', {
          tabindex: '0',
          role: 'img',
          'aria-label': `${label.name}${label.instances.length > 1 ? ` ${index + 1}` : ''}, ${percent(instance.confidence)} confidence`,
          style: { '--hue': labelHue(label.name), left: `${b.left * 100}%`, top: `${b.top * 100}%`, width: `${b.width * 100}%`, height: `${b.height * 100}%` },
        }, el('span.box-tag', { 'aria-hidden': 'true' }, el('span', { text: label.name }), el('span.box-pct', { text: ` ${percent(instance.confidence)}` }))));
      });
    }
    boxes.replaceChildren(...nodes);
  }

  function metadata(record) {
    const rows = [
      ['Dimensions', record.width && record.height ? `${record.width} × ${record.height}` : '—'],
      ['File size', formatBytes(record.size)],
      ['Format', record.format ? record.format.toUpperCase() : record.contentType || '—'],
      ['Bucket', record.bucket],
      ['Key', record.key],
      ['Uploaded', formatTime(record.createdAt)],
      ['Labeled', record.labeledAt ? formatTime(record.labeledAt) : '—'],
      ['Labeling time', record.labelingMs != null ? `${Math.round(record.labelingMs)} ms` : '—'],
      ['Model', record.modelVersion || '—'],
      ['Threshold', record.minConfidence != null ? `${record.minConfidence}%` : '—'],
      ['Attempts', String(record.attempts)],
      ['Image id', record.id],
    ];
    return el('section.detail-section', { 'aria-labelledby': 'meta-heading' },
      el('h3', { id: 'meta-heading', text: 'Details' }),
      el('dl.meta', {}, rows.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value, title: value })])));
  }

  function actions(record) {
    const bar = el('div.detail-actions');
    // An external store's object is read by the workers but not served here: no download link for it.
    const external = record.sha256.startsWith('etag:');
    const download = external ? null : el('a.button', { href: objectUrl(record), download: fileName(record.key) }, icon('download', 18), 'Download');
    const relabel = el('button.button', {
      type: 'button',
      onclick: async () => {
        relabel.disabled = true;
        try {
          await api(`/api/v1/images/${record.id}/relabel`, { method: 'POST' });
          toast(`${fileName(record.key)} queued for relabeling`, 'success');
        } catch (error) {
          toast(`Relabel failed: ${error.message}`, 'error');
        } finally {
          relabel.disabled = false;
        }
      },
    }, icon('refresh', 18), 'Relabel');
    const remove = el('button.button.danger', { type: 'button', onclick: () => confirmDelete() }, icon('trash', 18), 'Delete');
    function confirmDelete() {
      const confirmBox = el('div.confirm', { role: 'alertdialog', 'aria-label': 'Confirm delete' },
        el('p', { text: `Delete ${fileName(record.key)} and its labels? This cannot be undone.` }),
        el('div.confirm-buttons', {},
          el('button.button', { type: 'button', onclick: () => { bar.replaceChildren(...[download, relabel, remove].filter(Boolean)); remove.focus(); } }, 'Cancel'),
          el('button.button.danger.solid', {
            type: 'button',
            onclick: async (e) => {
              e.target.disabled = true;
              try {
                await api(`/api/v1/buckets/${encodeURIComponent(record.bucket)}/objects/${encodeKey(record.key)}`, { method: 'DELETE' });
                toast(`${fileName(record.key)} deleted`, 'success');
                deleted(record.id);
                requestClose();
              } catch (error) {
                toast(`Delete failed: ${error.message}`, 'error');
                e.target.disabled = false;
              }
            },
          }, 'Delete permanently')));
      bar.replaceChildren(confirmBox);
      confirmBox.querySelector('.solid').focus();
    }
    bar.append(...[download, relabel, remove].filter(Boolean));
    return bar;
  }

  return {
    show,
    hide,
    /** A live change: re-render when it is the image on screen. */
    update(details) {
      if (current?.image.id === details.image.id && dialog.open) render(details);
    },
    removed(id) {
      if (current?.image.id === id && dialog.open) requestClose();
    },
  };
}
