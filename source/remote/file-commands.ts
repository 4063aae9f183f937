import { randomBytes } from 'node:crypto';
import { arg, op, script, type ScriptPart } from './quote.js';
import type { Script } from './transport.js';

/**
 * Reading and writing one file on the host as a single exec command each, rather than over SFTP:
 * at 40 ms RTT an SFTP session costs three round trips to open, a read four more (open, stat,
 * read, close), an atomic write six (open, write, close, chmod, rename), where a command costs
 * about two. Every step that reads state.json, the lock, the upstream file gets the difference.
 */

/** The exit code of `readFileCommand` when the file does not exist. */
export const missingFileCode = 44;

export function readFileCommand(path: string): Script {
  return {
    script: script(op('set --'), arg(path), op(`; test -e "$1" || test -L "$1" || exit ${missingFileCode}; exec cat -- "$1"`)),
  };
}

/**
 * Writes stdin to `temporary` (created private: umask 077, so a secret is never readable by
 * others, even for a moment), gives it `mode`, and renames it over `path`: a reader sees the old
 * file or the new one. A failure removes the temporary file.
 */
export function writeFileAtomicCommand(path: string, temporary: string, mode: number): Script {
  return {
    script: script(
      op('umask 077; set --'),
      arg(path),
      arg(temporary),
      arg((mode & 0o7777).toString(8)),
      op('; { cat > "$2" && chmod "$3" -- "$2" && mv -f -- "$2" "$1"; } || { mcpd_status=$?; rm -f -- "$2"; exit "$mcpd_status"; }'),
    ),
  };
}

/** The exit code of a script using `catFileFunction` when a file exists but cannot be read. */
export const unreadableFileCode = 45;

/**
 * A sh function, `mcpd_cat PATH`: prints the file as its size in bytes on a line of its own, then
 * its bytes; or `-` on a line when it does not exist. Several files so read travel in one
 * command's output (`splitCatOutput` takes them apart), where each would otherwise cost a
 * command of its own. The size and the bytes are read a moment apart: meant for files only the
 * lock holder writes (state.json, the nginx includes), read under the lock.
 */
export const catFileFunction = `mcpd_cat() { if test -e "$1" || test -L "$1"; then mcpd_size=$(wc -c < "$1") || exit ${unreadableFileCode}; printf '%s\\n' $mcpd_size; cat -- "$1" || exit ${unreadableFileCode}; else printf -- '-\\n'; fi; }`;

/** Shell printing each of `paths` with `catFileFunction`, in order. */
export function catFiles(paths: readonly string[]): ScriptPart[] {
  return [op(`${catFileFunction};`), ...paths.flatMap((path) => [op('mcpd_cat'), arg(path), op(';')])];
}

/**
 * Takes `catFiles` output apart, from `offset` in `output`: each path's bytes, or null for a file
 * that does not exist. Throws when the output is not what the function prints (cut short).
 */
export function splitCatOutput(output: Buffer, paths: readonly string[], offset = 0): Map<string, Buffer | null> {
  const files = new Map<string, Buffer | null>();
  let at = offset;
  for (const path of paths) {
    const newline = output.indexOf(0x0a, at);
    const header = newline === -1 ? '' : output.subarray(at, newline).toString('latin1');
    if (header === '-') {
      files.set(path, null);
      at = newline + 1;
      continue;
    }
    if (!/^\d+$/.test(header) || newline + 1 + Number(header) > output.length)
      throw new Error(`the host's answer ends before the contents of ${path}`);
    files.set(path, output.subarray(newline + 1, newline + 1 + Number(header)));
    at = newline + 1 + Number(header);
  }
  return files;
}

/** The exit code of a script using `putFiles` when a file could not be written. */
export const putFileFailedCode = 71;
/** What such a script prints on stdout then (a command's own output never starts with it). */
export const putFileFailedMarker = 'mcp-deploy-write-failed';

/**
 * Shell writing small text files (generated configuration, never secrets: their contents are
 * arguments, which `ps` shows) each through a temporary file and a rename, as writeFileAtomic
 * does, so that the command that uses them can follow in the same script. A failure removes the
 * temporary file and ends the script with putFileFailedCode after putFileFailedMarker.
 */
export function putFiles(files: readonly { readonly path: string; readonly text: string; readonly mode: number }[]): ScriptPart[] {
  if (files.some((file) => file.text.includes('\0'))) throw new Error('putFiles writes text without NUL bytes');
  return [
    op(
      `mcpd_put() { { printf '%s' "$3" > "$2" && chmod "$4" -- "$2" && mv -f -T -- "$2" "$1"; } || { rm -f -- "$2"; printf '%s\\n' ${putFileFailedMarker}; exit ${putFileFailedCode}; }; }; umask 077;`,
    ),
    ...files.flatMap((file) => [
      op('mcpd_put'),
      arg(file.path),
      arg(`${file.path}.tmp-${randomBytes(6).toString('hex')}`),
      arg(file.text),
      arg((file.mode & 0o7777).toString(8)),
      op(';'),
    ]),
  ];
}
