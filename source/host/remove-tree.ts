import { cmd, op, script } from '../remote/quote.js';
import type { Script } from '../remote/transport.js';

/**
 * A shell function that removes a tree even when a folder in it is read-only: a release keeps
 * the modes of its source, and `rm -rf` cannot empty a folder its owner may not write. Only when
 * the plain removal fails does it make the tree owner-writable first (chmod -R does not follow
 * symlinks), so the usual case costs nothing extra.
 */
export const removeTreeFunction = 'mcpd_rmtree() { rm -rf -- "$1" 2>/dev/null || { chmod -R u+w -- "$1" 2>/dev/null; rm -rf -- "$1"; }; };';

/** Removes `path` and everything below it; exits non-zero only when something is left. */
export function removeTree(path: string): Script {
  return { script: script(op(removeTreeFunction), cmd(['mcpd_rmtree', path])) };
}
