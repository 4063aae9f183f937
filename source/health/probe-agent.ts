/**
 * The User-Agent of every request mcp-deploy's own checks send (health routes, the MCP handshake,
 * verify through the public URL). A server that logs it, as the example server does, lets the
 * log pane mark those lines as mcp-deploy's rather than a client's: without the mark an operator
 * reads the handshake's `GET /mcp 405` as a client in trouble.
 */
export const probeUserAgent = 'mcp-deploy-probe';

/** Whether a log line names the probe (the server logged its User-Agent). */
export function isProbeLine(line: string): boolean {
  return line.includes(probeUserAgent);
}
