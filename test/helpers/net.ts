// Requests from inside a pod's network namespace, for tests that check a pod serves.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/**
 * GET http://127.0.0.1:PORT/ from inside the network namespace of `pid` (nsenter -n): "200
 * <title>" on an answer, the error code (ECONNREFUSED...) otherwise.
 */
export function fetchInPod(pid: number, port: number): string {
  // agent: false, so no keep-alive socket keeps this node running for seconds after the answer.
  const script = `require('http').get({ host: '127.0.0.1', port: ${port}, agent: false }, (r) => {
    let b = '';
    r.on('data', (c) => (b += c));
    r.on('end', () => console.log(r.statusCode, /<title>(.*)<\\/title>/.exec(b)?.[1] ?? ''));
  }).on('error', (e) => console.log(e.code));`;
  return execFileSync('nsenter', ['-t', String(pid), '-n', '--', process.execPath, '-e', script], { encoding: 'utf8' }).trim();
}

/**
 * A port nothing on the host uses, for TCP or UDP, on any address: below the ephemeral range
 * (32768 and up), picked at random so that test files running in parallel do not meet.
 */
export async function freeHostPort(): Promise<number> {
  for (;;) {
    const port = 20000 + (randomBytes(2).readUInt16BE(0) % 10000);
    // '::' takes IPv4 as well (dual stack): one bind checks both.
    const tcp = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '::', () => s.close(() => resolve(true)));
    });
    const udp =
      tcp &&
      (await new Promise<boolean>((resolve) => {
        const u = createSocket('udp6');
        u.once('error', () => (u.close(), resolve(false)));
        u.bind(port, '::', () => u.close(() => resolve(true)));
      }));
    if (udp) return port;
  }
}
