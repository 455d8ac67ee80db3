// Published ports in user space, for pods whose network namespace has only lo: tspod listens on
// the host address, and for each TCP connection (or UDP client) opens a socket *inside* the
// pod's network namespace, connected to 127.0.0.1:podPort there, and copies bytes both ways.
// It runs in the process that supervises the pod, and closes with the pod.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { Socket, createServer, isIPv6, type Server } from 'node:net';
import { TspodError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import type { PortMapping } from '../pod/spec.js';

/** A UDP client silent this long has its flow closed (conntrack's default for UDP is 30 s). */
export const UDP_IDLE_MS = 30_000;

/** At most this many UDP flows per pod, the least recently used closed first: each holds a
 *  socket of the supervisor's, and anyone can make new ones by sending from forged addresses. */
export const UDP_MAX_FLOWS = 1024;

/**
 * TCP connections forwarded at once for one pod, and for every pod of the supervising process
 * together: each holds two fds of the monitor's, which also needs fds for everything else it
 * does (200 idle clients took it from 22 to 423 fds, before there was a cap).
 */
export const TCP_MAX_CONNECTIONS = 1024;
export const TCP_MAX_TOTAL = 4096;

/** A forwarded TCP connection silent both ways this long is closed. Kernel DNAT has no such
 *  limit (conntrack keeps an established flow 5 days), so it is long: a client that only holds
 *  a slot gives it up within the hour. */
export const TCP_IDLE_MS = 3_600_000;

export interface ForwarderOptions {
  udpIdleMs?: number;
  udpMaxFlows?: number;
  tcpIdleMs?: number;
  tcpMaxConnections?: number;
  tcpMaxTotal?: number;
  /** Told when a connection is refused by a cap (at most once a minute, with the count). */
  warn?: (message: string) => void;
}

/** How often a refusal by a cap is told, at most. */
const REFUSAL_REPORT_MS = 60_000;

function where(p: PortMapping): string {
  const ip = p.hostIP ?? '*';
  return `${isIPv6(ip) ? `[${ip}]` : ip}:${p.hostPort}/${p.protocol}`;
}

/** Without a hostIP, every address: one dual-stack socket on ::, or 0.0.0.0 on a host
 *  without IPv6. */
async function onEveryAddress(bind: (address: string) => Promise<void>): Promise<void> {
  try {
    await bind('::');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
    await bind('0.0.0.0');
  }
}

interface UdpFlow {
  socket: UdpSocket;
  timer: NodeJS.Timeout;
}

export class PortForwarder {
  /** TCP connections forwarded now by every forwarder of this process. */
  private static total = 0;
  readonly ports: PortMapping[];
  private readonly servers: Server[] = [];
  private readonly udp: UdpSocket[] = [];
  private readonly connections = new Set<Socket>();
  private readonly flows = new Map<string, UdpFlow>();
  private target: { binding: NativeBinding; netns: number } | undefined;
  private readonly idleMs: number;
  private readonly maxFlows: number;
  private readonly opts: ForwarderOptions;
  /** TCP connections forwarded now for this pod. */
  private tcp = 0;
  private refused = 0;
  private lastReport = 0;

  private constructor(ports: PortMapping[], opts: ForwarderOptions) {
    this.ports = ports;
    this.idleMs = opts.udpIdleMs ?? UDP_IDLE_MS;
    this.maxFlows = opts.udpMaxFlows ?? UDP_MAX_FLOWS;
    this.opts = opts;
  }

  /**
   * Binds every host port now, so one already in use is an error before the pod exists;
   * nothing is forwarded until attach().
   */
  static async listen(ports: PortMapping[], opts: ForwarderOptions = {}): Promise<PortForwarder> {
    const fwd = new PortForwarder(ports, opts);
    for (const p of ports) {
      try {
        if (p.protocol === 'tcp') await fwd.listenTcp(p);
        else await fwd.listenUdp(p);
      } catch (err) {
        await fwd.close();
        const e = err as NodeJS.ErrnoException;
        const why =
          e.code === 'EADDRINUSE'
            ? 'is already in use'
            : e.code === 'EADDRNOTAVAIL'
              ? 'is not an address of this host'
              : `cannot be bound: ${e.message}`;
        throw new TspodError(`host port ${where(p)} ${why}`);
      }
    }
    return fwd;
  }

  /** Forwards into the network namespace open at `netns` (an fd the caller keeps open). */
  attach(binding: NativeBinding, netns: number): void {
    this.target = { binding, netns };
  }

  async close(): Promise<void> {
    this.target = undefined;
    for (const c of this.connections) c.destroy();
    for (const f of this.flows.values()) this.endFlow(f);
    this.flows.clear();
    await Promise.all([
      ...this.servers.map((s) => new Promise((r) => s.close(r))),
      ...this.udp.map((u) => new Promise<void>((r) => u.close(() => r()))),
    ]);
    this.servers.length = 0;
    this.udp.length = 0;
  }

  /** A socket in the pod's network namespace, or undefined when not attached. */
  private podSocket(type: 'tcp' | 'udp'): number | undefined {
    if (!this.target) return undefined;
    const { binding, netns } = this.target;
    const c = binding.constants;
    return binding.socketInNetns(netns, c.AF_INET, type === 'tcp' ? c.SOCK_STREAM : c.SOCK_DGRAM);
  }

  private async listenTcp(p: PortMapping): Promise<void> {
    const bind = (host: string) =>
      new Promise<void>((resolve, reject) => {
        const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.relay(client, p));
        server.once('error', reject);
        server.listen({ port: p.hostPort, host, ipv6Only: false, exclusive: true }, () => {
          server.off('error', reject);
          this.servers.push(server);
          resolve();
        });
      });
    if (p.hostIP) await bind(p.hostIP);
    else await onEveryAddress(bind);
  }

  /** A connection a cap refused: closed at once, and told now and then. */
  private refuse(client: Socket, p: PortMapping, cap: string): void {
    client.destroy();
    this.refused++;
    const now = Date.now();
    if (now - this.lastReport < REFUSAL_REPORT_MS) return;
    this.lastReport = now;
    this.opts.warn?.(`published port ${where(p)}: ${this.refused} connection(s) refused: ${cap}`);
    this.refused = 0;
  }

  private relay(client: Socket, p: PortMapping): void {
    const perPod = this.opts.tcpMaxConnections ?? TCP_MAX_CONNECTIONS;
    const total = this.opts.tcpMaxTotal ?? TCP_MAX_TOTAL;
    if (this.tcp >= perPod) return this.refuse(client, p, `the pod has ${this.tcp} open, its cap`);
    if (PortForwarder.total >= total) return this.refuse(client, p, `the supervisor forwards ${PortForwarder.total}, its cap`);
    let fd: number | undefined;
    try {
      fd = this.podSocket('tcp');
    } catch {
      fd = undefined; // the pod's namespace is gone: refuse, as a closed port would
    }
    if (fd === undefined) {
      client.destroy();
      return;
    }
    // Half-open on both sides: a FIN from one end is passed on, and each socket closes once both
    // of its directions are done.
    const upstream = new Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
    this.connections.add(client);
    this.connections.add(upstream);
    this.tcp++;
    PortForwarder.total++;
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    // What is written to the client counts as activity too: silent both ways, it is closed.
    client.setTimeout(this.opts.tcpIdleMs ?? TCP_IDLE_MS, kill);
    client.on('close', () => {
      this.connections.delete(client);
      this.tcp--;
      PortForwarder.total--;
    });
    upstream.on('close', () => this.connections.delete(upstream));
    upstream.connect(p.containerPort, '127.0.0.1', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }

  private async listenUdp(p: PortMapping): Promise<void> {
    const bind = (address: string) =>
      new Promise<void>((resolve, reject) => {
        const host = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', ipv6Only: false });
        // Flows are per listening address: the same client may reach two of them.
        const local = `${address}|${p.hostPort}`;
        host.on('message', (msg, client) => this.toPod(host, local, p.containerPort, msg, client));
        host.once('error', (err) => {
          host.close();
          reject(err);
        });
        host.bind({ port: p.hostPort, address, exclusive: true }, () => {
          host.removeAllListeners('error');
          host.on('error', () => {}); // a send to a client that went away: nothing to do
          this.udp.push(host);
          resolve();
        });
      });
    if (p.hostIP) await bind(p.hostIP);
    else await onEveryAddress(bind);
  }

  /** One flow per client address: the pod sees one peer per client, and replies go back. */
  private toPod(host: UdpSocket, local: string, containerPort: number, msg: Buffer, client: RemoteInfo): void {
    const key = `${local}|${client.address}|${client.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      // The Map keeps flows in the order of their last use (touch): the first is the oldest.
      // It goes first, so its fd is free for the new one even when the supervisor has no other.
      if (this.flows.size >= this.maxFlows) this.dropFlow(this.flows.keys().next().value!);
      let fd: number | undefined;
      try {
        fd = this.podSocket('udp');
      } catch {
        fd = undefined;
      }
      if (fd === undefined) return;
      const socket = createSocket('udp4');
      socket.bind({ fd });
      socket.on('message', (reply, from) => {
        if (from.port !== containerPort) return;
        host.send(reply, client.port, client.address);
        this.touch(key);
      });
      socket.on('error', () => this.dropFlow(key));
      flow = { socket, timer: setTimeout(() => this.dropFlow(key), this.idleMs) };
      this.flows.set(key, flow);
    }
    flow.socket.send(msg, containerPort, '127.0.0.1');
    this.touch(key);
  }

  private touch(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    flow.timer.refresh();
    this.flows.delete(key);
    this.flows.set(key, flow);
  }

  private dropFlow(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    this.flows.delete(key);
    this.endFlow(flow);
  }

  private endFlow(flow: UdpFlow): void {
    clearTimeout(flow.timer);
    try {
      flow.socket.close();
    } catch {
      // already closed
    }
  }
}
