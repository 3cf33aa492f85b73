// "A number" mode: write a number on a wide canvas; when a stroke ends it is reduced as the server
// would reduce it for POST /read (reduce.js, up to 384 px a side: 840×280 → 280×94) and posted
// there as a PNG. The answer's boxes (in pixels of the picture sent) are drawn over the canvas,
// each with the digit read in it.
import { askForKey, authHeaders } from './api-key.js';
import { reduceCanvas } from './reduce.js';

/** POST /read's working size (READ_WORK_SIDE in src/worker/input/read-number.ts). */
const READ_SIDE = 384;

const section = document.getElementById('number-mode');
const canvas = document.getElementById('number-pad');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
const boxesEl = document.getElementById('number-boxes');
const numberEl = document.getElementById('number');
const statusEl = document.getElementById('number-status');
const digitParts = [document.querySelector('section.pad:not(.number-mode)'), document.querySelector('section.result')];
const modeButtons = { digit: document.getElementById('mode-digit'), number: document.getElementById('mode-number') };

let drawing = null;
let hasInk = false;
let requestSeq = 0;

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

const setBusy = (busy) => {
  document.body.dataset.state = busy ? 'busy' : 'idle';
};

function showDigits(digits, sentWidth) {
  boxesEl.replaceChildren();
  // Boxes are in pixels of the reduced picture; the overlay is laid out in % of the canvas.
  const scale = 100 / sentWidth;
  const heightScale = (100 * canvas.width) / (sentWidth * canvas.height);
  for (const { digit, confidence, box } of digits) {
    const el = document.createElement('span');
    el.className = 'digit-box';
    el.dataset.testid = 'digit-box';
    el.dataset.digit = String(digit);
    el.style.left = `${box.x * scale}%`;
    el.style.top = `${box.y * heightScale}%`;
    el.style.width = `${box.width * scale}%`;
    el.style.height = `${box.height * heightScale}%`;
    const label = document.createElement('b');
    label.textContent = String(digit);
    label.title = `${Math.round(confidence * 100)}% sure`;
    el.append(label);
    boxesEl.append(el);
  }
}

function reset() {
  requestSeq++;
  setBusy(false);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  hasInk = false;
  canvas.classList.remove('drawn');
  boxesEl.replaceChildren();
  numberEl.textContent = '?';
  setStatus('Write a number on one line, digits side by side.');
}

function point(event) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) / rect.width) * canvas.width,
    y: ((event.clientY - rect.top) / rect.height) * canvas.height,
  };
}

function start(event) {
  if (drawing || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  const p = point(event);
  drawing = { id: event.pointerId, ...p };
  ctx.beginPath();
  ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, Math.PI * 2);
  ctx.fill();
  hasInk = true;
  canvas.classList.add('drawn');
}

function move(event) {
  if (!drawing || event.pointerId !== drawing.id) return;
  event.preventDefault();
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

function end(event) {
  if (!drawing || event.pointerId !== drawing.id) return;
  drawing = null;
  if (hasInk) read();
}

const reducedCanvas = document.createElement('canvas');

async function read() {
  const seq = ++requestSeq;
  setStatus('Reading…');
  setBusy(true);
  try {
    const reduced = reduceCanvas(
      ctx.getImageData(0, 0, canvas.width, canvas.height).data,
      canvas.width,
      canvas.height,
      READ_SIDE,
    );
    reducedCanvas.width = reduced.width;
    reducedCanvas.height = reduced.height;
    reducedCanvas.getContext('2d').putImageData(new ImageData(reduced.rgba, reduced.width, reduced.height), 0, 0);
    const body = await new Promise((resolve, reject) =>
      reducedCanvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('The browser could not export the drawing.'))),
        'image/png',
      ),
    );
    const response = await fetch('/read', {
      method: 'POST',
      headers: { 'Content-Type': 'image/png', ...authHeaders() },
      body,
    });
    const answer = await response.json().catch(() => null);
    if (seq !== requestSeq) return;
    if (!response.ok) {
      const code = answer?.error?.code;
      if (response.status === 401) askForKey(read);
      boxesEl.replaceChildren();
      numberEl.textContent = '?';
      setStatus(
        code === 'no_ink'
          ? 'Nothing to read yet: write a number.'
          : (answer?.error?.message ?? `The server answered ${response.status}.`),
        code !== 'no_ink',
      );
      return;
    }
    numberEl.textContent = answer.number;
    showDigits(answer.digits, reduced.width);
    const least = Math.min(...answer.digits.map((d) => d.confidence));
    setStatus(
      `${answer.digits.length} digit${answer.digits.length === 1 ? '' : 's'}, the least sure at ${Math.round(least * 100)}%.`,
    );
  } catch (error) {
    if (seq !== requestSeq) return;
    setStatus(`Could not reach the server: ${error.message}`, true);
  } finally {
    if (seq === requestSeq) setBusy(false);
  }
}

// The key form (api-key.js) goes wherever the pad in use is, so that a 401 can ask for a key in either mode.
const keyForm = document.getElementById('key-form');
const keyFormHome = keyForm.parentElement;

function setMode(mode) {
  const number = mode === 'number';
  (number ? section : keyFormHome).append(keyForm);
  section.hidden = !number;
  for (const part of digitParts) if (part) part.hidden = number;
  modeButtons.digit.setAttribute('aria-pressed', String(!number));
  modeButtons.number.setAttribute('aria-pressed', String(number));
  document.body.dataset.mode = mode;
  if (number) reset();
}

// A pen of 1/14 of the height, as on the digit pad.
ctx.lineWidth = canvas.height / 14;
ctx.lineCap = 'round';
ctx.lineJoin = 'round';
ctx.strokeStyle = '#000';
ctx.fillStyle = '#000';
canvas.addEventListener('pointerdown', start);
canvas.addEventListener('pointermove', move);
canvas.addEventListener('pointerup', end);
canvas.addEventListener('pointercancel', end);
canvas.addEventListener('lostpointercapture', end);
document.getElementById('number-clear').addEventListener('click', reset);
modeButtons.digit.addEventListener('click', () => setMode('digit'));
modeButtons.number.addEventListener('click', () => setMode('number'));
