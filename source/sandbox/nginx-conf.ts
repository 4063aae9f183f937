/**
 * The proxy settings MCP over Streamable HTTP needs behind nginx: HTTP/1.1 with keep-alive to the
 * upstream, no buffering (SSE replies stream), long read timeouts, and mcp-deploy's location
 * include, which routes each request (and keeps each MCP session on the colour that issued it).
 * Shared by the sandbox's nginx and the site snippet printed for real hosts.
 */
export function mcpLocationBlock(locationInclude: string, indent = '        '): string {
  return [
    'location / {',
    "    # mcp-deploy's routing (it holds the proxy_pass): each MCP session stays on the colour that issued it.",
    `    include ${locationInclude};`,
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_buffering off;',
    '    proxy_cache off;',
    '    proxy_read_timeout 3600s;',
    '    proxy_send_timeout 3600s;',
    '}',
  ]
    .map((line) => `${indent}${line}`)
    .join('\n');
}

/** A complete nginx.conf for a private instance under `prefix` (the sandbox). */
export function sandboxNginxConf(options: {
  prefix: string;
  listenPort: number;
  /** Both already quoted for nginx. */
  upstreamInclude: string;
  locationInclude: string;
  runAsRoot: boolean;
}): string {
  const { prefix } = options;
  return `# Written by mcp-deploy sandbox. A private nginx: everything it writes stays under ${prefix}.
${options.runAsRoot ? 'user root;\n' : ''}worker_processes 1;
daemon on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;

events {
    worker_connections 256;
}

http {
    access_log ${prefix}/logs/access.log;
    client_body_temp_path ${prefix}/temp/client_body;
    proxy_temp_path ${prefix}/temp/proxy;
    fastcgi_temp_path ${prefix}/temp/fastcgi;
    uwsgi_temp_path ${prefix}/temp/uwsgi;
    scgi_temp_path ${prefix}/temp/scgi;

    # The upstreams and routing maps mcp-deploy rewrites at every cutover.
    include ${options.upstreamInclude};

    server {
        listen 127.0.0.1:${options.listenPort};
        server_name localhost;

${mcpLocationBlock(options.locationInclude)}
    }
}
`;
}
