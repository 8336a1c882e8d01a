import { errorBox } from '../components/error-box.js';
import { gatedPanel } from '../components/gate.js';
import { modelCard } from '../components/model-card.js';
import { scoreBars } from '../components/score-bars.js';
import { postJson, predictPath } from '../lib/api.js';
import type { Catalog } from '../lib/catalog.js';
import { h, replace } from '../lib/dom.js';
import { milliseconds, probability } from '../lib/format.js';
import { MNIST_SIZE, grayFromRgba, toMnistPixels } from '../lib/mnist.js';
import type { ClassificationResult } from '../lib/types.js';

const MODEL = 'digits';
/** Drawing resolution; the stroke is ~1/14 of it, like a pen stroke in MNIST's 28 px frame. */
const CANVAS = 280;
const STROKE = 20;

/**
 * Sample strokes (in 0..1 canvas units) so the tab also works from the keyboard and shows
 * what a good drawing looks like.
 */
const SAMPLES: Record<string, [number, number][][]> = {
  '0': [Array.from({ length: 33 }, (_, i) => [0.5 + 0.2 * Math.sin((i / 32) * 2 * Math.PI), 0.5 - 0.3 * Math.cos((i / 32) * 2 * Math.PI)] as [number, number])],
  '1': [[[0.42, 0.3], [0.53, 0.2], [0.53, 0.8]]],
  '7': [[[0.3, 0.22], [0.7, 0.22], [0.45, 0.8]]],
};

