import { Socket } from 'node:net';
import { colours } from '../engine/colours.js';
import { describeListener, exposed, parseListeners } from '../host/listening-sockets.js';
import { fail, pass, warn, type DoctorCheck, type HostProbe } from './doctor-check.js';
import { resolvePrograms, sudoersLine } from './sudo-rules.js';

/**
 * Doctor's look at what faces the world: what the colours listen on, the firewall, whether the
 * colour ports answer from here (outside the host), and fail2ban in front of sshd. Reading a
 * firewall's rules needs root: doctor asks through `sudo -n` (never a prompt) and, when sudo
 * says no, shows the exact sudoers line that would let it.
 */

export async function edgeChecks(probe: HostProbe): Promise<DoctorCheck[]> {
  const sockets = await probe.sh('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; exit 0');
  const listening = colours.map((colour) => {
    const port = probe.target.ports[colour];
    return { colour, port, listeners: parseListeners(sockets.stdout, port) };
  });
  return [
    ...listening.map(({ colour, port, listeners }) => exposureCheck(probe, colour, port, listeners)),
    await firewallCheck(probe),
    await outsideCheck(
      probe,
      listening.filter((side) => exposed(side.listeners).length > 0).map((side) => side.port),
    ),
    await fail2banCheck(probe),
    ...(await keysCheck(probe)),
  ];
}

/** With auth.apiKeys: the keys file is there, only its owner reads it, and nginx's include reads it. */
async function keysCheck(probe: HostProbe): Promise<DoctorCheck[]> {
  const auth = probe.target.nginx.auth;
  if (auth === null) return [];
  const result = await probe.sh('stat -c %a -- "$f" 2>/dev/null || echo absent; grep -cF -- "include "$f";" "$u" 2>/dev/null; exit 0', {
    f: auth.keysFile,
    u: probe.target.nginx.upstreamFile,
  });
  const [mode = '', reads = '0'] = result.stdout.trim().split('\n');
  if (mode === 'absent')
    return [
      fail(
        'api keys',
        `${auth.keysFile} does not exist`,
        "Run mcp-deploy setup (or a deploy): it makes the file with mcp-deploy's probe key; then mcp-deploy keys add",
      ),
    ];
  if (mode !== '600')
    return [fail('api keys', `${auth.keysFile} has mode ${mode}: others may read the keys`, `On the host: chmod 600 ${auth.keysFile}`)];
  if (Number(reads) === 0)
    return [
      warn(
        'api keys',
        `${auth.keysFile} is mode 600, but ${probe.target.nginx.upstreamFile} does not read it yet: nginx asks for no key`,
        'Deploy once: the include it writes reads the keys',
      ),
    ];
  return [pass('api keys', `${auth.keysFile}: mode 600, read by the http include; nginx refuses MCP requests without a key`)];
}

function exposureCheck(probe: HostProbe, colour: string, port: number, listeners: ReturnType<typeof parseListeners>): DoctorCheck {
  const name = `exposure ${colour}`;
  if (listeners.length === 0) return pass(name, `nothing listens on ${port}`);
  const open = exposed(listeners);
  if (open.length === 0)
    return pass(name, `${port}: loopback only (${listeners.map((listener) => describeListener(listener, port)).join(', ')})`);
  const where = open.map((listener) => describeListener(listener, port)).join(', ');
  const detail = `the ${colour} server listens on ${where}: reachable past nginx and its API keys by anyone who reaches the host`;
  const fix = 'Bind the server to the HOST environment variable mcp-deploy sets (127.0.0.1), then deploy again';
  return probe.config.security.loopbackOnly ? fail(name, `${detail}; security.loopbackOnly refuses it`, fix) : warn(name, detail, fix);
}

type Firewall = { readonly name: string; readonly argv: readonly string[]; readonly judge: (output: string) => 'on' | 'off' };

const firewalls: readonly Firewall[] = [
  { name: 'ufw', argv: ['ufw', 'status'], judge: (output) => (/^Status: active/m.test(output) ? 'on' : 'off') },
  {
    name: 'nftables',
    argv: ['nft', 'list', 'ruleset'],
    judge: (output) => (/hook input[^;]*;[^}]*policy drop|hook input[\s\S]*?\b(drop|reject)\b/.test(output) ? 'on' : 'off'),
  },
  {
    name: 'iptables',
    argv: ['iptables', '-S', 'INPUT'],
    judge: (output) => (/^-P INPUT DROP|-j (DROP|REJECT)/m.test(output) ? 'on' : 'off'),
  },
];

const enableUfw =
  'On the host: sudo apt-get install ufw && sudo ufw allow OpenSSH && sudo ufw allow "Nginx Full" && sudo ufw enable (5002/5003 stay closed)';

