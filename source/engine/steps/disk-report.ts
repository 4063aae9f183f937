import { mtimeShellFunction } from '../../host/host-clock.js';
import type { HostLayout } from '../../host/layout.js';
import { formatAge } from '../../run/format.js';
import { arg, op, script } from '../../remote/quote.js';
import type { Transport } from '../../remote/transport.js';

/** A `.partial` upload another run left behind, with what it holds and how old it is (host clock). */
export type LeftoverUpload = { readonly name: string; readonly kib: number; readonly ageSeconds: number | null };

export type DiskReport = { readonly availableKiB: number; readonly leftovers: readonly LeftoverUpload[] };

/**
 * The free space under releases/ and the `.partial` uploads other runs left there, in one
 * command: after a full disk, a killed run's partial upload is often what fills it, and prune
 * keeps one for an hour. `ownPartial` (this run's, removed by the deploy itself) is left out.
 * Null when the host cannot be asked (a connection that is gone).
 */
export async function diskReport(transport: Transport, layout: HostLayout, ownPartial: string): Promise<DiskReport | null> {
  const text = script(
    op(`${mtimeShellFunction}; df -Pk`),
    arg(layout.releasesDir),
    op('| tail -n 1 | awk \'{ print "free " $4 }\'; date -u +%s; cd'),
    arg(layout.releasesDir),
    op('|| exit 0; for d in .*.partial; do [ -d "$d" ] && [ ! -L "$d" ] && [ "$d" !='),
    arg(ownPartial.slice(ownPartial.lastIndexOf('/') + 1)),
    op(`] || continue; printf 'P %s %s %s\\n' "$(du -sk -- "$d" | cut -f1)" "$(mtime "$d")" "$d"; done`),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 15_000 }).catch(() => null);
  if (result === null || result.code !== 0) return null;
  const [freeLine = '', nowLine = '', ...lines] = result.stdout.split('\n');
  const availableKiB = Number(/^free (\d+)$/.exec(freeLine)?.[1] ?? Number.NaN);
  const now = Number(nowLine);
  const leftovers: LeftoverUpload[] = [];
  for (const line of lines) {
    const match = /^P (\d+) (\S+) (.+)$/.exec(line);
    if (match === null) continue;
    const [, kib, mtime, name] = match;
    leftovers.push({
      name: name!,
      kib: Number(kib),
      ageSeconds: /^\d+$/.test(mtime!) && Number.isFinite(now) ? Math.max(0, now - Number(mtime)) : null,
    });
  }
  return { availableKiB, leftovers };
}

/**
 * What to say about leftovers in a disk-full hint. Prune removes a `.partial` only once it is an
 * hour old, because a run whose lock was broken mid-upload may still be writing it; the operator
 * who knows no such run exists can remove it at once.
 */
export function leftoversHint(layout: HostLayout, leftovers: readonly LeftoverUpload[]): string {
  if (leftovers.length === 0) return '';
  const listed = leftovers
    .map((left) => `${left.name} (${left.kib} KiB${left.ageSeconds === null ? '' : `, ${formatAge(left.ageSeconds)} old`})`)
    .join(', ');
  const command = `rm -rf ${leftovers.map((left) => `${layout.releasesDir}/${left.name}`).join(' ')}`;
  return (
    ` A killed run left ${listed} in releases/: prune keeps an upload like that for an hour, in case its run is still writing it.` +
    ` If no other deploy is running, remove it now: ${command}`
  );
}
