// The shipped bundle loads: every module it requires is inside it (a dynamic require that esbuild
// cannot follow would only fail in VS Code otherwise). Skipped when dist/ is not built.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import * as vscode from 'vscode';

const bundle = path.resolve(__dirname, '..', 'dist', 'extension.js');

test('dist/extension.js loads with only `vscode` external', { skip: !fs.existsSync(bundle) && 'run the build first' }, () => {
   
  const loader = Module as any;
  const original = loader._load;
  const requested: string[] = [];
  loader._load = function (request: string, ...rest: unknown[]) {
    requested.push(request);
    if (request === 'vscode') return vscode;
    return original.call(this, request, ...rest);
  };
  try {
    const extension = require(bundle);
    assert.equal(typeof extension.activate, 'function');
    assert.equal(typeof extension.deactivate, 'function');
    const nonBuiltin = requested.filter((r) => r !== 'vscode' && r !== bundle && !Module.isBuiltin(r));
    assert.deepEqual(nonBuiltin, []);
  } finally {
    loader._load = original;
  }
});