async function firewallCheck(probe: HostProbe): Promise<DoctorCheck> {
  const paths = await resolvePrograms(
    probe.transport,
    firewalls.map((firewall) => firewall.argv[0]!),
  );
  const present = firewalls.filter((firewall) => paths.has(firewall.argv[0]!));
  if (present.length === 0) return warn('firewall', 'no ufw, nft or iptables on the host: nothing filters what reaches it', enableUfw);
  const root = probe.account.uid === '0';
  const refused: Firewall[] = [];
  for (const firewall of present) {
    const argv = [paths.get(firewall.argv[0]!)!, ...firewall.argv.slice(1)];
    const result = await probe.run(root ? argv : ['sudo', '-n', ...argv], 15_000);
    if (result.code !== 0) {
      refused.push(firewall);
      continue;
    }
    const state = firewall.judge(result.stdout);
    if (state === 'on') return pass('firewall', `${firewall.name} filters incoming traffic`);
    if (firewall.name === 'ufw') return warn('firewall', 'ufw is installed but inactive', enableUfw);
  }
  if (refused.length === present.length) {
    const commands = refused.map((firewall) => firewall.argv);
    return warn(
      'firewall',
      `${refused.map((firewall) => firewall.name).join(', ')} present, but its rules need root to read and sudo -n refused`,
      `Let doctor read them: ${sudoersLine(probe.account.name, commands, paths)} (visudo -f /etc/sudoers.d/mcp-deploy-doctor), or run ${commands.map((argv) => `sudo ${argv.join(' ')}`).join(' / ')} yourself`,
    );
  }
  return warn('firewall', `${present.map((firewall) => firewall.name).join(', ')} present, but no rule drops incoming traffic`, enableUfw);
}

/** From here, the operator's machine, outside the host: do the colour ports answer? Only a host other than this one can be judged. */
async function outsideCheck(probe: HostProbe, exposedPorts: readonly number[]): Promise<DoctorCheck> {
  const ports = colours.map((colour) => probe.target.ports[colour]);
  const host = probe.target.host ?? 'localhost';
  if (exposedPorts.length === 0)
    return pass('colour ports from outside', `${ports.join(', ')}: nothing listens beyond loopback, so nothing answers from outside`);
  if (probe.target.transport === 'local' || /^(localhost|127\.|::1$)/.test(host)) {
    return warn(
      'colour ports from outside',
      `${exposedPorts.join(', ')} listen beyond loopback; this machine is the host, so doctor cannot look from outside`,
      `From another machine: nc -zv <host> ${exposedPorts.join(' ')} must fail (the firewall closes them), or bind the servers to 127.0.0.1`,
    );
  }
  const open: number[] = [];
  for (const port of exposedPorts) if (await answers(host, port)) open.push(port);
  if (open.length === 0)
    return pass('colour ports from outside', `${exposedPorts.join(', ')} do not answer from here (${host}): the firewall closes them`);
  return fail(
    'colour ports from outside',
    `${open.join(', ')} answer from here (${host}): the MCP server is reachable past nginx`,
    `Close them: sudo ufw deny ${open.join(',')}/tcp (or bind the servers to 127.0.0.1)`,
  );
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(3_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

async function fail2banCheck(probe: HostProbe): Promise<DoctorCheck> {
  const fix = 'On the host: sudo apt-get install fail2ban (Debian enables its sshd jail in jail.d/defaults-debian.conf)';
  // The jail files are world-readable; the server's socket is root's, so the configuration is what is read.
  const result = await probe.sh(
    `PATH="$PATH:/usr/sbin:/sbin"
command -v fail2ban-server >/dev/null 2>&1 || { echo missing; exit 0; }
if systemctl is-active --quiet fail2ban 2>/dev/null || [ -e /run/fail2ban/fail2ban.sock ]; then echo running; else echo stopped; fi
for f in /etc/fail2ban/jail.conf /etc/fail2ban/jail.d/*.conf /etc/fail2ban/jail.local /etc/fail2ban/jail.d/*.local; do [ -r "$f" ] && cat "$f"; done 2>/dev/null; exit 0`,
  );
  const [state = '', ...config] = result.stdout.split('\n');
  if (state === 'missing')
    return warn('fail2ban', 'fail2ban is not installed: nothing bans addresses that guess SSH passwords or keys', fix);
  if (state !== 'running')
    return warn('fail2ban', 'fail2ban is installed but not running', 'On the host: sudo systemctl enable --now fail2ban');
  return sshdJailEnabled(config)
    ? pass('fail2ban', 'running, with the sshd jail enabled')
    : warn(
        'fail2ban',
        'running, but its sshd jail is not enabled',
        'On the host: printf "[sshd]\\nenabled = true\\n" | sudo tee /etc/fail2ban/jail.d/sshd.local && sudo systemctl reload fail2ban',
      );
}

/** Whether the last `enabled` under an `[sshd]` section, in the order fail2ban reads the files, is true. */
export function sshdJailEnabled(lines: readonly string[]): boolean {
  let section = '';
  let enabled = false;
  for (const raw of lines) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) section = header[1]!.trim();
    else if (section === 'sshd') {
      const value = /^enabled\s*=\s*(\S+)/i.exec(line);
      if (value) enabled = /^(true|yes|1)$/i.test(value[1]!);
    }
  }
  return enabled;
}
