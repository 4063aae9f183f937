export { freePort } from './free-port.js';
export { startLatencyRelay, type LatencyRelay, type RelayCounters } from './latency-relay.js';
export { pidAlive, portAccepts, stopPid, waitFor } from './wait.js';
export { childPids, commandName, pidsWithCommandLine } from './processes.js';
export { connectOptionsFor, type LoginShell, sshdSkipReason, startSshd, testUser, testUsers, type SshdHandle } from './sshd.js';
export { logFormat, nginxSkipReason, startNginx, upstreamConf, type NginxHandle, type NginxOptions } from './nginx.js';
