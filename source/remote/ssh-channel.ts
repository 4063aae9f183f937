import type { ClientChannel } from 'ssh2';
import { op, script } from './quote.js';

/**
 * Asks sshd to signal the command's process group (OpenSSH 7.9+). ssh2's public signal() stays
 * silent once we have sent EOF on stdin, which every command with `input` has; the request is
 * still valid then, so we make it through the protocol object ssh2 uses itself.
 */
export function signalChannel(channel: ClientChannel, name: 'TERM'): void {
  try {
    if (channel.writable) {
      channel.signal(name);
      return;
    }
    const internal = channel as unknown as {
      _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
      outgoing?: { id?: number; state?: string };
    };
    const protocol = internal._client?._protocol;
    const id = internal.outgoing?.id;
    if (
      typeof protocol?.signal === 'function' &&
      typeof id === 'number' &&
      (internal.outgoing?.state === 'open' || internal.outgoing?.state === 'eof')
    )
      protocol.signal(id, name);
  } catch {
    // the channel is closing anyway
  }
}

/**
 * Wraps composed command text so it ends when our side of the channel sends EOF or goes away.
 * OpenSSH delivers no SIGHUP to commands without a terminal and older servers ignore signal
 * requests, so a `tail -f` would otherwise outlive an aborted stream.
 *
 * A background watchdog reads the channel's stdin (the command itself gets /dev/null) and, at
 * EOF, signals the session's process group (sshd makes each session its own group) if the
 * wrapper is still running. The command runs in the foreground, in a subshell: a background
 * job would start with SIGINT and SIGQUIT ignored, which the programs it starts would inherit,
 * and the subshell keeps an `exit` in a script from skipping the watchdog's dismissal. When
 * the command finishes, the watchdog is dismissed and the command's status passed on. Its
 * stderr is closed first: bash (a common login shell) may report the killed watchdog as a job
 * ("bash: line 11: 4242 Killed { while read …"), and that notice would stand in error messages
 * where the command's own stderr belongs.
 */
export function withStdinWatchdog(composed: string): string {
  return script(
    op('exec 3<&0\n'),
    op('{ while read -r mcp_deploy_line; do :; done; kill -0 $$ && kill -TERM 0; } <&3 >/dev/null 2>&1 &\n'),
    op('mcp_deploy_watchdog=$!\nexec 3<&- </dev/null\n(\n'),
    op(composed),
    // Reap the dismissed watchdog: an orphan would be left to an init that may never reap it.
    op(
      '\n)\nmcp_deploy_status=$?\nexec 2>/dev/null\nkill -KILL "$mcp_deploy_watchdog"\nwait "$mcp_deploy_watchdog"\nexit "$mcp_deploy_status"',
    ),
  );
}
