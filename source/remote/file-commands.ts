import { arg, op, script } from './quote.js';
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
