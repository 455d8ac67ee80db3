// The monitor as a systemd service (examples/systemd/tspod.service): Type=notify readiness,
// told with sd_notify's protocol (a datagram on the unix socket NOTIFY_SOCKET names), without
// libsystemd.
import type { NativeBinding } from '../native/binding.js';

export class ServiceManager {
  private constructor(
    private readonly binding: NativeBinding,
    /** An absolute path, or @name in the abstract namespace. */
    readonly socket: string,
  ) {}

  /**
   * The service manager that started this process and asked to be told (NOTIFY_SOCKET), or
   * undefined. The variable leaves the environment: no process started later (a CNI plugin)
   * inherits it and speaks for the monitor.
   */
  static fromEnv(binding: NativeBinding, env = process.env): ServiceManager | undefined {
    const socket = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    if (!socket || !(socket.startsWith('/') || socket.startsWith('@'))) return undefined;
    return new ServiceManager(binding, socket);
  }

  /** sd_notify's lines: READY=1, STATUS=..., STOPPING=1, MAINPID=... */
  notify(state: Record<string, string | number>): void {
    const lines = Object.entries(state).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`);
    this.binding.sendDatagram(this.socket, lines.join('\n') + '\n');
  }
}
