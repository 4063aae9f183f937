import { ProtocolError, SdkError, SdkErrorCode, UnsupportedProtocolVersionError } from '@modelcontextprotocol/client';
import { ProbeCheckError, ProbeConfigError, ProbeRetryableError } from './probe-errors.js';

/**
 * Anything the SDK client threw, as one of the probe's three kinds. Our own errors (thrown by the
 * classifying fetch, possibly wrapped by the SDK as a cause) pass through; an abort passes
 * through as it is, for the caller to tell a deadline from Ctrl-C.
 */
export function classifySdkError(error: unknown, url: string): unknown {
  const ours = findOurs(error);
  if (ours !== undefined) return ours;
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UnsupportedProtocolVersionError || /protocol version is not supported/i.test(message)) {
    return new ProbeConfigError(0, `MCP ${url}: ${message}`, unsupportedHint);
  }
  if (error instanceof SdkError) {
    switch (error.code) {
      case SdkErrorCode.RequestTimeout:
      case SdkErrorCode.ConnectionClosed:
      case SdkErrorCode.SendFailed:
      case SdkErrorCode.EraNegotiationFailed:
        return new ProbeRetryableError(`MCP ${url}: ${message}`, { cause: error });
      default:
        return new ProbeCheckError(`MCP ${url}: ${message}`, { cause: error });
    }
  }
  if (error instanceof ProtocolError)
    return new ProbeCheckError(`MCP ${url}: JSON-RPC error ${error.code}: ${error.message}`, { cause: error });
  return new ProbeCheckError(`MCP ${url}: ${message}`, { cause: error });
}

const unsupportedHint =
  'The server and mcp-deploy share no MCP protocol version: update the server (or its SDK) to 2025-03-26 or newer, or 2026-07-28.';

function findOurs(error: unknown): Error | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof ProbeConfigError || current instanceof ProbeRetryableError || current instanceof ProbeCheckError) return current;
    current = current.cause;
  }
  return undefined;
}
