// The queue panel: images by state, the videos being labeled (percent, frames, Cancel), labeling throughput,
// and the failed images with their error and a retry.
import { api, thumbnailUrl } from './api.js';
import { debounce, el, fileName, formatDuration, formatTime, icon, shortError, toast } from './dom.js';

export function createQueuePanel() {
  const panel = document.getElementById('queue');
  const stats = document.getElementById('queue-stats');
  const speed = document.getElementById('queue-speed');
  const failedList = document.getElementById('queue-failed');
  const retryAll = document.getElementById('retry-all');
  const videoSection = document.getElementById('queue-videos-section');
  const videoList = document.getElementById('queue-videos');
  let timer = null;
  // Images retried from here, by id, with the number of the last load started before the retry: when one
  // shows up as failed in a later load, it failed again, and the panel says so instead of looking unchanged.
  const retried = new Map();
  let loads = 0;

  function open() {
    if (!panel.open) panel.show();
    panel.classList.add('visible');
    panel.querySelector('.panel-close').focus();
    load();
    // Counts change without events while jobs run (queued → labeling): poll gently while open.
    timer ??= setInterval(load, 2000);
  }

  function closePanel() {
    clearInterval(timer);
    timer = null;
    panel.classList.remove('visible');
    panel.close();
    document.getElementById('queue-button').focus();
  }

  panel.querySelector('.panel-close').addEventListener('click', closePanel);
  panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); closePanel(); } });
  retryAll.addEventListener('click', async () => {
    retryAll.disabled = true;
    try {
      const shown = [...failedList.querySelectorAll('.failed-item')].map((row) => [row.dataset.id, row.dataset.name]);
      const { queued } = await api('/api/v1/relabel', { method: 'POST', body: { scope: 'failed' } });
      for (const [id, name] of shown) retried.set(id, { name, after: loads });
      toast(`${queued} image${queued === 1 ? '' : 's'} queued again`, 'success');
      load();
    } catch (error) {
      toast(`Retry failed: ${error.message}`, 'error');
    } finally {
      retryAll.disabled = false;
    }
  });

  function stat(name, value, kind) {
    return el(`div.stat.stat-${kind}`, {}, el('span.stat-value', { text: value.toLocaleString() }), el('span.stat-name', { text: name }));
  }

  async function load() {
    if (!panel.open) return;
    const number = ++loads;
    try {
      const [{ images, jobs, videos = [] }, throughput, failed] = await Promise.all([
        api('/api/v1/queue'),
        api('/api/v1/queue/throughput'),
        api('/api/v1/images?status=failed&limit=50'),
      ]);
      stats.replaceChildren(
        stat('Queued', images.queued, 'queued'),
        stat('Labeling', images.labeling, 'labeling'),
        stat('Labeled', images.labeled, 'labeled'),
        stat('Failed', images.failed, 'failed'));
      renderVideos(videos);
      speed.replaceChildren(
        el('div', {}, el('dt', { text: 'Last minute' }), el('dd', { text: `${throughput.lastMinute} images` })),
        el('div', {}, el('dt', { text: 'Last 5 minutes' }), el('dd', { text: `${(throughput.last5Minutes / 5).toFixed(1)} / min` })),
        el('div', {}, el('dt', { text: 'Last hour' }), el('dd', { text: `${throughput.lastHour} images` })),
        el('div', {}, el('dt', { text: 'Mean labeling time' }), el('dd', { text: throughput.meanLabelingMs != null ? `${Math.round(throughput.meanLabelingMs)} ms` : '—' })),
        el('div', {}, el('dt', { text: 'Jobs waiting' }), el('dd', { text: String(jobs.depth) })));
      const again = failed.images.filter(({ image }) => retried.get(image.id)?.after < number);
      for (const { image } of again) retried.delete(image.id);
      if (again.length === 1) toast(`${fileName(again[0].image.key)} failed again: ${shortError(again[0].image.error)}`, 'error');
      else if (again.length > 1) toast(`${again.length} images failed again`, 'error');
      retryAll.hidden = failed.images.length === 0;
      failedList.replaceChildren(...(failed.images.length
        ? failed.images.map(failedRow)
        : [el('li.queue-empty', {}, icon('check', 18), 'No failed images.')]));
    } catch (error) {
      failedList.replaceChildren(el('li.notice.notice-error', { role: 'alert', text: `Could not load the queue: ${error.message}` }));
    }
  }

  function renderVideos(videos) {
    videoSection.hidden = videos.length === 0;
    // Keep the focus on a Cancel button across refreshes (the rows are rebuilt every 2 s).
    const focused = videoList.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.id : null;
    videoList.replaceChildren(...videos.map(videoRow));
    if (focused) videoList.querySelector(`li[data-id="${CSS.escape(focused)}"] button`)?.focus();
  }

  function videoRow(video) {
    const name = fileName(video.key);
    const pct = video.percent;
    const cancel = el('button.button.small', {
      type: 'button',
      'aria-label': `Cancel labeling ${name}`,
      onclick: async () => {
        cancel.disabled = true;
        try {
          await api(`/api/v1/videos/${video.imageId}/cancel`, { method: 'POST' });
          toast(`Labeling of ${name} cancelled`, 'success');
          load();
        } catch (error) {
          toast(`Cancel failed: ${error.message}`, 'error');
          cancel.disabled = false;
        }
      },
    }, icon('stop', 14), 'Cancel');
    const state = video.state === 'running' ? (pct != null ? `${Math.floor(pct)}%` : 'Starting…') : 'Waiting';
    const detail = [
      `${video.framesDone} frame${video.framesDone === 1 ? '' : 's'}`,
      video.processedMillis != null && video.durationMillis ? `${formatDuration(video.processedMillis)} of ${formatDuration(video.durationMillis)}` : null,
    ].filter(Boolean).join(' · ');
    return el('li.video-job', { dataset: { id: video.imageId, state: video.state } },
      el('img', { src: thumbnailUrl({ id: video.imageId, sha256: '' }, 160), alt: '', width: 48, height: 48, loading: 'lazy' }),
      el('div.video-job-text', {},
        el('span.failed-name', { text: `${video.bucket}/${video.key}`, title: `${video.bucket}/${video.key}` }),
        el('div.progress', { role: 'progressbar', 'aria-label': `${name}: labeling progress`, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct != null ? String(Math.floor(pct)) : null },
          el('span', { style: { width: `${pct ?? 0}%` } })),
        el('span.failed-time', {}, el('strong.video-job-pct', { text: state }), detail ? ` · ${detail}` : '')),
      cancel);
  }

  function failedRow({ image }) {
    const retry = el('button.button.small', {
      type: 'button',
      'aria-label': `Retry ${fileName(image.key)}`,
      onclick: async () => {
        retry.disabled = true;
        try {
          await api(`/api/v1/images/${image.id}/relabel`, { method: 'POST' });
          retried.set(image.id, { name: fileName(image.key), after: loads });
          toast(`${fileName(image.key)} queued again`, 'success');
          load();
        } catch (error) {
          toast(`Retry failed: ${error.message}`, 'error');
          retry.disabled = false;
        }
      },
    }, icon('refresh', 16), 'Retry');
    return el('li.failed-item', { dataset: { id: image.id, name: fileName(image.key) } },
      el('img', { src: thumbnailUrl(image, 160), alt: '', width: 48, height: 48, loading: 'lazy' }),
      el('div.failed-text', {},
        el('span.failed-name', { text: `${image.bucket}/${image.key}` }),
        el('span.error-text', { text: image.error || 'Unknown error' }),
        el('span.failed-time', { text: `${image.attempts} attempt${image.attempts === 1 ? '' : 's'} · ${formatTime(image.updatedAt)}` })),
      retry);
  }

  return { open, refresh: debounce(load, 400) };
}
