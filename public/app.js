// Draw-a-digit page: pointer events draw on a canvas; when a stroke ends the drawing is reduced on
// the client exactly as the server would reduce the canvas itself (reduce.js: gray, composited,
// box-averaged to at most 256 px a side; 280×280 → 140×140) and sent to POST /classify as a small
// opaque PNG: the same digit and probabilities as the full canvas, for a fraction of the CPU.
import { drawingPad } from './pad.js';
import { postPng, refusal } from './post.js';

const canvas = document.getElementById('pad');
const clearButton = document.getElementById('clear');
const statusEl = document.getElementById('status');
const predictionEl = document.getElementById('prediction');
const confidenceEl = document.getElementById('confidence');
const barsEl = document.getElementById('bars');

// A pen about 1/14 of the pad: a digit drawn across most of the box ends up with MNIST-like strokes.
const pad = drawingPad(canvas, { penWidth: canvas.width / 14, onStrokeEnd: () => classify() });

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

function clearPad() {
  requestSeq++; // drop any answer still on its way
  setBusy(false);
  pad.clear();
  resetResult();
  setStatus('Draw in the box.');
}

async function classify() {
  const seq = ++requestSeq;
  setStatus('Reading…');
  setBusy(true);
  try {
    const { blob: body } = await pad.toPng();
    const { response, answer } = await postPng('/classify', body);
    if (seq !== requestSeq) return;
    if (!response.ok) {
      const { text, isError } = refusal(response, answer, 'Nothing to read yet: draw a digit.', classify);
      resetResult();
      setStatus(text, isError);
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

clearButton.addEventListener('click', clearPad);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') clearPad();
});
resetResult();
setBusy(false);
