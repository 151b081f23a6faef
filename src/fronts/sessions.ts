/**
 * NAME
 *   fronts/sessions - the open connections of a TCP front, and how they end at stop()
 *
 * SYNOPSIS
 *   const sessions = new Sessions<MySession>()
 *   sessions.add(s) / sessions.closed(s) / sessions.size
 *   await sessions.drain(graceMs)        every session told to stop; those still open after
 *                                        graceMs destroyed
 *
 * DESCRIPTION
 *   Shared by the fronts whose connections are sessions with a graceful end (the policy service,
 *   the SMTP gate): stop() asks each to finish (an idle one closes at once, one mid-request
 *   answers first), and the front's stop resolves when the last has closed or the grace is up.
 */
export interface StoppableSession {
  /** Finish what is in progress, then close. */
  stop(): void;
  /** Close now. */
  destroy(): void;
}

export class Sessions<S extends StoppableSession> {
  private readonly open = new Set<S>();
  private readonly emptyWaiters = new Set<() => void>();

  get size(): number {
    return this.open.size;
  }

  add(session: S): void {
    this.open.add(session);
  }

  /** A session has closed (its onClose). */
  closed(session: S): void {
    this.open.delete(session);
    if (this.open.size > 0) return;
    for (const waiter of this.emptyWaiters) waiter();
    this.emptyWaiters.clear();
  }

  drain(graceMs: number): Promise<void> {
    for (const session of this.open) session.stop();
    if (this.open.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.emptyWaiters.clear();
        for (const session of this.open) session.destroy();
        resolve();
      }, graceMs).unref();
      this.emptyWaiters.add(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
