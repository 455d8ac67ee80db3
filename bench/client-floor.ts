// The floor of any command built like tspod's: Node, commander, one command defined, and one
// request to the monitor over its socket. Usage: node client-floor.js SOCKET. The bench runs
// it twice where tspod's CLI runs run -d and rm -f: what is left above it is tspod's own.
import { connect } from 'node:net';
import { Command } from 'commander';

new Command('client-floor')
  .argument('<socket>')
  .action((socket: string) => {
    const s = connect(socket, () => s.write('GET /v1/version HTTP/1.1\r\nhost: tspod\r\nconnection: close\r\n\r\n'));
    s.on('data', () => {});
    s.on('end', () => process.exit(0));
    s.on('error', (err) => {
      process.stderr.write(`client-floor: ${err.message}\n`);
      process.exit(1);
    });
  })
  .parse();
