/**
 * The pieces `init` renders its commented JSON from: a key with the comment lines above it, and
 * the runtime section for a python or a node server.
 */

/** One key of a rendered object: comments above it, and a value that is JSON text or a nested object. */
export type Entry =
  | { readonly comment?: readonly string[]; readonly key: string; readonly value: string | readonly Entry[]; readonly gap?: boolean }
  | { readonly comment: readonly string[] };

export function pythonRuntimeEntries(answers: { readonly entry: string; readonly requirements: string | null }): Entry[] {
  const requirements = answers.requirements;
  return [
    {
      comment: ['"python": run <venv>/bin/python <entry> (or "node", or "command" with a start command of your own).'],
      key: 'type',
      value: inline('python'),
    },
    { comment: ['The script to run, relative to "source".'], key: 'entry', value: inline(answers.entry) },
    requirements === null
      ? { comment: ['No requirements file: the server runs on the host\'s python3. Add "requirements" to get a cached venv.'] }
      : {
          comment: requirements.endsWith('pyproject.toml')
            ? [
                'Its dependencies go into a venv on the host shared by releases with the same ones: uv sync --frozen from uv.lock',
                'where the host has uv, pip otherwise.',
              ]
            : ['Its sha256 keys the venv on the host: releases with the same requirements share one.'],
          key: 'requirements',
          value: inline(requirements),
        },
  ];
}

export function nodeRuntimeEntries(answers: { readonly entry: string; readonly lockfile: string | null }): Entry[] {
  const { lockfile } = answers;
  return [
    {
      comment: ['"node": run <entry> with the host\'s node (or "python", or "command" with a start command of your own).'],
      key: 'type',
      value: inline('node'),
    },
    { comment: ['The file node runs, relative to "source".'], key: 'entry', value: inline(answers.entry) },
    {
      comment:
        lockfile === null
          ? ['No lockfile yet: run npm install and commit package-lock.json; the host installs exactly what it pins.']
          : [`Dependencies come from ${lockfile}, installed once per lockfile into shared/deps and linked into each release.`],
    },
  ];
}

export function renderEntries(entries: readonly Entry[], indent: string): string {
  const lastKeyed = entries.findLastIndex((entry) => 'key' in entry);
  const lines: string[] = [];
  entries.forEach((entry, index) => {
    if ('key' in entry && entry.gap && lines.length > 0) lines.push('');
    for (const comment of entry.comment ?? []) lines.push(`${indent}// ${comment}`);
    if (!('key' in entry)) return;
    const comma = index === lastKeyed ? '' : ',';
    if (typeof entry.value === 'string') {
      lines.push(`${indent}${jsonString(entry.key)}: ${entry.value}${comma}`);
    } else {
      lines.push(`${indent}${jsonString(entry.key)}: {`, renderEntries(entry.value, `${indent}  `), `${indent}}${comma}`);
    }
  });
  return lines.join('\n');
}

/** A value on one line, spaced like the example file: `{ "path": "/health", "status": 200 }`. */
export function inline(value: unknown): string {
  if (typeof value === 'string') return jsonString(value);
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).filter(([, item]) => item !== undefined);
    return fields.length === 0 ? '{}' : `{ ${fields.map(([key, item]) => `${jsonString(key)}: ${inline(item)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** A JSON string whose `${` stays literal: the loader would read it as an environment variable. */
function jsonString(value: string): string {
  return JSON.stringify(value.replaceAll('${', () => '$${'));
}
