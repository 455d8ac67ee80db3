// The floor of a tspod command that asks the monitor: Node and one request over its socket,
// nothing else (tspod's shortcut forms load no argument parser). Usage: node client-floor.js
// SOCKET. The bench runs it twice where tspod's CLI runs run -d and rm -f: what is left above
// it is tspod's own.
import { connect } from 'node:net';

const s = connect(process.argv[2], () => s.write('GET /v1/version HTTP/1.1\r\nhost: tspod\r\nconnection: close\r\n\r\n'));
s.on('data', () => {});
s.on('end', () => process.exit(0));
s.on('error', (err) => {
  process.stderr.write(`client-floor: ${err.message}\n`);
  process.exit(1);
});
