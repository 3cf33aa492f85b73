// Draw-a-digit page: pointer events draw on a canvas; when a stroke ends the drawing is reduced on
// the client exactly as the server would reduce the canvas itself (reduce.js: gray, composited,
// box-averaged to at most 256 px a side; 280×280 → 140×140) and sent to POST /classify as a small
// opaque PNG: the same digit and probabilities as the full canvas, for a fraction of the CPU.
import { askForKey, authHeaders } from './api-key.js';
import { reduceCanvas } from './reduce.js';

const canvas = document.getElementById('pad');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
const clearButton = document.getElementById('clear');
const statusEl = document.getElementById('status');
const predictionEl = document.getElementById('prediction');
const confidenceEl = document.getElementById('confidence');
const barsEl = document.getElementById('bars');

// A pen about 1/14 of the pad: a digit drawn across most of the box ends up with MNIST-like strokes.
const PEN_WIDTH = canvas.width / 14;

const bars = Array.from({ length: 10 }, (_, digit) => {
  const item = document.createElement('li');
  item.className = 'bar';
  item.dataset.testid = `bar-${digit}`;
  item.dataset.digit = String(digit);
  item.dataset.probability = '0';
  item.innerHTML = `<span class="bar-label">${digit}</span>
    <span class="bar-track"><span class="bar-fill"></span></span>
    <span class="bar-value">0%</span>`;
  barsEl.append(item);
  return { item, fill: item.querySelector('.bar-fill'), value: item.querySelector('.bar-value') };
});

let drawing = null; // { id, x, y } of the pointer that is drawing
let hasInk = false;
let requestSeq = 0; // only the latest answer is shown

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

/** `busy` while a drawing is on its way to /classify (tests and styles can wait on it). */
function setBusy(busy) {
  document.body.dataset.state = busy ? 'busy' : 'idle';
}

function showProbabilities(probabilities, digit) {
  bars.forEach((bar, i) => {
    const p = probabilities ? probabilities[i] : 0;
    bar.item.dataset.probability = String(p);
    bar.item.classList.toggle('top', probabilities !== null && i === digit);
    bar.fill.style.width = `${(p * 100).toFixed(1)}%`;
    bar.value.textContent = `${Math.round(p * 100)}%`;
  });
}

function resetResult() {
  document.dispatchEvent(new CustomEvent('digit:cleared')); // feedback.js hides "Wrong? It's a _"
  predictionEl.textContent = '?';
  confidenceEl.innerHTML = '&nbsp;';
  showProbabilities(null, -1);
}

function point(event) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) / rect.width) * canvas.width,
    y: ((event.clientY - rect.top) / rect.height) * canvas.height,
  };
}

function startStroke(event) {
  if (drawing || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  const p = point(event);
  drawing = { id: event.pointerId, ...p };
  // A tap leaves a dot.
  ctx.beginPath();
  ctx.arc(p.x, p.y, PEN_WIDTH / 2, 0, Math.PI * 2);
  ctx.fill();
  hasInk = true;
  canvas.classList.add('drawn');
}

function moveStroke(event) {
  if (!drawing || event.pointerId !== drawing.id) return;
  event.preventDefault();
  // Coalesced events keep fast strokes smooth where the browser batches them.
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    ctx.beginPath();
    ctx.moveTo(drawing.x, drawing.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    drawing.x = p.x;
    drawing.y = p.y;
  }
}

function endStroke(event) {
  if (!drawing || event.pointerId !== drawing.id) return;
  drawing = null;
  if (hasInk) classify();
}

function clearPad() {
  requestSeq++; // drop any answer still on its way
  setBusy(false);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  hasInk = false;
  canvas.classList.remove('drawn');
  resetResult();
  setStatus('Draw in the box.');
}

const reducedCanvas = document.createElement('canvas');

/** The drawing, reduced like the server would reduce it, as a PNG blob. */
function toPngBlob() {
  const reduced = reduceCanvas(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
  reducedCanvas.width = reduced.width;
  reducedCanvas.height = reduced.height;
  reducedCanvas.getContext('2d').putImageData(new ImageData(reduced.rgba, reduced.width, reduced.height), 0, 0);
  return new Promise((resolve, reject) =>
    reducedCanvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('The browser could not export the drawing.'))),
      'image/png',
    ),
  );
}

async function classify() {
  const seq = ++requestSeq;
  setStatus('Reading…');
  setBusy(true);
  try {
    const body = await toPngBlob();
    const response = await fetch('/classify', {
      method: 'POST',
      headers: { 'Content-Type': 'image/png', ...authHeaders() },
      body,
    });
    const answer = await response.json().catch(() => null);
    if (seq !== requestSeq) return;
    if (!response.ok) {
      const code = answer?.error?.code;
      if (response.status === 401) askForKey(classify);
      const message =
        code === 'no_ink'
          ? 'Nothing to read yet: draw a digit.'
          : (answer?.error?.message ?? `The server answered ${response.status}.`);
      resetResult();
      setStatus(message, code !== 'no_ink');
      return;
    }
    predictionEl.textContent = String(answer.digit);
    confidenceEl.textContent = `${Math.round(answer.confidence * 100)}% sure`;
    showProbabilities(answer.probabilities, answer.digit);
    setStatus('Keep drawing, or clear and try another.');
    // feedback.js: what was posted and the answer, for "Wrong? It's a _".
    document.dispatchEvent(
      new CustomEvent('digit:classified', { detail: { url: '/classify', contentType: 'image/png', body, answer } }),
    );
  } catch (error) {
    if (seq !== requestSeq) return;
    setStatus(`Could not reach the server: ${error.message}`, true);
  } finally {
    if (seq === requestSeq) setBusy(false);
  }
}

ctx.lineWidth = PEN_WIDTH;
ctx.lineCap = 'round';
ctx.lineJoin = 'round';
ctx.strokeStyle = '#000';
ctx.fillStyle = '#000';

canvas.addEventListener('pointerdown', startStroke);
canvas.addEventListener('pointermove', moveStroke);
canvas.addEventListener('pointerup', endStroke);
canvas.addEventListener('pointercancel', endStroke);
canvas.addEventListener('lostpointercapture', endStroke);
clearButton.addEventListener('click', clearPad);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') clearPad();
});
resetResult();
setBusy(false);
