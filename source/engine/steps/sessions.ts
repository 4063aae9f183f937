import { runStep, StepSkipped } from '../../run/step.js';
import type { CutoverProgress } from '../cutover-progress.js';
import { drainSessions, type FirstLook } from '../session-drain.js';
import type { Session } from '../session.js';

/**
 * After the record, before the drain: the old colour keeps serving the sessions it issued until
 * they are quiet or the bound passes (session-drain.ts), shown live. Skipped when nothing is
 * pinned to it. Returns whether a stop was asked for meanwhile: the wait then ended at once, and
 * the drain that follows is cut short too (the deploy itself is done).
 */
/** Whether the step will read the session log: what the record before it may start reading alongside itself. */
export function sessionsToWaitFor(session: Session, progress: CutoverProgress): boolean {
  const { active } = session;
  return active !== null && progress.pinned && (progress.routing?.tags[active.colour] ?? null) !== null;
}

export async function sessionsStep(session: Session, progress: CutoverProgress, early?: FirstLook): Promise<boolean> {
  const { context, transport, active } = session;
  const { config, target, signal } = context;
  const { colour, port } = progress;
  let hurried = false;
  await runStep(
    context,
    'sessions',
    active ? `Let ${active.colour}'s sessions finish` : "Let the old colour's sessions finish",
    async (step) => {
      if (active === null) throw new StepSkipped('first deploy: no sessions to wait for');
      if (!progress.pinned)
        throw new StepSkipped(`sessions are not pinned: the site does not include ${target.nginx.locationFile} (see mcp-deploy doctor)`);
      const tag = progress.routing?.tags[active.colour] ?? null;
      if (tag === null) throw new StepSkipped(`no session is pinned to ${active.colour} (its sessions were issued before pinning)`);
      const { sessionIdleSeconds, sessionMaxSeconds } = config.drain;
      const outcome = await drainSessions(
        transport,
        target.nginx.sessionLog,
        {
          colour: active.colour,
          tag,
          newAddress: `127.0.0.1:${port}`,
          idleMs: sessionIdleSeconds * 1000,
          maxMs: sessionMaxSeconds * 1000,
          switchedAt: progress.switchedAt ?? performance.now(),
          signal,
          onProgress: ({ left, remainingMs, elapsedMs }) =>
            step.progress(
              Math.min(sessionMaxSeconds, Math.round(elapsedMs / 1000)),
              sessionMaxSeconds,
              'seconds',
              `${left} session(s) on ${active.colour}, ${Math.ceil(remainingMs / 1000)} s left`,
            ),
        },
        early,
      );
      hurried = outcome.ended === 'interrupted';
      const waited = `${(outcome.waitedMs / 1000).toFixed(1)} s`;
      step.detail(
        outcome.ended === 'quiet'
          ? outcome.waitedMs < 1_000
            ? `no active session on ${active.colour}`
            : `${active.colour}'s sessions went quiet after ${waited}`
          : outcome.ended === 'bound'
            ? `${outcome.left} session(s) still active after ${sessionMaxSeconds} s (drain.sessionMaxSeconds): they start anew on ${colour}`
            : outcome.ended === 'interrupted'
              ? `stopped after ${waited}: ${active.colour} is retired now${outcome.left > 0 ? `, ${outcome.left} session(s) start anew on ${colour}` : ''}`
              : outcome.ended === 'blind'
                ? `${target.nginx.sessionLog} shows no request to ${colour} since the switch (does the site set its own access_log? see docs/operations.md): waited the whole ${sessionMaxSeconds} s`
                : `could not read ${target.nginx.sessionLog}: waited the whole ${sessionMaxSeconds} s`,
      );
    },
    { uninterruptible: true },
  );
  return hurried;
}
