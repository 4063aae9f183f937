import { edgeHeaders } from './keys-host.js';
import { DeployError } from '../errors.js';
import type { StepContext } from '../run/step.js';
import type { Colour } from './colours.js';
import { drainPort, reloadSettleMs } from './drain.js';
import { applyRouting, type Includes } from './nginx.js';
import { retired, type Routing } from './nginx-routing.js';
import { observeServing } from './served-by.js';
import type { Session } from './session.js';

/** How much longer than drainSeconds we wait for connections to a retired colour to close. */
export const maxExtraDrainMs = 30_000;
export const stopGraceMs = 10_000;

export type RetireRequest = {
  readonly colour: Colour;
  readonly port: number;
  /** The release it runs, when known: a public answer naming it means nginx still uses it. */
  readonly release: string | null;
  /** The routing nginx has now; the colour's tag is taken out of it first. */
  readonly routing: Routing | null;
  /** The includes as this run last wrote them, when it did (the switch): not read again. */
  readonly includes?: Includes | null;
  readonly step: StepContext;
  /**
   * How long requests already on nginx's old workers get: `full` drainSeconds and then until the
   * connections close (bounded), `short` drainSeconds only (a stop was asked for), `none` for a
   * colour nginx sent nothing to.
   */
  readonly drain: 'full' | 'short' | 'none';
  /**
   * The switch that took traffic off the colour saw nginx's old workers stop accepting (its own
   * command waited for it: nginx-settle.ts). With a retirement that settled too, or none, nothing
   * can reach the colour but requests already in flight, which the connection count sees: the
   * drain need not wait reloadSettleMs first.
   */
  readonly switchSettled?: boolean;
};

export type Retirement = {
  readonly open: number;
  readonly killed: boolean;
  readonly routing: Routing | null;
  /** The includes as written by the retirement (or as they were given, when it wrote none). */
  readonly includes: Includes | null;
};

/**
 * Retires a colour that no longer takes new traffic and stops it: nginx stops routing its
 * sessions to it (their tag is answered with 404 by nginx from now on), the requests already on
 * nginx's old workers finish (the port drain), and then, unless the public URL shows that nginx
 * still sends traffic to it, it is stopped. A colour nginx still uses is never stopped.
 */
export async function retireAndStop(session: Session, request: RetireRequest): Promise<Retirement> {
  const { transport, context, supervisor } = session;
  const { config, target } = context;
  const { colour, port, step } = request;
  let routing = request.routing;
  let includes = request.includes ?? null;
  let settled = request.switchSettled === true;
  if (routing !== null && routing.active !== colour && routing.tags[colour] !== null) {
    const next = retired(routing, colour);
    const applied = await applyRouting(transport, target, config.app, next, step.log, includes ?? undefined).catch((error: unknown) => {
      throw new DeployError('deploy', `Could not retire ${colour}: ${error instanceof Error ? error.message : String(error)}`, {
        hint: `${colour} keeps running and serving its sessions; the next deploy or rollback retires it.`,
      });
    });
    routing = next;
    includes = applied.after;
    settled &&= applied.settled;
    step.log(`nginx answers ${colour}'s sessions with 404 from now on`);
  }
  const minimumMs = config.drainSeconds * 1000;
  const floorMs = settled ? minimumMs : Math.max(minimumMs, reloadSettleMs);
  // The includes say the colour is out of use; the public URL says whether nginx agrees (found
  // with a site that did not read the includes: the drain stopped the colour nginx still used).
  // Asked once the drain's minimum wait is over (nginx's old workers no longer accept), alongside
  // the drain's first count of connections rather than after it.
  const [open, seen] = await Promise.all([
    request.drain === 'none'
      ? 0
      : drainPort(transport, port, {
          minimumMs: floorMs,
          settled,
          maximumMs: request.drain === 'short' ? minimumMs : minimumMs + maxExtraDrainMs,
          log: step.log,
        }),
    sleep(request.drain === 'none' ? 0 : floorMs).then(async () =>
      observeServing(target.publicUrl, config.health, { headers: await edgeHeaders(transport, target) }).catch(() => null),
    ),
  ]);
  const stillServes =
    seen !== null && (seen.colour === colour || (seen.colour === null && request.release !== null && seen.release === request.release));
  if (stillServes) {
    throw new DeployError(
      'deploy',
      `nginx still sends new traffic through ${target.publicUrl} to ${colour}${seen.colour === null ? ` (release ${seen.release} answers)` : ''}, although the includes route it elsewhere: ${colour} was left running.`,
      {
        hint: `Check that the site includes ${target.nginx.upstreamFile} and ${target.nginx.locationFile} (mcp-deploy doctor), reload nginx, then deploy again.`,
      },
    );
  }
  const stopped = await supervisor.stop(colour, { graceMs: stopGraceMs });
  return { open, killed: stopped.killed, routing, includes };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