export function digitsTab(catalog: Catalog): HTMLElement {
  let labels: string[] = Array.from({ length: 10 }, (_, i) => String(i));
  const about = modelCard();

  const build = () => {
    const canvas = h('canvas', {
      class: 'sketch',
      width: CANVAS,
      height: CANVAS,
      role: 'img',
      'aria-label': 'Drawing area: draw one digit with the mouse, a finger or a pen',
    });
    const preview = h('canvas', { class: 'sketch-preview', width: MNIST_SIZE, height: MNIST_SIZE, role: 'img', 'aria-label': 'What the model sees: 28 by 28 pixels' });
    const context = canvas.getContext('2d', { willReadFrequently: true })!;
    const previewContext = preview.getContext('2d')!;
    const result = h('div', { class: 'result', id: 'digits-result', 'aria-live': 'polite' }, h('p', { class: 'result__empty' }, 'Draw a digit from 0 to 9: the prediction updates when you lift the pen.'));
    let inFlight: AbortController | undefined;
    let hasInk = false;

    const clear = () => {
      context.fillStyle = '#000';
      context.fillRect(0, 0, CANVAS, CANVAS);
      previewContext.fillStyle = '#000';
      previewContext.fillRect(0, 0, MNIST_SIZE, MNIST_SIZE);
      hasInk = false;
      inFlight?.abort();
      replace(result, h('p', { class: 'result__empty' }, 'Draw a digit from 0 to 9: the prediction updates when you lift the pen.'));
    };

    const showPreview = (pixels: Float32Array) => {
      const image = previewContext.createImageData(MNIST_SIZE, MNIST_SIZE);
      pixels.forEach((v, i) => {
        const c = Math.round(v * 255);
        image.data.set([c, c, c, 255], i * 4);
      });
      previewContext.putImageData(image, 0, 0);
    };

    const predict = async () => {
      if (!hasInk) {
        replace(result, h('p', { class: 'notice notice--muted' }, 'The canvas is empty: draw a digit first.'));
        return;
      }
      const gray = grayFromRgba(context.getImageData(0, 0, CANVAS, CANVAS).data, CANVAS, CANVAS);
      const pixels = toMnistPixels(gray);
      showPreview(pixels);
      inFlight?.abort();
      const controller = new AbortController();
      inFlight = controller;
      const started = performance.now();
      try {
        // Four decimals keep the request small without changing what the model sees.
        const body = { pixels: Array.from(pixels, (v) => Math.round(v * 10000) / 10000) };
        const answer = await postJson<ClassificationResult>(predictPath(MODEL), body, controller.signal);
        const elapsed = performance.now() - started;
        replace(
          result,
          h(
            'div',
            { class: 'prediction', 'data-label': answer.label, 'data-score': answer.score },
            h('p', { class: 'prediction__eyebrow' }, 'The model reads'),
            h('p', { class: 'prediction__headline' }, h('span', { class: 'digit' }, answer.label), h('span', { class: 'prediction__confidence' }, `${probability(answer.score)} confident`)),
            scoreBars(answer.scores, { winner: answer.label, order: labels.filter((l) => l in answer.scores), tone: () => 'accent' }),
            h(
              'dl',
              { class: 'meta' },
              h('div', {}, h('dt', {}, 'Latency'), h('dd', {}, milliseconds(elapsed))),
              h('div', {}, h('dt', {}, 'Model'), h('dd', {}, `${answer.model} v${answer.version}`)),
            ),
          ),
        );
      } catch (error) {
        if ((error as Error).name !== 'AbortError') replace(result, errorBox(error));
      }
    };

    // Pointer events cover mouse, touch and pen alike; capture keeps the stroke when leaving the canvas.
    let last: [number, number] | undefined;
    const point = (event: PointerEvent): [number, number] => {
      const rect = canvas.getBoundingClientRect();
      return [((event.clientX - rect.left) / rect.width) * CANVAS, ((event.clientY - rect.top) / rect.height) * CANVAS];
    };
    const strokeTo = (to: [number, number]) => {
      context.strokeStyle = '#fff';
      context.fillStyle = '#fff';
      context.lineWidth = STROKE;
      context.lineCap = 'round';
      context.lineJoin = 'round';
      context.beginPath();
      if (last) {
        context.moveTo(last[0], last[1]);
        context.lineTo(to[0], to[1]);
        context.stroke();
      } else {
        context.arc(to[0], to[1], STROKE / 2, 0, Math.PI * 2);
        context.fill();
      }
      last = to;
      hasInk = true;
    };
    canvas.addEventListener('pointerdown', (event) => {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      last = undefined;
      strokeTo(point(event));
    });
    canvas.addEventListener('pointermove', (event) => {
      if (last && canvas.hasPointerCapture(event.pointerId)) strokeTo(point(event));
    });
    const finish = (event: PointerEvent) => {
      if (!last) return;
      last = undefined;
      if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
      void predict();
    };
    canvas.addEventListener('pointerup', finish);
    canvas.addEventListener('pointercancel', finish);

    const drawSample = (digit: string) => {
      clear();
      for (const stroke of SAMPLES[digit] ?? []) {
        last = undefined;
        for (const [x, y] of stroke) strokeTo([x * CANVAS, y * CANVAS]);
      }
      last = undefined;
      void predict();
    };

    clear();
    return h(
      'div',
      { class: 'split' },
      h(
        'div',
        { class: 'card' },
        h('p', { class: 'field__label', id: 'digits-canvas-label' }, 'Draw a digit'),
        h(
          'div',
          { class: 'sketch-row' },
          h('div', { class: 'sketch-frame' }, canvas),
          h(
            'div',
            { class: 'sketch-seen' },
            preview,
            h('p', { class: 'field__note' }, 'What the model sees: your drawing fitted into a 20×20 box and centred by its mass in a 28×28 frame, the way MNIST digits were prepared.'),
          ),
        ),
        h(
          'div',
          { class: 'form__actions' },
          h('button', { type: 'button', class: 'button button--primary', onclick: () => void predict() }, 'Predict'),
          h('button', { type: 'button', class: 'button', onclick: clear }, 'Clear'),
          h(
            'span',
            { class: 'chips', role: 'group', 'aria-label': 'Draw a sample digit' },
            h('span', { class: 'chips__label' }, 'Sample:'),
            ...Object.keys(SAMPLES).map((digit) => h('button', { type: 'button', class: 'chip chip--square', onclick: () => drawSample(digit), 'aria-label': `Draw a sample ${digit}` }, digit)),
          ),
        ),
      ),
      h('div', { class: 'stack' }, h('div', { class: 'card card--result' }, result), about.element),
    );
  };

  return gatedPanel(catalog, {
    modelName: MODEL,
    absentHint: [
      'The handwritten-digit classifier (trained on MNIST) is served from ',
      h('code', {}, 'models/digits'),
      ' once it has been trained (see the README). Restart the server after adding it and this tab switches on.',
    ],
    build,
    onModel: (model) => {
      about.update(model);
      if (model.labels?.length) labels = model.labels;
    },
  });
}
