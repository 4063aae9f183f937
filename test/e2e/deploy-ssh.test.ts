import { sshdSkipReason } from '../harness/index.js';
import { deploySuite } from './deploy-suite.js';

// The same suite as deploy-local, with the host reached over a real OpenSSH server as an
// unprivileged user: the ssh2 transport, the tar-stream upload with hard links, tunnels for health checks.
deploySuite('ssh', await sshdSkipReason());
