// A container's probes, as the kubelet runs them (pkg/kubelet/prober): one worker per probe of
// each run of a container, trying every periodSeconds after initialDelaySeconds (counted from
// the container's start), one try at a time, each cut at timeoutSeconds. A result changes only
// after successThreshold successes or failureThreshold failures in a row. What a result means
// (restart, ready, started) is the pod's to decide (pod.ts).
import type { ProbeKind } from '../pod/probes.js';
import type { Probe, ProbeHandler } from '../pod/spec.js';
import type { Clock } from './backoff.js';
import type { ProbeOutcome } from './probe-net.js';

export type { ProbeOutcome };

/** Runs a handler once, within timeoutMs; never throws (a failure is an outcome). */
export type HandlerRun = (handler: ProbeHandler, timeoutMs: number) => Promise<ProbeOutcome>;

/** Kubernetes' words for a probe in events: "Liveness probe failed: ...". */
export const PROBE_NAMES: Record<ProbeKind, string> = {
  livenessProbe: 'Liveness',
  readinessProbe: 'Readiness',
  startupProbe: 'Startup',
};

export interface ProbeListener {
  /** Each failed try (an Unhealthy event). */
  failed(outcome: ProbeOutcome): void;
  /** The result changed: true after successThreshold successes, false after failureThreshold failures. */
  changed(ok: boolean, outcome: ProbeOutcome): void;
}

export class ProbeWorker {
  readonly kind: ProbeKind;
  /** The settled result: undefined until a threshold is first reached. */
  result: boolean | undefined;
  private readonly probe: Probe;
  private readonly clock: Clock;
  private readonly run: HandlerRun;
  private readonly listener: ProbeListener;
  private successes = 0;
  private failures = 0;
  private timer: unknown;
  private stopped = false;

  constructor(kind: ProbeKind, probe: Probe, clock: Clock, run: HandlerRun, listener: ProbeListener) {
    this.kind = kind;
    this.probe = probe;
    this.clock = clock;
    this.run = run;
    this.listener = listener;
  }

  /** Starts trying; `startedAtMs`: the container's start (clock.now()), from which the initial delay counts. */
  start(startedAtMs: number): void {
    const due = startedAtMs + this.probe.initialDelaySeconds * 1000;
    this.next(Math.max(0, due - this.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private next(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.attempt(), delayMs);
  }

  private async attempt(): Promise<void> {
    const began = this.clock.now();
    const outcome = await this.run(this.probe, this.probe.timeoutSeconds * 1000);
    if (this.stopped) return;
    if (outcome.ok) {
      this.failures = 0;
      this.successes++;
      if (this.result !== true && this.successes >= this.probe.successThreshold) this.settle(true, outcome);
    } else {
      this.successes = 0;
      this.failures++;
      this.listener.failed(outcome);
      if (this.result !== false && this.failures >= this.probe.failureThreshold) this.settle(false, outcome);
    }
    // A startup probe is done once it succeeded; the others go on as long as the container runs.
    if (this.kind === 'startupProbe' && this.result === true) return;
    this.next(Math.max(0, began + this.probe.periodSeconds * 1000 - this.clock.now()));
  }

  private settle(ok: boolean, outcome: ProbeOutcome): void {
    this.result = ok;
    this.listener.changed(ok, outcome);
  }
}
