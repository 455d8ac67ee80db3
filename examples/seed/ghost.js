// A stand-in for the seed's "ghost" blog: an HTTP server on 127.0.0.1:2368, the pod's own
// loopback, so only containers of the same pod can reach it.
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const port = Number(process.env.GHOST_PORT ?? 2368);
const page = (path) => `<!doctype html>
<html><head><title>Ghost (tspod stand-in)</title></head>
<body><h1>A blog inside pod ${hostname()}</h1><p>You asked for ${path}, served from 127.0.0.1:${port}.</p></body></html>
`;

createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page(req.url));
}).listen(port, '127.0.0.1', () => console.log(`ghost: listening on 127.0.0.1:${port}`));

process.on('SIGTERM', () => process.exit(0));
