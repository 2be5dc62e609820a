// Bundles the extension (dist/extension.js), the webviews' script (dist/webview.js) or, with --tests, the unit tests (out-test/*.test.js)
// with the `vscode` module replaced by test/mock/vscode.ts, so they run under `node --test`
// without a VS Code download.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';

const tests = process.argv.includes('--tests');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // jsonc-parser's UMD build requires its modules dynamically, which a bundle cannot resolve:
  // take the ES module build.
  mainFields: ['module', 'main'],
};

if (tests) {
  rmSync('out-test', { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`),
    outdir: 'out-test',
    alias: { vscode: './test/mock/vscode.ts' },
  });
} else {
  const extension = {
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: !watch,
    sourcemap: watch ? 'inline' : false,
  };
  // The webviews' script runs in the browser, not in Node: a separate bundle.
  const webview = {
    ...extension,
    entryPoints: ['media/webview.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    target: 'es2020',
    format: 'iife',
    external: [],
  };
  for (const options of [extension, webview]) {
    if (watch) {
      const ctx = await esbuild.context(options);
      await ctx.watch();
    } else {
      await esbuild.build(options);
    }
  }
}
