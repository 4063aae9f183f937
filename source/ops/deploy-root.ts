import type { Transport } from '../remote/transport.js';

/**
 * Whether the SSH user can lay out the deploy root, and the one command that fixes it when not.
 * Doctor reports it; setup shows it before asking anything, instead of asking and then failing
 * six times with "mkdir: Permission denied".
 */
export type DeployRootState =
  | { readonly kind: 'exists' }
  | { readonly kind: 'creatable'; readonly under: string }
  | { readonly kind: 'not-writable'; readonly path: string; readonly fix: string }
  | { readonly kind: 'parent-not-writable'; readonly under: string; readonly fix: string }
  | { readonly kind: 'unknown'; readonly detail: string };

export async function inspectDeployRoot(transport: Transport, root: string, user: string): Promise<DeployRootState> {
  const result = await transport.run(
    {
      script: `if [ -d "$root" ]; then
  for d in "$root" "$root/releases" "$root/shared" "$root/shared/venvs" "$root/shared/logs" "$root/run"; do
    if [ -e "$d" ] && { [ ! -w "$d" ] || [ ! -x "$d" ]; }; then echo "not-writable $d"; exit 0; fi
  done
  echo exists
else
  d=$(dirname "$root"); while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  if [ -d "$d" ] && [ -w "$d" ] && [ -x "$d" ]; then echo "creatable $d"; else echo "parent-not-writable $d"; fi
fi`,
    },
    { env: { root }, timeoutMs: 30_000 },
  );
  const [verdict = '', ...rest] = result.stdout.trim().split(' ');
  const where = rest.join(' ');
  if (verdict === 'exists') return { kind: 'exists' };
  if (verdict === 'creatable') return { kind: 'creatable', under: where };
  if (verdict === 'not-writable') return { kind: 'not-writable', path: where, fix: `On the host: sudo chown -R ${user}: ${root}` };
  if (verdict === 'parent-not-writable') {
    return { kind: 'parent-not-writable', under: where, fix: `On the host: sudo mkdir -p ${root} && sudo chown ${user}: ${root}` };
  }
  return { kind: 'unknown', detail: `${result.stderr}\n${result.stdout}`.trim().split('\n').pop() || `exit ${result.code}` };
}
