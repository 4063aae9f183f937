import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { interpolate, type InterpolationProblem } from '../config/interpolate.js';
import { configFileNames } from '../config/load.js';
import type { AnswerTexts } from './init-config.js';

/**
 * A server folder that already has its own `.mcpdeployrc(.json)` (as the bundled example does):
 * `init` at the repository's root starts from its answers instead of asking for them again. Read
 * as JSON with comments; the answers become the wizard's first values, which the operator reviews.
 */
export type ReusedAnswers = { readonly file: string; readonly texts: Partial<AnswerTexts> };

export function reuseServerConfig(
  root: string,
  folder: string,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): ReusedAnswers | null {
  for (const name of configFileNames) {
    const file = join(root, folder, name);
    if (!existsSync(file)) continue;
    const parsed = parseJsonc(readFileSync(file, 'utf8'), [], { allowTrailingComma: true }) as unknown;
    if (parsed === null || typeof parsed !== 'object') return null;
    // ${NAME:-fallback} as the deploy would read it here; a reference nothing resolves stays as written.
    const problems: InterpolationProblem[] = [];
    const raw = interpolate(parsed, environment, problems) as Record<string, unknown>;
    return { file: join(folder, name), texts: answersIn(raw) };
  }
  return null;
}

function answersIn(config: Record<string, unknown>): Partial<AnswerTexts> {
  const texts: Partial<AnswerTexts> = {};
  const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
  const set = (key: keyof AnswerTexts, value: unknown) => {
    const found = text(value);
    if (found !== undefined && found !== '') texts[key] = found;
  };
  set('app', config['app']);
  const runtime = (config['runtime'] ?? {}) as Record<string, unknown>;
  set('entry', runtime['entry']);
  set('requirements', runtime['requirements']);
  if (Array.isArray(config['ontologies'])) set('ontologies', config['ontologies'].filter((item) => typeof item === 'string').join(', '));
  const targets = (config['targets'] ?? {}) as Record<string, Record<string, unknown>>;
  const names = Object.keys(targets);
  const name = names.find((candidate) => targets[candidate]?.['default'] === true) ?? names[0];
  const target = name === undefined ? undefined : targets[name];
  // A local target (the sandbox) has no host to carry over.
  if (name === undefined || target === undefined || target['transport'] === 'local') return texts;
  texts.target = name;
  set('host', target['host']);
  set('user', target['user']);
  set('port', target['port']);
  set('path', target['path']);
  set('identityFile', target['identityFile']);
  set('knownHosts', target['knownHosts']);
  const url = text(target['publicUrl']);
  if (url !== undefined) texts.domain = url.replace(/^https:\/\//, '').replace(/\/+$/, '');
  return texts;
}
