// Batches: what one schedule call (or one import chunk) made, with live progress. A batch has no revision,
// but its finished scans only ever grow (a finished scan never runs again), so a state that counts fewer
// finished scans than the known one is older and is dropped: a late query reply never undoes an event.

import { duration } from './view.js';

export const BATCH_FIELDS = 'id total queued running paused complete failed cancelled percent etaSeconds createdDateTimeUtc';

const finished = (b) => b.complete + b.failed + b.cancelled;
export const batchDone = (b) => finished(b) === b.total;

export function createBatchStore() {
  const batches = new Map();
  return {
    /** Take a state of a batch unless it is older than the known one; returns whether it was taken. */
    merge(progress) {
      const known = batches.get(progress.id);
      if (known?.progress && finished(known.progress) > finished(progress)) return false;
      batches.set(progress.id, { ...known, progress, error: null });
      return true;
    },
    /** A batch the page knows of before its first state arrives (it was just scheduled). */
    expect(id, seenAt = new Date().toISOString()) {
      if (!batches.has(id)) batches.set(id, { seenAt, progress: null, error: null });
    },
    fail(id, error) {
      const known = batches.get(id);
      if (known) known.error = error;
    },
    has: (id) => batches.has(id),
    ids: () => [...batches.keys()],
    /** Newest first. */
    list() {
      const key = (b) => b.progress?.createdDateTimeUtc ?? b.seenAt;
      return [...batches.entries()].map(([id, b]) => ({ id, ...b })).sort((a, b) => key(b).localeCompare(key(a)));
    },
    clear() {
      batches.clear();
    },
  };
}

// The batches this tab scheduled, so a reload shows them again. Ids only, kept per signed-in subject
// (another subject signing in on this tab starts with none) and forgotten at sign-out.
const KEY = 'scan-gateway-batches';
const KEEP = 20;

export function rememberedBatches(subject) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    return kept?.subject === subject && Array.isArray(kept.ids) ? kept.ids.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberBatch(subject, id) {
  const ids = [id, ...rememberedBatches(subject).filter((known) => known !== id)].slice(0, KEEP);
  sessionStorage.setItem(KEY, JSON.stringify({ subject, ids }));
}

export function forgetBatches() {
  sessionStorage.removeItem(KEY);
}

const $ = (selector) => document.querySelector(selector);

function eta(progress) {
  if (batchDone(progress)) return 'done';
  if (progress.etaSeconds == null) return progress.queued + progress.running > 0 ? 'ETA: estimating…' : 'ETA: none while paused';
  return `ETA ${duration(progress.etaSeconds * 1000)}`;
}

const COUNTS = ['total', 'queued', 'running', 'paused', 'complete', 'failed', 'cancelled'];

function batchItem({ id, progress, error }) {
  const li = document.createElement('li');
  li.dataset.batchId = id;
  li.className = progress && batchDone(progress) ? 'batch batch-done' : 'batch';
  const title = document.createElement('div');
  title.className = 'batch-title';
  const name = document.createElement('span');
  name.textContent = `Batch ${id.slice(0, 8)}`;
  name.title = id;
  const percent = document.createElement('span');
  percent.className = 'batch-percent';
  percent.textContent = progress ? `${progress.percent}%` : '…';
  const left = document.createElement('span');
  left.className = 'batch-eta muted';
  left.textContent = progress ? eta(progress) : 'reading…';
  title.append(name, percent, left);
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = progress?.percent ?? 0;
  bar.setAttribute('aria-label', `batch ${id.slice(0, 8)} progress`);
  const counts = document.createElement('dl');
  counts.className = 'batch-counts';
  for (const key of COUNTS) {
    if (!progress || (key === 'paused' && progress.paused === 0)) continue;
    const dt = document.createElement('dt');
    dt.textContent = key;
    const dd = document.createElement('dd');
    dd.dataset.count = key;
    dd.textContent = String(progress[key]);
    counts.append(dt, dd);
  }
  li.append(title, bar, counts);
  if (error) {
    const p = document.createElement('p');
    p.className = 'batch-error';
    p.textContent = error;
    li.append(p);
  }
  return li;
}

export function renderBatches({ batches, connected }) {
  $('#batches').replaceChildren(...batches.slice(0, KEEP).map(batchItem));
  const text = !connected ? 'Not connected: sign in (or use a token) to see batches.'
    : batches.length > 0 ? '' : 'No batches yet: scanning hosts or importing a CSV file starts one.';
  $('#batches-empty').textContent = text;
  $('#batches-empty').hidden = !text;
}
