import type { Config } from '../config/load.js';
import type { EngineEvent } from '../run/events.js';
import type { Channel, Fetch } from './channels/channel.js';
import { channelsFor } from './channels/channels-for.js';
import { withDeadline } from './deadline.js';
import type { AlertNotification, Message } from './notification.js';
import type { ChannelName, ChannelReport, MessageEvent, NotifyReport } from './report.js';
import { createRunTracker } from './run-tracker.js';
import { scrubDeep } from '../run/scrub.js';
import { scrubberFor } from './secrets.js';

export { notifyReportLines, type ChannelReport, type NotifyReport } from './report.js';

export type NotifierOptions = {
  readonly config: Pick<Config, 'app' | 'notify'>;
  /** Who runs the deploy ("who" in every message). */
  readonly operator: string;
  /** The machine it runs from. */
  readonly localHost: string;
  /** Injected by tests; the global fetch otherwise. */
  readonly fetch?: Fetch;
  /** More secrets to keep out of messages than the channels' own (the server's environment values). */
  readonly secretValues?: readonly string[];
};

export type Notifier = {
  /** Subscribe this to the engine's bus. Never throws and never waits: sends run in the background. */
  readonly listener: (event: EngineEvent) => void;
  /**
   * Waits for every send still under way (each is bounded by notify.timeoutSeconds from the
   * moment it was queued) and says how each channel did. Call it once the run is over.
   */
  flush(): Promise<NotifyReport>;
};

/**
 * Deploy news for Slack, Discord, a generic webhook and email: a subscriber of the engine's
 * events, so the engine never knows notifications exist and a broken channel can only ever cost
 * a line in the report, never the deploy.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const notify = options.config.notify;
  if (notify === undefined) return { listener: () => {}, flush: async () => ({ ok: true, channels: [] }) };

  const scrub = scrubberFor(notify, options.secretValues ?? []);
  const channels = channelsFor(notify, options.fetch ?? ((input, init) => fetch(input, init)));
  const tracker = createRunTracker({ app: options.config.app, operator: options.operator, localHost: options.localHost, on: notify.on });
  const timeoutMs = notify.timeoutSeconds * 1000;
  const outcomes = new Map<ChannelName, { delivered: MessageEvent[]; failed: { event: MessageEvent; error: string }[] }>(
    channels.map((channel) => [channel.name, { delivered: [], failed: [] }]),
  );
  const pending = new Set<Promise<void>>();
  // Each channel's messages go out in order, so "finished" can never land before "started".
  const tails = new Map<ChannelName, Promise<void>>();

  const send = (channel: Channel, notification: Message): void => {
    const previous = tails.get(channel.name) ?? Promise.resolve();
    // The deadline runs from now, and covers waiting for the message before: a channel that
    // hangs costs one timeout in all, not one per message.
    const sent = withDeadline(timeoutMs, async (signal) => {
      await previous;
      signal.throwIfAborted();
      await channel.send(notification, signal);
    });
    const outcome = outcomes.get(channel.name)!;
    const recorded = sent.then(
      () => void outcome.delivered.push(notification.event),
      (error: unknown) => void outcome.failed.push({ event: notification.event, error: scrub(describe(error)) }),
    );
    tails.set(channel.name, recorded);
    pending.add(recorded);
    void recorded.finally(() => pending.delete(recorded));
  };

  const dispatch = (notifications: readonly Message[]): void => {
    for (const notification of notifications) {
      // Secrets must not travel either: an error message can quote an SMTP password to Slack.
      const clean = scrubDeep(notification, scrub);
      for (const channel of channels) send(channel, clean);
    }
  };

  return {
    listener(event) {
      try {
        if (event.kind === 'monitor') {
          dispatch([alertNotification(event.alert, options)]);
          return;
        }
        dispatch(tracker.observe(event));
      } catch {
        // A notifier bug must cost the notifications, never the deploy.
      }
    },
    async flush() {
      dispatch(tracker.close());
      while (pending.size > 0) await Promise.all([...pending]);
      const reports: ChannelReport[] = channels.map((channel) => {
        const outcome = outcomes.get(channel.name)!;
        return { channel: channel.name, ok: outcome.failed.length === 0, delivered: [...outcome.delivered], failed: [...outcome.failed] };
      });
      return { ok: reports.every((report) => report.ok), channels: reports };
    },
  };
}

/** A monitor transition as a message: every channel gets it, whatever `notify.on` lists for deploy runs. */
function alertNotification(alert: EngineEventAlert, options: NotifierOptions): AlertNotification {
  return {
    event: alert.transition === 'failing' ? 'alert' : 'recovered',
    app: options.config.app,
    ok: alert.transition === 'recovered',
    ...alert,
    operator: options.operator,
    localHost: options.localHost,
  };
}

type EngineEventAlert = Extract<EngineEvent, { kind: 'monitor' }>['alert'];

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
