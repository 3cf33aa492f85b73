// "Wrong? It's a _": after a prediction, ten digit buttons send the right answer to POST /feedback
// with the drawing exactly as it was posted to /classify, so the stored digit is the one the model
// saw. Self-contained: app.js only announces `digit:classified` (with the request it sent and the
// answer) and `digit:cleared`. Hidden unless /model says this Worker collects feedback.

const section = document.createElement('div');
section.className = 'feedback';
section.hidden = true;
section.dataset.testid = 'feedback';
section.innerHTML = `<span class="feedback-label">Wrong? It's a</span>
  <span class="feedback-digits" role="group" aria-label="The right digit"></span>
  <p class="feedback-status" role="status" aria-live="polite" data-testid="feedback-status"></p>`;
const digitsEl = section.querySelector('.feedback-digits');
const statusEl = section.querySelector('.feedback-status');
const buttons = Array.from({ length: 10 }, (_, digit) => {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = String(digit);
  button.dataset.testid = `feedback-${digit}`;
  button.setAttribute('aria-label', `It's a ${digit}`);
  button.addEventListener('click', () => send(digit));
  digitsEl.append(button);
  return button;
});
document.querySelector('.result')?.append(section);

let enabled = false;
/** The last classification: { url, contentType, body, answer }, or null. */
let last = null;

function show(classified) {
  last = classified;
  section.hidden = !(enabled && classified);
  statusEl.textContent = '';
  statusEl.classList.remove('error');
  buttons.forEach((button, digit) => {
    button.disabled = false;
    button.classList.toggle('predicted', classified !== null && digit === classified.answer.digit);
  });
}

const readAsDataUrl = (blob) =>
  new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });

/** The digit as /classify received it: a picture body becomes {"image"}, JSON passes its pixels/image on. */
async function digitOf({ contentType, body }) {
  if (contentType.startsWith('image/')) return { image: await readAsDataUrl(body) };
  const json = typeof body === 'string' ? JSON.parse(body) : body;
  if (json.image !== undefined) return { image: json.image };
  return { pixels: json.pixels ?? json.images?.[0] };
}

async function send(label) {
  const classified = last;
  if (!classified) return;
  buttons.forEach((button) => {
    button.disabled = true;
  });
  statusEl.classList.remove('error');
  statusEl.textContent = 'Saving…';
  try {
    const query = new URL(classified.url, location.href).search; // e.g. ?normalize=true
    const body = {
      ...(await digitOf(classified)),
      label,
      predicted: classified.answer.digit,
      model: classified.answer.model,
    };
    const response = await fetch(`/feedback${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    if (classified !== last) return; // a new drawing came in meanwhile
    if (response.status === 201) {
      statusEl.textContent = `Thanks! Saved as a ${label}.`;
      return;
    }
    if (answer?.error?.code === 'feedback_disabled') {
      enabled = false;
      section.hidden = true;
      return;
    }
    throw new Error(answer?.error?.message ?? `The server answered ${response.status}.`);
  } catch (error) {
    if (classified !== last) return;
    statusEl.textContent = `Not saved: ${error.message}`;
    statusEl.classList.add('error');
    buttons.forEach((button) => {
      button.disabled = false;
    });
  }
}

document.addEventListener('digit:classified', (event) => show(event.detail));
document.addEventListener('digit:cleared', () => show(null));

fetch('/model')
  .then((response) => (response.ok ? response.json() : null))
  .then((info) => {
    enabled = info?.feedback === true;
    document.body.dataset.feedback = enabled ? 'on' : 'off';
    show(last);
  })
  .catch(() => {
    document.body.dataset.feedback = 'off';
  });
