// Bundles diagram.js (bpmn-js NavigatedViewer, bpmn-auto-layout) and diagram.css (bpmn-js's styles and
// duban's markers) into ../api/static/vendor/ for the case page: one IIFE and one stylesheet, minified.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

await build({
  entryPoints: [here('./diagram.js')],
  outfile: here('../api/static/vendor/diagram.js'),
  bundle: true,
  format: 'iife',
  minify: true,
  sourcemap: false,
  target: ['chrome100', 'firefox100', 'safari15', 'edge100'],
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  legalComments: 'eof',
  logLevel: 'info',
});
