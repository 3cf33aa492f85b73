// "A number" mode: write a number on a wide canvas; when a stroke ends it is reduced as the server
// would reduce it for POST /read (reduce.js, up to 384 px a side: 840×280 → 280×94) and posted
// there as a PNG. The answer's boxes (in pixels of the picture sent) are drawn over the canvas,
// each with the digit read in it.
import { drawingPad } from './pad.js';
import { postPng, refusal } from './post.js';

/** POST /read's working size (READ_WORK_SIDE in src/worker/input/read-number.ts). */
const READ_SIDE = 384;

const section = document.getElementById('number-mode');
const canvas = document.getElementById('number-pad');
// A pen of 1/14 of the height, as on the digit pad.
const pad = drawingPad(canvas, { penWidth: canvas.height / 14, onStrokeEnd: () => read() });
const boxesEl = document.getElementById('number-boxes');
const numberEl = document.getElementById('number');
const statusEl = document.getElementById('number-status');
const digitParts = [document.querySelector('section.pad:not(.number-mode)'), document.querySelector('section.result')];
const modeButtons = { digit: document.getElementById('mode-digit'), number: document.getElementById('mode-number') };

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
  pad.clear();
  boxesEl.replaceChildren();
  numberEl.textContent = '?';
  setStatus('Write a number on one line, digits side by side.');
}

async function read() {
  const seq = ++requestSeq;
  setStatus('Reading…');
  setBusy(true);
  try {
    const { blob: body, width: sentWidth } = await pad.toPng(READ_SIDE);
    const { response, answer } = await postPng('/read', body);
    if (seq !== requestSeq) return;
    if (!response.ok) {
      const { text, isError } = refusal(response, answer, 'Nothing to read yet: write a number.', read);
      boxesEl.replaceChildren();
      numberEl.textContent = '?';
      setStatus(text, isError);
      return;
    }
    numberEl.textContent = answer.number;
    showDigits(answer.digits, sentWidth);
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

document.getElementById('number-clear').addEventListener('click', reset);
modeButtons.digit.addEventListener('click', () => setMode('digit'));
modeButtons.number.addEventListener('click', () => setMode('number'));
