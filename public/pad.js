// The drawing pad of both modes (app.js: one digit; number.js: a number): strokes of a round black
// pen from a mouse, a pen or a finger (pointer events; a tap leaves a dot), in canvas pixels
// whatever size the canvas is shown at; and the drawing as the PNG the server would make of it.
import { reduceCanvas } from './reduce.js';

/**
 * Draws on `canvas` with a pen `penWidth` canvas pixels wide; `onStrokeEnd` runs when a stroke
 * ends on a pad with ink.
 */
export function drawingPad(canvas, { penWidth, onStrokeEnd }) {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.lineWidth = penWidth;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.strokeStyle = '#000';
  ctx.fillStyle = '#000';
  let drawing = null; // { id, x, y } of the pointer that is drawing
  let hasInk = false;

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
    // A tap leaves a dot.
    ctx.beginPath();
    ctx.arc(p.x, p.y, penWidth / 2, 0, Math.PI * 2);
    ctx.fill();
    hasInk = true;
    canvas.classList.add('drawn');
  }

  function move(event) {
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

  function end(event) {
    if (!drawing || event.pointerId !== drawing.id) return;
    drawing = null;
    if (hasInk) onStrokeEnd();
  }

  canvas.addEventListener('pointerdown', start);
  canvas.addEventListener('pointermove', move);
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  canvas.addEventListener('lostpointercapture', end);

  const reducedCanvas = document.createElement('canvas');
  return {
    clear() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      hasInk = false;
      canvas.classList.remove('drawn');
    },
    /** The drawing reduced as the server would reduce it (reduce.js, at most `maxSide`), as a PNG. */
    async toPng(maxSide) {
      const reduced = reduceCanvas(
        ctx.getImageData(0, 0, canvas.width, canvas.height).data,
        canvas.width,
        canvas.height,
        maxSide,
      );
      reducedCanvas.width = reduced.width;
      reducedCanvas.height = reduced.height;
      reducedCanvas.getContext('2d').putImageData(new ImageData(reduced.rgba, reduced.width, reduced.height), 0, 0);
      const blob = await new Promise((resolve, reject) =>
        reducedCanvas.toBlob(
          (png) => (png ? resolve(png) : reject(new Error('The browser could not export the drawing.'))),
          'image/png',
        ),
      );
      return { blob, width: reduced.width };
    },
  };
}
