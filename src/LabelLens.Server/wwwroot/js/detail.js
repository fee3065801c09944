// The detail view: the picture with its boxes (DOM elements over the image, toggled per label), the labels
// with confidence bars, parents and categories, the metadata, and download / relabel / delete. A video plays
// in a <video> element with a timeline under it (one row per label, its segments as buttons that seek), and
// its job's progress with a Cancel button while it is labeled.
import { api, objectUrl, thumbnailUrl, encodeKey } from './api.js';
import { altText, el, fileName, foundDirectly, formatBytes, formatDuration, formatTime, icon, isVideo, labelHue, percent, primaryLabels, toast, videoRunning } from './dom.js';

export function createDetail({ neighbours, go, close, deleted, edited, searched = () => [] }) {
  const dialog = document.getElementById('detail');
  const image = document.getElementById('detail-image');
  const player = document.getElementById('detail-video');
  const timeline = document.getElementById('detail-timeline');
  const stage = dialog.querySelector('.stage');
  const boxes = document.getElementById('detail-boxes');
  const textBoxes = document.getElementById('detail-text');
  const title = document.getElementById('detail-title');
  const path = document.getElementById('detail-path');
  const body = document.getElementById('detail-body');
  const previous = document.getElementById('detail-prev');
  const next = document.getElementById('detail-next');
  let current = null;
  const hidden = new Set();
  let loadToken = 0;
  let progressTimer = null;
  /** The video's segments by label (all of them, paged in when the summary was cut at 200), for the timeline. */
  let segments = null;
  let allSegmentsOf = null;
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
    // The player's own keys (arrows seek) and the timeline's (arrows move between segments) win.
    if (e.target === player || e.target.closest?.('.timeline')) return;
    if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
    else if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
    else if (e.key === 'b' && !e.ctrlKey && !e.metaKey) { boxes.classList.toggle('off'); }
    else if (e.key === 't' && !e.ctrlKey && !e.metaKey) { textBoxes.classList.toggle('off'); }
    else if (e.key === 'f' && !e.ctrlKey && !e.metaKey && current?.faces?.count) { toggleFaceBoxes(); }
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
      stopProgress();
      unloadPlayer();
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
    stopProgress();
    unloadPlayer();
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

    const video = isVideo(details) ? details.video : null;
    stage.classList.toggle('is-video', Boolean(video));
    image.hidden = Boolean(video);
    player.hidden = !video;
    timeline.hidden = !video;
    if (fresh) { segments = null; allSegmentsOf = null; }
    if (video) {
      if (fresh || player.dataset.id !== record.id) loadPlayer(record);
      boxes.replaceChildren();
      renderTimeline(details);
      followProgress(details);
    } else if (fresh) {
      unloadPlayer();
      stopProgress();
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
    if (!video) renderBoxes(labels);
    renderTextBoxes(video ? [] : details.text ?? []);

    const sorted = primaryLabels(labels);
    const detected = sorted.filter(foundDirectly(labels));
    const inferred = sorted.filter((l) => !detected.includes(l));
    body.replaceChildren(...[
      video ? videoStatus(record, video) : statusBlock(record),
      el('section.detail-section', { 'aria-labelledby': 'labels-heading' },
        el('div.section-head', {},
          el('h3', { id: 'labels-heading', text: 'Labels' }),
          !video && labels.some((l) => l.instances.length) ? el('button.link-button', { type: 'button', onclick: () => boxes.classList.toggle('off') }, icon('box', 16), 'Boxes') : null),
        labels.length
          ? el('ul.label-list', {}, detected.map((l) => labelRow(l, false, !video)), inferred.map((l) => labelRow(l, true, !video)))
          : el('p.muted', { text: record.status === 'labeled' ? `Nothing recognised in this ${video ? 'video' : 'picture'}.` : `Labels appear here as soon as the ${video ? 'video' : 'picture'} is labeled.` }),
        addLabelForm()),
      video ? null : facesSection(details.faces),
      textSection(details.text ?? [], record, Boolean(video)),
      video ? videoMetadata(record, video, details.analyses) : metadata(record, details.analyses),
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

  function labelRow(label, inferred = false, withBoxes = true) {
    const hasBoxes = withBoxes && label.instances.length > 0;
    const id = `toggle-${label.name.replace(/\W+/g, '-')}`;
    const meta = [
      label.aliases?.length ? `also ${label.aliases.map((a) => a.name).join(', ')}` : null,
      label.parents.length ? `${label.parents.map((p) => p.name).join(' › ')}` : null,
      label.categories.length ? label.categories.map((c) => c.name).join(', ') : null,
      hasBoxes ? `${label.instances.length} box${label.instances.length === 1 ? '' : 'es'}` : null,
      !withBoxes && segments?.has(label.name) ? segmentSummary(segments.get(label.name)) : null,
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

  /** Faces found in the picture: how many, the shot size, and a toggle for their boxes (the Face label's; key f). */
  function facesSection(faces) {
    if (!faces) return null;
    const shown = !hidden.has('Face');
    const text = faces.count === 0 ? 'No face found.'
      : `${faces.count} face${faces.count === 1 ? '' : 's'}${faces.shot ? ` · ${faces.shot} shot` : ''}`;
    return el('section.detail-section', { 'aria-labelledby': 'faces-heading' },
      el('div.section-head', {},
        el('h3', { id: 'faces-heading', text: 'Faces' }),
        faces.count > 0 ? el('button.link-button.faces-toggle', {
          type: 'button', 'aria-pressed': String(shown), 'aria-label': 'Show or hide the face boxes (f)', onclick: toggleFaceBoxes,
        }, icon('face', 16), shown ? 'Hide boxes' : 'Show boxes') : null),
      el('p.faces-summary', { text }));
  }

  function toggleFaceBoxes() {
    if (hidden.has('Face')) hidden.delete('Face'); else hidden.add('Face');
    if (current) keepFocus(() => render(current));
  }

  /** The lines read in the picture as polygons (ratios of the picture, so the SVG's 0-1 view box fits them). */
  function renderTextBoxes(lines) {
    const SVG = 'http://www.w3.org/2000/svg';
    textBoxes.replaceChildren(...lines.map((line, index) => {
      const polygon = document.createElementNS(SVG, 'polygon');
      polygon.setAttribute('points', line.polygon.map((p) => `${p.x},${p.y}`).join(' '));
      polygon.dataset.line = String(index);
      return polygon;
    }));
  }

  function lightLine(index, on) {
    textBoxes.querySelector(`polygon[data-line="${index}"]`)?.classList.toggle('lit', on);
  }

  /** The text read in the picture: selectable lines (hover lights the line's box), a copy button, the boxes' toggle. */
  function textSection(lines, record, video = false) {
    if (!lines.length && !(current?.analyses ?? []).some((a) => a.analysis === 'text')) return null;
    const all = lines.map((l) => l.text).join('\n');
    return el('section.detail-section', { 'aria-labelledby': 'text-heading' },
      el('div.section-head', {},
        el('h3', { id: 'text-heading', text: 'Text' }),
        lines.length && !video ? el('button.link-button', { type: 'button', onclick: () => textBoxes.classList.toggle('off'), 'aria-label': 'Show or hide the text boxes (t)' }, icon('box', 16), 'Boxes') : null,
        lines.length ? el('button.link-button', { type: 'button', onclick: () => navigator.clipboard?.writeText(all), 'aria-label': 'Copy all the text' }, icon('copy', 16), 'Copy') : null),
      lines.length
        ? el('ul.text-list', {}, lines.map((line, index) => video
          // A video's occurrence: its time, a click plays from there.
          ? el('li.text-line', { tabindex: '0', onclick: () => playFrom(line.startTimestampMillis), onkeydown: (e) => { if (e.key === 'Enter') playFrom(line.startTimestampMillis); } },
            el('span', { text: line.text }), el('span.text-conf', { text: segmentText(line) }))
          : el('li.text-line', {
          tabindex: '0',
          onmouseenter: () => lightLine(index, true),
          onmouseleave: () => lightLine(index, false),
          onfocus: () => { textBoxes.classList.remove('off'); lightLine(index, true); },
          onblur: () => lightLine(index, false),
        }, el('span', { text: line.text }), el('span.text-conf', { text: percent(line.confidence) }))))
        : el('p.muted', { text: record.status === 'labeled' ? 'No text read in this picture.' : 'Text appears here after the labels.' }));
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

  /** Which analyses produced the labels: "objects: yolox-nano", "classes: mobilenetv2-int8" (version and threshold on hover). */
  function analysesText(record, analyses) {
    if (!analyses?.length) return record.modelVersion || '—';
    return analyses.map((a) => `${a.analysis}: ${a.model}`).join(', ');
  }

  function analysesTitle(analyses) {
    return (analyses || []).map((a) => `${a.analysis}: ${a.modelVersion}, threshold ${a.minConfidence}%`).join('\n');
  }

  function metadata(record, analyses) {
    const rows = [
      ['Dimensions', record.width && record.height ? `${record.width} × ${record.height}` : '—'],
      ['File size', formatBytes(record.size)],
      ['Format', record.format ? record.format.toUpperCase() : record.contentType || '—'],
      ['Bucket', record.bucket],
      ['Key', record.key],
      ['Uploaded', formatTime(record.createdAt)],
      ['Labeled', record.labeledAt ? formatTime(record.labeledAt) : '—'],
      ['Labeling time', record.labelingMs != null ? `${Math.round(record.labelingMs)} ms` : '—'],
      ['Models', analysesText(record, analyses), analysesTitle(analyses)],
      ['Threshold', record.minConfidence != null ? `${record.minConfidence}%` : '—'],
      ['Attempts', String(record.attempts)],
      ['Image id', record.id],
    ];
    return el('section.detail-section', { 'aria-labelledby': 'meta-heading' },
      el('h3', { id: 'meta-heading', text: 'Details' }),
      el('dl.meta', {}, rows.flatMap(([name, value, title]) => [el('dt', { text: name }), el('dd', { text: value, title: title || value })])));
  }

  // ------------------------------------------------------------ video

  function loadPlayer(record) {
    player.dataset.id = record.id;
    player.poster = thumbnailUrl(record, 1280);
    // The object download honours Range, so the browser seeks without fetching the whole file.
    player.src = objectUrl(record);
    player.setAttribute('aria-label', `${fileName(record.key)} (video)`);
    player.currentTime = 0;
  }

  function unloadPlayer() {
    if (!player.dataset.id) return;
    player.pause();
    player.removeAttribute('src');
    player.removeAttribute('poster');
    delete player.dataset.id;
    player.load();
    timeline.replaceChildren();
  }

  /** Seeks to a time (ms) and plays from there. */
  function playFrom(ms) {
    player.currentTime = ms / 1000;
    player.play().catch(() => { /* autoplay refused (no user gesture): the seek still happened */ });
  }

  const segmentText = (s) => `${formatDuration(s.startTimestampMillis)}–${formatDuration(s.endTimestampMillis)}`;

  function segmentSummary(list) {
    const total = list.reduce((sum, s) => sum + s.durationMillis, 0);
    return `${list.length} segment${list.length === 1 ? '' : 's'}, ${total > 0 && total < 1000 ? 'under a second' : formatDuration(total)} in all`;
  }

  /** Segments by label name: the summary's, or every page of the labels endpoint when the summary was cut. */
  function groupSegments(list) {
    const byName = new Map();
    for (const s of list) {
      if (!byName.has(s.name)) byName.set(s.name, []);
      byName.get(s.name).push(s);
    }
    for (const list of byName.values()) list.sort((a, b) => a.startTimestampMillis - b.startTimestampMillis);
    return byName;
  }

  async function loadAllSegments(id, token) {
    const all = [];
    let next = null;
    for (let page = 0; page < 20; page++) {
      const result = await api(`/api/v1/videos/${encodeURIComponent(id)}/labels?aggregateBy=SEGMENTS&maxResults=1000${next ? `&nextToken=${encodeURIComponent(next)}` : ''}`);
      all.push(...result.Labels.map((l) => ({
        name: l.Label.Name, startTimestampMillis: l.StartTimestampMillis, endTimestampMillis: l.EndTimestampMillis, durationMillis: l.DurationMillis, confidence: l.Label.Confidence,
      })));
      next = result.NextToken;
      if (!next) break;
    }
    if (token === loadToken && current?.image.id === id) {
      segments = groupSegments(all);
      allSegmentsOf = id;
      render(current);
    }
  }

  /** A timeline row of its own (shots, faces, text): one button per stretch, which seeks there; null when it has none. */
  function timelineRow(className, name, title, hue, duration, items) {
    if (!items.length) return null;
    return el(`div.tl-row.${className}`, { role: 'group', 'aria-label': title, style: { '--hue': hue } },
      el('span.tl-name', { text: name, title }),
      el('div.tl-track', {}, items.map((item) => el(`button.tl-seg${item.className ? `.${item.className}` : ''}`, {
        type: 'button',
        dataset: { start: item.startTimestampMillis, end: item.endTimestampMillis, ...(item.data ?? {}) },
        'aria-label': item.text,
        title: item.text,
        style: { left: `${(100 * item.startTimestampMillis) / duration}%`, width: `${(100 * Math.max(0, item.endTimestampMillis - item.startTimestampMillis)) / duration}%` },
        onclick: () => playFrom(item.startTimestampMillis),
        onkeydown: (e) => moveFocus(e),
      }))));
  }

  function renderTimeline(details) {
    const { video, image: record } = details;
    if (allSegmentsOf !== record.id) segments = groupSegments(video.segments);
    if (video.segmentsTruncated && video.jobStatus === 'SUCCEEDED' && allSegmentsOf !== record.id && !timeline.dataset.loading) {
      timeline.dataset.loading = 'true';
      loadAllSegments(record.id, loadToken).catch(() => {}).finally(() => delete timeline.dataset.loading);
    }
    const duration = video.durationMillis || (Number.isFinite(player.duration) ? player.duration * 1000 : 0);
    if ((!segments.size && !video.shots?.length) || !duration) {
      const text = video.jobStatus === 'IN_PROGRESS' ? 'The timeline appears when the video is labeled.'
        : video.jobStatus === 'FAILED' ? 'No timeline: labeling did not finish.' : 'Nothing recognised in this video.';
      timeline.replaceChildren(el('p.timeline-empty', { text }));
      return;
    }
    // Searched labels first, then the video's labels as the side lists them (detections, then parents).
    const wanted = searched().map((n) => n.toLowerCase());
    const order = primaryLabels(details.labels).map((l) => l.name);
    const rank = (name) => {
      const s = wanted.indexOf(name.toLowerCase());
      if (s >= 0) return s - 1000;
      const o = order.indexOf(name);
      return o >= 0 ? o : 999;
    };
    const names = [...segments.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const rows = names.map((name) => {
      const hue = labelHue(name);
      const hit = wanted.includes(name.toLowerCase());
      return el(`div.tl-row${hit ? '.tl-searched' : ''}`, { role: 'group', 'aria-label': name, style: { '--hue': hue } },
        el('span.tl-name', { text: name, title: name }),
        el('div.tl-track', {
          // A click on the empty track seeks there (the segments are the keyboard way in).
          onclick: (e) => {
            if (e.target !== e.currentTarget) return;
            const box = e.currentTarget.getBoundingClientRect();
            playFrom(Math.max(0, Math.min(1, (e.clientX - box.left) / box.width)) * duration);
          },
        }, segments.get(name).map((s) => el('button.tl-seg', {
          type: 'button',
          dataset: { start: s.startTimestampMillis, end: s.endTimestampMillis },
          'aria-label': `${name} ${segmentText(s)}, ${percent(s.confidence)}`,
          title: `${name} ${segmentText(s)} · ${percent(s.confidence)}`,
          style: { left: `${(100 * s.startTimestampMillis) / duration}%`, width: `${(100 * Math.max(0, s.endTimestampMillis - s.startTimestampMillis)) / duration}%` },
          onclick: () => playFrom(s.startTimestampMillis),
          onkeydown: (e) => moveFocus(e),
        }))));
    });
    // Above the labels: the shots (black-frame cues drawn inside them), the stretches with faces by shot size, the text on screen.
    const extra = [
      timelineRow('tl-shots', 'Shots', 'Shots and black frames', '210', duration, [
        ...(video.shots ?? []).map((s) => ({
          ...s, className: s.index % 2 ? 'tl-odd' : '',
          text: `Shot ${s.index + 1} ${segmentText(s)} (${s.startTimecodeSMPTE}–${s.endTimecodeSMPTE})`,
        })),
        ...(video.technicalCues ?? []).map((c) => ({ ...c, className: 'tl-cue', text: `Black frames ${segmentText(c)}` })),
      ]),
      timelineRow('tl-faces', 'Faces', 'Faces by shot size', '340', duration, (video.faceSpans ?? []).filter((s) => s.faces > 0).map((s) => ({
        ...s, data: { shotSize: s.shotSize },
        text: `${s.faces} face${s.faces === 1 ? '' : 's'}, ${s.shotSize} ${segmentText(s)}`,
      }))),
      timelineRow('tl-text', 'Text', 'Text on screen', '50', duration, (details.text ?? []).filter((l) => l.startTimestampMillis != null)
        .map((l) => ({ ...l, text: `“${l.text}” ${segmentText(l)}` }))),
    ].filter(Boolean);
    rows.unshift(...extra);
    const playhead = el('div.tl-playhead', { 'aria-hidden': 'true' });
    timeline.replaceChildren(
      el('div.tl-body', { style: { '--p': String(progressOf(duration)) } }, rows, playhead),
      el('div.tl-axis', { 'aria-hidden': 'true' }, el('span', { text: '0:00' }), el('span', { text: formatDuration(duration) })));
    timeline.dataset.duration = String(duration);
    updatePlayhead();
  }

  const progressOf = (duration) => (duration > 0 && Number.isFinite(player.currentTime) ? Math.min(1, (player.currentTime * 1000) / duration) : 0);

  function updatePlayhead() {
    const duration = Number(timeline.dataset.duration || 0);
    const body = timeline.querySelector('.tl-body');
    if (!body || !duration) return;
    body.style.setProperty('--p', String(progressOf(duration)));
    const ms = player.currentTime * 1000;
    for (const seg of body.querySelectorAll('.tl-seg')) {
      seg.classList.toggle('active', ms >= Number(seg.dataset.start) && ms < Number(seg.dataset.end));
    }
  }

  player.addEventListener('timeupdate', updatePlayhead);
  player.addEventListener('seeked', updatePlayhead);
  player.addEventListener('loadedmetadata', () => { if (current && isVideo(current) && !current.video.durationMillis) renderTimeline(current); });

  /** Arrow keys move along a row's segments, up and down between rows; Home/End to a row's ends. */
  function moveFocus(e) {
    const seg = e.currentTarget;
    const row = seg.closest('.tl-row');
    let target = null;
    if (e.key === 'ArrowRight') target = seg.nextElementSibling;
    else if (e.key === 'ArrowLeft') target = seg.previousElementSibling;
    else if (e.key === 'Home') target = row.querySelector('.tl-seg');
    else if (e.key === 'End') target = [...row.querySelectorAll('.tl-seg')].at(-1);
    else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const other = e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
      const candidates = other?.classList.contains('tl-row') ? [...other.querySelectorAll('.tl-seg')] : [];
      const start = Number(seg.dataset.start);
      // The segment of that row nearest in time.
      target = candidates.sort((a, b) => Math.abs(a.dataset.start - start) - Math.abs(b.dataset.start - start))[0];
    } else return;
    e.preventDefault();
    target?.focus();
  }

  function videoStatus(record, video) {
    const progress = video.progress || {};
    if (video.jobStatus === 'IN_PROGRESS') {
      const pct = progress.percent;
      const cancel = el('button.button.small', {
        type: 'button',
        onclick: async () => {
          cancel.disabled = true;
          try {
            await api(`/api/v1/videos/${record.id}/cancel`, { method: 'POST' });
            toast(`Labeling of ${fileName(record.key)} cancelled`, 'success');
            refresh(record.id);
          } catch (error) {
            toast(`Cancel failed: ${error.message}`, 'error');
            cancel.disabled = false;
          }
        },
      }, icon('stop', 16), 'Cancel');
      return el('div.detail-status.video-progress', { role: 'status' },
        el('span.spinner', { 'aria-hidden': 'true' }),
        el('div.video-progress-text', {},
          el('strong', { text: record.status === 'queued' ? 'Waiting to be labeled' : pct != null ? `Labeling… ${Math.floor(pct)}%` : 'Labeling…' }),
          el('div.progress', { role: 'progressbar', 'aria-label': 'Labeling progress', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct != null ? String(Math.floor(pct)) : null },
            el('span', { style: { width: `${pct ?? 0}%` } })),
          el('p.progress-meta', {
            text: [`${progress.framesDone ?? 0} frame${progress.framesDone === 1 ? '' : 's'} labeled`,
              progress.processedMillis != null && video.durationMillis ? `${formatDuration(progress.processedMillis)} of ${formatDuration(video.durationMillis)}` : null].filter(Boolean).join(' · '),
          })),
        cancel);
    }
    if (video.jobStatus === 'FAILED') {
      const cancelled = video.statusMessage === 'cancelled';
      return el('div.detail-status.status-failed', { role: 'status' }, icon('alert', 18),
        el('div', {},
          el('strong', { text: cancelled ? 'Labeling cancelled' : 'Labeling failed' }),
          el('p.error-text', { text: cancelled ? 'Relabel starts it again from the beginning.' : video.statusMessage || record.error || '' })));
    }
    return null;
  }

  function videoMetadata(record, video, analyses) {
    const rows = [
      ['Duration', video.durationMillis != null ? formatDuration(video.durationMillis) : '—'],
      ['Resolution', video.frameWidth && video.frameHeight ? `${video.frameWidth} × ${video.frameHeight}` : '—'],
      ['Frame rate', video.frameRate ? `${Math.round(video.frameRate * 100) / 100} fps` : '—'],
      ['Codec', video.codec || '—'],
      ['Container', record.format ? record.format.toUpperCase() : video.format || '—'],
      ['File size', formatBytes(record.size)],
      ['Frames labeled', video.sampledFrames != null ? `${video.sampledFrames}${video.intervalMillis ? ` (every ${video.intervalMillis} ms + scene changes)` : ''}` : '—'],
      ['Bucket', record.bucket],
      ['Key', record.key],
      ['Uploaded', formatTime(record.createdAt)],
      ['Labeled', record.labeledAt ? formatTime(record.labeledAt) : '—'],
      ['Labeling time', record.labelingMs != null ? `${(record.labelingMs / 1000).toFixed(1)} s` : '—'],
      ['Models', analysesText(record, analyses), analysesTitle(analyses)],
      ['Threshold', record.minConfidence != null ? `${record.minConfidence}%` : '—'],
      ['Video id', record.id],
    ];
    return el('section.detail-section', { 'aria-labelledby': 'meta-heading' },
      el('h3', { id: 'meta-heading', text: 'Details' }),
      el('dl.meta', {}, rows.flatMap(([name, value, title]) => [el('dt', { text: name }), el('dd', { text: value, title: title || value })])));
  }

  /** While a video's job runs its progress moves without events: re-read the details every 1.5 s. */
  function followProgress(details) {
    stopProgress();
    if (!videoRunning(details)) return;
    const id = details.image.id;
    progressTimer = setTimeout(() => refresh(id), 1500);
  }

  function stopProgress() {
    clearTimeout(progressTimer);
    progressTimer = null;
  }

  async function refresh(id) {
    const token = loadToken;
    try {
      const details = await api(`/api/v1/images/${encodeURIComponent(id)}`);
      if (token === loadToken && current?.image.id === id && dialog.open) keepFocus(() => render(details));
    } catch {
      if (token === loadToken && current && isVideo(current)) followProgress(current);
    }
  }

  /** Re-rendering replaces the side's elements: put the focus back on the same control when it was inside. */
  function keepFocus(renderIt) {
    const active = document.activeElement;
    const inside = active && dialog.contains(active) && active !== player && !active.closest('.detail-header');
    const key = inside ? (active.getAttribute('aria-label') || active.textContent || '') : null;
    const inTimeline = inside && timeline.contains(active);
    renderIt();
    if (!inside) return;
    const scope = inTimeline ? timeline : body;
    const again = [...scope.querySelectorAll('button, input, a')].find((n) => (n.getAttribute('aria-label') || n.textContent || '') === key);
    again?.focus();
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
      if (current?.image.id === details.image.id && dialog.open) keepFocus(() => render(details));
    },
    removed(id) {
      if (current?.image.id === id && dialog.open) requestClose();
    },
  };
}
