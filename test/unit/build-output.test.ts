import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../source/config/load.js';
import { keepBuildOutput } from '../../source/project/build-output.js';

const entries = [
  { kind: 'dir', path: '.yarn' },
  { kind: 'dir', path: '.yarn/releases' },
  { kind: 'file', path: '.yarn/releases/yarn-4.5.0.cjs' },
  { kind: 'file', path: 'README.md' },
  { kind: 'dir', path: 'dist' },
  { kind: 'dir', path: 'dist/tools' },
  { kind: 'file', path: 'dist/server.js' },
  { kind: 'file', path: 'dist/tools/search.js' },
  { kind: 'file', path: 'package-lock.json' },
  { kind: 'file', path: 'package.json' },
  { kind: 'dir', path: 'src' },
  { kind: 'file', path: 'src/server.ts' },
  { kind: 'file', path: 'tsconfig.json' },
] as const;

function configOf(runtime: Record<string, unknown>, output: unknown) {
  return parseConfig(
    JSON.stringify({
      app: 'a',
      runtime,
      build: { command: 'tsc', ...(output === undefined ? {} : { output }) },
      targets: { t: { transport: 'local', path: '/x', publicUrl: 'http://127.0.0.1:1' } },
    }),
    '/p/.mcpdeployrc',
    {},
  );
}

describe('keepBuildOutput', () => {
  it('ships the output and the files the install reads, and nothing of the sources', () => {
    const kept = keepBuildOutput(entries, configOf({ type: 'node', entry: 'dist/server.js' }, './dist/'));
    expect(kept.map((entry) => entry.path)).toEqual([
      '.yarn',
      '.yarn/releases',
      '.yarn/releases/yarn-4.5.0.cjs',
      'dist',
      'dist/tools',
      'dist/server.js',
      'dist/tools/search.js',
      'package-lock.json',
      'package.json',
    ]);
  });

  it('ships everything without an output, or when the output is the source folder itself', () => {
    expect(keepBuildOutput(entries, configOf({ type: 'node', entry: 'dist/server.js' }, undefined))).toHaveLength(entries.length);
    expect(keepBuildOutput(entries, configOf({ type: 'node', entry: 'dist/server.js' }, ['.']))).toHaveLength(entries.length);
  });

  it('ships a cached install’s cacheKey files with a command runtime', () => {
    const runtime = {
      type: 'command',
      command: 'node dist/server.js',
      install: { command: 'npm ci', cacheKey: ['package-lock.json'], cachePaths: ['node_modules'] },
    };
    expect(keepBuildOutput(entries, configOf(runtime, ['dist/server.js'])).map((entry) => entry.path)).toEqual([
      'dist',
      'dist/server.js',
      'package-lock.json',
    ]);
  });

  it('says so when an output path is not there after the build', () => {
    expect(() => keepBuildOutput(entries, configOf({ type: 'node', entry: 'build/index.js' }, 'build'))).toThrow(
      'build.output: build is not in the source folder',
    );
  });
});
