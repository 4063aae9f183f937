import type { Message } from '../notification.js';
import type { ChannelName } from '../report.js';

/** One place notifications go. `send` rejects on any failure and stops when `signal` aborts. */
export type Channel = {
  readonly name: ChannelName;
  send(message: Message, signal: AbortSignal): Promise<void>;
};

export type Fetch = typeof fetch;
