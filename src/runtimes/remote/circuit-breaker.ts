/**
 * A circuit breaker for one upstream: after `failureThreshold` consecutive failed calls it
 * opens and refuses calls at once (no point queueing on a dead API, and the API gets room to
 * recover); after `cooldownMs` it lets exactly one trial call through (half-open); that call's
 * outcome closes it again or re-opens it for another cool-down.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

/** The value of the `vigil_remote_circuit_state` gauge for each state. */
export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, open: 1, half_open: 2 };

export interface CircuitBreakerSettings {
  failureThreshold: number;
  cooldownMs: number;
}

/** What `tryAcquire` decided: go ahead (maybe as the half-open trial), or wait `retryAfterMs`. */
export type Admission = { allowed: true; trial: boolean } | { allowed: false; retryAfterMs: number };

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private trialInFlight = false;

  constructor(
    private readonly settings: CircuitBreakerSettings,
    private readonly onStateChange: (state: CircuitState) => void = () => undefined,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  /** How long a call would be refused now (undefined: it would be let through); changes nothing. */
  refusalMs(): number | undefined {
    if (this.current === 'open') {
      const left = this.settings.cooldownMs - (this.now() - this.openedAt);
      return left > 0 ? left : undefined;
    }
    return this.current === 'half_open' && this.trialInFlight ? this.settings.cooldownMs : undefined;
  }

  /** Asks to make one upstream call. Every allowed call must end with success() or failure(). */
  tryAcquire(): Admission {
    if (this.current === 'closed') return { allowed: true, trial: false };
    if (this.current === 'open') {
      const waited = this.now() - this.openedAt;
      if (waited < this.settings.cooldownMs) return { allowed: false, retryAfterMs: this.settings.cooldownMs - waited };
      this.transition('half_open');
    }
    // Half-open: one trial at a time; everyone else is refused until it reports back.
    if (this.trialInFlight) return { allowed: false, retryAfterMs: this.settings.cooldownMs };
    this.trialInFlight = true;
    return { allowed: true, trial: true };
  }

  success(): void {
    this.consecutiveFailures = 0;
    this.trialInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  failure(): void {
    this.trialInFlight = false;
    this.consecutiveFailures++;
    if (this.current === 'half_open' || (this.current === 'closed' && this.consecutiveFailures >= this.settings.failureThreshold)) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  /** The call ended without telling us anything about the upstream (the caller left). */
  release(): void {
    this.trialInFlight = false;
  }

  private transition(state: CircuitState): void {
    this.current = state;
    this.onStateChange(state);
  }
}
