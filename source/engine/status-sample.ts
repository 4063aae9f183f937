import { hostLayout } from '../host/layout.js';
import type { Transport } from '../remote/transport.js';
import type { Colour } from './colours.js';
import type { EngineContext } from './context.js';
import { type HostStatus, readStatus } from './inspect.js';
import { colourMetrics, cpuPercent, nginxErrorRate, type ProcessSample } from './metrics.js';
import { createSupervisor } from './supervisor/create-supervisor.js';

/** One look at a running colour beyond its health: MCP latency, CPU, memory, and nginx's 5xx share when it serves. */
export type ColourSample = {
  readonly colour: Colour;
  readonly mcpLatencyMs: number | null;
  readonly mcpProblem?: string;
  /** Percent of one core since the previous sample; null on the first one. */
  readonly cpuPercent: number | null;
  readonly rssBytes: number | null;
  readonly nginx: { readonly requests: number; readonly errors: number } | null;
};

export type StatusSample = { readonly status: HostStatus; readonly colours: readonly ColourSample[] };

/**
 * `status --watch`: samples the host again and again over one connection. CPU is a rate, so the
 * sampler remembers each colour's last process reading.
 */
export function createStatusSampler(context: EngineContext, transport: Transport): { sample(): Promise<StatusSample> } {
  const { config, target } = context;
  const supervisor = createSupervisor(target, transport, hostLayout(target.path), config.app);
  const previous = new Map<Colour, ProcessSample | null>();
  return {
    async sample() {
      const status = await readStatus(context, transport);
      const colours: ColourSample[] = [];
      for (const colour of status.colours) {
        if (!colour.running) continue;
        const metrics = await colourMetrics(transport, config, target, supervisor, colour.colour);
        const process = metrics.process;
        const cpu = cpuPercent(previous.get(colour.colour), process);
        previous.set(colour.colour, process);
        const serves = status.trafficPort === colour.port;
        colours.push({
          colour: colour.colour,
          mcpLatencyMs: metrics.mcpLatencyMs,
          ...(metrics.mcpProblem ? { mcpProblem: metrics.mcpProblem } : {}),
          cpuPercent: cpu,
          rssBytes: process ? process.rssKiB * 1024 : null,
          nginx: serves ? await nginxErrorRate(transport, config.watch?.accessLog, colour.port) : null,
        });
      }
      return { status, colours };
    },
  };
}
