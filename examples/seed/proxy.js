// A stand-in for the seed's nginx: listens on port 80 of the pod and proxies every request to
// the blog on 127.0.0.1:2368, logging one line per request to stdout (nginx's access_log).
import { createServer, request } from 'node:http';

const listen = Number(process.env.PROXY_PORT ?? 80);
const upstream = { host: '127.0.0.1', port: Number(process.env.GHOST_PORT ?? 2368) };

createServer((req, res) => {
  const up = request({ ...upstream, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
    console.log(`${req.socket.remoteAddress} "${req.method} ${req.url}" ${upRes.statusCode}`);
  });
  up.on('error', (err) => {
    res.writeHead(502).end(`bad gateway: ${err.message}\n`);
    console.log(`${req.socket.remoteAddress} "${req.method} ${req.url}" 502 (${err.code})`);
  });
  req.pipe(up);
}).listen(listen, () => console.log(`nginx: listening on :${listen}, proxying to ${upstream.host}:${upstream.port}`));

process.on('SIGTERM', () => process.exit(0));
