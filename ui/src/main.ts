import './styles.css';
import { header } from './components/header.js';
import { tabs } from './components/tabs.js';
import { Catalog } from './lib/catalog.js';
import { h } from './lib/dom.js';
import { airQualityTab } from './tabs/air-quality.js';
import { digitsTab } from './tabs/digits.js';
import { generateTab } from './tabs/generate.js';
import { monitorTab } from './tabs/monitor.js';
import { sentimentTab } from './tabs/sentiment.js';
import { spamTab } from './tabs/spam.js';

/** The playground: one catalog of the server's models feeds the header and every tab. */
const catalog = new Catalog();
const monitor = monitorTab();

const app = document.getElementById('app')!;
app.replaceChildren(
  header(catalog),
  h(
    'main',
    { class: 'main', id: 'main' },
    tabs([
      {
        id: 'sentiment',
        title: 'Analyze sentiment',
        badge: 'local model',
        intro: 'A text classifier running inside this server on onnxruntime: how positive or negative does a text read?',
        panel: sentimentTab(catalog),
      },
      {
        id: 'generate',
        title: 'Generate positive thought',
        badge: 'API model',
        intro: 'A hosted language model answers with an encouraging thought, streamed as it is written.',
        panel: generateTab(catalog),
      },
      { id: 'spam', title: 'Spam check', intro: 'A text classifier trained to tell spam from ordinary messages.', panel: spamTab(catalog) },
      { id: 'digits', title: 'Digits', intro: 'Draw a digit; an image classifier trained on MNIST reads it.', panel: digitsTab(catalog) },
      { id: 'air-quality', title: 'Air quality', intro: 'A regression model estimates a pollutant concentration from cheap sensor readings.', panel: airQualityTab(catalog) },
      { id: 'monitor', title: 'Monitor', intro: 'Traffic, latency, errors, predictions and resources of this server, live.', panel: monitor.panel, onShow: monitor.onShow, onHide: monitor.onHide },
    ]),
  ),
  h(
    'footer',
    { class: 'footer' },
    h('span', {}, 'Vigil · serve machine learning models over HTTP and keep them observable'),
    h('span', { class: 'footer__links' }, h('a', { href: '/docs' }, 'OpenAPI'), h('a', { href: '/metrics' }, 'Prometheus metrics'), h('a', { href: '/health' }, 'Health')),
  ),
);
catalog.start();
