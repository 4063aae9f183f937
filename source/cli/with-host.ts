import type { Transport } from '../remote/transport.js';
import type { GlobalOptions } from './options.js';
import type { Output } from './output.js';
import { createRunContext, type RunContext } from './run-context.js';

/** A read-only conversation with the target's host: one connection, closed afterwards, plain output. */
export async function withHost<T>(
  options: GlobalOptions,
  output: Output,
  body: (context: RunContext, transport: Transport) => Promise<T>,
): Promise<T> {
  const context = createRunContext({ ...options, yes: true }, output, { plain: true });
  try {
    const transport = await context.connect();
    try {
      return await body(context, transport);
    } finally {
      await transport.close();
    }
  } finally {
    context.dispose();
  }
}
